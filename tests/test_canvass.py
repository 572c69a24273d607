"""Weekly canvassing: sessions in local time, sign-ups, the waiting list, calendars."""

from __future__ import annotations

import asyncio
import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from icalendar import Calendar
from sqlalchemy import select

from bot.canvassing.rules import WEEKS, by_week, daily_starts
from storage.models import CanvassResult, CanvassSession, CanvassSignup, CanvassSlot
from tests.helpers import Chat, snapshot, text


async def sessions(chat: Chat) -> list[CanvassSession]:
    async with chat.core.db.transaction() as session:
        return list(
            await session.scalars(select(CanvassSession).order_by(CanvassSession.starts_at))
        )


async def test_an_organiser_schedules_and_members_sign_up(demo: Chat) -> None:
    replies = await demo.say("Alice", "/canvass schedule saturday 10:30 Market Cross 8")
    # 2026-11-26 is a Thursday: the first session is Saturday 28 November.
    assert replies[0].text == (
        "Weekly canvassing for Frome: every Saturday at 10:30 (Europe/London time), meeting "
        "at Market Cross; 8 places. First session: Sat 28 Nov 10:30."
    )
    listing = (await demo.say("Carol", "/canvass"))[0]
    assert "1. Sat 28 Nov 10:30 · Market Cross · 8 places left" in listing.text
    replies = await demo.press("Carol", "Sign up 1")
    assert replies[0].text == "You're signed up ✓ for Sat 28 Nov 10:30 at Market Cross."
    listing = (await demo.say("Carol", "/canvass"))[0]
    assert "7 places left · you're going ✓" in listing.text
    assert [b.label for b in listing.button_list()] == ["Cancel 1", "Calendar 1"]


async def test_a_full_session_has_a_waiting_list_and_a_cancellation_promotes(demo: Chat) -> None:
    await demo.say("Alice", "/canvass schedule sat 10:30 Market Cross 1")
    await demo.say("Carol", "/canvass")
    await demo.press("Carol", "Sign up 1")
    listing = (await demo.say("Dan", "/canvass"))[0]
    assert "0 places left" in listing.text
    replies = await demo.press("Dan", "Wait for a place 1")
    assert "waiting list" in replies[0].text
    await demo.say("Carol", "/canvass")
    replies = await demo.press("Carol", "Cancel 1")
    assert replies[0].text == "Cancelled: you're no longer down for Sat 28 Nov 10:30."
    told = [t for n, t in await demo.outbox() if n == "Dan"]
    assert told == [
        "A place opened up: you're now going canvassing Sat 28 Nov 10:30 at Market Cross."
    ]
    assert "you're going ✓" in (await demo.say("Dan", "/canvass"))[0].text


async def test_two_people_taking_the_last_place_at_once_one_gets_it(demo: Chat) -> None:
    await demo.say("Alice", "/canvass schedule saturday 10:30 Market Cross 1")
    await demo.say("Carol", "/canvass")
    await demo.say("Dan", "/canvass")
    carol, dan = demo.button("Carol", "Sign up 1"), demo.button("Dan", "Sign up 1")
    await asyncio.gather(demo.press("Carol", carol), demo.press("Dan", dan))
    async with demo.core.db.transaction() as session:
        statuses = sorted(s.status for s in await session.scalars(select(CanvassSignup)))
    assert statuses == ["going", "waiting"]


async def test_a_second_press_of_sign_up_keeps_the_place_or_the_wait(demo: Chat) -> None:
    await demo.say("Alice", "/canvass schedule saturday 10:30 Market Cross 1")
    await demo.say("Carol", "/canvass")
    await demo.say("Dan", "/canvass")
    carol, dan = demo.button("Carol", "Sign up 1"), demo.button("Dan", "Sign up 1")
    for _ in range(2):  # the button pressed again, from the same old message
        assert "You're signed up ✓" in (await demo.press("Carol", carol))[0].text
    for _ in range(2):
        assert "waiting list" in (await demo.press("Dan", dan))[0].text
    async with demo.core.db.transaction() as session:
        statuses = sorted(s.status for s in await session.scalars(select(CanvassSignup)))
    assert statuses == ["going", "waiting"]


async def test_the_local_time_holds_across_the_clock_change(demo: Chat) -> None:
    demo.clock.set(dt.datetime(2026, 10, 19, 12, 0, tzinfo=dt.UTC))  # a Monday, in BST
    await demo.say("Alice", "/canvass schedule saturday 10:30 Market Cross")
    demo.clock.set(dt.datetime(2026, 10, 22, 12, 0, tzinfo=dt.UTC))
    await demo.say("Carol", "/canvass")
    demo.clock.set(dt.datetime(2026, 10, 29, 12, 0, tzinfo=dt.UTC))  # after 25 October
    listing = (await demo.say("Carol", "/canvass"))[0]
    assert "Sat 31 Oct 10:30" in listing.text
    starts = [s.starts_at for s in await sessions(demo)]
    assert starts == [
        dt.datetime(2026, 10, 24, 9, 30, tzinfo=dt.UTC),  # 10:30 BST
        dt.datetime(2026, 10, 31, 10, 30, tzinfo=dt.UTC),  # 10:30 GMT
    ]


