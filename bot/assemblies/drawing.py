"""An assembly's draw, with the councils' engine and trust rules: the pool
(registrants who answered every question) under pseudonyms in a secret random
order, quotas from the census, one person a household; solved into a sealed
record (``bot.lib.sortition``), previewed, committed before the seed can be
known, then drawn once with the public seed and the invitations sent.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import secrets
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from bot.assemblies import queries
from bot.assemblies.invitations import invite, replace_place
from bot.assemblies.rules import (
    CANCELLED,
    COMMITTED,
    DRAWN,
    PREVIEW,
    TRIAL,
    Problem,
    categories_of,
    census_quotas,
    pseudonym,
)
from bot.draws.rules import PREVIEW_LIFETIME, with_event
from bot.kernel.config import Settings
from bot.kernel.i18n import N_
from bot.lib.sortition.drawing import seeded
from bot.lib.sortition.model import Person as Entrant
from bot.lib.sortition.model import Problem as Selection
from bot.lib.sortition.model import Quota, SortitionError
from bot.lib.sortition.seeds import is_trial, seed_exists_at
from storage.models import Assembly, AssemblyDraw, AssemblyInvitation, AssemblyRegistrant
from storage.writes import claim

LOTTERY_PANELS = 1000


def quotas_of(assembly: Assembly) -> list[Quota]:
    if not assembly.targets:
        return []
    return census_quotas(assembly.seats, assembly.targets, assembly.tolerance)


def selection(
    pool: list[AssemblyRegistrant], quotas: list[Quota], seats: int
) -> tuple[Selection, dict[str, int], dict[str, str]]:
    """The problem over pseudonyms (numbered in a secret random order, so that
    registration order tells nothing), who is behind each, and each one's household."""
    order = list(range(len(pool)))
    secrets.SystemRandom().shuffle(order)
    names = [pseudonym(order[i]) for i in range(len(pool))]
    entrants = [Entrant(names[i], dict(r.answers)) for i, r in enumerate(pool)]
    behind = {names[i]: r.id for i, r in enumerate(pool)}
    households = {names[i]: r.household for i, r in enumerate(pool)}
    return Selection.build(entrants, quotas, seats), behind, households


def solve(
    problem: Selection, source: dict[str, Any], households: dict[str, str], m: int
) -> tuple[dict[str, Any], str | None]:
    """The sealed record, with the census quotas relaxed (and why) if they cannot all be met."""
    from bot.lib.sortition.building import commit_sealed
    from bot.lib.sortition.panels import InfeasibleQuotas

    try:
        record, _ = commit_sealed(problem, source, m, households=households)
        return record, None
    except InfeasibleQuotas as exc:
        relaxed = Selection.build(
            problem.people, exc.relaxation.relaxed, problem.k, problem.exclude
        )
        record, _ = commit_sealed(relaxed, source, m, households=households)
        return record, exc.relaxation.describe()


async def preview(
    session: AsyncSession,
    assembly: Assembly,
    source: dict[str, Any],
    created_by: int | None,
    now: dt.datetime,
    *,
    m: int = LOTTERY_PANELS,
) -> tuple[AssemblyDraw, str | None]:
    """Solve the draw and keep it as a preview (who is behind each pseudonym in
    ``assembly_entrants``), or raise Problem."""
    quotas = quotas_of(assembly)
    if not quotas:
        raise Problem(N_("Upload the census targets first: /assembly targets {id}"), id=assembly.id)
    pool = [
        r
        for r in await queries.pool(session, assembly.id)
        if set(r.answers) >= {c.name for c in categories_of(assembly.categories)}
    ]
    try:
        problem, behind, households = selection(pool, quotas, assembly.seats)
    except SortitionError:
        raise Problem(
            N_(
                "Only {n} residents have registered for {seats} seats: the panel cannot be drawn yet."
            ),
            n=len(pool),
            seats=assembly.seats,
        ) from None
    try:
        record, relaxation = await asyncio.to_thread(solve, problem, source, households, m)
    except SortitionError:
        raise Problem(
            N_(
                "The panel cannot be drawn with one person per household from these "
                "registrants: too many share an address."
            )
        ) from None
    await queries.drop_stale_previews(session, now - PREVIEW_LIFETIME)
    draw = AssemblyDraw(
        assembly_id=assembly.id,
        status=PREVIEW,
        record=record,
        record_hash=record["record_hash"],
        seed_due_at=now,
        witnesses=[],
        answer_within_hours=7 * 24,
        created_by=created_by,
        created_at=now,
    )
    session.add(draw)
    await session.flush()
    await queries.add_entrants(session, draw.id, behind)
    return draw, relaxation


async def commit(
    session: AsyncSession, assembly: Assembly, draw: AssemblyDraw, now: dt.datetime
) -> bool:
    """The preview becomes the assembly's draw (once; never beside another live
    one): its seed is due when the source says, never before now."""
    if await queries.live_draw(session, assembly.id) is not None:
        return False
    due = seed_exists_at(draw.record["seed_source"], assembly.timezone, now)
    return await claim(
        session,
        AssemblyDraw,
        AssemblyDraw.id == draw.id,
        AssemblyDraw.status == PREVIEW,
        status=COMMITTED,
        created_at=now,
        seed_due_at=max(due, now),
    )


async def complete(
    session: AsyncSession, settings: Settings, draw: AssemblyDraw, seed: str, now: dt.datetime
) -> list[AssemblyInvitation] | None:
    """Draw with ``seed``, once and never before it exists; invite those
    selected (a trial invites nobody). A selected registrant withdrawn since the
    commitment is a vacancy at once, filled under the committed rule."""
    if now < draw.seed_due_at:
        return None
    trial = is_trial(draw.record["seed_source"])
    index, selected, record = seeded(draw.record, seed)
    if not await claim(
        session,
        AssemblyDraw,
        AssemblyDraw.id == draw.id,
        AssemblyDraw.status == COMMITTED,
        status=TRIAL if trial else DRAWN,
        seed=seed,
        chosen_index=index,
        drawn_at=now,
        record=record,
    ):
        return None
    await session.refresh(draw)
    if trial:
        return []
    assembly = await session.get(Assembly, draw.assembly_id)
    if assembly is None:
        return []
    behind = await queries.entrants_of(session, draw.id)
    invitations = []
    for name in selected:
        if name in behind:
            invitation = await invite(session, assembly, draw, behind[name], now)
            if invitation is not None:
                invitations.append(invitation)
    for name in selected:
        if name not in behind:
            await replace_place(session, settings, draw.id, name, "vacated", now)
    return invitations


async def cancel(session: AsyncSession, draw: AssemblyDraw, reason: str, now: dt.datetime) -> bool:
    """Cancel a committed draw while nobody can know its seed yet (before it is
    due and before any witness has entered it): once it may be known, a cancel
    would be a choice between panels. Its history keeps the reason."""
    if draw.witnesses or now >= draw.seed_due_at:
        return False
    return await claim(
        session,
        AssemblyDraw,
        AssemblyDraw.id == draw.id,
        AssemblyDraw.status == COMMITTED,
        status=CANCELLED,
        record=with_event(
            draw.record, {"event": "cancelled", "at": now.isoformat(), "reason": reason}
        ),
    )
