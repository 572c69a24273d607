"""/profile: opting in to be drawn by lot, and the features a draw balances.

The categories (gender, age band, area...) come from ``sortition.categories``
in the configuration. Every question has "Prefer not to say", which is a value
like any other: quotas can be set for it too. Opting in records a consent of
its own (purpose ``sortition``); opting out deletes the answers.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import re
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import delete, func, select, update

from bot.branches.handlers import _require_staff
from bot.draws import service as draws
from bot.draws.completion import cancel, complete_group
from bot.draws.invitations import replace
from bot.draws.preview import build, proportional_quotas, solve, stage, summary_text
from bot.kernel.actions import Action
from bot.kernel.config import parse_categories
from bot.kernel.context import Context, Refusal, parse_id
from bot.kernel.effects import audit, notify
from bot.kernel.i18n import N_, Translator, format_local
from bot.kernel.messages import Attachment, Button, Reply
from bot.kernel.permissions import holds_at_branch, holds_at_region, holds_nationally, is_member
from bot.kernel.registry import action, command
from bot.lib.sortition import beacons, seeds
from bot.lib.sortition.model import Quota, SortitionError
from bot.lib.sortition.record import canonical, parse_seed_source, public_view, verify
from storage.models import (
    Branch,
    Consent,
    CouncilSeat,
    Draw,
    DrawEntrant,
    Invitation,
    Person,
    Region,
    RoleGrant,
    SortitionProfile,
)
from storage.vocabulary import (
    ACCEPTED,
    ADMIN,
    AFFILIATED,
    DECLINED,
    INVITED,
    NATIONAL_SCOPE_ID,
    ORGANISER,
    SCOPE_BRANCH,
    SCOPE_NATIONAL,
    SCOPE_REGION,
)

PREFER_NOT = "prefer not to say"
PURPOSE = "sortition"


def categories(ctx: Context) -> list[tuple[str, list[str]]]:
    return parse_categories(ctx.settings.sortition_categories)


async def _profile(ctx: Context) -> SortitionProfile | None:
    person = ctx.require_person()
    return await ctx.session.scalar(
        select(SortitionProfile).where(SortitionProfile.person_id == person.id)
    )


def _answers(ctx: Context, profile: SortitionProfile) -> str:
    lines = []
    for name, _values in categories(ctx):
        value = profile.features.get(name)
        shown = ctx.t("prefer not to say") if value == PREFER_NOT else value or "—"
        lines.append(f"• {name}: {shown}")
    return "\n".join(lines)


@command("profile", N_("be drawn by lot for councils and delegations"), private=True)
async def profile(ctx: Context) -> Reply:
    row = await _profile(ctx)
    if row is None or not row.opted_in:
        return Reply(
            ctx.t(
                "Councils and delegations are drawn by lot from the members who opt in, "
                "balanced so that they look like the membership. To be in the draw, opt in "
                "and answer a few questions (each may be “prefer not to say”). Only the "
                "draw uses your answers; /forget deletes them."
            ),
            buttons=((Button(ctx.t("Opt in"), Action.PROFILE_OPT_IN, "1"),),),
            private=True,
        )
    return Reply(
        await _in_the_draw(ctx, thanks=False) + "\n" + _answers(ctx, row),
        buttons=(
            (
                Button(ctx.t("Change my answers"), Action.PROFILE_OPT_IN, "1"),
                Button(ctx.t("Opt out"), Action.PROFILE_OPT_OUT, "1"),
            ),
        ),
        private=True,
    )


def _question(ctx: Context, index: int) -> Reply:
    name, values = categories(ctx)[index]
    buttons = [
        (Button(v[:60], Action.PROFILE_ANSWER, f"{index}.{i}"),) for i, v in enumerate(values)
    ]
    buttons.append(
        (Button(ctx.t("Prefer not to say"), Action.PROFILE_ANSWER, f"{index}.{len(values)}"),)
    )
    return Reply(
        ctx.t("{category}?", category=name.capitalize()),
        buttons=tuple(buttons),
        private=True,
        edit=True,
    )


@action(Action.PROFILE_OPT_IN)
async def opt_in(ctx: Context, target: str) -> Reply:
    if target != "1":
        raise ctx.stale()
    person = ctx.require_person()
    row = await _profile(ctx)
    if row is None:
        row = SortitionProfile(person_id=person.id, opted_in=True, features={}, updated_at=ctx.now)
        ctx.session.add(row)
    if not row.opted_in or row.id is None:
        ctx.session.add(
            Consent(
                person_id=person.id,
                purpose=PURPOSE,
                notice_version=ctx.settings.notice_version,
                given_at=ctx.now,
            )
        )
    row.opted_in = True
    row.updated_at = ctx.now
    await ctx.session.flush()
    audit(ctx, "sortition.opted-in", subject=person)
    return _question(ctx, 0)


@action(Action.PROFILE_ANSWER)
async def answer(ctx: Context, target: str) -> Reply:
    row = await _profile(ctx)
    index_text, _, value_text = target.partition(".")
    cats = categories(ctx)
    if not (_small(index_text) and _small(value_text)) or row is None or not row.opted_in:
        raise ctx.stale()
    index, value = int(index_text), int(value_text)
    if index >= len(cats) or value > len(cats[index][1]):
        raise ctx.stale()
    name, values = cats[index]
    chosen = values[value] if value < len(values) else PREFER_NOT
    row.features = {**row.features, name: chosen}
    row.updated_at = ctx.now
    if index + 1 < len(cats):
        return _question(ctx, index + 1)
    return Reply(
        await _in_the_draw(ctx, thanks=True) + "\n" + _answers(ctx, row),
        private=True,
        edit=True,
    )


async def _reader_tz(ctx: Context) -> str:
    """The time zone the person answered reads times in: their branch's."""
    person = ctx.person
    branch = (
        await ctx.session.get(Branch, person.branch_id) if person and person.branch_id else None
    )
    return branch.timezone if branch else ctx.settings.default_timezone


