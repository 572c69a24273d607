"""The scheduler: jobs persist in the database, missed runs fire once, one leader."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import pickle
import secrets
import shutil
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg
import pytest
from apscheduler.events import EVENT_JOB_EXECUTED, JobExecutionEvent
from apscheduler.job import Job
from apscheduler.schedulers.base import STATE_RUNNING, STATE_STOPPED
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from apscheduler.util import datetime_to_utc_timestamp

from adapters.scheduler import Scheduler, timed_job
from bot.app import build_core, build_timed_jobs
from bot.demo.party import seed_demo
from bot.kernel.clock import FixedClock
from bot.kernel.config import Settings
from bot.kernel.timed import Sweep, TimedJobs
from runtime.leader import LeaderLock
from storage.db import Database
from tests.conftest import NOW
from tests.helpers import Chat, until


@pytest.fixture
async def sqlite_db(tmp_path: Path, sqlite_template: Path) -> Database:
    path = tmp_path / "organiser.db"
    shutil.copy(sqlite_template, path)
    db = Database(f"sqlite:///{path}")
    await seed_demo(db, Settings(), NOW)
    return db


async def test_jobs_are_stored_once_and_survive_a_restart(sqlite_db: Database) -> None:
    first = Scheduler(sqlite_db, Settings(), FixedClock(NOW), build_timed_jobs())
    await first.start()
    stored = {job.id: job.next_run_time for job in first.aps.get_jobs()}
    first.aps.add_job(timed_job, "interval", minutes=1, id="tick", kwargs={"job": "tick"})
    await first.stop()
    # Every timed job is a job of its own: each sweep once, and each branch's
    # reminders for Frome and Bath (active or affiliated), none for Wells, only
    # proposed.
    assert sorted(stored) == [
        "assembly-invitations",
        "assembly-retention",
        "campaign:1",
        "campaign:2",
        "canvass-core",
        "dues-renewals",
        "dues-weekly:1",
        "dues-weekly:2",
        "evening:1",
        "evening:2",
        "invitations",
        "meetings",
        "polls",
        "refresh",
        "retention",
        "roundup:1",
        "roundup:2",
        "seeds",
    ]
    second = Scheduler(sqlite_db, Settings(), FixedClock(NOW), build_timed_jobs())
    await second.start()
    jobs = {job.id: job for job in second.aps.get_jobs()}
    await second.stop()
    await sqlite_db.dispose()
    # The same jobs, kept as they were stored (not added anew: their next runs are
    # unchanged), none twice; a job no longer in the table (an older version's
    # "tick") is gone.
    assert {job_id: job.next_run_time for job_id, job in jobs.items()} == stored
    monday = jobs["roundup:1"].next_run_time
    assert monday.weekday() == 0 and (monday.hour, monday.minute) == (18, 0)
    assert str(monday.tzinfo) == "Europe/London"


async def test_a_run_missed_while_down_fires_once_after_a_restart(sqlite_db: Database) -> None:
    friday_evening = dt.datetime(2026, 11, 27, 18, 0, tzinfo=dt.UTC)
    before = Scheduler(sqlite_db, Settings(), FixedClock(friday_evening), build_timed_jobs())
    await before.start()
    before.aps.pause()
    # The evening reminder was due an hour ago, and then the process went down.
    missed = dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)
    before.aps.modify_job("evening:1", next_run_time=missed)
    await before.stop()

    after = Scheduler(sqlite_db, Settings(), FixedClock(friday_evening), build_timed_jobs())
    runs: list[str] = []
    done = asyncio.Event()

    def executed(event: JobExecutionEvent) -> None:
        runs.append(event.job_id)
        if event.job_id == "evening:1":
            done.set()

    after.aps.add_listener(executed, EVENT_JOB_EXECUTED)
    await after.start()
    await asyncio.wait_for(done.wait(), 10)
    await asyncio.sleep(0.3)  # room for a (wrong) second run to show itself
    next_run = after.aps.get_job("evening:1").next_run_time
    await after.stop()
    await sqlite_db.dispose()
    assert runs.count("evening:1") == 1
    assert next_run > dt.datetime.now(dt.UTC)  # and it is scheduled on as before


async def stand_in(*args: int) -> None:
    """What a row names until it is rewritten as the previous version's function."""


