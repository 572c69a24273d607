"""/affiliate: the admins of its regions sign an active branch up to the party
structure, in a region.
"""

from __future__ import annotations

from bot.branches.formation import affiliated
from bot.branches.queries import first_regions, progress, region_called, search
from bot.branches.texts import affiliation_missing
from bot.kernel.context import Context
from bot.kernel.i18n import N_
from bot.kernel.messages import Reply
from bot.kernel.permissions import holds_at_region, holds_nationally
from bot.kernel.registry import Param, command
from storage.models import Branch, Region
from storage.vocabulary import ADMIN, AFFILIATED, SCOPE_REGION


@command(
    "affiliate",
    N_("sign an active branch up to the party structure"),
    usage=N_("<branch> [to <region>]"),
    roles=(ADMIN,),
    params=(
        Param.branch(N_("the branch"), required=True),
        Param.text("region", N_("the region (default: its own)"), prefix="to "),
    ),
)
async def affiliate(ctx: Context) -> Reply:
    ctx.require_person()
    text = ctx.request.args
    branch_name, _, region_name = text.rpartition(" to ") if " to " in text else (text, "", "")
    if not branch_name.strip():
        raise ctx.refuse(ctx.t("Usage: /affiliate <branch> [to <region>]"))
    exact, _found = await search(ctx, branch_name.strip())
    if exact is None:
        raise ctx.refuse(ctx.t("There is no branch called {name}.", name=branch_name.strip()[:40]))
    branch = exact
    grants = await ctx.grants()
    region = await _pick_region(ctx, branch, region_name.strip())
    # Admins of both the region it joins and the region it is in: no region's admin
    # can take another region's branch (and its members' data). A branch in no
    # region is put in one by a national admin only.
    if branch.region_id is None and not holds_nationally(grants, ADMIN):
        raise ctx.refuse(
            ctx.t(
                "The {branch} branch is in no region yet: only a national admin can put it in one.",
                branch=branch.name,
            ),
            audit="affiliate",
        )
    in_region = branch.region_id is None or holds_at_region(grants, ADMIN, branch.region_id)
    if not (holds_at_region(grants, ADMIN, region.id) and in_region):
        raise ctx.refuse(
            ctx.t(
                "Only admins of the {region} region or the national party can do that.",
                region=region.name,
            ),
            audit="affiliate",
        )
    await ctx.session.refresh(branch, with_for_update=True)  # one step, however many asks
    if branch.status == AFFILIATED:
        raise ctx.refuse(ctx.t("The {branch} branch is already affiliated.", branch=branch.name))
    missing = affiliation_missing(ctx.t, ctx.settings, branch, await progress(ctx, branch))
    if missing:
        raise ctx.refuse(missing)
    await affiliated(ctx, branch, region)
    return Reply(
        ctx.t(
            "The {branch} branch is now affiliated, in the {region} region.",
            branch=branch.name,
            region=region.name,
        )
    )


async def _pick_region(ctx: Context, branch: Branch, name: str) -> Region:
    if name:
        region = await region_called(ctx.session, name)
        if region is None:
            raise ctx.refuse(ctx.t("There is no region called {name}.", name=name[:40]))
        return region
    if branch.region_id is not None:
        region = await ctx.session.get(Region, branch.region_id)
        if region is not None:
            return region
    grants = await ctx.grants()
    mine = [g.scope_id for g in grants if g.role == ADMIN and g.scope == SCOPE_REGION]
    if len(mine) == 1:
        region = await ctx.session.get(Region, mine[0])
        if region is not None:
            return region
    regions = await first_regions(ctx.session, 2)
    if len(regions) == 1:
        return regions[0]
    raise ctx.refuse(
        ctx.t("Which region? Send /affiliate {branch} to <region>", branch=branch.name)
    )
