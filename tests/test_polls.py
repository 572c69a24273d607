"""Polls: every kind end to end through the core, who may vote, one vote each,
secret ballots, closing once, reminders, results."""

from __future__ import annotations

import asyncio
import datetime as dt
import random

import pytest
from sqlalchemy import func, inspect, select, text

from bot.kernel.messages import Reply
from bot.kernel.outbox import deliver_pending
from bot.polls.sweeps import poll_sweep
from storage.models import Ballot, OutboxMessage, Person, Poll, PollVoter, SecretBallot
from tests.helpers import Chat, RecordingTransport, add_members, confirm_link, post_poll, snapshot
from tests.helpers import text as joined

TG = "telegram"


post = post_poll


async def vote(
    demo: Chat, who: str, poll: int, option: int, platform: str | None = None
) -> list[Reply]:
    return await demo.press(who, f"pv:{poll}.{option}", platform=platform)


async def roll(demo: Chat, poll: int) -> set[str]:
    async with demo.core.db.transaction() as session:
        return set(
            await session.scalars(
                select(Person.display_name)
                .join(PollVoter, PollVoter.person_id == Person.id)
                .where(PollVoter.poll_id == poll)
            )
        )


async def test_a_single_choice_poll_from_preview_to_result(demo: Chat) -> None:
    replies = await demo.say(
        "Alice", '/poll "Meet on Tuesdays?" "Yes" "No" --closes 2026-12-01 20:00'
    )
    preview = replies[0].text
    assert "Who votes: the 4 members with current dues of Frome, as of now." in preview
    assert "Closes: Tue 01 Dec 2026 20:00 (Europe/London)." in preview
    assert replies[0].private
    await demo.press("Alice", "Post it")
    poll = 1
    assert await roll(demo, poll) == {"Alice", "Bob", "Carol", "Jo"}
    # Frome has no linked chat: each voter got the poll privately, with its buttons.
    told = {name for name, t in await demo.outbox() if t.startswith("Poll: Meet on Tuesdays?")}
    assert told == {"Bob", "Carol", "Jo"}
    assert "Your vote is recorded: Yes." in (await vote(demo, "Carol", poll, 0))[0].text
    await vote(demo, "Bob", poll, 1)
    replies = await vote(demo, "Bob", poll, 0)
    assert "Your vote is changed to: Yes." in replies[0].text
    # Results stay hidden until the poll closes (it is not --live).
    assert "when the poll closes" in joined(await demo.say("Carol", f"/poll results {poll}"))
    replies = await demo.say("Alice", f"/poll close {poll}")
    assert "• Yes: 2" in replies[0].text and "• No: 0" in replies[0].text
    assert "Decided: Yes." in replies[0].text
    assert replies[0].file is not None and replies[0].file.content.startswith(b"\x89PNG")
    assert "closed on" in (await vote(demo, "Jo", poll, 1))[0].text
    async with demo.core.db.transaction() as session:
        assert await session.scalar(select(func.count()).select_from(Ballot)) == 2


async def test_poll_alone_lists_ones_open_polls_soonest_first(demo: Chat) -> None:
    later = await post(demo, "Alice", '"Meet on Tuesdays?" "Yes" "No" --closes 2026-12-20 20:00')
    sooner = await post(demo, "Alice", '"Leaflet Saturday?" "Yes" "No" --closes 2026-12-10 20:00')
    await vote(demo, "Carol", later, 0)
    lines = joined(await demo.say("Carol", "/poll")).splitlines()
    assert lines[0] == "Open polls:"
    assert lines[1].startswith("1. Leaflet Saturday? · Thu 10 Dec 2026 20:00")
    assert lines[1].endswith("not voted yet")
    assert lines[2].startswith("2. Meet on Tuesdays? · Sun 20 Dec 2026 20:00")
    assert lines[2].endswith("you voted ✓")
    await demo.say("Alice", f"/poll close {sooner}")
    lines = joined(await demo.say("Carol", "/poll")).splitlines()
    assert lines[1:] == [lines[1]] and lines[1].startswith("1. Meet on Tuesdays?")
    await demo.say("Alice", f"/poll close {later}")
    assert "There are no open polls for you right now." in joined(await demo.say("Carol", "/poll"))