def store_as_the_previous_version(
    scheduler: Scheduler, job_id: str, func: str, trigger: Any, args: list[int], due: dt.datetime
) -> None:
    """A row as the version before one job per timed job (3171fa3) stored it: the
    pickled state of an APScheduler job naming one of its functions, which no
    longer exist, with its defaults (6 hours' grace)."""
    job = Job(
        scheduler.aps,
        id=job_id,
        func=stand_in,
        trigger=trigger,
        executor="default",
        args=args,
        kwargs={},
        name=func.rsplit(":", 1)[1],
        misfire_grace_time=6 * 3600,
        coalesce=True,
        max_instances=1,
        next_run_time=due,
    )
    state = job.__getstate__() | {"func": func}
    with scheduler.store.engine.begin() as conn:
        conn.execute(
            scheduler.store.jobs_t.insert().values(
                id=job_id,
                next_run_time=datetime_to_utc_timestamp(due),
                job_state=pickle.dumps(state, scheduler.store.pickle_protocol),
            )
        )


async def test_the_first_start_after_an_upgrade_replaces_the_old_jobs_quietly(
    sqlite_db: Database, caplog: pytest.LogCaptureFixture
) -> None:
    friday_evening = dt.datetime(2026, 11, 27, 18, 0, tzinfo=dt.UTC)
    scheduler = Scheduler(sqlite_db, Settings(), FixedClock(friday_evening), build_timed_jobs())
    await asyncio.to_thread(scheduler._create_table)
    now = dt.datetime.now(dt.UTC)
    # The evening reminder fell due an hour ago, while the upgrade was under way.
    due = {"evening": now - dt.timedelta(hours=1), "roundup": now + dt.timedelta(days=2)}
    due["campaign"] = now + dt.timedelta(hours=3)
    for name, when in (("tick", IntervalTrigger(minutes=1)), ("refresh", IntervalTrigger(hours=1))):
        store_as_the_previous_version(
            scheduler, name, f"adapters.scheduler:{name}_job", when, [], now
        )
    for branch in (1, 2):
        for name in ("roundup", "campaign", "evening"):
            store_as_the_previous_version(
                scheduler,
                f"{name}:{branch}",
                f"adapters.scheduler:{name}_job",
                CronTrigger(hour=18, timezone="Europe/London"),
                [branch],
                due[name],
            )
    runs: list[str] = []
    scheduler.aps.add_listener(lambda e: runs.append(e.job_id), EVENT_JOB_EXECUTED)
    caplog.set_level(logging.DEBUG)
    await scheduler.start()
    try:
        await until(lambda: "evening:1" in runs, "the reminder missed during the upgrade")
        await asyncio.sleep(0.3)  # room for a (wrong) second run to show itself
        jobs = [job.id for job in scheduler.aps.get_jobs()]
        with scheduler.store.engine.begin() as conn:
            rows = conn.execute(scheduler.store.jobs_t.select()).all()
    finally:
        await scheduler.stop()
        await sqlite_db.dispose()
    assert [r for r in caplog.records if r.levelno >= logging.WARNING or r.exc_info] == []
    assert "Traceback" not in caplog.text
    upgrade = [r.getMessage() for r in caplog.records if "older version" in r.getMessage()]
    assert upgrade == ["scheduler: removed 8 jobs an older version stored"]
    planned = {item.id for item in await build_timed_jobs().plan(sqlite_db, Settings())}
    assert sorted(jobs) == sorted(planned | {"refresh"})  # each once, "tick" gone
    assert {pickle.loads(row.job_state)["func"] for row in rows} == {"adapters.scheduler:timed_job"}
    assert runs.count("evening:1") == 1 and runs.count("evening:2") == 1
    assert not {"roundup:1", "campaign:1"} & set(runs)  # not yet due: not run


@pytest.mark.postgres
async def test_only_one_worker_leads_and_another_takes_over(pg_url: str) -> None:
    db_a, db_b = Database(pg_url), Database(pg_url)
    a = Scheduler(db_a, Settings(), FixedClock(NOW), build_timed_jobs(), takeover_every=0.05)
    b = Scheduler(db_b, Settings(), FixedClock(NOW), build_timed_jobs(), takeover_every=0.05)
    await a.start()
    await b.start()
    try:
        assert a.leader and a.aps.state == STATE_RUNNING
        # Every timed job is scheduled on the leader; the follower starts nothing.
        planned = {item.id for item in await build_timed_jobs().plan(db_a, Settings())}
        assert {job.id for job in a.aps.get_jobs()} == planned | {"refresh"}
        assert not b.leader and b.aps.state == STATE_STOPPED and b.aps.get_jobs() == []
        await a.stop()  # the leader goes away
        for _ in range(100):
            if b.leader:
                break
            await asyncio.sleep(0.05)
        assert b.leader and b.aps.state == STATE_RUNNING
    finally:
        await b.stop()
        await a.stop()
        await db_a.dispose()
        await db_b.dispose()


