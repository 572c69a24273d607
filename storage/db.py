"""The database handle: engine, transactions and migrations.

SQLite (aiosqlite) is the embedded default; PostgreSQL (psycopg 3) is for
production. ``sqlite:///`` and ``postgresql://`` URLs are accepted as they are
written in config files and completed with the async driver here.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.pool import StaticPool

from storage import sqlite

log = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).parent / "migrations"


def normalise_url(url: str) -> str:
    """Give a plain database URL the async driver this project uses."""
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        parsed = parsed.set(drivername="sqlite+aiosqlite")
    elif backend in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    else:
        raise ValueError(f"unsupported database {backend!r}: use sqlite or postgresql")
    return parsed.render_as_string(hide_password=False)


def _is_memory(url: URL) -> bool:
    return url.database in (None, "", ":memory:")


# SQLite copies its write-ahead log back into the database file (a checkpoint:
# pages written, the file synced) in whichever commit takes the log past
# wal_autocheckpoint pages: by default every thousand, which made about one
# request in a hundred wait several milliseconds for it. Here a checkpoint runs
# beside the requests every CHECKPOINT_EVERY transactions, on a connection and a
# thread of its own, and never holds up a writer; the automatic one is left only
# as a backstop, should those fall behind (another process writing, say).
CHECKPOINT_EVERY = 200
BACKSTOP_PAGES = 10_000


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute(f"PRAGMA wal_autocheckpoint={BACKSTOP_PAGES}")
    # Deleted rows are overwritten, not left in free space: a secret poll's
    # ballots as written while it was open must not survive its close on disk.
    cursor.execute("PRAGMA secure_delete=ON")
    cursor.close()


FOREIGN_TABLES = {"apscheduler_jobs"}  # kept beside ours by APScheduler's job store


def is_ours(obj: object, name: str | None, type_: str, reflected: bool, compare_to: object) -> bool:
    """For Alembic's ``include_object``: leave tables that are not ours alone."""
    return not (type_ == "table" and name in FOREIGN_TABLES)


def alembic_config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    return cfg


def _checkpoint_file(path: str) -> None:
    """In a thread: copy what the log holds into the database file, as far as no
    reader still needs it; a PASSIVE checkpoint waits for no database lock and blocks
    nobody (it waits only for a checkpoint this process runs: sqlite.CHECKPOINTS)."""
    with sqlite.CHECKPOINTS:  # mode=rw: a file gone (a test's, say) is not made anew
        connection = sqlite3.connect(
            f"{Path(path).absolute().as_uri()}?mode=rw", uri=True, timeout=0
        )
        try:
            connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
        finally:
            connection.close()


def _migrate(connection: Connection, revision: str, down: bool) -> None:
    cfg = alembic_config()
    cfg.attributes["connection"] = connection
    (command.downgrade if down else command.upgrade)(cfg, revision)


class Database:
    """One database: an async engine plus a transaction helper.

    ``transaction()`` is the unit of work: everything done in it commits
    together or not at all. On SQLite, transactions in this process are
    serialised so that a write never meets a "database is locked" error.
    """

    def __init__(self, url: str, *, echo: bool = False) -> None:
        self.url = make_url(normalise_url(url))
        # hide_parameters: an SQL error (and its traceback in a log) names the
        # statement, never the values bound to it (people's names, their words).
        kwargs: dict[str, Any] = {"echo": echo, "hide_parameters": True}
        if self.is_sqlite:
            kwargs["connect_args"] = {"check_same_thread": False}
            kwargs["module"] = sqlite.dbapi()  # one trip to aiosqlite's thread a statement
            if _is_memory(self.url):
                kwargs["poolclass"] = StaticPool
            # Every transaction here ends in a commit or a rollback already.
            kwargs["pool_reset_on_return"] = None
        else:
            # No pre-ping round trip per transaction: a connection the server
            # dropped is invalidated on first use and the request retried
            # (Core.handle), and connections are recycled before servers or
            # proxies time them out.
            kwargs.update(pool_size=10, max_overflow=10, pool_recycle=1800)
        self.engine = create_async_engine(self.url, **kwargs)
        if self.is_sqlite:
            event.listen(self.engine.sync_engine, "connect", _sqlite_pragmas)
        self.sessions = async_sessionmaker(self.engine, expire_on_commit=False)
        self._lock: asyncio.Lock | None = None
        self._owner: asyncio.Task[object] | None = None
        # The file whose log is checkpointed beside the requests (not in memory).
        self._wal_file = None if not self.is_sqlite or _is_memory(self.url) else self.url.database
        self._since_checkpoint = 0
        self._checkpointing: asyncio.Task[None] | None = None

    @property
    def is_sqlite(self) -> bool:
        return self.url.get_backend_name() == "sqlite"

    @property
    def backend(self) -> str:
        return self.url.get_backend_name()

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        if self.is_sqlite:
            if self._lock is None:
                self._lock = asyncio.Lock()
            task = asyncio.current_task()
            if task is not None and self._owner is task:
                raise RuntimeError("a transaction inside a transaction would wait for itself")
            async with self._lock:
                self._owner = task
                try:
                    async with self.sessions() as session, session.begin():
                        yield session
                finally:
                    self._owner = None
            self._count_transaction()
        else:
            async with self.sessions() as session, session.begin():
                yield session

    def _count_transaction(self) -> None:
        """Every CHECKPOINT_EVERY transactions, start a checkpoint beside the requests
        (one at a time)."""
        if self._wal_file is None:
            return
        self._since_checkpoint += 1
        if self._since_checkpoint < CHECKPOINT_EVERY:
            return
        if self._checkpointing is not None and not self._checkpointing.done():
            return
        self._since_checkpoint = 0
        self._checkpointing = asyncio.get_running_loop().create_task(self._checkpoint())

    async def _checkpoint(self) -> None:
        assert self._wal_file is not None
        try:
            await asyncio.to_thread(_checkpoint_file, self._wal_file)
        except sqlite3.Error as error:  # the backstop still checkpoints: say why this one failed
            log.warning("a checkpoint of the SQLite log failed: %s", error)

    async def upgrade(self, revision: str = "head") -> None:
        """Bring the schema up to date with Alembic (idempotent)."""
        async with self.engine.begin() as conn:
            await conn.run_sync(_migrate, revision, False)

    async def downgrade(self, revision: str) -> None:
        """Take the schema back to ``revision`` ("base": no tables at all)."""
        async with self.engine.begin() as conn:
            await conn.run_sync(_migrate, revision, True)

    async def dispose(self) -> None:
        checkpointing, self._checkpointing = self._checkpointing, None
        if (
            checkpointing is not None
            and not checkpointing.done()
            and checkpointing.get_loop() is asyncio.get_running_loop()
        ):
            await checkpointing
        await self.engine.dispose()
