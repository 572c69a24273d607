"""Fixtures: every database test runs on SQLite and on a real PostgreSQL server.

PostgreSQL is reached at ``ORGANISER_TEST_PG`` (default: the local server,
trust auth). Each test session creates its own throwaway database there and
migrates it once; each test starts from empty tables. Where no PostgreSQL is
reachable its tests are skipped with the reason, except under ``CI=true``,
where they are mandatory and fail instead.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import random
import secrets
import shutil
import socket
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psycopg
import pytest

from bot.app import build_core
from bot.kernel.clock import FixedClock
from bot.kernel.config import Settings
from bot.kernel.core import Core
from storage.db import Database
from storage.models import Base
from tests.helpers import Chat

PG_ADMIN_URL = os.environ.get("ORGANISER_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
NOW = dt.datetime(2026, 11, 26, 12, 0, tzinfo=dt.UTC)
# Seals secret ballots in tests (PostgreSQL has no default key: bot.polls.ballot_box).
BALLOT_KEY = "dGVzdHMgc2VhbCBzZWNyZXQgYmFsbG90cywgaz0zMiE="


@pytest.fixture(autouse=True)
def no_internet(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests never reach the internet: any connection off this machine fails loudly."""
    real_connect = socket.socket.connect

    def guarded(self: socket.socket, address: object) -> object:
        host = address[0] if isinstance(address, tuple) else address
        if isinstance(host, str) and not (
            host.startswith("127.") or host in ("::1", "localhost") or self.family == socket.AF_UNIX
        ):
            raise RuntimeError(f"a test tried to reach {host}: tests never use the network")
        return real_connect(self, address)  # type: ignore[arg-type]

    monkeypatch.setattr(socket.socket, "connect", guarded)


async def _upgrade(url: str) -> None:
    db = Database(url)
    await db.upgrade()
    await db.dispose()


def _migrate(url: str) -> None:
    """Migrate in a thread of its own: session fixtures may be set up inside a running loop."""
    with ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, _upgrade(url)).result()


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    try:
        admin = psycopg.connect(PG_ADMIN_URL, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as exc:
        reason = f"PostgreSQL is not reachable at {PG_ADMIN_URL}: {str(exc).strip()}"
        if IN_CI:
            pytest.fail(f"{reason} (under CI=true the PostgreSQL tests are mandatory)")
        pytest.skip(reason)
    name = f"organiser_test_{os.getpid()}_{secrets.token_hex(3)}"
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    url = PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    _migrate(url)
    yield url
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "organiser.db"
    _migrate(f"sqlite:///{path}")
    return path


TABLES = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
async def db(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Database]:
    if request.param == "sqlite":
        path = tmp_path / "organiser.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        database = Database(f"sqlite:///{path}")
    else:
        database = Database(request.getfixturevalue("pg_url"))
        async with database.engine.begin() as conn:
            await conn.exec_driver_sql(f"TRUNCATE {TABLES} RESTART IDENTITY CASCADE")
    yield database
    await database.dispose()


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(NOW)


@pytest.fixture
def settings() -> Settings:
    return Settings(party_name="Test Party", polls_ballot_key=BALLOT_KEY)


@pytest.fixture
def core(db: Database, settings: Settings, clock: FixedClock) -> Core:
    return build_core(db, settings, clock=clock, rng=random.Random(7))


@pytest.fixture
def chat(core: Core, clock: FixedClock) -> Chat:
    return Chat(core, clock)


@pytest.fixture
async def demo(chat: Chat) -> Chat:
    """The demo party (Frome affiliated, Bath active, Wells proposed; Alice..Kai)."""
    from bot.demo.party import seed_demo

    await seed_demo(chat.core.db, chat.core.settings, chat.clock.now())
    return chat
