"""/draw: drawing a council or delegates by lot, from the preview to the commit;
its subcommands for a committed draw live in seed_handlers and record_handlers.
"""

from __future__ import annotations

import datetime as dt
from functools import partial
from typing import Any

from bot.draws import queries, rules
from bot.draws.access import may_draw
from bot.draws.announce import publish
from bot.draws.bodies import Body
from bot.draws.draw_plan import (
    DRAW_USAGE,
    Plan,
    custom_quotas,
    plan_bodies,
    read_plan,
    read_seed_source,
    staff_branch,
)
from bot.draws.preview import build, proportional_quotas, solve, stage
from bot.draws.profile_handlers import reader_tz
from bot.draws.record_handlers import draw_receipt, draw_record, draw_verify, record_file
from bot.draws.seed_handlers import cancel_committed, enter_seed
from bot.draws.texts import committed_notice, describe, how_seeded, source_text, summary_text
from bot.kernel.actions import Action
from bot.kernel.context import Context, Refusal
from bot.kernel.effects import audit
from bot.kernel.i18n import N_, format_local
from bot.kernel.messages import Button, Reply
from bot.kernel.registry import action, command
from bot.lib.sortition import seeds
from storage.models import Draw
from storage.vocabulary import ADMIN, ORGANISER, SCOPE_BRANCH


@command(
    "draw",
    N_("draw a council or delegates by lot, verifiably"),
    usage=DRAW_USAGE,
    roles=(ORGANISER, ADMIN),
    staff=(
        (N_("seed <id> <seed>"), N_("enter the seed a draw waits for"), (ORGANISER, ADMIN)),
        (N_("verify <id>"), N_("check a draw against its record"), (ORGANISER, ADMIN)),
        (N_("record <id> [full]"), N_("download a draw's published record"), (ORGANISER, ADMIN)),
        (
            N_("cancel <id> <reason>"),
            N_("cancel a draw still waiting for its seed, telling everyone why"),
            (ORGANISER, ADMIN),
        ),
    ),
)
async def draw_command(ctx: Context) -> Reply:
    words = ctx.request.args.split()
    first = words[0].lower() if words else ""
    if first == "seed":
        return await enter_seed(ctx, ctx.request.args.strip()[4:])
    if first == "verify":
        return await draw_verify(ctx, " ".join(words[1:]))
    if first == "record":
        return await draw_record(ctx, " ".join(words[1:]))
    if first == "receipt":
        return await draw_receipt(ctx, " ".join(words[1:]))
    if first == "cancel":
        return await cancel_committed(ctx, ctx.request.args.strip()[6:])
    if not words:
        return await _how_to_draw(ctx)
    plan = read_plan(ctx, words)
    bodies = await plan_bodies(ctx, plan)
    if plan.seats:
        plan.source = read_seed_source(ctx, plan.source_text, bodies)
    if not plan.seats:
        counts = [
            ctx.t(
                "{n} members of {unit} can be drawn.",
                n=len(await queries.eligible(ctx.session, ctx.settings, body, ctx.now)),
                unit=body.name,
            )
            for body in bodies
        ]
        return Reply("\n".join(counts) or ctx.t("There is nobody to draw from there yet."))
    if plan.kind in rules.DELEGATIONS:
        return await _preview_delegation(ctx, plan, bodies)
    return await _preview_council(ctx, plan, bodies)


async def _how_to_draw(ctx: Context) -> Reply:
    """/draw alone: how many of the branch can be drawn, and how to ask."""
    branch = await staff_branch(ctx, "draw")
    body = await queries.body_of(ctx.session, ctx.settings, rules.COUNCIL, SCOPE_BRANCH, branch.id)
    people = await queries.eligible(ctx.session, ctx.settings, body, ctx.now) if body else []
    return Reply(
        ctx.t(
            "{n} members of {branch} can be drawn (current dues, opted in with /profile, "
            "not on the council lately). Send /draw followed by the number of seats, "
            "and where the seed will come from, e.g. /draw 5 {example}",
            n=len(people),
            branch=branch.name,
            example=seeds.example_source(ctx.now),
        )
        + "\n"
        + ctx.t(
            "Also: /draw region 9, /draw national 12 (councils), /draw delegates 10 "
            "(from each branch of your region), /draw delegates national 20 (from each "
            "region); days=N for the time to answer; quotas such as gender=woman:2-3."
        ),
        private=True,
    )


