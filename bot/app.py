"""The composition root: the one place that lists the bot's features and builds
the core from them.

A feature module marks its handlers (``@command``, ``@action``, ``@answer`` in
:mod:`bot.registry`); nothing is registered by importing it. Here the tables
are built from the modules listed in :data:`FEATURES`, a name declared twice
is refused, and the core is handed them.
"""

from __future__ import annotations

import random
from collections.abc import Iterable
from types import ModuleType

from bot.clock import Clock
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
from bot.config import Settings
from bot.core import Core
from bot.registry import Handlers
from storage.db import Database

# Every feature whose commands, buttons and typed answers the bot answers, in the
# order their commands are offered (Discord's slash commands, Telegram's menus).
FEATURES: tuple[ModuleType, ...] = (
    campaign,
    privacy,
    membership,
    organise,
    canvass,
    chats,
    delivery,
    link,
    meetings,
    polls,
    regions,
    signup,
    sortition,
    welcome,
)

# The timed jobs (reminders, closes, deadlines, purges) are built here too, from
# the same feature modules, once each declares its own (bot/sweeps.py today).


def build_handlers(features: Iterable[ModuleType] = FEATURES) -> Handlers:
    """The command, button and answer tables of ``features``."""
    return Handlers.collect(features)


def build_core(
    db: Database,
    settings: Settings,
    *,
    clock: Clock | None = None,
    rng: random.Random | None = None,
    features: Iterable[ModuleType] = FEATURES,
) -> Core:
    """The core answering the commands, buttons and typed answers of ``features``."""
    return Core(db, settings, build_handlers(features), clock=clock, rng=rng)
