"""What canvassing achieved, for organisers: /canvass log (the latest session's
results, with Undo) and /canvass stats (a chart of the last 12 weeks)."""

from __future__ import annotations

import asyncio

from bot.branches.handlers import require_staff
from bot.canvassing.access import home
from bot.canvassing.queries import (
    SIGNUPS,
    all_regions,
    attendance_count,
    forget_result,
    record,
    region_branches,
    session_to_log,
)
from bot.canvassing.rules import (
    MAX_COUNT,
    WeekStats,
    admin_region,
    by_week,
    first_counted,
    local,
    parse_tags,
    people_shown,
    plain_number,
    summed,
    week_stats,
)
from bot.canvassing.texts import chart, side_by_side, stats_labels, stats_line
from bot.canvassing.weeks import branch_weeks, start_of
from bot.kernel.actions import Action
from bot.kernel.context import Context, parse_id
from bot.kernel.effects import audit
from bot.kernel.i18n import format_local
from bot.kernel.messages import Attachment, Button, Reply
from bot.kernel.permissions import holds_nationally
from bot.kernel.registry import action
from storage.models import Branch, CanvassResult, CanvassSession, Region
from storage.vocabulary import ADMIN, ORGANISER


async def log(ctx: Context, words: list[str]) -> Reply:
    """/canvass log <doors> <conversations> [issue tags]: for the latest session."""
    person, branch = await home(ctx)
    await require_staff(ctx, branch, (ORGANISER,), "canvass.log")
    counts = [w for w in words[:2] if plain_number(w)]
    tags = parse_tags(words[2:])
    if len(counts) != 2 or tags is None or any(int(c) > MAX_COUNT for c in counts):
        raise ctx.refuse(
            ctx.t(
                "Usage: /canvass log <doors> <conversations> [issues], for example: "
                "/canvass log 120 35 housing buses"
            )
        )
    doors, conversations = int(counts[0]), int(counts[1])
    if conversations > doors:
        raise ctx.refuse(ctx.t("There cannot be more conversations than doors knocked."))
    session = await session_to_log(ctx, branch)
    if session is None:
        raise ctx.refuse(ctx.t("There is no session of the last two weeks left to log."))
    # Those who came, once anyone is recorded as having come; until then, those going.
    people = await attendance_count(ctx, session) or await SIGNUPS.count_going(
        ctx.session, session.id
    )
    result = CanvassResult(
        session_id=session.id,
        people_out=people,
        doors=doors,
        conversations=conversations,
        tags=tags,
        recorded_by=person.id,
        recorded_at=ctx.now,
    )
    ctx.session.add(result)
    await ctx.session.flush()
    audit(ctx, "canvass.logged", branch=branch, session=session.id)
    text = ctx.t(
        "Logged for {when}: {people} out, {doors} doors, {conversations} conversations.",
        when=format_local(session.starts_at, "day_time", ctx.t, tz=branch.timezone),
        people=people,
        doors=doors,
        conversations=conversations,
    )
    if tags:
        text += " " + ctx.t("Issues raised: {tags}.", tags=", ".join(tags))
    return Reply(text, buttons=((Button(ctx.t("Undo"), Action.CANVASS_UNLOG, str(result.id)),),))


@action(Action.CANVASS_UNLOG)
async def unlog_pressed(ctx: Context, target: str) -> Reply:
    _, branch = await home(ctx)
    result_id = parse_id(target)
    result = await ctx.session.get(CanvassResult, result_id) if result_id else None
    session = await ctx.session.get(CanvassSession, result.session_id) if result else None
    if result is None or session is None or session.branch_id != branch.id:
        raise ctx.stale()
    await require_staff(ctx, branch, (ORGANISER,), "canvass.unlog")
    await forget_result(ctx.session, result)
    audit(ctx, "canvass.unlogged", branch=branch, session=session.id)
    return Reply(ctx.t("Undone: that session's results are no longer recorded."), edit=True)


async def stats(ctx: Context, words: list[str]) -> Reply:
    """/canvass stats: the branch's last weeks for its organisers; a region's admins
    see every branch of the region side by side, the nation's every region
    (``/canvass stats branch``: their own branch's, all the same)."""
    grants = await ctx.grants()
    wide = [w.lower() for w in words[:1]] != ["branch"]
    if wide and holds_nationally(grants, ADMIN):
        return await _nation(ctx)
    own = ctx.require_person().branch_id
    own_branch = await ctx.session.get(Branch, own) if own is not None else None
    region_id = admin_region(grants, own_branch.region_id if own_branch else None)
    region = await ctx.session.get(Region, region_id) if wide and region_id is not None else None
    if region is not None:
        return await _region(ctx, region)
    _, branch = await home(ctx)
    await require_staff(ctx, branch, (ORGANISER,), "canvass.stats")
    today = local(ctx.now, branch.timezone).date()
    since = first_counted(today)
    done = await record(ctx, [branch.id], start_of(since, branch.timezone))
    weeks = week_stats(
        done.held[branch.id], done.came[branch.id], done.results[branch.id], branch.timezone, today
    )
    _, issues = by_week(done.results[branch.id], branch.timezone, today)
    title = ctx.t("Canvassing with the {branch} branch, last 12 weeks", branch=branch.name)
    image = await asyncio.to_thread(chart, title, weeks, stats_labels(ctx.t), ctx.t.locale)
    totals = (
        ctx.t("Last 12 weeks:")
        + " "
        + stats_line(
            ctx.t, branch.name, weeks, people_shown(done.came[branch.id], branch.timezone, today)
        )
    )
    top = ", ".join(f"{tag} ({n})" for tag, n in issues.most_common(5))
    if top:
        totals += " " + ctx.t("Top issues: {top}.", top=top)
    return Reply(totals, file=Attachment(f"canvassing-{branch.slug}.png", image, "image/png"))


async def _compare(
    ctx: Context, title: str, series: dict[str, tuple[list[WeekStats], int]], slug: str
) -> Reply:
    if not series:
        raise ctx.refuse(ctx.t("There are no branches here to compare yet."))
    lines = [title] + [stats_line(ctx.t, name, w, n) for name, (w, n) in series.items()]
    image = await asyncio.to_thread(
        side_by_side, title, {k: v[0] for k, v in series.items()}, stats_labels(ctx.t), ctx.t.locale
    )
    return Reply("\n".join(lines), file=Attachment(f"canvassing-{slug}.png", image, "image/png"))


async def _region(ctx: Context, region: Region) -> Reply:
    branches = await region_branches(ctx, region.id)
    weeks = await branch_weeks(ctx, branches)
    title = ctx.t("Canvassing in the {region} region, last 12 weeks", region=region.name)
    return await _compare(ctx, title, {b.name: weeks[b.id] for b in branches}, region.slug)


async def _nation(ctx: Context) -> Reply:
    regions = await all_regions(ctx)
    series = {}
    for region in regions:
        weeks = await branch_weeks(ctx, await region_branches(ctx, region.id))
        if weeks:
            series[region.name] = (
                summed(w for w, _ in weeks.values()),
                sum(n for _, n in weeks.values()),
            )
    title = ctx.t("Canvassing in every region, last 12 weeks")
    return await _compare(ctx, title, series, "regions")
