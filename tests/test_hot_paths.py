"""The hot paths (a /join, a vote, a canvassing sign-up) take the statements they
need and no more: bench/core_throughput.py measures how fast they are; here a
change that quietly adds a trip to the database fails, on both databases. Each
reads the person and its first row in one statement (a prefetch), and a press that
row does not match is still answered as before."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import event

from storage.db import Database
from tests.helpers import Chat, post_poll, text


@contextmanager
def statements(db: Database) -> Iterator[list[str]]:
    """The SQL statements run meanwhile (not BEGIN and COMMIT)."""
    seen: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, *rest: Any) -> None:
        seen.append(" ".join(statement.split())[:120])

    event.listen(db.engine.sync_engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(db.engine.sync_engine, "before_cursor_execute", record)


async def test_a_join_takes_three_statements(demo: Chat) -> None:
    await demo.signup("Zed")  # consented, in no branch
    await demo.say("Zed", "/help")  # seen now: the request refreshes nothing
    with statements(demo.core.db) as seen:
        replies = await demo.say("Zed", "/join Bath")
    assert "Welcome to the Bath branch" in replies[0].text, text(replies)
    # The person with the branch by its name, the move, the message to its organisers.
    assert len(seen) == 3, seen


async def test_a_vote_takes_three_statements(demo: Chat) -> None:
    poll = await post_poll(demo, "Alice", '"Paint the office?" "Yes" "No"')
    await demo.say("Carol", "/help")
    with statements(demo.core.db) as seen:
        replies = await demo.press("Carol", f"pv:{poll}.0")
    assert "Your vote is recorded: Yes." in replies[0].text, text(replies)
    # The person with the poll, its time zone and the voter's place; the ballot; the roll.
    assert len(seen) == 3, seen


async def test_a_canvassing_sign_up_takes_two_statements(demo: Chat) -> None:
    await demo.say("Alice", "/canvass schedule saturday 10:30 Market Cross 8")
    await demo.say("Carol", "/canvass")
    with statements(demo.core.db) as seen:
        replies = await demo.press("Carol", "Sign up 1")
    assert "You're signed up" in replies[0].text, text(replies)
    # The person with the session (locked) and its branch; the sign-up, given the
    # places taken (counted by the INSERT itself).
    assert len(seen) == 2, seen


async def test_a_press_whose_prefetch_finds_nothing_is_answered_as_before(demo: Chat) -> None:
    """The person and the row come in one statement; when it finds no row (no such
    poll, another branch's session, someone not yet agreed), the person is looked
    up alone and the handler says why, as it did."""
    poll = await post_poll(demo, "Alice", '"Paint the office?" "Yes" "No"')
    await demo.say("Alice", "/canvass schedule saturday 10:30 Market Cross 8")
    await demo.say("Carol", "/canvass")
    sign_up = demo.button("Carol", "Sign up")

    assert "expired" in text(await demo.press("Carol", f"pv:{poll + 1000}.0"))
    assert "expired" in text(await demo.press("Femi", sign_up))  # Bath's, not Frome's
    assert "/start" in text(await demo.press("Stranger", f"pv:{poll}.0"))
    assert "/start" in text(await demo.press("Stranger", sign_up))
    # Erin is on Frome's poll's roll nowhere: a forged press, told nothing either.
    assert "expired" in text(await demo.press("Erin", f"pv:{poll}.0"))

    # Nothing was cast or taken: Carol votes and signs up as the first.
    assert "Your vote is recorded: Yes." in text(await demo.press("Carol", f"pv:{poll}.0"))
    assert "You're signed up" in text(await demo.press("Carol", sign_up))


async def test_a_join_of_a_place_that_is_no_branch_name_still_searches(demo: Chat) -> None:
    await demo.signup("Zed")
    await demo.signup("Yan")
    # No branch's name is BA2: the statement with the person finds none, the search does.
    assert "Welcome to the Bath branch" in text(await demo.say("Zed", "/join BA2"))
    assert "Welcome to the Bath branch" in text(await demo.say("Yan", "/join bath"))
    assert "No branch covers Atlantis" in text(await demo.say("Zed", "/join Atlantis"))
