"""Draws by lot in chat: councils (of a branch, a region or the national
party) and delegations (from each branch to its region, from each region to
the national level).

1. **Preview.** The pool is the body's members with current dues who opted in
   (``/profile``) and have not sat on the same body within the rotation period.
   Quotas are proportional to the pool, plus or minus one seat per value, or
   set by the organiser. The organiser sees feasibility (or the smallest
   relaxation) and the fairness summary before anything is committed.
2. **Commit.** The record (``bot.lib.sortition.record``) is stored and posted; the
   people behind its pseudonymous ids are kept apart and never published. A
   delegation commits one record per sending branch (or region), each
   verifiable on its own, grouped under the first.
3. **Seed.** A beacon's round is fetched by the scheduler once it is published
   (and only if the bot saw it unpublished after the commitment); a lottery's
   numbers are entered with ``/draw seed`` by two witnesses (staff over the
   body) who must agree, and the scheduler reminds them on the lottery's day; a
   plain string needs one. The draw then completes: the index, the panel,
   invitations.
4. **Invitations.** Accept or Decline by the invited person only; reminders 48
   and 24 hours before the deadline; silence at the deadline is a decline. Each
   decline draws a replacement from those not yet invited, with quotas reduced
   by those still in, itself a committed record with a seed derived from the
   original one.

This module: who a draw is for (:class:`Body`), who can be drawn (the pool,
members, apportioning delegation seats), who hears of it (:func:`publish`,
:func:`staff_of`), and the queries over committed draws. The other jobs:
``bot.draws.preview`` (solving and staging a preview), ``bot.draws.completion``
(cancelling and completing with a seed), ``bot.draws.invitations`` (invitations,
replacements, vacancies) and ``bot.draws.seeding`` (fetching beacon rounds,
lottery reminders).
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Select, bindparam, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.branches.recipients import organisers_of
from bot.kernel.config import Settings, parse_categories
from bot.kernel.effects import people_of
from bot.kernel.i18n import Translator, translator
from bot.kernel.messages import Attachment
from bot.kernel.outbox import Recipients, enqueue, enqueue_for
from storage.models import (
    AuditEntry,
    Branch,
    BranchChat,
    CouncilSeat,
    Draw,
    DrawEntrant,
    Person,
    Region,
    RoleGrant,
    SortitionProfile,
)
from storage.vocabulary import (
    ADMIN,
    AFFILIATED,
    NATIONAL_SCOPE_ID,
    ORGANISER,
    SCOPE_BRANCH,
    SCOPE_NATIONAL,
    SCOPE_REGION,
)

COUNCIL = "branch-council"
REGION_COUNCIL = "region-council"
NATIONAL_COUNCIL = "national-council"
TO_REGION = "delegation-region"  # delegates of a branch to its region
TO_NATIONAL = "delegation-national"  # delegates of a region to the national level
DELEGATIONS = (TO_REGION, TO_NATIONAL)
PREFER_NOT = "prefer not to say"
REMIND_AT = (dt.timedelta(hours=48), dt.timedelta(hours=24))
TRIAL = "trial"  # a completed draw whose seed was typed: it invites nobody
PREVIEW = "preview"  # solved and shown to the organiser, not committed: nobody's draw yet
COMMITTED = "committed"
CANCELLED = "cancelled"
VACATED = "vacated"  # an invitation or seat given up otherwise than by answering
PREVIEW_LIFETIME = dt.timedelta(days=2)  # as long as the preview's Commit button
RECORD_FILE_LIMIT = 8_000_000  # bytes: larger records are fetched with /draw record


@dataclass(frozen=True, slots=True)
class Body:
    """Who a draw is for: a council, or one unit's delegation. ``scope`` and
    ``scope_id`` name the unit whose members form the pool (a branch, a region,
    or the national party with id 0)."""

    kind: str
    scope: str
    scope_id: int
    name: str
    timezone: str
    destination: str = ""  # a delegation's: the region's name, or the party's

    def describe(self, t: Translator) -> str:
        if self.kind == TO_REGION:
            return t("the delegation of {unit} to {to}", unit=self.name, to=self.destination)
        if self.kind == TO_NATIONAL:
            return t("the delegation of {unit} to the national level", unit=self.name)
        if self.kind == REGION_COUNCIL:
            return t("the {unit} regional council", unit=self.name)
        if self.kind == NATIONAL_COUNCIL:
            return t("the national council")
        return t("the {unit} council", unit=self.name)


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


def apportion(members: dict[int, int], caps: dict[int, int], seats: int) -> dict[int, int]:
    """Seats per unit in proportion to its members, at least one each, never
    more than its ``caps`` (who can be drawn there), summing to ``seats`` where
    the caps allow: the largest remainder method, deterministic (ties to the
    lower id). Units with nobody to draw get nothing."""
    units = sorted(u for u in members if caps.get(u, 0) > 0)
    total = sum(members[u] for u in units) or 1
    share = {u: seats * members[u] / total for u in units}
    given = {u: min(caps[u], max(1, math.floor(share[u]))) for u in units}
    while sum(given.values()) > seats:
        over = [u for u in units if given[u] > 1]
        if not over:
            break
        given[min(over, key=lambda u: (share[u] - given[u], -u))] -= 1
    while sum(given.values()) < seats:
        room = [u for u in units if given[u] < caps[u]]
        if not room:
            break
        given[max(room, key=lambda u: (share[u] - given[u], -u))] += 1
    return given


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


async def publish(
    session: AsyncSession,
    settings: Settings,
    body: Body,
    *,
    key: str,
    render: Any,
    now: dt.datetime,
    file: Attachment | None = None,
) -> None:
    """To the body's chats (the linked chats of its branches) if it has any, in
    the party's language, with ``file``; else to each of its people privately
    (without the file: a pool's record can be large)."""
    chats = list(
        await session.scalars(
            select(BranchChat.id).where(
                BranchChat.branch_id.in_(branches_in(body.scope, body.scope_id))
            )
        )
    )
    if not chats:
        await enqueue_for(session, people_in(body), key=key, render=render, now=now)
        return
    text = render(translator(settings.default_locale))
    if file is not None and len(file.content) > RECORD_FILE_LIMIT:
        file = None
    for chat_id in chats:
        await enqueue(
            session,
            key=f"{key}:chat{chat_id}",
            text=text,
            now=now,
            branch_chat_id=chat_id,
            file=file,
        )


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


def seed_may_be_known(draw: Draw, now: dt.datetime) -> bool:
    """Once a public seed is due, or witnesses have begun to enter it, a cancel
    could be a choice between panels."""
    source = draw.record.get("seed_source") or {}
    if draw.witnesses:
        return True
    return source.get("kind") in ("lottery", "beacon") and draw.seed_due_at <= now


def answer_by(draw: Draw, now: dt.datetime) -> dt.datetime:
    """The deadline of an invitation sent ``now`` for ``draw``: as long as the
    draw gave at its commit, and never under a day."""
    return now + max(draw.respond_by - draw.created_at, dt.timedelta(days=1))


def with_event(record: dict[str, Any], event: dict[str, Any]) -> dict[str, Any]:
    """``record`` with ``event`` added to its history (kept outside the hashed fields)."""
    return {**record, "history": [*record.get("history", []), event]}


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
