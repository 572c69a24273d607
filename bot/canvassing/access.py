"""Whose canvassing: the person's own branch, which every /canvass command (and
button) works in."""

from __future__ import annotations

from bot.kernel.context import Context, Refusal
from storage.models import Branch, Person


def join_first(ctx: Context) -> Refusal:
    return ctx.refuse(ctx.t("Join a branch first: send /join and your town or postcode."))


async def home(ctx: Context) -> tuple[Person, Branch]:
    person = ctx.require_person()
    branch = await ctx.session.get(Branch, person.branch_id) if person.branch_id else None
    if branch is None:
        raise join_first(ctx)
    return person, branch
