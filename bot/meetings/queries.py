"""Meetings' queries: a meeting's places, its answers, and who hears of it."""

from __future__ import annotations

from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.kernel.outbox import Recipients
from bot.kernel.waiting_list import WaitingList
from storage.models import Branch, BranchChat, Meeting, MeetingRsvp, Person
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
_BRANCH_PEOPLE = select(Person.id).where(Person.branch_id == bindparam("r_branch"))
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


def branch_people(branch: Branch) -> Recipients:
    """The people of the branch (its members and supporters)."""
    return Recipients(_BRANCH_PEOPLE, {"r_branch": branch.id})


async def answer_of(session: AsyncSession, meeting: Meeting, person_id: int) -> MeetingRsvp | None:
    """The person's answer to the meeting, if they gave one."""
    return await session.scalar(
        select(MeetingRsvp).where(
            MeetingRsvp.meeting_id == meeting.id, MeetingRsvp.person_id == person_id
        )
    )


async def branch_chats(session: AsyncSession, branch: Branch) -> list[int]:
    """The ids of the group chats linked to the branch."""
    return list(
        await session.scalars(select(BranchChat.id).where(BranchChat.branch_id == branch.id))
    )
