"""The scheduler: time -> core calls (APScheduler 3, shared by every platform).

Jobs live in APScheduler's SQLAlchemy job store on the bot's own database, so
they survive restarts. Job functions are module-level and take ids only; they
find the running database and settings in ``_runtime``. Every job is re-added
at start-up with a stable id and ``replace_existing=True``. Defaults:
``coalesce=True`` (a backlog of missed runs fires once), ``max_instances=1``,
and a ``misfire_grace_time`` of hours (the default of one second would silently
drop a weekly reminder whose fire time passed while the process was down).

With several workers on PostgreSQL only the holder of an advisory lock runs
jobs (:class:`runtime.leader.LeaderLock`); the others start paused and take
over when the leader goes away. The reminders themselves are idempotent
(outbox keys), so a second fire queues nothing twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

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
from runtime.leader import JOBS_TABLE_LOCK, LEADER_LOCK, LeaderLock
from storage.db import Database
from storage.models import PROPOSED, Branch

log = logging.getLogger(__name__)

JOBS_TABLE = "apscheduler_jobs"
JOB_DEFAULTS = {"coalesce": True, "max_instances": 1, "misfire_grace_time": 6 * 3600}
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