async def _preview_council(ctx: Context, plan: Plan, bodies: list[Body]) -> Reply:
    """One draw for a council, quotas in proportion to its pool unless set."""
    if not bodies:
        raise ctx.refuse(ctx.t("There is nobody to draw from there yet."))
    body = bodies[0]
    await _refuse_pending(ctx, body)
    people = await queries.eligible(ctx.session, ctx.settings, body, ctx.now)
    if len(people) < plan.seats:
        raise ctx.refuse(
            ctx.t(
                "Only {n} members of {unit} can be drawn (current dues, opted in with "
                "/profile, not on the council lately): fewer than {seats} seats.",
                n=len(people),
                unit=body.name,
                seats=plan.seats,
            )
        )
    quotas = custom_quotas(
        proportional_quotas([f for _, f in people], ctx.settings, plan.seats), plan.quotas
    )
    problem, behind = build(people, quotas, plan.seats)
    record, relaxed = await solve(problem, plan.source, ctx.settings.sortition_panels)
    staged = await stage(ctx.session, plan.kind, body, plan.seats, record, behind, ctx.now)
    prompt = await ctx.prompt("draw", body=plan.kind, days=plan.days, draws=[staged.id])
    lines = [ctx.t("A draw of {seats} for {body}:", seats=plan.seats, body=describe(ctx.t, body))]
    if plan.quotas:
        lines.append(
            ctx.t(
                "Quotas set by you: {quotas}; the others follow the pool.",
                quotas=", ".join(f"{c}={v} {lo}-{hi}" for (c, v), (lo, hi) in plan.quotas.items()),
            )
        )
    if relaxed:
        lines.append(ctx.t("The quotas could not all be met; relaxed: {why}", why=relaxed))
    lines.append(summary_text(ctx.t, record))
    return _preview(ctx, plan, record["seed_source"], lines, prompt.id, await reader_tz(ctx))


async def _refuse_pending(ctx: Context, body: Body) -> None:
    """Draw shopping: one draw waiting for its seed per body, no second."""
    pending = await queries.pending_draw(ctx.session, body)
    if pending is not None:
        raise ctx.refuse(
            ctx.t(
                "Draw {id} for {body} waits for its seed, and a body has one pending draw "
                "at a time. To start again, /draw cancel {id} followed by the reason: "
                "everyone in it is told.",
                id=pending.id,
                body=describe(ctx.t, body),
            ),
            audit="draw",
        )


def _preview(
    ctx: Context, plan: Plan, source: dict[str, Any], lines: list[str], prompt_id: int, tz: str
) -> Reply:
    described = source_text(ctx.t, source, tz).rstrip(".")  # a trial's ends a sentence itself
    lines.append(ctx.t("Seed: {source}.", source=described))
    lines.append(ctx.t("Each person drawn has {days} days to answer.", days=plan.days))
    return Reply(
        "\n".join(lines),
        buttons=(
            (
                Button(ctx.t("Commit"), Action.DRAW_COMMIT, str(prompt_id)),
                Button(ctx.t("Cancel"), Action.DRAW_CANCEL, str(prompt_id)),
            ),
        ),
        private=True,
    )


