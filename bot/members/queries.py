"""The member list's SQL: the people in a scope, filtered and searched, a page
of them or all of them, and what the dues renewals read and mark. Nothing here
decides what a person reads."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, and_, bindparam, exists, false, func, or_, select, true
from sqlalchemy.ext.asyncio import AsyncSession

from bot.kernel.outbox import Recipients
from bot.members.rules import (
    LAPSED,
    LAPSING,
    MEMBERS,
    SUPPORTERS,
    UNREACHABLE,
    Scope,
    lapsed_since,
    lapsing_until,
    renewal_until,
)
from storage.models import Branch, Identity, Person, Prompt, RoleGrant
from storage.vocabulary import SCOPE_BRANCH, TREASURER
from storage.writes import claim


@dataclass(frozen=True, slots=True)
class Listed:
    """One person as the list shows them: no platform ids."""

    name: str
    short_id: str
    branch: str | None
    paid_until: dt.date | None
    reachable: bool


# Someone the bot can write to privately: an account not found blocked.
REACHABLE = exists().where(Identity.person_id == Person.id, Identity.unreachable.is_(False))


def in_scope(scope: Scope) -> ColumnElement[bool]:
    """The people ``scope`` covers (national: everyone, in a branch or not)."""
    if scope.national:
        return true()
    parts: list[ColumnElement[bool]] = []
    if scope.branches:
        parts.append(Person.branch_id.in_(sorted(scope.branches)))
    if scope.regions:
        parts.append(
            Person.branch_id.in_(
                select(Branch.id).where(Branch.region_id.in_(sorted(scope.regions)))
            )
        )
    return or_(*parts) if parts else false()


def matching(filter_: str, today: dt.date) -> ColumnElement[bool]:
    """The people a filter keeps on ``today``."""
    dues = Person.dues_paid_until
    if filter_ == MEMBERS:
        return dues >= today
    if filter_ == SUPPORTERS:
        return or_(dues.is_(None), dues < today)
    if filter_ == LAPSING:
        return and_(dues >= today, dues <= lapsing_until(today))
    if filter_ == LAPSED:
        return dues < today
    if filter_ == UNREACHABLE:
        return ~REACHABLE
    return true()


def _where(scope: Scope, filter_: str, search: str, today: dt.date) -> list[ColumnElement[bool]]:
    where = [in_scope(scope), matching(filter_, today)]
    if search:
        where.append(func.lower(Person.display_name).contains(search.lower(), autoescape=True))
    return where


async def count_people(
    session: AsyncSession, scope: Scope, filter_: str, search: str, today: dt.date
) -> int:
    found = await session.scalar(
        select(func.count(Person.id)).where(*_where(scope, filter_, search, today))
    )
    return int(found or 0)


async def listed(
    session: AsyncSession,
    scope: Scope,
    filter_: str,
    search: str,
    today: dt.date,
    *,
    offset: int = 0,
    limit: int | None = None,
) -> list[Listed]:
    """The people in ``scope`` that the filter and search keep, by name."""
    query: Any = (
        select(
            Person.display_name,
            Person.short_id,
            Branch.name,
            Person.dues_paid_until,
            REACHABLE.label("reachable"),
        )
        .outerjoin(Branch, Branch.id == Person.branch_id)
        .where(*_where(scope, filter_, search, today))
        .order_by(func.lower(Person.display_name), Person.id)
        .offset(offset)
    )
    if limit is not None:
        query = query.limit(limit)
    return [
        Listed(name, short_id, branch, paid_until, bool(reachable))
        for name, short_id, branch, paid_until, reachable in await session.execute(query)
    ]


async def due_renewal(session: AsyncSession, today: dt.date) -> list[Person]:
    """Members whose dues end within the renewal window, whom the bot can reach,
    and who were not yet reminded for these dues."""
    return list(
        await session.scalars(
            select(Person)
            .where(
                Person.dues_paid_until >= today,
                Person.dues_paid_until <= renewal_until(today),
                or_(
                    Person.dues_reminded_for.is_(None),
                    Person.dues_reminded_for != Person.dues_paid_until,
                ),
                REACHABLE,
            )
            .order_by(Person.id)
        )
    )


async def mark_reminded(session: AsyncSession, person: Person, paid_until: dt.date) -> bool:
    """Record that ``person`` was reminded about dues ending ``paid_until``; False
    if another run recorded it first (or the dues changed meanwhile)."""
    return await claim(
        session,
        Person,
        Person.id == person.id,
        Person.dues_paid_until == paid_until,
        or_(Person.dues_reminded_for.is_(None), Person.dues_reminded_for != paid_until),
        dues_reminded_for=paid_until,
    )


async def lapsed_and_lapsing(
    session: AsyncSession, branch: Branch, today: dt.date
) -> tuple[list[Person], list[Person]]:
    """A branch's people whose dues ended in the last week, and those whose dues
    end within the lapsing window, each by date."""
    people = Person.branch_id == branch.id
    lapsed = await session.scalars(
        select(Person)
        .where(
            people, Person.dues_paid_until >= lapsed_since(today), Person.dues_paid_until < today
        )
        .order_by(Person.dues_paid_until, Person.id)
    )
    lapsing = await session.scalars(
        select(Person)
        .where(
            people,
            Person.dues_paid_until >= today,
            Person.dues_paid_until <= lapsing_until(today),
        )
        .order_by(Person.dues_paid_until, Person.id)
    )
    return list(lapsed), list(lapsing)


_TREASURERS_OF = select(RoleGrant.person_id).where(
    RoleGrant.scope == SCOPE_BRANCH,
    RoleGrant.scope_id == bindparam("r_branch"),
    RoleGrant.role == TREASURER,
)


def treasurers_of(branch: Branch) -> Recipients:
    """The treasurers of the branch itself."""
    return Recipients(_TREASURERS_OF, {"r_branch": branch.id})


_ONLY = select(Person.id).where(Person.id == bindparam("r_person"))


def only(person_id: int) -> Recipients:
    return Recipients(_ONLY, {"r_person": person_id})


async def prompt(session: AsyncSession, prompt_id: int) -> Prompt | None:
    """The stored list (its filter and search) a page button names."""
    return await session.get(Prompt, prompt_id)
