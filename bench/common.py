"""What the benchmarks share: a throwaway database, so that no real one is touched;
bulk loading; whether a PostgreSQL server answers (and which version it is);
percentiles."""

from __future__ import annotations

import secrets
import statistics
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg
from sqlalchemy import insert
from sqlalchemy.engine import make_url

from storage.db import Database
from storage.models import Base

DEFAULT_PG = "postgresql://postgres@127.0.0.1:5432/postgres"


@contextmanager
def throwaway_database(url: str | None, name: str) -> Iterator[str]:
    """The URL of a fresh, empty database for the run called ``name``, removed afterwards."""
    if url is None:
        with tempfile.TemporaryDirectory(prefix="organiser-bench-") as tmp:
            yield f"sqlite:///{Path(tmp) / f'{name}.db'}"
        return
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        if parsed.database in (None, "", ":memory:"):
            raise SystemExit("give a SQLite file, not :memory: (workers are other processes)")
        base = Path(parsed.database)
        path = base.with_name(f"{base.stem}-{name}{base.suffix}")
        if path.exists():
            raise SystemExit(f"{path} exists: the benchmark only ever uses a new database")
        try:
            yield parsed.set(database=str(path)).render_as_string(hide_password=False)
        finally:
            for suffix in ("", "-wal", "-shm", "-journal"):
                Path(f"{path}{suffix}").unlink(missing_ok=True)
        return
    if backend not in ("postgresql", "postgres"):
        raise SystemExit(f"unsupported database {backend!r}: use sqlite or postgresql")
    admin_url = parsed.set(drivername="postgresql").render_as_string(hide_password=False)
    db_name = f"organiser_bench_{secrets.token_hex(4)}"
    with psycopg.connect(admin_url, autocommit=True, connect_timeout=5) as admin:
        admin.execute(f'CREATE DATABASE "{db_name}"')
    try:
        yield parsed.set(drivername="postgresql", database=db_name).render_as_string(
            hide_password=False
        )
    finally:
        with psycopg.connect(admin_url, autocommit=True, connect_timeout=5) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{db_name}" WITH (FORCE)')


CHUNK = 5000  # rows per INSERT


async def bulk_load(
    db: Database, tables: Sequence[tuple[type[Base], list[dict[str, Any]]]]
) -> None:
    """Insert rows with their ids given, table by table in chunks; on PostgreSQL
    move each table's id sequence past them; then ANALYZE, as a database in
    service has planner statistics."""
    async with db.transaction() as session:
        for model, rows in tables:
            table = Base.metadata.tables[model.__tablename__]
            for start in range(0, len(rows), CHUNK):
                await session.execute(insert(table), rows[start : start + CHUNK])
    async with db.engine.connect() as conn:
        if not db.is_sqlite:
            for model, _rows in tables:
                name = model.__tablename__
                await conn.exec_driver_sql(
                    f"SELECT setval(pg_get_serial_sequence('{name}', 'id'), "
                    f"(SELECT max(id) FROM {name}))"
                )
        await conn.exec_driver_sql("ANALYZE")
        await conn.commit()


def _admin_url(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def pg_unreachable(url: str = DEFAULT_PG) -> str | None:
    """None if the PostgreSQL server at ``url`` answers, else why not (one line)."""
    try:
        with psycopg.connect(_admin_url(url), connect_timeout=3):
            return None
    except psycopg.Error as exc:
        text = str(exc).strip()
        return text.splitlines()[0] if text else type(exc).__name__


def pg_server_version(url: str = DEFAULT_PG) -> str | None:
    """The server's version (``SHOW server_version``), or None if it does not answer."""
    try:
        with psycopg.connect(_admin_url(url), connect_timeout=3) as conn:
            row = conn.execute("SHOW server_version").fetchone()
    except psycopg.Error:
        return None
    return str(row[0]) if row else None


def percentile(sorted_values: Sequence[float], q: float) -> float:
    """The q-th percentile (0..100, in steps of 0.1) of sorted values, by linear
    interpolation."""
    if not sorted_values:
        raise ValueError("no values")
    if len(sorted_values) == 1 or q <= 0:
        return sorted_values[0]
    if q >= 100:
        return sorted_values[-1]
    cut = min(max(round(q * 10), 1), 999)
    return statistics.quantiles(sorted_values, n=1000, method="inclusive")[cut - 1]
