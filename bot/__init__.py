"""The core of Assembly Organiser: every rule of the product, and nothing platform-specific.

Adapters call :class:`bot.kernel.core.Core` with neutral :mod:`bot.kernel.messages` requests.
This package never imports a platform library, the scheduler, or ``adapters``.
"""
