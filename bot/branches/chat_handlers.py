"""/linkchat and /unlinkchat: a branch's group chat, where its announcements go.

Only announcements go to a group. Anything personal (a person's data, their
dues, an invitation) always goes to their private chat.
"""

from __future__ import annotations

from bot.branches.handlers import branch_named_or_own, require_staff
from bot.branches.queries import chat_link, remove_chat_link
from bot.kernel.actions import Action
from bot.kernel.context import Context, parse_id
from bot.kernel.effects import audit
from bot.kernel.i18n import N_
from bot.kernel.messages import Button, Reply
from bot.kernel.registry import GROUP, PRIVATE, Param, action, command
from storage.models import Branch, BranchChat
from storage.vocabulary import ADMIN, ORGANISER


def _require_group(ctx: Context) -> None:
    if ctx.request.chat.kind != "group":
        raise ctx.refuse(
            ctx.t("Send this in the branch's group chat (with me added to it), not in private.")
        )


@command(
    "linkchat",
    N_("make this group chat the branch's announcement chat"),
    usage=N_("[branch]"),
    roles=(ORGANISER, ADMIN),
    public=True,
    params=(Param.branch(),),
    chats=(PRIVATE, GROUP),
    names=(("discord", "linkchannel"),),  # a Discord group chat is a channel
)
async def linkchat(ctx: Context) -> Reply:
    _require_group(ctx)
    branch = await branch_named_or_own(ctx, ctx.request.args)
    await require_staff(ctx, branch, (ORGANISER,), "linkchat")
    chat = ctx.request.chat
    existing = await chat_link(ctx.session, chat.platform, chat.chat_id)
    if existing is not None and existing.branch_id == branch.id:
        return Reply(
            ctx.t(
                "This chat already receives the {branch} branch's announcements.",
                branch=branch.name,
            )
        )
    if existing is not None:
        # Taking a chat from another branch would silence that branch's
        # announcements: its own organisers unlink it first.
        other = await ctx.session.get(Branch, existing.branch_id)
        raise ctx.refuse(
            ctx.t(
                "This chat receives the {branch} branch's announcements. Its organisers "
                "can /unlinkchat it first.",
                branch=other.name if other is not None else "?",
            ),
            audit="linkchat",
        )
    link = BranchChat(
        branch_id=branch.id,
        platform=chat.platform,
        chat_id=chat.chat_id,
        linked_by=ctx.person.id if ctx.person else None,
        linked_at=ctx.now,
    )
    ctx.session.add(link)
    await ctx.session.flush()
    audit(ctx, "chat.linked", branch=branch, platform=chat.platform)
    return Reply(
        ctx.t(
            "This chat now receives the {branch} branch's announcements. Personal messages "
            "still go to each person privately.",
            branch=branch.name,
        ),
        buttons=((Button(ctx.t("Undo"), Action.UNLINK_CHAT, str(link.id)),),),
    )


async def _unlink(ctx: Context, link: BranchChat | None) -> Reply:
    if link is None:
        raise ctx.refuse(ctx.t("This chat is not linked to a branch."))
    branch = await ctx.session.get(Branch, link.branch_id)
    if branch is None:
        raise ctx.stale()
    await require_staff(ctx, branch, (ORGANISER,), "unlinkchat")
    await remove_chat_link(ctx.session, link)
    audit(ctx, "chat.unlinked", branch=branch, platform=link.platform)
    return Reply(
        ctx.t(
            "This chat no longer receives the {branch} branch's announcements.", branch=branch.name
        )
    )


@command(
    "unlinkchat",
    N_("stop sending the branch's announcements to this chat"),
    roles=(ORGANISER, ADMIN),
    public=True,
    params=(),
    chats=(PRIVATE, GROUP),
    names=(("discord", "unlinkchannel"),),
)
async def unlinkchat(ctx: Context) -> Reply:
    _require_group(ctx)
    ctx.require_person()
    chat = ctx.request.chat
    link = await chat_link(ctx.session, chat.platform, chat.chat_id)
    return await _unlink(ctx, link)


@action(Action.UNLINK_CHAT, public=True)
async def unlink_pressed(ctx: Context, target: str) -> Reply:
    ctx.require_person()
    link_id = parse_id(target)
    link = await ctx.session.get(BranchChat, link_id) if link_id is not None else None
    if link is None or link.chat_id != ctx.request.chat.chat_id:
        raise ctx.stale()
    return await _unlink(ctx, link)
