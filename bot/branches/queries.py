"""Branches' queries: finding a branch by name or place, their people and
organisers, where a branch stands on its founding path, what a merge would
move, the region that covers a place, and the record of each step of a branch's
life. SQL only: what it means and how it reads is decided elsewhere.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Select, bindparam, delete, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.branches.recipients import organisers_of
from bot.branches.rules import (
    Area,
    Progress,
    clean_place,
    rank_matches,
    search_words,
    slugify,
)
from bot.kernel.context import Context
from bot.kernel.messages import Request
from bot.kernel.outbox import PENDING, UNDELIVERABLE, Recipients
from bot.kernel.people import by_sender
from bot.kernel.suggest import escape_like
from storage.models import (
    Branch,
    BranchChat,
    BranchTransition,
    CanvassSlot,
    Draw,
    Identity,
    Meeting,
    MeetingAttendance,
    OutboxMessage,
    Person,
    Poll,
    Region,
    RoleGrant,
)
from storage.vocabulary import ADMIN, ONLINE, ORGANISER, SCOPE_BRANCH, SCOPE_NATIONAL, SCOPE_REGION

_BY_SLUG = select(Branch).where(Branch.slug == bindparam("slug"))
# The same, with the sender's person, in one statement (/join, a hot path).
_SLUG_AHEAD = by_sender(Branch).outerjoin(Branch, Branch.slug == bindparam("slug"))


def place_ahead(request: Request) -> tuple[Select[Any], dict[str, Any]] | None:
    """The prefetch of a command whose words name a place (/join): the branch whose
    slug it is (or none), read with the person (bot.kernel.registry.Prefetch); hand
    the row to :func:`search` as ``ahead``."""
    place = clean_place(request.args)
    return (_SLUG_AHEAD, {"slug": slugify(place)}) if place else None


async def search(
    ctx: Context, query: str, *, ahead: tuple[Any, ...] | None = None
) -> tuple[Branch | None, list[Branch]]:
    """(the exact match, if one; every match, best first) for a place or branch name.

    The exact match is the one branch of that name, or else the one branch whose
    area names the place.

    A branch matches by slug, by name prefix, or by a word of its area (place
    names, postcode prefixes: ``BA11 4AB`` finds the branch whose area says BA11).
    ``ahead``: what :func:`place_ahead` read of this very query's slug.
    """
    slug = slugify(query)
    # The common case, a branch's own name or slug, is one unique-index lookup.
    if ahead is not None:
        by_slug = ahead[0]
    else:
        by_slug = await ctx.session.scalar(_BY_SLUG, {"slug": slug})
    if by_slug is not None:
        return by_slug, [by_slug]
    words = search_words(query)
    like = [
        func.lower(Branch.area).like(f"%{escape_like(w)}%", escape="\\")
        for w in words[:1] + words[1:2]
    ]
    stmt = (
        select(Branch)
        .where(
            or_(
                func.lower(Branch.name).like(f"{escape_like(query.lower())}%", escape="\\"),
                *like,
            )
        )
        .limit(50)
    )
    found = list(await ctx.session.scalars(stmt))
    return rank_matches(query, words, found)


async def branch_with_slug(session: AsyncSession, slug: str) -> Branch | None:
    return await session.scalar(_BY_SLUG, {"slug": slug})


async def history(
    session: AsyncSession, branch: Branch
) -> list[tuple[BranchTransition, str | None]]:
    """Each recorded step of the branch's life, in order, with the name of who
    made it (None when nobody did, or they are forgotten)."""
    rows = await session.execute(
        select(BranchTransition, Person.display_name)
        .outerjoin(Person, Person.id == BranchTransition.actor_id)
        .where(BranchTransition.branch_id == branch.id)
        .order_by(BranchTransition.at, BranchTransition.id)
    )
    return [(step, name) for step, name in rows]


async def record_transition(
    ctx: Context, branch: Branch, to_status: str, actor: Person | None, reason: str | None = None
) -> None:
    """One step of the branch's life, with who made it and when; ``reason`` when an
    admin made it without what it needs (an override)."""
    ctx.session.add(
        BranchTransition(
            branch_id=branch.id,
            from_status=branch.status,
            to_status=to_status,
            actor_id=actor.id if actor else None,
            at=ctx.now,
            reason=reason,
        )
    )
    branch.status = to_status


async def people_in(ctx: Context, branch: Branch) -> list[Person]:
    return list(
        await ctx.session.scalars(
            select(Person).where(Person.branch_id == branch.id).order_by(Person.id)
        )
    )


async def count_people(ctx: Context, branch: Branch) -> int:
    return (
        await ctx.session.scalar(
            select(func.count()).select_from(Person).where(Person.branch_id == branch.id)
        )
        or 0
    )


async def organisers(ctx: Context, branch: Branch) -> list[Person]:
    who = organisers_of(branch)
    rows = await ctx.session.scalars(
        select(Person).where(Person.id.in_(who.query)).order_by(Person.id), who.params
    )
    return list(rows)


async def anyone(ctx: Context, who: Recipients) -> bool:
    """Does ``who`` select anybody at all (so that a message to them reaches someone)?"""
    return (await ctx.session.execute(who.query.limit(1), who.params)).first() is not None


# --- The founding path ------------------------------------------------------------


async def attendance(ctx: Context, meeting: Meeting) -> int:
    """How many came: those marked at the door and the guests counted."""
    marked = await ctx.session.scalar(
        select(func.count())
        .select_from(MeetingAttendance)
        .where(MeetingAttendance.meeting_id == meeting.id)
    )
    return (marked or 0) + meeting.guests


async def _meeting_at(
    ctx: Context, branch: Branch, at: dt.datetime | None, online: bool
) -> Meeting | None:
    if at is None:
        return None
    kind = Meeting.kind == ONLINE if online else Meeting.kind != ONLINE
    return await ctx.session.scalar(
        select(Meeting)
        .where(
            Meeting.branch_id == branch.id,
            Meeting.starts_at == at,
            kind,
            Meeting.held_at.is_not(None),
        )
        .order_by(Meeting.id)
        .limit(1)
    )


async def paid_up(ctx: Context, branch: Branch) -> int:
    """How many of the branch's people are Members now: dues paid through today in
    the branch's time zone (the rule of ``bot.kernel.permissions.is_member``), counted in SQL."""
    today = ctx.now.astimezone(ZoneInfo(branch.timezone)).date()
    found = await ctx.session.scalar(
        select(func.count())
        .select_from(Person)
        .where(Person.branch_id == branch.id, Person.dues_paid_until >= today)
    )
    return found or 0


