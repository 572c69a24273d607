"""Suggestions while someone types a name (Discord's autocomplete).

Branch names are public. People are suggested only to those who hold a staff
role over them (an organiser sees their branch's people, a region's admin the
region's, a national admin everyone); to anyone else the list is empty.
"""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.kernel.permissions import holds_at_branch, holds_nationally
from storage.models import Branch, Person, RoleGrant
from storage.vocabulary import ADMIN, ORGANISER, TREASURER

LIMIT = 25  # Discord shows at most 25 choices
STAFF = (ORGANISER, TREASURER, ADMIN)


def escape_like(text: str) -> str:
    """``text`` as literal characters in a LIKE pattern (``escape="\\"``)."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


async def branches(session: AsyncSession, text: str) -> list[tuple[str, str]]:
    """(label, value) of branches whose name starts with (or contains) ``text``."""
    pattern = f"%{escape_like(text.strip().lower()[:100])}%"
    rows = await session.scalars(
        select(Branch)
        .where(func.lower(Branch.name).like(pattern, escape="\\"))
        .order_by(Branch.name)
        .limit(LIMIT)
    )
    return [(b.name, b.name) for b in rows]


async def people(session: AsyncSession, asker: Person | None, text: str) -> list[tuple[str, str]]:
    """(label, short id) of people the asker may act on, by name or short id."""
    if asker is None:
        return []
    grants = list(await session.scalars(select(RoleGrant).where(RoleGrant.person_id == asker.id)))
    if not grants:
        return []
    needle = escape_like(text.strip().lower()[:100])
    rows = await session.execute(
        select(Person, Branch)
        .outerjoin(Branch, Branch.id == Person.branch_id)
        .where(
            func.lower(Person.display_name).like(f"%{needle}%", escape="\\")
            | func.lower(Person.short_id).like(f"{needle}%", escape="\\")
        )
        .order_by(Person.display_name, Person.id)
        .limit(500)
    )
    national = any(holds_nationally(grants, role) for role in STAFF)
    out: list[tuple[str, str]] = []
    for person, branch in rows:
        allowed = (
            national
            if branch is None
            else any(holds_at_branch(grants, role, branch) for role in STAFF)
        )
        if allowed:
            where = f" · {branch.name}" if branch is not None else ""
            out.append((f"{person.display_name} ({person.short_id}){where}", person.short_id))
        if len(out) == LIMIT:
            break
    return out