@pytest.mark.postgres
@pytest.mark.slow  # two schedulers waiting for a reminder to fall due
async def test_two_workers_on_postgresql_fire_a_reminder_once(pg_url: str) -> None:
    admin_url = pg_url.rsplit("/", 1)[0] + "/postgres"
    name = f"organiser_sched_{secrets.token_hex(4)}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = admin_url.rsplit("/", 1)[0] + f"/{name}"
    friday_evening = dt.datetime(2026, 11, 27, 18, 0, tzinfo=dt.UTC)
    dbs = [Database(url), Database(url)]
    try:
        await dbs[0].upgrade()
        await seed_demo(dbs[0], Settings(), NOW)
        chat = Chat(build_core(dbs[0], Settings(), clock=FixedClock(NOW)), FixedClock(NOW))
        await chat.say("Alice", "/canvass schedule saturday 10:30 Market Cross")
        await chat.say("Carol", "/canvass")
        await chat.press("Carol", "Sign up 1")
        runs: list[str] = []
        workers = [
            Scheduler(
                db, Settings(), FixedClock(friday_evening), build_timed_jobs(), takeover_every=0.05
            )
            for db in dbs
        ]
        for worker in workers:
            worker.aps.add_listener(lambda e: runs.append(e.job_id), EVENT_JOB_EXECUTED)
            await worker.start()
        leader, follower = workers if workers[0].leader else workers[::-1]
        assert leader.leader and not follower.leader
        leader.aps.modify_job("evening:1", next_run_time=dt.datetime.now(dt.UTC))
        # Generous bounds: a loaded CI machine is slow, never wrong.
        await until(lambda: "evening:1" in runs, "the leader fires the reminder", within=60)
        await leader.stop()  # the follower takes over, and must not fire it again
        await until(lambda: follower.leader, "the follower takes over", within=60)
        await asyncio.sleep(0.3)
        await follower.stop()
        assert runs.count("evening:1") == 1
        reminders = [t for n, t in await chat.outbox() if t.startswith("Reminder:")]
        assert len(reminders) == 1
    finally:
        for db in dbs:
            await db.dispose()
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def test_round_up_and_reminder_times_come_from_the_config(sqlite_db: Database) -> None:
    settings = Settings(roundup_day="sunday", roundup_time="19:30", reminder_time="17:05")
    scheduler = Scheduler(sqlite_db, settings, FixedClock(NOW), build_timed_jobs())
    await scheduler.start()
    jobs = {job.id: job.next_run_time for job in scheduler.aps.get_jobs()}
    await scheduler.stop()
    await sqlite_db.dispose()
    assert (jobs["roundup:1"].weekday(), jobs["roundup:1"].hour, jobs["roundup:1"].minute) == (
        6,
        19,
        30,
    )
    assert (jobs["evening:1"].hour, jobs["evening:1"].minute) == (17, 5)


class InstantLockConnection:
    """A lock's PostgreSQL connection that answers every statement at once (yes,
    the lock is ours) and, when told, has something happen the moment a statement
    completes: the instant at which, on Python 3.11, ``asyncio.wait_for`` lost
    the cancellation of the task waiting in it."""

    def __init__(self) -> None:
        self.closed = False
        self.statements: list[str] = []
        self.then: Callable[[], object] | None = None

    async def execute(self, statement: str, params: Any = None) -> InstantLockConnection:
        self.statements.append(statement)
        if self.then is not None:
            then, self.then = self.then, None
            asyncio.get_running_loop().call_soon(then)
        return self

    async def fetchone(self) -> tuple[bool]:
        return (True,)

    async def close(self) -> None:
        self.closed = True