async def test_approval_and_ranked_ballots_are_built_privately(demo: Chat) -> None:
    multi = await post(demo, "Alice", '"Which nights?" "Mon" "Tue" "Wed" --multi')
    replies = await demo.press("Carol", f"pollopen:{multi}")
    assert replies[0].private and "Choose all you support." in replies[0].text
    await demo.press("Carol", "☐ Mon")
    await demo.press("Carol", "☐ Wed")
    replies = await demo.press("Carol", "Cast my vote")
    assert "Your vote is recorded: Mon, Wed." in replies[0].text

    ranked = await post(demo, "Alice", '"Branch name?" "Red" "Green" "Blue" --ranked')
    ballots = {"Alice": "Red Blue", "Bob": "Green Blue", "Carol": "Blue Green", "Jo": "Blue Red"}
    for who, order in ballots.items():
        await demo.press(who, f"pollopen:{ranked}")
        for option in order.split():
            await demo.press(who, option)
        assert "Your vote is recorded" in (await demo.press(who, "Cast my vote"))[0].text
    result = (await demo.say("Alice", f"/poll close {ranked}"))[0].text
    # First preferences Blue 2, Red 1, Green 1; Green goes (fewer... tie with Red broken
    # by option order: the later-listed Green), Bob's ballot moves to Blue: Blue wins.
    assert "Round 1: Green eliminated" in result
    assert "Decided: Blue." in result


async def test_a_ranked_polls_chart_shows_the_rounds_that_decided_it(demo: Chat) -> None:
    """Not first preferences only, where Blue and Red look level with Green."""
    from bot.polls.rules import chart_series

    ranked = await post(demo, "Alice", '"Branch name?" "Red" "Green" "Blue" --ranked')
    ballots = {"Alice": "Red Blue", "Bob": "Green Blue", "Carol": "Blue Green", "Jo": "Blue Red"}
    for who, order in ballots.items():
        await demo.press(who, f"pollopen:{ranked}")
        for option in order.split():
            await demo.press(who, option)
        await demo.press(who, "Cast my vote")
    closed = (await demo.say("Alice", f"/poll close {ranked}"))[0]
    assert closed.file is not None and closed.file.content.startswith(b"\x89PNG")
    async with demo.core.db.transaction() as session:
        poll = await session.get(Poll, ranked)
        assert poll is not None and poll.result is not None
        series = chart_series(poll, poll.result)
    assert [number for number, _ in series] == [1, 2]
    assert series[0][1] == [1, 1, 2]  # first preferences: Red, Green, Blue
    assert series[-1][1][2] == 3 and series[-1][1][1] == 0  # Blue wins; Green is out


async def test_clear_empties_a_ballot_with_one_option_ticked(demo: Chat) -> None:
    """Clear is a button of its own, not the ticked option's untick under another label."""
    for line in ('"Which nights?" "Mon" "Tue" --multi', '"Elect Carol?" "Yes" "No" --secret'):
        poll = await post(demo, "Alice", line)
        await demo.press("Carol", f"pollopen:{poll}")
        first, second = ("Mon", "Tue") if "--multi" in line else ("Yes", "No")
        ticked = (await demo.press("Carol", f"☐ {first}"))[0]
        labels = [b.label for b in ticked.button_list()]
        assert f"☑ {first}" in labels and "Clear" in labels
        cleared = (await demo.press("Carol", "Clear"))[0]
        assert [b.label for b in cleared.button_list()] == [f"☐ {first}", f"☐ {second}"]
        await demo.press("Carol", f"☐ {second}")
        cast = (await demo.press("Carol", "Cast my vote"))[0].text
        assert "Your vote is recorded: Tue." in cast or "secret ballot is cast" in cast


async def test_a_meeting_time_poll_lists_times_in_local_time(demo: Chat) -> None:
    replies = await demo.say(
        "Alice", '/poll "When can you meet?" "2026-12-03 19:00" "next tue 18:30" --times'
    )
    assert "1. 2026-12-01 18:30" in replies[0].text and "2. 2026-12-03 19:00" in replies[0].text
    bad = await demo.say("Alice", '/poll "When?" "2026-02-30 19:00" "tomorrow 19:00" --times')
    assert bad[0].error and "no such day as 30/2/2026" in bad[0].text


