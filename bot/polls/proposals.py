"""A proposal's vote, beyond the ballot: the question that asks an open vote's
reason, and a Block reported to the poll's organisers while it is open (once a
voter, through the outbox). Neither happens in a secret proposal: a reason kept
beside the voter, or a report as they vote, would undo the secret."""

from __future__ import annotations

import datetime as dt

from bot.kernel.context import Context
from bot.kernel.i18n import Translator, format_local
from bot.kernel.outbox import Recipients, enqueue_for
from bot.polls.queries import POLL_ORGANISERS, close_reason_questions
from bot.polls.rules import MAX_REASON, REASON_QUESTION
from storage.models import Person, Poll

REASON_LIFETIME = dt.timedelta(days=1)


async def ask_reason(ctx: Context, poll: Poll) -> str:
    """Open the question (the person's earlier ones close); the sentence asking it."""
    await close_reason_questions(ctx.session, ctx.request.sender.key, ctx.now)
    lifetime = REASON_LIFETIME
    if poll.closes_at is not None:
        lifetime = min(lifetime, poll.closes_at - ctx.now)
    await ctx.prompt(REASON_QUESTION, lifetime=lifetime, poll=poll.id)
    return ctx.t(
        "Why? Reply with one line (up to {n} characters), or send /poll why {id} and your "
        "reason: it is shown with the result, without your name. Or leave it.",
        n=MAX_REASON,
        id=poll.id,
    )


async def report_block(ctx: Context, poll: Poll, person: Person, tz: str) -> None:
    """Tell the poll's organisers (and whoever posted it) that this person blocks
    it: once a voter, whatever they press later."""

    def render(t: Translator) -> str:
        text = t(
            "{name} blocks the proposal “{question}” (poll {id}).",
            name=person.display_name,
            question=poll.question[:120],
            id=poll.id,
        )
        if poll.closes_at is not None:
            text += " " + t(
                "It closes {when}.",
                when=format_local(poll.closes_at, "day_time_year_zone", t, tz=tz),
            )
        return text

    await enqueue_for(
        ctx.session,
        Recipients(
            POLL_ORGANISERS,
            {"r_scope": poll.scope, "r_scope_id": poll.scope_id, "r_creator": poll.created_by},
        ),
        key=f"pollblock:{poll.id}:{person.id}",
        render=render,
        now=ctx.now,
        exclude_id=person.id,
        about_id=person.id,
        default_locale=ctx.settings.default_locale,
    )
