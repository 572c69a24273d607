"""What the public pages read: nothing that names a person."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.draws.rules import PREVIEW
from storage.models import Branch, Draw, Meeting, Region
from storage.vocabulary import ACTIVE, AFFILIATED, ASSEMBLY, FORMING

LISTED = (FORMING, ACTIVE, AFFILIATED)  # a proposed branch is not one yet


async def public_draw(session: AsyncSession, draw_id: int) -> Draw | None:
    """A draw anyone may check: committed (or later), never an organiser's preview."""
    return await session.scalar(select(Draw).where(Draw.id == draw_id, Draw.status != PREVIEW))


@dataclass(frozen=True, slots=True)
class Listed:
    """A branch as the directory lists it, with its next public meeting."""

    branch: Branch
    region: str | None
    next_meeting: Meeting | None


async def directory(session: AsyncSession, now: dt.datetime) -> list[Listed]:
    """Every forming, active and affiliated branch (by region, then name), each
    with its next people's assembly: the meetings open to every resident."""
    rows = (
        await session.execute(
            select(Branch, Region.name)
            .outerjoin(Region, Region.id == Branch.region_id)
            .where(Branch.status.in_(LISTED))
            .order_by(Region.name.is_(None), Region.name, Branch.name)
        )
    ).all()
    coming = await session.scalars(
        select(Meeting)
        .where(
            Meeting.kind == ASSEMBLY,
            Meeting.cancelled_at.is_(None),
            Meeting.starts_at >= now,
            Meeting.branch_id.in_([branch.id for branch, _ in rows]),
        )
        .order_by(Meeting.starts_at, Meeting.id)
    )
    first: dict[int, Meeting] = {}
    for meeting in coming:
        first.setdefault(meeting.branch_id, meeting)
    return [Listed(branch, region, first.get(branch.id)) for branch, region in rows]


async def listed_branch(session: AsyncSession, slug: str) -> Branch | None:
    """A branch the directory lists, by its slug."""
    return await session.scalar(
        select(Branch).where(Branch.slug == slug, Branch.status.in_(LISTED))
    )
