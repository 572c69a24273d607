"""Branch meetings: an online call, a face-to-face meeting, or a local people's assembly.

Times are typed in the branch's own time zone (``bot.lib.when``) and kept in UTC. A
recurring series is one row per occurrence, sharing ``series_id`` (the first one's
id), each at the same local wall time across clock changes (``bot.lib.when.recurrences``).

Who may answer (and fetch the calendar file): for an online call or a face-to-face
meeting, the people of the branch (members and supporters) and the organisers and
admins over it; a people's assembly is open to every resident, so to anyone who has
agreed to the privacy notice ("guests"), in a branch or not.

Capacity: Going when the meeting is full puts a person on the waiting list; when
someone going changes to Maybe or Can't, the first waiting (first come, first served)
is let in and told. The meeting's row is locked while places are counted, so two people
taking the last place at once cannot both get it.

Reminders: see bot.meetings.reminders.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence

from sqlalchemy import bindparam, select

from bot.kernel.actions import Action
from bot.kernel.context import Context
from bot.kernel.i18n import N_, Translator, format_local, translator
from bot.kernel.messages import Button
from bot.kernel.outbox import Recipients, enqueue, enqueue_for
from bot.kernel.permissions import holds_at_branch
from bot.kernel.waiting_list import WaitingList
from bot.lib.ics import Event, uid
from bot.lib.when import WhenError
from storage.models import Branch, BranchChat, Meeting, MeetingRsvp, Person
from storage.vocabulary import (
    ASSEMBLY,
    IN_PERSON,
    ONLINE,
    ORGANISER,
    RSVP_GOING,
    RSVP_MAYBE,
    RSVP_NO,
    RSVP_WAITING,
)

MINUTES_LIMIT = 2000
ANSWERS = (RSVP_GOING, RSVP_MAYBE, RSVP_NO)

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


# --- words -------------------------------------------------------------------------


def kind_label(t: Translator, kind: str) -> str:
    labels = {
        ONLINE: t("online call"),
        IN_PERSON: t("face-to-face meeting"),
        ASSEMBLY: t("people's assembly"),
    }
    return labels.get(kind, kind)


def default_title(t: Translator, kind: str, branch: Branch) -> str:
    if kind == ONLINE:
        return t("{branch} branch call", branch=branch.name)
    if kind == ASSEMBLY:
        return t("{branch} people's assembly", branch=branch.name)
    return t("{branch} branch meeting", branch=branch.name)


def where_line(t: Translator, kind: str, place: str) -> str:
    if kind == ONLINE:
        return t("Link: {link}", link=place)
    return t("Place: {place}", place=place)


def answer_buttons(t: Translator, meeting_id: int) -> list[list[Button]]:
    mid = str(meeting_id)
    return [
        [
            Button(t("Going"), Action.MEETING_GOING, mid),
            Button(t("Maybe"), Action.MEETING_MAYBE, mid),
            Button(t("Can't"), Action.MEETING_NO, mid),
        ],
        [Button(t("Calendar (.ics)"), Action.MEETING_ICS, mid)],
    ]


def when_problem(t: Translator, error: WhenError) -> str:
    """A friendly sentence for a date or time that ``read_when`` refused."""
    p = error.params
    examples = "2026-12-03 19:00, tomorrow 19:00, next tue 19:00"
    if error.reason == "unreadable" and p.get("word"):
        return t(
            "I could not read “{word}” as part of a date or time. Try, for example: {examples}.",
            word=p["word"],
            examples=examples,
        )
    if error.reason == "no_time":
        return t("Please add the time of day, for example 19:00 or 7pm.")
    if error.reason == "ambiguous":
        return t(
            "“{text}” could be read two ways; please write the date as 2026-12-03 or 3 Dec.",
            text=p.get("text", ""),
        )
    if error.reason == "no_such_date":
        year = p.get("year")
        date = f"{p.get('day')}/{p.get('month')}" + (f"/{year}" if year else "")
        return t("There is no such day as {date}.", date=date)
    if error.reason == "no_such_time":
        return t(
            "There is no such time as {time}.", time=f"{p.get('hour')}:{p.get('minute', 0):02}"
        )
    moment = p.get("local")
    shown = format_local(moment, "datetime", t.locale) if isinstance(moment, dt.datetime) else ""
    if error.reason == "past":
        return t("{when} has already passed; please give a time still to come.", when=shown)
    if error.reason == "too_far":
        return t(
            "{when} is more than {years} years ahead; please choose a nearer date.",
            when=shown,
            years=p.get("years", 2),
        )
    if error.reason == "gap":
        return t(
            "{when} does not exist in {tz}: the clocks go forward then. Please choose "
            "another time.",
            when=shown,
            tz=p.get("tz", ""),
        )
    return t("Please give a date and time, for example: {examples}.", examples=examples)


# --- answers -----------------------------------------------------------------------


async def may_answer(ctx: Context, meeting: Meeting, branch: Branch) -> bool:
    """People of the branch and its organisers (and admins above); anyone who agreed
    to the privacy notice for an assembly."""
    person = ctx.person
    if person is None:
        return False
    if meeting.kind == ASSEMBLY or person.branch_id == branch.id:
        return True
    return holds_at_branch(await ctx.grants(), ORGANISER, branch)


async def answer(
    ctx: Context, meeting: Meeting, branch: Branch, person_id: int, wanted: str
) -> str:
    """Record the person's answer; their answer now. Going to a full meeting is
    waiting; leaving a place lets the first waiting in (and tells them)."""
    await ctx.session.refresh(meeting, with_for_update=True)
    row = await ctx.session.scalar(
        select(MeetingRsvp).where(
            MeetingRsvp.meeting_id == meeting.id, MeetingRsvp.person_id == person_id
        )
    )
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
        await tell(
            ctx,
            one(person_id),
            f"mtup:{meeting.id}:{person_id}:{ctx.now.isoformat()}",
            promoted_notice(meeting, branch),
            lambda t: answer_buttons(t, meeting.id),
        )
    return promoted


# --- telling people ----------------------------------------------------------------


def meeting_notice(meeting: Meeting, branch: Branch, sentence: str) -> Callable[[Translator], str]:
    """A notice about a meeting in each reader's language: ``sentence`` (marked with
    ``N_``, naming ``{title}`` and ``{when}``), then where it is. The meeting's
    fields are read now, so the notice renders after the session has moved on."""
    title, kind, place, at, tz = (
        meeting.title,
        meeting.kind,
        meeting.place,
        meeting.starts_at,
        branch.timezone,
    )
    return lambda t: (
        t(sentence, title=title, when=format_local(at, "datetime_zone", t.locale, tz=tz))
        + "\n"
        + where_line(t, kind, place)
    )


def promoted_notice(meeting: Meeting, branch: Branch) -> Callable[[Translator], str]:
    return meeting_notice(
        meeting, branch, N_("A place opened up: you're now going to {title}, {when}.")
    )


async def tell(
    ctx: Context,
    who: Recipients,
    key: str,
    render: Callable[[Translator], str],
    buttons: Callable[[Translator], Sequence[Sequence[Button]]] | None = None,
) -> None:
    """Queue a message for each of ``who`` but the person being answered."""
    await enqueue_for(
        ctx.session,
        who,
        key=key,
        render=render,
        now=ctx.now,
        exclude_id=ctx.person.id if ctx.person is not None else None,
        buttons=buttons,
    )


async def announce(
    ctx: Context,
    branch: Branch,
    key: str,
    render: Callable[[Translator], str],
    buttons: Callable[[Translator], Sequence[Sequence[Button]]],
) -> None:
    """Like ``bot.kernel.effects.announce``, with buttons: to the branch's linked group chats
    if it has any (in the party's language), else to each of its people privately."""
    chats = list(
        await ctx.session.scalars(select(BranchChat.id).where(BranchChat.branch_id == branch.id))
    )
    if not chats:
        await tell(ctx, Recipients(_BRANCH_PEOPLE, {"r_branch": branch.id}), key, render, buttons)
        return
    t = translator(ctx.settings.default_locale)
    for chat_id in chats:
        await enqueue(
            ctx.session,
            key=f"{key}:chat{chat_id}",
            text=render(t),
            now=ctx.now,
            branch_chat_id=chat_id,
            buttons=buttons(t),
        )


# --- calendar ----------------------------------------------------------------------


def calendar_event(meeting: Meeting, branch: Branch, party: str) -> Event:
    """The meeting as a calendar app shows it (see ``bot.lib.ics``): its UID stays the
    same through edits and its SEQUENCE counts them, so an app updates the event."""
    return Event(
        uid=uid("meeting", meeting.id),
        summary=meeting.title,
        starts=meeting.starts_at,
        ends=meeting.starts_at + dt.timedelta(minutes=meeting.minutes_long or 120),
        sequence=max(meeting.version - 1, 0),
        location=meeting.place,
        url=meeting.place if meeting.kind == ONLINE else None,
        description=f"{party}: {branch.name}",
        cancelled=meeting.cancelled_at is not None,
    )
