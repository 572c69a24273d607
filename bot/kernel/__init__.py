"""The request kernel: what every feature stands on and no feature is part of.

A neutral request (:mod:`bot.kernel.messages`) reaches :class:`bot.kernel.core.Core`,
which finds the command or button declared in :mod:`bot.kernel.registry` and runs
it with a :class:`bot.kernel.context.Context` inside one database transaction;
what it does beyond its reply (:mod:`bot.kernel.effects`) waits in the outbox
(:mod:`bot.kernel.outbox`) until a transport delivers it.
"""
