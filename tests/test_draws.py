"""Drawing a branch council by lot in chat: preview, commit, seed, invitations,
replacements, deadlines."""

from __future__ import annotations

import datetime as dt
import json

from sqlalchemy import func, select

from bot.draws.invitations import invitation_sweep
from bot.draws.rules import apportion
from bot.draws.seeding import seed_sweep
from bot.lib.sortition.verification import verify
from storage.models import (
    Branch,
    CouncilSeat,
    Draw,
    Invitation,
    OutboxMessage,
    Person,
    SortitionProfile,
)
from tests.helpers import Chat, add_members, lotto, seed_by_lottery, snapshot
from tests.helpers import text as joined

GENDERS = ["woman", "man", "non-binary", "prefer not to say"]
AGES = ["18-29", "30-44", "45-64", "65+"]


async def pool(demo: Chat, n: int = 16) -> None:
    """``n`` paid-up Frome members who opted in, named Member 1..n."""
    await add_members(demo, n, features=lambda i: {"gender": GENDERS[i % 3], "age": AGES[i % 4]})


async def invited(demo: Chat) -> list[tuple[str, int, str]]:
    """(name, invitation id, status) of every invitation."""
    async with demo.core.db.transaction() as session:
        rows = await session.execute(
            select(Person.display_name, Invitation.id, Invitation.status)
            .join(Person, Person.id == Invitation.person_id)
            .order_by(Invitation.id)
        )
        return [(n, i, s) for n, i, s in rows]


async def committed_and_drawn(demo: Chat, seats: int = 5) -> None:
    await pool(demo)
    replies = await demo.say("Alice", f"/draw {seats} {lotto(demo.clock)}")
    assert "chance of selection" in replies[0].text, joined(replies)
    assert "entered by two witnesses" in replies[0].text and "TRIAL" not in replies[0].text
    replies = await demo.press("Alice", "Commit")
    assert replies[0].text.startswith("Committed: draw 1")
    assert replies[0].file is not None and replies[0].file.mime_type == "application/json"
    replies = await seed_by_lottery(demo)
    assert f"The {seats} people selected have been invited" in replies[0].text, joined(replies)


async def test_a_council_is_drawn_and_anyone_can_check_it(demo: Chat) -> None:
    await committed_and_drawn(demo)
    people = await invited(demo)
    assert len(people) == 5 and all(status == "invited" for _, _, status in people)
    async with demo.core.db.transaction() as session:
        draw = await session.get(Draw, 1)
        assert draw is not None and draw.seed is not None
        result = verify(json.loads(json.dumps(draw.record)), draw.seed)
        texts = list(await session.scalars(select(OutboxMessage.text)))
    assert result.ok and len(result.selected) == 5
    # The branch hears pseudonymous ids only; the organisers also get names.
    public = [t for t in texts if t.startswith("Draw 1 for the Frome council is done")]
    assert public and all("Member" not in t for t in public)
    assert any(
        t.startswith("Who was drawn for the Frome council (for organisers only)") for t in texts
    )
    assert "checks out" in joined(await demo.say("Alice", "/draw verify 1"))


async def test_accept_decline_and_a_replacement_that_keeps_the_quotas(demo: Chat) -> None:
    await committed_and_drawn(demo)
    (first, first_id, _), (second, second_id, _) = (await invited(demo))[:2]
    replies = await demo.press(first, f"invyes:{first_id}")
    assert "you are on the council" in replies[0].text
    replies = await demo.press(second, f"invno:{second_id}")
    assert "someone else will be drawn" in replies[0].text
    people = await invited(demo)
    assert len(people) == 6 and people[-1][2] == "invited"
    assert people[-1][0] not in {p[0] for p in people[:-1]}  # never the same person twice
    async with demo.core.db.transaction() as session:
        # The replacement is an event in the draw's history, not a new record.
        assert await session.scalar(select(func.count()).select_from(Draw)) == 1
        drawn = await session.get(Draw, 1)
        assert drawn is not None and verify(drawn.record, drawn.seed or "").ok
        assert [e["event"] for e in drawn.record["history"]] == ["declined"]
        seats = await session.scalar(select(func.count()).select_from(CouncilSeat))
        # The council as it now stands (accepted or still invited) meets the
        # original draw's quotas: the replacement filled the gap the decline left.
        root = await session.get(Draw, 1)
        standing = list(
            await session.scalars(
                select(SortitionProfile.features)
                .join(Invitation, Invitation.person_id == SortitionProfile.person_id)
                .where(Invitation.status.in_(("invited", "accepted")))
            )
        )
    assert seats == 1 and len(standing) == 5
    assert root is not None
    for quota in root.record["quotas"]:
        have = sum(1 for f in standing if f.get(quota["category"]) == quota["value"])
        assert quota["min"] <= have <= quota["max"], (quota, have)


