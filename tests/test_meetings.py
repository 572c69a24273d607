"""Meetings: arranged in the branch's local time, answered with buttons, reminded,
edited, cancelled, held (a forming branch's first ones make it active) and minuted.

The clock stands at Thursday 2026-11-26 12:00 UTC (GMT in London).
"""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

from icalendar import Calendar
from sqlalchemy import select

from bot.meetings.reminders import remind
from storage.models import Branch, BranchTransition, Meeting, MeetingRsvp, OutboxMessage
from tests.helpers import Chat, snapshot, text

UTC = dt.UTC
LINK = "https://meet.example/abc"


async def all_meetings(chat: Chat) -> list[Meeting]:
    async with chat.core.db.transaction() as session:
        return list(await session.scalars(select(Meeting).order_by(Meeting.id)))


async def create(chat: Chat, who: str, line: str) -> Meeting:
    """``who`` sends ``/meeting <line>`` and confirms; the (first) meeting made."""
    before = {m.id for m in await all_meetings(chat)}
    replies = await chat.say(who, f"/meeting {line}")
    assert not replies[0].error, text(replies)
    confirmed = await chat.press(who, "Confirm")
    assert not confirmed[0].error, text(confirmed)
    made = [m for m in await all_meetings(chat) if m.id not in before]
    assert made, text(confirmed)
    return made[0]


async def answers(chat: Chat, meeting: Meeting) -> dict[int, str]:
    async with chat.core.db.transaction() as session:
        rows = await session.scalars(
            select(MeetingRsvp).where(MeetingRsvp.meeting_id == meeting.id)
        )
        return {r.person_id: r.answer for r in rows}


async def keys(chat: Chat, prefix: str) -> list[str]:
    async with chat.core.db.transaction() as session:
        rows = await session.scalars(
            select(OutboxMessage.key)
            .where(OutboxMessage.key.like(f"{prefix}%"))
            .order_by(OutboxMessage.id)
        )
        return list(rows)


async def person_id(chat: Chat, name: str) -> int:
    person = await chat.person(name)
    assert person is not None
    return person.id


async def branch(chat: Chat, slug: str) -> Branch:
    async with chat.core.db.transaction() as session:
        found = await session.scalar(select(Branch).where(Branch.slug == slug))
    assert found is not None
    return found


# --- arranging --------------------------------------------------------------------------


async def test_one_line_is_echoed_in_local_time_and_posted_only_on_confirm(demo: Chat) -> None:
    replies = await demo.say("Alice", f'/meeting online 2026-12-03 19:00 {LINK} "Branch call"')
    echo = replies[0].text
    assert "Online call: Branch call" in echo
    assert "Thu 3 Dec 2026, 19:00 (Europe/London)" in echo
    assert f"Link: {LINK}" in echo
    assert [b.label for b in replies[0].button_list()] == ["Confirm", "Cancel"]
    assert await all_meetings(demo) == []  # nothing before Confirm

    posted = await demo.press("Alice", "Confirm")
    [meeting] = await all_meetings(demo)
    assert meeting.starts_at == dt.datetime(2026, 12, 3, 19, 0, tzinfo=UTC)
    assert (meeting.kind, meeting.title, meeting.place) == ("online", "Branch call", LINK)
    assert f"Its id is {meeting.id}" in posted[0].text
    assert [b.data for b in posted[0].button_list()][:3] == [
        f"mtgo:{meeting.id}",
        f"mtmaybe:{meeting.id}",
        f"mtno:{meeting.id}",
    ]
    told = [(n, t) for n, t in await demo.outbox() if t.startswith("New online call")]
    assert sorted(n for n, _ in told) == ["Bob", "Carol", "Dan", "Jo", "Lee"]  # not Alice
    assert "Thu 3 Dec 2026, 19:00 (Europe/London)" in told[0][1]
    async with demo.core.db.transaction() as session:
        row = await session.scalar(select(OutboxMessage).where(OutboxMessage.key.like("mtnew:%")))
    assert row is not None
    assert [b[1:] for b in row.buttons[0]] == [
        ["mtgo", str(meeting.id)],
        ["mtmaybe", str(meeting.id)],
        ["mtno", str(meeting.id)],
    ]
    again = await demo.press("Alice", f"mtok:{demo.button('Alice', 'Going').id}")
    assert again[0].error  # a stale or used button posts nothing more


