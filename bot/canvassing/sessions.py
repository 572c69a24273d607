"""Canvassing sessions and their sign-ups: sessions created as they come into
view (idempotently), signing up and cancelling with the waiting list,
cancelling sessions, and a campaign's daily sessions.
"""

from __future__ import annotations

import datetime as dt
import itertools
from zoneinfo import ZoneInfo

from sqlalchemy import select

from bot.branches.recipients import only
from bot.canvassing.queries import (
    SIGNED_UP,
    SIGNUPS,
    Listing,
    coming_sessions,
    first_slot,
    listings,
)
from bot.canvassing.rules import HORIZON, daily_starts, slot_time
from bot.canvassing.texts import cancelled_notice, promoted_notice
from bot.kernel.context import Context
from bot.kernel.effects import notify
from bot.kernel.outbox import Recipients
from bot.lib.when import local_moment, weekly
from storage.models import Branch, Campaign, CanvassSession, CanvassSignup, CanvassSlot, Person
from storage.vocabulary import GOING
from storage.writes import upsert


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


async def upcoming(ctx: Context, branch: Branch, person_id: int | None) -> list[Listing]:
    """The coming week's sessions (created first if they are not yet), with their
    places and the person's own status."""
    until = ctx.now + HORIZON
    await ensure_sessions(ctx, branch, until)
    return await listings(ctx, branch, person_id, until)


async def sign_up(ctx: Context, session: CanvassSession, person_id: int) -> str:
    """Going, or waiting if the session is full; the status. Two people taking the
    last place at once: the caller holds the session's row lock (it loaded it
    FOR UPDATE), so one gets it."""
    given = await SIGNUPS.take(ctx.session, session.id, person_id, session.capacity, ctx.now)
    if given is not None:
        return given
    # They hold a row already (a second press): their status, unchanged.
    existing, _ = await SIGNUPS.ask(ctx.session, session.id, person_id, session.capacity)
    if existing is None:  # gone since (it cannot be, the session locked): try again
        return await sign_up(ctx, session, person_id)
    return existing


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
    await notify(
        ctx,
        only(lucky),
        f"canvass-promoted:{session.id}:{lucky.id}:{ctx.now.isoformat()}",
        promoted_notice(session, branch),
    )


async def cancel_sessions(ctx: Context, sessions: list[CanvassSession], branch: Branch) -> None:
    """Cancel these sessions and tell everyone signed up (going or waiting)."""
    for session in sessions:
        session.cancelled_at = ctx.now
        await notify(
            ctx,
            Recipients(SIGNED_UP, {"r_session": session.id}),
            f"canvass-cancelled:{session.id}",
            cancelled_notice(session.starts_at, branch.timezone),
        )


async def add_daily_sessions(ctx: Context, run: Campaign, branch: Branch) -> int:
    """A session every day until polling day, at the branch's first weekly time and place."""
    slot = await first_slot(ctx, branch)
    if slot is None:
        return 0
    at = slot_time(slot)
    # The weekly sessions up to polling day first, so that a day never gets two.
    tz = ZoneInfo(branch.timezone)
    last = local_moment(run.polling_day, at, tz)
    await ensure_sessions(ctx, branch, last)
    taken = {s.starts_at for s in await coming_sessions(ctx, CanvassSession.branch_id == branch.id)}
    starts_at = daily_starts(run.polling_day, at, tz, ctx.now, taken)
    for starts in starts_at:
        ctx.session.add(
            CanvassSession(
                branch_id=branch.id,
                slot_id=slot.id,  # so that editing or removing the slot reaches it
                starts_at=starts,
                meeting_point=slot.meeting_point,
                capacity=slot.capacity,
                campaign_id=run.id,
            )
        )
    return len(starts_at)
