"""The feature modules' handlers. Importing them registers no command, button or
answer (the composition root, bot.app, builds those tables from the modules it
lists); it does register their features' sweeps (bot/sweeps.py imports this
package for that)."""

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
