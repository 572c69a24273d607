"""The SQL of announcements: the branches in a scope, their linked chats, who in a
branch an audience selects (and how many), the drafts, the opt-outs, and how the
copies of each announcement fared in the outbox."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Select, bindparam, delete, exists, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.announcements.rules import CANVASSERS, EVERYONE, MEMBERS, SUPPORTERS
from bot.kernel.outbox import Recipients
from storage.models import (
    Announcement,
    AnnouncementOptOut,
    Branch,
    BranchChat,
    CanvassSession,
    CanvassSignup,
    OutboxMessage,
    Person,
    Region,
)
from storage.vocabulary import GOING, SCOPE_BRANCH, SCOPE_NATIONAL, SCOPE_REGION
from storage.writes import claim

_WANTS_IT = ~exists().where(
    AnnouncementOptOut.person_id == Person.id,
    AnnouncementOptOut.level == bindparam("r_level"),
)
_IN_BRANCH = (
    Person.branch_id == bindparam("r_branch"),
    Person.id != bindparam("r_author"),
    _WANTS_IT,
)
# The party's people who are in no branch: a national announcement reaches them too.
_IN_NO_BRANCH = (Person.branch_id.is_(None), Person.id != bindparam("r_author"), _WANTS_IT)
_PAID_THROUGH = Person.dues_paid_until >= bindparam("r_day")
_UNPAID = Person.dues_paid_until.is_(None) | ~_PAID_THROUGH
_CANVASSING = (
    select(CanvassSignup.person_id)
    .join(CanvassSession, CanvassSession.id == CanvassSignup.session_id)
    .where(
        CanvassSession.branch_id == bindparam("r_branch"),
        CanvassSession.cancelled_at.is_(None),
        CanvassSession.starts_at >= bindparam("r_from"),
        CanvassSession.starts_at < bindparam("r_to"),
        CanvassSignup.status == GOING,
    )
)
# Who in a branch each audience selects, built once (bot.kernel.outbox.Recipients).
_AUDIENCE: dict[str, Select[Any]] = {
    EVERYONE: select(Person.id).where(*_IN_BRANCH),
    MEMBERS: select(Person.id).where(*_IN_BRANCH, _PAID_THROUGH),
    SUPPORTERS: select(Person.id).where(*_IN_BRANCH, _UNPAID),
    CANVASSERS: select(Person.id).where(*_IN_BRANCH, Person.id.in_(_CANVASSING)),
}
# Who of those in no branch each audience selects; none canvass (a session is a branch's).
_NO_BRANCH_AUDIENCE: dict[str, Select[Any]] = {
    EVERYONE: select(Person.id).where(*_IN_NO_BRANCH),
    MEMBERS: select(Person.id).where(*_IN_NO_BRANCH, _PAID_THROUGH),
    SUPPORTERS: select(Person.id).where(*_IN_NO_BRANCH, _UNPAID),
}
# How many each selects, by the identity of the query (built once as well).
_COUNTS = {
    id(query): select(func.count()).select_from(query.subquery())
    for query in (*_AUDIENCE.values(), *_NO_BRANCH_AUDIENCE.values())
}


def audience_of(
    audience: str,
    branch: Branch,
    *,
    level: str,
    author_id: int,
    day: dt.date,
    month: tuple[dt.datetime, dt.datetime],
) -> Recipients:
    """The people of ``branch`` in ``audience`` who have not turned off announcements
    from ``level``, the author aside. ``day``: the branch's local day (dues paid
    through it make a Member); ``month``: this month's bounds (canvassers)."""
    params: dict[str, Any] = {"r_branch": branch.id, "r_author": author_id, "r_level": level}
    if audience in (MEMBERS, SUPPORTERS):
        params["r_day"] = day
    if audience == CANVASSERS:
        params["r_from"], params["r_to"] = month
    return Recipients(_AUDIENCE[audience], params)


def audience_without_branch(audience: str, *, author_id: int, day: dt.date) -> Recipients | None:
    """The people in no branch in ``audience`` who have not turned off the party's
    announcements, the author aside; None for canvassers (none are, outside a
    branch). ``day``: the party's local day (dues paid through it make a Member)."""
    query = _NO_BRANCH_AUDIENCE.get(audience)
    if query is None:
        return None
    params: dict[str, Any] = {"r_author": author_id, "r_level": SCOPE_NATIONAL}
    if audience in (MEMBERS, SUPPORTERS):
        params["r_day"] = day
    return Recipients(query, params)


