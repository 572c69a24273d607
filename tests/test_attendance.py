"""Attendance and the canvassing core (issue 16): "I'm here" while a session runs,
the organisers' sheet with undo, /canvass stats from who came (not who signed up),
side by side for a region's and the nation's admins, and the weekly summary."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select

from bot.canvassing.core_summary import core_summary
from bot.canvassing.rules import WeekStats, flags
from bot.kernel.actions import Action
from storage.models import (
    Branch,
    CanvassAttendance,
    CanvassResult,
    CanvassSession,
    CanvassSignup,
    Meeting,
    Person,
)
from storage.vocabulary import GOING
from tests.helpers import Chat

SATURDAY = dt.datetime(2026, 11, 28, 10, 30, tzinfo=dt.UTC)  # London is on UTC in November


async def _signed_up(demo: Chat) -> int:
    """Alice's Saturday 10:30 session, Carol going; the session's id."""
    await demo.say("Alice", "/canvass schedule saturday 10:30 Market Cross")
    await demo.say("Carol", "/canvass")
    await demo.press("Carol", "Sign up 1")
    async with demo.core.db.transaction() as session:
        return int(await session.scalar(select(CanvassSession.id)) or 0)


async def _came(demo: Chat) -> int:
    async with demo.core.db.transaction() as session:
        return int(await session.scalar(select(func.count()).select_from(CanvassAttendance)) or 0)


async def test_checking_in_while_the_session_runs_counts_once(demo: Chat) -> None:
    session_id = await _signed_up(demo)
    listing = (await demo.say("Carol", "/canvass"))[0]
    assert "I'm here" not in [b.label for b in listing.button_list()]  # not yet begun
    early = await demo.press("Carol", f"{Action.CANVASS_HERE.value}:{session_id}")
    assert early[0].error and "open from its start until 12:30" in early[0].text

    demo.clock.set(SATURDAY + dt.timedelta(minutes=20))
    listing = (await demo.say("Carol", "/canvass"))[0]
    assert "Under way now: Sat 28 Nov 10:30 at Market Cross." in listing.text
    here = demo.button("Carol", "I'm here")
    reply = (await demo.press("Carol", here))[0]
    assert reply.text == "Checked in for Sat 28 Nov 10:30 at Market Cross ✓ Thank you!"
    again = (await demo.press("Carol", here))[0]
    assert not again.error and "already checked in" in again.text
    assert await _came(demo) == 1

    # Dan did not sign up: no button for him, and pressing Carol's data is refused.
    listing = (await demo.say("Dan", "/canvass"))[0]
    assert "I'm here" not in [b.label for b in listing.button_list()]
    refused = await demo.press("Dan", f"{Action.CANVASS_HERE.value}:{session_id}")
    assert refused[0].error and "not signed up" in refused[0].text

    demo.clock.set(SATURDAY + dt.timedelta(hours=3))  # over
    late = await demo.press("Carol", f"{Action.CANVASS_HERE.value}:{session_id}")
    assert late[0].error and "while the session runs" in late[0].text
    assert await _came(demo) == 1


async def test_an_organiser_marks_people_present_and_undoes_a_mistake(demo: Chat) -> None:
    await _signed_up(demo)
    demo.clock.set(SATURDAY + dt.timedelta(hours=3))
    sheet = (await demo.say("Alice", "/canvass came"))[0]
    assert "Who came canvassing Sat 28 Nov 10:30?" in sheet.text
    assert [b.label for b in sheet.button_list()] == ["Carol"]
    marked = (await demo.press("Alice", "Carol"))[0]
    assert "So far: 1 person came." in marked.text
    assert [b.label for b in marked.button_list()] == ["✓ Carol"]
    undone = (await demo.press("Alice", "✓ Carol"))[0]
    assert "So far: 0 people came." in undone.text
    assert await _came(demo) == 0
    # Someone who came without signing up, by handle.
    sheet = (await demo.say("Alice", "/canvass came @dan"))[0]
    assert [b.label for b in sheet.button_list()] == ["Carol", "✓ Dan"]
    assert await _came(demo) == 1
    # Logging the results counts those who came.
    logged = (await demo.say("Alice", "/canvass log 50 10"))[0]
    assert "1 out, 50 doors" in logged.text
    # A member may not mark anyone.
    refused = (await demo.say("Carol", "/canvass came @carol"))[0]
    assert refused.error and await _came(demo) == 1


async def _a_quarter(demo: Chat) -> None:
    """Frome's fourteen Saturdays up to 5 December: Carol came every week, Dan every
    other week, Bob signed up every time and never came; 100 doors, 20
    conversations each. Bath and Wells held nothing."""
    async with demo.core.db.transaction() as session:
        frome = await session.scalar(select(Branch).where(Branch.slug == "frome"))
        people = {
            p.display_name: p.id
            for p in await session.scalars(
                select(Person).where(Person.display_name.in_(["Bob", "Carol", "Dan"]))
            )
        }
        assert frome is not None
        for week in range(14):
            starts = dt.datetime(2026, 12, 5, 10, 30, tzinfo=dt.UTC) - dt.timedelta(weeks=week)
            item = CanvassSession(branch_id=frome.id, starts_at=starts, meeting_point="Market")
            session.add(item)
            await session.flush()
            came = ["Carol"] + (["Dan"] if week % 2 == 0 else [])
            for name in ("Bob", *came):
                session.add(
                    CanvassSignup(
                        session_id=item.id, person_id=people[name], status=GOING, created_at=starts
                    )
                )
            for name in came:
                session.add(
                    CanvassAttendance(session_id=item.id, person_id=people[name], at=starts)
                )
            session.add(
                CanvassResult(
                    session_id=item.id,
                    people_out=3,
                    doors=100,
                    conversations=20,
                    tags=["housing"],
                    recorded_at=starts,
                )
            )
    demo.clock.set(dt.datetime(2026, 12, 7, 12, 0, tzinfo=dt.UTC))  # a Monday


async def test_stats_count_who_came_and_the_core_not_sign_ups(demo: Chat) -> None:
    await _a_quarter(demo)
    reply = (await demo.say("Alice", "/canvass stats"))[0]
    # The 12 weeks shown hold 11 of the Saturdays (this week's is yet to come).
    assert reply.text == (
        "Last 12 weeks: Frome: 11 sessions held, 2 people came, 1100 doors, "
        "220 conversations; core now 1. Top issues: housing (11)."
    )
    assert reply.file is not None and reply.file.content.startswith(b"\x89PNG")


async def test_a_members_asking_for_stats_is_refused_kindly(demo: Chat) -> None:
    await _a_quarter(demo)
    reply = (await demo.say("Carol", "/canvass stats"))[0]
    assert reply.error and reply.file is None
    assert "Only the organisers of the Frome branch" in reply.text


async def test_admins_see_branches_and_regions_side_by_side(demo: Chat) -> None:
    await _a_quarter(demo)
    region = (await demo.say("Jo", "/canvass stats"))[0]
    lines = region.text.splitlines()
    assert lines[0] == "Canvassing in the South West region, last 12 weeks"
    assert (
        "Frome: 11 sessions held, 2 people came, 1100 doors, 220 conversations; core now 1."
        in lines
    )
    assert "Bath: 0 sessions held, 0 people came, 0 doors, 0 conversations; core now 0." in lines
    assert region.file is not None and region.file.content.startswith(b"\x89PNG")
    own = (await demo.say("Jo", "/canvass stats branch"))[0]
    assert own.text.startswith("Last 12 weeks: Frome:")
    nation = (await demo.say("Kai", "/canvass stats"))[0]
    assert nation.text.splitlines() == [
        "Canvassing in every region, last 12 weeks",
        "South West: 11 sessions held, 2 people came, 1100 doors, 220 conversations; core now 1.",
    ]


async def test_the_weekly_summary_flags_branches_to_the_regions_admins_once(demo: Chat) -> None:
    await _a_quarter(demo)
    core, settings = demo.core, demo.core.settings
    early = dt.datetime(2026, 12, 7, 8, 0, tzinfo=dt.UTC)
    assert await core_summary(core.db, settings, early) == 0  # not Monday 09:00 yet
    monday = dt.datetime(2026, 12, 7, 9, 30, tzinfo=dt.UTC)
    assert await core_summary(core.db, settings, monday) == 1
    assert await core_summary(core.db, settings, monday + dt.timedelta(hours=5)) == 1
    sent = [text for name, text in await demo.outbox() if name == "Jo"]
    assert sent == [
        "Canvassing in the South West region: branches to look at this week\n"
        "• Bath: no session held in the last two weeks.\n"
        "• Bath: its core is 0, below 3 (people who came at least 3 of the last 4 weeks).\n"
        "• Frome: its core is 1, below 3 (people who came at least 3 of the last 4 weeks).\n"
        "/canvass stats shows the region's branches side by side."
    ]
    assert not [name for name, _ in await demo.outbox() if name != "Jo"]


def test_flags_read_the_whole_weeks_before_this_one() -> None:
    def week(n: int, sessions: int, core: int) -> WeekStats:
        return WeekStats(dt.date(2026, 11, 2) + dt.timedelta(weeks=n), sessions, 0, 0, 0, core)

    held = [week(0, 1, 3), week(1, 0, 3), week(2, 1, 3), week(3, 0, 3)]
    assert flags(held, 3) == (False, False)
    idle = [week(0, 1, 3), week(1, 0, 3), week(2, 0, 2), week(3, 1, 2)]
    assert flags(idle, 3) == (True, True)
    assert flags(idle, 2) == (True, False)


async def test_checking_in_to_a_meeting_and_the_door_sheet_undoing_it(demo: Chat) -> None:
    await demo.say("Alice", '/meeting in-person 2026-12-03 19:00 "Library" Branch meeting')
    await demo.press("Alice", "Confirm")
    async with demo.core.db.transaction() as session:
        meeting = await session.scalar(select(Meeting))
    assert meeting is not None
    await demo.press("Carol", f"{Action.MEETING_GOING.value}:{meeting.id}")
    here = f"{Action.MEETING_HERE.value}:{meeting.id}"
    early = await demo.press("Carol", here)
    assert early[0].error and "open from its start until it ends" in early[0].text

    demo.clock.set(dt.datetime(2026, 12, 3, 19, 10, tzinfo=dt.UTC))
    listing = await demo.say("Carol", "/meetings")
    assert listing[0].text == "Under way now: Branch meeting. Check in when you're there:"
    assert (await demo.press("Carol", "I'm here"))[
        0
    ].text == "Checked in to Branch meeting ✓ Welcome!"
    again = (await demo.press("Carol", here))[0]
    assert not again.error and "already checked in" in again.text
    refused = await demo.press("Dan", here)  # Dan did not say he was going
    assert refused[0].error and "not down as going" in refused[0].text

    # The organiser's door sheet shows her ticked, and a press undoes it.
    sheet = (await demo.say("Alice", f"/meeting held {meeting.id}"))[0]
    assert "So far: 1 person came." in sheet.text
    undone = (await demo.press("Alice", "✓ Carol"))[0]
    assert "So far: 0 people came." in undone.text

    demo.clock.set(dt.datetime(2026, 12, 3, 23, 0, tzinfo=dt.UTC))  # two hours long: over
    late = await demo.press("Carol", here)
    assert late[0].error and "open from its start until it ends" in late[0].text


async def test_an_admin_of_another_region_sees_that_region(demo: Chat) -> None:
    from storage.models import Region, RoleGrant
    from storage.vocabulary import ADMIN, SCOPE_REGION

    async with demo.core.db.transaction() as session:
        north = Region(name="North", slug="north", created_at=demo.clock.now())
        session.add(north)
        await session.flush()
        session.add(
            Branch(
                name="Leeds",
                slug="leeds",
                area="Leeds",
                timezone="Europe/London",
                status="active",
                region_id=north.id,
                created_at=demo.clock.now(),
            )
        )
        dan = await session.scalar(select(Person).where(Person.display_name == "Dan"))
        assert dan is not None
        session.add(
            RoleGrant(
                person_id=dan.id,
                role=ADMIN,
                scope=SCOPE_REGION,
                scope_id=north.id,
                granted_at=demo.clock.now(),
            )
        )
    reply = (await demo.say("Dan", "/canvass stats"))[0]
    assert reply.text.splitlines()[0] == "Canvassing in the North region, last 12 weeks"
    assert reply.text.splitlines()[1].startswith("Leeds: 0 sessions held")
    own = (await demo.say("Dan", "/canvass stats branch"))[0]
    assert own.error  # Frome's stats are for Frome's organisers
