"""Work that falls due with time, declared as data by the features it belongs to.

A timed job is a name (the scheduler's stable job id), when it runs, in the
core's own terms, and the async function to run:

- a :class:`Sweep` runs every few minutes and looks for what is due *now* (a
  meeting's reminders, a poll's close, a draw's deadline, a beacon's round, what
  retention deletes). Sweeping, rather than one scheduler job per meeting or
  poll, means nothing is lost when a job store and the data disagree, and an
  edit to a meeting's time needs no job to be moved.
- a :class:`PerBranch` job runs at each branch's own local time (the weekly
  canvassing round-up, the evening before a session); its ``when`` is the rule
  of which branches get one and when (``None``: this branch gets none).

Every job does its work idempotently (a conditional UPDATE, an outbox key), so
one that runs twice, late, or on two workers at once does everything exactly
once. The composition root lists the features' jobs in a :class:`TimedJobs`
table; the scheduler (``adapters/scheduler.py``) makes each planned job an
APScheduler job of its own, run by the worker that leads.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass

from sqlalchemy import select

from bot.kernel.config import Settings
from storage.db import Database
from storage.models import Branch

log = logging.getLogger(__name__)

SweepRun = Callable[[Database, Settings, dt.datetime], Awaitable[object]]
BranchRun = Callable[[Database, Settings, dt.datetime, int], Awaitable[object]]
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


@dataclass(frozen=True, slots=True)
class Every:
    """Every so many minutes."""

    minutes: int

    def __str__(self) -> str:
        return f"every {self.minutes} min"


@dataclass(frozen=True, slots=True)
class At:
    """At a time of day in a time zone: every day, or on one day of the week."""

    time: dt.time
    zone: str
    weekday: int | None = None  # 0 Monday .. 6 Sunday; None: every day

    def __str__(self) -> str:
        day = "daily" if self.weekday is None else DAYS[self.weekday]
        return f"{day} {self.time.isoformat('minutes')} {self.zone}"


@dataclass(frozen=True, slots=True)
class Sweep:
    """``run(db, settings, now)`` every ``every``. A run missed while no worker led
    runs once, however late: it looks for what is due now."""

    name: str
    run: SweepRun
    every: Every = Every(1)


@dataclass(frozen=True, slots=True)
class PerBranch:
    """``run(db, settings, now, branch_id)`` at ``when(settings, branch)`` for each
    branch that gets one. A run missed by more than ``late`` is skipped (a
    round-up half a day late is out of date); a shorter delay, it runs once."""

    name: str
    run: BranchRun
    when: Callable[[Settings, Branch], At | None]
    late: dt.timedelta = dt.timedelta(hours=6)


TimedJob = Sweep | PerBranch


@dataclass(frozen=True, slots=True)
class Planned:
    """One job to schedule: its stable id, when, and what it runs with. ``late``:
    how late a run may still start (``None``: however late)."""

    id: str
    job: str
    when: Every | At
    branch: int | None = None
    late: dt.timedelta | None = None


class TimedJobs:
    """The table of timed jobs, built by the composition root from the features'
    declarations; a name twice is refused."""

    def __init__(self, jobs: Iterable[TimedJob]) -> None:
        self.jobs: dict[str, TimedJob] = {}
        for job in jobs:
            if job.name in self.jobs:
                raise ValueError(f"timed job {job.name} declared twice")
            self.jobs[job.name] = job

    async def plan(self, db: Database, settings: Settings) -> list[Planned]:
        """Every job to schedule now: each sweep once, each per-branch job once per
        branch its rule gives a time."""
        planned = [
            Planned(job.name, job.name, job.every)
            for job in self.jobs.values()
            if isinstance(job, Sweep)
        ]
        per_branch = [job for job in self.jobs.values() if isinstance(job, PerBranch)]
        if per_branch:
            async with db.transaction() as session:
                branches = list(await session.scalars(select(Branch).order_by(Branch.id)))
            for branch in branches:
                for job in per_branch:
                    at = job.when(settings, branch)
                    if at is not None:
                        planned.append(
                            Planned(f"{job.name}:{branch.id}", job.name, at, branch.id, job.late)
                        )
        return planned

    async def run(
        self,
        name: str,
        db: Database,
        settings: Settings,
        now: dt.datetime,
        branch: int | None = None,
    ) -> bool:
        """Run one job; a failure is logged (by the job's name, never with what it
        sends) and returned as False, so that the caller carries on."""
        job = self.jobs.get(name)
        try:
            if isinstance(job, Sweep):
                await job.run(db, settings, now)
            elif isinstance(job, PerBranch) and branch is not None:
                await job.run(db, settings, now, branch)
            else:
                log.error("no timed job %s%s here", name, "" if branch is None else f":{branch}")
                return False
        except Exception:
            log.exception("timed job %s%s failed", name, "" if branch is None else f":{branch}")
            return False
        return True
