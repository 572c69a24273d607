"""Storage on both databases: migrations match the models, time stays UTC."""

from __future__ import annotations

import datetime as dt

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection, select, text

from storage.db import FOREIGN_TABLES, Database, is_ours, normalise_url
from storage.models import Base, Person, Region


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
