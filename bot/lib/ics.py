"""Calendar files (iCalendar, ``.ics``) that any calendar app opens: one builder
for every feature that offers one (a meeting, a canvassing session).

An event's UID names what it is (``meeting-12@assembly-organiser``) and stays
the same through edits, so an app that already has the event updates it; its
SEQUENCE counts the edits. Times are written in UTC; the app shows them in its
own zone. The text is escaped and folded by the ``icalendar`` package.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

from icalendar import Calendar
from icalendar import Event as VEvent

ICS_TYPE = "text/calendar"
DOMAIN = "assembly-organiser"


def uid(kind: str, row_id: int) -> str:
    """``meeting-12@assembly-organiser``: the same event whenever it is exported."""
    return f"{kind}-{row_id}@{DOMAIN}"


@dataclass(frozen=True, slots=True)
class Event:
    """One event as a calendar app shows it. ``starts`` and ``ends`` are aware."""

    uid: str
    summary: str
    starts: dt.datetime
    ends: dt.datetime
    location: str | None = None
    url: str | None = None
    description: str | None = None
    sequence: int | None = None  # how many times it was changed (None: not said)
    cancelled: bool = False


def calendar_file(events: Iterable[Event], *, product: str, stamp: dt.datetime) -> bytes:
    """The events as one ``.ics`` file. ``product`` names what made it
    (``meetings``), ``stamp`` is when (each event's DTSTAMP)."""
    calendar = Calendar()
    calendar.add("prodid", f"-//Assembly Organiser//{product}//EN")
    calendar.add("version", "2.0")
    for event in events:
        calendar.add_component(_vevent(event, stamp))
    return calendar.to_ical()


def _vevent(event: Event, stamp: dt.datetime) -> VEvent:
    if event.starts.tzinfo is None or event.ends.tzinfo is None:
        raise ValueError("calendar times must be timezone-aware")
    out = VEvent()
    out.add("uid", event.uid)
    out.add("summary", event.summary)
    out.add("dtstart", event.starts.astimezone(dt.UTC))
    out.add("dtend", event.ends.astimezone(dt.UTC))
    out.add("dtstamp", stamp.astimezone(dt.UTC))
    if event.sequence is not None:
        out.add("sequence", event.sequence)
    if event.location is not None:
        out.add("location", event.location)
    if event.url is not None:
        out.add("url", event.url)
    if event.description is not None:
        out.add("description", event.description)
    if event.cancelled:
        out.add("status", "CANCELLED")
    return out