async def _in_the_draw(ctx: Context, *, thanks: bool) -> str:
    """Whether an opted-in person is drawable now: only Members (dues paid) are."""
    person = ctx.require_person()
    if is_member(person, ctx.now, await _reader_tz(ctx)):
        if thanks:
            return ctx.t("Thank you: you are in the draw. Your answers:")
        return ctx.t("You are in the draw for councils and delegations. Your answers:")
    return ctx.t(
        "You are opted in, and will be in the draw for councils and delegations once your "
        "membership dues are paid (ask your branch treasurer). Your answers:"
    )


def _small(text: str) -> bool:
    return text.isascii() and text.isdigit() and len(text) <= 3


@action(Action.PROFILE_OPT_OUT)
async def opt_out(ctx: Context, target: str) -> Reply:
    if target != "1":
        raise ctx.stale()
    person = ctx.require_person()
    await ctx.session.execute(
        delete(SortitionProfile).where(SortitionProfile.person_id == person.id)
    )
    await ctx.session.execute(
        delete(Consent).where(Consent.person_id == person.id, Consent.purpose == PURPOSE)
    )
    audit(ctx, "sortition.opted-out", subject=person)
    return Reply(
        ctx.t("Done: you are out of the draw, and your answers are deleted."),
        private=True,
        edit=True,
    )


# --- /draw -------------------------------------------------------------------------

DRAW_USAGE = (
    "[council | region | national | delegates | delegates national] <seats> [days=N] "
    "[category=value:min-max ...] [lottery:NAME:YYYY-MM-DD | beacon:drand|quicknet:ROUND | a trial seed]"
)
QUOTA = re.compile(
    r"^(?P<category>[^=\s]+)=(?P<value>[^:\s]+):(?P<min>\d{1,2})(?:-(?P<max>\d{1,2}))?$"
)
DAYS = re.compile(r"^days=(?P<days>\d{1,3})$", re.IGNORECASE)


@dataclass
class Plan:
    """What a /draw asks for, read from its words."""

    kind: str
    seats: int
    days: int
    quotas: dict[tuple[str, str], tuple[int, int]] = field(default_factory=dict)
    source: dict[str, Any] = field(default_factory=dict)
    place: str = ""  # region=SLUG
    source_text: str = ""


async def _staff_branch(ctx: Context, what: str) -> Branch:
    person = ctx.require_person()
    branch = await ctx.session.get(Branch, person.branch_id) if person.branch_id else None
    if branch is None:
        raise ctx.refuse(
            ctx.t("You are in no branch, so there is no council to draw for."), audit=what
        )
    await _require_staff(ctx, branch, (ORGANISER,), what)
    return branch


async def _region(ctx: Context, slug: str) -> Region:
    """The region named by ``slug``, else the one the person organises or lives in;
    only for its organisers (or national staff)."""
    person = ctx.require_person()
    grants = await ctx.grants()
    region: Region | None = None
    if slug:
        region = await ctx.session.scalar(select(Region).where(Region.slug == slug.lower()))
    else:
        held = {g.scope_id for g in grants if g.scope == SCOPE_REGION}
        branch = await ctx.session.get(Branch, person.branch_id) if person.branch_id else None
        if branch is not None and branch.region_id is not None:
            region = await ctx.session.get(Region, branch.region_id)
        elif len(held) == 1:
            region = await ctx.session.get(Region, held.pop())
    if region is None or not holds_at_region(grants, ORGANISER, region.id):
        raise ctx.refuse(
            ctx.t(
                "Only the organisers of a region (or national staff) can draw for it; "
                "name it with region=NAME if you are in no branch there."
            ),
            audit="draw",
        )
    return region


async def _national(ctx: Context) -> None:
    ctx.require_person()
    if not holds_nationally(await ctx.grants(), ORGANISER):
        raise ctx.refuse(
            ctx.t("Only national organisers and admins can draw at the national level."),
            audit="draw",
        )


def _read_plan(ctx: Context, words: list[str]) -> Plan:
    """The body, seats, options and seed source, or a refusal that says what is wrong."""
    kind, place = draws.COUNCIL, ""
    head, _, place = words[0].lower().partition("=") if words else ("", "", "")
    if head in ("council", "region", "national", "delegates"):
        kind = {
            "council": draws.COUNCIL,
            "region": draws.REGION_COUNCIL,
            "national": draws.NATIONAL_COUNCIL,
            "delegates": draws.TO_REGION,
        }[head]
        words = words[1:]
        if kind == draws.TO_REGION and words and words[0].lower() == "national":
            kind, words = draws.TO_NATIONAL, words[1:]
    else:
        place = ""
    if kind != draws.COUNCIL and not words:
        return Plan(kind, 0, ctx.settings.sortition_respond_days, place=place)  # who can be drawn
    if not words or not (words[0].isascii() and words[0].isdigit()) or not 1 <= int(words[0]) <= 99:
        raise ctx.refuse(
            ctx.t(
                "Send /draw followed by the number of seats (1-99), e.g. /draw 5, or /draw "
                "region 9, /draw national 12, /draw delegates 10."
            )
        )
    plan = Plan(kind, int(words[0]), ctx.settings.sortition_respond_days, place=place)
    rest = []
    for word in words[1:]:
        days = DAYS.match(word)
        quota = QUOTA.match(word)
        if days:
            plan.days = int(days["days"])
            if not 1 <= plan.days <= 60:
                raise ctx.refuse(ctx.t("The time to answer (days=N) must be 1 to 60 days."))
        elif quota:
            plan.quotas[_quota_key(ctx, quota["category"], quota["value"])] = _bounds(
                ctx, quota, plan.seats
            )
        else:
            rest.append(word)
    if plan.quotas and kind in draws.DELEGATIONS:
        raise ctx.refuse(
            ctx.t(
                "A delegation's quotas follow each branch's own pool; set quotas only for a "
                "council."
            )
        )
    plan.source_text = " ".join(rest)
    return plan


