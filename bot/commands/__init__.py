"""Every command and button action; importing this package registers them."""

from bot.commands import canvass, chats, delivery, membership, organise, privacy, welcome

__all__ = ["canvass", "chats", "delivery", "membership", "organise", "privacy", "welcome"]
