"""How long the bot keeps what it has said and done, and how /forget erases a
person from what was said about them.

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

**Erasure.** A message to others may name someone ("Zed (K3M9QX) joined",
"Zed accepted a place", "P0001 = Zed"). On /forget, ``erase_mentions`` replaces
the person's name, short id, handles and platform ids, as whole words, with
"(name deleted)" in every column where the bot writes such text: outbox texts
and button labels, delivery errors, audit details, the state behind other
people's buttons, a draw's witnesses. Buttons that act on the person's id (an
organiser's Undo, a draw preview whose pool held them) are deleted, so that
their id, were it ever given to someone else, would reach nobody.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
from collections.abc import Iterable
from typing import Any

from sqlalchemy import String, cast, delete, or_, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from bot.kernel.config import Settings
from bot.kernel.i18n import translator
from bot.kernel.outbox import PENDING
from bot.kernel.timed import Sweep
from storage.db import Database
from storage.models import (
    AuditEntry,
    Draw,
    Identity,
    LinkCode,
    LinkFailure,
    OutboxMessage,
    Person,
    Prompt,
)

log = logging.getLogger(__name__)

# A name shorter than this is erased only from the messages about the person
# (``about_id``), not wherever the word appears: "Al" or "Jo" as a whole word
# elsewhere is more likely someone else, or not a name at all.
MIN_WORD = 3


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


def _pattern(words: Iterable[str]) -> re.Pattern[str] | None:
    unique = sorted({w for w in words if w}, key=len, reverse=True)
    if not unique:
        return None
    return re.compile(
        r"(?<!\w)(?:" + "|".join(re.escape(w) for w in unique) + r")(?!\w)", re.IGNORECASE
    )


def _scrub(value: Any, pattern: re.Pattern[str], placeholder: str) -> Any:
    """``value`` (text, or JSON of lists, dicts and text) with every match replaced."""
    if isinstance(value, str):
        return pattern.sub(placeholder, value)
    if isinstance(value, list):
        return [_scrub(v, pattern, placeholder) for v in value]
    if isinstance(value, dict):
        return {
            pattern.sub(placeholder, k): _scrub(v, pattern, placeholder) for k, v in value.items()
        }
    return value


def _holds_person(value: Any, person_id: int) -> bool:
    """Whether a button's stored state acts on ``person_id``: ``{"person": id}``
    (an Undo), or a draw preview's pool (``{"behind": {pseudonym: id}}``)."""
    if isinstance(value, list):
        return any(_holds_person(v, person_id) for v in value)
    if isinstance(value, dict):
        if value.get("person") == person_id or value.get("person_id") == person_id:
            return True
        behind = value.get("behind")
        if isinstance(behind, dict) and person_id in behind.values():
            return True
        return any(_holds_person(v, person_id) for v in value.values())
    return False


async def words_naming(session: AsyncSession, person: Person) -> list[str]:
    """What names the person in text: their name, short id, and each identity's
    user id, private chat id and handle."""
    words = [person.display_name, person.short_id]
    rows = await session.execute(
        select(Identity.user_id, Identity.chat_id, Identity.handle).where(
            Identity.person_id == person.id
        )
    )
    for user_id, chat_id, handle in rows:
        words += [user_id, chat_id]
        if handle:
            words += [handle, f"@{handle}"]
    return [w.strip() for w in words if w and w.strip()]


async def erase_mentions(
    session: AsyncSession, settings: Settings, person: Person, words: list[str]
) -> None:
    """Replace ``words`` (see ``words_naming``) with "(name deleted)" wherever the
    bot stored text that may hold them, and delete other people's buttons that
    act on the person. Call it before the person's own rows are deleted."""
    t = translator(settings.default_locale)
    placeholder = t("(name deleted)")
    broad = _pattern(w for w in words if len(w) >= MIN_WORD)
    everything = _pattern(words)
    if everything is None:
        return

    # JSON columns may hold a name \u-escaped: look for both spellings.
    spellings = {w for word in words for w in (word, json.dumps(word)[1:-1])}

    def found(column: Any) -> Any:
        return or_(*(cast(column, String).ilike(f"%{w}%") for w in spellings))

    # Messages about the person: every mention, however short the name.
    for row in await session.scalars(
        select(OutboxMessage).where(OutboxMessage.about_id == person.id)
    ):
        _rewrite(row, ("text", "buttons", "last_error"), everything, placeholder)
    if broad is not None:
        for row in await session.scalars(
            select(OutboxMessage).where(
                found(OutboxMessage.text)
                | found(OutboxMessage.buttons)
                | found(OutboxMessage.last_error)
            )
        ):
            _rewrite(row, ("text", "buttons", "last_error"), broad, placeholder)
        for entry in await session.scalars(select(AuditEntry).where(found(AuditEntry.details))):
            _rewrite(entry, ("details",), broad, placeholder)
        for prompt in await session.scalars(select(Prompt).where(found(Prompt.payload))):
            _rewrite(prompt, ("payload",), broad, placeholder)
    # Buttons that act on the person (an organiser's Undo, a draw preview).
    for prompt in await session.scalars(
        select(Prompt).where(
            cast(Prompt.payload, String).like(f"%{person.id}%"),
            or_(Prompt.person_id.is_(None), Prompt.person_id != person.id),
        )
    ):
        if _holds_person(prompt.payload, person.id):
            await session.delete(prompt)
    # A pending draw's witness who is forgotten no longer witnesses.
    for draw in await session.scalars(
        select(Draw).where(cast(Draw.witnesses, String).like(f"%{person.id}%"))
    ):
        kept = [w for w in draw.witnesses if w.get("person") != person.id]
        if kept != draw.witnesses:
            draw.witnesses = kept
    await session.flush()


def _rewrite(
    row: Any, columns: tuple[str, ...], pattern: re.Pattern[str], placeholder: str
) -> None:
    for column in columns:
        value = getattr(row, column)
        if value is None:
            continue
        scrubbed = _scrub(value, pattern, placeholder)
        if json.dumps(scrubbed, sort_keys=True) != json.dumps(value, sort_keys=True):
            setattr(row, column, scrubbed)
