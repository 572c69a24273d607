"""People and their platform identities."""

from __future__ import annotations

import datetime as dt
import random
from typing import Any

from sqlalchemy import Select, bindparam, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from bot.kernel.i18n import Translator, is_shipped, language, pick_language, translator
from bot.kernel.messages import Request
from storage.models import Branch, Consent, Identity, Person

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


# The branch a person is in, beside a handler's own tables (which may be branches).
_HOME = aliased(Branch, name="home_branch")


def by_sender(*entities: Any) -> Select[Any]:
    """A statement whose first three columns are the sender's Identity and Person
    (bound as ``platform`` and ``user_id``) and their branch's language (the
    person's language may be their branch's), followed by ``entities``: a handler's
    first read, joined to the person so that both come in one statement (see
    :data:`bot.kernel.registry.Prefetch`)."""
    return (
        select(Identity, Person, _HOME.language, *entities)
        .join(Person, Person.id == Identity.person_id)
        .outerjoin(_HOME, _HOME.id == Person.branch_id)
        .where(Identity.platform == bindparam("platform"), Identity.user_id == bindparam("user_id"))
    )


# Built once: this runs for every request.
_BY_IDENTITY = by_sender()


def sender_params(request: Request) -> dict[str, str]:
    """The parameters :func:`by_sender` binds."""
    return {"platform": request.sender.platform, "user_id": request.sender.user_id}


def refresh(identity: Identity, person: Person, request: Request, now: dt.datetime) -> Person:
    """The person found for a request, refreshed with what the platform tells us
    (written when the transaction commits)."""
    sender = request.sender
    if sender.handle != identity.handle:
        identity.handle = sender.handle
    if sender.locale and language(sender.locale) != person.locale:
        person.locale = language(sender.locale)  # their app's language changed
    if request.chat.kind == "private" and identity.chat_id != request.chat.chat_id:
        identity.chat_id = request.chat.chat_id
    if identity.unreachable or now - identity.last_seen_at > SEEN_REFRESH:
        identity.unreachable = False  # they wrote to us, so we can write back
        identity.last_seen_at = now
    return person


async def find_person(session: AsyncSession, request: Request, now: dt.datetime) -> Person | None:
    """The Person behind a request's sender, refreshing what the platform tells us."""
    return (await find_reader(session, request, now))[0]


async def find_reader(
    session: AsyncSession, request: Request, now: dt.datetime
) -> tuple[Person | None, str | None]:
    """The Person behind a request's sender (see :func:`find_person`) and their
    branch's language (None: none set, or no branch), in one statement."""
    row = (await session.execute(_BY_IDENTITY, sender_params(request))).first()
    if row is None:
        return None, None
    identity, person, branch_language = row
    return refresh(identity, person, request, now), branch_language


async def create_person(
    session: AsyncSession,
    request: Request,
    *,
    now: dt.datetime,
    rng: random.Random,
    notice_version: str,
) -> Person:
    """Create the Person (with their identity and consent) once they have agreed."""
    sender = request.sender
    person = Person(
        short_id=await new_short_id(session, rng),
        display_name=clean_name(sender.display_name),
        locale=language(sender.locale) if sender.locale else "",
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


# Where a person's language comes from, most wanted first.
CHOSEN, PLATFORM, BRANCH, PARTY = "chosen", "platform", "branch", "party"


def choose_language(
    person: Person, branch_language: str | None, default_locale: str
) -> tuple[str, str]:
    """The language ``person`` reads and where it comes from: the first the bot
    speaks of what they chose (/language, CHOSEN), their platform's (PLATFORM),
    their branch's ``branch_language`` (BRANCH), else the party's ``default_locale``
    (PARTY). The outbox picks the same for many people at once (bot.kernel.outbox)."""
    for wanted, source in (
        (person.language, CHOSEN),
        (person.locale, PLATFORM),
        (branch_language, BRANCH),
    ):
        if is_shipped(wanted):
            return language(wanted), source
    return pick_language(default_locale), PARTY


async def language_of(
    session: AsyncSession, person: Person, default_locale: str
) -> tuple[str, str]:
    """:func:`choose_language`, their branch read from the database if it counts."""
    branch_language = None
    if not (is_shipped(person.language) or is_shipped(person.locale)) and person.branch_id:
        branch = await session.get(Branch, person.branch_id)
        branch_language = branch.language if branch else None
    return choose_language(person, branch_language, default_locale)


def translator_for(person: Person, branch_language: str | None, default_locale: str) -> Translator:
    """What ``person`` reads in: their language (:func:`choose_language`) and their
    own time zone."""
    lang, _ = choose_language(person, branch_language, default_locale)
    return translator(lang, person.timezone)


async def reader(session: AsyncSession, person: Person | None, default_locale: str) -> Translator:
    """What ``person`` reads in (see :func:`language_of`); the party's language for
    no one (a person since forgotten)."""
    if person is None:
        return translator(pick_language(default_locale))
    lang, _ = await language_of(session, person, default_locale)
    return translator(lang, person.timezone)


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
