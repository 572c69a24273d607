"""Storage: SQLAlchemy models, the database handle and Alembic migrations."""

from storage.db import Database, normalise_url

__all__ = ["Database", "normalise_url"]