async def test_a_meeting_time_poll_closes_before_its_earliest_time(demo: Chat) -> None:
    """Not after its own options have passed, which would offer a meeting in the past."""
    # Now is Thu 26 Nov 2026 12:00 London; the earliest option is Fri 27 Nov 19:00.
    replies = await demo.say(
        "Alice", '/poll "When can you meet?" "2026-11-27 19:00" "2026-12-04 19:00" --times'
    )
    assert "Closes: Thu 26 Nov 2026 19:00 (Europe/London)." in replies[0].text, replies[0].text
    replies = await demo.say(
        "Alice",
        '/poll "When?" "2026-12-03 19:00" "2026-12-04 19:00" --times --closes 2026-12-02 12:00',
    )
    assert "Closes: Wed 02 Dec 2026 12:00 (Europe/London)." in replies[0].text
    late = await demo.say(
        "Alice",
        '/poll "When?" "2026-12-03 19:00" "2026-12-04 19:00" --times --closes 2026-12-03 20:00',
    )
    assert late[0].error and "must close before its earliest time" in late[0].text


async def test_closing_a_meeting_time_poll_schedules_the_meeting(demo: Chat) -> None:
    poll = await post(
        demo, "Alice", '"When can you meet?" "2026-12-03 19:00" "2026-12-04 19:00" --times'
    )
    for who, nights in (("Bob", "Thu Fri"), ("Carol", "Fri"), ("Jo", "Fri")):
        await demo.press(who, f"pollopen:{poll}")
        for night in nights.split():
            await demo.press(who, f"☐ {night}")
        await demo.press(who, "Cast my vote")
    closed = (await demo.say("Alice", f"/poll close {poll}"))[0]
    assert "Decided: Fri 04 Dec 19:00." in closed.text
    await demo.press("Alice", "Schedule a meeting")
    replies = await demo.say("Alice", '/meeting "Library, Market St" "Branch meeting"')
    assert "Fri 4 Dec 2026, 19:00 (Europe/London)" in replies[0].text, replies[0].text
    await demo.press("Alice", "Confirm")
    listing = (await demo.say("Carol", "/meetings"))[0].text
    assert "Branch meeting" in listing and "4 Dec" in listing


@pytest.mark.parametrize(
    ("name", "why"),
    [
        ("Dan", "Only members with current dues vote"),  # a supporter
        ("Lee", "Only members with current dues vote"),  # dues lapsed
        ("Femi", "This button has expired"),  # Bath: told nothing about Frome's poll
    ],
)
async def test_who_may_not_vote_is_told_why_and_nothing_changes(
    demo: Chat, name: str, why: str
) -> None:
    poll = await post(demo, "Alice", '"Yes or no?" "Yes" "No"')
    await demo.say(name, "/help")  # (their last-seen time is refreshed now, not below)
    before = await snapshot(demo.core.db)
    replies = await vote(demo, name, poll, 0)
    assert replies[0].error and replies[0].private and why in replies[0].text
    after = await snapshot(demo.core.db)
    assert {k: v for k, v in after.items() if k != "audit_log"} == {
        k: v for k, v in before.items() if k != "audit_log"
    }


async def test_the_roll_is_fixed_when_the_poll_opens(demo: Chat) -> None:
    poll = await post(demo, "Alice", '"Yes or no?" "Yes" "No"')
    # Someone who joins afterwards, even paying dues at once, has no vote.
    demo.clock.advance(dt.timedelta(minutes=5))
    await demo.signup("Zoe", "Frome")
    await demo.say("Bob", "/dues zoe 2027-12-31")
    replies = await vote(demo, "Zoe", poll, 0)
    assert "you joined after that" in replies[0].text
    # Dues running out during the poll take no vote away: Bob's end in 6 months,
    # so move the clock past them.
    demo.clock.advance(dt.timedelta(days=200))
    async with demo.core.db.transaction() as session:
        await session.execute(
            Poll.__table__.update().values(closes_at=demo.clock.now() + dt.timedelta(days=1))
        )
    assert "recorded" in (await vote(demo, "Bob", poll, 0))[0].text


async def test_everyone_lets_supporters_vote(demo: Chat) -> None:
    poll = await post(demo, "Alice", '"Name the newsletter?" "Frome Voice" "The Cross" --everyone')
    assert "Dan" in await roll(demo, poll)
    assert "recorded" in (await vote(demo, "Dan", poll, 1))[0].text


