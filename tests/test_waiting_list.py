"""Places with a waiting list, as canvassing sessions and meetings keep them,
on both databases."""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.canvassing.queries import SIGNUPS
from bot.kernel.waiting_list import WaitingList, is_full, places_left
from bot.meetings.queries import PLACES
from storage.db import Database
from storage.models import Branch, CanvassSession, Meeting, Person

T0 = dt.datetime(2026, 11, 20, 9, 0, tzinfo=dt.UTC)
LISTS = {"canvassing": SIGNUPS, "meetings": PLACES}


def test_places_left_and_full() -> None:
    assert [places_left(3, n) for n in (0, 2, 3, 5)] == [3, 1, 0, 0]
    assert places_left(None, 100) is None
    assert [is_full(3, n) for n in (2, 3, 4)] == [False, True, True]
    assert not is_full(None, 10**6)


async def _setup(session: AsyncSession, which: str, capacity: int | None, people: int) -> Any:
    branch = Branch(
        name="Frome", slug="frome", timezone="Europe/London", status="active", created_at=T0
    )
    session.add(branch)
    session.add_all(
        Person(short_id=f"P{n:05}", display_name=f"P{n}", created_at=T0) for n in range(people)
    )
    await session.flush()
    holder: Any
    if which == "canvassing":
        holder = CanvassSession(
            branch_id=branch.id, starts_at=T0, meeting_point="Cross", capacity=capacity
        )
    else:
        holder = Meeting(
            branch_id=branch.id,
            kind="online",
            title="Call",
            starts_at=T0,
            capacity=capacity,
            created_at=T0,
        )
    session.add(holder)
    await session.flush()
    return holder


async def _ids(session: AsyncSession) -> list[int]:
    return list(await session.scalars(select(Person.id).order_by(Person.id)))


def _place(
    places: WaitingList, holder_id: int, person_id: int, status: str, at: dt.datetime
) -> Any:
    return places.rows(
        **{
            places.of.key: holder_id,
            "person_id": person_id,
            places.status.key: status,
            places.since.key: at,
        }
    )


async def _statuses(session: AsyncSession, places: WaitingList, holder_id: int) -> dict[int, str]:
    rows = await session.execute(
        select(places.rows.person_id, places.status).where(places.of == holder_id)
    )
    return {person: status for person, status in rows}


@pytest.mark.parametrize("which", LISTS)
async def test_a_place_while_there_is_room_then_the_waiting_list(db: Database, which: str) -> None:
    places = LISTS[which]
    async with db.transaction() as session:
        holder = await _setup(session, which, capacity=2, people=4)
        given = []
        for n, person in enumerate(await _ids(session)):
            status = await places.place_for(session, holder.id, holder.capacity)
            session.add(_place(places, holder.id, person, status, T0 + dt.timedelta(minutes=n)))
            await session.flush()
            given.append(status)
        assert given == [places.going, places.going, places.waiting, places.waiting]
        assert await places.count_going(session, holder.id) == 2
        assert await places.counts_going(session, [holder.id, 999]) == {holder.id: 2}
        assert await places.place_for(session, holder.id, None) == places.going


@pytest.mark.parametrize("which", LISTS)
async def test_asking_again_says_the_place_already_held(db: Database, which: str) -> None:
    places = LISTS[which]
    async with db.transaction() as session:
        holder = await _setup(session, which, capacity=1, people=3)
        a, b, c = await _ids(session)
        assert await places.ask(session, holder.id, a, holder.capacity) == (None, places.going)
        session.add(_place(places, holder.id, a, places.going, T0))
        await session.flush()
        assert await places.ask(session, holder.id, a, holder.capacity) == (
            places.going,
            places.waiting,  # what a newcomer would get now: the one place is taken
        )
        assert await places.ask(session, holder.id, b, holder.capacity) == (None, places.waiting)
        session.add(_place(places, holder.id, b, places.waiting, T0))
        await session.flush()
        assert (await places.ask(session, holder.id, b, holder.capacity))[0] == places.waiting
        assert await places.ask(session, holder.id, c, None) == (None, places.going)


@pytest.mark.parametrize("which", LISTS)
async def test_freed_places_go_to_the_first_waiting(db: Database, which: str) -> None:
    places = LISTS[which]
    async with db.transaction() as session:
        holder = await _setup(session, which, capacity=1, people=4)
        first, a, b, c = await _ids(session)
        session.add(_place(places, holder.id, first, places.going, T0))
        # Joined the list in the order b, c, a.
        for person, minutes in ((b, 1), (c, 2), (a, 3)):
            at = T0 + dt.timedelta(minutes=minutes)
            session.add(_place(places, holder.id, person, places.waiting, at))
        await session.flush()
        assert await places.promote(session, holder.id, holder.capacity) == []  # still full
        holder.capacity = 3  # two more places
        assert await places.promote(session, holder.id, holder.capacity) == [b, c]
        assert (await _statuses(session, places, holder.id))[a] == places.waiting
        holder.capacity = 1  # fewer places take nobody's away
        assert await places.promote(session, holder.id, holder.capacity) == []
        assert await places.count_going(session, holder.id) == 3
        assert await places.promote(session, holder.id, None) == [a]  # no limit: everyone


@pytest.mark.parametrize("which", LISTS)
async def test_two_people_taking_the_last_place_at_once_cannot_both_get_it(
    db: Database, which: str
) -> None:
    places = LISTS[which]
    async with db.transaction() as session:
        holder = await _setup(session, which, capacity=1, people=2)
        holder_id, holder_type, people = holder.id, type(holder), await _ids(session)

    async def take(person: int) -> str:
        async with db.transaction() as session:
            locked = await session.get(holder_type, holder_id, with_for_update=True)
            assert locked is not None
            status = await places.place_for(session, holder_id, locked.capacity)
            await asyncio.sleep(0.05)  # hold the lock while the other tries
            session.add(_place(places, holder_id, person, status, T0))
            return status

    results = await asyncio.gather(*(take(p) for p in people))
    assert sorted(results) == sorted([places.going, places.waiting])
    async with db.transaction() as session:
        assert await places.count_going(session, holder_id) == 1


@pytest.mark.parametrize("which", LISTS)
async def test_taking_a_place_counts_and_writes_in_one(db: Database, which: str) -> None:
    places = LISTS[which]
    async with db.transaction() as session:
        holder = await _setup(session, which, capacity=1, people=3)
        a, b, c = await _ids(session)
        taken = [await places.take(session, holder.id, p, holder.capacity, T0) for p in (a, b)]
        assert taken == [places.going, places.waiting]
        # Asked again: nothing written, and ask() tells what they hold.
        assert await places.take(session, holder.id, a, holder.capacity, T0) is None
        assert await places.take(session, holder.id, b, holder.capacity, T0) is None
        assert await places.ask(session, holder.id, b, holder.capacity) == (
            places.waiting,
            places.waiting,
        )
        assert await places.take(session, holder.id, c, None, T0) == places.going  # no limit
        assert await _statuses(session, places, holder.id) == {
            a: places.going,
            b: places.waiting,
            c: places.going,
        }
