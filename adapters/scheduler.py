"""The scheduler: time -> core calls (APScheduler 3, shared by every platform).

Jobs live in APScheduler's SQLAlchemy job store on the bot's own database, so
they survive restarts. Job functions are module-level and take ids only; they
find the running database and settings in ``_runtime``. Every job is re-added
at start-up with a stable id and ``replace_existing=True``. Defaults:
``coalesce=True`` (a backlog of missed runs fires once), ``max_instances=1``,
and a ``misfire_grace_time`` of hours (the default of one second would silently
drop a weekly reminder whose fire time passed while the process was down).

With several workers on PostgreSQL only the holder of an advisory lock runs
jobs; the others start paused and take over when the leader goes away. The
reminders themselves are idempotent (outbox keys), so a second fire queues
nothing twice.

:class:`LeaderLock` is that lead, reusable (the Discord gateway has one too): a
session-level advisory lock held on a connection of its own, so that it goes
when the holder's session ends (the process died, the connection was killed,
PostgreSQL restarted). The leader checks that connection every few seconds
and, the moment it is found broken, stops acting as leader (``on_lose``) before
contending again; a worker taking over waits two such checks before it acts,
so that two leaders do not act at the same time. On SQLite (one process) the
lock is always held.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import psycopg
from apscheduler.jobstores.base import ConflictingIdError
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy import select

from bot.clock import Clock
from bot.config import Settings
from bot.reminders import campaign_roundup, evening_before, weekly_roundup
from bot.sweeps import run_sweeps
from storage.db import Database
from storage.models import PROPOSED, Branch

log = logging.getLogger(__name__)

JOBS_TABLE = "apscheduler_jobs"
JOB_DEFAULTS = {"coalesce": True, "max_instances": 1, "misfire_grace_time": 6 * 3600}
LEADER_LOCK = 0x0A55E3B1  # the advisory lock key of the scheduler leader
GATEWAY_LOCK = 0x0A55E3B2  # ... and of the one worker connected to the Discord gateway
JOBS_TABLE_LOCK = 0x0A55E3B3  # held while a worker creates APScheduler's table
CAMPAIGN = {"hour": 9, "minute": 0}  # the daily round-up while a campaign runs


@dataclass
class _Runtime:
    db: Database
    settings: Settings
    clock: Clock


_runtime: _Runtime | None = None


def _services() -> _Runtime:
    if _runtime is None:
        raise RuntimeError("the scheduler's job ran before the scheduler started")
    return _runtime


async def roundup_job(branch_id: int) -> None:
    rt = _services()
    await weekly_roundup(rt.db, rt.settings, rt.clock.now(), branch_id)


async def campaign_job(branch_id: int) -> None:
    rt = _services()
    await campaign_roundup(rt.db, rt.settings, rt.clock.now(), branch_id)


async def evening_job(branch_id: int) -> None:
    rt = _services()
    await evening_before(rt.db, rt.settings, rt.clock.now(), branch_id)


async def tick_job() -> None:
    """Once a minute: meetings' reminders, polls' closes and the like."""
    rt = _services()
    await run_sweeps(rt.db, rt.settings, rt.clock.now())


async def refresh_job() -> None:
    """New branches get their jobs within the hour."""
    if _scheduler is not None:
        await _scheduler.sync_jobs()


_scheduler: Scheduler | None = None


def sync_url(db: Database) -> str:
    """The same database for APScheduler's (synchronous) job store."""
    url = db.url
    if db.is_sqlite:
        url = url.set(drivername="sqlite")
    return url.render_as_string(hide_password=False)


LOCK_TIMEOUT = 5.0  # seconds for any one round trip on a lock's connection


