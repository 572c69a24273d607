"""A limited number of places with a waiting list: a canvassing session's sign-ups
and a meeting's "Going" answers keep their places by the same rules.

- Taking a place when one is free: going. When every place is taken: waiting.
  No capacity (None): never full.
- When a place frees (someone going cancels, or the capacity is raised), the
  first waiting are let in, first come first served (by the time they joined
  the list), as many as there are free places.
- Lowering the capacity takes nobody's place away.

The caller holds the row lock of what has the places (the session, the meeting:
loaded with ``with_for_update=True``, or ``session.refresh(row, with_for_update=True)``)
while places are counted and given, so two people taking the last place at once
cannot both get it.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Insert, Integer, Select, bindparam, case, func, insert, literal, select
from sqlalchemy.ext.asyncio import AsyncSession


def places_left(capacity: int | None, going: int) -> int | None:
    """Free places (never below 0), or None for no limit."""
    return None if capacity is None else max(capacity - going, 0)


def is_full(capacity: int | None, going: int) -> bool:
    return capacity is not None and going >= capacity


@dataclass(frozen=True)  # not slots: the prebuilt query is a cached_property
class WaitingList:
    """Where a feature keeps people's places: ``rows``, the mapped class of one
    person's place (it has a ``person_id``); ``of``, its column naming what has
    the places; ``status``, its column holding ``going`` or ``waiting`` (or any
    other answer, which holds no place); ``since``, the column that orders the
    waiting list."""

    rows: type[Any]
    of: Any
    status: Any
    since: Any
    going: str
    waiting: str

    async def count_going(self, session: AsyncSession, holder_id: int) -> int:
        count = await session.scalar(
            select(func.count())
            .select_from(self.rows)
            .where(self.of == holder_id, self.status == self.going)
        )
        return int(count or 0)

    async def counts_going(
        self, session: AsyncSession, holder_ids: Sequence[int]
    ) -> dict[int, int]:
        """How many are going to each of ``holder_ids`` (absent: none)."""
        counted = await session.execute(
            select(self.of, func.count())
            .where(self.of.in_(holder_ids), self.status == self.going)
            .group_by(self.of)
        )
        return {holder_id: int(n) for holder_id, n in counted}

    async def place_for(self, session: AsyncSession, holder_id: int, capacity: int | None) -> str:
        """``going`` if a place is free now, else ``waiting``: the status to give
        someone who asks for a place."""
        if capacity is None:
            return self.going
        full = is_full(capacity, await self.count_going(session, holder_id))
        return self.waiting if full else self.going

    @functools.cached_property
    def _ask(self) -> Select[Any, int]:
        return select(
            func.max(case((self.rows.person_id == bindparam("person"), self.status))),
            func.count(case((self.status == self.going, 1))),
        ).where(self.of == bindparam("holder"))

    async def ask(
        self, session: AsyncSession, holder_id: int, person_id: int, capacity: int | None
    ) -> tuple[str | None, str]:
        """(the person's status if they hold a row already, else None; the status
        :meth:`place_for` would give them now), in one query built once: what a
        press of "Sign up" needs."""
        mine, going = (
            await session.execute(self._ask, {"holder": holder_id, "person": person_id})
        ).one()
        full = is_full(capacity, int(going or 0))
        return (None if mine is None else str(mine)), (self.waiting if full else self.going)

    @functools.cached_property
    def _take(self) -> Insert:
        counted = (
            select(
                func.count(case((self.status == self.going, 1))).label("going"),
                func.max(case((self.rows.person_id == bindparam("person"), 1))).label("mine"),
            )
            .where(self.of == bindparam("holder"))
            .subquery()
        )
        full = counted.c.going >= bindparam("capacity", type_=Integer)  # NULL: no limit
        given = case(
            (full, literal(self.waiting, self.status.type)),
            else_=literal(self.going, self.status.type),
        )
        table = self.rows.__table__
        return (
            insert(table)
            .from_select(
                [self.of.key, table.c.person_id.key, self.status.key, self.since.key],
                select(
                    bindparam("holder", type_=self.of.type),
                    bindparam("person", type_=table.c.person_id.type),
                    given,
                    bindparam("since", type_=self.since.type),
                ).where(counted.c.mine.is_(None)),
            )
            .returning(table.c[self.status.key])
        )

    async def take(
        self,
        session: AsyncSession,
        holder_id: int,
        person_id: int,
        capacity: int | None,
        since: object,
    ) -> str | None:
        """Give the person a place (``going``) if one is free, else put them on the
        waiting list, counting and writing in one statement built once: what a press
        of "Sign up" needs. The status given, or None if they hold a row already
        (nothing written: :meth:`ask` says what it is)."""
        given = await session.scalar(
            self._take,
            {"holder": holder_id, "person": person_id, "capacity": capacity, "since": since},
        )
        return None if given is None else str(given)

    async def promote(
        self, session: AsyncSession, holder_id: int, capacity: int | None
    ) -> list[int]:
        """Let the first waiting into the free places; the ids of the people let in."""
        waiting = (
            select(self.rows)
            .where(self.of == holder_id, self.status == self.waiting)
            .order_by(self.since, self.rows.id)
        )
        if capacity is not None:
            free = capacity - await self.count_going(session, holder_id)
            if free <= 0:
                return []
            waiting = waiting.limit(free)
        promoted = list(await session.scalars(waiting))
        for row in promoted:
            setattr(row, self.status.key, self.going)
        await session.flush()
        return [row.person_id for row in promoted]
