"""Canvassing's queries: who hears of a session, a session's places, the coming
week's sessions with their sign-ups, the running campaign."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.canvassing.rules import SESSION_LENGTH, covers, local
from bot.kernel.context import Context, parse_id
from bot.kernel.messages import Request
from bot.kernel.outbox import Recipients
from bot.kernel.people import by_sender
from bot.kernel.waiting_list import WaitingList, places_left
from storage.models import (
    Branch,
    Campaign,
    CanvassAttendance,
    CanvassResult,
    CanvassSession,
    CanvassSignup,
    CanvassSlot,
    Person,
    Region,
    RoleGrant,
)
from storage.vocabulary import ADMIN, GOING, SCOPE_NATIONAL, SCOPE_REGION, WAITING

# Recipients (built once: see bot.kernel.outbox.Recipients).
SIGNED_UP = select(CanvassSignup.person_id).where(
    CanvassSignup.session_id == bindparam("r_session")
)
GOING_WITH_REMINDERS = (
    select(CanvassSignup.person_id)
    .join(Person, Person.id == CanvassSignup.person_id)
    .where(
        CanvassSignup.session_id == bindparam("r_session"),
        CanvassSignup.status == GOING,
        Person.reminders.is_(True),
    )
)
BRANCH_WITH_REMINDERS = select(Person.id).where(
    Person.branch_id == bindparam("r_branch"), Person.reminders.is_(True)
)

# A session's places: first come, first served, then a waiting list (bot.kernel.waiting_list).
SIGNUPS = WaitingList(
    CanvassSignup,
    CanvassSignup.session_id,
    CanvassSignup.status,
    CanvassSignup.created_at,
    GOING,
    WAITING,
)


@dataclass(frozen=True, slots=True)
class Listing:
    session: CanvassSession
    going: int
    mine: str | None  # the person's own status at it, if any

    @property
    def places_left(self) -> int | None:
        return places_left(self.session.capacity, self.going)


async def listings(
    ctx: Context, branch: Branch, person_id: int | None, until: dt.datetime
) -> list[Listing]:
    """The branch's sessions from now until ``until`` (not cancelled), each with how
    many are going and the person's own status at it."""
    sessions = list(
        await ctx.session.scalars(
            select(CanvassSession)
            .where(
                CanvassSession.branch_id == branch.id,
                CanvassSession.cancelled_at.is_(None),
                CanvassSession.starts_at > ctx.now,
                CanvassSession.starts_at <= until,
            )
            .order_by(CanvassSession.starts_at, CanvassSession.id)
        )
    )
    ids = [s.id for s in sessions]
    going = await SIGNUPS.counts_going(ctx.session, ids)
    mine: dict[int, str] = {}
    if person_id is not None:
        own = await ctx.session.execute(
            select(CanvassSignup.session_id, CanvassSignup.status).where(
                CanvassSignup.session_id.in_(ids), CanvassSignup.person_id == person_id
            )
        )
        mine = {session_id: status for session_id, status in own}
    return [Listing(s, going.get(s.id, 0), mine.get(s.id)) for s in sessions]


async def active_campaign(ctx: Context, branch: Branch) -> Campaign | None:
    """The running campaign that covers this branch, if any."""
    running = await ctx.session.scalars(
        select(Campaign).where(
            Campaign.stopped_at.is_(None),
            Campaign.polling_day >= local(ctx.now, branch.timezone).date(),
        )
    )
    return next((c for c in running if covers(c, branch)), None)


async def coming_sessions(ctx: Context, *where: Any) -> list[CanvassSession]:
    """Sessions still to come (not cancelled) that match ``where``."""
    rows = await ctx.session.scalars(
        select(CanvassSession).where(
            CanvassSession.starts_at > ctx.now, CanvassSession.cancelled_at.is_(None), *where
        )
    )
    return list(rows)


async def active_slots(ctx: Context, branch: Branch) -> list[CanvassSlot]:
    """The branch's weekly sessions, in the order /canvass slots numbers them."""
    return list(
        await ctx.session.scalars(
            select(CanvassSlot)
            .where(CanvassSlot.branch_id == branch.id, CanvassSlot.removed_at.is_(None))
            .order_by(CanvassSlot.weekday, CanvassSlot.local_time, CanvassSlot.id)
        )
    )


