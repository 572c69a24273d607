"""The answer to a proposal vote's question: the reason, one line, kept with
the open ballot and shown with the result."""

from __future__ import annotations

from bot.kernel.context import Context
from bot.kernel.messages import Reply
from bot.kernel.registry import answer
from bot.polls.queries import reason_question, set_reason
from bot.polls.rules import MAX_REASON, REASON_QUESTION, clean_reason
from storage.models import Poll


@answer(REASON_QUESTION)
async def reason_given(ctx: Context, text: str) -> Reply:
    person = ctx.require_person()
    reason = clean_reason(text)
    if reason is None:  # refused: the question stays open for another try
        raise ctx.refuse(ctx.t("One line of up to {n} characters, please.", n=MAX_REASON))
    poll_id = await reason_question(ctx.session, ctx.request.sender.key, ctx.now)
    poll = await ctx.session.get(Poll, poll_id) if poll_id is not None else None
    if poll is None or poll.secret:
        raise ctx.stale()
    closed = poll.closed_at is not None or (
        poll.closes_at is not None and poll.closes_at <= ctx.now
    )
    if closed or not await set_reason(ctx.session, poll, person.id, reason):
        return Reply(ctx.t("The poll has closed; your reason was not added."), private=True)
    return Reply(
        ctx.t("Thank you: your reason is shown with the result, without your name."),
        private=True,
    )
