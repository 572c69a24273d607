"""The hot paths (a /join, a vote, a canvassing sign-up) take the statements they
need and no more: bench/core_throughput.py measures how fast they are; here a
change that quietly adds a trip to the database fails, on both databases."""

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


async def test_a_join_takes_four_statements(demo: Chat) -> None:
    await demo.signup("Zed")  # consented, in no branch
    await demo.say("Zed", "/help")  # seen now: the request refreshes nothing
    with statements(demo.core.db) as seen:
        replies = await demo.say("Zed", "/join Bath")
    assert "Welcome to the Bath branch" in replies[0].text, text(replies)
    # The person, the branch by its name, the move, the message to its organisers.
    assert len(seen) == 4, seen


async def test_a_vote_takes_four_statements(demo: Chat) -> None:
    poll = await post_poll(demo, "Alice", '"Paint the office?" "Yes" "No"')
    await demo.say("Carol", "/help")
    with statements(demo.core.db) as seen:
        replies = await demo.press("Carol", f"pv:{poll}.0")
    assert "Your vote is recorded: Yes." in replies[0].text, text(replies)
    # The person; the poll with its time zone and the voter's place; the ballot; the roll.
    assert len(seen) == 4, seen


async def test_a_canvassing_sign_up_takes_four_statements(demo: Chat) -> None:
    await demo.say("Alice", "/canvass schedule saturday 10:30 Market Cross 8")
    await demo.say("Carol", "/canvass")
    with statements(demo.core.db) as seen:
        replies = await demo.press("Carol", "Sign up 1")
    assert "You're signed up" in replies[0].text, text(replies)
    # The person; the session (locked) with the branch; the places taken; the sign-up.
    assert len(seen) == 4, seen
