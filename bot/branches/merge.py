"""Two branches proposed for one place become one: everything of the one merged
away moves to the one kept, and the merged branch's history stays in the kept
one's.

The merged branch's row is deleted, not kept as a "merged" branch: every row
that named it (people, roles, chats, meetings, canvassing, polls, draws, audit
entries, its history) moves, so nothing is lost, and no list or search of
branches has to learn to skip a branch that is no longer one. (People merged
by /link and /merge go the same way: bot.linking.merging.)

Of the two rows, the one with the higher id carries on, under the kept
branch's name and settings. SQLite gives a new row the highest id plus one, so
the lower id deleted here is never given to a branch proposed later: messages
keyed by a branch's id (the admins' "a branch was proposed") and old buttons
naming it can never be mistaken for another branch's.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import and_, delete, exists, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from bot.branches.rules import merged_settings
from storage.models import (
    Base,
    Branch,
    BranchTransition,
    Prompt,
)
from storage.vocabulary import MERGED, SCOPE_BRANCH


def branch_columns() -> list[tuple[type[Any], str]]:
    """Every (model, attribute) that holds a branch's id as a foreign key."""
    branches = Branch.__table__
    found: list[tuple[type[Any], str]] = []
    for mapper in Base.registry.mappers:
        table = mapper.local_table
        for fk in table.foreign_keys:
            if fk.column.table is branches and fk.parent.table is table:
                found.append((mapper.class_, mapper.get_property_by_column(fk.parent).key))
    return sorted(found, key=lambda pair: (pair[0].__name__, pair[1]))


def scoped_models() -> list[type[Any]]:
    """Every model that names a branch by scope ("branch") and scope_id: roles,
    polls, draws, council seats, campaigns."""
    found = []
    for mapper in Base.registry.mappers:
        names = {c.key for c in mapper.column_attrs}
        if {"scope", "scope_id"} <= names:
            found.append(mapper.class_)
    return sorted(found, key=lambda cls: cls.__name__)


async def merge_branches(
    session: AsyncSession,
    source: Branch,
    into: Branch,
    *,
    now: dt.datetime,
    actor_id: int | None,
) -> Branch:
    """Merge ``source`` into ``into``, in the caller's transaction; the kept branch
    (``into``'s name, status and settings, on the row with the higher id).

    The caller has checked who may do this and that ``source`` may be merged
    away (a proposal, or forming; no draw waiting for its seed).
    """
    source_name, source_status = source.name, source.status
    # The merged branch's own steps stay, named as its own, in the kept history.
    await session.execute(
        update(BranchTransition)
        .where(BranchTransition.branch_id == source.id, BranchTransition.merged_from.is_(None))
        .values(merged_from=source_name)
    )
    settings = merged_settings(source, into)
    keep, gone = (source, into) if source.id > into.id else (into, source)
    if keep is not into:
        gone.slug = f"~merged-{gone.id}"  # frees the name for the row that carries on
        await session.flush()
    for key, value in settings.items():
        setattr(keep, key, value)
    await session.flush()
    await _move(session, gone.id, keep.id)
    session.add(
        BranchTransition(
            branch_id=keep.id,
            from_status=source_status,
            to_status=MERGED,
            actor_id=actor_id,
            at=now,
            merged_from=source_name,
        )
    )
    await session.delete(gone)
    await session.flush()
    return keep


async def _move(session: AsyncSession, gone: int, keep: int) -> None:
    """Every row naming branch ``gone`` names ``keep`` instead."""
    for model in scoped_models():
        here = and_(model.scope == SCOPE_BRANCH, model.scope_id == gone)
        # A row that may exist once per branch (a person's role there) and that
        # the kept branch has already: the kept one stays.
        for others in _unique_sets(model, "scope_id"):
            twin = aliased(model)
            same = [twin.scope_id == keep, *[getattr(twin, o) == getattr(model, o) for o in others]]
            await session.execute(delete(model).where(here, exists().where(*same)))
        await session.execute(update(model).where(here).values(scope_id=keep))
    for model, attribute in branch_columns():
        column = getattr(model, attribute)
        assert not _unique_sets(model, attribute), f"{model.__name__}.{attribute} is unique"
        await session.execute(update(model).where(column == gone).values({attribute: keep}))
    # Buttons whose state names the branch (an undo of leaving it, a meeting draft).
    for prompt in await session.scalars(select(Prompt).where(Prompt.used_at.is_(None))):
        if prompt.payload.get("branch") == gone:
            prompt.payload = {**prompt.payload, "branch": keep}


def _unique_sets(model: type[Any], attribute: str) -> list[list[str]]:
    """The other columns of each unique constraint that includes ``attribute``
    (partial unique indexes, such as one pending draw per body, are the
    caller's to rule out)."""
    table = model.__table__
    sets: list[list[str]] = []
    for constraint in table.constraints:
        names = [c.name for c in getattr(constraint, "columns", [])]
        if constraint.__class__.__name__ == "UniqueConstraint" and attribute in names:
            sets.append([n for n in names if n != attribute])
    return sets
