"""What the ``organiser`` commands share: :class:`Stop` (one line for the person
at the terminal) and opening the database.

SQLAlchemy, Alembic and the storage layer are imported by the functions that
open a database, so `organiser --help` starts without them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sqlalchemy import Connection

    from storage.db import Database


class Stop(Exception):
    """Stop with one line for the person at the terminal."""


def current_revision(connection: Connection) -> str | None:
    from alembic.runtime.migration import MigrationContext

    return MigrationContext.configure(connection).get_current_revision()


def database(url: str) -> Database:
    """The database at ``url``, or one line saying what is wrong with the URL."""
    from sqlalchemy.exc import ArgumentError

    from storage.db import Database

    try:
        return Database(url)
    except ArgumentError:  # its text is no help, and the URL may hold a password
        raise Stop(
            "database.url: not a database URL (e.g. postgresql://user:password@host/name)"
        ) from None
    except ValueError as exc:
        raise Stop(f"database.url: {exc}") from None


async def open_database(url: str) -> Database:
    """Open the database; SQLite is migrated automatically, PostgreSQL must be current."""
    from alembic.script import ScriptDirectory
    from sqlalchemy.exc import DBAPIError, OperationalError

    from storage.db import alembic_config

    db = database(url)
    try:
        if db.is_sqlite:
            await db.upgrade()
        else:
            async with db.engine.connect() as conn:
                current = await conn.run_sync(current_revision)
            head = ScriptDirectory.from_config(alembic_config()).get_current_head()
            if current != head:
                raise Stop(
                    f"the database schema is at {current or 'nothing'}, the code needs {head}: "
                    "run `organiser db upgrade`"
                )
    except (OperationalError, DBAPIError, OSError) as exc:
        await db.dispose()
        where = db.url.render_as_string(hide_password=True)
        reason = str(getattr(exc, "orig", exc)).strip().splitlines()[0]
        raise Stop(f"cannot open the database at {where}: {reason}") from None
    return db
