"""Health: what ``GET /healthz`` and ``organiser status`` say, and the heartbeat
each worker writes so that ``organiser status`` can see every worker.

``/healthz`` (on the Telegram webhook port, and on ``health.port`` when set)
is JSON about this worker and the database it shares: whether the database
answers (``SELECT 1`` within a few seconds), whether this worker leads the
scheduler and whether any worker does (PostgreSQL's ``pg_locks`` for the
advisory lock), each adapter's state here (telegram: ``webhook`` / ``polling``;
discord: ``gateway`` (connected here), ``connecting``, ``standby`` (another
worker holds the gateway; messages still go out over HTTP); any: ``down``),
whether some worker holds the Discord gateway, and the outbox backlog (how many
messages wait, how old the oldest is). 200 when healthy; 503 when the database
does not answer, no worker leads the scheduler (or, where Discord is
configured, none holds its gateway), or an adapter of this worker is down.
Counts and states only: never anything about a person, nor the worker's host
name, the database's address or a driver's error (those go to the log), nor a
``Server`` header with software versions.

The heartbeat: every ``heartbeat_every`` seconds a worker upserts the ``meta``
row ``worker:{host}:{pid}`` with ``{"adapters", "leader", "at"}``; a clean stop
deletes it, and rows a day old (a worker that died) are cleared when a worker
starts. ``organiser status`` reads them and lists the workers seen in the last
minute.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import itertools
import json
import logging
import os
import socket
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from aiohttp import web
from sqlalchemy import delete, func, select, text
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.kernel.clock import Clock
from bot.kernel.outbox import PENDING
from runtime.leader import GATEWAY_LOCK, LEADER_LOCK
from runtime.meta import upsert_meta
from storage.db import Database
from storage.models import Meta, OutboxMessage

log = logging.getLogger(__name__)

WORKER_PREFIX = "worker:"
KEY_LENGTH = 64  # meta.key
FRESH = dt.timedelta(minutes=1)  # a worker seen within this is listed by `organiser status`
STALE = dt.timedelta(days=1)  # heartbeat rows older than this are cleared
DB_TIMEOUT = 3.0  # seconds the database has to answer a health check
DOWN = "down"
UNAVAILABLE = "unavailable"  # what /healthz says of a database that does not answer
GATEWAY_STATES = ("gateway", "connecting")  # a worker's Discord adapter holding the gateway


_workers_here = itertools.count(1)


def worker_name() -> str:
    """``host:pid`` (``host:pid.2`` for a second worker in one process, as tests
    run them), short enough for a meta key."""
    number = next(_workers_here)
    pid = str(os.getpid()) + (f".{number}" if number > 1 else "")
    room = KEY_LENGTH - len(WORKER_PREFIX) - len(pid) - 1
    return f"{socket.gethostname()[:room]}:{pid}"


# --- what the database says ------------------------------------------------------


@dataclass
class Facts:
    database: str  # "ok", or why it does not answer
    leader_anywhere: bool | None = None  # None: the database cannot tell (SQLite)
    gateway_anywhere: bool | None = None
    pending: int = 0
    oldest_pending_s: float | None = None
    workers: dict[str, dict[str, Any]] = field(default_factory=dict)  # fresh heartbeats

    @property
    def database_ok(self) -> bool:
        return self.database == "ok"


def _reason(exc: BaseException) -> str:
    text_ = str(getattr(exc, "orig", None) or exc).strip()
    return (text_.splitlines() or [type(exc).__name__])[0]


async def _lock_held(conn: AsyncConnection, key: int) -> bool:
    """Whether some session of this database holds the advisory lock ``key``
    (a bigint key shows in pg_locks as classid = high half, objid = low half)."""
    held = await conn.scalar(
        text(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted"
            " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
            " AND classid::bigint = :high AND objid::bigint = :low AND objsubid = 1"
        ),
        {"high": key >> 32, "low": key & 0xFFFFFFFF},
    )
    return bool(held)


def _beat(value: str) -> dict[str, Any] | None:
    """A heartbeat row's value, with ``at`` as a datetime; None if unreadable."""
    try:
        beat = json.loads(value)
        beat["at"] = dt.datetime.fromisoformat(beat["at"])
    except (ValueError, TypeError, KeyError):
        return None
    return beat if isinstance(beat, dict) and beat["at"].tzinfo is not None else None


def _fresh_workers(rows: list[tuple[str, str]], now: dt.datetime) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for key, value in rows:
        beat = _beat(value)
        if beat is None or now - beat["at"] > FRESH:
            continue
        out[key.removeprefix(WORKER_PREFIX)] = {
            "adapters": dict(beat.get("adapters") or {}),
            "leader": bool(beat.get("leader")),
            "seen_s_ago": round(max(0.0, (now - beat["at"]).total_seconds()), 1),
        }
    return out


