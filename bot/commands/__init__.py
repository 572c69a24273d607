"""Every command and button action; importing this package registers them."""

from bot.commands import (
    campaign,
    canvass,
    chats,
    delivery,
    link,
    meetings,
    membership,
    organise,
    polls,
    privacy,
    regions,
    signup,
    sortition,
    welcome,
)

__all__ = [
    "campaign",
    "canvass",
    "chats",
    "delivery",
    "link",
    "meetings",
    "membership",
    "organise",
    "polls",
    "privacy",
    "regions",
    "signup",
    "sortition",
    "welcome",
]
