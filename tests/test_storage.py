"""Storage on both databases: migrations match the models, time stays UTC."""

from __future__ import annotations

import asyncio
import datetime as dt
import sqlite3
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection, select, text

from storage import sqlite
from storage.db import (
    BACKSTOP_PAGES,
    CHECKPOINT_EVERY,
    FOREIGN_TABLES,
    Database,
    is_ours,
    normalise_url,
)
from storage.models import Base, Meta, Person, Region
from storage.writes import claim, upsert


def _diff(connection: Connection) -> list[object]:
    context = MigrationContext.configure(
        connection, opts={"compare_type": True, "include_object": is_ours}
    )
    return list(compare_metadata(context, Base.metadata))


async def test_migrations_build_exactly_the_models(db: Database) -> None:
    async with db.engine.connect() as conn:
        assert await conn.run_sync(_diff) == []


async def test_migrations_run_down_and_up_again(db: Database) -> None:
    await db.downgrade("base")
    async with db.engine.connect() as conn:
        tables = await conn.run_sync(lambda c: c.dialect.get_table_names(c))
    assert set(tables) <= {"alembic_version", *FOREIGN_TABLES}
    await db.upgrade()
    await db.upgrade()  # idempotent
    async with db.engine.connect() as conn:
        assert await conn.run_sync(_diff) == []


async def test_times_come_back_aware_and_in_utc(db: Database) -> None:
    paris = dt.timezone(dt.timedelta(hours=1))
    written = dt.datetime(2026, 3, 29, 2, 30, tzinfo=paris)
    async with db.transaction() as session:
        session.add(Region(name="R", slug="r", created_at=written))
    async with db.transaction() as session:
        region = await session.scalar(select(Region))
    assert region is not None
    assert region.created_at == written and region.created_at.tzinfo == dt.UTC


async def test_naive_datetimes_are_refused(db: Database) -> None:
    with pytest.raises(Exception, match="naive datetime"):
        async with db.transaction() as session:
            session.add(Region(name="R", slug="r", created_at=dt.datetime(2026, 1, 1)))


async def test_a_failed_transaction_keeps_nothing(db: Database) -> None:
    with pytest.raises(RuntimeError):
        async with db.transaction() as session:
            session.add(Region(name="R", slug="r", created_at=dt.datetime.now(dt.UTC)))
            await session.flush()
            raise RuntimeError("boom")
    async with db.transaction() as session:
        assert await session.scalar(select(Region)) is None


async def test_foreign_keys_are_enforced(db: Database) -> None:
    with pytest.raises(Exception, match=r"(?i)foreign key"):
        async with db.transaction() as session:
            session.add(
                Person(
                    short_id="AAAAAA",
                    display_name="x",
                    branch_id=999,
                    created_at=dt.datetime.now(dt.UTC),
                )
            )


async def test_sqlite_runs_in_wal_mode(tmp_path: object) -> None:
    db = Database(f"sqlite:///{tmp_path}/x.db")
    await db.upgrade()
    async with db.engine.connect() as conn:
        assert (await conn.execute(text("PRAGMA journal_mode"))).scalar() == "wal"
        assert (await conn.execute(text("PRAGMA foreign_keys"))).scalar() == 1
    await db.dispose()


async def test_sqlite_checkpoints_its_log_beside_the_requests(tmp_path: Path) -> None:
    """What is committed reaches the database file itself, not only the log, although
    no commit runs the automatic checkpoint any more (its backstop is far off)."""
    path = tmp_path / "x.db"
    db = Database(f"sqlite:///{path}")
    await db.upgrade()
    try:
        async with db.engine.connect() as conn:
            backstop = (await conn.execute(text("PRAGMA wal_autocheckpoint"))).scalar()
        assert backstop == BACKSTOP_PAGES
        now = dt.datetime.now(dt.UTC)
        for n in range(2 * CHECKPOINT_EVERY):
            async with db.transaction() as session:
                session.add(Region(name=f"Region {n}", slug=f"region-{n}", created_at=now))

        def in_the_file() -> int:  # the file alone, ignoring the log
            with closing(sqlite3.connect(f"file:{path}?immutable=1", uri=True)) as conn:
                return int(conn.execute("SELECT count(*) FROM regions").fetchone()[0])

        for _ in range(3000):  # the checkpoint runs in a thread: up to 30 s
            if await asyncio.to_thread(in_the_file) >= CHECKPOINT_EVERY:
                break
            await asyncio.sleep(0.01)
        assert await asyncio.to_thread(in_the_file) >= CHECKPOINT_EVERY
    finally:
        await db.dispose()


