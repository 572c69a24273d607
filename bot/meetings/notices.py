"""Telling people of a meeting: messages queued for people (each in their own
language, with buttons), and a branch's announcement."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from bot.kernel.context import Context
from bot.kernel.i18n import Translator, translator
from bot.kernel.messages import Button
from bot.kernel.outbox import Recipients, enqueue, enqueue_for
from bot.meetings.queries import branch_chats, branch_people
from storage.models import Branch


async def tell(
    ctx: Context,
    who: Recipients,
    key: str,
    render: Callable[[Translator], str],
    buttons: Callable[[Translator], Sequence[Sequence[Button]]] | None = None,
) -> None:
    """Queue a message for each of ``who`` but the person being answered."""
    await enqueue_for(
        ctx.session,
        who,
        key=key,
        render=render,
        now=ctx.now,
        exclude_id=ctx.person.id if ctx.person is not None else None,
        buttons=buttons,
    )


async def announce(
    ctx: Context,
    branch: Branch,
    key: str,
    render: Callable[[Translator], str],
    buttons: Callable[[Translator], Sequence[Sequence[Button]]],
) -> None:
    """Like ``bot.kernel.effects.announce``, with buttons: to the branch's linked group chats
    if it has any (in the party's language), else to each of its people privately."""
    chats = await branch_chats(ctx.session, branch)
    if not chats:
        await tell(ctx, branch_people(branch), key, render, buttons)
        return
    t = translator(ctx.settings.default_locale)
    for chat_id in chats:
        await enqueue(
            ctx.session,
            key=f"{key}:chat{chat_id}",
            text=render(t),
            now=ctx.now,
            branch_chat_id=chat_id,
            buttons=buttons(t),
        )
