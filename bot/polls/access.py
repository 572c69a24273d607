"""The gates the poll handlers share: who organises a poll's area, and the
answer for a poll that is not there."""

from __future__ import annotations

from bot.kernel.context import Context, Refusal
from bot.kernel.permissions import holds_at_branch, holds_at_region, holds_nationally
from storage.models import Branch
from storage.vocabulary import ORGANISER, SCOPE_NATIONAL, SCOPE_REGION


async def organises(ctx: Context, scope: str, scope_id: int) -> bool:
    """Does the person hold the organiser role over this branch, region or party?"""
    grants = await ctx.grants()
    if scope == SCOPE_NATIONAL:
        return holds_nationally(grants, ORGANISER)
    if scope == SCOPE_REGION:
        return holds_at_region(grants, ORGANISER, scope_id)
    branch = await ctx.session.get(Branch, scope_id)
    return branch is not None and holds_at_branch(grants, ORGANISER, branch)


def no_such_poll(ctx: Context, text: str) -> Refusal:
    return ctx.refuse(
        ctx.t("There is no poll {id}. Send /poll to see yours.", id=text.strip()[:12])
    )