async def test_a_linked_group_chat_gets_the_meeting_with_its_buttons(demo: Chat) -> None:
    await demo.say("Alice", "/linkchat", group="-100frome")
    await demo.say("Alice", f'/meeting online 2026-12-03 19:00 {LINK} "Branch call"')
    await demo.press("Alice", "Confirm")
    [meeting] = await all_meetings(demo)
    async with demo.core.db.transaction() as session:
        rows = list(
            await session.scalars(select(OutboxMessage).where(OutboxMessage.key.like("mtnew:%")))
        )
    [to_chat] = rows  # the group hears it, not each person
    assert to_chat.branch_chat_id is not None and to_chat.person_id is None
    assert to_chat.text.startswith("New online call")
    assert [[b[0] for b in row] for row in to_chat.buttons] == [
        ["Going", "Maybe", "Can't"],
        ["Calendar (.ics)"],
    ]
    assert to_chat.buttons[0][0][1:] == ["mtgo", str(meeting.id)]


async def test_cancel_on_the_echo_posts_nothing(demo: Chat) -> None:
    await demo.say("Alice", f"/meeting online tomorrow 19:00 {LINK}")
    replies = await demo.press("Alice", "Cancel")
    assert replies[0].text == "Cancelled: nothing was posted."
    assert await all_meetings(demo) == []


async def test_guided_exchange_and_a_weekly_series(demo: Chat) -> None:
    start = await demo.say("Alice", "/meeting")
    assert "/meeting <online|in-person|assembly>" in start[0].text
    assert [b.label for b in start[0].button_list()] == [
        "Online call",
        "Face-to-face",
        "People's assembly",
    ]
    asked = await demo.press("Alice", "Face-to-face")
    assert asked[0].text.startswith("Face-to-face meeting: when is it?")
    bad = await demo.say("Alice", "/meeting next tuesday")
    assert bad[0].error and "time of day" in bad[0].text
    when = await demo.say("Alice", "/meeting next tue 19:00")
    assert when[0].text.startswith("Tue 1 Dec 2026, 19:00 (Europe/London). Now the place")
    echo = await demo.say("Alice", '/meeting "Library, Market St" cap 30 weekly')
    assert "Face-to-face meeting: Frome branch meeting" in echo[0].text
    assert "Place: Library, Market St" in echo[0].text
    assert "30 places" in echo[0].text
    assert "Weekly, 8 times, the last on Tue 19 Jan 2027" in echo[0].text
    await demo.press("Alice", "Confirm")
    series = await all_meetings(demo)
    assert len(series) == 8
    assert {m.series_id for m in series} == {series[0].id}
    assert {m.capacity for m in series} == {30}
    assert series[0].starts_at == dt.datetime(2026, 12, 1, 19, 0, tzinfo=UTC)
    assert series[-1].starts_at == dt.datetime(2027, 1, 19, 19, 0, tzinfo=UTC)
    # The draft was used up: another /meeting <text> is not taken as its place.
    assert (await demo.say("Alice", "/meeting Town Hall"))[0].error


async def test_a_bad_date_gets_a_friendly_reply_and_changes_nothing(demo: Chat) -> None:
    before = await snapshot(demo.core.db)
    for line, expected in [
        (f"online 2026-02-30 19:00 {LINK}", "no such day"),
        (f"online someday 19:00 {LINK}", "could not read “someday”"),
        (f"online yesterday 19:00 {LINK}", "has already passed"),  # CLDR's "yesterday"
        (f"online 2026-11-20 19:00 {LINK}", "Fri 20 Nov 2026, 19:00 has already passed"),
        (f"online 3/12 19:00 {LINK}", "could be read two ways"),
        (f"online 2027-03-28 01:30 {LINK}", "the clocks go forward"),
        (f"online tomorrow {LINK}", "time of day"),
        (f"online 2026-12-03 25:00 {LINK}", "no such time as 25:00"),
        (f"online 2030-01-01 19:00 {LINK}", "more than 2 years ahead"),
        ("online tomorrow 19:00 no-link-here", "needs its link"),
        ("in-person tomorrow 19:00", "give the place"),
        ("picnic tomorrow 19:00 Park", "/meeting <online|in-person|assembly>"),
        (f"online tomorrow 19:00 {LINK} cap 0", "capacity must be from 1"),
        (f"online tomorrow 19:00 {LINK} cap -3", "capacity must be from 1"),  # not a title
        (f'online tomorrow 19:00 {LINK} "Branch meeting" places 3.5', "capacity must be from 1"),
        (f"online tomorrow 19:00 {LINK} weekly x99", "from 1 to 52 meetings"),
    ]:
        replies = await demo.say("Alice", f"/meeting {line}")
        assert replies[0].error and expected in replies[0].text, (line, replies[0].text)
    assert await snapshot(demo.core.db) == before


