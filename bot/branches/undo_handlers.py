"""The Undo button of a role change or a dues entry, checking the actor's rights
again.
"""

from __future__ import annotations

import datetime as dt

from bot.branches.dues_handlers import set_dues
from bot.branches.role_handlers import change_role
from bot.kernel.actions import Action
from bot.kernel.context import Context
from bot.kernel.messages import Reply
from bot.kernel.permissions import holds_at_branch, holds_nationally
from bot.kernel.registry import action
from storage.models import Branch, Person
from storage.vocabulary import ADMIN, TREASURER


async def _may_touch(ctx: Context, person: Person, role: str) -> bool:
    """Does the actor hold ``role`` over this person (their branch, or nationally)?"""
    grants = await ctx.grants()
    branch = await ctx.session.get(Branch, person.branch_id) if person.branch_id else None
    if branch is not None:
        return holds_at_branch(grants, role, branch)
    return holds_nationally(grants, ADMIN)


def _date(text: object) -> dt.date | None:
    return dt.date.fromisoformat(str(text)) if text else None


@action(Action.UNDO)
async def undo(ctx: Context, target: str) -> Reply:
    """Undo a role change or a dues entry, checking the actor's rights again."""
    ctx.require_person()
    prompt = await ctx.take_prompt(target, "undo", audit="undo")
    data = prompt.payload
    person = await ctx.session.get(Person, int(data["person"]))
    if person is None:
        raise ctx.stale()
    if data["op"] == "dues":
        if not await _may_touch(ctx, person, TREASURER):
            raise ctx.refuse(ctx.t("You do not have the role needed to change that."), audit="undo")
        if person.dues_paid_until != _date(data["written"]):
            raise ctx.refuse(
                ctx.t(
                    "The dues of {name} were changed again since, so nothing was undone.",
                    name=person.display_name,
                )
            )
        branch = await ctx.session.get(Branch, person.branch_id) if person.branch_id else None
        reply = await set_dues(ctx, person, branch, _date(data["value"]))
    else:
        reply = await change_role(
            ctx,
            person,
            str(data["role"]),
            str(data["scope"]),
            int(data["scope_id"]),
            grant=bool(data["grant"]),
        )
    return Reply(ctx.t("Undone.") + " " + reply.text, buttons=reply.buttons, edit=True)
