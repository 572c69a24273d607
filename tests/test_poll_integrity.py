"""Polls stay honest at the edges: merges of voters, votes racing a close,
who sees results, stale previews, the national roll, and secret ballots at rest."""

from __future__ import annotations

import asyncio
import datetime as dt
import re

import pytest
from sqlalchemy import func, select, text, update

from bot.polls.casting import cast_secret
from bot.polls.closing import close
from storage.models import (
    Identity,
    MeetingRsvp,
    Person,
    Poll,
    PollVoter,
    SecretBallot,
)
from tests.helpers import Chat, confirm_link, post_poll
from tests.helpers import text as joined

TG = "telegram"


post = post_poll


async def secret_vote(demo: Chat, who: str, poll: int, option: str, platform=None):
    await demo.press(who, f"pollopen:{poll}", platform=platform)
    await demo.press(who, f"☐ {option}", platform=platform)
    return await demo.press(who, "Cast my vote", platform=platform)


async def second_carol_in_frome(demo: Chat) -> None:
    """Carol also signed up on Telegram (a newer record), in Frome with dues."""
    demo.clock.advance(dt.timedelta(days=1))
    await demo.say("Carol", "/start", platform=TG)
    await demo.press("Carol", "I agree", platform=TG)
    async with demo.core.db.transaction() as s:
        pid = await s.scalar(select(Identity.person_id).where(Identity.platform == TG))
        await s.execute(
            update(Person)
            .where(Person.id == pid)
            .values(
                branch_id=1, joined_branch_at=demo.clock.now(), dues_paid_until=dt.date(2027, 6, 1)
            )
        )


async def link_carol(demo: Chat) -> None:
    code = re.search(r"[0-9A-Z]{4}-[0-9A-Z]{4}", joined(await demo.say("Carol", "/link"))).group(0)
    await demo.say("Carol", f"/link {code}", platform=TG)
    assert "Linked" in joined(await confirm_link(demo, "Carol"))


async def test_after_a_merge_a_secret_voter_cannot_vote_again(demo: Chat):
    await second_carol_in_frome(demo)
    poll = await post(demo, "Alice", '"Elect Bob?" "Yes" "No" --secret')
    assert "secret ballot is cast" in joined(await secret_vote(demo, "Carol", poll, "No", TG))
    await link_carol(demo)  # keeps the older (console) record, whose roll row has voted=False
    again = await demo.press("Carol", f"pollopen:{poll}")
    async with demo.core.db.transaction() as s:
        ballots = await s.scalar(select(func.count()).select_from(SecretBallot))
    assert ballots == 1 and "cannot be changed" in joined(again)


async def test_a_merge_keeps_the_firm_meeting_place(demo: Chat):
    await second_carol_in_frome(demo)
    await demo.say("Alice", '/meeting in-person 2026-12-03 19:00 "Library" cap 1')
    await demo.press("Alice", "Confirm")
    await demo.press("Carol", "mtgo:1", platform=TG)  # the newer record takes the place
    assert "waiting list" in joined(await demo.press("Carol", "mtgo:1"))  # older one waits
    await link_carol(demo)
    async with demo.core.db.transaction() as s:
        answers = list(
            await s.scalars(select(MeetingRsvp.answer).where(MeetingRsvp.meeting_id == 1))
        )
    assert answers == ["going"]


async def test_two_secret_votes_in_one_open_poll_wait_for_the_close_to_merge(demo: Chat):
    await second_carol_in_frome(demo)
    poll = await post(demo, "Alice", '"Elect Bob?" "Yes" "No" --secret')
    await secret_vote(demo, "Carol", poll, "No", TG)
    await secret_vote(demo, "Carol", poll, "Yes")
    code = re.search(r"[0-9A-Z]{4}-[0-9A-Z]{4}", joined(await demo.say("Carol", "/link"))).group(0)
    refused = await demo.say("Carol", f"/link {code}", platform=TG)
    assert refused[0].error and "link them after it closes" in refused[0].text
    await demo.say("Alice", f"/poll close {poll}")
    code = re.search(r"[0-9A-Z]{4}-[0-9A-Z]{4}", joined(await demo.say("Carol", "/link"))).group(0)
    await demo.say("Carol", f"/link {code}", platform=TG)
    assert "Linked" in joined(await confirm_link(demo, "Carol"))


