"""Calendar files (iCalendar, ``.ics``) that any calendar app opens: one builder
for every feature that offers one (a meeting, a canvassing session).

An event's UID names what it is (``meeting-12@assembly-organiser``) and stays
the same through edits, so an app that already has the event updates it; its
SEQUENCE counts the edits. Times are written in UTC (the app shows them in its
own zone), or, for an event given a ``zone``, as wall times in that zone with its
VTIMEZONE in the file, so that a weekly event (``weekly_until``, an RRULE) keeps
its hour across a clock change. ``alarm_before`` adds a reminder (VALARM). The
text is escaped and folded by the ``icalendar`` package.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from zoneinfo import ZoneInfo

from icalendar import Alarm, Calendar, Timezone
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
    zone: str | None = None  # an IANA zone: times written in it, with its VTIMEZONE
    weekly_until: dt.datetime | None = None  # every week from ``starts`` until then (RRULE)
    skipped: tuple[dt.datetime, ...] = ()  # weeks of the series left out (EXDATE)
    alarm_before: dt.timedelta | None = None  # a reminder this long before (VALARM)


def calendar_file(
    events: Iterable[Event], *, product: str, stamp: dt.datetime, name: str | None = None
) -> bytes:
    """The events as one ``.ics`` file. ``product`` names what made it
    (``meetings``), ``stamp`` is when (each event's DTSTAMP); ``name`` is what a
    calendar app calls a subscribed feed."""
    calendar = Calendar()
    calendar.add("prodid", f"-//Assembly Organiser//{product}//EN")
    calendar.add("version", "2.0")
    if name is not None:
        calendar.add("x-wr-calname", name)
    events = list(events)
    zones: dict[str, tuple[int, int]] = {}
    for event in events:
        if event.zone is not None:
            last = event.weekly_until or event.ends
            low, high = zones.get(event.zone, (event.starts.year, last.year))
            zones[event.zone] = (min(low, event.starts.year), max(high, last.year))
    for zone, (low, high) in sorted(zones.items()):
        calendar.add_component(_vtimezone(zone, low - 1, high + 2))
    for event in events:
        calendar.add_component(_vevent(event, stamp))
    return calendar.to_ical()


@lru_cache(maxsize=64)
def _vtimezone(zone: str, first_year: int, last_year: int) -> Timezone:
    """The VTIMEZONE of ``zone`` with its changes over those years (the whole
    range since 1970 makes every feed heavy to build and to read)."""
    return Timezone.from_tzid(
        zone, first_date=dt.date(first_year, 1, 1), last_date=dt.date(last_year, 12, 31)
    )


def _vevent(event: Event, stamp: dt.datetime) -> VEvent:
    if event.starts.tzinfo is None or event.ends.tzinfo is None:
        raise ValueError("calendar times must be timezone-aware")
    out = VEvent()
    out.add("uid", event.uid)
    out.add("summary", event.summary)
    where = ZoneInfo(event.zone) if event.zone else dt.UTC
    out.add("dtstart", event.starts.astimezone(where))
    out.add("dtend", event.ends.astimezone(where))
    if event.weekly_until is not None:
        out.add("rrule", {"freq": "weekly", "until": event.weekly_until.astimezone(dt.UTC)})
    for skipped in event.skipped:
        out.add("exdate", skipped.astimezone(where))
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
    if event.alarm_before is not None:
        alarm = Alarm()
        alarm.add("action", "DISPLAY")
        alarm.add("description", event.summary)
        alarm.add("trigger", -event.alarm_before)
        out.add_component(alarm)
    return out