async def count(session: AsyncSession, who: Recipients) -> int:
    return int(await session.scalar(_COUNTS[id(who.query)], who.params) or 0)


async def branches_in(session: AsyncSession, scope: str, scope_id: int) -> list[Branch]:
    """The branches an announcement at this scope reaches, by name."""
    query = select(Branch).order_by(Branch.name, Branch.id)
    if scope == SCOPE_BRANCH:
        query = query.where(Branch.id == scope_id)
    elif scope == SCOPE_REGION:
        query = query.where(Branch.region_id == scope_id)
    return list(await session.scalars(query))


async def linked_chats(session: AsyncSession, branch_ids: list[int]) -> dict[int, list[int]]:
    """Each branch's linked group chats (ids), for the branches given."""
    out: dict[int, list[int]] = {}
    rows = await session.execute(
        select(BranchChat.branch_id, BranchChat.id)
        .where(BranchChat.branch_id.in_(branch_ids))
        .order_by(BranchChat.id)
    )
    for branch_id, chat_id in rows:
        out.setdefault(branch_id, []).append(chat_id)
    return out


async def region_named(session: AsyncSession, name: str) -> Region | None:
    return await session.scalar(
        select(Region).where(func.lower(Region.name) == name.strip().lower()).limit(1)
    )


async def draft(session: AsyncSession, announcement_id: int) -> Announcement | None:
    return await session.get(Announcement, announcement_id)


async def take(session: AsyncSession, announcement: Announcement, **values: Any) -> bool:
    """Mark an unsent announcement sent (``values``), once: of two presses at the
    same instant only one takes it."""
    return await claim(
        session,
        Announcement,
        Announcement.id == announcement.id,
        Announcement.sent_at.is_(None),
        **values,
    )


async def drop(session: AsyncSession, announcement: Announcement) -> bool:
    """Delete an unsent announcement; False if it was sent (or dropped) meanwhile."""
    dropped = await session.execute(
        delete(Announcement)
        .where(Announcement.id == announcement.id, Announcement.sent_at.is_(None))
        .execution_options(synchronize_session=False)
    )
    return int(getattr(dropped, "rowcount", 0) or 0) == 1


async def drop_stale(session: AsyncSession, before: dt.datetime) -> None:
    """Delete the drafts nobody sent, created before ``before``."""
    await session.execute(
        delete(Announcement).where(Announcement.sent_at.is_(None), Announcement.created_at < before)
    )


async def opted_out(session: AsyncSession, person_id: int) -> set[str]:
    """The levels a person turned announcements off at."""
    rows = await session.scalars(
        select(AnnouncementOptOut.level).where(AnnouncementOptOut.person_id == person_id)
    )
    return set(rows)


async def opt_out(session: AsyncSession, person_id: int, level: str, now: dt.datetime) -> None:
    if level not in await opted_out(session, person_id):
        session.add(AnnouncementOptOut(person_id=person_id, level=level, at=now))
        await session.flush()


async def opt_in(session: AsyncSession, person_id: int, level: str) -> None:
    await session.execute(
        delete(AnnouncementOptOut).where(
            AnnouncementOptOut.person_id == person_id, AnnouncementOptOut.level == level
        )
    )


def key_of(announcement_id: int) -> str:
    """The outbox key every copy of an announcement starts with."""
    return f"ann{announcement_id}"


async def recent_for(
    session: AsyncSession, branch: Branch, since: dt.datetime, limit: int
) -> list[Announcement]:
    """Announcements sent since ``since`` that reached ``branch``: its own, its
    region's and the nation's, newest first."""
    scopes = (Announcement.scope == SCOPE_BRANCH) & (Announcement.scope_id == branch.id)
    if branch.region_id is not None:
        scopes |= (Announcement.scope == SCOPE_REGION) & (Announcement.scope_id == branch.region_id)
    scopes |= Announcement.scope == SCOPE_NATIONAL
    return list(
        await session.scalars(
            select(Announcement)
            .where(Announcement.sent_at.is_not(None), Announcement.sent_at > since, scopes)
            .order_by(Announcement.sent_at.desc(), Announcement.id.desc())
            .limit(limit)
        )
    )


async def delivery_counts(session: AsyncSession, announcement_id: int) -> dict[str, int]:
    """How many of an announcement's copies are sent, undeliverable, pending."""
    prefix = key_of(announcement_id) + ":"
    rows = await session.execute(
        select(OutboxMessage.status, func.count())
        .where(OutboxMessage.key.like(prefix + "%"))
        .group_by(OutboxMessage.status)
    )
    return {status: int(n) for status, n in rows}
