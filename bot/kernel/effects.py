"""What a command does beyond its reply: the audit trail, and messages queued in the
outbox for other people (each in their own language) or for a branch's chats.

Every feature records and tells through these, inside the request's transaction,
so a refused or failed request leaves neither an audit entry nor a message.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from sqlalchemy import bindparam, select

from bot.kernel.context import Context
from bot.kernel.i18n import Translator, pick_language, translator
from bot.kernel.messages import Button
from bot.kernel.outbox import Recipients, enqueue, enqueue_for
from storage.models import AuditEntry, Branch, BranchChat, Person

_PEOPLE_OF = select(Person.id).where(Person.branch_id == bindparam("r_branch"))


def people_of(branch: Branch) -> Recipients:
    return Recipients(_PEOPLE_OF, {"r_branch": branch.id})


async def notify(
    ctx: Context,
    who: Recipients,
    key: str,
    render: Callable[[Translator], str],
    *,
    about: Person | None = None,
    buttons: Callable[[Translator], Sequence[Sequence[Button]]] | None = None,
) -> None:
    """Queue one message for each of ``who`` but the person being answered (who
    reads the reply instead), in their own language, in one statement.

    ``key`` names the event; it is made unique per person, so that the same
    event never reaches the same person twice. ``about``: the person the message
    is about (their /mydata lists it; their /forget erases their name from it).
    ``buttons``: its buttons, their labels in the reader's language.
    """
    await enqueue_for(
        ctx.session,
        who,
        key=key,
        render=render,
        now=ctx.now,
        exclude_id=ctx.person.id if ctx.person is not None else None,
        about_id=about.id if about is not None else None,
        buttons=buttons,
        default_locale=ctx.settings.default_locale,
    )


async def announce(
    ctx: Context,
    branch: Branch,
    key: str,
    render: Callable[[Translator], str],
    *,
    buttons: Callable[[Translator], Sequence[Sequence[Button]]] | None = None,
) -> None:
    """A branch announcement: to the branch's linked group chats if it has any
    (in the branch's language, else the party's: a group has no one reader), else
    to each of its people privately; ``buttons`` as for :func:`notify`."""
    chats = list(
        await ctx.session.scalars(select(BranchChat.id).where(BranchChat.branch_id == branch.id))
    )
    if not chats:
        await notify(ctx, people_of(branch), key, render, buttons=buttons)
        return
    t = translator(pick_language(branch.language, ctx.settings.default_locale))
    text = render(t)
    for chat_id in chats:
        await enqueue(
            ctx.session,
            key=f"{key}:chat{chat_id}",
            text=text,
            now=ctx.now,
            branch_chat_id=chat_id,
            buttons=buttons(t) if buttons is not None else (),
        )


def audit(
    ctx: Context,
    action: str,
    *,
    subject: Person | None = None,
    branch: Branch | None = None,
    **details: object,
) -> None:
    ctx.session.add(
        AuditEntry(
            at=ctx.now,
            actor_id=ctx.person.id if ctx.person else None,
            action=action,
            subject_id=subject.id if subject else None,
            branch_id=branch.id if branch else None,
            details=dict(details),
        )
    )
