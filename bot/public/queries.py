"""What the public pages read: nothing that names a person."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.assemblies.rules import PREVIEW as ASSEMBLY_PREVIEW
from bot.draws.rules import PREVIEW
from storage.models import (
    Assembly,
    AssemblyDraw,
    AuditEntry,
    Branch,
    CalendarFeed,
    CanvassSession,
    CanvassSignup,
    Draw,
    Meeting,
    MeetingRsvp,
    Person,
    Region,
)
from storage.vocabulary import ACTIVE, AFFILIATED, ASSEMBLY, FORMING, GOING, RSVP_GOING

LISTED = (FORMING, ACTIVE, AFFILIATED)  # a proposed branch is not one yet


async def public_draw(session: AsyncSession, draw_id: int) -> Draw | None:
    """A draw anyone may check: committed (or later), never an organiser's preview."""
    return await session.scalar(select(Draw).where(Draw.id == draw_id, Draw.status != PREVIEW))


@dataclass(frozen=True, slots=True)
class AssemblyDrawn:
    """An assembly's draw anyone may check, its assembly, and the record hash
    announced at its commit (as the audit log holds it; None if none was)."""

    draw: AssemblyDraw
    assembly: Assembly
    published: str | None


async def public_assembly_draw(session: AsyncSession, draw_id: int) -> AssemblyDrawn | None:
    """A citizens' assembly's draw anyone may check: committed or later, never a preview."""
    row = (
        await session.execute(
            select(AssemblyDraw, Assembly)
            .join(Assembly, Assembly.id == AssemblyDraw.assembly_id)
            .where(AssemblyDraw.id == draw_id, AssemblyDraw.status != ASSEMBLY_PREVIEW)
        )
    ).first()
    if row is None:
        return None
    draw, assembly = row
    details = await session.scalars(
        select(AuditEntry.details)
        .where(AuditEntry.action == "assembly.committed", AuditEntry.at >= draw.created_at)
        .order_by(AuditEntry.id)
    )
    published = next(
        (str(d.get("record_hash") or "") or None for d in details if _names(d, draw.id)), None
    )
    return AssemblyDrawn(draw, assembly, published)


def _names(details: object, draw_id: int) -> bool:
    return isinstance(details, dict) and details.get("draw") == draw_id


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


# --- calendar feeds ------------------------------------------------------------------


async def feed_owner(session: AsyncSession, token_hash: str) -> Person | None:
    """The person whose private feed has this token's hash, or None."""
    return await session.scalar(
        select(Person)
        .join(CalendarFeed, CalendarFeed.person_id == Person.id)
        .where(CalendarFeed.token_hash == token_hash)
    )


async def feed_of(session: AsyncSession, person_id: int) -> CalendarFeed | None:
    return await session.scalar(select(CalendarFeed).where(CalendarFeed.person_id == person_id))


async def set_feed(
    session: AsyncSession, person_id: int, token_hash: str, now: dt.datetime
) -> None:
    """The person's feed token is now this one (any earlier one stops working)."""
    await session.execute(delete(CalendarFeed).where(CalendarFeed.person_id == person_id))
    session.add(CalendarFeed(person_id=person_id, token_hash=token_hash, created_at=now))


async def drop_feed(session: AsyncSession, person_id: int) -> bool:
    """Revoke the person's feed; whether they had one."""
    result = await session.execute(delete(CalendarFeed).where(CalendarFeed.person_id == person_id))
    return bool(getattr(result, "rowcount", 0))


async def meetings_going(
    session: AsyncSession, person_id: int, since: dt.datetime
) -> list[tuple[Meeting, Branch]]:
    """The meetings since ``since`` the person said they are going to (cancelled
    ones too: a calendar app then marks them cancelled)."""
    rows = await session.execute(
        select(Meeting, Branch)
        .join(MeetingRsvp, MeetingRsvp.meeting_id == Meeting.id)
        .join(Branch, Branch.id == Meeting.branch_id)
        .where(
            MeetingRsvp.person_id == person_id,
            MeetingRsvp.answer == RSVP_GOING,
            Meeting.starts_at >= since,
        )
        .order_by(Meeting.starts_at, Meeting.id)
    )
    return [(meeting, branch) for meeting, branch in rows.all()]


async def sessions_going(
    session: AsyncSession, person_id: int, since: dt.datetime
) -> list[tuple[CanvassSession, Branch]]:
    """The canvassing sessions since ``since`` the person is going to, not cancelled."""
    rows = await session.execute(
        select(CanvassSession, Branch)
        .join(CanvassSignup, CanvassSignup.session_id == CanvassSession.id)
        .join(Branch, Branch.id == CanvassSession.branch_id)
        .where(
            CanvassSignup.person_id == person_id,
            CanvassSignup.status == GOING,
            CanvassSession.cancelled_at.is_(None),
            CanvassSession.starts_at >= since,
        )
        .order_by(CanvassSession.starts_at, CanvassSession.id)
    )
    return [(row, branch) for row, branch in rows.all()]


async def public_meetings(
    session: AsyncSession, branch_id: int, since: dt.datetime
) -> list[Meeting]:
    """A branch's people's assemblies since ``since`` (cancelled ones too)."""
    found = await session.scalars(
        select(Meeting)
        .where(
            Meeting.branch_id == branch_id,
            Meeting.kind == ASSEMBLY,
            Meeting.starts_at >= since,
        )
        .order_by(Meeting.starts_at, Meeting.id)
    )
    return list(found)