async def _preview_delegation(ctx: Context, plan: Plan, bodies: list[Body]) -> Reply:
    """One draw per sending unit, seats in proportion to its members (at least one)."""
    pools = {}
    members = {}
    for index, body in enumerate(bodies):
        pools[index] = await queries.eligible(ctx.session, ctx.settings, body, ctx.now)
        members[index] = await queries.member_count(ctx.session, body, ctx.now)
    seats = rules.apportion(members, {i: len(p) for i, p in pools.items()}, plan.seats)
    if len(seats) > plan.seats or not seats:
        raise ctx.refuse(
            ctx.t(
                "{units} of them have members who can be drawn, and each sends at least one "
                "delegate: ask for at least {units} seats.",
                units=len(seats) or len(bodies),
            )
            if seats
            else ctx.t("Nobody can be drawn there yet (current dues, opted in with /profile).")
        )
    for body in bodies:
        await _refuse_pending(ctx, body)
    planned: list[int] = []
    lines = []
    name = bodies[0].destination if plan.kind == rules.TO_REGION else ctx.settings.party_name
    lines.append(ctx.t("Delegates to {to}, {seats} seats in all:", to=name, seats=plan.seats))
    for index, body in enumerate(bodies):
        if index not in seats:
            lines.append(ctx.t("• {unit}: nobody can be drawn, so no delegate.", unit=body.name))
            continue
        quotas = proportional_quotas([f for _, f in pools[index]], ctx.settings, seats[index])
        problem, behind = build(pools[index], quotas, seats[index])
        record, relaxed = await solve(problem, plan.source, ctx.settings.sortition_panels)
        staged = await stage(ctx.session, plan.kind, body, seats[index], record, behind, ctx.now)
        planned.append(staged.id)
        summary = record["summary"]
        lines.append(
            ctx.t(
                "• {unit}: {seats} of {members} members; pool {n}; chances {low}%-{high}%.",
                unit=body.name,
                seats=seats[index],
                members=members[index],
                n=len(pools[index]),
                low=format_local(float(summary["min_probability"]) * 100, "decimal1", ctx.t.locale),
                high=format_local(
                    float(summary["max_probability"]) * 100, "decimal1", ctx.t.locale
                ),
            )
            + (" " + ctx.t("Quotas relaxed: {why}", why=relaxed) if relaxed else "")
        )
    if sum(seats.values()) < plan.seats:
        lines.append(
            ctx.t(
                "Only {n} seats can be filled: some branches have fewer people to draw than "
                "their share.",
                n=sum(seats.values()),
            )
        )
    prompt = await ctx.prompt("draw", body=plan.kind, days=plan.days, draws=planned)
    return _preview(ctx, plan, plan.source, lines, prompt.id, await reader_tz(ctx))


@action(Action.DRAW_CANCEL)
async def draw_cancel(ctx: Context, target: str) -> Reply:
    """The organiser drops a preview: its staged draws go, nothing was committed."""
    prompt = await ctx.take_prompt(target, "draw", audit="draw")
    for draw_id in prompt.payload["draws"]:
        draw = await ctx.session.get(Draw, int(draw_id))
        if draw is not None and draw.status == rules.PREVIEW:
            await queries.drop_preview(ctx.session, draw)
    return Reply(ctx.t("Cancelled: no draw was committed."), edit=True)


@action(Action.DRAW_COMMIT)
async def draw_commit(ctx: Context, target: str) -> Reply:
    prompt = await ctx.take_prompt(target, "draw", audit="draw")
    kind = str(prompt.payload["body"])
    staged = []
    for draw_id in prompt.payload["draws"]:
        draw = await ctx.session.get(Draw, int(draw_id))
        if draw is None or draw.status != rules.PREVIEW or draw.body != kind:
            raise ctx.stale()
        staged.append(draw)
    # Still theirs to draw? Rights can change between preview and press.
    bodies = []
    for draw in staged:
        body = await queries.draw_body(ctx.session, ctx.settings, draw)
        if body is None or not await may_draw(ctx, body):
            raise Refusal(*ctx.stale().replies, audit="draw")
        await _refuse_pending(ctx, body)
        bodies.append(body)
    if not staged:
        raise ctx.stale()
    created: list[Draw] = []
    for body, draw in zip(bodies, staged, strict=True):
        draw.status = "committed"
        draw.seed_due_at = seeds.seed_exists_at(draw.record["seed_source"], body.timezone, ctx.now)
        draw.group_id = created[0].id if created else draw.id
        if kind not in rules.DELEGATIONS:
            draw.group_id = None
        draw.respond_by = ctx.now + dt.timedelta(days=int(prompt.payload["days"]))
        draw.created_by = ctx.person.id if ctx.person else None
        draw.created_at = ctx.now
        await ctx.session.flush()
        created.append(draw)
        audit(ctx, "draw.committed", draw=draw.id, body=kind, record_hash=draw.record_hash)
        file = record_file(draw)
        committed = partial(committed_notice, draw=draw, body=body)
        await publish(
            ctx.session,
            ctx.settings,
            body,
            key=f"draw-record:{draw.id}",
            render=committed,
            now=ctx.now,
            file=file,
        )
    first = created[0]
    ids = ", ".join(str(d.id) for d in created)
    how = how_seeded(ctx.t, first, await reader_tz(ctx))
    return Reply(
        ctx.t(
            "Committed: draw {ids}, record hash {hash}.",
            ids=ids,
            hash=first.record_hash if len(created) == 1 else "…",
        )
        + " "
        + how,
        file=record_file(first) if len(created) == 1 else None,
        edit=True,
    )