async def test_only_organisers_arrange_meetings(demo: Chat) -> None:
    replies = await demo.say("Carol", f"/meeting online tomorrow 19:00 {LINK}")
    assert replies[0].error and "Only the organisers of the Frome branch" in replies[0].text
    async with demo.core.db.transaction() as session:
        refused = list(await session.scalars(select(OutboxMessage)))
    assert refused == []
    help_text = text(await demo.say("Carol", "/help"))
    assert "/meetings — your branch's meetings" in help_text and "/meeting " not in help_text
    assert "/meeting — arrange a branch meeting" in text(await demo.say("Alice", "/help"))
    assert "/meeting edit <id>" in text(await demo.say("Alice", "/meeting"))


# --- answering ------------------------------------------------------------------------


async def test_rsvp_buttons_and_changing_an_answer(demo: Chat) -> None:
    meeting = await create(demo, "Alice", f"online 2026-12-03 19:00 {LINK} Branch call")
    going = await demo.press("Carol", f"mtgo:{meeting.id}")
    assert going[0].private
    assert going[0].text.startswith("You're going ✓ to Branch call, Thu 3 Dec 2026, 19:00")
    assert f"Link: {LINK}" in going[0].text
    maybe = await demo.press("Carol", f"mtmaybe:{meeting.id}")
    assert maybe[0].text.startswith("Noted: maybe")
    await demo.press("Carol", f"mtno:{meeting.id}")
    await demo.press("Dan", f"mtgo:{meeting.id}")
    carol, dan = await person_id(demo, "Carol"), await person_id(demo, "Dan")
    assert await answers(demo, meeting) == {carol: "no", dan: "going"}
    listing = (await demo.say("Carol", "/meetings"))[0]
    assert "1. Thu 3 Dec 2026, 19:00 · Branch call (online call)" in listing.text
    assert "you said you can't come" in listing.text
    assert [b.label for b in listing.button_list()] == [
        "Going 1",
        "Maybe 1",
        "Can't 1",
        "Calendar 1",
    ]
    await demo.press("Carol", "Going 1")
    assert "you're going ✓" in (await demo.say("Carol", "/meetings"))[0].text


async def test_capacity_waiting_list_and_promotion_on_cant(demo: Chat) -> None:
    meeting = await create(demo, "Alice", 'in-person tomorrow 19:00 "Library" cap 1')
    await demo.press("Carol", f"mtgo:{meeting.id}")
    listing = (await demo.say("Dan", "/meetings"))[0]
    assert "full: waiting list" in listing.text
    waiting = await demo.press("Dan", "Wait for a place 1")
    assert "waiting list" in waiting[0].text
    await demo.press("Lee", f"mtgo:{meeting.id}")
    await demo.press("Carol", f"mtno:{meeting.id}")
    told = [(n, t) for n, t in await demo.outbox() if t.startswith("A place opened up")]
    assert told == [
        (
            "Dan",
            "A place opened up: you're now going to Frome branch meeting, "
            "Fri 27 Nov 2026, 19:00 (Europe/London).\nPlace: Library",
        )
    ]
    carol, dan, lee = [await person_id(demo, n) for n in ("Carol", "Dan", "Lee")]
    assert await answers(demo, meeting) == {carol: "no", dan: "going", lee: "waiting"}


async def test_two_people_taking_the_last_place_at_once_one_gets_it(demo: Chat) -> None:
    meeting = await create(demo, "Alice", 'in-person tomorrow 19:00 "Library" cap 1')
    await asyncio.gather(
        demo.press("Carol", f"mtgo:{meeting.id}"), demo.press("Dan", f"mtgo:{meeting.id}")
    )
    assert sorted((await answers(demo, meeting)).values()) == ["going", "waiting"]