def _seed_source(ctx: Context, text: str, bodies: list[draws.Body]) -> dict[str, Any]:
    """The committed seed source these words name (see ``bot.lib.sortition.seeds``), or
    a refusal: a lottery's result after today, a beacon round after now; any other
    text is a trial."""
    timezone = bodies[0].timezone if bodies else ctx.settings.default_timezone
    try:
        source = parse_seed_source(text or None)
        if source.get("kind") == seeds.LOTTERY:
            return seeds.lottery_source(str(source["name"]), str(source["date"]), timezone, ctx.now)
        if source.get("kind") == seeds.BEACON:
            return beacons.beacon_source(
                str(source.get("chain") or source["url"]), str(source["round"]), ctx.now
            )
    except seeds.SeedProblem as exc:
        raise ctx.refuse(exc.render(ctx.t)) from None
    except SortitionError as exc:
        raise ctx.refuse(str(exc)) from None
    return source


def _quota_key(ctx: Context, category: str, value: str) -> tuple[str, str]:
    """The configured category and value these words name (a value by any
    unambiguous beginning, e.g. "non" for non-binary, "prefer" for prefer not to say)."""
    for name, values in categories(ctx):
        if name.lower() != category.lower():
            continue
        options = [*values, PREFER_NOT]
        exact = [v for v in options if v.lower() == value.lower()]
        found = exact or [v for v in options if v.lower().startswith(value.lower())]
        if len(found) == 1:
            return name, found[0]
        raise ctx.refuse(
            ctx.t(
                "{category} has no single value “{value}”: choose from {values}.",
                category=name,
                value=value[:40],
                values=", ".join(options),
            )
        )
    raise ctx.refuse(ctx.t("There is no category {category}.", category=category[:40]))


def _bounds(ctx: Context, quota: re.Match[str], seats: int) -> tuple[int, int]:
    low = int(quota["min"])
    high = int(quota["max"]) if quota["max"] is not None else low
    if low > high or high > seats:
        raise ctx.refuse(
            ctx.t(
                "A quota is min-max seats, at most the {seats} seats: {quota} is not.",
                seats=seats,
                quota=quota.group(0)[:60],
            )
        )
    return low, high


async def _bodies(ctx: Context, plan: Plan) -> list[draws.Body]:
    """The body to draw for (a council), or one per sending unit (a delegation),
    after checking the person may."""
    settings, session = ctx.settings, ctx.session
    if plan.kind == draws.COUNCIL:
        branch = await _staff_branch(ctx, "draw")
        body = await draws.body_of(session, settings, plan.kind, SCOPE_BRANCH, branch.id)
        return [body] if body else []
    if plan.kind in (draws.REGION_COUNCIL, draws.TO_REGION):
        region = await _region(ctx, plan.place)
        if plan.kind == draws.REGION_COUNCIL:
            body = await draws.body_of(session, settings, plan.kind, SCOPE_REGION, region.id)
            return [body] if body else []
        units = await session.scalars(
            draws.branches_in(SCOPE_REGION, region.id).order_by(Branch.id)
        )
        found = [await draws.body_of(session, settings, plan.kind, SCOPE_BRANCH, u) for u in units]
        return [b for b in found if b is not None]
    await _national(ctx)
    if plan.kind == draws.NATIONAL_COUNCIL:
        body = await draws.body_of(session, settings, plan.kind, SCOPE_NATIONAL, NATIONAL_SCOPE_ID)
        return [body] if body else []
    regions = await session.scalars(
        select(Region.id)
        .where(Region.id.in_(select(Branch.region_id).where(Branch.status == AFFILIATED)))
        .order_by(Region.id)
    )
    found = [await draws.body_of(session, settings, plan.kind, SCOPE_REGION, r) for r in regions]
    return [b for b in found if b is not None]


def _custom(quotas: list[Quota], custom: dict[tuple[str, str], tuple[int, int]]) -> list[Quota]:
    return [
        Quota(q.category, q.value, *custom[(q.category, q.value)])
        if (q.category, q.value) in custom
        else q
        for q in quotas
    ]


