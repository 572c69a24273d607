"""Scale-out: several workers on one PostgreSQL database, each taking Telegram
webhook posts, one leading the scheduler and one holding the Discord gateway,
each lead passing on when its holder goes or its lock connection is killed.

The workers run in this process (``serve``, the adapters, the scheduler), each
with its own database handle, against the fake platforms over real HTTP and
WebSocket; the leads contend every 50 ms instead of every 5 s."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import aiohttp
import psycopg
import pytest
from apscheduler.events import EVENT_JOB_EXECUTED, JobExecutionEvent
from apscheduler.schedulers.base import STATE_PAUSED, STATE_RUNNING
from sqlalchemy import select

from adapters.cli import build_parser
from adapters.discord import DiscordAdapter
from adapters.scheduler import Scheduler
from bot.app import build_core, build_timed_jobs
from bot.demo.party import seed_demo
from bot.kernel.clock import FixedClock, SystemClock
from bot.kernel.config import Settings
from bot.kernel.outbox import deliver_pending, enqueue
from runtime.health import Heartbeat
from runtime.leader import LEADER_LOCK
from runtime.serve import Timing, gateway_lead, serve
from storage.db import Database
from storage.models import Meta, Person
from tests.conftest import NOW, TABLES
from tests.fake_discord import FakeDiscord
from tests.fake_telegram import FakeTelegram, free_port
from tests.helpers import link_demo_people, until

pytestmark = [pytest.mark.postgres, pytest.mark.slow]  # several workers each

FAST = Timing(takeover_every=0.05, check_every=0.05, heartbeat_every=0.1)
# Seconds a test waits for workers to be ready, a lead to pass on, a job to run:
# a guard against a hang, not what is tested (workers start slowly on a busy machine).
PATIENCE = 60.0
SECRET = "s3cret-Token"
HOOK_URL = "https://organiser.example.org/telegram"
ALICE_TG, SAM_TG, ANN_TG = 101, 201, 202
ALICE_DC = 401


@pytest.fixture
async def pg(pg_url: str) -> AsyncIterator[str]:
    """The session's PostgreSQL database, emptied and seeded with the demo party."""
    db = Database(pg_url)
    async with db.engine.begin() as conn:
        await conn.exec_driver_sql(f"TRUNCATE {TABLES} RESTART IDENTITY CASCADE")
    await seed_demo(db, Settings(), NOW)
    await db.dispose()
    yield pg_url


async def healthz(port: int) -> tuple[int, dict[str, Any]]:
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"http://127.0.0.1:{port}/healthz") as response,
    ):
        return response.status, await response.json()


async def post_raw(port: int, body: bytes, secret: str = SECRET) -> int:
    headers = {"X-Telegram-Bot-Api-Secret-Token": secret, "Content-Type": "application/json"}
    async with (
        aiohttp.ClientSession() as session,
        session.post(f"http://127.0.0.1:{port}/telegram", data=body, headers=headers) as response,
    ):
        return response.status


async def kill_backend(url: str, pid: int) -> None:
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as admin:
        await admin.execute("SELECT pg_terminate_backend(%s)", (pid,))


@dataclass
class Worker:
    port: int
    db: Database
    stop: asyncio.Event
    task: asyncio.Task[None]


@contextlib.asynccontextmanager
async def telegram_workers(url: str, tg: FakeTelegram, count: int) -> AsyncIterator[list[Worker]]:
    """``count`` workers in webhook mode, each on a port of its own, all healthy."""
    workers: list[Worker] = []
    try:
        for _ in range(count):
            port = free_port()
            settings = Settings(
                telegram_token="1:T",
                telegram_base_url=tg.base_url,
                telegram_webhook_url=HOOK_URL,
                telegram_webhook_port=port,
                telegram_secret_token=SECRET,
            )
            db, stop = Database(url), asyncio.Event()
            task = asyncio.create_task(serve(db, settings, stop=stop, timing=FAST))
            workers.append(Worker(port, db, stop, task))
        for worker in workers:

            async def healthy(port: int = worker.port) -> bool:
                with contextlib.suppress(aiohttp.ClientError):
                    return (await healthz(port))[0] == 200
                return False

            await until(healthy, f"worker on {worker.port} healthy", PATIENCE)

        # Healthy once the lock is held anywhere, which is before the one holding it
        # has written its schedule and leads: wait for that too, not for a lucky moment.
        async def one_leads() -> bool:
            reports = [(await healthz(w.port))[1] for w in workers]
            return sum(r["scheduler"]["leader_here"] for r in reports) == 1

        await until(one_leads, "one worker to lead the scheduler", PATIENCE)
        yield workers
    finally:
        for worker in workers:
            worker.stop.set()
        for worker in workers:
            await asyncio.wait_for(worker.task, PATIENCE)
            await worker.db.dispose()


