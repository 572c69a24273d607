"""Draws by lot in chat, and people's sortition profiles: councils (of a
branch, a region or the national party) and delegations (from each branch to
its region, from each region to the national level).

1. **Preview.** The pool is the body's members with current dues who opted in
   (``/profile``) and have not sat on the same body within the rotation period.
   Quotas are proportional to the pool, plus or minus one seat per value, or
   set by the organiser. The organiser sees feasibility (or the smallest
   relaxation) and the fairness summary before anything is committed.
2. **Commit.** The record (``bot.lib.sortition.encoding``) is stored and posted; the
   people behind its pseudonymous ids are kept apart and never published. A
   delegation commits one record per sending branch (or region), each
   verifiable on its own, grouped under the first.
3. **Seed.** A beacon's round is fetched by the scheduler once it is published
   (and only if the bot saw it unpublished after the commitment); a lottery's
   numbers are entered with ``/draw seed`` by two witnesses (staff over the
   body) who must agree, and the scheduler reminds them on the lottery's day; a
   plain string needs one. The draw then completes: the index, the panel,
   invitations.
4. **Invitations.** Accept or Decline by the invited person only; reminders 48
   and 24 hours before the deadline; silence at the deadline is a decline. Each
   decline draws a replacement from those not yet invited, with quotas reduced
   by those still in, itself a committed record with a seed derived from the
   original one.

The modules, by job: ``rules`` (the kinds and states, apportioning, when a
seed may be known), ``bodies`` (:class:`Body`, who a draw is for), ``queries``
(a draw's body, the pool, its audiences, the lookups over committed draws),
``texts`` (what people read: a body's name, invitations, the notices,
a preview's summary), ``announce`` (:func:`publish`), ``preview`` (solving and staging a preview),
``completion`` (cancelling and completing with a seed), ``invitations``
(invitations, replacements, vacancies), ``seeding`` (beacon rounds, lottery
reminders); ``access`` holds the handlers' shared gates, ``draw_plan`` reads
/draw's words, and the ``*handlers`` modules answer the commands.
"""