async def test_listing_twice_creates_each_session_once(demo: Chat) -> None:
    await demo.say("Alice", "/canvass schedule saturday 10:30 Market Cross")
    await demo.say("Carol", "/canvass")
    await demo.say("Dan", "/canvass")
    assert len(await sessions(demo)) == 1


async def test_each_session_offers_a_calendar_file(demo: Chat) -> None:
    await demo.say("Alice", "/canvass schedule saturday 10:30 Market Cross, BA11 1AA")
    await demo.say("Carol", "/canvass")
    reply = (await demo.press("Carol", "Calendar 1"))[0]
    assert reply.file is not None and reply.file.mime_type == "text/calendar"
    body = reply.file.content.decode()
    assert "DTSTART:20261128T103000Z" in body
    assert "LOCATION:Market Cross\\, BA11 1AA" in body
    [event] = Calendar.from_ical(reply.file.content).walk("VEVENT")  # as a calendar app reads it
    assert event.decoded("dtstart") == dt.datetime(2026, 11, 28, 10, 30, tzinfo=dt.UTC)
    assert str(event["location"]) == "Market Cross, BA11 1AA"


async def test_bad_schedules_are_refused_and_change_nothing(demo: Chat) -> None:
    before = await snapshot(demo.core.db)
    for args in (
        "funday 10:30 Cross",
        "saturday 25:00 Cross",
        "saturday 10:30",
        "",
        "sat 10:30 X 0",
        "saturday 10:30 Market Cross -5",  # never a meeting point "Market Cross -5"
        "saturday 10:30 Market Cross 3.5",
        "saturday 10:30 Market Cross +0",
    ):
        replies = await demo.say("Alice", f"/canvass schedule {args}")
        assert replies[0].error, args
    assert (await demo.say("Carol", "/canvass schedule saturday 10:30 Cross"))[0].error
    assert (await demo.say("Carol", "/canvass frobnicate"))[0].error
    after = await snapshot(demo.core.db)
    for table in ("canvass_slots", "canvass_sessions", "canvass_signups", "outbox"):
        assert after[table] == before[table] == [], table
    refused = [r for r in after["audit_log"] if "refused" in r]
    assert len(refused) == 1 and "canvass.schedule" in refused[0]  # Carol's attempt


async def test_removing_a_weekly_session_tells_those_signed_up(demo: Chat) -> None:
    await demo.say("Alice", "/canvass schedule saturday 10:30 Market Cross")
    await demo.say("Carol", "/canvass")
    await demo.press("Carol", "Sign up 1")
    await demo.say("Alice", "/canvass slots")
    replies = await demo.press("Alice", "Remove 1")
    assert "no more canvassing Saturday at 10:30" in replies[0].text
    assert ("Carol", "The canvassing session Sat 28 Nov 10:30 is cancelled.") in await demo.outbox()
    assert "No canvassing" in text(await demo.say("Carol", "/canvass"))


async def test_reminders_can_be_turned_off_and_on(demo: Chat) -> None:
    assert "are on" in (await demo.say("Carol", "/reminders"))[0].text
    await demo.say("Carol", "/reminders off")
    person = await demo.person("Carol")
    assert person is not None and not person.reminders
    await demo.say("Carol", "/reminders on")
    person = await demo.person("Carol")
    assert person is not None and person.reminders


async def test_canvassing_needs_a_branch(chat: Chat) -> None:
    await chat.signup("Sam")
    replies = await chat.say("Sam", "/canvass")
    assert replies[0].error and "Join a branch first" in replies[0].text


async def _a_past_session(demo: Chat) -> None:
    await demo.say("Alice", "/canvass schedule saturday 10:30 Market Cross")
    await demo.say("Carol", "/canvass")
    await demo.press("Carol", "Sign up 1")
    demo.clock.set(dt.datetime(2026, 11, 28, 13, 0, tzinfo=dt.UTC))  # Saturday afternoon


async def test_an_organiser_logs_totals_and_issues_only(demo: Chat) -> None:
    await _a_past_session(demo)
    replies = await demo.say("Alice", "/canvass log 120 35 housing Buses #housing")
    assert replies[0].text == (
        "Logged for Sat 28 Nov 10:30: 1 out, 120 doors, 35 conversations. "
        "Issues raised: housing, buses."
    )
    undo = demo.button("Alice", "Undo")
    again = await demo.say("Alice", "/canvass log 10 2")
    assert again[0].error and "no session" in again[0].text
    await demo.press("Alice", undo)
    assert not (await demo.say("Alice", "/canvass log 100 20"))[0].error