async def status(url: str, capsys: pytest.CaptureFixture[str], *flags: str) -> tuple[int, str]:
    """``organiser status --db URL``: (exit status, what it printed)."""
    args = build_parser().parse_args(["status", "--db", url, *flags])
    code = await args.func(args, Settings())
    return code, capsys.readouterr().out


async def test_every_worker_takes_webhook_posts_and_one_leads(
    pg: str, capsys: pytest.CaptureFixture[str]
) -> None:
    db = Database(pg)
    await link_demo_people(db, {"Alice": ALICE_TG})
    async with FakeTelegram() as tg, telegram_workers(pg, tg, 2) as (a, b):
        hooks = tg.calls_to("setWebhook")
        assert [(h.params["url"], h.params["secret_token"]) for h in hooks] == [
            (HOOK_URL, SECRET)
        ] * 2
        sam, ann = tg.user(SAM_TG, "Sam", "sam"), tg.user(ANN_TG, "Ann", "ann")

        # Each worker answers what is posted to it; the update is handled before the 200.
        for worker, user in ((a, sam), (b, ann)):
            update = tg.text_update(user, "/help")
            assert (
                await tg.post_update(f"http://127.0.0.1:{worker.port}/telegram", update, SECRET)
                == 200
            )
            assert tg.sent_texts(user["id"])[0].startswith("Here is what you can do")

        # Forged or broken posts change nothing, and the worker goes on.
        sent = len(tg.calls_to("sendMessage"))
        forged = tg.text_update(sam, "/join Wells")
        hook = f"http://127.0.0.1:{a.port}/telegram"
        assert await tg.post_update(hook, forged) == 403
        assert await tg.post_update(hook, forged, "not-the-secret") == 403
        assert await post_raw(a.port, b"{not json") == 400
        assert await post_raw(a.port, json.dumps({"hello": "world"}).encode()) == 400
        assert await post_raw(a.port, b"[1, 2]") == 400
        assert len(tg.calls_to("sendMessage")) == sent

        # Sam joins through one worker and agrees through the other; Alice, the
        # organiser, is told by whichever worker's outbox claims the message.
        assert await tg.post_update(hook, tg.text_update(sam, "/join Frome"), SECRET) == 200
        notice = tg.last_message(SAM_TG)
        agree = notice["reply_markup"]["inline_keyboard"][0][0]["callback_data"]
        other = f"http://127.0.0.1:{b.port}/telegram"
        assert await tg.post_update(other, tg.callback_update(sam, notice, agree), SECRET) == 200
        await until(
            lambda: any("joined the Frome branch" in t for t in tg.sent_texts(ALICE_TG)),
            "Alice told",
            PATIENCE,
        )
        assert sum("joined the Frome branch" in t for t in tg.sent_texts(ALICE_TG)) == 1

        # /healthz on each: healthy, exactly one leads, and nothing about anybody.
        reports = [await healthz(w.port) for w in (a, b)]
        assert [code for code, _ in reports] == [200, 200]
        assert sorted(r["scheduler"]["leader_here"] for _, r in reports) == [False, True]
        assert all(r["scheduler"]["leader_anywhere"] for _, r in reports)
        assert all(r["adapters"] == {"telegram": "webhook"} for _, r in reports)
        assert all(r["database"] == "ok" and r["outbox"]["pending"] >= 0 for _, r in reports)
        assert "Sam" not in json.dumps(reports) and "Alice" not in json.dumps(reports)

        # `organiser status` sees both workers through their heartbeats.
        async def both_reported() -> str | None:
            code, out = await status(pg, capsys)
            return out if code == 0 and "workers seen in the last minute: 2" in out else None

        out = await until(both_reported, "two workers in `organiser status`", PATIENCE)
        assert out.count("telegram=webhook") == 2 and out.count(" leader ") == 1
        assert out.rstrip().endswith("status: healthy")

    # Stopped cleanly: their heartbeats are gone, and status says nobody runs.
    async with db.transaction() as session:
        rows = list(await session.scalars(select(Meta.key).where(Meta.key.startswith("worker:"))))
    assert rows == []
    code, out = await status(pg, capsys)
    assert code == 1 and "no worker has reported in the last minute" in out
    await db.dispose()


