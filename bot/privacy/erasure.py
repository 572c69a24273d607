"""How /forget erases a person from what was said about them.

A message to others may name someone ("Zed (K3M9QX) joined",
"Zed accepted a place", "P0001 = Zed"). On /forget, ``erase_mentions`` replaces
the person's name, short id, handles and platform ids, as whole words, with
"(name deleted)" in every column where the bot writes such text: outbox texts
and button labels, delivery errors, audit details, the state behind other
people's buttons, a draw's witnesses. Buttons that act on the person's id (an
organiser's Undo, a draw preview whose pool held them) are deleted, so that
their id, were it ever given to someone else, would reach nobody.
"""

from __future__ import annotations

import json
import re
from typing import Any

from sqlalchemy import String, cast, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.kernel.config import Settings
from bot.kernel.i18n import translator
from bot.privacy.rules import holds_person, name_pattern, scrub
from storage.models import AuditEntry, Draw, OutboxMessage, Person, Prompt

# A name shorter than this is erased only from the messages about the person
# (``about_id``), not wherever the word appears: "Al" or "Jo" as a whole word
# elsewhere is more likely someone else, or not a name at all.
MIN_WORD = 3


async def erase_mentions(
    session: AsyncSession, settings: Settings, person: Person, words: list[str]
) -> None:
    """Replace ``words`` (see ``words_naming``) with "(name deleted)" wherever the
    bot stored text that may hold them, and delete other people's buttons that
    act on the person. Call it before the person's own rows are deleted."""
    t = translator(settings.default_locale)
    placeholder = t("(name deleted)")
    broad = name_pattern(w for w in words if len(w) >= MIN_WORD)
    everything = name_pattern(words)
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
        if holds_person(prompt.payload, person.id):
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
        scrubbed = scrub(value, pattern, placeholder)
        if json.dumps(scrubbed, sort_keys=True) != json.dumps(value, sort_keys=True):
            setattr(row, column, scrubbed)
