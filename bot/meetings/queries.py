"""Meetings' queries: a meeting's places, its answers, and who hears of it."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import ColumnElement, Row, bindparam, case, exists, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.kernel.context import Context
from bot.kernel.outbox import Recipients
from bot.kernel.waiting_list import WaitingList
from storage.models import (
    AnnouncementOptOut,
    Branch,
    Meeting,
    MeetingAttendance,
    MeetingRsvp,
    Person,
    Prompt,
)
from storage.vocabulary import (
    MEETING_REMINDERS,
    RSVP_GOING,
    RSVP_MAYBE,
    RSVP_NO,
    RSVP_WAITING,
)

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
# Those going who have not turned meeting reminders off (/reminders).
_TO_REMIND = GOING_TO.where(
    ~exists().where(
        AnnouncementOptOut.person_id == MeetingRsvp.person_id,
        AnnouncementOptOut.level == MEETING_REMINDERS,
    )
)
# Everyone who answered but Can't: going, maybe, waiting.
ANSWERED = select(MeetingRsvp.person_id).where(
    MeetingRsvp.meeting_id == bindparam("r_meeting"), MeetingRsvp.answer != RSVP_NO
)
_ANY_ANSWER = select(MeetingRsvp.person_id).where(MeetingRsvp.meeting_id == bindparam("r_meeting"))
_ONE = select(Person.id).where(Person.id == bindparam("r_person"))


def going_to(meeting: Meeting) -> Recipients:
    return Recipients(GOING_TO, {"r_meeting": meeting.id})


def to_remind(meeting: Meeting) -> Recipients:
    """Those going to the meeting who want its reminders."""
    return Recipients(_TO_REMIND, {"r_meeting": meeting.id})


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


async def answer_counts(ctx: Context, meeting: Meeting) -> dict[str, int]:
    """How many gave each answer to the meeting (absent: none)."""
    return {
        key: value
        for key, value in await ctx.session.execute(
            select(MeetingRsvp.answer, func.count())
            .where(MeetingRsvp.meeting_id == meeting.id)
            .group_by(MeetingRsvp.answer)
        )
    }


async def later_in_series(ctx: Context, meeting: Meeting) -> list[Meeting]:
    """The meetings of its series after this one, not cancelled, soonest first."""
    return list(
        await ctx.session.scalars(
            select(Meeting)
            .where(
                Meeting.series_id == meeting.series_id,
                Meeting.id != meeting.id,
                Meeting.starts_at > meeting.starts_at,
                Meeting.cancelled_at.is_(None),
            )
            .order_by(Meeting.starts_at)
        )
    )


# --- /meetings ---------------------------------------------------------------------

PAST_LIMIT = 10  # the past meetings /meetings past shows


async def coming_meetings(
    ctx: Context, where: list[ColumnElement[bool]], limit: int
) -> list[Row[Meeting, Branch]]:
    """The meetings still to come that match ``where``, each with its branch, soonest
    first, at most ``limit``."""
    return list(
        await ctx.session.execute(
            select(Meeting, Branch)
            .join(Branch, Branch.id == Meeting.branch_id)
            .where(Meeting.starts_at > ctx.now, *where)
            .order_by(Meeting.starts_at, Meeting.id)
            .limit(limit)
        )
    )


async def my_answers(ctx: Context, person: Person, ids: list[int]) -> dict[int, str]:
    """The person's answer to each of the meetings ``ids`` they answered."""
    return {
        key: value
        for key, value in await ctx.session.execute(
            select(MeetingRsvp.meeting_id, MeetingRsvp.answer).where(
                MeetingRsvp.meeting_id.in_(ids), MeetingRsvp.person_id == person.id
            )
        )
    }


async def past_meetings(ctx: Context, where: list[ColumnElement[bool]]) -> list[Meeting]:
    return list(
        await ctx.session.scalars(
            select(Meeting)
            .where(Meeting.starts_at <= ctx.now, *where)
            .order_by(Meeting.starts_at.desc(), Meeting.id.desc())
            .limit(PAST_LIMIT)
        )
    )


# --- who came ------------------------------------------------------------------------


