"""/campaign: the machine springs into action for an election.

    /campaign start <name> <YYYY-MM-DD> [branch|region|national]
    /campaign stop
    /campaign

A branch organiser starts one for their branch (a by-election), a region's
admin for the region, a national admin for the whole party. Starting it sends
an urgent call-out to everyone in scope, adds a daily session in each branch
that canvasses (at its usual time and place) until polling day, and turns the
weekly round-up into a daily one (see ``bot.canvassing.reminders``).
"""

from __future__ import annotations

import datetime as dt

from bot.canvassing.queries import (
    active_campaign,
    branches_where,
    campaign_running,
    coming_sessions,
    in_scope,
    unstopped_campaign,
)
from bot.canvassing.rules import covers, local
from bot.canvassing.sessions import add_daily_sessions, cancel_sessions
from bot.kernel.context import Context
from bot.kernel.effects import audit, notify
from bot.kernel.i18n import N_, format_local
from bot.kernel.messages import Reply
from bot.kernel.permissions import holds_at_branch, holds_at_region, holds_nationally
from bot.kernel.registry import command
from bot.lib.when import WhenError, read_date
from bot.lib.when_words import words_of
from storage.models import Branch, Campaign, CanvassSession
from storage.vocabulary import (
    ADMIN,
    NATIONAL_SCOPE_ID,
    ORGANISER,
    PROPOSED,
    SCOPE_BRANCH,
    SCOPE_NATIONAL,
    SCOPE_REGION,
)

MAX_DAYS = 366


async def _scope(ctx: Context, word: str) -> tuple[str, int, Branch | None]:
    person = ctx.require_person()
    grants = await ctx.grants()
    branch = await ctx.session.get(Branch, person.branch_id) if person.branch_id else None
    scope = word or SCOPE_BRANCH
    allowed = False
    scope_id = NATIONAL_SCOPE_ID
    if scope == SCOPE_BRANCH and branch is not None:
        scope_id, allowed = branch.id, holds_at_branch(grants, ORGANISER, branch)
    elif scope == SCOPE_REGION and branch is not None and branch.region_id is not None:
        scope_id, allowed = branch.region_id, holds_at_region(grants, ADMIN, branch.region_id)
    elif scope == SCOPE_NATIONAL:
        allowed = holds_nationally(grants, ADMIN)
    if not allowed:
        raise ctx.refuse(
            ctx.t(
                "A branch's organisers start a campaign for their branch, a region's admins "
                "for the region, national admins for the party."
            ),
            audit="campaign",
        )
    return scope, scope_id, branch


def _usage(ctx: Context) -> str:
    return ctx.t(
        "Usage: /campaign start <name> <polling day YYYY-MM-DD> [branch|region|national], "
        "/campaign stop, or /campaign to see the one running."
    )


