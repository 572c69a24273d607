"""Calendar files: what the bot writes, read back as a calendar app reads it."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from icalendar import Calendar

from bot.lib.ics import Event, calendar_file, uid

UTC = dt.UTC
STAMP = dt.datetime(2026, 11, 20, 9, 0, tzinfo=UTC)


def read(content: bytes) -> tuple[Calendar, list[Calendar]]:
    calendar = Calendar.from_ical(content)
    return calendar, list(calendar.walk("VEVENT"))


def test_an_event_reads_back_with_everything_it_says() -> None:
    starts = dt.datetime(2026, 12, 3, 19, 0, tzinfo=UTC)
    event = Event(
        uid=uid("meeting", 7),
        summary="Branch call: budget, and the leaflets",
        starts=starts,
        ends=starts + dt.timedelta(hours=2),
        location="Library, Market St; room 2",
        url="https://meet.example.org/abc",
        description="Levellers: Frome\nBring a friend",
        sequence=3,
    )
    calendar, [vevent] = read(calendar_file([event], product="meetings", stamp=STAMP))
    assert str(calendar["prodid"]) == "-//Assembly Organiser//meetings//EN"
    assert str(calendar["version"]) == "2.0"
    assert str(vevent["uid"]) == "meeting-7@assembly-organiser"
    assert str(vevent["summary"]) == "Branch call: budget, and the leaflets"
    assert vevent.decoded("dtstart") == starts
    assert vevent.decoded("dtend") == dt.datetime(2026, 12, 3, 21, 0, tzinfo=UTC)
    assert vevent.decoded("dtstamp") == STAMP
    assert str(vevent["location"]) == "Library, Market St; room 2"
    assert str(vevent["url"]) == "https://meet.example.org/abc"
    assert str(vevent["description"]) == "Levellers: Frome\nBring a friend"
    assert int(vevent["sequence"]) == 3
    assert "status" not in vevent


def test_what_an_event_does_not_say_is_left_out() -> None:
    starts = dt.datetime(2026, 11, 28, 10, 30, tzinfo=UTC)
    event = Event(uid("canvass", 1), "Canvassing", starts, starts + dt.timedelta(hours=2))
    content = calendar_file([event], product="canvassing", stamp=STAMP)
    _, [vevent] = read(content)
    for name in ("location", "url", "description", "sequence", "status"):
        assert name not in vevent, name
    assert b"DTSTART:20261128T103000Z" in content


def test_a_cancelled_event_says_so() -> None:
    starts = dt.datetime(2026, 12, 3, 19, 0, tzinfo=UTC)
    event = Event(uid("meeting", 2), "Call", starts, starts, sequence=1, cancelled=True)
    _, [vevent] = read(calendar_file([event], product="meetings", stamp=STAMP))
    assert str(vevent["status"]) == "CANCELLED" and int(vevent["sequence"]) == 1


def test_local_times_are_written_as_the_same_instant_in_utc() -> None:
    london = ZoneInfo("Europe/London")
    starts = dt.datetime(2027, 4, 1, 19, 0, tzinfo=london)  # 19:00 summer time
    event = Event(uid("meeting", 3), "Call", starts, starts + dt.timedelta(hours=1))
    content = calendar_file([event], product="meetings", stamp=STAMP)
    _, [vevent] = read(content)
    assert vevent.decoded("dtstart") == dt.datetime(2027, 4, 1, 18, 0, tzinfo=UTC)
    assert b"DTSTART:20270401T180000Z" in content


def test_several_events_go_in_one_file_and_long_text_survives_folding() -> None:
    starts = dt.datetime(2026, 12, 3, 19, 0, tzinfo=UTC)
    long = "Réunion de la section — " * 10
    events = [
        Event(uid("meeting", n), long if n == 1 else f"Call {n}", starts, starts) for n in (1, 2, 3)
    ]
    content = calendar_file(events, product="meetings", stamp=STAMP)
    assert max(len(line) for line in content.split(b"\r\n")) <= 75
    _, vevents = read(content)
    assert [str(v["uid"]) for v in vevents] == [uid("meeting", n) for n in (1, 2, 3)]
    assert str(vevents[0]["summary"]) == long


def test_a_time_without_a_zone_is_refused() -> None:
    naive = dt.datetime(2026, 12, 3, 19, 0)
    with pytest.raises(ValueError, match="timezone-aware"):
        calendar_file([Event("x", "Call", naive, naive)], product="meetings", stamp=STAMP)
