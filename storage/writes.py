"""Two writes that every feature needs, written once for both databases.

``upsert``: insert rows, and on a clash with a unique key either leave the row
that is there or overwrite some of its columns with the new values. SQLite and
PostgreSQL both say ``INSERT ... ON CONFLICT``, but SQLAlchemy spells it with
each dialect's own ``insert``; ``upsert_statement`` picks the right one.

``claim``: one conditional UPDATE that moves one row from one state to the next
("unused" to "used", "open" to "closed"), and says whether this transaction is
the one that moved it. Two requests (two workers, two presses at once) racing
for the same row: the database lets one UPDATE match, the other matches
nothing, so exactly one of them goes on.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import ColumnElement, Select, Table
from sqlalchemy import update as update_rows
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

Target = Any  # a mapped class or a Table

__all__ = ["claim", "upsert", "upsert_statement"]


def upsert_statement(
    dialect: str,
    target: Target,
    *,
    key: Sequence[str],
    update: Sequence[str] = (),
    values: Mapping[str, Any] | None = None,
    rows: tuple[Sequence[str], Select[Any]] | None = None,
) -> Any:
    """``INSERT ... ON CONFLICT (key) DO NOTHING``, or ``DO UPDATE`` the columns
    named in ``update`` with the new row's values, for the ``dialect``
    ("sqlite" or "postgresql"). The rows come from ``values`` (one row), from
    ``rows`` (the column names and a SELECT giving them), or from the
    parameters the statement is executed with (many rows at once)."""
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    stmt = insert(target)
    if values is not None:
        stmt = stmt.values(**values)
    if rows is not None:
        stmt = stmt.from_select(list(rows[0]), rows[1])
    if not update:
        return stmt.on_conflict_do_nothing(index_elements=list(key))
    return stmt.on_conflict_do_update(
        index_elements=list(key), set_={name: stmt.excluded[name] for name in update}
    )


@functools.lru_cache(maxsize=64)
def _prepared(dialect: str, table: Table, key: tuple[str, ...], update: tuple[str, ...]) -> Any:
    """The upsert of rows given as parameters, built once per (table, key, update):
    building the statement (its ``excluded`` columns above all) cost more than
    running it."""
    return upsert_statement(dialect, table, key=key, update=update)


async def upsert(
    session: AsyncSession,
    target: Target,
    values: Mapping[str, Any] | Sequence[Mapping[str, Any]],
    *,
    key: Sequence[str],
    update: Sequence[str] = (),
) -> None:
    """Insert one row (a mapping) or many (a list of mappings). A row whose
    ``key`` columns match one already there is left as it is, or, for the
    columns named in ``update``, given the new values. Two transactions racing
    to insert the same key both succeed: one inserts, the other finds it."""
    # The table, not the entity: the rows go as parameters, which an ORM insert
    # would take for a bulk insert.
    table = getattr(target, "__table__", target)
    stmt = _prepared(session.get_bind().dialect.name, table, tuple(key), tuple(update))
    if isinstance(values, Mapping):
        await session.execute(stmt, dict(values))
    elif values:
        await session.execute(stmt, list(values))


async def claim(
    session: AsyncSession,
    target: type[Any] | Table,
    *where: ColumnElement[bool],
    **values: Any,
) -> bool:
    """``UPDATE target SET values WHERE where``, true if it changed exactly one
    row: ``where`` names one row and the state it must still be in, ``values``
    the state it moves to. False if the row is not (or no longer) in that state,
    so another transaction took it first. Objects already loaded are not
    refreshed: call ``session.refresh`` on one to read what was written.

    Conditions that match several rows are a mistake in the caller: the error
    rolls the transaction back rather than move rows nobody meant to."""
    changed = await session.execute(
        update_rows(target)
        .where(*where)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    count = int(getattr(changed, "rowcount", 0) or 0)
    if count > 1:
        raise RuntimeError(f"a claim changed {count} rows: its conditions must name one row")
    return count == 1