async def test_bad_results_are_refused(demo: Chat) -> None:
    await _a_past_session(demo)
    for args in ("", "120", "12 35", "x y", "120 35 <script>", "999999 1"):
        replies = await demo.say("Alice", f"/canvass log {args}")
        assert replies[0].error, args
    assert (await demo.say("Carol", "/canvass log 120 35"))[0].error  # not an organiser


async def test_stats_are_a_chart_of_the_last_twelve_weeks(demo: Chat) -> None:
    await _a_past_session(demo)
    await demo.say("Alice", "/canvass log 120 35 housing buses")
    reply = (await demo.say("Alice", "/canvass stats"))[0]
    assert reply.text == (
        "Last 12 weeks: Frome: 1 session held, 0 people came, 120 doors, 35 conversations; "
        "core now 0. Top issues: housing (1), buses (1)."
    )
    assert reply.file is not None and reply.file.mime_type == "image/png"
    assert reply.file.content.startswith(b"\x89PNG\r\n\x1a\n") and len(reply.file.content) > 5000


def test_results_count_in_the_branchs_local_week_and_old_ones_drop_out() -> None:
    def result(doors: int, tags: list[str]) -> CanvassResult:
        return CanvassResult(people_out=2, doors=doors, conversations=1, tags=tags)

    today = dt.date(2026, 12, 2)  # a Wednesday
    utc = dt.UTC
    results = [
        # Sunday 23:30 in UTC is Monday 00:30 in Berlin: this week's, not last week's.
        (dt.datetime(2026, 11, 29, 23, 30, tzinfo=utc), result(10, ["housing"])),
        (dt.datetime(2026, 11, 25, 10, 0, tzinfo=utc), result(20, ["buses", "housing"])),
        (dt.datetime(2026, 9, 1, 10, 0, tzinfo=utc), result(99, ["old"])),  # 13 weeks back
    ]
    weeks, issues = by_week(results, "Europe/Berlin", today)
    assert len(weeks) == WEEKS and weeks[-1].start == dt.date(2026, 11, 30)
    assert [(w.start, w.doors) for w in weeks if w.doors] == [
        (dt.date(2026, 11, 23), 20),
        (dt.date(2026, 11, 30), 10),
    ]
    assert sum(w.people for w in weeks) == 4
    assert issues == {"housing": 2, "buses": 1}


def test_campaign_days_keep_local_time_and_skip_the_taken_and_the_past() -> None:
    london = ZoneInfo("Europe/London")
    now = dt.datetime(2026, 10, 23, 12, 0, tzinfo=dt.UTC)  # Friday, after 10:30 local
    weekly_saturday = dt.datetime(2026, 10, 24, 9, 30, tzinfo=dt.UTC)  # 10:30 summer time
    starts = daily_starts(dt.date(2026, 10, 26), dt.time(10, 30), london, now, {weekly_saturday})
    # Not Friday's (past) nor Saturday's (taken); 10:30 local on both sides of the
    # clocks going back on Sunday 25 October.
    assert [s.astimezone(london).strftime("%a %H:%M") for s in starts] == [
        "Sun 10:30",
        "Mon 10:30",
    ]
    assert starts[0] == dt.datetime(2026, 10, 25, 10, 30, tzinfo=dt.UTC)
    assert daily_starts(dt.date(2026, 10, 22), dt.time(10, 30), london, now, set()) == []


async def test_editing_the_meeting_point_tells_those_signed_up(demo: Chat) -> None:
    await demo.say("Alice", "/canvass schedule saturday 10:30 Market Cross")
    await demo.say("Carol", "/canvass")
    await demo.press("Carol", "Sign up 1")
    replies = await demo.say("Alice", "/canvass edit 1 point Library steps")
    assert "now Library steps" in replies[0].text
    assert ("Carol", "The canvassing session Sat 28 Nov 10:30 now meets at Library steps.") in (
        await demo.outbox()
    )
    assert "Library steps" in (await demo.say("Dan", "/canvass"))[0].text


async def test_more_places_let_people_in_from_the_waiting_list(demo: Chat) -> None:
    await demo.say("Alice", "/canvass schedule saturday 10:30 Market Cross 1")
    for name, label in (
        ("Carol", "Sign up 1"),
        ("Dan", "Wait for a place 1"),
        ("Lee", "Wait for a place 1"),
    ):
        await demo.say(name, "/canvass")
        await demo.press(name, label)
    replies = await demo.say("Alice", "/canvass edit 1 capacity 2")
    assert replies[0].text == "Capacity is now 2 places."
    told = [n for n, t in await demo.outbox() if t.startswith("A place opened up")]
    assert told == ["Dan"]  # first come, first served; Lee still waits
    for bad in ("1 capacity 0", "1 colour red", "9 point X", "x point Y", "1 point"):
        assert (await demo.say("Alice", f"/canvass edit {bad}"))[0].error, bad


