"""Reminders are queued by moving a clock, never by waiting a week."""

from __future__ import annotations

import datetime as dt

from bot.canvassing.reminders import evening_before, weekly_roundup
from tests.helpers import Chat


async def _frome_id(chat: Chat) -> int:
    alice = await chat.person("Alice")
    assert alice is not None and alice.branch_id is not None
    return alice.branch_id


async def test_the_weekly_roundup_reaches_those_who_want_it_once_a_week(demo: Chat) -> None:
    await demo.say("Alice", "/canvass schedule saturday 10:30 Market Cross 8")
    await demo.say("Lee", "/reminders off")
    monday = dt.datetime(2026, 11, 30, 18, 0, tzinfo=dt.UTC)
    frome = await _frome_id(demo)
    core = demo.core
    assert await weekly_roundup(core.db, core.settings, monday, frome) == 1
    assert await weekly_roundup(core.db, core.settings, monday + dt.timedelta(hours=1), frome) == 1
    told = await demo.outbox()
    names = sorted(n for n, t in told if t.startswith("Canvassing with the Frome branch"))
    assert names == ["Alice", "Bob", "Carol", "Dan", "Jo"]  # not Lee, and each once
    text = next(t for n, t in told if n == "Carol")
    assert "• Sat 05 Dec 10:30 · Market Cross · 8 places left" in text


async def test_no_roundup_when_there_is_no_session(demo: Chat) -> None:
    core = demo.core
    assert (
        await weekly_roundup(core.db, core.settings, demo.clock.now(), await _frome_id(demo)) == 0
    )
    assert await demo.outbox() == []


async def test_the_evening_before_reminds_those_going_once(demo: Chat) -> None:
    await demo.say("Alice", "/canvass schedule saturday 10:30 Market Cross")
    await demo.say("Carol", "/canvass")
    await demo.press("Carol", "Sign up 1")
    await demo.say("Dan", "/canvass")
    await demo.press("Dan", "Sign up 1")
    await demo.say("Dan", "/reminders off")
    friday_evening = dt.datetime(2026, 11, 27, 18, 0, tzinfo=dt.UTC)
    core, frome = demo.core, await _frome_id(demo)
    for _ in range(2):  # a second fire (a restart, a second worker) queues nothing more
        assert await evening_before(core.db, core.settings, friday_evening, frome) == 1
    reminders = [(n, t) for n, t in await demo.outbox() if t.startswith("Reminder:")]
    assert reminders == [
        (
            "Carol",
            "Reminder: canvassing tomorrow, Sat 28 Nov 10:30, meeting at Market Cross. "
            "Can't make it? Send /canvass to cancel, so someone waiting gets your place.",
        )
    ]


async def test_no_evening_reminder_two_days_before(demo: Chat) -> None:
    await demo.say("Alice", "/canvass schedule saturday 10:30 Market Cross")
    await demo.say("Carol", "/canvass")
    await demo.press("Carol", "Sign up 1")
    core = demo.core
    thursday = dt.datetime(2026, 11, 26, 18, 0, tzinfo=dt.UTC)
    assert await evening_before(core.db, core.settings, thursday, await _frome_id(demo)) == 0
