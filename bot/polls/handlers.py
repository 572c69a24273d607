"""Polls: /poll, voting buttons, secret ballots, closing and results.

    /poll                                  open polls you can vote in
    /poll "Question?" "A" "B" ["C" ...] [--multi | --ranked | --times] [--secret]
          [--live] [--closes <date and time>] [--everyone]
          [--scope branch|region|national] [--branch <name>]
    /poll close|results|audit|export <id>
    /poll why <id> <reason>                your reason for a vote in an open proposal

An organiser's poll is shown as a preview (with who may vote and when it
closes) before it is posted. Posting writes the electoral roll and sends the
poll to the scope's linked chats, or to each voter privately where a branch has
none. See :mod:`bot.polls` for the rules that keep one vote per person.

This module routes /poll: a quoted question to post_handlers (the preview; Post
it and Cancel are there too), a subcommand to result_handlers, nothing to the
person's open polls. The ballot's buttons are in vote_handlers.
"""

from __future__ import annotations

from bot.kernel.actions import Action
from bot.kernel.context import Context, parse_id
from bot.kernel.i18n import N_, format_local
from bot.kernel.messages import Button, Reply
from bot.kernel.registry import command
from bot.polls.access import no_such_poll
from bot.polls.post_handlers import POLL_USAGE, preview
from bot.polls.queries import open_polls_of, scope_timezone
from bot.polls.reason_handlers import keep_reason
from bot.polls.result_handlers import manage
from storage.models import Poll
from storage.vocabulary import ADMIN, ORGANISER


@command(
    "poll",
    N_("the polls you can vote in"),
    usage="",
    staff=(
        (POLL_USAGE, N_("post a poll"), (ORGANISER, ADMIN)),
        (
            N_("close|audit|export <id>"),
            N_("close a poll early, see its turnout, export it"),
            (ORGANISER, ADMIN),
        ),
    ),
)
async def poll_command(ctx: Context) -> Reply | list[Reply]:
    args = ctx.request.args.strip()
    if args.startswith(('"', "“", "'")):
        return await preview(ctx, args)
    word, _, rest = args.partition(" ")
    word = word.lower()
    if word in ("close", "results", "audit", "export"):
        poll = await _poll_from_arg(ctx, rest)
        return await manage(ctx, word, poll)
    if word == "why":
        number, _, reason = rest.strip().partition(" ")
        return await keep_reason(ctx, await _poll_from_arg(ctx, number), reason)
    if word:
        raise ctx.refuse(
            ctx.t(
                'Send /poll for your polls, or (organisers) /poll "Question?" "Option A" "Option B".'
            )
        )
    return await _my_polls(ctx)


async def _poll_from_arg(ctx: Context, text: str) -> Poll:
    poll_id = parse_id(text.strip().lstrip("#"))
    poll = await ctx.session.get(Poll, poll_id) if poll_id is not None else None
    if poll is None:
        raise no_such_poll(ctx, text)
    return poll


async def _my_polls(ctx: Context) -> Reply:
    person = ctx.require_person()
    rows = await open_polls_of(ctx.session, person.id)
    if not rows:
        return Reply(ctx.t("There are no open polls for you right now."))
    lines = [ctx.t("Open polls:")]
    buttons = []
    for n, (poll, voted) in enumerate(rows, 1):
        tz = await scope_timezone(ctx.session, ctx.settings, poll)
        state = ctx.t("you voted ✓") if voted else ctx.t("not voted yet")
        when = (
            format_local(poll.closes_at, "day_time_year_zone", ctx.t, tz=tz)
            if poll.closes_at
            else ""
        )
        lines.append(f"{n}. {poll.question} · {when} · {state}")
        buttons.append((Button(ctx.t("Vote {n}", n=n), Action.POLL_OPEN, str(poll.id)),))
    return Reply("\n".join(lines), buttons=tuple(buttons))