async def test_a_lead_stopped_as_a_check_of_its_lock_completes_stops(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The hang of a whole test run: stopping a worker's lead never waits for good,
    even when the stop lands just as the lead's connection answers."""
    conn = InstantLockConnection()

    async def connect(*args: object, **kwargs: object) -> InstantLockConnection:
        return conn

    monkeypatch.setattr(psycopg.AsyncConnection, "connect", connect)
    db = Database("postgresql://organiser@127.0.0.1:1/organiser")  # never reached
    events: list[str] = []

    async def gained() -> None:
        events.append("gained")

    async def lost() -> None:
        events.append("lost")

    lock = LeaderLock(db, 1, "test", on_gain=gained, on_lose=lost, check_every=0.01)
    assert await lock.start()
    stopping: list[asyncio.Task[None]] = []
    conn.then = lambda: stopping.append(asyncio.ensure_future(lock.stop()))
    await until(lambda: stopping, "a check of the lock")
    try:
        await asyncio.wait_for(asyncio.shield(stopping[0]), 5)
    except TimeoutError:
        raise AssertionError("stop() still waits 5 s after it was called") from None
    assert conn.closed and not lock.held and not lock.leading  # the lock is given back
    checks = len(conn.statements)
    await asyncio.sleep(0.1)
    assert len(conn.statements) == checks  # and nothing goes on asking for it
    assert events == ["gained"]
    await db.dispose()


async def test_a_job_that_fails_or_is_slow_holds_up_no_other(
    sqlite_db: Database, caplog: pytest.LogCaptureFixture
) -> None:
    ran: list[str] = []
    release = asyncio.Event()

    async def fails(db: Database, settings: Settings, now: dt.datetime) -> None:
        ran.append("fails")
        raise RuntimeError("broken")

    async def slow(db: Database, settings: Settings, now: dt.datetime) -> None:
        ran.append("slow")
        await release.wait()  # a beacon that takes its time to answer
        ran.append("slow done")

    async def works(db: Database, settings: Settings, now: dt.datetime) -> None:
        ran.append("works")

    jobs = TimedJobs([Sweep("fails", fails), Sweep("slow", slow), Sweep("works", works)])
    scheduler = Scheduler(sqlite_db, Settings(), FixedClock(NOW), jobs)
    await scheduler.start()
    try:
        assert {job.id for job in scheduler.aps.get_jobs()} == {"fails", "slow", "works", "refresh"}
        for name in ("slow", "fails"):
            scheduler.aps.modify_job(name, next_run_time=dt.datetime.now(dt.UTC))
        await until(lambda: {"slow", "fails"} <= set(ran), "the slow and the failing job to start")
        scheduler.aps.modify_job("works", next_run_time=dt.datetime.now(dt.UTC))
        await until(lambda: "works" in ran, "the third job to run while the slow one waits")
        assert "slow done" not in ran
        # The failure is logged by the job's name, and the job stays scheduled.
        failed = [r for r in caplog.records if r.name == "bot.kernel.timed" and r.exc_info]
        assert [r.getMessage() for r in failed] == ["timed job fails failed"]
        assert scheduler.aps.get_job("fails").next_run_time > dt.datetime.now(dt.UTC)
        release.set()
        await until(lambda: "slow done" in ran, "the slow job to finish")
    finally:
        await scheduler.stop()
        await sqlite_db.dispose()


async def test_writing_the_schedule_leaves_the_worker_free_meanwhile(
    sqlite_db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """APScheduler's job store commits each job synchronously: on a busy database a
    leader writing its schedule stalled its worker's whole loop (webhook posts,
    Telegram calls timing out, lead checks). A job being written here waits until
    the loop has turned meanwhile, which it can only if the write is not on it."""
    scheduler = Scheduler(sqlite_db, Settings(), FixedClock(NOW), build_timed_jobs())
    add_job = scheduler.store.add_job
    writing, loop_turned = threading.Event(), threading.Event()

    def slow_add(job: Job) -> None:
        writing.set()
        if not loop_turned.wait(timeout=30):  # a guard against a hang, not a stopwatch
            raise AssertionError("the asyncio loop stood still while a job was written")
        add_job(job)

    monkeypatch.setattr(scheduler.store, "add_job", slow_add)
    starting = asyncio.create_task(scheduler.start())
    try:
        await until(writing.is_set, "the schedule to be written", 60)
        loop_turned.set()
        await starting
        assert scheduler.leader
        assert {"refresh", "meetings", "roundup:1"} <= {job.id for job in scheduler.aps.get_jobs()}
    finally:
        loop_turned.set()
        await scheduler.stop()