async def progress(ctx: Context, branch: Branch) -> Progress:
    first_meeting = await _meeting_at(ctx, branch, branch.first_meeting_at, online=False)
    return Progress(
        status=branch.status,
        interested=await count_people(ctx, branch),
        organisers=len(await organisers(ctx, branch)),
        first_call=await _meeting_at(ctx, branch, branch.first_call_at, online=True),
        first_meeting=first_meeting,
        came=await attendance(ctx, first_meeting) if first_meeting else 0,
        paid=await paid_up(ctx, branch),
    )


# --- Roles ------------------------------------------------------------------------


async def grant_of(
    session: AsyncSession, person_id: int, role: str, scope: str, scope_id: int
) -> RoleGrant | None:
    """The person's grant of ``role`` at that scope, if they hold it."""
    return await session.scalar(
        select(RoleGrant).where(
            RoleGrant.person_id == person_id,
            RoleGrant.role == role,
            RoleGrant.scope == scope,
            RoleGrant.scope_id == scope_id,
        )
    )


async def national_admin_count(session: AsyncSession) -> int:
    """How many national admins the party has."""
    found = await session.scalar(
        select(func.count())
        .select_from(RoleGrant)
        .where(RoleGrant.role == ADMIN, RoleGrant.scope == SCOPE_NATIONAL)
    )
    return int(found or 0)


async def end_grant(session: AsyncSession, grant: RoleGrant) -> None:
    """The role ends."""
    await session.execute(delete(RoleGrant).where(RoleGrant.id == grant.id))


# --- Group chats --------------------------------------------------------------------


async def chat_link(session: AsyncSession, platform: str, chat_id: str) -> BranchChat | None:
    """The branch link of a group chat, if it has one."""
    return await session.scalar(
        select(BranchChat).where(BranchChat.platform == platform, BranchChat.chat_id == chat_id)
    )


async def remove_chat_link(session: AsyncSession, link: BranchChat) -> None:
    await session.delete(link)


# --- Regions ----------------------------------------------------------------------


async def region_named(session: AsyncSession, name: str) -> Region | None:
    """The region called ``name`` (in any case), or whose key it is."""
    return await session.scalar(
        select(Region).where(
            (func.lower(Region.name) == name.lower()) | (Region.slug == slugify(name))
        )
    )


async def region_called(session: AsyncSession, name: str) -> Region | None:
    """The region called ``name`` (in any case), or whose key it is as typed."""
    return await session.scalar(
        select(Region).where(
            (func.lower(Region.name) == name.lower()) | (Region.slug == name.lower())
        )
    )


async def first_regions(session: AsyncSession, limit: int) -> list[Region]:
    """The first ``limit`` regions made."""
    return list(await session.scalars(select(Region).order_by(Region.id).limit(limit)))


async def region_with_slug(session: AsyncSession, slug: str) -> Region | None:
    return await session.scalar(select(Region).where(Region.slug == slug))


async def region_meant(
    session: AsyncSession, slug: str, home: Branch | None, grants: Iterable[RoleGrant]
) -> Region | None:
    """The region a command means: the one ``slug`` names, else the person's own
    branch's (``home``), else the one region they hold a role in (``grants``)."""
    if slug:
        return await region_with_slug(session, slug.lower())
    if home is not None and home.region_id is not None:
        return await session.get(Region, home.region_id)
    held = {g.scope_id for g in grants if g.scope == SCOPE_REGION}
    return await session.get(Region, held.pop()) if len(held) == 1 else None


