"""Leads among workers: one PostgreSQL advisory lock per job only one worker may do.

With several workers on one PostgreSQL database, only the holder of
``LEADER_LOCK`` runs the scheduler's jobs and only the holder of
``GATEWAY_LOCK`` connects the Discord gateway. :class:`LeaderLock` is such a
lead: a session-level advisory lock held on a connection of its own, so that it
goes when the holder's session ends (the process died, the connection was
killed, PostgreSQL restarted). The leader checks that connection every few
seconds and, the moment it is found broken, stops acting as leader
(``on_lose``) before contending again; a worker taking over waits two such
checks before it acts, so that two leaders do not act at the same time. On
SQLite (one process) the lock is always held.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import psycopg

from storage.db import Database

log = logging.getLogger(__name__)

LEADER_LOCK = 0x0A55E3B1  # the advisory lock key of the scheduler leader
GATEWAY_LOCK = 0x0A55E3B2  # ... and of the one worker connected to the Discord gateway
JOBS_TABLE_LOCK = 0x0A55E3B3  # held while a worker creates APScheduler's table
LOCK_TIMEOUT = 5.0  # seconds for any one round trip on a lock's connection
STOP_WITHIN = 3 * LOCK_TIMEOUT  # seconds stop() waits for the watching task to end


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

    Round trips are bounded with ``asyncio.timeout``, never ``asyncio.wait_for``:
    on Python 3.11, ``wait_for`` loses a cancellation that arrives as the call it
    waits for completes (CPython gh-86296, fixed in 3.12), and a watching task
    that lost ``stop()``'s cancellation went on contending for the lock for good
    while ``stop()`` waited for it: a worker that never stopped, a test that
    hung. ``stop()`` also ends the loop by a flag and waits a bounded time.
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
        self._stopping = False

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
        self._stopping = False
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
        """Stop watching and let go of the lock (``on_lose`` is the caller's to do),
        within ``STOP_WITHIN`` seconds whatever the watching task is doing."""
        self._stopping = True
        task, self._task = self._task, None
        failed: BaseException | None = None
        if task is not None:
            task.cancel()
            done, _ = await asyncio.wait({task}, timeout=STOP_WITHIN)
            if not done:
                log.error(
                    "%s: still running %g s after it was stopped; letting go of the lock",
                    self.name,
                    STOP_WITHIN,
                )
            elif not task.cancelled():
                failed = task.exception()
        self.held = self.leading = False
        await self._close()
        if failed is not None:  # the watching had ended with an error: said here
            raise failed

    async def _run(self) -> None:
        while not self._stopping:
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
            if self._stopping or not await self._still_held():
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
            async with asyncio.timeout(LOCK_TIMEOUT):
                cursor = await conn.execute("SELECT pg_try_advisory_lock(%s)", (self.key,))
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
        async with asyncio.timeout(LOCK_TIMEOUT):
            conn: psycopg.AsyncConnection[Any] = await psycopg.AsyncConnection.connect(
                url, autocommit=True, connect_timeout=int(LOCK_TIMEOUT)
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
            async with asyncio.timeout(LOCK_TIMEOUT):
                await conn.execute("SELECT 1")
        except (psycopg.Error, OSError, TimeoutError):
            return False
        return True

    async def _close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None and not conn.closed:
            with contextlib.suppress(psycopg.Error, OSError, TimeoutError):
                async with asyncio.timeout(LOCK_TIMEOUT):
                    await conn.close()  # the lock goes with it
