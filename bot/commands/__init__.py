"""Every command and button action; importing this package registers them."""

from bot.commands import membership, organise, privacy, welcome

__all__ = ["membership", "organise", "privacy", "welcome"]