@command(
    "draw",
    N_("draw a council or delegates by lot, verifiably"),
    usage=DRAW_USAGE,
    roles=(ORGANISER, ADMIN),
    staff=(
        ("seed <id> <seed>", N_("enter the seed a draw waits for"), (ORGANISER, ADMIN)),
        ("verify <id>", N_("check a draw against its record"), (ORGANISER, ADMIN)),
        ("record <id> [full]", N_("download a draw's published record"), (ORGANISER, ADMIN)),
        (
            "cancel <id> <reason>",
            N_("cancel a draw still waiting for its seed, telling everyone why"),
            (ORGANISER, ADMIN),
        ),
    ),
)
async def draw_command(ctx: Context) -> Reply:
    words = ctx.request.args.split()
    first = words[0].lower() if words else ""
    if first == "seed":
        return await _enter_seed(ctx, ctx.request.args.strip()[4:])
    if first == "verify":
        return await _verify(ctx, " ".join(words[1:]))
    if first == "record":
        return await _record(ctx, " ".join(words[1:]))
    if first == "receipt":
        return await _receipt(ctx, " ".join(words[1:]))
    if first == "cancel":
        return await _cancel(ctx, ctx.request.args.strip()[6:])
    if not words:
        branch = await _staff_branch(ctx, "draw")
        body = await draws.body_of(
            ctx.session, ctx.settings, draws.COUNCIL, SCOPE_BRANCH, branch.id
        )
        people = await draws.eligible(ctx.session, ctx.settings, body, ctx.now) if body else []
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
    plan = _read_plan(ctx, words)
    bodies = await _bodies(ctx, plan)
    if plan.seats:
        plan.source = _seed_source(ctx, plan.source_text, bodies)
    if not plan.seats:
        counts = [
            ctx.t(
                "{n} members of {unit} can be drawn.",
                n=len(await draws.eligible(ctx.session, ctx.settings, body, ctx.now)),
                unit=body.name,
            )
            for body in bodies
        ]
        return Reply("\n".join(counts) or ctx.t("There is nobody to draw from there yet."))
    if plan.kind in draws.DELEGATIONS:
        return await _preview_delegation(ctx, plan, bodies)
    if not bodies:
        raise ctx.refuse(ctx.t("There is nobody to draw from there yet."))
    body = bodies[0]
    await _refuse_pending(ctx, body)
    people = await draws.eligible(ctx.session, ctx.settings, body, ctx.now)
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
    quotas = _custom(
        proportional_quotas([f for _, f in people], ctx.settings, plan.seats), plan.quotas
    )
    problem, behind = build(people, quotas, plan.seats)
    record, relaxed = await solve(problem, plan.source, ctx.settings.sortition_panels)
    staged = await stage(ctx.session, plan.kind, body, plan.seats, record, behind, ctx.now)
    prompt = await ctx.prompt("draw", body=plan.kind, days=plan.days, draws=[staged.id])
    lines = [ctx.t("A draw of {seats} for {body}:", seats=plan.seats, body=body.describe(ctx.t))]
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
    return _preview(ctx, plan, record["seed_source"], lines, prompt.id, await _reader_tz(ctx))


async def _refuse_pending(ctx: Context, body: draws.Body) -> None:
    """Draw shopping: one draw waiting for its seed per body, no second."""
    pending = await draws.pending_draw(ctx.session, body)
    if pending is not None:
        raise ctx.refuse(
            ctx.t(
                "Draw {id} for {body} waits for its seed, and a body has one pending draw "
                "at a time. To start again, /draw cancel {id} followed by the reason: "
                "everyone in it is told.",
                id=pending.id,
                body=body.describe(ctx.t),
            ),
            audit="draw",
        )


def _preview(
    ctx: Context, plan: Plan, source: dict[str, Any], lines: list[str], prompt_id: int, tz: str
) -> Reply:
    lines.append(ctx.t("Seed: {source}.", source=_source_text(ctx, source, tz)))
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


async def _preview_delegation(ctx: Context, plan: Plan, bodies: list[draws.Body]) -> Reply:
    """One draw per sending unit, seats in proportion to its members (at least one)."""
    pools = {}
    members = {}
    for index, body in enumerate(bodies):
        pools[index] = await draws.eligible(ctx.session, ctx.settings, body, ctx.now)
        members[index] = await draws.member_count(ctx.session, body, ctx.now)
    seats = draws.apportion(members, {i: len(p) for i, p in pools.items()}, plan.seats)
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
    name = bodies[0].destination if plan.kind == draws.TO_REGION else ctx.settings.party_name
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
    return _preview(ctx, plan, plan.source, lines, prompt.id, await _reader_tz(ctx))


def _source_text(ctx: Context, source: dict[str, Any], tz: str) -> str:
    if source.get("kind") == seeds.LOTTERY:
        return ctx.t(
            "the numbers of {name} ({format}) drawn on {date}, entered by two witnesses once "
            "the result is out (after {when}, {tz} time)",
            name=source.get("name"),
            format=source.get("format"),
            date=source.get("date"),
            when=_when(ctx, source.get("results_after"), tz),
            tz=tz,
        )
    if source.get("kind") == seeds.BEACON:
        return ctx.t(
            "round {round} of {chain} (out at {when}, {tz} time), fetched and its "
            "signature checked when it is published",
            round=source.get("round"),
            chain=source.get("name"),
            when=_when(ctx, source.get("round_time"), tz),
            tz=tz,
        )
    return ctx.t(
        "TRIAL: “{description}”. A seed typed by an organiser can be chosen to pick a "
        "panel, so a trial draw invites nobody. For a real draw, name a public source: "
        "lottery:NAME:DATE or beacon:drand:ROUND.",
        description=str(source.get("description") or "")[:80],
    )


def _when(ctx: Context, value: object, tz: str) -> str:
    """A moment kept in a draw's record (ISO 8601), in the reader's time zone."""
    try:
        moment = dt.datetime.fromisoformat(str(value))
    except ValueError:
        return "?"
    if moment.tzinfo is None:
        return "?"
    return format_local(moment, "iso_datetime", ctx.t.locale, tz=tz)


@action(Action.DRAW_CANCEL)
async def draw_cancel(ctx: Context, target: str) -> Reply:
    """The organiser drops a preview: its staged draws go, nothing was committed."""
    prompt = await ctx.take_prompt(target, "draw", audit="draw")
    for draw_id in prompt.payload["draws"]:
        draw = await ctx.session.get(Draw, int(draw_id))
        if draw is not None and draw.status == draws.PREVIEW:
            await ctx.session.delete(draw)
    return Reply(ctx.t("Cancelled: no draw was committed."), edit=True)