async def test_an_assembly_is_open_to_a_person_in_no_branch(demo: Chat) -> None:
    assembly = await create(demo, "Alice", 'assembly 2026-12-05 14:00 "Town Hall" Housing')
    call = await create(demo, "Alice", f"online 2026-12-03 19:00 {LINK}")
    await demo.signup("Sam")  # agreed to the privacy notice; no branch
    listing = (await demo.say("Sam", "/meetings"))[0]
    assert "Coming people's assemblies" in listing.text and "Housing" in listing.text
    assert "Frome branch call" not in listing.text
    frome = (await demo.say("Sam", "/meetings Frome"))[0]
    assert "Housing" in frome.text and "Frome branch call" not in frome.text
    replies = await demo.press("Sam", f"mtgo:{assembly.id}")
    assert not replies[0].error and "You're going ✓ to Housing" in replies[0].text
    before = await snapshot(demo.core.db)
    refused = await demo.press("Sam", f"mtgo:{call.id}")
    assert refused[0].error and refused[0].private
    # Told nothing about another branch's meeting: the answer to a stale button.
    assert refused[0].text == "This button has expired; nothing was changed."
    assert without_audit(await snapshot(demo.core.db)) == without_audit(before)


def without_audit(snap: dict[str, list[Any]]) -> dict[str, list[Any]]:
    return {k: v for k, v in snap.items() if k != "audit_log"}


async def test_someone_of_another_branch_is_told_nothing_and_nothing_changes(demo: Chat) -> None:
    meeting = await create(demo, "Alice", f"online 2026-12-03 19:00 {LINK}")
    await demo.say("Femi", "/help")  # (her last-seen time is refreshed now, not below)
    before = await snapshot(demo.core.db)
    for label in ("mtgo", "mtmaybe", "mtno", "mtics"):
        replies = await demo.press("Femi", f"{label}:{meeting.id}")
        assert replies[0].error and replies[0].private, label
        assert replies[0].text == "This button has expired; nothing was changed."
    assert without_audit(await snapshot(demo.core.db)) == without_audit(before)


async def test_each_meeting_offers_a_calendar_file(demo: Chat) -> None:
    meeting = await create(demo, "Alice", f"online 2026-12-03 19:00 {LINK} Branch call")
    reply = (await demo.press("Carol", f"mtics:{meeting.id}"))[0]
    assert reply.file is not None and reply.file.mime_type == "text/calendar"
    body = reply.file.content.decode()
    assert f"UID:meeting-{meeting.id}@assembly-organiser" in body
    assert "DTSTART:20261203T190000Z" in body
    assert "DTEND:20261203T210000Z" in body
    assert "SUMMARY:Branch call" in body
    assert f"URL:{LINK}" in body and f"LOCATION:{LINK}" in body
    [event] = Calendar.from_ical(reply.file.content).walk("VEVENT")  # as a calendar app reads it
    assert str(event["summary"]) == "Branch call" and str(event["url"]) == LINK
    place = await create(demo, "Alice", 'in-person 2026-12-05 10:30 "Library, Market St"')
    body = (await demo.press("Carol", f"mtics:{place.id}"))[0].file.content.decode()  # type: ignore[union-attr]
    assert "LOCATION:Library\\, Market St" in body and "URL" not in body


# --- reminders ------------------------------------------------------------------------


async def _sweep(chat: Chat, at: dt.datetime) -> int:
    return await remind(chat.core.db, chat.core.settings, at)