async def session_to_log(ctx: Context, branch: Branch) -> CanvassSession | None:
    """The branch's latest session of the last two weeks, past and not cancelled,
    whose results are not yet logged."""
    return await ctx.session.scalar(
        select(CanvassSession)
        .where(
            CanvassSession.branch_id == branch.id,
            CanvassSession.cancelled_at.is_(None),
            CanvassSession.starts_at <= ctx.now,
            CanvassSession.starts_at > ctx.now - dt.timedelta(days=14),
            ~select(CanvassResult.id).where(CanvassResult.session_id == CanvassSession.id).exists(),
        )
        .order_by(CanvassSession.starts_at.desc())
        .limit(1)
    )


async def branch_results(ctx: Context, branch: Branch) -> list[tuple[dt.datetime, CanvassResult]]:
    """Each logged session of the branch: when it started, and its result."""
    rows = await ctx.session.execute(
        select(CanvassSession.starts_at, CanvassResult)
        .join(CanvassResult, CanvassResult.session_id == CanvassSession.id)
        .where(CanvassSession.branch_id == branch.id)
    )
    return [(starts_at, result) for starts_at, result in rows]


# Everyone in a campaign's scope (built once; see bot.kernel.outbox.Recipients).
_IN_BRANCH = select(Person.id).where(Person.branch_id == bindparam("r_branch"))
_IN_REGION = (
    select(Person.id)
    .join(Branch, Branch.id == Person.branch_id)
    .where(Branch.region_id == bindparam("r_region"))
)
_IN_PARTY = select(Person.id).where(Person.branch_id.is_not(None))


def in_scope(scope: str, scope_id: int) -> Recipients:
    """Everyone in a campaign's scope: the branch's people, the region's, or the party's."""
    if scope == SCOPE_NATIONAL:
        return Recipients(_IN_PARTY, {})
    if scope == SCOPE_REGION:
        return Recipients(_IN_REGION, {"r_region": scope_id})
    return Recipients(_IN_BRANCH, {"r_branch": scope_id})


async def unstopped_campaign(ctx: Context, scope: str, scope_id: int) -> Campaign | None:
    """A campaign of this scope not stopped (its polling day may have passed)."""
    return await ctx.session.scalar(
        select(Campaign).where(
            Campaign.scope == scope, Campaign.scope_id == scope_id, Campaign.stopped_at.is_(None)
        )
    )


async def campaign_running(
    ctx: Context, scope: str, scope_id: int, today: dt.date
) -> Campaign | None:
    """The latest campaign of this scope still running (not stopped, polling day to come)."""
    return await ctx.session.scalar(
        select(Campaign)
        .where(
            Campaign.scope == scope,
            Campaign.scope_id == scope_id,
            Campaign.stopped_at.is_(None),
            Campaign.polling_day >= today,
        )
        .order_by(Campaign.started_at.desc())
        .limit(1)
    )


async def branches_where(ctx: Context, *where: Any) -> list[Branch]:
    """The branches that match ``where`` (all of them without)."""
    return list(await ctx.session.scalars(select(Branch).where(*where)))


async def first_slot(ctx: Context, branch: Branch) -> CanvassSlot | None:
    """The branch's first weekly session still on, the one a campaign copies."""
    return await ctx.session.scalar(
        select(CanvassSlot)
        .where(CanvassSlot.branch_id == branch.id, CanvassSlot.removed_at.is_(None))
        .order_by(CanvassSlot.id)
        .limit(1)
    )


# --- attendance ----------------------------------------------------------------------


async def running_sessions(ctx: Context, branch: Branch, person_id: int) -> list[CanvassSession]:
    """The branch's sessions under way now (not cancelled) that the person is going to."""
    return list(
        await ctx.session.scalars(
            select(CanvassSession)
            .join(CanvassSignup, CanvassSignup.session_id == CanvassSession.id)
            .where(
                CanvassSession.branch_id == branch.id,
                CanvassSession.cancelled_at.is_(None),
                CanvassSession.starts_at <= ctx.now,
                CanvassSession.starts_at > ctx.now - SESSION_LENGTH,
                CanvassSignup.person_id == person_id,
                CanvassSignup.status == GOING,
            )
            .order_by(CanvassSession.starts_at, CanvassSession.id)
        )
    )