async def test_a_leader_whose_lock_connection_is_killed_hands_over(pg: str) -> None:
    async with FakeTelegram() as tg, telegram_workers(pg, tg, 2) as workers:
        reports = {w.port: (await healthz(w.port))[1] for w in workers}
        leader = next(w for w in workers if reports[w.port]["scheduler"]["leader_here"])
        follower = next(w for w in workers if w is not leader)
        async with await psycopg.AsyncConnection.connect(pg, autocommit=True) as admin:
            row = await (
                await admin.execute(
                    "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted"
                    " AND objid = %s AND database ="
                    " (SELECT oid FROM pg_database WHERE datname = current_database())",
                    (LEADER_LOCK,),
                )
            ).fetchone()
        assert row is not None
        await kill_backend(pg, row[0])  # as a PostgreSQL restart or a dead link would

        async def handed_over() -> bool:
            new = (await healthz(follower.port))[1]["scheduler"]["leader_here"]
            old = (await healthz(leader.port))[1]["scheduler"]["leader_here"]
            return new and not old

        await until(handed_over, "the follower to lead and the old leader to step down", PATIENCE)
        for worker in workers:
            code, report = await healthz(worker.port)
            assert code == 200 and report["scheduler"]["leader_anywhere"]


async def test_a_scheduler_that_lost_its_lock_runs_no_job(pg: str) -> None:
    dbs = [Database(pg), Database(pg)]
    runs: dict[int, list[str]] = {0: [], 1: []}
    schedulers = [
        Scheduler(db, Settings(), FixedClock(NOW), build_timed_jobs(), takeover_every=0.05)
        for db in dbs
    ]
    try:
        for index, scheduler in enumerate(schedulers):

            def ran(event: JobExecutionEvent, index: int = index) -> None:
                runs[index].append(event.job_id)

            scheduler.aps.add_listener(ran, EVENT_JOB_EXECUTED)
            await scheduler.start()
        old, new = schedulers if schedulers[0].leader else schedulers[::-1]
        assert old.leader and not new.leader
        pid = old.lock.backend_pid
        assert pid is not None
        await kill_backend(pg, pid)
        await until(lambda: new.leader and not old.leader, "a new leader", PATIENCE)
        assert old.aps.state == STATE_PAUSED and new.aps.state == STATE_RUNNING
        runs[0].clear()
        runs[1].clear()
        new.aps.modify_job("meetings", next_run_time=dt.datetime.now(dt.UTC))
        await until(
            lambda: "meetings" in runs[schedulers.index(new)], "the meetings sweep to run", PATIENCE
        )

        # The old leader keeps trying for the lead, and must not get it: wait until it
        # has asked again (on a connection of its own, not the one killed) and was refused.
        async def asked_again() -> bool:
            again = old.lock.backend_pid
            if again is None or again == pid:
                return False
            async with await psycopg.AsyncConnection.connect(pg, autocommit=True) as admin:
                row = await (
                    await admin.execute(
                        "SELECT state, query FROM pg_stat_activity WHERE pid = %s", (again,)
                    )
                ).fetchone()
            return row is not None and row[0] == "idle" and "pg_try_advisory_lock" in row[1]

        await until(asked_again, "the old leader to ask for the lead again", PATIENCE)
        assert not old.leader and old.aps.state == STATE_PAUSED
        assert runs[schedulers.index(old)] == [] and runs[schedulers.index(new)] == ["meetings"]
    finally:
        for scheduler in schedulers:
            await scheduler.stop()
        for db in dbs:
            await db.dispose()