async def test_a_forged_accept_is_refused_and_changes_nothing(demo: Chat) -> None:
    await committed_and_drawn(demo)
    (name, invitation_id, _) = (await invited(demo))[0]
    await demo.say("Dan", "/help")
    before = await snapshot(demo.core.db)
    replies = await demo.press("Dan", f"invyes:{invitation_id}")
    assert replies[0].error
    after = await snapshot(demo.core.db)
    assert {k: v for k, v in after.items() if k != "audit_log"} == {
        k: v for k, v in before.items() if k != "audit_log"
    }
    assert "you are on the council" in (await demo.press(name, f"invyes:{invitation_id}"))[0].text


async def test_reminders_then_silence_counts_as_no(demo: Chat) -> None:
    await committed_and_drawn(demo)
    db, settings = demo.core.db, demo.core.settings
    start = demo.clock.now()
    # The deadline is 7 days away: reminders at 48 and 24 hours before, once each.
    for hours in (24 * 5 + 1, 24 * 5 + 2, 24 * 6 + 1):
        await invitation_sweep(db, settings, start + dt.timedelta(hours=hours))
    async with db.transaction() as session:
        keys = list(
            await session.scalars(
                select(OutboxMessage.key).where(OutboxMessage.key.like("invite-remind:%"))
            )
        )
    assert len(keys) == 10  # five people, two reminders each
    await invitation_sweep(db, settings, start + dt.timedelta(days=7, minutes=1))
    people = await invited(demo)
    assert [s for _, _, s in people[:5]] == ["expired"] * 5
    assert len(people) == 10  # five replacements invited


async def test_organisers_hear_when_nobody_is_left_to_draw(demo: Chat) -> None:
    await pool(demo, 5)
    await demo.say("Alice", f"/draw 5 {lotto(demo.clock)}")
    await demo.press("Alice", "Commit")
    await seed_by_lottery(demo)
    name, invitation_id, _ = (await invited(demo))[0]
    await demo.press(name, f"invno:{invitation_id}")
    told = [t for n, t in await demo.outbox() if n == "Alice"]
    assert any("nobody is left in the pool" in t for t in told)


async def test_a_lottery_seed_needs_two_witnesses_who_agree(demo: Chat) -> None:
    await pool(demo)
    preview = await demo.say("Alice", "/draw 3 lottery:National Lottery:2026-11-28")
    assert "entered by two witnesses" in preview[0].text and "TRIAL" not in preview[0].text
    await demo.press("Alice", "Commit")
    demo.clock.set(dt.datetime(2026, 11, 28, 21, 30, tzinfo=dt.UTC))
    replies = await demo.say("Alice", "/draw seed 1 04 11 23 35 42 58 07")
    assert "A second witness must enter the same result" in replies[0].text
    replies = await demo.say("Carol", "/draw seed 1 04 11 23 35 42 59 07")  # a typo: no draw
    assert "second witness" in replies[0].text
    replies = await demo.say("Carol", "/draw seed 1 04 11 23 35 42 58 07")
    assert "have been invited" in replies[0].text
    assert "already done" in joined(await demo.say("Alice", "/draw seed 1 1 2 3"))


async def test_only_organisers_draw_and_bad_input_changes_nothing(demo: Chat) -> None:
    await pool(demo, 3)
    replies = await demo.say("Carol", "/draw 3")
    assert replies[0].error and "Only the organisers" in replies[0].text
    assert "3 members of Frome can be drawn" in joined(await demo.say("Alice", "/draw"))
    for line, said in (
        ("/draw many", "number of seats"),
        ("/draw 9", "fewer than 9 seats"),
        ("/draw seed 99 abc", "There is no draw 99"),
    ):
        replies = await demo.say("Alice", line)
        assert replies[0].error and said in replies[0].text, (line, replies[0].text)


# --- Regional and national councils, delegations, quotas, seeds ----------------------


async def affiliate_bath(demo: Chat, members: int = 6) -> None:
    """Bath joins the party structure, with ``members`` opted-in paid-up members."""
    async with demo.core.db.transaction() as session:
        bath = await session.scalar(select(Branch).where(Branch.slug == "bath"))
        assert bath is not None
        bath.status = "affiliated"
    await add_members(
        demo,
        members,
        "Bather",
        branch_id=2,
        features=lambda i: {"gender": GENDERS[i % 3], "age": AGES[(i + 1) % 4]},
    )


