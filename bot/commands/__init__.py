"""Every command and button action; importing this package registers them."""

from bot.commands import chats, membership, organise, privacy, welcome

__all__ = ["chats", "membership", "organise", "privacy", "welcome"]