async def is_going(ctx: Context, session: CanvassSession, person_id: int) -> bool:
    status = await ctx.session.scalar(
        select(CanvassSignup.status).where(
            CanvassSignup.session_id == session.id, CanvassSignup.person_id == person_id
        )
    )
    return status == GOING


async def came_ids(ctx: Context, session: CanvassSession) -> set[int]:
    """Who came to the session (checked in, or marked)."""
    return set(
        await ctx.session.scalars(
            select(CanvassAttendance.person_id).where(CanvassAttendance.session_id == session.id)
        )
    )


async def check_in(
    ctx: Context, session: CanvassSession, person_id: int, marked_by: int | None
) -> bool:
    """Record that the person came; False if they were already recorded (once only)."""
    if person_id in await came_ids(ctx, session):
        return False
    ctx.session.add(
        CanvassAttendance(
            session_id=session.id, person_id=person_id, marked_by=marked_by, at=ctx.now
        )
    )
    await ctx.session.flush()
    return True


async def toggle_came(
    ctx: Context, session: CanvassSession, person_id: int, marked_by: int | None
) -> bool:
    """Mark the person present, or unmark them if they were; whether they now are."""
    row = await ctx.session.scalar(
        select(CanvassAttendance).where(
            CanvassAttendance.session_id == session.id, CanvassAttendance.person_id == person_id
        )
    )
    if row is not None:
        await ctx.session.delete(row)
        await ctx.session.flush()
        return False
    return await check_in(ctx, session, person_id, marked_by)


async def sheet_list(ctx: Context, session: CanvassSession, limit: int) -> tuple[list[Person], int]:
    """Those going to the session or recorded as having come, by name (at most
    ``limit``), and how many there are in all."""
    on_list = (
        select(CanvassSignup.person_id)
        .where(CanvassSignup.session_id == session.id, CanvassSignup.status == GOING)
        .union(
            select(CanvassAttendance.person_id).where(CanvassAttendance.session_id == session.id)
        )
    )
    ids = set(await ctx.session.scalars(on_list))
    people = list(
        await ctx.session.scalars(
            select(Person)
            .where(Person.id.in_(ids))
            .order_by(Person.display_name, Person.id)
            .limit(limit)
        )
    )
    return people, len(ids)


async def session_for_sheet(ctx: Context, branch: Branch) -> CanvassSession | None:
    """The branch's latest session already started, of the last two weeks, not cancelled."""
    return await ctx.session.scalar(
        select(CanvassSession)
        .where(
            CanvassSession.branch_id == branch.id,
            CanvassSession.cancelled_at.is_(None),
            CanvassSession.starts_at <= ctx.now,
            CanvassSession.starts_at > ctx.now - dt.timedelta(days=14),
        )
        .order_by(CanvassSession.starts_at.desc())
        .limit(1)
    )


async def attendance_count(ctx: Context, session: CanvassSession) -> int:
    return len(await came_ids(ctx, session))


# --- stats: what the weeks are made of, for one branch or many -------------------------


@dataclass(frozen=True, slots=True)
class Record:
    """A set of branches' canvassing since a day: the starts of the sessions held
    (someone came, or results were logged), who came when, and the results."""

    held: dict[int, list[dt.datetime]]
    came: dict[int, list[tuple[dt.datetime, int]]]
    results: dict[int, list[tuple[dt.datetime, CanvassResult]]]


