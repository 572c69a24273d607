"""What canvassing achieved, for organisers: /canvass log (the latest session's
results, with Undo) and /canvass stats (a chart of the last 12 weeks)."""

from __future__ import annotations

import asyncio

from bot.branches.handlers import require_staff
from bot.canvassing.access import home
from bot.canvassing.queries import SIGNUPS, branch_results, session_to_log
from bot.canvassing.rules import MAX_COUNT, by_week, local, parse_tags, plain_number
from bot.canvassing.texts import chart
from bot.kernel.actions import Action
from bot.kernel.context import Context, parse_id
from bot.kernel.effects import audit
from bot.kernel.i18n import format_local
from bot.kernel.messages import Attachment, Button, Reply
from bot.kernel.registry import action
from storage.models import CanvassResult, CanvassSession
from storage.vocabulary import ORGANISER


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
    people = await SIGNUPS.count_going(ctx.session, session.id)
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
        when=format_local(session.starts_at, "day_time", ctx.t.locale, tz=branch.timezone),
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
    await ctx.session.delete(result)
    audit(ctx, "canvass.unlogged", branch=branch, session=session.id)
    return Reply(ctx.t("Undone: that session's results are no longer recorded."), edit=True)


async def stats(ctx: Context) -> Reply:
    _, branch = await home(ctx)
    await require_staff(ctx, branch, (ORGANISER,), "canvass.stats")
    today = local(ctx.now, branch.timezone).date()
    weeks, issues = by_week(await branch_results(ctx, branch), branch.timezone, today)
    labels = {
        "title": ctx.t("Canvassing with the {branch} branch, last 12 weeks"),
        "doors": ctx.t("doors knocked"),
        "conversations": ctx.t("conversations"),
        "people": ctx.t("people out"),
    }
    image = await asyncio.to_thread(chart, branch.name, weeks, labels, ctx.t.locale)
    totals = ctx.t(
        "Last 12 weeks: {people} people out, {doors} doors, {conversations} conversations.",
        people=sum(w.people for w in weeks),
        doors=sum(w.doors for w in weeks),
        conversations=sum(w.conversations for w in weeks),
    )
    top = ", ".join(f"{tag} ({n})" for tag, n in issues.most_common(5))
    if top:
        totals += " " + ctx.t("Top issues: {top}.", top=top)
    return Reply(totals, file=Attachment(f"canvassing-{branch.slug}.png", image, "image/png"))
