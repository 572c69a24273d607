"""How long the bot keeps what it has said and done (how /forget erases a person
from what was said about them is :mod:`bot.privacy.erasure`).

**Retention.** Messages sent (or given up as undeliverable), buttons used,
one-time /link codes past their time and failed /link tries are deleted once
``privacy.retention_days`` (30 by default) have passed, and expired buttons at
once: a sweep, run by the scheduler with the others. Nothing still pending or
still open is touched. Sweeps that rely on an outbox key to act once only look
at what is due now (a reminder, a deadline), never at events a month old, so
deleting older rows sends nothing twice. On SQLite the sweep also writes the
write-ahead log back into the database file and empties it, so that within a
minute of a /forget no old page holds what was erased (the file itself
overwrites deleted content: ``secure_delete``).

"""

from __future__ import annotations

import datetime as dt
import logging

from sqlalchemy import delete, or_, text

from bot.kernel.config import Settings
from bot.kernel.outbox import PENDING
from bot.kernel.timed import Sweep
from storage.db import Database
from storage.models import (
    LinkCode,
    LinkFailure,
    OutboxMessage,
    Prompt,
)

log = logging.getLogger(__name__)


async def retention_sweep(db: Database, settings: Settings, now: dt.datetime) -> dict[str, int]:
    """Delete what has outlived ``settings.retention_days``; how many rows, by table."""
    cutoff = now - dt.timedelta(days=settings.retention_days)
    counts: dict[str, int] = {}
    async with db.transaction() as session:
        statements = {
            "outbox": delete(OutboxMessage).where(
                OutboxMessage.status != PENDING,
                or_(
                    OutboxMessage.sent_at <= cutoff,
                    OutboxMessage.sent_at.is_(None) & (OutboxMessage.created_at <= cutoff),
                ),
            ),
            # An expired button does nothing: gone at once.
            "prompts": delete(Prompt).where(
                or_(Prompt.used_at <= cutoff, Prompt.expires_at <= now)
            ),
            "link_codes": delete(LinkCode).where(
                or_(LinkCode.used_at <= cutoff, LinkCode.expires_at <= cutoff)
            ),
            "link_failures": delete(LinkFailure).where(LinkFailure.at <= cutoff),
        }
        for table, statement in statements.items():
            result = await session.execute(statement.execution_options(synchronize_session=False))
            counts[table] = getattr(result, "rowcount", 0) or 0
    if any(counts.values()):
        log.info("retention: deleted %s", counts)
    if db.is_sqlite:
        # Deleted and rewritten rows are overwritten in the file (secure_delete),
        # but their old pages stay in the write-ahead log until it is written back:
        # do it now, and empty the log, so that a /forget leaves no copy there.
        async with db.transaction() as session:
            await session.execute(text("PRAGMA wal_checkpoint(TRUNCATE)"))
    return counts


TIMED = (Sweep("retention", retention_sweep),)  # once a minute: what outlived its time
