"""Who a draw is for (:class:`Body`): a council, or one unit's delegation."""

from __future__ import annotations

from dataclasses import dataclass


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