async def _read(db: Database, now: dt.datetime) -> Facts:
    async with db.engine.connect() as conn:
        await conn.execute(text("SELECT 1"))
        facts = Facts("ok")
        if not db.is_sqlite:
            facts.leader_anywhere = await _lock_held(conn, LEADER_LOCK)
            facts.gateway_anywhere = await _lock_held(conn, GATEWAY_LOCK)
        pending, oldest = (
            await conn.execute(
                select(func.count(), func.min(OutboxMessage.created_at)).where(
                    OutboxMessage.status == PENDING
                )
            )
        ).one()
        facts.pending = int(pending or 0)
        if oldest is not None:
            facts.oldest_pending_s = round(max(0.0, (now - oldest).total_seconds()), 1)
        beats = await conn.execute(
            select(Meta.key, Meta.value).where(Meta.key.startswith(WORKER_PREFIX))
        )
        facts.workers = _fresh_workers([(k, v) for k, v in beats], now)
    return facts


async def read_facts(db: Database, now: dt.datetime, *, within: float = DB_TIMEOUT) -> Facts:
    """What the database says; never raises (a database that does not answer
    ``within`` seconds is reported as such)."""
    try:
        return await asyncio.wait_for(_read(db, now), within)
    except TimeoutError:
        return Facts(f"no answer within {within:g} s")
    except Exception as exc:  # whatever the driver raises: it is the answer
        return Facts(_reason(exc))


# --- one worker: /healthz ----------------------------------------------------------


class Leading(Protocol):
    @property
    def leader(self) -> bool: ...


class Stateful(Protocol):
    @property
    def state(self) -> str: ...


class Health:
    """This worker's health: its adapters and scheduler, and the shared database."""

    def __init__(
        self,
        db: Database,
        clock: Clock,
        *,
        scheduler: Leading | None = None,
        adapters: Mapping[str, Stateful] | None = None,
        timeout: float = DB_TIMEOUT,
    ) -> None:
        self.db = db
        self.clock = clock
        self.scheduler = scheduler
        self.adapters = dict(adapters or {})
        self.timeout = timeout
        self.name = worker_name()
        self._last_database = "ok"

    def local(self) -> dict[str, Any]:
        """What this worker says of itself (its heartbeat): adapters' states, leader."""
        return {
            "adapters": {name: adapter.state for name, adapter in self.adapters.items()},
            "leader": bool(self.scheduler is not None and self.scheduler.leader),
        }

    async def report(self) -> tuple[bool, dict[str, Any]]:
        """(healthy, the JSON body of /healthz)."""
        facts = await read_facts(self.db, self.clock.now(), within=self.timeout)
        here = self.local()
        problems: list[str] = []
        # Neither this worker's host name nor the driver's words (the database's
        # address, its error): those go to this worker's log, once per change.
        body: dict[str, Any] = {"database": "ok" if facts.database_ok else UNAVAILABLE}
        if facts.database != self._last_database:
            if not facts.database_ok:
                log.warning("healthz: the database does not answer: %s", facts.database)
            self._last_database = facts.database
        if facts.database_ok:
            leader = facts.leader_anywhere
            if leader is None:  # SQLite: this one process is all there is
                leader = here["leader"]
            body["scheduler"] = {"leader_here": here["leader"], "leader_anywhere": leader}
            if not leader:
                problems.append("no worker leads the scheduler")
            if "discord" in self.adapters:
                gateway = facts.gateway_anywhere
                if gateway is None:
                    gateway = here["adapters"]["discord"] in GATEWAY_STATES
                body["discord_gateway_anywhere"] = gateway
                if not gateway:
                    problems.append("no worker holds the Discord gateway")
            body["outbox"] = {"pending": facts.pending, "oldest_pending_s": facts.oldest_pending_s}
        else:
            problems.append("the database does not answer")
            body["scheduler"] = {"leader_here": here["leader"], "leader_anywhere": None}
        body["adapters"] = here["adapters"]
        problems += [f"{name} is down" for name, s in here["adapters"].items() if s == DOWN]
        body["status"] = "unhealthy" if problems else "ok"
        body["problems"] = problems
        return not problems, body

    async def handle(self, request: web.Request) -> web.Response:
        """GET /healthz."""
        healthy, body = await self.report()
        return web.json_response(
            body, status=200 if healthy else 503, headers={"Cache-Control": "no-store"}
        )


# --- the heartbeat -------------------------------------------------------------------


