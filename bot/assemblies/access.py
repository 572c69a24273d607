"""Who may run an assembly (the organisers of its branch, and staff above it),
the one refusal for an assembly that is not there or not theirs, and who may
witness its seed: shared by the /assembly handlers."""

from __future__ import annotations

from bot.assemblies.invitations import body_of
from bot.draws.access import in_body, may_draw
from bot.draws.draw_plan import staff_branch
from bot.draws.queries import grants_of
from bot.kernel.context import Context, parse_id
from bot.kernel.permissions import holds_at_branch
from storage.models import Assembly, AssemblyDraw, Branch, Person
from storage.vocabulary import ORGANISER


async def organised_branch(ctx: Context) -> Branch:
    """The branch the person organises (an assembly is opened for its area)."""
    return await staff_branch(ctx, "assembly")


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
    branch = await ctx.session.get(Branch, assembly.scope_id)
    grants = await grants_of(ctx.session, person_id)
    return branch is not None and holds_at_branch(grants, ORGANISER, branch)


async def witness_problem(
    ctx: Context, assembly: Assembly, draw: AssemblyDraw, person: Person, seed: str
) -> str | None:
    """Why ``person`` may not witness the seed: witnesses are members of the
    branch, two different people, and not both its organisers."""
    if not await in_body(ctx, body_of(assembly), person):
        return ctx.t("Witnesses of {title}'s draw are members of its branch.", title=assembly.title)
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
