"""Campaign mode: a call-out, daily sessions until polling day, daily round-ups."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from bot.canvassing.reminders import campaign_roundup
from storage.models import CanvassSession
from tests.helpers import Chat, text


async def _sessions(chat: Chat) -> list[CanvassSession]:
    async with chat.core.db.transaction() as session:
        return list(
            await session.scalars(
                select(CanvassSession)
                .where(CanvassSession.cancelled_at.is_(None))
                .order_by(CanvassSession.starts_at)
            )
        )


async def test_a_by_election_campaign_calls_out_and_adds_daily_sessions(demo: Chat) -> None:
    await demo.say("Alice", "/canvass schedule saturday 10:30 Market Cross")
    replies = await demo.say("Alice", "/campaign start Frome Town by-election 2026-12-03")
    assert replies[0].text.startswith(
        "The Frome Town by-election campaign is on until polling day, 2026-12-03"
    )
    told = sorted(
        n for n, t in await demo.outbox() if t.startswith("📣 Campaign: Frome Town by-election")
    )
    assert told == ["Bob", "Carol", "Dan", "Jo", "Lee"]  # Frome, not Alice herself, not Bath
    days = [s.starts_at.date() for s in await _sessions(demo)]
    # Thursday 26 Nov: daily from Friday 27 Nov to polling day, 3 Dec; Saturday once only.
    assert days == [dt.date(2026, 11, d) for d in (27, 28, 29, 30)] + [
        dt.date(2026, 12, d) for d in (1, 2, 3)
    ]
    listing = await demo.say("Carol", "/canvass")
    assert "Fri 27 Nov 10:30" in listing[0].text


async def test_the_round_up_is_daily_while_the_campaign_runs(demo: Chat) -> None:
    await demo.say("Alice", "/canvass schedule saturday 10:30 Market Cross")
    carol = await demo.person("Carol")
    assert carol is not None and carol.branch_id is not None
    core, frome = demo.core, carol.branch_id
    tuesday = dt.datetime(2026, 12, 1, 9, 0, tzinfo=dt.UTC)
    assert await campaign_roundup(core.db, core.settings, tuesday, frome) == 0  # no campaign
    await demo.say("Alice", "/campaign start By-election 2026-12-10")
    for day in (1, 2):
        morning = dt.datetime(2026, 12, day, 9, 0, tzinfo=dt.UTC)
        assert await campaign_roundup(core.db, core.settings, morning, frome) > 0
        assert await campaign_roundup(core.db, core.settings, morning, frome) > 0  # again: no dup
    roundups = [
        t for n, t in await demo.outbox() if n == "Carol" and t.startswith("Canvassing with")
    ]
    assert len(roundups) == 2


async def test_stopping_cancels_the_added_sessions_only(demo: Chat) -> None:
    await demo.say("Alice", "/canvass schedule saturday 10:30 Market Cross")
    await demo.say("Carol", "/canvass")  # the weekly Saturday session exists
    await demo.say("Alice", "/campaign start By-election 2026-12-03")
    replies = await demo.say("Alice", "/campaign stop")
    assert "6 daily sessions still to come were cancelled" in replies[0].text
    assert [s.starts_at.date() for s in await _sessions(demo)] == [dt.date(2026, 11, 28)]
    assert "No campaign" in text(await demo.say("Alice", "/campaign"))


async def test_who_may_start_which_campaign(demo: Chat) -> None:
    assert (await demo.say("Carol", "/campaign start X 2026-12-03"))[0].error
    assert (await demo.say("Alice", "/campaign start X 2026-12-03 region"))[0].error
    assert not (await demo.say("Jo", "/campaign start Council 2026-12-03 region"))[0].error
    assert not (await demo.say("Kai", "/campaign start General 2027-05-06 national"))[0].error
    for bad in ("start X 2026-11-01", "start X tomorrow", "start 2026-12-03", "begin X 2026-12-03"):
        assert (await demo.say("Erin", f"/campaign {bad}"))[0].error, bad


async def test_stopping_tells_those_signed_up_and_stops_the_running_one(demo: Chat) -> None:
    await demo.say("Alice", "/canvass schedule saturday 10:30 Market Cross")
    await demo.say("Alice", "/campaign start Old 2026-11-27")
    demo.clock.set(dt.datetime(2026, 11, 28, 12, 0, tzinfo=dt.UTC))  # Old is over
    await demo.say("Alice", "/campaign start New 2026-12-05")
    listing = (await demo.say("Carol", "/canvass"))[0]
    assert "Sun 29 Nov 10:30" in listing.text
    await demo.press("Carol", "Sign up 1")
    replies = await demo.say("Alice", "/campaign stop")
    assert replies[0].text.startswith("The New campaign has stopped")
    assert ("Carol", "The canvassing session Sun 29 Nov 10:30 is cancelled.") in await demo.outbox()


async def test_a_campaign_session_follows_its_weekly_session(demo: Chat) -> None:
    await demo.say("Alice", "/canvass schedule saturday 10:30 Market Cross")
    await demo.say("Alice", "/campaign start By-election 2026-12-03")
    await demo.say("Alice", "/canvass edit 1 point Library steps")
    assert all(s.meeting_point == "Library steps" for s in await _sessions(demo))


async def test_in_a_campaign_the_weekly_round_up_gives_way_to_the_daily_one(demo: Chat) -> None:
    from bot.canvassing.reminders import weekly_roundup

    await demo.say("Alice", "/canvass schedule saturday 10:30 Market Cross")
    await demo.say("Alice", "/campaign start By-election 2026-12-10")
    carol = await demo.person("Carol")
    assert carol is not None and carol.branch_id is not None
    monday = dt.datetime(2026, 11, 30, 18, 0, tzinfo=dt.UTC)
    core = demo.core
    assert await weekly_roundup(core.db, core.settings, monday, carol.branch_id) == 0


async def test_a_campaign_says_what_it_set_up_and_what_is_missing(demo: Chat) -> None:
    """Only Frome canvasses weekly: Bath gets no daily sessions, and nobody is told
    that there is canvassing every day."""
    await demo.say("Alice", "/canvass schedule saturday 10:30 Market Cross")
    replies = await demo.say("Jo", "/campaign start County election 2026-12-03 region")
    assert "6 daily sessions were added" in replies[0].text, replies[0].text  # + Saturday
    assert "No daily sessions in Bath" in replies[0].text and "/canvass schedule" in replies[0].text
    callouts = [t for _, t in await demo.outbox() if t.startswith("📣 Campaign")]
    assert callouts and not any("every day" in t for t in callouts)
