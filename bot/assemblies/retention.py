"""Retention: once an assembly has sat, its registrants' personal data is
deleted after the period its organisers set (by default 90 days): their
accounts, answers and household keys, who was behind each pseudonym, their
invitations and what is still queued to them. The committed record stays: it
holds only pseudonyms (and the organisers' openings, answers under pseudonyms
that nobody can tie to a resident any more). A timed job, run hourly."""

from __future__ import annotations

import datetime as dt
import logging
from functools import partial

from bot.assemblies import queries
from bot.assemblies.invitations import body_of
from bot.assemblies.rules import purge_at
from bot.assemblies.texts import purge_notice
from bot.draws.queries import staff_of
from bot.kernel.config import Settings
from bot.kernel.outbox import enqueue_for
from bot.kernel.timed import Every, Sweep
from storage.db import Database

log = logging.getLogger(__name__)


async def purge_sweep(db: Database, settings: Settings, now: dt.datetime) -> int:
    """Purge every assembly whose retention period is over; returns how many
    registrants were deleted. Once an assembly (``purged_at``)."""
    deleted = 0
    async with db.transaction() as session:
        for assembly in await queries.to_purge(session):
            if purge_at(assembly.sits_until, assembly.timezone, assembly.retention_days) > now:
                continue
            n = await queries.purge_registrants(session, assembly.id)
            assembly.purged_at = now
            deleted += n
            await enqueue_for(
                session,
                staff_of(body_of(assembly)),
                key=f"asm-purged:{assembly.id}",
                render=partial(purge_notice, assembly=assembly, n=n, when=now),
                now=now,
            )
            log.info("assembly %s: retention over, %s registrants deleted", assembly.id, n)
    return deleted


TIMED = (Sweep("assembly-retention", purge_sweep, Every(60)),)