async def branch_of_invited(demo: Chat) -> list[str]:
    async with demo.core.db.transaction() as session:
        rows = await session.scalars(
            select(Branch.name)
            .join(Person, Person.branch_id == Branch.id)
            .join(Invitation, Invitation.person_id == Person.id)
            .order_by(Invitation.id)
        )
        return list(rows)


async def test_a_regional_council_draws_from_every_affiliated_branch(demo: Chat) -> None:
    await pool(demo, 8)
    await affiliate_bath(demo, 8)
    refused = await demo.say("Alice", "/draw region 4")  # a branch organiser only
    assert refused[0].error and "Only the organisers of a region" in refused[0].text
    preview = await demo.say("Jo", f"/draw region 6 {lotto(demo.clock)}")
    assert "A draw of 6 for the South West regional council" in preview[0].text, joined(preview)
    assert "Pool: 16 people" in preview[0].text
    await demo.press("Jo", "Commit")
    replies = await seed_by_lottery(demo, 1, ("Jo", "Carol"))
    assert "The 6 people selected have been invited" in replies[0].text, joined(replies)
    assert set(await branch_of_invited(demo)) <= {"Frome", "Bath"}
    async with demo.core.db.transaction() as session:
        draw = await session.get(Draw, 1)
        assert draw is not None and draw.scope == "region" and draw.body == "region-council"
        assert verify(draw.record, draw.seed or "").ok
    name, invitation_id, _ = (await invited(demo))[0]
    assert "you are on the council" in (await demo.press(name, f"invyes:{invitation_id}"))[0].text
    # Frome's own organiser neither sees nor verifies the region's draw.
    assert "There is no draw 1" in joined(await demo.say("Alice", "/draw verify 1"))


async def test_a_national_council_by_a_national_admin_in_no_branch(demo: Chat) -> None:
    await pool(demo, 6)
    await affiliate_bath(demo, 6)
    refused = await demo.say("Jo", "/draw national 4")
    assert refused[0].error and "Only national organisers" in refused[0].text
    preview = await demo.say("Kai", f"/draw national 4 days=10 {lotto(demo.clock)}")
    assert "A draw of 4 for the national council" in preview[0].text, joined(preview)
    assert "10 days to answer" in preview[0].text
    await demo.press("Kai", "Commit")
    # Witnesses are members of the party's branches (Kai is in none).
    replies = await seed_by_lottery(demo, 1, ("Alice", "Carol"))
    assert "The 4 people selected have been invited" in replies[0].text, joined(replies)
    start = demo.clock.now()
    async with demo.core.db.transaction() as session:
        deadlines = set(await session.scalars(select(Invitation.respond_by)))
    # Ten days to answer, counted from the draw, not from the commitment.
    assert deadlines == {start + dt.timedelta(days=10)}


def test_delegation_seats_follow_membership_with_at_least_one_each() -> None:
    assert apportion({1: 20, 2: 8}, {1: 20, 2: 8}, 5) == {1: 4, 2: 1}
    assert apportion({1: 100, 2: 1, 3: 1}, {1: 100, 2: 1, 3: 1}, 5) == {1: 3, 2: 1, 3: 1}
    # A branch with only two people to draw sends two; the rest go elsewhere.
    assert apportion({1: 50, 2: 50}, {1: 2, 2: 50}, 10) == {1: 2, 2: 8}
    assert apportion({1: 10, 2: 10}, {1: 0, 2: 3}, 4) == {2: 3}  # nobody to draw in 1
    for seats in range(3, 30):
        given = apportion({1: 7, 2: 13, 3: 40}, {1: 99, 2: 99, 3: 99}, seats)
        assert sum(given.values()) == seats and min(given.values()) >= 1


