"""What the public pages read: nothing that names a person."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.draws.rules import PREVIEW
from storage.models import Draw


async def public_draw(session: AsyncSession, draw_id: int) -> Draw | None:
    """A draw anyone may check: committed (or later), never an organiser's preview."""
    return await session.scalar(select(Draw).where(Draw.id == draw_id, Draw.status != PREVIEW))
