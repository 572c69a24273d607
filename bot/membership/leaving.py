"""Leaving a branch: the person is out of it, and their roles there end. /leave,
moving to another branch, proposing one elsewhere and undoing a join all take
this step."""

from __future__ import annotations

from sqlalchemy import delete

from bot.kernel.context import Context
from bot.kernel.effects import audit
from storage.models import Branch, Person, RoleGrant
from storage.vocabulary import SCOPE_BRANCH


async def leave_branch(ctx: Context, person: Person) -> tuple[Branch | None, list[str]]:
    """Take the person out of their branch; their roles in it end.
    (the branch, the roles that ended)"""
    branch = await ctx.session.get(Branch, person.branch_id) if person.branch_id else None
    if branch is None:
        return None, []
    ended = list(
        await ctx.session.scalars(
            delete(RoleGrant)
            .where(
                RoleGrant.person_id == person.id,
                RoleGrant.scope == SCOPE_BRANCH,
                RoleGrant.scope_id == branch.id,
            )
            .returning(RoleGrant.role)
        )
    )
    if ended:
        audit(ctx, "role.ended_on_leave", subject=person, branch=branch, roles=sorted(ended))
        ctx.forget_grants()
    person.branch_id = None
    person.joined_branch_at = None
    return branch, sorted(ended)
