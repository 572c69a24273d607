"""The draws' queries: a draw's body, who can be drawn (the pool, members with
current dues), who hears of a draw (its people, its staff), and the lookups
over committed draws (pending, published hash, entrants, root and group)."""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Select, bindparam, delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.branches.recipients import organisers_of
from bot.draws.bodies import Body
from bot.draws.rules import COMMITTED, PREFER_NOT, TO_REGION
from bot.kernel.config import Settings, parse_categories
from bot.kernel.effects import people_of
from bot.kernel.outbox import Recipients
from storage.models import (
    AuditEntry,
    Branch,
    Consent,
    CouncilSeat,
    Draw,
    DrawEntrant,
    Invitation,
    Person,
    Region,
    RoleGrant,
    SortitionProfile,
)
from storage.vocabulary import (
    ACCEPTED,
    ADMIN,
    AFFILIATED,
    NATIONAL_SCOPE_ID,
    ORGANISER,
    SCOPE_BRANCH,
    SCOPE_NATIONAL,
    SCOPE_REGION,
)


async def body_of(
    session: AsyncSession, settings: Settings, kind: str, scope: str, scope_id: int
) -> Body | None:
    if scope == SCOPE_BRANCH:
        branch = await session.get(Branch, scope_id)
        if branch is None:
            return None
        destination = ""
        if kind == TO_REGION and branch.region_id is not None:
            region = await session.get(Region, branch.region_id)
            destination = region.name if region else ""
        return Body(kind, scope, scope_id, branch.name, branch.timezone, destination)
    if scope == SCOPE_REGION:
        region = await session.get(Region, scope_id)
        if region is None:
            return None
        return Body(
            kind, scope, scope_id, region.name, settings.default_timezone, settings.party_name
        )
    return Body(
        kind, SCOPE_NATIONAL, NATIONAL_SCOPE_ID, settings.party_name, settings.default_timezone
    )


async def draw_body(session: AsyncSession, settings: Settings, draw: Draw) -> Body | None:
    return await body_of(session, settings, draw.body, draw.scope, draw.scope_id)


def branches_in(scope: str, scope_id: int) -> Select[Any]:
    """The ids of the branches whose members belong to a unit: the branch itself;
    a region's affiliated branches; every affiliated branch."""
    if scope == SCOPE_BRANCH:
        return select(Branch.id).where(Branch.id == scope_id)
    if scope == SCOPE_REGION:
        return select(Branch.id).where(Branch.region_id == scope_id, Branch.status == AFFILIATED)
    return select(Branch.id).where(Branch.status == AFFILIATED)


def _today(body: Body, now: dt.datetime) -> dt.date:
    return now.astimezone(ZoneInfo(body.timezone)).date()


async def eligible(
    session: AsyncSession, settings: Settings, body: Body, now: dt.datetime
) -> list[tuple[Person, dict[str, str]]]:
    """Members of the body's unit with current dues, opted in, not seated on the
    same body within the rotation period."""
    since = now - dt.timedelta(days=30 * settings.sortition_rotation_months)
    served = select(CouncilSeat.person_id).where(
        CouncilSeat.body == body.kind,
        CouncilSeat.scope == body.scope,
        CouncilSeat.scope_id == body.scope_id,
        CouncilSeat.since > since,
    )
    rows = await session.execute(
        select(Person, SortitionProfile.features)
        .join(SortitionProfile, SortitionProfile.person_id == Person.id)
        .where(
            Person.branch_id.in_(branches_in(body.scope, body.scope_id)),
            Person.dues_paid_until >= _today(body, now),
            SortitionProfile.opted_in.is_(True),
            Person.id.not_in(served),
        )
        .order_by(Person.id)
    )
    categories = [name for name, _ in parse_categories(settings.sortition_categories)]
    return [
        (person, {c: str(features.get(c) or PREFER_NOT) for c in categories})
        for person, features in rows
    ]


async def member_count(session: AsyncSession, body: Body, now: dt.datetime) -> int:
    """Members with current dues in the body's unit: what delegation seats follow."""
    return (
        await session.scalar(
            select(func.count(Person.id)).where(
                Person.branch_id.in_(branches_in(body.scope, body.scope_id)),
                Person.dues_paid_until >= _today(body, now),
            )
        )
        or 0
    )


# Who hears about a draw: module-level queries (see bot.kernel.outbox.Recipients).
_PEOPLE_IN_REGION = select(Person.id).where(
    Person.branch_id.in_(
        select(Branch.id).where(
            Branch.region_id == bindparam("r_region"), Branch.status == AFFILIATED
        )
    )
)
_PEOPLE_NATIONAL = select(Person.id).where(
    Person.branch_id.in_(select(Branch.id).where(Branch.status == AFFILIATED))
)
_STAFF_OF_REGION = select(RoleGrant.person_id).where(
    RoleGrant.role.in_((ORGANISER, ADMIN)),
    (RoleGrant.scope == SCOPE_NATIONAL)
    | ((RoleGrant.scope == SCOPE_REGION) & (RoleGrant.scope_id == bindparam("r_region"))),
)
_NATIONAL_STAFF = select(RoleGrant.person_id).where(
    RoleGrant.role.in_((ORGANISER, ADMIN)), RoleGrant.scope == SCOPE_NATIONAL
)