@pytest.mark.postgres
async def test_pg_closed_secret_ballots_share_no_transaction_with_their_voters(demo: Chat):
    if demo.core.db.is_sqlite:
        pytest.skip("PostgreSQL only")
    poll = await post(demo, "Alice", '"Elect Carol?" "Yes" "No" --secret')
    for who, opt in (("Bob", "Yes"), ("Carol", "No"), ("Jo", "Yes")):
        await secret_vote(demo, who, poll, opt)
    # Closing writes the ballots and the roll anew, in one transaction, so that
    # neither the writing transaction (xmin) nor the physical order ties a
    # ballot to its voter's roll row: each voter joins every ballot.
    await demo.say("Alice", f"/poll close {poll}")
    async with demo.core.db.engine.connect() as c:
        rows = (
            await c.execute(
                text(
                    "SELECT p.display_name, count(sb.key) FROM poll_voters pv "
                    "JOIN persons p ON p.id = pv.person_id "
                    "LEFT JOIN secret_ballots sb ON sb.xmin = pv.xmin "
                    "WHERE pv.voted GROUP BY p.display_name"
                )
            )
        ).all()
    assert sorted(rows) == [("Bob", 3), ("Carol", 3), ("Jo", 3)], f"linked: {sorted(rows)}"


@pytest.mark.postgres
async def test_pg_a_vote_racing_the_close_is_counted(demo: Chat):
    if demo.core.db.is_sqlite:
        pytest.skip("needs real concurrency")
    poll_id = await post(demo, "Alice", '"Elect Carol?" "Yes" "No" --secret')
    db, settings, now = demo.core.db, demo.core.settings, demo.clock.now()
    carol = await demo.person("Carol")

    async def close_it() -> None:
        async with db.transaction() as b:  # the organiser's /poll close meanwhile
            await close(b, settings, await b.get(Poll, poll_id), now)

    a = db.sessions()
    async with a.begin():
        poll_a = await a.get(Poll, poll_id)
        # As a vote does (bot.polls.queries.poll_for_vote): share-lock the poll.
        await a.refresh(poll_a, with_for_update={"read": True})
        assert poll_a.closed_at is None
        assert await cast_secret(a, poll_a, carol, [1], settings)
        await a.flush()
        closing = asyncio.create_task(close_it())
        await asyncio.sleep(0.3)
        assert not closing.done(), "the close must wait for the vote in progress"
    await a.close()
    await closing
    async with db.transaction() as s:
        result = (await s.get(Poll, poll_id)).result
        in_box = await s.scalar(select(func.count()).select_from(SecretBallot))
    assert result["ballots"] == in_box == 1


async def test_results_are_for_the_roll_and_its_organisers(demo: Chat):
    poll = await post(demo, "Alice", '"Expel Lee?" "Yes" "No" --live')
    await demo.press("Carol", f"pv:{poll}.0")
    r = await demo.say("Femi", f"/poll results {poll}")  # Bath member, not on the Frome roll
    assert r[0].error and "There is no poll" in r[0].text
    assert "• Yes: 1" in joined(await demo.say("Carol", f"/poll results {poll}"))


async def test_a_preview_posted_after_its_closing_time_is_refused(demo: Chat):
    r = await demo.say("Alice", '/poll "Q?" "A" "B" --closes today 13:00')
    assert r[0].text.startswith("Preview"), joined(r)
    demo.clock.advance(dt.timedelta(hours=2))
    r = await demo.press("Alice", "Post it")
    assert r[0].error and "closing time has passed" in r[0].text


async def test_a_national_everyone_poll_leaves_out_guests(demo: Chat):
    await demo.say("Zed", "/start")
    await demo.press("Zed", "I agree")  # a guest: no branch, no dues
    poll = await post(demo, "Kai", '"Conference?" "March" "April" --scope national --everyone')
    async with demo.core.db.transaction() as s:
        names = set(
            await s.scalars(
                select(Person.display_name)
                .join(PollVoter, PollVoter.person_id == Person.id)
                .where(PollVoter.poll_id == poll)
            )
        )
    assert "Zed" not in names, "a guest who only pressed /start is on the national roll"
