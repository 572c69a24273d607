"""A proposal vote's reason, one line, kept with the open ballot and shown with
the result: typed as the answer to the question the vote asked (where the
platform passes plain messages on), or as /poll why <id> <reason> (anywhere)."""

from __future__ import annotations

from bot.kernel.context import Context
from bot.kernel.messages import Reply
from bot.kernel.registry import answer
from bot.polls.queries import reason_question, set_reason
from bot.polls.rules import MAX_REASON, REASON_QUESTION, clean_reason
from storage.models import Poll
from storage.vocabulary import PROPOSAL


@answer(REASON_QUESTION)
async def reason_given(ctx: Context, text: str) -> Reply:
    poll_id = await reason_question(ctx.session, ctx.request.sender.key, ctx.now)
    poll = await ctx.session.get(Poll, poll_id) if poll_id is not None else None
    if poll is None:
        raise ctx.stale()
    return await keep_reason(ctx, poll, text)


async def keep_reason(ctx: Context, poll: Poll, text: str) -> Reply:
    """Keep the person's reason for their vote in an open proposal, or say why not
    (a refusal: nothing is kept, and a typed answer's question stays open)."""
    person = ctx.require_person()
    if poll.kind != PROPOSAL or poll.secret:
        raise ctx.refuse(ctx.t("Only an open proposal takes reasons."))
    reason = clean_reason(text)
    if reason is None:
        raise ctx.refuse(ctx.t("One line of up to {n} characters, please.", n=MAX_REASON))
    closed = poll.closed_at is not None or (
        poll.closes_at is not None and poll.closes_at <= ctx.now
    )
    if closed:
        return Reply(ctx.t("The poll has closed; your reason was not added."), private=True)
    if not await set_reason(ctx.session, poll, person.id, reason):
        raise ctx.refuse(ctx.t("Vote first; then give your reason."))
    return Reply(
        ctx.t("Thank you: your reason is shown with the result, without your name."),
        private=True,
    )