async def test_promoted_twice_is_told_twice(demo: Chat) -> None:
    await demo.say("Alice", "/canvass schedule saturday 10:30 Market Cross 1")
    await demo.say("Carol", "/canvass")
    await demo.press("Carol", "Sign up 1")
    await demo.say("Dan", "/canvass")
    await demo.press("Dan", "Wait for a place 1")
    await demo.say("Carol", "/canvass")
    await demo.press("Carol", "Cancel 1")  # Dan in
    demo.clock.advance(dt.timedelta(minutes=1))
    await demo.say("Carol", "/canvass")
    await demo.press("Carol", "Wait for a place 1")
    await demo.say("Dan", "/canvass")
    await demo.press("Dan", "Cancel 1")  # Carol in
    demo.clock.advance(dt.timedelta(minutes=1))
    await demo.say("Dan", "/canvass")
    await demo.press("Dan", "Wait for a place 1")
    await demo.say("Carol", "/canvass")
    await demo.press("Carol", "Cancel 1")  # Dan in again
    told = [n for n, t in await demo.outbox() if t.startswith("A place opened up")]
    assert told.count("Dan") == 2


async def test_odd_digits_are_refused_plainly(demo: Chat) -> None:
    await demo.say("Alice", "/canvass schedule sat 10:30 Cross")
    for args in ("schedule sat 10:30 Cross ²", "edit ² point X", "edit 1 capacity ²", "log ² 1"):
        replies = await demo.say("Alice", f"/canvass {args}")
        assert "went wrong" not in replies[0].text, args


async def test_sign_up_answers_go_to_the_person_not_the_group(demo: Chat) -> None:
    await demo.say("Alice", "/canvass schedule saturday 10:30 Market Cross")
    await demo.say("Carol", "/canvass", group="-100frome")
    replies = await demo.press("Carol", "Sign up 1", group="-100frome")
    assert replies[0].private


async def test_help_shows_organisers_how_to_schedule_and_members_how_to_sign_up(demo: Chat) -> None:
    organiser = text(await demo.say("Alice", "/help"))
    member = text(await demo.say("Carol", "/help"))
    assert "/canvass schedule <weekday> <HH:MM> <meeting point> [capacity]" in organiser
    assert "/canvass — this week's canvassing sessions" in member
    assert "/canvass schedule" not in member


@pytest.mark.parametrize(
    ("args", "time", "capacity"),
    [
        ("saturday 7pm Market Cross 8", "19:00", 8),  # as /meeting reads times
        ("saturday 7 pm Market Cross", "19:00", None),
        ("saturdays 10:30 pm Market Cross", "22:30", None),
        ("saturday 10.30am Market Cross ١٢", "10:30", 12),  # Arabic-Indic digits
        ("saturday noon Market Cross", "12:00", None),
    ],
)
async def test_canvass_times_and_capacities_read_as_everywhere_else(
    demo: Chat, args: str, time: str, capacity: int | None
) -> None:
    replies = await demo.say("Alice", f"/canvass schedule {args}")
    assert not replies[0].error, replies[0].text
    assert f"every Saturday at {time}" in replies[0].text
    assert "meeting at Market Cross;" in replies[0].text or "meeting at Market Cross." in (
        replies[0].text
    )
    async with demo.core.db.transaction() as session:
        slot = await session.scalar(select(CanvassSlot))
    assert slot is not None and (slot.meeting_point, slot.capacity) == ("Market Cross", capacity)


async def test_capacity_reads_well_at_one_place_and_at_no_limit(demo: Chat) -> None:
    await demo.say("Alice", "/canvass schedule saturday 10:30 Market Cross 4")
    replies = await demo.say("Alice", "/canvass edit 1 capacity 1")
    assert replies[0].text == "Capacity is now 1 place."
    replies = await demo.say("Alice", "/canvass edit 1 capacity none")
    assert replies[0].text == "The sessions now have no limit on places."


async def test_lowering_capacity_below_the_sign_ups_says_so(demo: Chat) -> None:
    await demo.say("Alice", "/canvass schedule saturday 10:30 Market Cross 4")
    for name in ("Carol", "Dan", "Lee"):
        await demo.say(name, "/canvass")
        await demo.press(name, "Sign up 1")
    replies = await demo.say("Alice", "/canvass edit 1 capacity 2")
    assert replies[0].text.startswith("Capacity is now 2 places.")
    assert "Sat 28 Nov 10:30: 3 signed up" in replies[0].text
    listing = (await demo.say("Carol", "/canvass"))[0].text
    assert "you're going" in listing  # nobody lost their place
