"""The founding path, recorded from what happened: interest -> a first online call ->
a first face-to-face meeting with attendance -> dues -> affiliation. Every test
starts from an empty database (no demo), as a new party would."""

from __future__ import annotations

import datetime as dt
import random
from pathlib import Path

import pytest
from sqlalchemy import func, select

from bot.app import build_core
from bot.kernel.clock import FixedClock
from bot.kernel.config import Settings
from storage.db import Database
from storage.models import Branch, BranchTransition, MeetingAttendance, Person
from tests.conftest import BALLOT_KEY, NOW
from tests.helpers import Chat, text
from tests.test_founding import founder, told
from tests.test_meetings import all_meetings as meetings
from tests.test_meetings import create as arrange

UTC = dt.UTC
LINK = "https://meet.example/frome"


async def branch(chat: Chat, name: str = "Frome") -> Branch:
    async with chat.core.db.transaction() as session:
        found = await session.scalar(select(Branch).where(Branch.name == name))
        assert found is not None
        return found


async def forming_frome(chat: Chat) -> None:
    """Pat founds the party and the South West region; Ann proposes Frome, Bea and
    Cai join, Ann volunteers to organise: Frome is forming."""
    await founder(chat)
    await chat.say("Pat", "/region add South West")
    await chat.say("Pat", "/region areas South West: Frome, BA")
    await chat.signup("Ann", "Frome")
    await chat.press("Ann", "Propose")
    for name in ("Bea", "Cai"):
        await chat.signup(name, "Frome")
    await chat.say("Ann", "/leave")  # a way to the offer to organise, as a user finds it
    await chat.press("Ann", "Undo")
    await chat.press("Ann", "I can organise it")
    replies = await chat.say("Pat", "/promote @ann organiser")
    assert (await branch(chat)).status == "forming", text(replies)


async def steps(chat: Chat) -> list[tuple[str, str | None]]:
    frome = await branch(chat)
    async with chat.core.db.transaction() as session:
        rows = await session.scalars(
            select(BranchTransition)
            .where(BranchTransition.branch_id == frome.id)
            .order_by(BranchTransition.id)
        )
        return [(r.to_status, r.reason) for r in rows]


async def test_the_founding_path_from_interest_to_affiliation(chat: Chat) -> None:
    await forming_frome(chat)
    # The organiser's guide for the step just reached, and /branch's next step.
    assert any("your first online call" in t for t in await told(chat, "Ann"))
    view = text(await chat.say("Ann", "/branch"))
    assert "Next step: a first online call" in view

    # A face-to-face meeting before any call does not make the branch active.
    early = await arrange(chat, "Ann", 'in-person 2026-11-28 11:00 "Library"')
    for name in ("Ann", "Bea", "Cai"):
        await chat.press(name, f"mtgo:{early.id}")
    chat.clock.set(dt.datetime(2026, 11, 28, 14, 0, tzinfo=UTC))
    sheet = await chat.say("Ann", f"/meeting held {early.id}")
    assert "Who came" in text(sheet)
    for name in ("Ann", "Bea", "Cai"):
        await chat.press("Ann", name)
    done = await chat.press("Ann", "Done")
    assert "has not recorded its first online call yet" in text(done)
    assert (await branch(chat)).status == "forming"

    call = await arrange(chat, "Ann", f"online 2026-11-30 19:00 {LINK}")
    chat.clock.set(dt.datetime(2026, 11, 30, 20, 30, tzinfo=UTC))
    replies = await chat.say("Ann", f"/meeting held {call.id}")
    assert "first online call" in text(replies)
    assert any("your first face-to-face meeting" in t for t in await told(chat, "Ann"))
    assert "a first face-to-face meeting that at least 3 people come to" in text(
        await chat.say("Ann", "/branch")
    )

    # Two said they would come and did; one guest more makes three.
    meeting = await arrange(chat, "Ann", 'in-person 2026-12-05 11:00 "Market Hall"')
    await chat.press("Bea", f"mtgo:{meeting.id}")
    await chat.press("Cai", f"mtgo:{meeting.id}")
    chat.clock.set(dt.datetime(2026, 12, 5, 13, 0, tzinfo=UTC))
    await chat.say("Ann", f"/meeting held {meeting.id}")
    await chat.press("Ann", "Bea")
    await chat.press("Ann", "Cai")
    short = await chat.press("Ann", "Done")
    assert "2 people came" in text(short) and "becomes active after" in text(short)
    assert (await branch(chat)).status == "forming"
    sheet = await chat.say("Ann", f"/meeting came {meeting.id}")
    assert [b.label for b in sheet[0].button_list()][:2] == ["✓ Bea", "✓ Cai"]
    await chat.press("Ann", "+ Guest")
    active = await chat.press("Ann", "Done")
    assert "with 3 people" in text(active) and "now active" in text(active)
    assert (await branch(chat)).status == "active"
    assert any("It can be affiliated once 3 more members" in t for t in await told(chat, "Pat"))

    # The history shows both meetings with dates, and the next step counts dues.
    view = text(await chat.say("Ann", "/branch"))
    assert "first online call 2026-11-30" in view
    assert "first face-to-face meeting 2026-12-05, 3 came" in view
    assert "3 more members with paid dues before you can affiliate" in view

    refused = await chat.say("Pat", "/affiliate Frome")
    assert refused[0].error and "has 0 members with paid dues; it needs 3" in refused[0].text
    assert (await branch(chat)).status == "active"

    for name in ("ann", "bea"):
        assert not (await chat.say("Pat", f"/dues @{name} 2027-12-31"))[0].error
    view = text(await chat.say("Ann", "/branch"))
    assert "1 more member with paid dues before you can affiliate" in view
    await chat.say("Pat", "/dues @cai 2027-12-31")
    assert "/affiliate Frome" in text(await chat.say("Ann", "/branch"))
    done = await chat.say("Pat", "/affiliate Frome")
    assert "now affiliated, in the South West region" in text(done)
    assert [s for s, _ in await steps(chat)] == ["proposed", "forming", "active", "affiliated"]
    assert any("you are part of the party now" in t for t in await told(chat, "Ann"))


