"""Who may open an assembly for which area (a branch's organisers for their
branch, a region's organisers and admins for their region, national staff for
the party), who runs it (the organisers of its level, and staff above it), the
one refusal for an assembly that is not there or not theirs, and who may
witness its seed: shared by the /assembly handlers."""

from __future__ import annotations

from dataclasses import dataclass

from bot.assemblies import queries
from bot.assemblies.invitations import body_of
from bot.assemblies.rules import AreaAsked, outside, postcodes_of
from bot.branches.queries import region_meant
from bot.draws.access import in_body, may_draw
from bot.draws.draw_plan import staff_branch
from bot.draws.queries import grants_of
from bot.kernel.context import Context, parse_id
from bot.kernel.permissions import holds_at_branch, holds_at_region, holds_nationally
from storage.models import Assembly, AssemblyDraw, Branch, Person
from storage.vocabulary import (
    NATIONAL_SCOPE_ID,
    ORGANISER,
    SCOPE_BRANCH,
    SCOPE_NATIONAL,
    SCOPE_REGION,
)


@dataclass(frozen=True, slots=True)
class Opening:
    """Where an assembly is opened: its level, the unit's id, the time zone its
    dates are read in, and its area (the postcode prefixes residents live in)."""

    scope: str
    scope_id: int
    timezone: str
    area: str


async def organised_branch(ctx: Context) -> Branch:
    """The branch the person organises (an assembly is opened for its area)."""
    return await staff_branch(ctx, "assembly")


async def opening(ctx: Context, asked: AreaAsked) -> Opening:
    """Where ``asked`` opens an assembly, if the person may open one there; else
    the refusal (audited)."""
    if asked.level == SCOPE_BRANCH:
        branch = await organised_branch(ctx)
        return Opening(SCOPE_BRANCH, branch.id, branch.timezone, ", ".join(asked.prefixes))
    person = ctx.require_person()
    grants = await ctx.grants()
    home = await ctx.session.get(Branch, person.branch_id) if person.branch_id else None
    if asked.level == SCOPE_NATIONAL:
        if not holds_nationally(grants, ORGANISER):
            raise ctx.refuse(
                ctx.t(
                    "Only the party's national organisers and admins can open a national assembly."
                ),
                audit="assembly",
            )
        timezone = ctx.settings.default_timezone
        return Opening(SCOPE_NATIONAL, NATIONAL_SCOPE_ID, timezone, ", ".join(asked.prefixes))
    region = await region_meant(ctx.session, asked.region, home, grants)
    if region is None or not holds_at_region(grants, ORGANISER, region.id):
        raise ctx.refuse(
            ctx.t(
                "Only a region's organisers and admins (or national staff) can open an assembly "
                "for it; name it with region=NAME if you are in no branch there."
            ),
            audit="assembly",
        )
    covering = postcodes_of(await queries.region_areas(ctx.session, region))
    if not covering:
        raise ctx.refuse(
            ctx.t(
                "The {region} region's area names no postcode prefixes yet: add them with "
                "/region areas, or open a national assembly for a list of prefixes.",
                region=region.name,
            )
        )
    beyond = outside(asked.prefixes, covering)
    if beyond:
        raise ctx.refuse(
            ctx.t(
                "{prefixes} are not in the {region} region's area ({area}): an assembly for "
                "them is opened by their region or nationally.",
                prefixes=", ".join(beyond),
                region=region.name,
                area=", ".join(covering),
            )
        )
    in_region = home is not None and home.region_id == region.id
    timezone = home.timezone if home is not None and in_region else ctx.settings.default_timezone
    return Opening(SCOPE_REGION, region.id, timezone, ", ".join(asked.prefixes or covering))


async def manages(ctx: Context) -> list[Assembly]:
    """The assemblies the person runs (those of every level they organise)."""
    return [a for a in await queries.every_assembly(ctx.session) if await may_draw(ctx, body_of(a))]


async def assembly_named(
    ctx: Context, ident: str, *, stale: bool = False, witness: bool = False
) -> Assembly:
    """The assembly ``ident`` names, if the person organises it (or, ``witness``,
    is a member of its branch); else a refusal that says the same whether it is
    not there or not theirs (audited when not theirs)."""
    assembly_id = parse_id(ident.strip().lstrip("#"))
    assembly = await ctx.session.get(Assembly, assembly_id) if assembly_id else None
    nothing = (
        ctx.stale()
        if stale
        else ctx.refuse(ctx.t("There is no assembly {id}.", id=ident.strip()[:12] or "?"))
    )
    if assembly is None:
        raise nothing
    if await may_draw(ctx, body_of(assembly)):
        return assembly
    if witness and ctx.person is not None and await in_body(ctx, body_of(assembly), ctx.person):
        return assembly
    nothing.audit = "assembly"
    raise nothing


async def _organises(ctx: Context, assembly: Assembly, person_id: int) -> bool:
    """Does the person organise the assembly's level (its branch, region or the party)?"""
    grants = await grants_of(ctx.session, person_id)
    if assembly.scope == SCOPE_REGION:
        return holds_at_region(grants, ORGANISER, assembly.scope_id)
    if assembly.scope == SCOPE_NATIONAL:
        return holds_nationally(grants, ORGANISER)
    branch = await ctx.session.get(Branch, assembly.scope_id)
    return branch is not None and holds_at_branch(grants, ORGANISER, branch)


async def witness_problem(
    ctx: Context, assembly: Assembly, draw: AssemblyDraw, person: Person, seed: str
) -> str | None:
    """Why ``person`` may not witness the seed: witnesses are members of the
    branch (of a region's branches, of the party), two different people, and not
    both its organisers."""
    if not await in_body(ctx, body_of(assembly), person):
        if assembly.scope == SCOPE_BRANCH:
            return ctx.t(
                "Witnesses of {title}'s draw are members of its branch.", title=assembly.title
            )
        if assembly.scope == SCOPE_REGION:
            return ctx.t(
                "Witnesses of {title}'s draw are members of a branch in its region.",
                title=assembly.title,
            )
        return ctx.t("Witnesses of {title}'s draw are members of the party.", title=assembly.title)
    if any(w["person"] == person.id and w["seed"] == seed for w in draw.witnesses or []):
        return ctx.t(
            "You are already a witness of this draw: a second, different person must enter "
            "the result."
        )
    others = [w for w in draw.witnesses or [] if w["person"] != person.id]
    if others and await _organises(ctx, assembly, person.id):
        if all([await _organises(ctx, assembly, int(w["person"])) for w in others]):
            return ctx.t(
                "The witnesses may not both be organisers: a member who is not one must "
                "enter the result."
            )
    return None
