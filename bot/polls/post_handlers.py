"""Posting a poll: /poll "Question?" "A" "B" [...] read into a draft, checked
(who may poll where, the times of a --times poll, when it closes), shown as a
preview with who may vote; Post it writes the roll and sends the poll."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from bot.branches.handlers import require_staff
from bot.branches.queries import search
from bot.kernel.actions import Action
from bot.kernel.context import Context
from bot.kernel.effects import audit
from bot.kernel.i18n import N_, format_local, pick_language, translator
from bot.kernel.messages import Button, Reply
from bot.kernel.outbox import Recipients, enqueue, enqueue_for
from bot.kernel.permissions import holds_at_region, holds_nationally
from bot.kernel.registry import action
from bot.lib.when import WhenError, read_when, wall_text
from bot.lib.when_words import words_of
from bot.meetings.texts import when_problem
from bot.polls.access import organises
from bot.polls.draft import Draft, parse_draft
from bot.polls.queries import (
    BRANCH_ROLL,
    UNBRANCHED_ROLL,
    linked_chats,
    open_roll,
    roll_size,
    scope_branches,
    scope_timezone,
)
from bot.polls.rules import ABSTAIN_OPTION, DEFAULT_OPEN_FOR, PROPOSAL_OPTIONS
from bot.polls.texts import poll_buttons, poll_text, preview_text
from storage.models import Branch, Poll, Region
from storage.vocabulary import (
    NATIONAL_SCOPE_ID,
    ORGANISER,
    PROPOSAL,
    SCOPE_BRANCH,
    SCOPE_NATIONAL,
    SCOPE_REGION,
    TIMES,
)

TIMES_CLOSE_BEFORE = dt.timedelta(days=1)  # a --times poll closes this long before its first time
POLL_USAGE = N_(
    '"Question?" "Option A" "Option B" [--multi|--ranked|--times|--proposal] [--secret] '
    "[--live] [--closes <date time>] [--everyone] [--scope branch|region|national] "
    "[--quorum 50%] [--threshold majority|2/3|60%] [--abstain]"
)


async def _scope_of(ctx: Context, draft: Draft) -> tuple[str, int, str, str]:
    """(scope, scope id, its name, its time zone), checking the poster may post there."""
    person = ctx.require_person()
    grants = await ctx.grants()
    branch: Branch | None = None
    if draft.branch:
        exact, found = await search(ctx, draft.branch)
        branch = exact or (found[0] if len(found) == 1 else None)
        if branch is None:
            raise ctx.refuse(ctx.t("I cannot find the branch {name}.", name=draft.branch[:60]))
    elif person.branch_id is not None:
        branch = await ctx.session.get(Branch, person.branch_id)
    if draft.scope == SCOPE_NATIONAL:
        if not holds_nationally(grants, ORGANISER):
            raise ctx.refuse(
                ctx.t("Only national organisers and admins can poll the whole party."),
                audit="poll",
            )
        return (
            SCOPE_NATIONAL,
            NATIONAL_SCOPE_ID,
            ctx.t("the whole party"),
            ctx.settings.default_timezone,
        )
    if branch is None:
        raise ctx.refuse(
            ctx.t("You are in no branch. Name one with --branch, or use --scope national.")
        )
    if draft.scope == SCOPE_REGION:
        region = await ctx.session.get(Region, branch.region_id) if branch.region_id else None
        if region is None:
            raise ctx.refuse(ctx.t("The {branch} branch is in no region yet.", branch=branch.name))
        if not holds_at_region(grants, ORGANISER, region.id):
            raise ctx.refuse(
                ctx.t(
                    "Only the organisers and admins of {region} can poll the region.",
                    region=region.name,
                ),
                audit="poll",
            )
        return SCOPE_REGION, region.id, region.name, ctx.settings.default_timezone
    await require_staff(ctx, branch, (ORGANISER,), "poll")
    return SCOPE_BRANCH, branch.id, branch.name, branch.timezone


async def preview(ctx: Context, text: str) -> Reply:
    draft = parse_draft(ctx, text)
    scope, scope_id, name, tz = await _scope_of(ctx, draft)
    options, closes = _options_and_close(ctx, draft, ZoneInfo(tz), tz)
    abstain = "--abstain" in draft.flags
    if draft.kind == PROPOSAL:
        options = list(PROPOSAL_OPTIONS)
    elif abstain:
        options = [*options, ABSTAIN_OPTION]
    branches = await scope_branches(ctx.session, scope, scope_id)
    national = ctx.settings.default_timezone if scope == SCOPE_NATIONAL else None
    voters = await roll_size(
        ctx.session, branches, ctx.now, "--everyone" in draft.flags, national_timezone=national
    )
    prompt = await ctx.prompt(
        "poll",
        scope=scope,
        scope_id=scope_id,
        question=draft.question,
        options=options,
        poll_kind=draft.kind,
        flags=sorted(draft.flags),
        closes=closes.isoformat(),
        quorum=draft.quorum,
        threshold=draft.threshold,
    )
    return Reply(
        preview_text(ctx.t, draft, options, voters=voters, scope=name, closes=closes, tz=tz),
        buttons=(
            (
                Button(ctx.t("Post it"), Action.POLL_POST, str(prompt.id)),
                Button(ctx.t("Cancel"), Action.POLL_CANCEL, str(prompt.id)),
            ),
        ),
        private=True,
    )


def _options_and_close(
    ctx: Context, draft: Draft, zone: ZoneInfo, tz: str
) -> tuple[list[str], dt.datetime]:
    """The options as they will be shown (times read and sorted) and when the poll
    closes; a refusal for a date that cannot be read or a close that comes too late."""
    if draft.closes:
        try:
            closes = read_when(draft.closes, ctx.now, zone, words=words_of(ctx.t)).at
        except WhenError as exc:
            raise ctx.refuse(
                ctx.t("--closes: {problem}", problem=when_problem(ctx.t, exc))
            ) from None
    else:
        closes = ctx.now + DEFAULT_OPEN_FOR
    options = draft.options
    if draft.kind == TIMES:
        times = []
        for option in options:
            try:
                times.append(read_when(option, ctx.now, zone, words=words_of(ctx.t)))
            except WhenError as exc:
                raise ctx.refuse(
                    ctx.t(
                        "“{option}”: {problem}",
                        option=option[:40],
                        problem=when_problem(ctx.t, exc),
                    )
                ) from None
        options = [wall_text(t.local) for t in sorted(times, key=lambda w: w.at)]
        if len(set(options)) != len(options):
            raise ctx.refuse(ctx.t("Two options are the same."))
        # A poll about when to meet closes before the first of its times has passed:
        # by default a day before it (half-way there when that leaves under an hour).
        earliest = min(t.at for t in times)
        if draft.closes and closes >= earliest:
            raise ctx.refuse(
                ctx.t(
                    "--closes: the poll must close before its earliest time, {when}.",
                    when=format_local(earliest, "day_time_year_zone", ctx.t, tz=tz),
                )
            )
        if not draft.closes:
            before = earliest - TIMES_CLOSE_BEFORE
            if before <= ctx.now + TIMES_CLOSE_BEFORE / 24:
                before = ctx.now + (earliest - ctx.now) / 2  # too soon for a day's notice
            closes = min(closes, before)
    return options, closes


@action(Action.POLL_POST)
async def post(ctx: Context, target: str) -> list[Reply]:
    prompt = await ctx.take_prompt(target, "poll", audit="pollpost")
    person = ctx.require_person()
    data = prompt.payload
    scope, scope_id = str(data["scope"]), int(data["scope_id"])
    # The roles may have changed since the preview.
    if not await organises(ctx, scope, scope_id):
        raise ctx.refuse(ctx.t("You can no longer post polls there."), audit="pollpost")
    branches = await scope_branches(ctx.session, scope, scope_id)
    closes_at = dt.datetime.fromisoformat(str(data["closes"]))
    if closes_at <= ctx.now:
        raise ctx.refuse(
            ctx.t("This preview's closing time has passed; please send the poll again.")
        )
    flags = set(data.get("flags") or [])
    poll = Poll(
        scope=scope,
        scope_id=scope_id,
        question=str(data["question"]),
        options=list(data["options"]),
        kind=str(data["poll_kind"]),
        secret="--secret" in flags,
        everyone="--everyone" in flags,
        live="--live" in flags,
        opened_at=ctx.now,
        closes_at=closes_at,
        created_by=person.id,
        quorum=data.get("quorum"),
        threshold=data.get("threshold"),
        abstain="--abstain" in flags,
    )
    ctx.session.add(poll)
    await ctx.session.flush()
    voters = await open_roll(ctx.session, poll, branches, ctx.settings.default_timezone)
    tz = await scope_timezone(ctx.session, ctx.settings, poll)
    await _publish(ctx, poll, branches, tz)
    audit(ctx, "poll.posted", poll=poll.id, scope=scope, voters=voters)
    return [
        Reply(
            ctx.t(
                "Posted (poll {id}): {n} people can vote. /poll audit {id} shows the turnout; "
                "/poll close {id} closes it early.",
                id=poll.id,
                n=voters,
            ),
            edit=True,
        )
    ]


async def _publish(ctx: Context, poll: Poll, branches: list[Branch], tz: str) -> None:
    """To each linked chat of the scope (in its branch's language, else the party's);
    privately to the voters of branches without one (each in theirs)."""
    chats = await linked_chats(ctx.session, branches)
    languages = {b.id: b.language for b in branches}
    for chat in chats:
        chat_t = translator(
            pick_language(languages.get(chat.branch_id), ctx.settings.default_locale)
        )
        await enqueue(
            ctx.session,
            key=f"poll:{poll.id}:chat:{chat.id}",
            text=poll_text(chat_t, poll, tz),
            buttons=poll_buttons(chat_t, poll, tz),
            now=ctx.now,
            branch_chat_id=chat.id,
        )
    linked = {c.branch_id for c in chats}
    groups = [
        Recipients(BRANCH_ROLL, {"r_poll": poll.id, "r_branch": b.id})
        for b in branches
        if b.id not in linked
    ]
    if poll.scope == SCOPE_NATIONAL:
        groups.append(Recipients(UNBRANCHED_ROLL, {"r_poll": poll.id}))
    for who in groups:
        await enqueue_for(
            ctx.session,
            who,
            key=f"poll:{poll.id}",
            render=lambda tr: poll_text(tr, poll, tz),
            buttons=lambda tr: poll_buttons(tr, poll, tz),
            now=ctx.now,
            exclude_id=ctx.person.id if ctx.person else None,
            default_locale=ctx.settings.default_locale,
        )


@action(Action.POLL_CANCEL)
async def cancel(ctx: Context, target: str) -> Reply:
    await ctx.take_prompt(target, "poll")
    return Reply(ctx.t("Cancelled: the poll was not posted."), edit=True)