async def test_an_admin_overrides_a_step_with_a_reason_shown_in_the_history(
    chat: Chat,
) -> None:
    await forming_frome(chat)
    await chat.signup("Mallory", "Frome")
    # Neither an organiser nor a member can wave the branch through.
    for who in ("Ann", "Mallory"):
        replies = await chat.say(who, "/branch override Frome: we met at the pub")
        assert replies[0].error
    # A reason is required, and kept short.
    for line in ("/branch override Frome:", "/branch override Frome", "/branch override"):
        assert (await chat.say("Pat", line))[0].error
    assert (await chat.say("Pat", "/branch override Frome: " + "x" * 301))[0].error
    assert (await branch(chat)).status == "forming"

    replies = await chat.say("Pat", "/branch override Frome: met for a year before the party")
    assert "now active" in text(replies) and not replies[0].error
    assert (await steps(chat))[-1] == ("active", "met for a year before the party")
    view = text(await chat.say("Ann", "/branch"))
    assert "(overridden by Pat: met for a year before the party)" in view
    # The dues rule can be overridden too, and then nothing is left.
    await chat.say("Pat", "/branch override Frome: founding members paid in cash")
    assert (await branch(chat)).status == "affiliated"
    last = await chat.say("Pat", "/branch override Frome: again")
    assert last[0].error and "no step left" in last[0].text


async def test_only_the_branchs_organisers_record_who_came(chat: Chat) -> None:
    await forming_frome(chat)
    meeting = await arrange(chat, "Ann", 'in-person 2026-11-28 11:00 "Library"')
    await chat.press("Bea", f"mtgo:{meeting.id}")
    # Not before it is held: nobody can be marked present at a meeting yet to happen.
    early = await chat.say("Ann", f"/meeting came {meeting.id}")
    assert early[0].error and "not recorded as held yet" in early[0].text
    chat.clock.set(dt.datetime(2026, 11, 28, 14, 0, tzinfo=UTC))
    await chat.say("Ann", f"/meeting held {meeting.id}")
    bea = chat.button("Ann", "Bea")
    # Bea, who wants the branch active, forges the organiser's buttons.
    for data in (bea.data, f"mtguest:{meeting.id}.+", f"mtdone:{meeting.id}"):
        replies = await chat.press("Bea", data)
        assert replies[0].error, data
    assert (await chat.say("Bea", f"/meeting came {meeting.id} @bea"))[0].error
    # Someone of another branch is not on the list, by name or by forged button.
    await chat.signup("Zed", "Bath")
    await chat.press("Zed", "Propose")
    zed = await chat.say("Ann", f"/meeting came {meeting.id} @zed")
    assert zed[0].error and "nobody in the Frome branch" in zed[0].text
    async with chat.core.db.transaction() as session:
        zed_id = await session.scalar(select(Person.id).where(Person.display_name == "Zed"))
    assert (await chat.press("Ann", f"mtcame:{meeting.id}.{zed_id}"))[0].error
    async with chat.core.db.transaction() as session:
        marked = await session.scalar(select(func.count()).select_from(MeetingAttendance))
    assert marked == 0
    assert (await meetings(chat))[0].guests == 0
    # Forged data for someone not on the list, or a guest count below zero, change nothing.
    assert (await chat.press("Ann", f"mtcame:{meeting.id}.999"))[0].error
    assert (await chat.press("Ann", f"mtguest:{meeting.id}.x"))[0].error
    await chat.press("Ann", f"mtguest:{meeting.id}.-")
    assert (await meetings(chat))[0].guests == 0
    # Pressing a name twice takes the mark back.
    await chat.press("Ann", bea)
    again = await chat.press("Ann", "✓ Bea")
    assert "So far: 0 people came." in text(again)