async def regions_by_name(session: AsyncSession) -> list[Region]:
    return list(await session.scalars(select(Region).order_by(Region.name)))


async def branches_by_region(session: AsyncSession) -> dict[int | None, int]:
    """How many branches each region has (None: those waiting for one)."""
    rows = await session.execute(select(Branch.region_id, func.count()).group_by(Branch.region_id))
    return {region_id: count for region_id, count in rows.all()}


async def branches_in(session: AsyncSession, region: Region) -> int:
    found = await session.scalar(
        select(func.count()).select_from(Branch).where(Branch.region_id == region.id)
    )
    return int(found or 0)


async def branches_waiting(session: AsyncSession, limit: int | None = None) -> list[Branch]:
    """The branches in no region yet, by name."""
    stmt = select(Branch).where(Branch.region_id.is_(None)).order_by(Branch.name)
    return list(await session.scalars(stmt.limit(limit) if limit is not None else stmt))


async def end_region_roles(session: AsyncSession, region: Region) -> None:
    """Every role held over the region ends (the region is removed)."""
    await session.execute(
        delete(RoleGrant).where(RoleGrant.scope == SCOPE_REGION, RoleGrant.scope_id == region.id)
    )


async def remove_region(session: AsyncSession, region: Region) -> None:
    await session.delete(region)


async def region_for(session: AsyncSession, place: str) -> Region | None:
    """The one region whose area covers ``place``; None when none or several do."""
    regions = await session.scalars(select(Region).where(Region.area != ""))
    matches = [r for r in regions if Area.parse(r.area).covers(place)]
    return matches[0] if len(matches) == 1 else None


# --- What a merge moves -----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Holdings:
    """What a branch has that a merge moves, for the preview."""

    people: int
    organisers: int
    meetings: int
    canvass_slots: int
    polls: int
    chats: int


async def holdings(session: AsyncSession, branch: Branch) -> Holdings:
    async def count(stmt: Any) -> int:
        return int(await session.scalar(stmt) or 0)

    return Holdings(
        people=await count(
            select(func.count()).select_from(Person).where(Person.branch_id == branch.id)
        ),
        organisers=await count(
            select(func.count(func.distinct(RoleGrant.person_id))).where(
                RoleGrant.scope == SCOPE_BRANCH,
                RoleGrant.scope_id == branch.id,
                RoleGrant.role == ORGANISER,
            )
        ),
        meetings=await count(
            select(func.count())
            .select_from(Meeting)
            .where(Meeting.branch_id == branch.id, Meeting.cancelled_at.is_(None))
        ),
        canvass_slots=await count(
            select(func.count())
            .select_from(CanvassSlot)
            .where(CanvassSlot.branch_id == branch.id, CanvassSlot.removed_at.is_(None))
        ),
        polls=await count(
            select(func.count())
            .select_from(Poll)
            .where(Poll.scope == SCOPE_BRANCH, Poll.scope_id == branch.id)
        ),
        chats=await count(
            select(func.count()).select_from(BranchChat).where(BranchChat.branch_id == branch.id)
        ),
    )


async def pending_draws(session: AsyncSession, branch: Branch) -> int:
    """Draws of the branch committed and still waiting for their seed: their pool
    was fixed from this branch's members, so a merge waits for them."""
    return int(
        await session.scalar(
            select(func.count())
            .select_from(Draw)
            .where(
                Draw.scope == SCOPE_BRANCH,
                Draw.scope_id == branch.id,
                Draw.status == "committed",
            )
        )
        or 0
    )


# --- Delivery -----------------------------------------------------------------------


async def undelivered(
    session: AsyncSession, branch: Branch, since: dt.datetime, limit: int
) -> list[Any]:
    """(message, person) for each message to the branch's people since ``since`` that
    was given up or is still being retried, newest first."""
    return list(
        (
            await session.execute(
                select(OutboxMessage, Person)
                .join(Person, Person.id == OutboxMessage.person_id)
                .where(
                    Person.branch_id == branch.id,
                    OutboxMessage.created_at > since,
                    (OutboxMessage.status == UNDELIVERABLE)
                    | ((OutboxMessage.status == PENDING) & (OutboxMessage.attempts > 0)),
                )
                .order_by(OutboxMessage.created_at.desc())
                .limit(limit)
            )
        ).all()
    )


async def unreachable(session: AsyncSession, branch: Branch) -> list[Any]:
    """(name, short id, platform) of each of the branch's people a platform cannot reach."""
    return list(
        await session.execute(
            select(Person.display_name, Person.short_id, Identity.platform)
            .join(Identity, Identity.person_id == Person.id)
            .where(Person.branch_id == branch.id, Identity.unreachable.is_(True))
            .order_by(Person.display_name)
        )
    )


# --- People -------------------------------------------------------------------------


async def identity_count(session: AsyncSession, person: Person) -> int | None:
    """How many chat accounts the person has."""
    return await session.scalar(
        select(func.count()).select_from(Identity).where(Identity.person_id == person.id)
    )
