"""The scheduler: the core's timed jobs as APScheduler 3 jobs, run by the worker that leads.

The core declares its timed jobs as data (:mod:`bot.kernel.timed`) and the composition
root hands their table here. When this worker takes the lead, and every hour
after (new branches, changed settings), the table's plan becomes one
APScheduler job per planned job, under its stable id, in APScheduler's
SQLAlchemy job store on the bot's own database, so that the schedule survives
restarts. A job whose schedule is unchanged is left alone (a run it missed
while the process was down still fires, once), one whose schedule changed is
replaced, one no longer planned is removed. No rule of which jobs exist or when
lives here: :meth:`bot.kernel.timed.TimedJobs.plan` gives them.

A persistent store keeps a job's function as a textual reference, and a
module-level function could reach the running database only through
module-global state. So a stored job names :func:`timed_job` (never called)
with its job's name and branch as arguments, and this scheduler's own
executor (:class:`_Runner`) runs it through the table this scheduler holds:
two schedulers in one process (the tests' workers) each run their own.
A stored job that names anything else was stored by an older version (its
functions are gone, so APScheduler could not load it): each sync removes such
jobs first, quietly, and a run of one that fell due while the process was down
(the upgrade) is kept by the job that replaces it under the same id.

Job settings: ``coalesce=True`` (a backlog of missed runs fires once) and
``max_instances=1`` (a job still running when it is due again skips that run).
Each job runs in an asyncio task of its own, so a slow one (a beacon's fetch)
delays no other, and one that fails is logged by its name while the others run
on. How late a missed run may still start (``misfire_grace_time``) is the
core's: however late for a sweep, 6 hours for a branch's reminder.

With several workers on PostgreSQL only the holder of an advisory lock writes
the schedule and runs it (:class:`runtime.leader.LeaderLock`); a follower
starts nothing until it takes over, and a leader that loses the lock pauses at
once. The jobs are idempotent (outbox keys, conditional updates), so a second
fire does nothing twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import pickle
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from apscheduler.executors.asyncio import AsyncIOExecutor
from apscheduler.job import Job
from apscheduler.jobstores.base import ConflictingIdError, JobLookupError
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from apscheduler.util import obj_to_ref, utc_timestamp_to_datetime
from sqlalchemy import select

from bot.kernel.clock import Clock
from bot.kernel.config import Settings
from bot.kernel.timed import At, Every, Planned, TimedJobs
from runtime.leader import JOBS_TABLE_LOCK, LEADER_LOCK, LeaderLock
from storage.db import Database

log = logging.getLogger(__name__)

JOBS_TABLE = "apscheduler_jobs"
JOB_DEFAULTS = {"coalesce": True, "max_instances": 1}
REFRESH = Planned("refresh", "refresh", Every(60))  # new branches get their jobs within the hour


async def timed_job(job: str, branch: int | None = None) -> None:
    """The function a stored job names: never called, the scheduler that loads the
    job runs it (see the module's docstring)."""
    raise RuntimeError(f"timed job {job} ran outside its scheduler")


OWN = obj_to_ref(timed_job)  # what every job this version stores names


class _Runner(AsyncIOExecutor):
    """APScheduler's asyncio executor, running each job through ``run``: one
    scheduler's own, holding what its jobs need."""

    def __init__(self, run: Callable[..., Awaitable[None]]) -> None:
        super().__init__()
        self._run = run

    def _do_submit_job(self, job: Job, run_times: list[dt.datetime]) -> None:
        job.func = self._run  # this load of the job only: the store keeps timed_job
        super()._do_submit_job(job, run_times)


def sync_url(db: Database) -> str:
    """The same database for APScheduler's (synchronous) job store."""
    url = db.url
    if db.is_sqlite:
        url = url.set(drivername="sqlite")
    return url.render_as_string(hide_password=False)


def trigger(when: Every | At) -> IntervalTrigger | CronTrigger:
    """The core's description of a time as APScheduler's trigger."""
    if isinstance(when, Every):
        return IntervalTrigger(minutes=when.minutes, timezone=dt.UTC)
    return CronTrigger(
        day_of_week="*" if when.weekday is None else when.weekday,
        hour=when.time.hour,
        minute=when.time.minute,
        timezone=when.zone,
    )


class Scheduler:
    def __init__(
        self,
        db: Database,
        settings: Settings,
        clock: Clock,
        jobs: TimedJobs,
        *,
        takeover_every: float = 5.0,
        check_every: float | None = None,
    ) -> None:
        """``jobs``: the table of timed jobs; ``takeover_every``: how often a follower
        tries for the lead; ``check_every`` (by default the same): how often the
        leader checks it."""
        self.db = db
        self.settings = settings
        self.clock = clock
        self.jobs = jobs
        options: dict[str, Any] = {"hide_parameters": True}  # no bound value in an error
        if db.is_sqlite:
            options["connect_args"] = {"timeout": 10}  # wait for the bot's own writes
        self.store = store = SQLAlchemyJobStore(
            url=sync_url(db), tablename=JOBS_TABLE, engine_options=options
        )
        self.aps = AsyncIOScheduler(
            jobstores={"default": store},
            executors={"default": _Runner(self._run)},
            job_defaults=JOB_DEFAULTS,
            timezone=dt.UTC,
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
        if not await self.lock.start():
            log.info("scheduler: another worker leads; waiting to take over")

    async def stop(self) -> None:
        await self.lock.stop()  # the lock goes: another worker may take over
        if self.aps.running:
            self.aps.shutdown(wait=False)

    async def _lead(self) -> None:
        """Write the schedule, then run it."""
        if not self.aps.running:
            # APScheduler creates its table at start (CREATE TABLE, checked first): two
            # workers starting at once on a new database would both create it.
            await asyncio.to_thread(self._create_table)
            self.aps.start(paused=True)
        await self.sync_jobs(await asyncio.to_thread(self._remove_older))
        self.leader = True
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

    async def _run(self, job: str, branch: int | None = None) -> None:
        if job == REFRESH.job:
            await self.sync_jobs()
        else:
            await self.jobs.run(job, self.db, self.settings, self.clock.now(), branch)

    def _remove_older(self) -> dict[str, dt.datetime]:
        """Delete the jobs an older version stored, before APScheduler loads them (it
        would log a traceback for each), once on taking the lead; return the runs they missed (their next
        run time passed, the upgrade's downtime), by id."""
        table = self.store.jobs_t
        older: dict[str, float | None] = {}
        with self.store.engine.begin() as conn:
            for row in conn.execute(select(table.c.id, table.c.next_run_time, table.c.job_state)):
                try:
                    own = pickle.loads(row.job_state).get("func") == OWN
                except Exception:  # a class the state names is gone too
                    own = False
                if not own:
                    older[row.id] = row.next_run_time
            if older:
                conn.execute(table.delete().where(table.c.id.in_(older)))
        if older:
            log.info("scheduler: removed %d jobs an older version stored", len(older))
        now = dt.datetime.now(dt.UTC).timestamp()  # APScheduler's clock
        return {
            job_id: utc_timestamp_to_datetime(due)
            for job_id, due in older.items()
            if due is not None and due <= now
        }

    async def sync_jobs(self, missed: Mapping[str, dt.datetime] | None = None) -> None:
        """Make the stored jobs the table's plan (and the hourly refresh); idempotent.
        ``missed``: the runs an older version's jobs missed, by id (on taking the lead)."""
        planned = [REFRESH, *await self.jobs.plan(self.db, self.settings)]
        # The job store is synchronous (a commit per job): in a thread, so that a slow
        # database stalls no webhook post, Telegram call or lead check of this worker.
        await asyncio.to_thread(self._write_plan, planned, missed or {})

    def _write_plan(self, planned: list[Planned], missed: Mapping[str, dt.datetime]) -> None:
        """The stored jobs made ``planned`` (APScheduler's calls are thread-safe)."""
        stored = {job.id: job for job in self.aps.get_jobs()}
        for item in planned:
            self._keep(item, stored.pop(item.id, None), missed.get(item.id))
        for stale in stored:
            with contextlib.suppress(JobLookupError):  # another worker removed it just now
                self.aps.remove_job(stale)

    def _keep(self, item: Planned, existing: Job | None, missed: dt.datetime | None) -> None:
        """Add the job, or replace it if its schedule changed. An unchanged job is left
        alone, so that a run it missed while the process was down (its stored
        next run time, now in the past) still fires, once; so does ``missed``, the
        run an older version's job of the same id missed."""
        late = None if item.late is None else int(item.late.total_seconds())
        name = f"{item.id} ({item.when})"  # what APScheduler's log lines call it
        if existing is not None and existing.name == name and existing.misfire_grace_time == late:
            return
        first = {} if missed is None else {"next_run_time": missed}  # None would pause it
        with contextlib.suppress(ConflictingIdError):  # another worker added it just now
            self.aps.add_job(
                timed_job,
                trigger(item.when),
                id=item.id,
                name=name,
                kwargs={"job": item.job, "branch": item.branch},
                misfire_grace_time=late,
                replace_existing=existing is not None,
                **first,
            )