async def test_linked_accounts_have_one_vote_even_at_the_same_instant(demo: Chat) -> None:
    code = (await demo.say("Carol", "/link"))[0].text.split()[4].rstrip(".")
    await demo.say("Carol", f"/link {code}", platform=TG)
    assert "Linked" in joined(await confirm_link(demo, "Carol"))
    poll = await post(demo, "Alice", '"Yes or no?" "Yes" "No"')
    await asyncio.gather(vote(demo, "Carol", poll, 0), vote(demo, "Carol", poll, 1, TG))
    async with demo.core.db.transaction() as session:
        ballots = list(await session.scalars(select(Ballot.choice).where(Ballot.poll_id == poll)))
    assert len(ballots) == 1 and ballots[0] in ([0], [1])


async def test_a_secret_ballot_is_cast_once_and_cannot_be_traced(demo: Chat) -> None:
    poll = await post(demo, "Alice", '"Elect Carol as delegate?" "Yes" "No" --secret')
    for who, option in (("Bob", "Yes"), ("Carol", "No"), ("Jo", "Yes")):
        await demo.press(who, f"pollopen:{poll}")
        await demo.press(who, f"☐ {option}")
        assert "secret ballot is cast" in (await demo.press(who, "Cast my vote"))[0].text
    again = await demo.press("Bob", f"pollopen:{poll}")
    assert again[0].error and "cannot be changed" in again[0].text
    forged = await demo.press("Bob", f"pc:{poll}.2")
    assert forged[0].error and "cannot be changed" in forged[0].text
    assert "when the poll closes" in joined(await demo.say("Alice", f"/poll results {poll}"))
    audit = (await demo.say("Alice", f"/poll audit {poll}"))[0].text
    assert "4 on the roll, 3 have voted, 3 ballots in the box." in audit
    # The rows themselves: the ballots hold no person, no time, no sequence; the
    # roll holds no time.
    async with demo.core.db.engine.connect() as conn:

        def columns(sync_conn, table: str) -> set[str]:  # type: ignore[no-untyped-def]
            return {c["name"] for c in inspect(sync_conn).get_columns(table)}

        assert await conn.run_sync(columns, "secret_ballots") == {"key", "poll_id", "sealed"}
        assert await conn.run_sync(columns, "poll_voters") == {
            "id",
            "poll_id",
            "person_id",
            "voted",
        }
        keys = list(await conn.scalars(select(SecretBallot.key)))
        assert len(keys) == 3 and all(len(k) == 32 and int(k, 16) >= 0 for k in keys)
        if demo.core.db.is_sqlite:
            with pytest.raises(Exception, match="rowid"):
                await conn.execute(text("SELECT rowid FROM secret_ballots"))
    result = (await demo.say("Alice", f"/poll close {poll}"))[0].text
    assert "• Yes: 2" in result and "• No: 1" in result


async def test_bad_poll_lines_get_a_clear_answer_and_change_nothing(demo: Chat) -> None:
    await demo.say("Alice", "/help")
    before = await snapshot(demo.core.db)
    for line, said in (
        ('"Unclosed', "quotation mark is missing"),
        ('"Only one?" "Yes"', "at least two options"),
        ('"Q?" "A" "B" --weird', "don't know the option --weird"),
        ('"Q?" "A" "B" --secret --live', "cannot be --live"),
        ('"Q?" "A" "B" --closes yesterday 10:00', "--closes"),
        ('"Q?" "A" "A"', "Two options are the same"),
        ('"Q?" "A" "B" --multi --ranked', "Choose one of"),
    ):
        replies = await demo.say("Alice", f"/poll {line}")
        assert replies[0].error and said in replies[0].text, (line, replies[0].text)
    after = await snapshot(demo.core.db)
    assert {k: v for k, v in after.items() if k != "audit_log"} == {
        k: v for k, v in before.items() if k != "audit_log"
    }


async def test_only_organisers_post_and_the_attempt_is_audited(demo: Chat) -> None:
    replies = await demo.say("Carol", '/poll "Q?" "A" "B"')
    assert replies[0].error and "Only the organisers of the Frome branch" in replies[0].text
    replies = await demo.say("Alice", '/poll "Q?" "A" "B" --scope national')
    assert replies[0].error and "national" in replies[0].text
    replies = await demo.say("Kai", '/poll "Conference date?" "March" "April" --scope national')
    assert "Who votes: the 8 members with current dues of the whole party" in replies[0].text


