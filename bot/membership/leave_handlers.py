"""/leave, and its Undo: back in the branch with the roles that ended."""

from __future__ import annotations

from bot.kernel.actions import Action
from bot.kernel.context import Context
from bot.kernel.effects import audit
from bot.kernel.i18n import N_
from bot.kernel.messages import Button, Reply
from bot.kernel.registry import action, command
from bot.membership.handlers import enter_branch
from bot.membership.leaving import leave_branch
from storage.models import Branch, RoleGrant
from storage.vocabulary import SCOPE_BRANCH


@command("leave", N_("leave your branch"), params=())
async def leave(ctx: Context) -> Reply:
    person = ctx.require_person()
    branch, roles = await leave_branch(ctx, person)
    if branch is None:
        raise ctx.refuse(ctx.t("You are not in a branch. Send /join to find one."))
    text = ctx.t("You have left the {branch} branch.", branch=branch.name)
    if roles:
        text += " " + ctx.t("Your roles there have ended.")
    undo = await ctx.prompt("rejoin", branch=branch.id, roles=roles)
    return Reply(text, buttons=((Button(ctx.t("Undo"), Action.REJOIN, str(undo.id)),),))


@action(Action.REJOIN)
async def rejoin_pressed(ctx: Context, target: str) -> Reply:
    """The Undo under /leave: back in the branch, with the roles that ended."""
    person = ctx.require_person()
    prompt = await ctx.take_prompt(target, "rejoin")
    branch = await ctx.session.get(Branch, int(prompt.payload["branch"]))
    if branch is None:
        raise ctx.stale()
    if person.branch_id is not None:
        raise ctx.refuse(ctx.t("You have joined another branch since; send /join to move back."))
    reply = await enter_branch(ctx, person, branch)
    for role in prompt.payload.get("roles") or []:
        ctx.session.add(
            RoleGrant(
                person_id=person.id,
                role=str(role),
                scope=SCOPE_BRANCH,
                scope_id=branch.id,
                granted_at=ctx.now,
            )
        )
    if prompt.payload.get("roles"):
        audit(ctx, "role.restored_on_undo", subject=person, branch=branch)
        ctx.forget_grants()
    # The welcome's own buttons stay (e.g. "I can organise it", which its text asks
    # about); its Undo does not: this reply is already an undo.
    rows = tuple(
        kept for row in reply.buttons if (kept := tuple(b for b in row if b.action != "unjoin"))
    )
    return Reply(reply.text, buttons=rows, edit=True)
