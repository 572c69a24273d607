"""Meetings' words: the kinds, default titles, where a meeting is, its answer
buttons, a friendly sentence for a date that could not be read, the notices about
a meeting (new, moved, renamed, cancelled, a place opened up), the rows of
/meetings, and the meeting as a calendar app shows it."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence

from bot.kernel.actions import Action
from bot.kernel.i18n import N_, Translator, format_local
from bot.kernel.messages import Button
from bot.kernel.waiting_list import is_full, places_left
from bot.lib.ics import Event, uid
from bot.lib.when import WhenError
from storage.models import Branch, Meeting
from storage.vocabulary import (
    ASSEMBLY,
    IN_PERSON,
    ONLINE,
    RSVP_GOING,
    RSVP_MAYBE,
    RSVP_NO,
    RSVP_WAITING,
)


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


# --- notices -----------------------------------------------------------------------


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
        t(sentence, title=title, when=format_local(at, "datetime_zone", t, tz=tz))
        + "\n"
        + where_line(t, kind, place)
    )


def promoted_notice(meeting: Meeting, branch: Branch) -> Callable[[Translator], str]:
    return meeting_notice(
        meeting, branch, N_("A place opened up: you're now going to {title}, {when}.")
    )


def moved_notice(meeting: Meeting, branch: Branch) -> Callable[[Translator], str]:
    return meeting_notice(meeting, branch, N_("{title} has moved: it is now {when}."))


def new_place_notice(meeting: Meeting, branch: Branch) -> Callable[[Translator], str]:
    return meeting_notice(meeting, branch, N_("{title}, {when}, has a new place or link."))


def renamed_notice(meeting: Meeting, branch: Branch, title: str) -> Callable[[Translator], str]:
    old, at, tz = meeting.title, meeting.starts_at, branch.timezone
    return lambda t: t(
        "{old}, {when}, is now called {title}.",
        old=old,
        when=format_local(at, "datetime_zone", t, tz=tz),
        title=title,
    )


def cancelled_notice(meeting: Meeting, branch: Branch) -> Callable[[Translator], str]:
    title, kind, at, tz = meeting.title, meeting.kind, meeting.starts_at, branch.timezone
    return lambda t: t(
        "Cancelled: {title} ({kind}), {when}, will not take place.",
        title=title,
        kind=kind_label(t, kind),
        when=format_local(at, "datetime_zone", t, tz=tz),
    )


def series_line(t: Translator, rule: str, times: Sequence[dt.datetime], tz: str) -> str:
    last = format_local(times[-1], "date", t, tz=tz)
    hour = format_local(times[0], "time", t, tz=tz)
    if rule == "monthly":
        return t(
            "Monthly, {n} times, the last on {last} (always {time} {tz} time).",
            n=len(times),
            last=last,
            time=hour,
            tz=tz,
        )
    return t(
        "Weekly, {n} times, the last on {last} (always {time} {tz} time).",
        n=len(times),
        last=last,
        time=hour,
        tz=tz,
    )


def announcement(
    first: Meeting, branch: Branch, rule: str, times: list[dt.datetime]
) -> Callable[[Translator], str]:
    """The branch's message about a new meeting (or series), in each reader's language."""
    kind, title, place, at, capacity = (
        first.kind,
        first.title,
        first.place,
        first.starts_at,
        first.capacity,
    )
    name, tz = branch.name, branch.timezone

    def render(t: Translator) -> str:
        lines = [
            t(
                "New {kind} of the {branch} branch: {title}",
                kind=kind_label(t, kind),
                branch=name,
                title=title,
            ),
            format_local(at, "datetime_zone", t, tz=tz),
            where_line(t, kind, place),
        ]
        if kind == ASSEMBLY:
            lines.append(t("Open to everyone living in the area: bring your neighbours!"))
        if capacity:
            lines.append(t.plural("{n} place", "{n} places", capacity))
        if len(times) > 1:
            lines.append(series_line(t, rule, times, tz))
            lines.append(t("Answer for each date under /meetings."))
        lines.append(t("Will you come?"))
        return "\n".join(lines)

    return render


# --- /meetings ---------------------------------------------------------------------


def places_note(t: Translator, meeting: Meeting, going: int) -> str:
    left = places_left(meeting.capacity, going)
    if left is None:
        return ""
    if left == 0:
        return t("full: waiting list")
    return t.plural("{n} place left", "{n} places left", left)


def my_answer_note(t: Translator, answer_: str | None) -> str:
    labels = {
        RSVP_GOING: t("you're going ✓"),
        RSVP_MAYBE: t("you said maybe"),
        RSVP_NO: t("you said you can't come"),
        RSVP_WAITING: t("you're on the waiting list"),
    }
    return labels.get(answer_ or "", "")


def answer_row(
    t: Translator, n: int, meeting: Meeting, going: int, my_answer: str | None
) -> tuple[Button, ...]:
    """The buttons of the list's meeting ``n``; Going reads "Wait for a place" when it is
    full and the person holds no place on it or its waiting list."""
    on_it = my_answer in (RSVP_GOING, RSVP_WAITING)
    full = is_full(meeting.capacity, going) and not on_it
    mid = str(meeting.id)
    return (
        Button(
            t("Wait for a place {n}", n=n) if full else t("Going {n}", n=n),
            Action.MEETING_GOING,
            mid,
        ),
        Button(t("Maybe {n}", n=n), Action.MEETING_MAYBE, mid),
        Button(t("Can't {n}", n=n), Action.MEETING_NO, mid),
        Button(t("Calendar {n}", n=n), Action.MEETING_ICS, mid),
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


def here_reply(
    t: Translator, meetings: Sequence[Meeting]
) -> tuple[str, tuple[tuple[Button, ...], ...]]:
    """The meetings under way that the person is going to, each with "I'm here"."""
    lines = [
        t("Under way now: {title}. Check in when you're there:", title=m.title) for m in meetings
    ]
    rows = tuple((Button(t("I'm here"), Action.MEETING_HERE, str(m.id)),) for m in meetings)
    return "\n".join(lines), rows