async def test_a_delegation_draws_each_branch_separately_and_verifiably(demo: Chat) -> None:
    await pool(demo, 16)
    await affiliate_bath(demo, 5)  # with Erin, Femi and Gita: 8 members to Frome's 20
    preview = await demo.say("Jo", f"/draw delegates 5 {lotto(demo.clock)}")
    text = preview[0].text
    assert "Delegates to South West, 5 seats in all" in text, text
    assert "• Frome: 4 of" in text and "• Bath: 1 of" in text
    replies = await demo.press("Jo", "Commit")
    assert "Committed: draw 1, 2" in replies[0].text, joined(replies)
    replies = await seed_by_lottery(demo, 1, ("Jo", "Carol"))
    assert "the 2 draws of this delegation" in replies[0].text, joined(replies)
    assert sorted(await branch_of_invited(demo)) == ["Bath", "Frome", "Frome", "Frome", "Frome"]
    async with demo.core.db.transaction() as session:
        draws = list(await session.scalars(select(Draw).order_by(Draw.id)))
    assert [d.group_id for d in draws] == [1, 1] and [d.seats for d in draws] == [4, 1]
    assert all(verify(d.record, d.seed or "").ok for d in draws)
    assert draws[0].record_hash != draws[1].record_hash
    bath_name, bath_invitation = next(
        (n, i) for n, i, _ in await invited(demo) if n.startswith("Bather")
    )
    told = [t for n, t in await demo.outbox() if n == bath_name]
    assert any("the delegation of Bath to South West" in t for t in told), told
    await demo.press(bath_name, f"invyes:{bath_invitation}")
    async with demo.core.db.transaction() as session:
        seat = await session.scalar(select(CouncilSeat))
    assert seat is not None and (seat.body, seat.scope) == ("delegation-region", "branch")
    # Bath's organiser can check Bath's draw, not Frome's.
    assert "checks out" in joined(await demo.say("Erin", "/draw verify 2"))
    assert "There is no draw 1" in joined(await demo.say("Erin", "/draw verify 1"))


async def test_delegates_from_each_region_to_the_national_level(demo: Chat) -> None:
    await pool(demo, 6)
    preview = await demo.say("Kai", f"/draw delegates national 2 {lotto(demo.clock)}")
    assert "• South West: 2 of" in preview[0].text, joined(preview)
    await demo.press("Kai", "Commit")
    replies = await seed_by_lottery(demo, 1, ("Alice", "Carol"))
    assert "The 2 people selected have been invited" in replies[0].text, joined(replies)


async def test_custom_quotas_are_kept_and_bad_ones_change_nothing(demo: Chat) -> None:
    await pool(demo, 16)
    before = await snapshot(demo.core.db)
    for line, said in (
        ("/draw 4 gender=wom:9", "at most the 4 seats"),
        ("/draw 4 gender=x:1", "no single value"),
        ("/draw 4 colour=red:1", "There is no category colour"),
        ("/draw 4 days=99", "1 to 60 days"),
        ("/draw 4 lottery:National Lottery:someday", "YYYY-MM-DD"),
        ("/draw 4 beacon:drand:12", "published after now"),
        ("/draw 4 beacon:http://169.254.169.254/latest:12", "Only drand's public chains"),
        ("/draw delegates 4 gender=woman:1", "only for a council"),
    ):
        replies = await demo.say("Alice", line)
        assert replies[0].error and said in replies[0].text, (line, replies[0].text)
    after = await snapshot(demo.core.db)
    assert {k: v for k, v in after.items() if k != "audit_log"} == {
        k: v for k, v in before.items() if k != "audit_log"
    }
    preview = await demo.say("Alice", f"/draw 4 gender=woman:3 age=prefer:0 {lotto(demo.clock)}")
    assert "Quotas set by you: gender=woman 3-3, age=prefer not to say 0-0" in preview[0].text
    await demo.press("Alice", "Commit")
    async with demo.core.db.transaction() as session:
        draw = await session.get(Draw, 1)
    assert draw is not None
    woman = next(
        q for q in draw.record["quotas"] if (q["category"], q["value"]) == ("gender", "woman")
    )
    assert (woman["min"], woman["max"]) == (3, 3)
    await seed_by_lottery(demo)
    async with demo.core.db.transaction() as session:
        genders = list(
            await session.scalars(
                select(SortitionProfile.features).join(
                    Invitation, Invitation.person_id == SortitionProfile.person_id
                )
            )
        )
    assert sum(1 for f in genders if f["gender"] == "woman") == 3


async def test_organisers_are_reminded_once_on_the_lottery_day(demo: Chat) -> None:
    await pool(demo)
    await demo.say("Alice", "/draw 3 lottery:EuroMillions:2026-11-27")
    await demo.press("Alice", "Commit")
    db, settings = demo.core.db, demo.core.settings
    # Results after 22:00 in Paris: 21:00 UTC.
    await seed_sweep(db, settings, dt.datetime(2026, 11, 27, 20, 0, tzinfo=dt.UTC))
    assert not [t for _, t in await demo.outbox() if "waits for the numbers" in t]
    for hour in (21, 22):
        await seed_sweep(db, settings, dt.datetime(2026, 11, 27, hour, 1, tzinfo=dt.UTC))
    told = [n for n, t in await demo.outbox() if "waits for the numbers of EuroMillions" in t]
    assert told == ["Alice"]


