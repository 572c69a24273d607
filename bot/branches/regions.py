"""A region's areas at work: the branches waiting for a region move into the one
whose areas cover them, whether the areas were said in chat or on the command line."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from bot.branches.queries import branches_waiting
from bot.branches.rules import Area
from storage.models import Branch, Region


async def place_waiting_branches(session: AsyncSession, region: Region) -> list[Branch]:
    """Move every branch in no region that ``region``'s areas cover into it; returns them
    (the caller audits each move)."""
    covered = Area.parse(region.area)
    placed = [b for b in await branches_waiting(session) if covered.covers_branch(b)]
    for b in placed:
        b.region_id = region.id
    return placed
