"""A poll's results and its management: /poll results|close|audit|export, the
Results button, and a meeting-time poll's winner turned into a meeting."""

from __future__ import annotations

import asyncio
import datetime as dt

from bot.kernel.actions import Action
from bot.kernel.context import Context, Refusal, parse_id
from bot.kernel.effects import audit
from bot.kernel.i18n import format_local
from bot.kernel.messages import Attachment, Reply
from bot.kernel.registry import action
from bot.lib.when import read_wall_text
from bot.polls.access import no_such_poll, organises
from bot.polls.closing import close
from bot.polls.queries import (
    ballots_of,
    reasons_of,
    roll_count,
    roll_entry,
    scope_timezone,
    turnout,
)
from bot.polls.rules import count
from bot.polls.texts import chart, export_csv, meeting_buttons, result_text
from storage.models import Branch, Poll
from storage.vocabulary import SCOPE_BRANCH, TIMES


async def _poll_from(ctx: Context, text: str) -> Poll:
    """The poll a button names, or a stale-button refusal."""
    poll_id = parse_id(text)
    poll = await ctx.session.get(Poll, poll_id) if poll_id is not None else None
    if poll is None:
        raise ctx.stale()
    return poll


async def _staff_of(ctx: Context, poll: Poll, what: str) -> None:
    if not await organises(ctx, poll.scope, poll.scope_id):
        raise ctx.refuse(
            ctx.t("Only the organisers who ran this poll's area can do that."), audit=what
        )


async def _result_of(ctx: Context, poll: Poll) -> dict[str, object]:
    if poll.result is not None:
        return poll.result
    if poll.secret or not poll.live:
        raise ctx.refuse(ctx.t("The results are shown when the poll closes."))
    return count(
        poll,
        await ballots_of(ctx.session, poll, ctx.settings),
        roll=await roll_count(ctx.session, poll),
        reasons=await reasons_of(ctx.session, poll),
    )


@action(Action.POLL_MEET)
async def schedule_from_poll(ctx: Context, target: str) -> Reply:
    """Turn a meeting-time poll's winning time into a meeting: the time is set,
    the organiser gives the place (the guided /meeting exchange)."""
    poll_text_id, _, kind = target.partition(".")
    poll = await _poll_from(ctx, poll_text_id)
    if poll.kind != TIMES or poll.scope != SCOPE_BRANCH or kind not in ("online", "in_person"):
        raise ctx.stale()
    if not await organises(ctx, poll.scope, poll.scope_id):
        raise ctx.stale(audit="pollmeet")
    winners = (poll.result or {}).get("winners") or []
    branch = await ctx.session.get(Branch, poll.scope_id)
    if not winners or branch is None:
        raise ctx.refuse(ctx.t("The poll has no winning time yet."))
    when = poll.options[int(winners[0])]
    await ctx.prompt(
        "mtdraft", lifetime=dt.timedelta(hours=1), branch=branch.id, meeting_kind=kind, when=when
    )
    shown = format_local(read_wall_text(when), "datetime_zone", ctx.t, tz=branch.timezone)
    if kind == "online":
        return Reply(
            ctx.t(
                "{when}. Now the link, and a title if you like: /meeting "
                "https://meet.example/abc Branch call",
                when=shown,
            )
        )
    return Reply(
        ctx.t(
            '{when}. Now the place: /meeting "Library, Market St", optionally followed '
            'by a title in quotes, "cap 30" and "weekly".',
            when=shown,
        )
    )


@action(Action.POLL_RESULTS)
async def results_pressed(ctx: Context, target: str) -> Reply:
    poll = await _poll_from(ctx, target)
    await _may_see(ctx, poll, ctx.stale())
    tz = await scope_timezone(ctx.session, ctx.settings, poll)
    result = await _result_of(ctx, poll)
    return Reply(result_text(ctx.t, poll, result, tz), private=True)


async def _may_see(ctx: Context, poll: Poll, refusal: Refusal) -> None:
    """Results are for those on the poll's roll and the staff who ran it; to
    anyone else the poll does not exist."""
    person = ctx.require_person()
    if await roll_entry(ctx.session, poll, person) is not None:
        return
    try:
        await _staff_of(ctx, poll, "poll-results")
    except Refusal:
        raise refusal from None


async def manage(ctx: Context, word: str, poll: Poll) -> Reply | list[Reply]:
    tz = await scope_timezone(ctx.session, ctx.settings, poll)
    if word == "results":
        await _may_see(ctx, poll, no_such_poll(ctx, str(poll.id)))
        return Reply(result_text(ctx.t, poll, await _result_of(ctx, poll), tz), private=True)
    await _staff_of(ctx, poll, f"poll-{word}")
    if word == "close":
        closed = await close(ctx.session, ctx.settings, poll, ctx.now)
        if closed is None:
            raise ctx.refuse(ctx.t("That poll is already closed."))
        audit(ctx, "poll.closed", poll=poll.id)
        png = await asyncio.to_thread(chart, poll, closed.result, ctx.t.locale, poll.question)
        return Reply(
            result_text(ctx.t, poll, closed.result, tz),
            file=Attachment(f"poll-{poll.id}.png", png, "image/png"),
            buttons=meeting_buttons(ctx.t, poll, closed.result),
        )
    roll, voted, ballots = await turnout(ctx.session, poll)
    if word == "audit":
        return Reply(
            ctx.t("Poll {id}:", id=poll.id)
            + " "
            + ctx.t.plural("{n} on the roll,", "{n} on the roll,", roll)
            + " "
            + ctx.t.plural("{n} has voted,", "{n} have voted,", voted)
            + " "
            + ctx.t.plural("{n} ballot in the box.", "{n} ballots in the box.", ballots)
            + ("\n" + ctx.t("Every vote is counted once.") if voted == ballots else ""),
            private=True,
        )
    result = await _result_of(ctx, poll)
    return Reply(
        ctx.t("Poll {id}, exported.", id=poll.id),
        file=Attachment(
            f"poll-{poll.id}.csv",
            export_csv(ctx.t, poll, result, (roll, voted, ballots)),
            "text/csv",
        ),
        private=True,
    )