async def test_reminders_keep_local_time_across_the_clock_change(demo: Chat) -> None:
    first = await create(demo, "Alice", f"online 2027-03-18 19:00 {LINK} weekly x3")
    series = await all_meetings(demo)
    assert [m.starts_at for m in series] == [
        dt.datetime(2027, 3, 18, 19, 0, tzinfo=UTC),  # 19:00 GMT
        dt.datetime(2027, 3, 25, 19, 0, tzinfo=UTC),  # 19:00 GMT
        dt.datetime(2027, 4, 1, 18, 0, tzinfo=UTC),  # 19:00 BST, after 28 March
    ]
    for meeting in series:
        await demo.press("Carol", f"mtgo:{meeting.id}")
    await demo.press("Dan", f"mtmaybe:{series[2].id}")  # only those going are reminded
    carol = await person_id(demo, "Carol")
    third = series[2].id

    assert await _sweep(demo, dt.datetime(2027, 4, 1, 16, 59, tzinfo=UTC)) == 0
    assert await keys(demo, f"mtrem:{third}:") == []
    for minute in (0, 0, 30, 59):  # the same moment twice, then later in its window
        assert await _sweep(demo, dt.datetime(2027, 4, 1, 17, minute, tzinfo=UTC)) == 1
    assert await keys(demo, f"mtrem:{third}:") == [f"mtrem:{third}:1:1:{carol}"]
    assert await _sweep(demo, dt.datetime(2027, 4, 1, 18, 0, tzinfo=UTC)) == 0  # it started

    # Before the change: the one-hour reminder of 25 March goes at 18:00 UTC.
    second = series[1].id
    assert await _sweep(demo, dt.datetime(2027, 3, 25, 17, 59, tzinfo=UTC)) == 0
    assert await _sweep(demo, dt.datetime(2027, 3, 25, 18, 0, tzinfo=UTC)) == 1
    # The 24-hour reminder of 1 April: 18:00 UTC on 31 March.
    assert await _sweep(demo, dt.datetime(2027, 3, 31, 18, 0, tzinfo=UTC)) == 1
    assert await _sweep(demo, dt.datetime(2027, 3, 31, 18, 30, tzinfo=UTC)) == 1
    assert await keys(demo, "mtrem:") == [
        f"mtrem:{third}:1:1:{carol}",
        f"mtrem:{second}:1:1:{carol}",
        f"mtrem:{third}:1:24:{carol}",
    ]
    reminders = [t for n, t in await demo.outbox() if t.startswith("Reminder:")]
    assert reminders[0].splitlines()[:2] == [
        "Reminder: Frome branch call (online call) is on Thu 1 Apr 2027, 19:00, "
        "Europe/London time.",
        f"Link: {LINK}",
    ]
    assert first.id == series[0].id


async def test_no_late_reminder_for_a_meeting_arranged_at_short_notice(demo: Chat) -> None:
    meeting = await create(demo, "Alice", 'in-person today 12:30 "Library"')
    await demo.press("Carol", f"mtgo:{meeting.id}")
    assert await _sweep(demo, demo.clock.now()) == 1
    assert await keys(demo, "mtrem:") == [
        f"mtrem:{meeting.id}:1:1:{await person_id(demo, 'Carol')}"
    ]


async def test_an_organiser_sets_when_reminders_go(demo: Chat) -> None:
    replies = await demo.say("Alice", "/meeting reminders 48, 2")
    assert replies[0].text == (
        "Those going to the Frome branch's meetings are reminded 48 hours and 2 hours before."
    )
    assert (await branch(demo, "frome")).meeting_reminders == "48,2"
    meeting = await create(demo, "Alice", f"online 2026-12-03 19:00 {LINK}")
    await demo.press("Carol", f"mtgo:{meeting.id}")
    assert await _sweep(demo, dt.datetime(2026, 12, 2, 19, 0, tzinfo=UTC)) == 0  # not 24 h
    assert await _sweep(demo, dt.datetime(2026, 12, 1, 19, 0, tzinfo=UTC)) == 1  # 48 h
    for bad in ("0", "200", "a,b", "1,2,3,4,5"):
        assert (await demo.say("Alice", f"/meeting reminders {bad}"))[0].error, bad
    await demo.say("Alice", "/meeting reminders off")
    assert await _sweep(demo, dt.datetime(2026, 12, 3, 17, 0, tzinfo=UTC)) == 0


# --- editing and cancelling -------------------------------------------------------------