async def test_the_deadline_closes_once_and_non_voters_are_reminded_once(demo: Chat) -> None:
    await demo.say("Alice", "/linkchat", group="frome-group")
    poll = await post(demo, "Alice", '"Yes or no?" "Yes" "No" --closes 2026-11-28 12:00')
    await vote(demo, "Carol", poll, 0)
    settings, db = demo.core.settings, demo.core.db
    # More than a day before the close: nothing.
    await poll_sweep(db, settings, demo.clock.now() + dt.timedelta(hours=20))
    # Within a day of it, twice: those who have not voted are reminded, once.
    for _ in range(2):
        await poll_sweep(db, settings, demo.clock.now() + dt.timedelta(hours=25))
    reminded = [n for n, t in await demo.outbox() if t.startswith("A reminder: the poll")]
    assert sorted(reminded) == ["Alice", "Bob", "Jo"]
    for _ in range(2):
        await poll_sweep(db, settings, demo.clock.now() + dt.timedelta(days=2, minutes=1))
    async with db.transaction() as session:
        closed = await session.get(Poll, poll)
        assert closed is not None and closed.closed_at is not None
        assert closed.result is not None and closed.result["counts"] == [1, 0]
        results = list(
            await session.scalars(
                select(OutboxMessage).where(OutboxMessage.key.like(f"pollresult:{poll}:%"))
            )
        )
    # The result went to the linked group chat with its chart, and to the poster.
    chat_rows = [r for r in results if r.branch_chat_id is not None]
    assert len(chat_rows) == 1 and chat_rows[0].file_data is not None
    assert chat_rows[0].file_data.startswith(b"\x89PNG")
    group = RecordingTransport("console")
    await deliver_pending(db, {"console": group}, demo.clock)
    assert any(t.startswith("Results: Yes or no?") for _, t in group.sent)


async def test_export_is_for_organisers_and_has_totals_only(demo: Chat) -> None:
    poll = await post(demo, "Alice", '"Yes or no?" "Yes" "No" --live')
    await vote(demo, "Carol", poll, 1)
    assert "• No: 1" in (await demo.press("Carol", f"pollres:{poll}"))[0].text
    refused = await demo.say("Carol", f"/poll export {poll}")
    assert refused[0].error
    replies = await demo.say("Alice", f"/poll export {poll}")
    csv_text = replies[0].file.content.decode() if replies[0].file else ""
    assert "No,1" in csv_text and "Carol" not in csv_text


@pytest.mark.slow  # hundreds of voters at once
async def test_hundreds_of_simultaneous_votes_tally_to_the_truth(demo: Chat) -> None:
    """On PostgreSQL truly concurrent; on SQLite, serialised by the database lock."""
    await add_members(demo, 300, "Voter")
    poll = await post(demo, "Alice", '"Which?" "A" "B" "C"')
    rng = random.Random(5)
    presses = []
    for i in range(1, 301):
        who = f"Voter {i}"
        first = rng.randrange(3)
        presses.append((who, first))
        if rng.random() < 0.3:  # a repeat or a change of mind, sent at the same time
            presses.append((who, rng.randrange(3)))
    rng.shuffle(presses)
    results = await asyncio.gather(*(vote(demo, who, poll, option) for who, option in presses))
    assert all(not r[0].error for r in results)
    async with demo.core.db.transaction() as session:
        rows = list(
            await session.execute(
                select(Ballot.person_id, Ballot.choice).where(Ballot.poll_id == poll)
            )
        )
        names = {
            pid: name for pid, name in await session.execute(select(Person.id, Person.display_name))
        }
    assert len(rows) == 300  # one ballot each, however many presses
    final = {names[pid]: choice[0] for pid, choice in rows}
    # Each final choice is one the person actually pressed.
    pressed: dict[str, set[int]] = {}
    for who, option in presses:
        pressed.setdefault(who, set()).add(option)
    assert all(final[w] in pressed[w] for w in final)
    truth = {str(o): sum(1 for c in final.values() if c == o) for o in range(3)}
    result = (await demo.say("Alice", f"/poll close {poll}"))[0].text
    for option, label in enumerate("ABC"):
        assert f"• {label}: {truth[str(option)]}" in result


async def test_the_audit_counts_read_well_for_one_voter(demo: Chat) -> None:
    poll = await post(demo, "Alice", '"Elect Carol as delegate?" "Yes" "No" --secret')
    await demo.press("Bob", f"pollopen:{poll}")
    await demo.press("Bob", "☐ Yes")
    await demo.press("Bob", "Cast my vote")
    audit = (await demo.say("Alice", f"/poll audit {poll}"))[0].text
    assert "1 has voted, 1 ballot in the box." in audit