async def record(ctx: Context, branch_ids: list[int], since: dt.datetime) -> Record:
    """What the branches ``branch_ids`` did from ``since`` until now."""
    in_range = (
        CanvassSession.branch_id.in_(branch_ids),
        CanvassSession.cancelled_at.is_(None),
        CanvassSession.starts_at >= since,
        CanvassSession.starts_at <= ctx.now,
    )
    came: dict[int, list[tuple[dt.datetime, int]]] = {b: [] for b in branch_ids}
    rows = await ctx.session.execute(
        select(CanvassSession.branch_id, CanvassSession.starts_at, CanvassAttendance.person_id)
        .join(CanvassAttendance, CanvassAttendance.session_id == CanvassSession.id)
        .where(*in_range)
    )
    for branch_id, starts_at, person_id in rows:
        came[branch_id].append((starts_at, person_id))
    results: dict[int, list[tuple[dt.datetime, CanvassResult]]] = {b: [] for b in branch_ids}
    result_rows = await ctx.session.execute(
        select(CanvassSession.branch_id, CanvassSession.starts_at, CanvassResult)
        .join(CanvassResult, CanvassResult.session_id == CanvassSession.id)
        .where(*in_range)
    )
    for branch_id, starts_at, result in result_rows:
        results[branch_id].append((starts_at, result))
    held: dict[int, list[dt.datetime]] = {b: [] for b in branch_ids}
    held_rows = await ctx.session.execute(
        select(CanvassSession.branch_id, CanvassSession.starts_at).where(
            *in_range,
            select(CanvassAttendance.id)
            .where(CanvassAttendance.session_id == CanvassSession.id)
            .exists()
            | select(CanvassResult.id)
            .where(CanvassResult.session_id == CanvassSession.id)
            .exists(),
        )
    )
    for branch_id, starts_at in held_rows:
        held[branch_id].append(starts_at)
    return Record(held, came, results)


async def all_regions(ctx: Context) -> list[Region]:
    return list(await ctx.session.scalars(select(Region).order_by(Region.name, Region.id)))


async def region_branches(ctx: Context, region_id: int) -> list[Branch]:
    return list(
        await ctx.session.scalars(
            select(Branch).where(Branch.region_id == region_id).order_by(Branch.name, Branch.id)
        )
    )


_REGION_ADMINS = select(RoleGrant.person_id).where(
    RoleGrant.role == ADMIN,
    RoleGrant.scope == SCOPE_REGION,
    RoleGrant.scope_id == bindparam("r_region"),
)


def region_admins(region_id: int) -> Recipients:
    """The admins of the region itself (not the national ones)."""
    return Recipients(_REGION_ADMINS, {"r_region": region_id})


# A session's button pressed: the session with its branch (built once: a hot path).
_PRESSED = (
    select(CanvassSession, Branch)
    .join(Branch, Branch.id == CanvassSession.branch_id)
    .where(CanvassSession.id == bindparam("session"), Branch.id == bindparam("branch"))
)
_PRESSED_LOCKED = _PRESSED.with_for_update(of=CanvassSession)
# The same, locked, with the presser's person (and only if it is their branch's), in
# one statement: Sign up is the button pressed most.
_SIGN_UP_AHEAD = (
    by_sender(CanvassSession, Branch)
    .join(
        CanvassSession,
        (CanvassSession.id == bindparam("session"))
        & (CanvassSession.branch_id == Person.branch_id),
    )
    .join(Branch, Branch.id == CanvassSession.branch_id)
    .with_for_update(of=CanvassSession)
)


def sign_up_ahead(request: Request) -> tuple[Select[Any], dict[str, Any]] | None:
    """The prefetch of a press of Sign up: what :func:`session_with_branch` reads
    (locked), read with the person (bot.kernel.registry.Prefetch)."""
    session_id = parse_id(request.target)
    return (_SIGN_UP_AHEAD, {"session": session_id}) if session_id is not None else None


async def session_with_branch(
    session: AsyncSession, session_id: int, branch_id: int, *, lock: bool = False
) -> tuple[CanvassSession, Branch] | None:
    """The canvassing session ``session_id`` with its branch, if it is ``branch_id``'s,
    in one statement; ``lock``: the session row locked (FOR UPDATE), to sign up or cancel."""
    result = await session.execute(
        _PRESSED_LOCKED if lock else _PRESSED, {"session": session_id, "branch": branch_id}
    )
    row = result.first()
    return (row[0], row[1]) if row is not None else None


async def forget_result(session: AsyncSession, result: CanvassResult) -> None:
    """A session's logged results are deleted (an organiser's Undo)."""
    await session.delete(result)