def people_in(body: Body) -> Recipients:
    if body.scope == SCOPE_BRANCH:
        return people_of(_branch_ref(body.scope_id))
    if body.scope == SCOPE_REGION:
        return Recipients(_PEOPLE_IN_REGION, {"r_region": body.scope_id})
    return Recipients(_PEOPLE_NATIONAL, {})


def staff_of(body: Body) -> Recipients:
    """Who may see names: the unit's own organisers (a branch's, or the region's
    and national staff for a region, national staff for the party)."""
    if body.scope == SCOPE_BRANCH:
        return organisers_of(_branch_ref(body.scope_id))
    if body.scope == SCOPE_REGION:
        return Recipients(_STAFF_OF_REGION, {"r_region": body.scope_id})
    return Recipients(_NATIONAL_STAFF, {})


def _branch_ref(branch_id: int) -> Branch:
    return Branch(id=branch_id)


async def pending_draw(session: AsyncSession, body: Body) -> Draw | None:
    """The body's draw committed and waiting for its seed, if any (at most one:
    ``uq_draws_one_pending``)."""
    return await session.scalar(
        select(Draw).where(
            Draw.body == body.kind,
            Draw.scope == body.scope,
            Draw.scope_id == body.scope_id,
            Draw.status == COMMITTED,
            Draw.round == 0,
        )
    )


async def published_hash(session: AsyncSession, draw: Draw) -> str | None:
    """The record hash announced when ``draw`` was committed, as the audit log
    holds it: what a record must match, whatever the draw's row now says."""
    rows = await session.scalars(
        select(AuditEntry.details)
        .where(AuditEntry.action == "draw.committed", AuditEntry.at >= draw.created_at)
        .order_by(AuditEntry.id)
    )
    for details in rows:
        if isinstance(details, dict) and details.get("draw") == draw.id:
            value = details.get("record_hash")
            return str(value) if value else None
    return None


async def entrants_of(session: AsyncSession, draw_id: int) -> dict[str, int]:
    """Who is behind each pseudonym of ``draw_id``'s pool (kept apart from its
    record): a person forgotten since has no entry."""
    rows = await session.execute(
        select(DrawEntrant.pseudonym, DrawEntrant.person_id).where(DrawEntrant.draw_id == draw_id)
    )
    return dict(rows.all())


async def root_of(session: AsyncSession, draw: Draw) -> Draw:
    while draw.parent_id is not None:
        parent = await session.get(Draw, draw.parent_id)
        if parent is None:
            break
        draw = parent
    return draw


async def group_of(session: AsyncSession, draw: Draw) -> list[Draw]:
    """The draws committed and seeded together with ``draw``: its delegation, or itself."""
    if draw.group_id is None:
        return [draw]
    return list(
        await session.scalars(select(Draw).where(Draw.group_id == draw.group_id).order_by(Draw.id))
    )


async def drop_preview(session: AsyncSession, draw: Draw) -> None:
    """A previewed draw, never committed, goes."""
    await session.delete(draw)


async def record_witnesses(
    session: AsyncSession, group: list[Draw], witnesses: list[dict[str, Any]]
) -> None:
    """Each draw of the group keeps ``witnesses``' readings of its result."""
    await session.execute(
        update(Draw)
        .where(Draw.id.in_([d.id for d in group]))
        .values(witnesses=witnesses)
        .execution_options(synchronize_session=False)
    )


async def pseudonym_of(session: AsyncSession, draw: Draw, person: Person) -> str | None:
    """The person's pseudonym in the draw's pool, if they were in it."""
    return await session.scalar(
        select(DrawEntrant.pseudonym).where(
            DrawEntrant.draw_id == draw.id, DrawEntrant.person_id == person.id
        )
    )


async def grants_of(session: AsyncSession, person_id: int) -> list[RoleGrant]:
    return list(await session.scalars(select(RoleGrant).where(RoleGrant.person_id == person_id)))


# --- Seats ------------------------------------------------------------------------


async def seated(session: AsyncSession, root: Draw) -> int | None:
    """How many places the draw (and the replacements drawn under it) filled."""
    family = select(Draw.id).where((Draw.id == root.id) | (Draw.parent_id == root.id))
    return await session.scalar(
        select(func.count(Invitation.id)).where(
            Invitation.draw_id.in_(family), Invitation.status == ACCEPTED
        )
    )


async def seated_since(
    session: AsyncSession, kind: str, scope: str, scope_id: int, since: dt.datetime
) -> list[str]:
    """The names of who took a seat on that body after ``since``, by name."""
    return list(
        await session.scalars(
            select(Person.display_name)
            .join(CouncilSeat, CouncilSeat.person_id == Person.id)
            .where(
                CouncilSeat.body == kind,
                CouncilSeat.scope == scope,
                CouncilSeat.scope_id == scope_id,
                CouncilSeat.since > since,
            )
            .order_by(Person.display_name)
        )
    )


# --- Profiles -----------------------------------------------------------------------


async def profile_of(session: AsyncSession, person_id: int) -> SortitionProfile | None:
    return await session.scalar(
        select(SortitionProfile).where(SortitionProfile.person_id == person_id)
    )


async def forget_profile(session: AsyncSession, person_id: int, purpose: str) -> None:
    """The person's answers go, and their consent to be drawn."""
    await session.execute(delete(SortitionProfile).where(SortitionProfile.person_id == person_id))
    await session.execute(
        delete(Consent).where(Consent.person_id == person_id, Consent.purpose == purpose)
    )