class LeaderLock:
    """One PostgreSQL advisory lock, contended for and watched in the background.

    ``start()`` tries once and, if it won, leads at once (``on_gain``). Then a
    task keeps going: a leader runs ``SELECT 1`` on the lock's connection every
    ``check_every`` seconds and asks ``able()`` (if given) whether it can still
    do the leader's work; either failing, it steps down (``on_lose``), closes
    the connection (freeing the lock, if the server still had it) and contends
    again. A follower tries every ``retry_every`` seconds; having won, it waits
    ``grace`` (two checks) before it acts, so that a leader whose session ended
    without its knowing has found out and stepped down first.
    """

    def __init__(
        self,
        db: Database,
        key: int,
        name: str,
        *,
        on_gain: Callable[[], Awaitable[None]],
        on_lose: Callable[[], Awaitable[None]],
        able: Callable[[], bool] | None = None,
        retry_every: float = 5.0,
        check_every: float = 5.0,
    ) -> None:
        self.db = db
        self.key = key
        self.name = name
        self.on_gain = on_gain
        self.on_lose = on_lose
        self.able = able
        self.retry_every = retry_every
        self.check_every = check_every
        self.held = False  # the lock is ours
        self.leading = False  # ... and on_gain has run: this worker acts as leader
        self._conn: psycopg.AsyncConnection[Any] | None = None
        self._task: asyncio.Task[None] | None = None

    @property
    def grace(self) -> float:
        return 0.0 if self.db.is_sqlite else 2 * self.check_every

    @property
    def backend_pid(self) -> int | None:
        """The PostgreSQL backend holding (or asking for) the lock, if any."""
        return None if self._conn is None or self._conn.closed else self._conn.info.backend_pid

    async def start(self) -> bool:
        """Try for the lead once (if ``on_gain`` raises, the lock is given back and
        the error raised), then keep watching. Whether this worker leads."""
        if await self._attempt():
            try:
                await self._lead()
            except BaseException:
                self.held = self.leading = False
                await self._close()
                raise
        self._task = asyncio.create_task(self._run(), name=f"{self.name} lead")
        return self.leading

    async def stop(self) -> None:
        """Stop watching and let go of the lock (``on_lose`` is the caller's to do)."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        self.held = self.leading = False
        await self._close()

    async def _run(self) -> None:
        while True:
            if self.held:
                await asyncio.sleep(self.check_every)
                problem = await self._problem()
                if problem is not None:
                    log.warning("%s: %s; stepping down", self.name, problem)
                    await self._step_down()
                continue
            await asyncio.sleep(self.retry_every)
            if not await self._attempt():
                continue
            await asyncio.sleep(self.grace)
            if not await self._still_held():
                await self._step_down()
                continue
            try:
                await self._lead()
            except Exception:
                log.exception("%s: could not take up the lead; giving it up", self.name)
                await self._step_down()

    async def _problem(self) -> str | None:
        if not await self._still_held():
            return "lost the lock (its database connection broke)"
        if self.leading and self.able is not None and not self.able():
            return "cannot do the leader's work here"
        return None

    async def _lead(self) -> None:
        self.leading = True
        log.info("%s: this worker leads", self.name)
        await self.on_gain()

    async def _step_down(self) -> None:
        leading = self.leading
        self.held = self.leading = False
        if leading:
            try:
                await self.on_lose()
            except Exception:
                log.exception("%s: error while stepping down", self.name)
        await self._close()

    async def _attempt(self) -> bool:
        if self.db.is_sqlite:
            self.held = True  # one process: always the leader
            return True
        try:
            conn = await self._connection()
            cursor = await asyncio.wait_for(
                conn.execute("SELECT pg_try_advisory_lock(%s)", (self.key,)), LOCK_TIMEOUT
            )
            row = await cursor.fetchone()
        except (psycopg.Error, OSError, TimeoutError) as exc:
            log.warning("%s: could not ask for the lead: %s", self.name, exc)
            await self._close()
            return False
        self.held = bool(row and row[0])
        return self.held

    async def _connection(self) -> psycopg.AsyncConnection[Any]:
        if self._conn is not None and not self._conn.closed:
            return self._conn
        url = self.db.url.set(drivername="postgresql").render_as_string(hide_password=False)
        conn: psycopg.AsyncConnection[Any] = await asyncio.wait_for(
            psycopg.AsyncConnection.connect(
                url, autocommit=True, connect_timeout=int(LOCK_TIMEOUT)
            ),
            LOCK_TIMEOUT,
        )
        self._conn = conn
        return conn

    async def _still_held(self) -> bool:
        if self.db.is_sqlite:
            return True
        conn = self._conn
        if conn is None or conn.closed:
            return False
        try:
            await asyncio.wait_for(conn.execute("SELECT 1"), LOCK_TIMEOUT)
        except (psycopg.Error, OSError, TimeoutError):
            return False
        return True

    async def _close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None and not conn.closed:
            with contextlib.suppress(psycopg.Error, OSError, TimeoutError):
                await asyncio.wait_for(conn.close(), LOCK_TIMEOUT)  # the lock goes with it


class Scheduler:
    def __init__(
        self,
        db: Database,
        settings: Settings,
        clock: Clock,
        *,
        takeover_every: float = 5.0,
        check_every: float | None = None,
    ) -> None:
        """``takeover_every``: how often a follower tries for the lead;
        ``check_every`` (by default the same): how often the leader checks it."""
        self.db = db
        self.settings = settings
        self.clock = clock
        options: dict[str, Any] = {"hide_parameters": True}  # no bound value in an error
        if db.is_sqlite:
            options["connect_args"] = {"timeout": 10}  # wait for the bot's own writes
        self.store = store = SQLAlchemyJobStore(
            url=sync_url(db), tablename=JOBS_TABLE, engine_options=options
        )
        self.aps = AsyncIOScheduler(
            jobstores={"default": store}, job_defaults=JOB_DEFAULTS, timezone=dt.UTC
        )
        self.lock = LeaderLock(
            db,
            LEADER_LOCK,
            "scheduler",
            on_gain=self._lead,
            on_lose=self._follow,
            retry_every=takeover_every,
            check_every=check_every or takeover_every,
        )
        self.leader = False  # whether this worker runs the jobs (the last it knew, once stopped)

    async def start(self) -> None:
        global _runtime, _scheduler
        _runtime = _Runtime(self.db, self.settings, self.clock)
        _scheduler = self
        # APScheduler creates its table at start (CREATE TABLE, checked first): two
        # workers starting at once on a new database would both create it.
        await asyncio.to_thread(self._create_table)
        self.aps.start(paused=True)
        await self.sync_jobs()
        if not await self.lock.start():
            log.info("scheduler: another worker leads; waiting to take over")

    async def stop(self) -> None:
        global _scheduler
        await self.lock.stop()  # the lock goes: another worker may take over
        if self.aps.running:
            self.aps.shutdown(wait=False)
        if _scheduler is self:
            _scheduler = None

    async def _lead(self) -> None:
        self.leader = True
        if self.aps.running:
            self.aps.resume()

    async def _follow(self) -> None:
        """Stop acting as leader at once: no job starts here until the lead is back."""
        self.leader = False
        if self.aps.running:
            self.aps.pause()

    def _create_table(self) -> None:
        with self.store.engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({JOBS_TABLE_LOCK})")
            self.store.jobs_t.create(conn, checkfirst=True)

    async def sync_jobs(self) -> None:
        """(Re-)add each branch's jobs under stable ids; idempotent."""
        async with self.db.transaction() as session:
            branches = list(await session.scalars(select(Branch).where(Branch.status != PROPOSED)))
        roundup_hour, roundup_minute = map(int, self.settings.roundup_time.split(":"))
        evening_hour, evening_minute = map(int, self.settings.reminder_time.split(":"))
        roundup = {
            "day_of_week": self.settings.roundup_day[:3],
            "hour": roundup_hour,
            "minute": roundup_minute,
        }
        evening = {"hour": evening_hour, "minute": evening_minute}
        jobs: list[tuple[str, Callable[[int], Awaitable[None]], dict[str, Any]]] = [
            ("roundup", roundup_job, roundup),
            ("campaign", campaign_job, CAMPAIGN),
            ("evening", evening_job, evening),
        ]
        for branch in branches:
            for name, job, when in jobs:
                self._keep(
                    job,
                    CronTrigger(timezone=branch.timezone, **when),
                    f"{name}:{branch.id}",
                    branch.id,
                )
        for job_id, func, every in (
            ("refresh", refresh_job, IntervalTrigger(hours=1)),
            ("tick", tick_job, IntervalTrigger(minutes=1)),
        ):
            if self.aps.get_job(job_id) is None:
                with contextlib.suppress(ConflictingIdError):  # another worker added it just now
                    self.aps.add_job(func, every, id=job_id)

    def _keep(
        self, job: Callable[[int], Awaitable[None]], trigger: CronTrigger, job_id: str, arg: int
    ) -> None:
        """Add the job, or replace it if its schedule changed. An unchanged job is left
        alone, so that a run it missed while the process was down (its stored
        next run time, now in the past) still fires, once."""
        existing = self.aps.get_job(job_id)
        if existing is not None and repr(existing.trigger) == repr(trigger):
            return
        self.aps.add_job(job, trigger, id=job_id, args=[arg], replace_existing=True)
