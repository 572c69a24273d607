"""Work that falls due with time (a meeting's reminders, a poll's close): each
feature registers a sweep, and the scheduler runs every sweep once a minute.

A sweep looks for what is due *now* and does it idempotently (a conditional
UPDATE, an outbox key), so a sweep that runs twice, late, or on two workers at
once does everything exactly once. Sweeping, rather than one scheduler job per
meeting or poll, means nothing is lost when a job store and the data disagree,
and an edit to a meeting's time needs no job to be moved.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Awaitable, Callable

from bot.config import Settings
from storage.db import Database

log = logging.getLogger(__name__)

Sweep = Callable[[Database, Settings, dt.datetime], Awaitable[object]]
SWEEPS: dict[str, Sweep] = {}


def sweep(name: str) -> Callable[[Sweep], Sweep]:
    def register(func: Sweep) -> Sweep:
        if name in SWEEPS:
            raise ValueError(f"sweep {name} registered twice")
        SWEEPS[name] = func
        return func

    return register


async def run_sweeps(db: Database, settings: Settings, now: dt.datetime) -> list[str]:
    """Run every sweep; one that fails is logged and the others still run.
    Returns the names of those that failed."""
    from bot import commands as _commands  # noqa: F401 - registers every sweep

    failed = []
    for name, func in SWEEPS.items():
        try:
            await func(db, settings, now)
        except Exception:
            log.exception("sweep %s failed", name)
            failed.append(name)
    return failed
