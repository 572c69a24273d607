"""Accept or Decline, pressed by the resident invited (the account that
registered) and nobody else; a decline invites the next under the committed rule."""

from __future__ import annotations

from bot.assemblies.invitations import answered
from bot.kernel.actions import Action
from bot.kernel.context import Context, parse_id
from bot.kernel.messages import Reply
from bot.kernel.registry import action
from storage.models import Assembly, AssemblyDraw, AssemblyInvitation, AssemblyRegistrant
from storage.vocabulary import ACCEPTED, DECLINED, INVITED


async def _invitation(ctx: Context, target: str) -> tuple[AssemblyInvitation, Assembly]:
    invitation_id = parse_id(target)
    invitation = (
        await ctx.session.get(AssemblyInvitation, invitation_id, with_for_update=True)
        if invitation_id
        else None
    )
    registrant = (
        await ctx.session.get(AssemblyRegistrant, invitation.registrant_id) if invitation else None
    )
    if invitation is None or registrant is None:
        raise ctx.stale()
    sender = ctx.request.sender
    if (registrant.platform, registrant.user_id) != (sender.platform, sender.user_id):
        raise ctx.stale(audit="assembly.invitation")
    draw = await ctx.session.get(AssemblyDraw, invitation.draw_id)
    assembly = await ctx.session.get(Assembly, draw.assembly_id) if draw else None
    if assembly is None or invitation.status != INVITED or invitation.respond_by <= ctx.now:
        raise ctx.stale()
    return invitation, assembly


@action(Action.ASSEMBLY_ACCEPT)
async def accept(ctx: Context, target: str) -> Reply:
    invitation, assembly = await _invitation(ctx, target)
    invitation.status = ACCEPTED
    invitation.answered_at = ctx.now
    return Reply(
        ctx.t(
            "Thank you: you have a place on {title}. The organisers will be in touch about "
            "the details.",
            title=assembly.title,
        ),
        edit=True,
    )


@action(Action.ASSEMBLY_DECLINE)
async def decline(ctx: Context, target: str) -> Reply:
    invitation, assembly = await _invitation(ctx, target)
    await answered(ctx.session, ctx.settings, invitation, DECLINED, ctx.now)
    return Reply(
        ctx.t(
            "Thank you for letting us know: someone else will be drawn for {title}.",
            title=assembly.title,
        ),
        edit=True,
    )