class Heartbeat:
    """This worker's row in ``meta``, refreshed every ``every`` seconds (an
    idempotent upsert), deleted on a clean stop."""

    def __init__(
        self,
        db: Database,
        clock: Clock,
        describe: Callable[[], dict[str, Any]],
        *,
        every: float = 15.0,
        name: str | None = None,
    ) -> None:
        self.db = db
        self.clock = clock
        self.describe = describe
        self.every = every
        self.key = WORKER_PREFIX + (name or worker_name())
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await self._clear_stale()
        await self.beat()
        self._task = asyncio.create_task(self._run(), name="heartbeat")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        try:
            async with self.db.transaction() as session:
                await session.execute(delete(Meta).where(Meta.key == self.key))
        except Exception as exc:
            log.warning("heartbeat: could not remove %s: %s", self.key, _reason(exc))

    async def beat(self) -> None:
        value = json.dumps({**self.describe(), "at": self.clock.now().isoformat()})
        try:
            async with self.db.transaction() as session:
                await upsert_meta(session, self.key, value)
        except Exception as exc:  # the database is away: /healthz says so; beat on
            log.warning("heartbeat: not written: %s", _reason(exc))

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.every)
            await self.beat()

    async def _clear_stale(self) -> None:
        now = self.clock.now()
        try:
            async with self.db.transaction() as session:
                rows = (
                    await session.execute(
                        select(Meta.key, Meta.value).where(Meta.key.startswith(WORKER_PREFIX))
                    )
                ).all()
                stale = []
                for key, value in rows:
                    beat = _beat(value)
                    if key != self.key and (beat is None or now - beat["at"] > STALE):
                        stale.append(key)
                if stale:
                    await session.execute(delete(Meta).where(Meta.key.in_(stale)))
        except Exception as exc:
            log.warning("heartbeat: could not clear old rows: %s", _reason(exc))


# --- every worker: `organiser status` -------------------------------------------------


async def status_report(
    db: Database, now: dt.datetime, *, within: float = DB_TIMEOUT
) -> tuple[bool, dict[str, Any]]:
    """(healthy, a JSON-able report) of the whole deployment, from the database:
    the locks PostgreSQL holds and the workers' heartbeats."""
    facts = await read_facts(db, now, within=within)
    problems: list[str] = []
    body: dict[str, Any] = {"database": facts.database}
    if not facts.database_ok:
        problems.append(f"the database does not answer: {facts.database}")
    else:
        workers = facts.workers
        leader = facts.leader_anywhere
        if leader is None:
            leader = any(w["leader"] for w in workers.values())
        body["scheduler_leader"] = leader
        if not workers:
            problems.append("no worker has reported in the last minute")
        if not leader:
            problems.append("no worker leads the scheduler")
        if any("discord" in w["adapters"] for w in workers.values()):
            gateway = facts.gateway_anywhere
            if gateway is None:
                gateway = any(
                    w["adapters"].get("discord") in GATEWAY_STATES for w in workers.values()
                )
            body["discord_gateway"] = gateway
            if not gateway:
                problems.append("no worker holds the Discord gateway")
        for name, worker in sorted(workers.items()):
            for adapter, state in sorted(worker["adapters"].items()):
                if state == DOWN:
                    problems.append(f"{adapter} is down on {name}")
        body["outbox"] = {"pending": facts.pending, "oldest_pending_s": facts.oldest_pending_s}
        body["workers"] = workers
    body["status"] = "unhealthy" if problems else "ok"
    body["problems"] = problems
    return not problems, body


def describe_status(body: Mapping[str, Any]) -> str:
    """The status report, for a person at a terminal."""
    lines = [f"database: {body['database']}"]
    if "scheduler_leader" in body:
        lines.append(
            "scheduler: " + ("a worker leads" if body["scheduler_leader"] else "no worker leads")
        )
    if "discord_gateway" in body:
        lines.append(
            "discord gateway: " + ("held by a worker" if body["discord_gateway"] else "not held")
        )
    if "outbox" in body:
        outbox = body["outbox"]
        oldest = outbox["oldest_pending_s"]
        lines.append(
            f"outbox: {outbox['pending']} pending"
            + (f", the oldest waiting {oldest:g} s" if oldest is not None else "")
        )
    if "workers" in body:
        workers = body["workers"]
        lines.append(f"workers seen in the last minute: {len(workers)}")
        width = max((len(name) for name in workers), default=0)
        for name, worker in sorted(workers.items()):
            adapters = " ".join(f"{a}={s}" for a, s in sorted(worker["adapters"].items()))
            role = "leader" if worker["leader"] else "      "
            lines.append(
                f"  {name:<{width}}  {role}  {adapters or '-'}  (seen {worker['seen_s_ago']:g} s ago)"
            )
    if body["problems"]:
        lines.append("status: unhealthy: " + "; ".join(body["problems"]))
    else:
        lines.append("status: healthy")
    return "\n".join(lines)


def health_app(health: Health) -> web.Application:
    """An app with GET /healthz alone (``health.port``)."""
    app = web.Application()
    app.router.add_get("/healthz", health.handle)
    return app