async def test_the_record_is_for_the_branch_and_its_staff_only(demo: Chat) -> None:
    await pool(demo)
    await demo.say("Alice", "/draw 3 a demo seed")
    await demo.press("Alice", "Commit")
    replies = await demo.say("Carol", "/draw record 1")
    assert replies[0].file is not None and b'"record_hash"' in replies[0].file.content
    assert "There is no draw 1" in joined(await demo.say("Femi", "/draw record 1"))


async def test_the_roster_shows_who_accepted_to_the_branch_and_staff_hear(demo: Chat) -> None:
    await committed_and_drawn(demo)
    assert "Nobody has been drawn" in joined(await demo.say("Carol", "/council"))
    (first, first_id, _), (second, second_id, _) = (await invited(demo))[:2]
    await demo.press(first, f"invyes:{first_id}")
    await demo.press(second, f"invno:{second_id}")
    roster = joined(await demo.say("Carol", "/council"))
    assert roster == f"The Frome council: {first}", roster  # and so not {second}
    told = [t for n, t in await demo.outbox() if n == "Alice"]
    assert any(
        f"{first} accepted a place on the Frome council" in t and "1 of 5" in t for t in told
    )
    # Bath's people do not see Frome's roster.
    assert "Nobody has been drawn" in joined(await demo.say("Femi", "/council"))


async def test_an_invitations_deadline_is_in_the_readers_own_time_zone(demo: Chat) -> None:
    from zoneinfo import ZoneInfo

    from storage.models import Branch

    async with demo.core.db.transaction() as session:
        frome = await session.scalar(select(Branch).where(Branch.name == "Frome"))
        assert frome is not None
        frome.timezone = "Europe/Madrid"  # an hour ahead of UTC in winter
    await committed_and_drawn(demo)
    async with demo.core.db.transaction() as session:
        invitation = await session.scalar(select(Invitation).order_by(Invitation.id))
        assert invitation is not None
        texts = list(
            await session.scalars(
                select(OutboxMessage.text).where(
                    OutboxMessage.person_id == invitation.person_id,
                    OutboxMessage.text.contains("Please answer by"),
                )
            )
        )
    local = invitation.respond_by.astimezone(ZoneInfo("Europe/Madrid")).strftime("%a %d %b %H:%M")
    assert texts and f"Please answer by {local} (Europe/Madrid time)" in texts[0]
    assert "(UTC)" not in texts[0]


def test_a_draw_summary_reads_well_when_every_chance_is_equal_and_there_is_one_panel() -> None:
    from bot.draws.texts import summary_text
    from bot.kernel.i18n import translator

    record = {
        "format": "assembly-organiser/sortition/1",
        "pool": [{"id": "P1"}, {"id": "P2"}],
        "excluded": [],
        "k": 1,
        "record_hash": "ab" * 32,
        "summary": {"min_probability": "0.5", "max_probability": "0.5", "distinct_panels": 1},
    }
    text = summary_text(translator("en"), record)
    assert "Pool: 2 people; 1 seat." in text
    assert "chance of selection is 50.0%" in text and "between" not in text
    assert "1 distinct panel." in text


async def test_a_draw_not_named_asks_which(demo: Chat) -> None:
    replies = await demo.say("Alice", "/draw record")
    assert replies[0].error and "Which draw?" in replies[0].text
    assert "There is no draw ." not in replies[0].text


async def test_cancel_under_a_draw_preview_drops_it_and_a_new_preview_can_follow(
    demo: Chat,
) -> None:
    """Cancel under /draw's preview was wired to /forget's Cancel and answered "This
    button has expired". Now it drops the preview; nothing is committed or sent."""
    await pool(demo)
    await demo.say("Alice", f"/draw 5 {lotto(demo.clock)}")
    replies = await demo.press("Alice", "Cancel")
    assert not replies[0].error and "no draw was committed" in replies[0].text
    async with demo.core.db.transaction() as session:
        assert list(await session.scalars(select(Draw))) == []
    assert await invited(demo) == []
    again = await demo.say("Alice", f"/draw 5 {lotto(demo.clock)}")
    assert "chance of selection" in again[0].text
    assert (await demo.press("Alice", "Commit"))[0].text.startswith("Committed: draw")
