"""What a /draw asks for, read from its words: the body or sending units, the
seats, the time to answer, the quotas and the seed source, and who may ask.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select

from bot.branches.handlers import require_staff
from bot.branches.queries import region_meant
from bot.draws import queries, rules
from bot.draws.bodies import Body
from bot.draws.profile_handlers import PREFER_NOT, categories
from bot.kernel.context import Context
from bot.kernel.i18n import N_
from bot.kernel.permissions import holds_at_region, holds_nationally
from bot.lib.sortition import beacons, seeds
from bot.lib.sortition.encoding import parse_seed_source
from bot.lib.sortition.model import Quota, SortitionError
from storage.models import Branch, Region
from storage.vocabulary import (
    AFFILIATED,
    NATIONAL_SCOPE_ID,
    ORGANISER,
    SCOPE_BRANCH,
    SCOPE_NATIONAL,
    SCOPE_REGION,
)

DRAW_USAGE = N_(
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


async def staff_branch(ctx: Context, what: str) -> Branch:
    person = ctx.require_person()
    branch = await ctx.session.get(Branch, person.branch_id) if person.branch_id else None
    if branch is None:
        raise ctx.refuse(
            ctx.t("You are in no branch, so there is no council to draw for."), audit=what
        )
    await require_staff(ctx, branch, (ORGANISER,), what)
    return branch


async def _region(ctx: Context, slug: str) -> Region:
    """The region named by ``slug``, else the one the person organises or lives in;
    only for its organisers (or national staff)."""
    person = ctx.require_person()
    grants = await ctx.grants()
    home = await ctx.session.get(Branch, person.branch_id) if person.branch_id else None
    region = await region_meant(ctx.session, slug, home, grants)
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


def read_plan(ctx: Context, words: list[str]) -> Plan:
    """The body, seats, options and seed source, or a refusal that says what is wrong."""
    kind, place = rules.COUNCIL, ""
    head, _, place = words[0].lower().partition("=") if words else ("", "", "")
    if head in ("council", "region", "national", "delegates"):
        kind = {
            "council": rules.COUNCIL,
            "region": rules.REGION_COUNCIL,
            "national": rules.NATIONAL_COUNCIL,
            "delegates": rules.TO_REGION,
        }[head]
        words = words[1:]
        if kind == rules.TO_REGION and words and words[0].lower() == "national":
            kind, words = rules.TO_NATIONAL, words[1:]
    else:
        place = ""
    if kind != rules.COUNCIL and not words:
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
    if plan.quotas and kind in rules.DELEGATIONS:
        raise ctx.refuse(
            ctx.t(
                "A delegation's quotas follow each branch's own pool; set quotas only for a "
                "council."
            )
        )
    plan.source_text = " ".join(rest)
    return plan


def read_seed_source(ctx: Context, text: str, bodies: list[Body]) -> dict[str, Any]:
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


async def plan_bodies(ctx: Context, plan: Plan) -> list[Body]:
    """The body to draw for (a council), or one per sending unit (a delegation),
    after checking the person may."""
    settings, session = ctx.settings, ctx.session
    if plan.kind == rules.COUNCIL:
        branch = await staff_branch(ctx, "draw")
        body = await queries.body_of(session, settings, plan.kind, SCOPE_BRANCH, branch.id)
        return [body] if body else []
    if plan.kind in (rules.REGION_COUNCIL, rules.TO_REGION):
        region = await _region(ctx, plan.place)
        if plan.kind == rules.REGION_COUNCIL:
            body = await queries.body_of(session, settings, plan.kind, SCOPE_REGION, region.id)
            return [body] if body else []
        units = await session.scalars(
            queries.branches_in(SCOPE_REGION, region.id).order_by(Branch.id)
        )
        found = [
            await queries.body_of(session, settings, plan.kind, SCOPE_BRANCH, u) for u in units
        ]
        return [b for b in found if b is not None]
    await _national(ctx)
    if plan.kind == rules.NATIONAL_COUNCIL:
        body = await queries.body_of(
            session, settings, plan.kind, SCOPE_NATIONAL, NATIONAL_SCOPE_ID
        )
        return [body] if body else []
    regions = await session.scalars(
        select(Region.id)
        .where(Region.id.in_(select(Branch.region_id).where(Branch.status == AFFILIATED)))
        .order_by(Region.id)
    )
    found = [await queries.body_of(session, settings, plan.kind, SCOPE_REGION, r) for r in regions]
    return [b for b in found if b is not None]


def custom_quotas(
    quotas: list[Quota], custom: dict[tuple[str, str], tuple[int, int]]
) -> list[Quota]:
    return [
        Quota(q.category, q.value, *custom[(q.category, q.value)])
        if (q.category, q.value) in custom
        else q
        for q in quotas
    ]
