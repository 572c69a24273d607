"""Meetings' queries: a meeting's places, its answers, and who hears of it."""

from __future__ import annotations

from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.kernel.outbox import Recipients
from bot.kernel.waiting_list import WaitingList
from storage.models import Meeting, MeetingRsvp, Person
from storage.vocabulary import RSVP_GOING, RSVP_NO, RSVP_WAITING

# A meeting's places: Going while there is room, then a waiting list (bot.kernel.waiting_list).
PLACES = WaitingList(
    MeetingRsvp,
    MeetingRsvp.meeting_id,
    MeetingRsvp.answer,
    MeetingRsvp.answered_at,
    RSVP_GOING,
    RSVP_WAITING,
)

# Recipients (built once: see bot.kernel.outbox.Recipients).
GOING_TO = select(MeetingRsvp.person_id).where(
    MeetingRsvp.meeting_id == bindparam("r_meeting"), MeetingRsvp.answer == RSVP_GOING
)
# Everyone who answered but Can't: going, maybe, waiting.
ANSWERED = select(MeetingRsvp.person_id).where(
    MeetingRsvp.meeting_id == bindparam("r_meeting"), MeetingRsvp.answer != RSVP_NO
)
_ANY_ANSWER = select(MeetingRsvp.person_id).where(MeetingRsvp.meeting_id == bindparam("r_meeting"))
_ONE = select(Person.id).where(Person.id == bindparam("r_person"))


def going_to(meeting: Meeting) -> Recipients:
    return Recipients(GOING_TO, {"r_meeting": meeting.id})


def answered(meeting: Meeting) -> Recipients:
    return Recipients(ANSWERED, {"r_meeting": meeting.id})


def anyone_who_answered(meeting: Meeting) -> Recipients:
    """Those who answered, "can't" included: a new time may suit them."""
    return Recipients(_ANY_ANSWER, {"r_meeting": meeting.id})


def one(person_id: int) -> Recipients:
    return Recipients(_ONE, {"r_person": person_id})


async def answer_of(session: AsyncSession, meeting: Meeting, person_id: int) -> MeetingRsvp | None:
    """The person's answer to the meeting, if they gave one."""
    return await session.scalar(
        select(MeetingRsvp).where(
            MeetingRsvp.meeting_id == meeting.id, MeetingRsvp.person_id == person_id
        )
    )