async def marked_ids(ctx: Context, meeting: Meeting) -> set[int]:
    return set(
        await ctx.session.scalars(
            select(MeetingAttendance.person_id).where(MeetingAttendance.meeting_id == meeting.id)
        )
    )


def on_list(meeting: Meeting) -> ColumnElement[bool]:
    """Who may be marked as there: the branch's people, anyone who answered (an
    assembly is open to residents) and anyone already marked."""
    answered_any = select(MeetingRsvp.person_id).where(MeetingRsvp.meeting_id == meeting.id)
    marked = select(MeetingAttendance.person_id).where(MeetingAttendance.meeting_id == meeting.id)
    return (
        (Person.branch_id == meeting.branch_id)
        | Person.id.in_(answered_any)
        | Person.id.in_(marked)
    )


async def door_list(ctx: Context, meeting: Meeting, limit: int) -> tuple[list[Person], int]:
    """The door list: those marked or who answered Going or Maybe first, then the
    rest of the branch, each by name; at most ``limit`` of them, and how many in all."""
    expected = select(MeetingRsvp.person_id).where(
        MeetingRsvp.meeting_id == meeting.id,
        MeetingRsvp.answer.in_((RSVP_GOING, RSVP_MAYBE, RSVP_WAITING)),
    )
    marked = select(MeetingAttendance.person_id).where(MeetingAttendance.meeting_id == meeting.id)
    first = case((Person.id.in_(marked) | Person.id.in_(expected), 0), else_=1)
    people = list(
        await ctx.session.scalars(
            select(Person)
            .where(on_list(meeting))
            .order_by(first, Person.display_name, Person.id)
            .limit(limit)
        )
    )
    total = await ctx.session.scalar(
        select(func.count()).select_from(Person).where(on_list(meeting))
    )
    return people, total or 0


async def may_mark(ctx: Context, meeting: Meeting, person: Person) -> bool:
    found = await ctx.session.scalar(
        select(Person.id).where(Person.id == person.id, on_list(meeting))
    )
    return found is not None


async def toggle_attendance(ctx: Context, meeting: Meeting, person: Person) -> None:
    row = await ctx.session.scalar(
        select(MeetingAttendance).where(
            MeetingAttendance.meeting_id == meeting.id, MeetingAttendance.person_id == person.id
        )
    )
    if row is not None:
        await ctx.session.delete(row)
    else:
        ctx.session.add(
            MeetingAttendance(
                meeting_id=meeting.id,
                person_id=person.id,
                marked_by=ctx.person.id if ctx.person else None,
                at=ctx.now,
            )
        )
    await ctx.session.flush()


async def going_now(ctx: Context, person: Person) -> list[Meeting]:
    """Meetings begun in the last day, not cancelled, that the person answered Going
    (``rules.running`` says which are still under way)."""
    return list(
        await ctx.session.scalars(
            select(Meeting)
            .join(MeetingRsvp, MeetingRsvp.meeting_id == Meeting.id)
            .where(
                MeetingRsvp.person_id == person.id,
                MeetingRsvp.answer == RSVP_GOING,
                Meeting.cancelled_at.is_(None),
                Meeting.starts_at <= ctx.now,
                Meeting.starts_at > ctx.now - dt.timedelta(days=1),
            )
            .order_by(Meeting.starts_at, Meeting.id)
        )
    )


async def check_in(ctx: Context, meeting: Meeting, person: Person) -> bool:
    """Record that the person came (by themselves); False if they already were."""
    if person.id in await marked_ids(ctx, meeting):
        return False
    ctx.session.add(
        MeetingAttendance(meeting_id=meeting.id, person_id=person.id, marked_by=None, at=ctx.now)
    )
    await ctx.session.flush()
    return True


async def draft_of(session: AsyncSession, owner_key: str, now: dt.datetime) -> Prompt | None:
    """The meeting someone is arranging step by step (their newest open draft)."""
    return await session.scalar(
        select(Prompt)
        .where(
            Prompt.owner_key == owner_key,
            Prompt.kind == "mtdraft",
            Prompt.used_at.is_(None),
            Prompt.expires_at > now,
        )
        .order_by(Prompt.id.desc())
        .limit(1)
    )
