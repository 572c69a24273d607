"""The draws' rules over plain values: the kinds of body and the states of a
draw, apportioning delegation seats, when a seed may be known (so a cancel
would be a choice), an invitation's deadline, and a record's history. No
database, no request, no text."""

from __future__ import annotations

import datetime as dt
import math
from typing import TYPE_CHECKING, Any

from bot.lib.sortition.drawing import entrant_ids

if TYPE_CHECKING:
    from storage.models import Draw


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


def n_pool(record: dict[str, Any]) -> int:
    return len(entrant_ids(record)) - len(record["excluded"])