async def test_an_edit_tells_those_who_answered_once(demo: Chat) -> None:
    meeting = await create(demo, "Alice", f"online 2026-12-03 19:00 {LINK} Branch call")
    await demo.press("Carol", f"mtgo:{meeting.id}")
    await demo.press("Dan", f"mtmaybe:{meeting.id}")
    await demo.press("Lee", f"mtno:{meeting.id}")
    replies = await demo.say("Alice", f"/meeting edit {meeting.id} time 2026-12-03 20:00")
    assert "Thu 3 Dec 2026, 20:00 (Europe/London)" in replies[0].text
    moved = [(n, t) for n, t in await demo.outbox() if "has moved" in t]
    # Lee said he can't come: a new time may suit him, so he hears of it too.
    assert sorted(n for n, _ in moved) == ["Carol", "Dan", "Lee"]
    assert moved[0][1] == (
        f"Branch call has moved: it is now Thu 3 Dec 2026, 20:00 (Europe/London).\nLink: {LINK}"
    )
    again = await demo.say("Alice", f"/meeting edit {meeting.id} time 2026-12-03 20:00")
    assert again[0].error and "Nothing to change" in again[0].text
    await demo.say("Alice", f"/meeting edit {meeting.id} place https://meet.example/new")
    await demo.say("Alice", f"/meeting edit {meeting.id} title Monthly call")
    # the time to 3 people; the place and the title to the 2 who may come
    assert len(await keys(demo, f"mtedit:{meeting.id}:")) == 7
    [edited] = await all_meetings(demo)
    assert (edited.version, edited.title, edited.place) == (
        4,
        "Monthly call",
        "https://meet.example/new",
    )
    for bad in ("time tomorrow", "place not-a-link", "colour red", "capacity 0", "title"):
        replies = await demo.say("Alice", f"/meeting edit {meeting.id} {bad}")
        assert replies[0].error, bad
    # Bath's organiser cannot touch it, and reads as if it did not exist.
    theirs = await demo.say("Erin", f"/meeting edit {meeting.id} title Mine")
    nothing = await demo.say("Erin", "/meeting edit 999999 title Mine")
    assert theirs[0].text == nothing[0].text.replace("999999", str(meeting.id))


async def test_more_places_let_the_waiting_in(demo: Chat) -> None:
    meeting = await create(demo, "Alice", "in-person tomorrow 19:00 Library")
    await demo.say("Alice", f"/meeting edit {meeting.id} capacity 1")
    await demo.press("Carol", f"mtgo:{meeting.id}")
    await demo.press("Dan", f"mtgo:{meeting.id}")
    replies = await demo.say("Alice", f"/meeting edit {meeting.id} capacity 2")
    assert replies[0].text == "Capacity is now 2 places."
    assert [n for n, t in await demo.outbox() if t.startswith("A place opened up")] == ["Dan"]


async def test_cancelling_tells_those_who_answered_once_and_stops_reminders(demo: Chat) -> None:
    meeting = await create(demo, "Alice", f"online 2026-12-03 19:00 {LINK}")
    await demo.press("Carol", f"mtgo:{meeting.id}")
    replies = await demo.say("Alice", f"/meeting cancel {meeting.id}")
    assert replies[0].text == "Cancelled 1 meeting; those who answered have been told."
    again = await demo.say("Alice", f"/meeting cancel {meeting.id}")
    assert again[0].error and "already cancelled" in again[0].text
    assert [t for n, t in await demo.outbox() if n == "Carol" and "Cancelled" in t] == [
        "Cancelled: Frome branch call (online call), Thu 3 Dec 2026, 19:00 "
        "(Europe/London), will not take place."
    ]
    assert await _sweep(demo, dt.datetime(2026, 12, 3, 18, 0, tzinfo=UTC)) == 0
    undo = replies[0].button_list()[0]
    pressed = await demo.press("Dan", f"mtgo:{meeting.id}")
    assert pressed[0].error and "was cancelled" in pressed[0].text
    assert "No meetings of the Frome branch" in (await demo.say("Carol", "/meetings"))[0].text
    restored = await demo.press("Alice", undo)
    assert "is back on" in restored[0].text
    assert [t for n, t in await demo.outbox() if n == "Carol" and t.startswith("Back on")]
    assert await _sweep(demo, dt.datetime(2026, 12, 3, 18, 0, tzinfo=UTC)) == 1


async def test_cancelling_the_rest_of_a_series(demo: Chat) -> None:
    await create(demo, "Alice", f"online 2026-12-03 19:00 {LINK} monthly x3")
    series = await all_meetings(demo)
    replies = await demo.say("Alice", f"/meeting cancel {series[1].id} all")
    assert replies[0].text == "Cancelled 2 meetings; those who answered have been told."
    assert [m.cancelled_at is None for m in await all_meetings(demo)] == [True, False, False]