@contextlib.asynccontextmanager
async def discord_pair(url: str, fake: FakeDiscord) -> AsyncIterator[list[DiscordAdapter]]:
    settings = Settings(discord_token="token")
    dbs = [Database(url), Database(url)]
    adapters = [
        DiscordAdapter(
            build_core(db, settings),
            settings,
            lead=gateway_lead(db, Timing(takeover_every=0.05, check_every=0.05)),
            guild_ready_timeout=0.05,
        )
        for db in dbs
    ]
    try:
        for adapter in adapters:
            await adapter.start()
        yield adapters
    finally:
        for adapter in adapters:
            await adapter.stop()
        for db in dbs:
            await db.dispose()


def live(fake: FakeDiscord) -> int:
    return sum(1 for c in fake.connections if c.live and not c.ws.closed)


async def test_one_discord_gateway_for_two_workers_and_the_standby_takes_over(pg: str) -> None:
    db = Database(pg)
    await link_demo_people(db, {"Alice": ALICE_DC}, "discord")
    async with FakeDiscord() as fake:
        fake.user(ALICE_DC, "alice")
        async with discord_pair(pg, fake) as adapters:
            assert sorted(a.state for a in adapters) == ["gateway", "standby"]
            assert live(fake) == 1 and fake.identify_count == 1
            holder = next(a for a in adapters if a.state == "gateway")
            standby = next(a for a in adapters if a is not holder)

            # The standby still delivers the outbox, over HTTP.
            async with db.transaction() as session:
                alice = await session.scalar(select(Person).where(Person.display_name == "Alice"))
                assert alice is not None
                await enqueue(
                    session, key="scale-out", person_id=alice.id, text="Hello from standby", now=NOW
                )
            report = await deliver_pending(db, {"discord": standby.transport}, SystemClock())
            assert report.sent == 1
            assert fake.messages_to(ALICE_DC)[-1]["content"] == "Hello from standby"

            # The holder goes; the standby connects and answers the next command.
            await holder.stop()
            await until(lambda: standby.state == "gateway", "the standby to take over", PATIENCE)
            assert live(fake) == 1 and fake.identify_count == 2
            record = await fake.slash(ALICE_DC, "me", guild=False)
            response = await fake.wait_response(record)
            assert "Frome" in response["data"]["content"]
    await db.dispose()


async def test_a_gateway_holder_whose_lock_connection_is_killed_leaves_the_gateway(
    pg: str,
) -> None:
    async with FakeDiscord() as fake, discord_pair(pg, fake) as adapters:
        holder = next(a for a in adapters if a.state == "gateway")
        standby = next(a for a in adapters if a is not holder)
        pid = holder.lock.backend_pid
        assert pid is not None
        await kill_backend(pg, pid)
        most = 0

        def taken_over() -> bool:
            nonlocal most
            most = max(most, live(fake))
            return standby.state == "gateway" and holder.state == "standby"

        await until(taken_over, "the gateway to move to the other worker", PATIENCE)
        assert most == 1  # never two gateway sessions at once
        assert live(fake) == 1 and fake.identify_count == 2
        live_conn = next(c for c in fake.connections if c.live and not c.ws.closed)
        assert live_conn is fake.connections[-1]


async def test_a_worker_lists_itself_until_it_stops(
    pg: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """Heartbeats: written at once, removed on a clean stop; a stale one (a
    worker that died) is not listed."""
    db, worker_db = Database(pg), Database(pg)
    died = Heartbeat(
        db,
        FixedClock(dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)),
        lambda: {"adapters": {"telegram": "webhook"}, "leader": True},
        name="gone:1",
    )
    await died.beat()
    stop = asyncio.Event()
    worker = asyncio.create_task(serve(worker_db, Settings(), stop=stop, timing=FAST))
    try:

        async def listed() -> str | None:
            code, out = await status(pg, capsys, "--json")
            return out if code == 0 else None

        body = json.loads(await until(listed, "the worker to report", PATIENCE))
        (only,) = body["workers"].values()  # not the one that died
        assert only["adapters"] == {} and only["leader"] is True
        assert body["scheduler_leader"] is True and body["problems"] == []
    finally:
        stop.set()
        await asyncio.wait_for(worker, PATIENCE)
        await worker_db.dispose()
    code, out = await status(pg, capsys)
    assert code == 1 and "no worker leads the scheduler" in out
    await db.dispose()