@command(
    "campaign",
    N_("start or stop an election campaign: daily sessions and a call-out"),
    usage=N_("start <name> <YYYY-MM-DD> [branch|region|national] | stop"),
    roles=(ORGANISER, ADMIN),
)
async def campaign(ctx: Context) -> Reply:
    words = ctx.request.args.split()
    if not words:
        return await _status(ctx)
    if words[0].lower() == "stop":
        return await _stop(ctx, words[1].lower() if len(words) > 1 else "")
    if words[0].lower() != "start":
        raise ctx.refuse(_usage(ctx))
    rest = words[1:]
    scope_word = (
        rest.pop().lower()
        if rest and rest[-1].lower() in (SCOPE_BRANCH, SCOPE_REGION, SCOPE_NATIONAL)
        else ""
    )
    if len(rest) < 2:
        raise ctx.refuse(_usage(ctx))
    name = " ".join(rest[:-1])[:120]
    scope, scope_id, home = await _scope(ctx, scope_word)
    tz = home.timezone if home else ctx.settings.default_timezone
    today = local(ctx.now, tz).date()
    try:
        polling_day = read_date(rest[-1], today, words=words_of(ctx.t))
    except WhenError:
        raise ctx.refuse(_usage(ctx)) from None
    if not today < polling_day <= today + dt.timedelta(days=MAX_DAYS):
        raise ctx.refuse(ctx.t("Polling day must be after today and within a year."))
    existing = await unstopped_campaign(ctx, scope, scope_id)
    if existing is not None and existing.polling_day >= today:
        raise ctx.refuse(
            ctx.t(
                "The {name} campaign is already running here: /campaign stop first.",
                name=existing.name,
            )
        )
    run = Campaign(
        name=name,
        scope=scope,
        scope_id=scope_id,
        polling_day=polling_day,
        started_by=ctx.person.id if ctx.person else None,
        started_at=ctx.now,
    )
    ctx.session.add(run)
    await ctx.session.flush()
    branches = [b for b in await branches_where(ctx, Branch.status != PROPOSED) if covers(run, b)]
    added = 0
    without: list[str] = []  # branches with no weekly session to copy
    for branch in branches:
        n = await add_daily_sessions(ctx, run, branch)
        added += n
        if not n:
            without.append(branch.name)
    await notify(
        ctx,
        in_scope(scope, scope_id),
        f"campaign:{run.id}",
        lambda t: t(
            "📣 Campaign: {name}. Polling day is {day}. Every door counts: send /canvass "
            "to see the canvassing sessions until then and sign up.",
            name=name,
            day=format_local(polling_day, "iso_date", t.locale),
        ),
    )
    audit(ctx, "campaign.started", campaign=run.id, scope=scope, scope_id=scope_id)
    text = (
        ctx.t(
            "The {name} campaign is on until polling day, {day}: everyone in scope has been "
            "called out.",
            name=name,
            day=format_local(polling_day, "iso_date", ctx.t.locale),
        )
        + " "
        + ctx.t.plural(
            "{n} daily session was added where branches canvass weekly.",
            "{n} daily sessions were added where branches canvass weekly.",
            added,
        )
    )
    if without:
        text += " " + ctx.t(
            "No daily sessions in {branches}: they have no weekly session to copy. Their "
            "organisers can add one with /canvass schedule.",
            branches=", ".join(sorted(without)),
        )
    return Reply(text)


async def _stop(ctx: Context, scope_word: str) -> Reply:
    scope, scope_id, home = await _scope(ctx, scope_word)
    today = local(ctx.now, home.timezone if home else ctx.settings.default_timezone).date()
    run = await campaign_running(ctx, scope, scope_id, today)
    if run is None:
        raise ctx.refuse(ctx.t("No campaign is running here."))
    run.stopped_at = ctx.now
    cancelled = 0
    for branch in await branches_where(ctx):
        if not covers(run, branch):
            continue
        added = await coming_sessions(
            ctx, CanvassSession.campaign_id == run.id, CanvassSession.branch_id == branch.id
        )
        await cancel_sessions(ctx, added, branch)  # those signed up are told
        cancelled += len(added)
    audit(ctx, "campaign.stopped", campaign=run.id)
    return Reply(
        ctx.t(
            "The {name} campaign has stopped; {n} daily sessions still to come were cancelled.",
            name=run.name,
            n=cancelled,
        )
    )


async def _status(ctx: Context) -> Reply:
    person = ctx.require_person()
    branch = await ctx.session.get(Branch, person.branch_id) if person.branch_id else None
    run = await active_campaign(ctx, branch) if branch else None
    if run is None:
        return Reply(ctx.t("No campaign is running for your branch."))
    return Reply(
        ctx.t(
            "Campaign: {name}, polling day {day}, started {started}.",
            name=run.name,
            day=format_local(run.polling_day, "iso_date", ctx.t.locale),
            started=format_local(
                run.started_at,
                "day_time",
                ctx.t,
                tz=branch.timezone if branch else ctx.settings.default_timezone,
            ),
        )
    )