async def test_a_checkpoint_asked_for_waits_for_the_one_running_beside(tmp_path: Path) -> None:
    """A sweep that empties the log (of what was erased) while the background
    checkpoint runs is not answered "busy": it waits its turn, and empties it."""
    path = tmp_path / "x.db"
    db = Database(f"sqlite:///{path}")
    await db.upgrade()
    try:
        async with db.transaction() as session:
            session.add(Region(name="Wessex", slug="wessex", created_at=dt.datetime.now(dt.UTC)))
        log_file = Path(f"{path}-wal")
        assert (await asyncio.to_thread(log_file.stat)).st_size > 0

        async def empty_the_log() -> Any:
            async with db.transaction() as session:
                return (await session.execute(text("PRAGMA wal_checkpoint(TRUNCATE)"))).first()

        with sqlite.CHECKPOINTS:  # as the background checkpoint holds it while it runs
            sweep = asyncio.create_task(empty_the_log())
            await asyncio.sleep(0.2)
            assert not sweep.done()
        busy, _, _ = await sweep
        assert busy == 0 and (await asyncio.to_thread(log_file.stat)).st_size == 0
    finally:
        await db.dispose()


async def test_nested_transactions_on_sqlite_fail_fast_instead_of_hanging(tmp_path: object) -> None:
    db = Database(f"sqlite:///{tmp_path}/x.db")
    await db.upgrade()
    with pytest.raises(RuntimeError, match="inside a transaction"):
        async with db.transaction(), db.transaction():
            pass
    await db.dispose()


def test_plain_urls_get_the_async_drivers() -> None:
    assert normalise_url("sqlite:///a.db") == "sqlite+aiosqlite:///a.db"
    assert normalise_url("postgresql://u:p@h/d") == "postgresql+psycopg://u:p@h/d"
    assert normalise_url("postgres://h/d") == "postgresql+psycopg://h/d"
    with pytest.raises(ValueError, match="unsupported database"):
        normalise_url("mysql://h/d")


# --- upsert and claim: the two writes every feature shares -------------------------


async def _meta(db: Database) -> dict[str, str]:
    async with db.transaction() as session:
        return {row.key: row.value for row in await session.scalars(select(Meta))}


async def test_upsert_inserts_then_keeps_or_overwrites_what_is_there(db: Database) -> None:
    async with db.transaction() as session:
        await upsert(session, Meta, {"key": "a", "value": "first"}, key=["key"])
        await upsert(session, Meta, {"key": "a", "value": "second"}, key=["key"])
    assert await _meta(db) == {"a": "first"}
    async with db.transaction() as session:
        await upsert(session, Meta, {"key": "a", "value": "third"}, key=["key"], update=["value"])
    assert await _meta(db) == {"a": "third"}


async def test_upsert_of_many_rows_adds_only_the_new_keys(db: Database) -> None:
    async with db.transaction() as session:
        await upsert(session, Meta, {"key": "a", "value": "kept"}, key=["key"])
    rows = [{"key": "a", "value": "new"}, {"key": "b", "value": "new"}]
    async with db.transaction() as session:
        await upsert(session, Meta, rows, key=["key"])
        await upsert(session, Meta, [], key=["key"])  # nothing to write is no error
    assert await _meta(db) == {"a": "kept", "b": "new"}


async def test_two_transactions_upserting_one_key_both_succeed(db: Database) -> None:
    async def write(value: str) -> None:
        async with db.transaction() as session:
            await upsert(session, Meta, {"key": "k", "value": value}, key=["key"], update=["value"])

    await asyncio.gather(write("x"), write("y"), write("z"))
    assert list(await _meta(db)) == ["k"]
    assert (await _meta(db))["k"] in {"x", "y", "z"}


async def test_a_claim_moves_a_row_once(db: Database) -> None:
    async with db.transaction() as session:
        session.add(Meta(key="code", value="unused"))
    async with db.transaction() as session:
        taken = await claim(session, Meta, Meta.key == "code", Meta.value == "unused", value="used")
        again = await claim(session, Meta, Meta.key == "code", Meta.value == "unused", value="used")
        missing = await claim(session, Meta, Meta.key == "nope", value="used")
    assert (taken, again, missing) == (True, False, False)
    assert await _meta(db) == {"code": "used"}


async def test_of_two_racing_claims_exactly_one_wins(db: Database) -> None:
    async with db.transaction() as session:
        session.add(Meta(key="seat", value="free"))

    async def take(who: str) -> bool:
        async with db.transaction() as session:
            won = await claim(session, Meta, Meta.key == "seat", Meta.value == "free", value=who)
            await asyncio.sleep(0.05)  # hold the row while the other tries
            return won

    results = await asyncio.gather(take("ann"), take("bob"))
    assert sorted(results) == [False, True]
    winner = "ann" if results[0] else "bob"
    assert await _meta(db) == {"seat": winner}


async def test_a_claim_that_would_move_several_rows_changes_nothing(db: Database) -> None:
    async with db.transaction() as session:
        session.add_all([Meta(key="a", value="open"), Meta(key="b", value="open")])
    with pytest.raises(RuntimeError, match="name one row"):
        async with db.transaction() as session:
            await claim(session, Meta, Meta.value == "open", value="closed")
    assert await _meta(db) == {"a": "open", "b": "open"}
