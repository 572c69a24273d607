"""SQLite through aiosqlite in one trip to its thread a statement.

aiosqlite runs each SQLite connection in a thread of its own, and each call
into it is a trip there and back (a queue put, a wake-up of the event loop).
SQLAlchemy's adapter makes four trips for a SELECT (make a cursor, execute,
fetch every row, close the cursor) and three for a write; a request of six
statements spent more of its CPU on those trips than on SQLite. The cursor
here does the four steps in one trip: it runs the statement, reads every row
(the adapter reads them all at once anyway) and closes the sqlite3 cursor in
the thread, and keeps the description, the row count, the last row id and the
rows. Everything else (connecting, commit, rollback, server-side cursors,
errors) is SQLAlchemy's own aiosqlite dialect.
"""

from __future__ import annotations

import collections
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from typing import Any, cast

import aiosqlite
from sqlalchemy.dialects.sqlite.aiosqlite import (
    AsyncAdapt_aiosqlite_connection,
    AsyncAdapt_aiosqlite_dbapi,
)
from sqlalchemy.util.concurrency import await_

# What one trip brings back: description, rowcount, lastrowid, rows.
_Outcome = tuple[Any, int, int | None, list[Any]]

# One checkpoint at a time in this process: SQLite answers a checkpoint asked for
# while another runs with "busy" at once, without waiting, so a sweep's
# ``PRAGMA wal_checkpoint(TRUNCATE)`` (emptying the log of what was erased) that met
# the background checkpoint (storage.db) would leave the log as it was. Held by
# that checkpoint, and by a statement that checkpoints; nothing else waits for it.
CHECKPOINTS = threading.Lock()


def _run(conn: sqlite3.Connection, operation: str, parameters: Any, many: bool) -> _Outcome:
    """In aiosqlite's thread: run the statement, read it out, close the cursor."""
    if "wal_checkpoint" in operation:
        with CHECKPOINTS:
            return _run_here(conn, operation, parameters, many)
    return _run_here(conn, operation, parameters, many)


def _run_here(conn: sqlite3.Connection, operation: str, parameters: Any, many: bool) -> _Outcome:
    cursor = conn.cursor()
    try:
        if many:
            cursor.executemany(operation, parameters)
        elif parameters is None:
            cursor.execute(operation)
        else:
            cursor.execute(operation, parameters)
        rows = cursor.fetchall() if cursor.description else []
        return cursor.description, cursor.rowcount, cursor.lastrowid, rows
    finally:
        cursor.close()


class OneTripCursor:
    """A DBAPI cursor (client-side) over an aiosqlite connection: one trip an execute."""

    server_side = False
    __slots__ = ("_adapt_connection", "_rows", "arraysize", "description", "lastrowid", "rowcount")

    def __init__(self, adapt_connection: OneTripConnection) -> None:
        self._adapt_connection = adapt_connection
        self._rows: collections.deque[Any] = collections.deque()
        self.arraysize = 1
        self.description: Any = None
        self.rowcount = -1
        self.lastrowid: int | None = None

    def _trip(self, operation: str, parameters: Any, many: bool) -> None:
        connection = cast(aiosqlite.Connection, self._adapt_connection._connection)
        try:
            outcome = await_(
                connection._execute(_run, connection._conn, operation, parameters, many)
            )
        except Exception as error:
            self._adapt_connection._handle_exception(error)
        self.description, self.rowcount, self.lastrowid, rows = outcome
        self._rows = collections.deque(rows)

    def execute(self, operation: str, parameters: Any = None) -> None:
        self._trip(operation, parameters, False)

    def executemany(self, operation: str, seq_of_parameters: Sequence[Any]) -> None:
        self._trip(operation, seq_of_parameters, True)

    async def _async_soft_close(self) -> None:
        """Nothing to close: the sqlite3 cursor was closed in the thread."""

    def close(self) -> None:
        self._rows.clear()

    def setinputsizes(self, *inputsizes: Any) -> None:
        pass

    def __enter__(self) -> OneTripCursor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __iter__(self) -> Iterator[Any]:
        while self._rows:
            yield self._rows.popleft()

    def fetchone(self) -> Any:
        return self._rows.popleft() if self._rows else None

    def fetchmany(self, size: int | None = None) -> list[Any]:
        rows = self._rows
        return [rows.popleft() for _ in range(min(size or self.arraysize, len(rows)))]

    def fetchall(self) -> list[Any]:
        rows = list(self._rows)
        self._rows.clear()
        return rows


class OneTripConnection(AsyncAdapt_aiosqlite_connection):
    __slots__ = ()
    _cursor_cls = OneTripCursor  # type: ignore[assignment]


class OneTripDBAPI(AsyncAdapt_aiosqlite_dbapi):
    """The DBAPI module handed to ``create_async_engine(module=...)``."""

    def connect(self, *arg: Any, **kw: Any) -> OneTripConnection:
        adapted = super().connect(*arg, **kw)
        return OneTripConnection(self, adapted._connection)


def dbapi() -> OneTripDBAPI:
    return OneTripDBAPI(aiosqlite, sqlite3)