@pytest.fixture
def small_party(db: Database) -> Chat:
    settings = Settings(
        party_name="Small Party",
        polls_ballot_key=BALLOT_KEY,
        forming_threshold=2,
        first_meeting_attendees=2,
        members_to_affiliate=1,
    )
    clock = FixedClock(NOW)
    return Chat(build_core(db, settings, clock=clock, rng=random.Random(7)), clock)


async def test_what_each_step_needs_is_configured(small_party: Chat, tmp_path: Path) -> None:
    chat = small_party
    await founder(chat)
    await chat.say("Pat", "/region add South West")
    await chat.say("Pat", "/region areas South West: Frome")
    await chat.signup("Ann", "Frome")
    await chat.press("Ann", "Propose")
    await chat.signup("Bea", "Frome")
    view = text(await chat.say("Pat", "/branch Frome"))
    assert "Next step: it starts forming with an organiser." in view
    await chat.say("Ann", "/leave")
    await chat.press("Ann", "Undo")
    await chat.press("Ann", "I can organise it")
    await chat.say("Pat", "/promote @ann organiser")
    assert (await branch(chat)).status == "forming"
    call = await arrange(chat, "Ann", f"online 2026-11-27 19:00 {LINK}")
    meeting = await arrange(chat, "Ann", 'in-person 2026-11-28 11:00 "Library"')
    chat.clock.set(dt.datetime(2026, 11, 28, 14, 0, tzinfo=UTC))
    await chat.say("Ann", f"/meeting held {call.id}")
    # Nobody answered: the door sheet lists the branch's people to press.
    sheet = await chat.say("Ann", f"/meeting held {meeting.id}")
    assert [b.label for b in sheet[-1].button_list()][:2] == ["Ann", "Bea"]
    await chat.press("Ann", "Ann")
    await chat.press("Ann", "Bea")
    assert "now active" in text(await chat.press("Ann", "Done"))
    await chat.say("Pat", "/dues @ann 2027-12-31")
    assert "now affiliated" in text(await chat.say("Pat", "/affiliate Frome"))

    # The same settings, read from the configuration file, and refused when wrong.
    from bot.kernel.config import ConfigError, load_settings

    good = tmp_path / "good.toml"
    good.write_text("[branches]\nfirst_meeting_attendees = 5\nmembers_to_affiliate = 7\n")
    loaded = load_settings(good)
    assert (loaded.first_meeting_attendees, loaded.members_to_affiliate) == (5, 7)
    bad = tmp_path / "bad.toml"
    bad.write_text("[branches]\nmembers_to_affiliate = 0\n")
    with pytest.raises(ConfigError, match="members_to_affiliate"):
        load_settings(bad)


async def test_members_with_paid_dues_are_counted_to_the_end_of_the_day_in_the_branchs_zone(
    chat: Chat,
) -> None:
    """/branch counts Members by the rule every vote uses: dues paid through the end
    of that day in the branch's time zone (here Pacific/Auckland, 13 hours ahead)."""
    await forming_frome(chat)
    await chat.say("Pat", "/branch timezone Frome: Pacific/Auckland")
    # 26 Nov 12:00 UTC is 27 Nov 01:00 in Auckland: dues through the 27th count.
    await chat.say("Pat", "/dues @ann 2026-11-27")
    await chat.say("Pat", "/dues @bea 2026-11-26")
    assert "1 member with current dues, 2 supporters" in text(await chat.say("Ann", "/branch"))
    chat.clock.set(dt.datetime(2026, 11, 27, 10, 59, tzinfo=UTC))  # 23:59 on the 27th there
    assert "1 member with current dues" in text(await chat.say("Ann", "/branch"))
    chat.clock.set(dt.datetime(2026, 11, 27, 11, 0, tzinfo=UTC))  # midnight there
    assert "0 members with current dues, 3 supporters" in text(await chat.say("Ann", "/branch"))
