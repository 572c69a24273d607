"""Canvassing's queries: who hears of a session, a session's places, the coming
week's sessions with their sign-ups, the running campaign."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import bindparam, select

from bot.canvassing.rules import covers, local
from bot.kernel.context import Context
from bot.kernel.outbox import Recipients
from bot.kernel.waiting_list import WaitingList, places_left
from storage.models import (
    Branch,
    Campaign,
    CanvassResult,
    CanvassSession,
    CanvassSignup,
    CanvassSlot,
    Person,
)
from storage.vocabulary import GOING, SCOPE_NATIONAL, SCOPE_REGION, WAITING

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
