"""Solving a draw's preview: quotas in proportion to the pool, the problem over
pseudonymous ids, the solver's record (or the smallest relaxation), and the
preview kept as a draw until it is committed. The solver is imported where a
draw is solved: a bot that never solves one does not hold it in memory.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import math
import secrets
from collections import Counter
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.draws.bodies import Body
from bot.draws.rules import PREFER_NOT, PREVIEW, PREVIEW_LIFETIME
from bot.kernel.config import Settings, parse_categories
from bot.lib.sortition.building import commit_sealed
from bot.lib.sortition.model import Person as Entrant
from bot.lib.sortition.model import Problem, Quota
from storage.models import Draw, DrawEntrant, Person


def pseudonym(index: int) -> str:
    return f"P{index + 1:04d}"


def proportional_quotas(
    features: list[dict[str, str]], settings: Settings, seats: int
) -> list[Quota]:
    """Each value's share of the pool in seats, plus or minus one."""
    quotas = []
    for name, values in parse_categories(settings.sortition_categories):
        counts = Counter(f[name] for f in features)
        for value in [*values, PREFER_NOT]:
            share = seats * counts.get(value, 0) / max(len(features), 1)
            low = max(0, math.floor(share) - 1)
            high = min(seats, math.ceil(share) + 1) if counts.get(value) else 0
            quotas.append(Quota(name, value, low, high))
    return quotas


def build(
    people: list[tuple[Person, dict[str, str]]], quotas: list[Quota], seats: int
) -> tuple[Problem, dict[str, int]]:
    """The problem over pseudonymous ids, and who is behind each."""
    # Pseudonyms in a secret random order: numbered in joining order, they would
    # let anyone who knows who joined when read the published features.
    order = list(range(len(people)))
    secrets.SystemRandom().shuffle(order)
    entrants = [Entrant(pseudonym(order[i]), features) for i, (_, features) in enumerate(people)]
    behind = {pseudonym(order[i]): person.id for i, (person, _) in enumerate(people)}
    return Problem.build(entrants, quotas, seats), behind


async def solve(
    problem: Problem, seed_source: dict[str, Any], m: int
) -> tuple[dict[str, Any], str | None]:
    """(record, None), or the quotas relaxed as proposed and a sentence why.

    Solved in a thread: the linear programs can take a moment."""
    from bot.lib.sortition.panels import InfeasibleQuotas

    try:
        record, _ = await asyncio.to_thread(commit_sealed, problem, seed_source, m)
        return record, None
    except InfeasibleQuotas as exc:
        relaxed = Problem.build(problem.people, exc.relaxation.relaxed, problem.k, problem.exclude)
        record, _ = await asyncio.to_thread(commit_sealed, relaxed, seed_source, m)
        return record, exc.relaxation.describe()


async def stage(
    session: AsyncSession,
    kind: str,
    body: Body,
    seats: int,
    record: dict[str, Any],
    behind: dict[str, int],
    now: dt.datetime,
) -> Draw:
    """Keep a preview as a draw in status ``preview``: who is behind each
    pseudonym stays in ``draw_entrants``, never in the organiser's prompt (which
    ``/mydata`` hands out). Previews older than a Commit button are deleted."""
    stale = select(Draw.id).where(Draw.status == PREVIEW, Draw.created_at < now - PREVIEW_LIFETIME)
    await session.execute(
        DrawEntrant.__table__.delete().where(DrawEntrant.draw_id.in_(stale))  # type: ignore[attr-defined]
    )
    await session.execute(Draw.__table__.delete().where(Draw.id.in_(stale)))  # type: ignore[attr-defined]
    draw = Draw(
        body=kind,
        scope=body.scope,
        scope_id=body.scope_id,
        seats=seats,
        status=PREVIEW,
        record=record,
        record_hash=record["record_hash"],
        seed_due_at=now,
        witnesses=[],
        round=0,
        respond_by=now,
        created_at=now,
    )
    session.add(draw)
    await session.flush()
    session.add_all(
        DrawEntrant(draw_id=draw.id, pseudonym=name, person_id=pid) for name, pid in behind.items()
    )
    await session.flush()
    return draw
