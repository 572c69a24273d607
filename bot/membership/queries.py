"""Membership's queries: the name of the place a role's scope names."""

from __future__ import annotations

from bot.kernel.context import Context
from storage.models import Branch, Region
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
