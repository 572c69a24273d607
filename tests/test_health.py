"""Health: GET /healthz on a worker, and `organiser status` for the deployment."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import shutil
import socket
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from sqlalchemy import select

from adapters.cli import build_parser, cmd_run, main
from adapters.cli_base import Stop
from adapters.scheduler import Scheduler
from adapters.web import start_site
from bot.app import build_timed_jobs
from bot.demo.party import seed_demo
from bot.kernel.clock import FixedClock, SystemClock
from bot.kernel.config import Settings
from bot.kernel.outbox import enqueue
from runtime.health import Health, Heartbeat, health_app
from runtime.serve import Timing, serve
from storage.db import Database
from storage.models import Person
from tests.conftest import NOW, TABLES
from tests.fake_telegram import FakeTelegram, free_port
from tests.helpers import link_demo_people

FAST = Timing(takeover_every=0.05, check_every=0.05, heartbeat_every=0.1)


async def healthz(port: int) -> tuple[int, dict[str, Any]]:
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"http://127.0.0.1:{port}/healthz") as response,
    ):
        return response.status, await response.json()


@pytest.fixture
async def sqlite_db(tmp_path: Path, sqlite_template: Path) -> AsyncIterator[Database]:
    path = tmp_path / "organiser.db"
    shutil.copy(sqlite_template, path)
    db = Database(f"sqlite:///{path}")
    yield db
    await db.dispose()


async def test_healthz_on_its_own_port_while_long_polling(sqlite_db: Database) -> None:
    db = sqlite_db
    await seed_demo(db, Settings(), NOW)
    # Someone reachable only on Discord: a Telegram-only worker leaves their message waiting.
    await link_demo_people(db, {"Carol": 403}, "discord")
    async with db.transaction() as session:
        carol = await session.scalar(select(Person).where(Person.display_name == "Carol"))
        assert carol is not None
        created = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=10)
        await enqueue(session, key="waiting", person_id=carol.id, text="Hi Carol", now=created)
    port = free_port()
    async with FakeTelegram() as tg:
        settings = Settings(telegram_token="1:T", telegram_base_url=tg.base_url, health_port=port)
        stop = asyncio.Event()
        worker = asyncio.create_task(serve(db, settings, stop=stop, timing=FAST))
        try:
            await tg.wait_for("getUpdates")
            for _ in range(200):  # the health port opens once everything has started
                try:
                    code, body = await healthz(port)
                    break
                except aiohttp.ClientConnectionError:
                    await asyncio.sleep(0.02)
            assert code == 200, body
            assert body["status"] == "ok" and body["problems"] == []
            assert body["adapters"] == {"telegram": "polling"}
            assert body["scheduler"] == {"leader_here": True, "leader_anywhere": True}
            assert body["outbox"]["pending"] == 1
            assert body["outbox"]["oldest_pending_s"] >= 600
            assert "Carol" not in json.dumps(body)
        finally:
            stop.set()
            await asyncio.wait_for(worker, 20)
    with pytest.raises(aiohttp.ClientConnectionError):
        await healthz(port)  # a stopped worker answers nothing


async def test_healthz_is_503_when_the_database_does_not_answer() -> None:
    db = Database("postgresql://nobody@127.0.0.1:1/none")
    port = free_port()
    runner = await start_site(health_app(Health(db, SystemClock())), "127.0.0.1", port)
    try:
        code, body = await healthz(port)
    finally:
        await runner.cleanup()
        await db.dispose()
    assert code == 503
    assert body["status"] == "unhealthy" and body["database"] != "ok"
    assert body["problems"][0].startswith("the database does not answer")


@pytest.mark.postgres
async def test_healthz_is_503_while_no_worker_leads(pg_url: str) -> None:
    db = Database(pg_url)
    async with db.engine.begin() as conn:
        await conn.exec_driver_sql(f"TRUNCATE {TABLES} RESTART IDENTITY CASCADE")
    scheduler = Scheduler(db, Settings(), FixedClock(NOW), build_timed_jobs(), takeover_every=0.05)
    health = Health(db, SystemClock(), scheduler=scheduler)
    port = free_port()
    runner = await start_site(health_app(health), "127.0.0.1", port)
    try:
        code, body = await healthz(port)
        assert code == 503 and body["problems"] == ["no worker leads the scheduler"]
        assert body["scheduler"] == {"leader_here": False, "leader_anywhere": False}
        await scheduler.start()
        code, body = await healthz(port)
        assert code == 200 and body["scheduler"]["leader_anywhere"] is True
    finally:
        await scheduler.stop()
        await runner.cleanup()
        await db.dispose()


async def test_a_webhook_port_already_taken_is_one_line(
    tmp_path: Path, sqlite_template: Path
) -> None:
    shutil.copy(sqlite_template, tmp_path / "organiser.db")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        async with FakeTelegram() as tg:
            settings = Settings(
                database_url=f"sqlite:///{tmp_path / 'organiser.db'}",
                telegram_token="1:T",
                telegram_base_url=tg.base_url,
                telegram_webhook_url="https://organiser.example.org/telegram",
                telegram_webhook_port=port,
                telegram_secret_token="s3cret",
            )
            with pytest.raises(Stop) as stopped:
                await cmd_run(build_parser().parse_args(["run"]), settings)
            assert not tg.calls_to("setWebhook")  # nothing promised that cannot be kept
    assert str(stopped.value).startswith(f"cannot listen on 127.0.0.1:{port}:")


async def test_status_names_a_worker_whose_adapter_is_down(
    sqlite_db: Database, capsys: pytest.CaptureFixture[str]
) -> None:
    beat = Heartbeat(
        sqlite_db,
        FixedClock(dt.datetime.now(dt.UTC)),
        lambda: {"adapters": {"telegram": "polling", "discord": "down"}, "leader": True},
        name="host-a:1",
    )
    await beat.beat()
    await beat.beat()  # an upsert: still one row
    args = build_parser().parse_args(["status", "--db", str(sqlite_db.url)])
    code = await args.func(args, Settings())
    out = capsys.readouterr().out
    assert code == 1
    assert "workers seen in the last minute: 1" in out
    assert "host-a:1  leader  discord=down telegram=polling" in out
    assert out.rstrip().endswith(
        "status: unhealthy: no worker holds the Discord gateway; discord is down on host-a:1"
    )


def test_status_of_a_missing_database_says_so_and_creates_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "organiser.db"
    assert main(["status", "--db", f"sqlite:///{missing}"]) == 1
    out = capsys.readouterr().out
    assert f"no SQLite database at {missing}" in out and "status: unhealthy" in out
    assert not missing.exists()
