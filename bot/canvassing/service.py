"""Weekly canvassing: slots, their dated sessions, sign-ups and the waiting list.

A slot is "Saturdays 10:30 at the Market Cross" in the branch's own time zone;
its sessions are the dated occurrences (``bot.lib.when.weekly``: a Saturday 10:30
session stays 10:30 local across a clock change), stored in UTC. Sessions are
created as they come into view, idempotently.
"""

from __future__ import annotations

import datetime as dt
import itertools
import typing
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Table, bindparam, insert, select

from bot.branches.service import only
from bot.kernel.context import Context
from bot.kernel.effects import notify
from bot.kernel.i18n import Translator, format_local
from bot.kernel.outbox import Recipients
from bot.kernel.waiting_list import WaitingList, places_left
from bot.lib.ics import Event, uid
from bot.lib.when import weekly
from storage.models import Branch, Campaign, CanvassSession, CanvassSignup, CanvassSlot, Person
from storage.vocabulary import GOING, SCOPE_NATIONAL, SCOPE_REGION, WAITING
from storage.writes import upsert

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

# The table, not the entity: no object is loaded or flushed for it (a hot path).
_SIGN_UP = insert(typing.cast(Table, CanvassSignup.__table__))

HORIZON = dt.timedelta(days=7)
SESSION_LENGTH = dt.timedelta(hours=2)
POINT_LIMIT = 200
CAPACITY_LIMIT = 500


def slot_time(slot: CanvassSlot) -> dt.time:
    """The local time of a weekly slot (kept as ``HH:MM``, as /canvass schedule read it)."""
    return dt.time.fromisoformat(slot.local_time)


def local(when: dt.datetime, tz: str) -> dt.datetime:
    return when.astimezone(ZoneInfo(tz))


async def ensure_sessions(ctx: Context, branch: Branch, until: dt.datetime) -> None:
    """Create the sessions of the branch's slots from now until ``until`` (idempotent)."""
    slots = list(
        await ctx.session.scalars(
            select(CanvassSlot).where(
                CanvassSlot.branch_id == branch.id, CanvassSlot.removed_at.is_(None)
            )
        )
    )
    if not slots:
        return
    rows = []
    for slot in slots:
        at = slot_time(slot)
        coming = weekly(slot.weekday, at, ZoneInfo(branch.timezone), ctx.now)
        rows += [
            {
                "branch_id": branch.id,
                "slot_id": slot.id,
                "starts_at": starts,
                "meeting_point": slot.meeting_point,
                "capacity": slot.capacity,
            }
            for starts in itertools.takewhile(lambda starts: starts <= until, coming)
        ]
    await upsert(ctx.session, CanvassSession, rows, key=["slot_id", "starts_at"])


@dataclass(frozen=True, slots=True)
class Listing:
    session: CanvassSession
    going: int
    mine: str | None  # the person's own status at it, if any

    @property
    def places_left(self) -> int | None:
        return places_left(self.session.capacity, self.going)


async def upcoming(ctx: Context, branch: Branch, person_id: int | None) -> list[Listing]:
    until = ctx.now + HORIZON
    await ensure_sessions(ctx, branch, until)
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


async def sign_up(ctx: Context, session: CanvassSession, person_id: int) -> str:
    """Going, or waiting if the session is full; the status. Two people taking the
    last place at once: the caller holds the session's row lock (it loaded it
    FOR UPDATE), so one gets it."""
    existing, status = await SIGNUPS.ask(ctx.session, session.id, person_id, session.capacity)
    if existing is not None:
        return existing
    await ctx.session.execute(
        _SIGN_UP,
        {"session_id": session.id, "person_id": person_id, "status": status, "created_at": ctx.now},
    )
    return status


async def cancel(ctx: Context, session: CanvassSession, branch: Branch, person_id: int) -> bool:
    """Take the person off; whether they were on it. A place they leave lets the
    first waiting in (and tells them). The caller holds the session's row lock (it
    loaded it FOR UPDATE)."""
    signup = await ctx.session.scalar(
        select(CanvassSignup).where(
            CanvassSignup.session_id == session.id, CanvassSignup.person_id == person_id
        )
    )
    if signup is None:
        return False
    was_going = signup.status == GOING
    await ctx.session.delete(signup)
    await ctx.session.flush()
    if was_going:
        await let_in(ctx, session, branch)
    return True


async def let_in(ctx: Context, session: CanvassSession, branch: Branch) -> list[int]:
    """Move people from the waiting list into free places, first come first served,
    and tell each; the ids of those promoted. (The caller holds the session's row lock.)"""
    promoted = await SIGNUPS.promote(ctx.session, session.id, session.capacity)
    for person_id in promoted:
        lucky = await ctx.session.get(Person, person_id)
        if lucky is not None:
            await _tell_promoted(ctx, session, branch, lucky)
    return promoted


async def _tell_promoted(
    ctx: Context, session: CanvassSession, branch: Branch, lucky: Person
) -> None:
    at, tz, point = session.starts_at, branch.timezone, session.meeting_point
    await notify(
        ctx,
        only(lucky),
        f"canvass-promoted:{session.id}:{lucky.id}:{ctx.now.isoformat()}",
        lambda t: t(
            "A place opened up: you're now going canvassing {when} at {point}.",
            when=format_local(at, "day_time", t.locale, tz=tz),
            point=point,
        ),
    )


def calendar_event(session: CanvassSession, branch: Branch, party: str) -> Event:
    """The session as a calendar app shows it (see ``bot.lib.ics``)."""
    return Event(
        uid=uid("canvass", session.id),
        summary=f"{party}: canvassing with the {branch.name} branch",
        starts=session.starts_at,
        ends=session.starts_at + SESSION_LENGTH,
        location=session.meeting_point,
    )


def covers(campaign: Campaign, branch: Branch) -> bool:
    if campaign.scope == SCOPE_NATIONAL:
        return True
    if campaign.scope == SCOPE_REGION:
        return branch.region_id == campaign.scope_id
    return branch.id == campaign.scope_id


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


async def cancel_sessions(ctx: Context, sessions: list[CanvassSession], branch: Branch) -> None:
    """Cancel these sessions and tell everyone signed up (going or waiting)."""
    for session in sessions:
        session.cancelled_at = ctx.now
        await notify(
            ctx,
            Recipients(SIGNED_UP, {"r_session": session.id}),
            f"canvass-cancelled:{session.id}",
            _cancelled_notice(session.starts_at, branch.timezone),
        )


def _cancelled_notice(at: dt.datetime, tz: str) -> Callable[[Translator], str]:
    return lambda t: t(
        "The canvassing session {when} is cancelled.",
        when=format_local(at, "day_time", t.locale, tz=tz),
    )