# --- formation, minutes -----------------------------------------------------------------


async def test_a_forming_branch_becomes_active_by_its_first_call_and_meeting(
    demo: Chat,
) -> None:
    async with demo.core.db.transaction() as session:
        bath = await session.scalar(select(Branch).where(Branch.slug == "bath"))
        assert bath is not None
        bath.status = "forming"
    call = await create(demo, "Erin", f"online tomorrow 19:00 {LINK}")
    meeting = await create(demo, "Erin", 'in-person 2026-12-05 11:00 "Guildhall"')
    early = await demo.say("Erin", f"/meeting held {call.id}")
    assert early[0].error and "has not started yet" in early[0].text
    demo.clock.set(dt.datetime(2026, 11, 27, 21, 0, tzinfo=UTC))
    replies = await demo.say("Erin", f"/meeting held {call.id}")
    assert "first online call" in replies[0].text
    after_call = await branch(demo, "bath")
    assert after_call.status == "forming"
    assert after_call.first_call_at == dt.datetime(2026, 11, 27, 19, 0, tzinfo=UTC)
    assert (await demo.say("Erin", f"/meeting held {call.id}"))[0].error  # once

    await demo.press("Femi", f"mtgo:{meeting.id}")
    demo.clock.set(dt.datetime(2026, 12, 5, 13, 0, tzinfo=UTC))
    view = await demo.say("Erin", f"/meeting show {meeting.id}")
    replies = await demo.press("Erin", "Mark as held")
    assert "Who came" in replies[0].text and "active" not in replies[0].text
    await demo.press("Erin", "Femi")
    await demo.press("Erin", "+ Guest")
    sheet = await demo.press("Erin", "+ Guest")
    assert "So far: 3 people came, counting 2 guests." in sheet[0].text
    assert sheet[0].button_list()[0].label == "✓ Femi"
    replies = await demo.press("Erin", "Done")
    assert "with 3 people" in replies[0].text and "is now active" in replies[0].text
    active = await branch(demo, "bath")
    assert active.status == "active"
    assert active.first_meeting_at == dt.datetime(2026, 12, 5, 11, 0, tzinfo=UTC)
    assert any(n == "Jo" and "can now be affiliated" in t for n, t in await demo.outbox())
    async with demo.core.db.transaction() as session:
        steps = list(
            await session.scalars(
                select(BranchTransition.to_status)
                .where(BranchTransition.branch_id == active.id)
                .order_by(BranchTransition.id)
            )
        )
    assert steps[-1] == "active"
    assert view[0].button_list()[0].action == "mtheld"


async def test_minutes_and_past_meetings(demo: Chat) -> None:
    meeting = await create(demo, "Alice", 'assembly 2026-12-05 14:00 "Town Hall" Housing')
    early = await demo.say("Alice", f"/meeting minutes {meeting.id} Too early")
    assert early[0].error and "has not started yet" in early[0].text
    demo.clock.set(dt.datetime(2026, 12, 5, 17, 0, tzinfo=UTC))
    await demo.say("Alice", f"/meeting minutes {meeting.id} {'x' * 900}")
    await demo.say("Alice", f"/meeting minutes {meeting.id} + {'y' * 900}")
    long = await demo.say("Alice", f"/meeting minutes {meeting.id} + {'z' * 900}")
    assert long[0].error and "under 2000 characters" in long[0].text
    assert (await all_meetings(demo))[0].minutes == "x" * 900 + "\n" + "y" * 900
    replies = await demo.say(
        "Alice", f"/meeting minutes {meeting.id} Agreed: a housing survey in January."
    )
    assert replies[0].text.startswith("Minutes recorded for Housing, Sat 5 Dec 2026, 14:00.")
    past = text(await demo.say("Carol", "/meetings past"))
    assert "1. Sat 5 Dec 2026, 14:00 · Housing (people's assembly)" in past
    assert "Minutes: Agreed: a housing survey in January." in past
    organiser = await demo.say("Alice", "/meetings past")
    assert [b.label for r in organiser for b in r.button_list()] == ["Held 1"]
    assert (await demo.say("Carol", f"/meeting minutes {meeting.id} Mine"))[0].error
