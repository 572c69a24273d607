"""Answering a meeting: Going / Maybe / Can't, and its waiting list.

Capacity: Going when the meeting is full puts a person on the waiting list; when
someone going changes to Maybe or Can't, the first waiting (first come, first served)
is let in and told. The meeting's row is locked while places are counted, so two people
taking the last place at once cannot both get it.
"""

from __future__ import annotations

from bot.kernel.context import Context
from bot.kernel.effects import notify
from bot.meetings.queries import PLACES, answer_of, one
from bot.meetings.texts import answer_buttons, promoted_notice
from storage.models import Branch, Meeting, MeetingRsvp
from storage.vocabulary import RSVP_GOING, RSVP_WAITING


async def answer(
    ctx: Context, meeting: Meeting, branch: Branch, person_id: int, wanted: str
) -> str:
    """Record the person's answer; their answer now. Going to a full meeting is
    waiting; leaving a place lets the first waiting in (and tells them)."""
    await ctx.session.refresh(meeting, with_for_update=True)
    row = await answer_of(ctx.session, meeting, person_id)
    previous = row.answer if row is not None else None
    if wanted == RSVP_GOING:
        if previous in (RSVP_GOING, RSVP_WAITING):
            return str(previous)
        status = await PLACES.place_for(ctx.session, meeting.id, meeting.capacity)
    else:
        status = wanted
    if status == previous:
        return status
    if row is None:
        ctx.session.add(
            MeetingRsvp(
                meeting_id=meeting.id, person_id=person_id, answer=status, answered_at=ctx.now
            )
        )
    else:
        row.answer = status
        row.answered_at = ctx.now
    await ctx.session.flush()
    if previous == RSVP_GOING:
        await let_in(ctx, meeting, branch)
    return status


async def let_in(ctx: Context, meeting: Meeting, branch: Branch) -> list[int]:
    """Let people in from the waiting list into free places, first come first served,
    and tell each (with the answer buttons); the ids of those let in. (The caller
    holds the meeting's row lock.)"""
    promoted = await PLACES.promote(ctx.session, meeting.id, meeting.capacity)
    for person_id in promoted:
        await notify(
            ctx,
            one(person_id),
            f"mtup:{meeting.id}:{person_id}:{ctx.now.isoformat()}",
            promoted_notice(meeting, branch),
            buttons=lambda t: answer_buttons(t, meeting.id),
        )
    return promoted
