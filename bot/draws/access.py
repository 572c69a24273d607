"""Who may act on a committed draw, and the one refusal for a draw that is not
there or not theirs: shared by /draw, /draw seed and the record's commands.
"""

from __future__ import annotations

from bot.draws import queries, rules
from bot.draws.bodies import Body
from bot.kernel.context import Context, parse_id
from bot.kernel.permissions import holds_at_branch, holds_at_region, holds_nationally
from storage.models import Branch, Draw, Person
from storage.vocabulary import ORGANISER, SCOPE_BRANCH, SCOPE_REGION


async def may_draw(ctx: Context, body: Body) -> bool:
    """Does the person hold the organiser's role over the body's unit?"""
    grants = await ctx.grants()
    if body.scope == SCOPE_BRANCH:
        branch = await ctx.session.get(Branch, body.scope_id)
        return branch is not None and holds_at_branch(grants, ORGANISER, branch)
    if body.scope == SCOPE_REGION:
        return holds_at_region(grants, ORGANISER, body.scope_id)
    return holds_nationally(grants, ORGANISER)


def no_such_draw(ctx: Context, ident: str) -> str:
    """The refusal for a draw that is not there (or not theirs), or not named at all."""
    if not ident.strip():
        return ctx.t("Which draw? Give its number, for example: /draw record 1")
    return ctx.t("There is no draw {id}.", id=ident.strip()[:12])


async def in_body(ctx: Context, body: Body, person: Person) -> bool:
    """Is ``person``'s branch one of the body's own (its branch, region or the party)?"""
    if person.branch_id is None:
        return False
    return bool(
        await ctx.session.scalar(
            queries.branches_in(body.scope, body.scope_id).where(Branch.id == person.branch_id)
        )
    )


async def committed_draw(ctx: Context, ident: str) -> tuple[Draw | None, Body | None]:
    """The draw ``ident`` names and its body, or None for a preview (nobody's draw
    yet), a draw that is not there, or one whose body is gone."""
    draw_id = parse_id(ident.strip().lstrip("#"))
    draw = await ctx.session.get(Draw, draw_id) if draw_id is not None else None
    if draw is not None and draw.status == rules.PREVIEW:
        draw = None
    body = await queries.draw_body(ctx.session, ctx.settings, draw) if draw is not None else None
    return draw, body


async def draw_named(ctx: Context, text: str) -> Draw:
    """The committed draw ``text`` names, if the person organises its body; else the refusal."""
    draw, body = await committed_draw(ctx, text)
    if draw is None or body is None:
        raise ctx.refuse(no_such_draw(ctx, text))
    if not await may_draw(ctx, body):
        raise ctx.refuse(no_such_draw(ctx, text), audit="draw")
    return draw
