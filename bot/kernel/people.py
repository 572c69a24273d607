"""People and their platform identities."""

from __future__ import annotations

import datetime as dt
import random

from sqlalchemy import bindparam, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.kernel.i18n import language
from bot.kernel.messages import Request
from storage.models import Consent, Identity, Person

# Crockford's base32 without the letters people misread (I, L, O, U).
SHORT_ID_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
SHORT_ID_LENGTH = 6
SEEN_REFRESH = dt.timedelta(hours=1)
NAME_LIMIT = 120


def clean_name(name: str) -> str:
    """A display name fit to show: printable, one line, not too long."""
    text = "".join(ch for ch in name if ch.isprintable()).strip()
    return (text or "Someone")[:NAME_LIMIT]


async def new_short_id(session: AsyncSession, rng: random.Random) -> str:
    while True:
        candidate = "".join(rng.choice(SHORT_ID_ALPHABET) for _ in range(SHORT_ID_LENGTH))
        taken = await session.scalar(select(Person.id).where(Person.short_id == candidate))
        if taken is None:
            return candidate


# Built once: this runs for every request.
_BY_IDENTITY = (
    select(Identity, Person)
    .join(Person, Person.id == Identity.person_id)
    .where(Identity.platform == bindparam("platform"), Identity.user_id == bindparam("user_id"))
)


async def find_person(session: AsyncSession, request: Request, now: dt.datetime) -> Person | None:
    """The Person behind a request's sender, refreshing what the platform tells us."""
    sender = request.sender
    row = (
        await session.execute(
            _BY_IDENTITY, {"platform": sender.platform, "user_id": sender.user_id}
        )
    ).first()
    if row is None:
        return None
    identity, person = row
    if sender.handle != identity.handle:
        identity.handle = sender.handle
    if request.chat.kind == "private" and identity.chat_id != request.chat.chat_id:
        identity.chat_id = request.chat.chat_id
    if identity.unreachable or now - identity.last_seen_at > SEEN_REFRESH:
        identity.unreachable = False  # they wrote to us, so we can write back
        identity.last_seen_at = now
    return person


async def create_person(
    session: AsyncSession,
    request: Request,
    *,
    now: dt.datetime,
    rng: random.Random,
    notice_version: str,
    default_locale: str,
) -> Person:
    """Create the Person (with their identity and consent) once they have agreed."""
    sender = request.sender
    person = Person(
        short_id=await new_short_id(session, rng),
        display_name=clean_name(sender.display_name),
        locale=language(sender.locale or default_locale),
        consented_at=now,
        created_at=now,
    )
    session.add(person)
    await session.flush()
    private_chat = request.chat.chat_id if request.chat.kind == "private" else sender.user_id
    session.add_all(
        [
            Identity(
                person_id=person.id,
                platform=sender.platform,
                user_id=sender.user_id,
                chat_id=private_chat,
                handle=sender.handle,
                unreachable=False,
                last_seen_at=now,
            ),
            Consent(
                person_id=person.id,
                purpose="membership-data",
                notice_version=notice_version,
                given_at=now,
            ),
        ]
    )
    return person


async def resolve_reference(session: AsyncSession, ref: str) -> list[Person]:
    """People an organiser means by a short id or an ``@handle`` (case-insensitive;
    a word that is no short id is tried as a handle too)."""
    ref = ref.strip()
    if not ref.startswith("@"):
        person = await session.scalar(select(Person).where(Person.short_id == ref.upper()))
        if person is not None:
            return [person]
    handle = ref.removeprefix("@").lower()
    if not handle:
        return []
    rows = await session.scalars(
        select(Person)
        .join(Identity, Identity.person_id == Person.id)
        .where(func.lower(Identity.handle) == handle)
        .distinct()
    )
    return list(rows)
