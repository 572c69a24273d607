"""The ``meta`` table: small facts the workers share (heartbeats, what was
published to a platform), one row per key."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.db import Database
from storage.models import Meta
from storage.writes import upsert


async def upsert_meta(session: AsyncSession, key: str, value: str) -> None:
    """Write one meta row, whether or not it exists (two workers may race)."""
    await upsert(session, Meta, {"key": key, "value": value}, key=["key"], update=["value"])


class Memory:
    """What an adapter remembers across restarts and workers (the digest of the
    slash commands it last published, say), kept in ``meta``."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def recall(self, key: str) -> str | None:
        async with self.db.transaction() as session:
            return await session.scalar(select(Meta.value).where(Meta.key == key))

    async def remember(self, key: str, value: str) -> None:
        async with self.db.transaction() as session:
            await upsert_meta(session, key, value)