@action(Action.DRAW_COMMIT)
async def draw_commit(ctx: Context, target: str) -> Reply:
    prompt = await ctx.take_prompt(target, "draw", audit="draw")
    kind = str(prompt.payload["body"])
    staged = []
    for draw_id in prompt.payload["draws"]:
        draw = await ctx.session.get(Draw, int(draw_id))
        if draw is None or draw.status != draws.PREVIEW or draw.body != kind:
            raise ctx.stale()
        staged.append(draw)
    # Still theirs to draw? Rights can change between preview and press.
    bodies = []
    for draw in staged:
        body = await draws.draw_body(ctx.session, ctx.settings, draw)
        if body is None or not await _may_draw(ctx, body):
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
        if kind not in draws.DELEGATIONS:
            draw.group_id = None
        draw.respond_by = ctx.now + dt.timedelta(days=int(prompt.payload["days"]))
        draw.created_by = ctx.person.id if ctx.person else None
        draw.created_at = ctx.now
        await ctx.session.flush()
        created.append(draw)
        audit(ctx, "draw.committed", draw=draw.id, body=kind, record_hash=draw.record_hash)
        file = _record_file(draw)

        def committed(t: Translator, draw: Draw = draw, body: draws.Body = body) -> str:
            text = t(
                "Draw {id} for {body} is committed, before its seed is known. Record hash "
                "{hash}; the record is attached (or: /draw record {id}). If you are in its "
                "pool, /draw receipt {id} gives you, privately, what you need to check your "
                "own entry.",
                id=draw.id,
                body=body.describe(t),
                hash=draw.record_hash,
            )
            if seeds.is_trial(draw.record["seed_source"]):
                text = t("TRIAL (its seed will be typed, so it invites nobody):") + " " + text
            return text

        await draws.publish(
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
    source = first.record["seed_source"]
    if source.get("kind") == seeds.BEACON:
        how = ctx.t("The scheduler fetches the beacon's round when it is published.")
    elif source.get("kind") == seeds.LOTTERY:
        how = ctx.t(
            "Once the result is out (after {when}, {tz} time), two witnesses, members who "
            "are not both organisers, each send /draw seed {id} followed by the numbers.",
            when=_when(ctx, source.get("results_after"), await _reader_tz(ctx)),
            tz=await _reader_tz(ctx),
            id=first.id,
        )
    else:
        how = ctx.t(
            "This is a TRIAL: /draw seed {id} <seed> draws it, and nobody is invited.",
            id=first.id,
        )
    return Reply(
        ctx.t(
            "Committed: draw {ids}, record hash {hash}.",
            ids=ids,
            hash=first.record_hash if len(created) == 1 else "…",
        )
        + " "
        + how,
        file=_record_file(first) if len(created) == 1 else None,
        edit=True,
    )


def _record_file(draw: Draw, *, full: bool = False) -> Attachment:
    """The public record (no entrant's features), or the organisers' full one."""
    record = draw.record if full else public_view(draw.record)
    return Attachment(
        f"draw-{draw.id}-record{'-full' if full else ''}.json",
        json.dumps(record, sort_keys=True, indent=1).encode(),
        "application/json",
    )


async def _may_draw(ctx: Context, body: draws.Body) -> bool:
    """Does the person hold the organiser's role over the body's unit?"""
    grants = await ctx.grants()
    if body.scope == SCOPE_BRANCH:
        branch = await ctx.session.get(Branch, body.scope_id)
        return branch is not None and holds_at_branch(grants, ORGANISER, branch)
    if body.scope == SCOPE_REGION:
        return holds_at_region(grants, ORGANISER, body.scope_id)
    return holds_nationally(grants, ORGANISER)


def _no_draw(ctx: Context, ident: str) -> str:
    """The refusal for a draw that is not there (or not theirs), or not named at all."""
    if not ident.strip():
        return ctx.t("Which draw? Give its number, for example: /draw record 1")
    return ctx.t("There is no draw {id}.", id=ident.strip()[:12])


async def _draw_of(ctx: Context, text: str) -> Draw:
    draw_id = parse_id(text.strip().lstrip("#"))
    draw = await ctx.session.get(Draw, draw_id) if draw_id is not None else None
    if draw is not None and draw.status == draws.PREVIEW:
        draw = None
    body = await draws.draw_body(ctx.session, ctx.settings, draw) if draw is not None else None
    if draw is None or body is None:
        raise ctx.refuse(_no_draw(ctx, text))
    if not await _may_draw(ctx, body):
        raise ctx.refuse(_no_draw(ctx, text), audit="draw")
    return draw


async def _in_unit(ctx: Context, body: draws.Body, person: Person) -> bool:
    if person.branch_id is None:
        return False
    return bool(
        await ctx.session.scalar(
            draws.branches_in(body.scope, body.scope_id).where(Branch.id == person.branch_id)
        )
    )


async def _is_staff(ctx: Context, body: draws.Body, person_id: int) -> bool:
    grants = list(
        await ctx.session.scalars(select(RoleGrant).where(RoleGrant.person_id == person_id))
    )
    if body.scope == SCOPE_BRANCH:
        branch = await ctx.session.get(Branch, body.scope_id)
        return branch is not None and any(
            holds_at_branch(grants, role, branch) for role in (ORGANISER, ADMIN)
        )
    if body.scope == SCOPE_REGION:
        return any(holds_at_region(grants, role, body.scope_id) for role in (ORGANISER, ADMIN))
    return any(holds_nationally(grants, role) for role in (ORGANISER, ADMIN))


async def _enter_seed(ctx: Context, text: str) -> Reply:
    """A witness enters a lottery's result (read into its canonical text), or an
    organiser a trial's seed. A beacon's round is fetched, never typed."""
    ident, _, seed = text.strip().partition(" ")
    person = ctx.require_person()
    draw_id = parse_id(ident.strip().lstrip("#"))
    draw = await ctx.session.get(Draw, draw_id) if draw_id is not None else None
    body = await draws.draw_body(ctx.session, ctx.settings, draw) if draw is not None else None
    source = dict(draw.record["seed_source"]) if draw is not None else {}
    lottery = source.get("kind") == seeds.LOTTERY
    if draw is None or body is None:
        raise ctx.refuse(_no_draw(ctx, ident))
    if not await _may_draw(ctx, body) and not (lottery and await _in_unit(ctx, body, person)):
        raise ctx.refuse(_no_draw(ctx, ident), audit="draw")
    seed = " ".join(seed.split())
    if not seed or len(seed) > 500:
        raise ctx.refuse(ctx.t("Send /draw seed {id} followed by the seed.", id=draw.id))
    if draw.status == draws.CANCELLED:
        raise ctx.refuse(ctx.t("Draw {id} was cancelled.", id=draw.id))
    if draw.status != "committed":
        raise ctx.refuse(ctx.t("Draw {id} is already done.", id=draw.id))
    if source.get("kind") == seeds.BEACON:
        raise ctx.refuse(
            ctx.t(
                "Draw {id} waits for round {round} of {chain}: the bot fetches it and checks "
                "its signature; nobody types it.",
                id=draw.id,
                round=source.get("round"),
                chain=source.get("name"),
            )
        )
    if ctx.now < draw.seed_due_at:
        tz = await _reader_tz(ctx)
        raise ctx.refuse(
            ctx.t(
                "The seed of draw {id} does not exist yet: {name} is drawn on {date}, and its "
                "result can be entered after {when}, {tz} time. Nothing was recorded.",
                id=draw.id,
                name=source.get("name") or "?",
                date=source.get("date") or "?",
                when=format_local(draw.seed_due_at, "iso_datetime", ctx.t.locale, tz=tz),
                tz=tz,
            )
        )
    group = await draws.group_of(ctx.session, draw)
    if lottery:
        try:
            seed = seeds.lottery_seed(source, seed)
        except seeds.SeedProblem as exc:
            raise ctx.refuse(exc.render(ctx.t)) from None
        refused = await _witness_problem(ctx, draw, body, person, seed)
        if refused:
            raise ctx.refuse(refused, audit="draw.witness")
        # A witness may correct their own entry; only another person's can agree.
        witnesses = [w for w in draw.witnesses or [] if w["person"] != person.id]
        agree = any(w["seed"] == seed for w in witnesses)
        witnesses = [*witnesses, {"person": person.id, "seed": seed}]
        await ctx.session.execute(
            update(Draw)
            .where(Draw.id.in_([d.id for d in group]))
            .values(witnesses=witnesses)
            .execution_options(synchronize_session=False)
        )
        if not agree:
            return Reply(
                ctx.t(
                    "Result noted for draw {id}, read as {seed}. A second witness must enter "
                    "the same result before the draw is made.",
                    id=draw.id,
                    seed=seed,
                ),
                private=True,
            )
    invitations = await complete_group(ctx.session, ctx.settings, draw, seed, ctx.now)
    if invitations is None:
        raise ctx.refuse(ctx.t("Draw {id} is already done.", id=draw.id))
    audit(ctx, "draw.drawn", draw=draw.id, index=draw.chosen_index)
    if draw.status == draws.TRIAL:
        return Reply(
            ctx.t(
                "TRIAL draw {id} made: panel {index}. Its seed was typed, not public, so "
                "nobody is invited.",
                id=draw.id,
                index=draw.chosen_index,
            )
        )
    if len(group) > 1:
        return Reply(
            ctx.t(
                "Drawn: the {draws} draws of this delegation. The {n} people selected have "
                "been invited.",
                draws=len(group),
                n=len(invitations),
            )
        )
    return Reply(
        ctx.t(
            "Drawn: panel {index}. The {n} people selected have been invited.",
            index=draw.chosen_index,
            n=len(invitations),
        )
    )


async def _witness_problem(
    ctx: Context, draw: Draw, body: draws.Body, person: Person, seed: str
) -> str | None:
    """Why ``person`` may not witness ``draw`` now: each witness a member of the
    unit drawn; two different people (linked accounts are one); not both staff."""
    if not await _in_unit(ctx, body, person):
        return ctx.t(
            "Witnesses of draw {id} are members of {unit}; you are not one.",
            id=draw.id,
            unit=body.name,
        )
    others = [w for w in draw.witnesses or [] if w["person"] != person.id]
    if any(w["person"] == person.id and w["seed"] == seed for w in draw.witnesses or []):
        return ctx.t(
            "You are already a witness of draw {id} (on this or a linked account): a second, "
            "different person must enter the result.",
            id=draw.id,
        )
    if others and await _is_staff(ctx, body, person.id):
        if all([await _is_staff(ctx, body, int(w["person"])) for w in others]):
            return ctx.t(
                "The witnesses of draw {id} may not both be organisers of {unit}: a member who "
                "is not one must enter the result.",
                id=draw.id,
                unit=body.name,
            )
    return None


async def _verify(ctx: Context, text: str) -> Reply:
    draw = await _draw_of(ctx, text)
    if draw.seed is None:
        return Reply(ctx.t("Draw {id} waits for its seed.", id=draw.id))
    published = await draws.published_hash(ctx.session, draw)
    if published is None:
        return Reply(
            ctx.t("Draw {id} does not check out: no record hash was published for it.", id=draw.id),
            error=True,
        )
    result = await asyncio.to_thread(verify, draw.record, draw.seed, published_hash=published)
    seed_problem = await asyncio.to_thread(_seed_problem, draw)
    if result.ok and seed_problem:
        return Reply(
            ctx.t("Draw {id} does not check out: {fields}.", id=draw.id, fields=seed_problem),
            error=True,
        )
    if result.ok and draw.status == draws.TRIAL:
        return Reply(
            ctx.t(
                "TRIAL draw {id}: panel {index}, selected {ids}; the record checks out, but the "
                "seed was typed by an organiser, so it proves nothing and nobody was invited.",
                id=draw.id,
                index=result.index,
                ids=", ".join(result.selected),
            )
        )
    if result.ok:
        source = draw.record["seed_source"]
        proved = (
            " "
            + ctx.t(
                "Its seed is the randomness of round {round} of {chain}, whose signature "
                "checks out against the chain's public key.",
                round=source.get("round"),
                chain=source.get("name"),
            )
            if source.get("kind") == seeds.BEACON and draw.round == 0
            else ""
        )
        return Reply(
            ctx.t(
                "Draw {id} checks out: panel {index}, selected {ids}.",
                id=draw.id,
                index=result.index,
                ids=", ".join(result.selected),
            )
            + proved
        )
    return Reply(
        ctx.t(
            "Draw {id} does not check out against the record hash published at commit "
            "({hash}): {fields}.",
            id=draw.id,
            hash=published[:16],
            fields=", ".join(result.fields),
        ),
        error=True,
    )


async def _cancel(ctx: Context, text: str) -> Reply:
    """``/draw cancel ID reason``: only before the seed can be known, announced
    to everyone in the body with its reason, and kept in the record's history."""
    ident, _, reason = text.strip().partition(" ")
    draw = await _draw_of(ctx, ident)
    reason = " ".join(reason.split())[:300]
    if draw.status != "committed":
        raise ctx.refuse(ctx.t("Draw {id} is not waiting for its seed.", id=draw.id))
    if not reason:
        raise ctx.refuse(
            ctx.t(
                "Send /draw cancel {id} followed by the reason: everyone it concerns is told.",
                id=draw.id,
            )
        )
    if draws.seed_may_be_known(draw, ctx.now):
        raise ctx.refuse(
            ctx.t(
                "Draw {id} can no longer be cancelled: its seed is due or being entered, "
                "and cancelling now could be choosing the panel.",
                id=draw.id,
            ),
            audit="draw.cancel",
        )
    done = await cancel(ctx.session, ctx.settings, draw, reason, ctx.now)
    for cancelled in done:
        audit(ctx, "draw.cancelled", draw=cancelled.id, reason=reason)
    return Reply(
        ctx.t(
            "Cancelled: draw {ids}. Everyone it concerns has been told why.",
            ids=", ".join(str(d.id) for d in done),
        )
    )


def _seed_problem(draw: Draw) -> str | None:
    """Is the seed the one its committed source gives? A beacon's: the stored
    round's signature verifies against the chain's key and the seed is its
    randomness. A lottery's: the seed is a result in the committed format."""
    source = dict(draw.record.get("seed_source") or {})
    if draw.round != 0 or draw.seed is None:
        return None
    if source.get("kind") == seeds.BEACON:
        proof = beacons.Proof.from_json(draw.seed_proof)
        return beacons.proof_problem(source, proof, draw.seed)
    if source.get("kind") == seeds.LOTTERY:
        try:
            canonical = seeds.lottery_seed(source, draw.seed)
        except seeds.SeedProblem:
            canonical = None
        if canonical != draw.seed:
            return "the seed is not a result in the committed lottery's format"
    return None


async def _visible(ctx: Context, ident: str) -> tuple[Draw, draws.Body]:
    """A committed draw the person may read: its body's own people and its staff."""
    person = ctx.require_person()
    draw_id = parse_id(ident.strip().lstrip("#"))
    draw = await ctx.session.get(Draw, draw_id) if draw_id is not None else None
    if draw is not None and draw.status == draws.PREVIEW:
        draw = None
    body = await draws.draw_body(ctx.session, ctx.settings, draw) if draw is not None else None
    inside = False
    if draw is not None and body is not None and person.branch_id is not None:
        inside = bool(
            await ctx.session.scalar(
                draws.branches_in(body.scope, body.scope_id).where(Branch.id == person.branch_id)
            )
        )
    if draw is None or body is None or not (inside or await _may_draw(ctx, body)):
        raise ctx.refuse(_no_draw(ctx, ident))
    return draw, body


async def _record(ctx: Context, text: str) -> Reply:
    """The published record, for the body's own people and its staff; with
    ``full``, the organisers' record that opens every entrant's features."""
    ident, _, rest = text.strip().partition(" ")
    draw, body = await _visible(ctx, ident)
    full = rest.strip().lower() == "full"
    if full and not await _may_draw(ctx, body):
        raise ctx.refuse(
            ctx.t(
                "Only the organisers of {body} may see the full record, with each "
                "entrant's features; /draw record {id} is the public one.",
                body=body.describe(ctx.t),
                id=draw.id,
            ),
            audit="draw.record-full",
        )
    if full:
        audit(ctx, "draw.record-full", draw=draw.id)
    return Reply(
        (ctx.t("TRIAL:") + " " if seeds.is_trial(draw.record["seed_source"]) else "")
        + ctx.t("The record of draw {id} (hash {hash}).", id=draw.id, hash=draw.record_hash),
        file=_record_file(draw, full=full),
        private=True,
    )


async def _receipt(ctx: Context, text: str) -> Reply:
    """An entrant's own receipt: their pseudonym and salt, to find and check
    their entry in the public record; only ever to themselves."""
    draw, _body = await _visible(ctx, text.strip().split(" ")[0] if text.strip() else "")
    person = ctx.require_person()
    pseudonym = await ctx.session.scalar(
        select(DrawEntrant.pseudonym).where(
            DrawEntrant.draw_id == draw.id, DrawEntrant.person_id == person.id
        )
    )
    opening = (draw.record.get("openings") or {}).get(pseudonym) if pseudonym else None
    if pseudonym is None or not isinstance(opening, dict):
        raise ctx.refuse(ctx.t("You are not in the pool of draw {id}.", id=draw.id))
    features = opening["features"]
    return Reply(
        ctx.t(
            "Your receipt for draw {id}, for you alone: you are {pseudonym}, with the salt "
            "{salt}, and your answers went in as {answers}. In the public record "
            "(/draw record {id}), the commitment of {pseudonym} is the SHA-256 of {text}: "
            "recompute it to check your entry.",
            id=draw.id,
            pseudonym=pseudonym,
            salt=opening["salt"],
            answers=", ".join(f"{k}: {v}" for k, v in sorted(features.items())),
            text=canonical({"features": features, "salt": opening["salt"]}).decode(),
        ),
        private=True,
    )


async def _invitation(ctx: Context, target: str) -> Invitation:
    person = ctx.require_person()
    invitation_id = parse_id(target)
    invitation = (
        await ctx.session.get(Invitation, invitation_id, with_for_update=True)
        if invitation_id
        else None
    )
    if invitation is None:
        raise ctx.stale()
    if invitation.person_id != person.id:
        raise Refusal(*ctx.stale().replies, audit="invitation")
    if invitation.status != INVITED:
        raise ctx.refuse(ctx.t("You have already answered this invitation."))
    if invitation.respond_by <= ctx.now:
        raise ctx.refuse(ctx.t("The time to answer has passed, so someone else has been drawn."))
    return invitation


@action(Action.INVITATION_ACCEPT)
async def accept(ctx: Context, target: str) -> Reply:
    invitation = await _invitation(ctx, target)
    draw = await ctx.session.get(Draw, invitation.draw_id)
    if draw is None:
        raise ctx.stale()
    invitation.status = ACCEPTED
    invitation.answered_at = ctx.now
    ctx.session.add(
        CouncilSeat(
            body=draw.body,
            scope=draw.scope,
            scope_id=draw.scope_id,
            person_id=invitation.person_id,
            draw_id=draw.id,
            since=ctx.now,
        )
    )
    audit(ctx, "invitation.accepted", draw=draw.id)
    body = await draws.draw_body(ctx.session, ctx.settings, draw)
    if body is None:
        raise ctx.stale()
    root = await draws.root_of(ctx.session, draw)
    family = select(Draw.id).where((Draw.id == root.id) | (Draw.parent_id == root.id))
    await ctx.session.flush()
    seated = await ctx.session.scalar(
        select(func.count(Invitation.id)).where(
            Invitation.draw_id.in_(family), Invitation.status == ACCEPTED
        )
    )
    person = ctx.require_person()
    name = person.display_name
    await notify(
        ctx,
        draws.staff_of(body),
        f"accepted:{invitation.id}",
        lambda t: t(
            "{name} accepted a place on {body} (draw {id}): {seated} of {seats} places taken.",
            name=name,
            body=body.describe(t),
            id=root.id,
            seated=seated,
            seats=root.seats,
        ),
        about=person,
    )
    if body.kind in draws.DELEGATIONS:
        done = ctx.t("Thank you: you are a delegate.")
    else:
        done = ctx.t("Thank you: you are on the council.")
    return Reply(
        done
        + " "
        + ctx.t(
            "The organisers will tell you when it first meets; /meetings lists what is "
            "coming, /council who sits with you."
        ),
        edit=True,
    )


@command("council", N_("who sits on your councils and delegations"), private=True)
async def council(ctx: Context) -> Reply:
    """The rosters a member of a branch may see: their branch's council and
    delegates, their region's council and delegates, the national council."""
    person = ctx.require_person()
    branch = await ctx.session.get(Branch, person.branch_id) if person.branch_id else None
    if branch is None:
        return Reply(ctx.t("You are in no branch yet: /join one first."), private=True)
    since = ctx.now - dt.timedelta(days=30 * ctx.settings.sortition_rotation_months)
    bodies = [
        (draws.COUNCIL, SCOPE_BRANCH, branch.id),
        (draws.TO_REGION, SCOPE_BRANCH, branch.id),
    ]
    if branch.region_id is not None and branch.status == AFFILIATED:
        bodies += [
            (draws.REGION_COUNCIL, SCOPE_REGION, branch.region_id),
            (draws.TO_NATIONAL, SCOPE_REGION, branch.region_id),
        ]
    if branch.status == AFFILIATED:
        bodies.append((draws.NATIONAL_COUNCIL, SCOPE_NATIONAL, NATIONAL_SCOPE_ID))
    lines = []
    for kind, scope, scope_id in bodies:
        body = await draws.body_of(ctx.session, ctx.settings, kind, scope, scope_id)
        names = list(
            await ctx.session.scalars(
                select(Person.display_name)
                .join(CouncilSeat, CouncilSeat.person_id == Person.id)
                .where(
                    CouncilSeat.body == kind,
                    CouncilSeat.scope == scope,
                    CouncilSeat.scope_id == scope_id,
                    CouncilSeat.since > since,
                )
                .order_by(Person.display_name)
            )
        )
        if body is not None and names:
            described = body.describe(ctx.t)
            lines.append(f"{described[:1].upper()}{described[1:]}: {', '.join(names)}")
    if not lines:
        return Reply(ctx.t("Nobody has been drawn for your councils yet."), private=True)
    return Reply("\n".join(lines), private=True)


@action(Action.INVITATION_DECLINE)
async def decline(ctx: Context, target: str) -> Reply:
    invitation = await _invitation(ctx, target)
    invitation.status = DECLINED
    invitation.answered_at = ctx.now
    await ctx.session.flush()
    await replace(ctx.session, ctx.settings, invitation, ctx.now)
    return Reply(
        ctx.t("Thank you for answering: someone else will be drawn in your place."),
        edit=True,
    )
