"""Linking's queries: link codes issued, taken and guessed wrong, a person's
accounts, and the open secret ballots two records have both voted in. SQL only.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.linking.rules import CODE_LIFETIME, CODE_WINDOW, FAILURE_WINDOW, code_hash, new_code
from storage.models import Identity, LinkCode, LinkFailure, Person, Poll, PollVoter
from storage.writes import claim


async def codes_issued(session: AsyncSession, person: Person, now: dt.datetime) -> int:
    """How many codes this person asked for in the last ``CODE_WINDOW``."""
    count = await session.scalar(
        select(func.count())
        .select_from(LinkCode)
        .where(LinkCode.person_id == person.id, LinkCode.created_at > now - CODE_WINDOW)
    )
    return int(count or 0)


async def issue_code(session: AsyncSession, person: Person, platform: str, now: dt.datetime) -> str:
    """A fresh code for this person; earlier unused ones stop working (they are
    kept, expired, for an hour: they count towards ``CODES_ALLOWED``)."""
    await session.execute(
        delete(LinkCode).where(
            LinkCode.person_id == person.id, LinkCode.created_at <= now - CODE_WINDOW
        )
    )
    await session.execute(
        update(LinkCode)
        .where(
            LinkCode.person_id == person.id,
            LinkCode.used_at.is_(None),
            LinkCode.expires_at > now,
        )
        .values(expires_at=now)
        .execution_options(synchronize_session=False)
    )
    code = new_code()
    session.add(
        LinkCode(
            code_hash=code_hash(code.replace("-", "")),
            person_id=person.id,
            platform=platform,
            created_at=now,
            expires_at=now + CODE_LIFETIME,
        )
    )
    await session.flush()
    return code


async def recent_failures(session: AsyncSession, owner_key: str, now: dt.datetime) -> int:
    await session.execute(delete(LinkFailure).where(LinkFailure.at <= now - FAILURE_WINDOW))
    count = await session.scalar(
        select(func.count()).select_from(LinkFailure).where(LinkFailure.owner_key == owner_key)
    )
    return int(count or 0)


async def take_code(session: AsyncSession, raw: str, now: dt.datetime) -> LinkCode | None:
    """The code's row, now used; None if it is unknown, expired or already used.

    Taking it is one conditional UPDATE, so a code entered twice at the same
    instant is taken once.
    """
    row = await session.scalar(select(LinkCode).where(LinkCode.code_hash == code_hash(raw)))
    if row is None:
        return None
    taken = await claim(
        session,
        LinkCode,
        LinkCode.id == row.id,
        LinkCode.used_at.is_(None),
        LinkCode.expires_at > now,
        used_at=now,
    )
    return row if taken else None


async def secret_votes_in_common(session: AsyncSession, a: Person, b: Person) -> list[str]:
    """Open secret ballots both records have voted in: merging them would leave
    one person with two ballots that nobody can tell apart, so it must wait."""
    mine, theirs = PollVoter.__table__.alias("mine"), PollVoter.__table__.alias("theirs")
    rows = await session.scalars(
        select(Poll.question)
        .join(mine, mine.c.poll_id == Poll.id)
        .join(theirs, theirs.c.poll_id == Poll.id)
        .where(
            Poll.secret.is_(True),
            Poll.closed_at.is_(None),
            mine.c.person_id == a.id,
            mine.c.voted.is_(True),
            theirs.c.person_id == b.id,
            theirs.c.voted.is_(True),
        )
    )
    return list(rows)


async def platforms_of(session: AsyncSession, person_id: int) -> set[str]:
    rows = await session.scalars(select(Identity.platform).where(Identity.person_id == person_id))
    return set(rows)


async def identity_of(session: AsyncSession, platform: str, user_id: str) -> Identity | None:
    """The account ``user_id`` on ``platform``, if the bot knows it."""
    return await session.scalar(
        select(Identity).where(Identity.platform == platform, Identity.user_id == user_id)
    )


async def identities_of(session: AsyncSession, person_id: int) -> list[Identity]:
    """Every account of a person's record, oldest first."""
    return list(
        await session.scalars(
            select(Identity).where(Identity.person_id == person_id).order_by(Identity.id)
        )
    )


async def account_on(session: AsyncSession, person_id: int, platform: str) -> Identity | None:
    """The person's account on ``platform`` (a record has one a platform at most)."""
    return await session.scalar(
        select(Identity).where(Identity.person_id == person_id, Identity.platform == platform)
    )


async def unlink_account(session: AsyncSession, identity: Identity) -> None:
    """The account no longer belongs to its record."""
    await session.delete(identity)


async def drop_codes(session: AsyncSession, person_id: int) -> None:
    """Every link code the person asked for stops working (and is forgotten)."""
    await session.execute(delete(LinkCode).where(LinkCode.person_id == person_id))
