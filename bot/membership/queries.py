"""Membership's queries: the name of the place a role's scope names, a person
entering a branch, and an imported record claimed from a chat."""

from __future__ import annotations

import datetime as dt
import typing

from sqlalchemy import Table, bindparam, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.kernel.context import Context
from storage.models import Branch, Consent, Identity, Person, Region, RoleGrant
from storage.vocabulary import SCOPE_BRANCH, SCOPE_REGION


async def place_name(ctx: Context, scope: str, scope_id: int) -> str:
    """The name of the branch or region a scope names ("" for the national party)."""
    if scope == SCOPE_BRANCH:
        branch = await ctx.session.get(Branch, scope_id)
        return branch.name if branch else "?"
    if scope == SCOPE_REGION:
        region = await ctx.session.get(Region, scope_id)
        return region.name if region else "?"
    return ""


_PERSONS = typing.cast(Table, Person.__table__)
_ENTER = update(_PERSONS).where(_PERSONS.c.id == bindparam("person"))


async def enter(session: AsyncSession, person: Person, branch: Branch, now: dt.datetime) -> None:
    """The person is in the branch from ``now`` (one statement, on the hot path: the
    loaded person is not changed)."""
    await session.execute(
        _ENTER, {"person": person.id, "branch_id": branch.id, "joined_branch_at": now}
    )


async def person_with_claim_code(session: AsyncSession, code: str) -> Person | None:
    return await session.scalar(select(Person).where(Person.claim_code == code))


async def hand_over(session: AsyncSession, person: Person, record: Person) -> None:
    """The person's chat accounts, consent and roles move onto ``record``."""
    await session.execute(
        update(Identity).where(Identity.person_id == person.id).values(person_id=record.id)
    )
    await session.execute(
        update(Consent).where(Consent.person_id == person.id).values(person_id=record.id)
    )
    await session.execute(
        update(RoleGrant).where(RoleGrant.person_id == person.id).values(person_id=record.id)
    )


async def drop_person(session: AsyncSession, person: Person) -> None:
    await session.delete(person)
