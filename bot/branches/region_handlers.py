"""/region: national admins create the party's regions, say which places each
covers, and place proposed branches that no region's area matched."""

from __future__ import annotations

from bot.branches.queries import (
    branches_by_region,
    branches_in,
    branches_waiting,
    end_region_roles,
    region_named,
    region_with_slug,
    regions_by_name,
    remove_region,
    search,
)
from bot.branches.regions import place_waiting_branches
from bot.branches.rules import clean_area, clean_region_name, slugify
from bot.kernel.context import Context
from bot.kernel.effects import audit
from bot.kernel.i18n import N_
from bot.kernel.messages import Reply
from bot.kernel.permissions import holds_nationally
from bot.kernel.registry import command
from storage.models import Region
from storage.vocabulary import ADMIN

USAGE = N_(
    "Usage:\n"
    "/region - the regions, the places they cover, and branches waiting for a region\n"
    "/region add <name>\n"
    "/region rename <name>: <new name>\n"
    "/region areas <name>: <places and postcode prefixes, separated by commas>\n"
    "/region assign <branch>: <region>\n"
    "/region remove <name>"
)


@command(
    "region",
    N_("create and edit the party's regions (national admins)"),
    usage=N_("[add|rename|areas|assign|remove] ..."),
    roles=(ADMIN,),
)
async def region(ctx: Context) -> Reply:
    ctx.require_person()
    if not holds_nationally(await ctx.grants(), ADMIN):
        raise ctx.refuse(ctx.t("Only the party's national admins can do that."), audit="region")
    verb, _, rest = ctx.request.args.strip().partition(" ")
    verb, rest = verb.lower(), rest.strip()
    if verb in ("", "list"):
        return await _list(ctx)
    name, colon, value = rest.partition(":")
    name, value = name.strip(), value.strip()
    if verb == "add" and rest:
        return await _add(ctx, rest)
    if verb == "remove" and rest:
        return await _remove(ctx, await _find(ctx, rest))
    if colon and name and value:
        if verb == "rename":
            return await _rename(ctx, await _find(ctx, name), value)
        if verb == "areas":
            return await _areas(ctx, await _find(ctx, name), value)
        if verb == "assign":
            return await _assign(ctx, name, await _find(ctx, value))
    raise ctx.refuse(ctx.t(USAGE))


async def _find(ctx: Context, name: str) -> Region:
    found = await region_named(ctx.session, name)
    if found is None:
        raise ctx.refuse(
            ctx.t("There is no region called {name}. Send /region to see them.", name=name[:40])
        )
    return found


def _clean_name(ctx: Context, text: str) -> str:
    name = clean_region_name(text)
    if name is None or not slugify(name):
        raise ctx.refuse(
            ctx.t("A region's name is up to 80 letters, digits and spaces, e.g. South West.")
        )
    return name


async def _name_free(ctx: Context, name: str, but: Region | None = None) -> None:
    taken = await region_with_slug(ctx.session, slugify(name))
    if taken is not None and taken is not but:
        raise ctx.refuse(ctx.t("There is already a region called {name}.", name=taken.name))


async def _list(ctx: Context) -> Reply:
    regions = await regions_by_name(ctx.session)
    counts = await branches_by_region(ctx.session)
    lines = [ctx.t("Regions:")] if regions else [ctx.t("There are no regions yet.")]
    for r in regions:
        lines.append(
            ctx.t(
                "- {name}: covers {area}; {count} branches",
                name=r.name,
                area=r.area or ctx.t("no places yet"),
                count=counts.get(r.id, 0),
            )
        )
    waiting = await branches_waiting(ctx.session, limit=30)
    if waiting:
        lines.append(
            ctx.t(
                "Branches waiting for a region (/region assign <branch>: <region>): {names}",
                names=", ".join(b.name for b in waiting),
            )
        )
    lines.append(ctx.t(USAGE))
    return Reply("\n".join(lines))


async def _add(ctx: Context, text: str) -> Reply:
    name = _clean_name(ctx, text)
    await _name_free(ctx, name)
    created = Region(name=name, slug=slugify(name), area="", created_at=ctx.now)
    ctx.session.add(created)
    await ctx.session.flush()
    audit(ctx, "region.created", region=created.id, name=name)
    return Reply(
        ctx.t(
            "The {name} region is created. Say which places it covers: "
            "/region areas {name}: Somerset, Frome, BA",
            name=name,
        )
    )


async def _rename(ctx: Context, target: Region, text: str) -> Reply:
    name = _clean_name(ctx, text)
    await _name_free(ctx, name, but=target)
    old = target.name
    target.name, target.slug = name, slugify(name)
    audit(ctx, "region.renamed", region=target.id, before=old, after=name)
    return Reply(ctx.t("The {old} region is now called {name}.", old=old, name=name))


async def _areas(ctx: Context, target: Region, text: str) -> Reply:
    area = clean_area(text)
    if area is None:
        raise ctx.refuse(
            ctx.t(
                "Give the places and postcode prefixes it covers, separated by commas, "
                "e.g. /region areas {name}: Somerset, Frome, BA, BS",
                name=target.name,
            )
        )
    before = target.area
    target.area = area
    audit(ctx, "region.areas", region=target.id, before=before, after=area)
    placed = await place_waiting_branches(ctx.session, target)
    for b in placed:
        audit(ctx, "branch.placed", branch=b, region=target.id)
    text_ = ctx.t("The {name} region covers: {area}.", name=target.name, area=area)
    if placed:
        text_ += " " + ctx.t(
            "Placed in it: {names}.", names=", ".join(sorted(b.name for b in placed))
        )
    return Reply(text_)


async def _assign(ctx: Context, branch_name: str, target: Region) -> Reply:
    exact, _ = await search(ctx, branch_name)
    if exact is None:
        raise ctx.refuse(ctx.t("There is no branch called {name}.", name=branch_name[:40]))
    if exact.region_id == target.id:
        return Reply(
            ctx.t(
                "The {branch} branch is already in {region}.", branch=exact.name, region=target.name
            )
        )
    before = exact.region_id
    exact.region_id = target.id
    audit(ctx, "branch.placed", branch=exact, region=target.id, before=before)
    return Reply(
        ctx.t(
            "The {branch} branch is now in the {region} region.",
            branch=exact.name,
            region=target.name,
        )
    )


async def _remove(ctx: Context, target: Region) -> Reply:
    if await branches_in(ctx.session, target):
        raise ctx.refuse(
            ctx.t(
                "The {name} region still has branches; assign them to another region first.",
                name=target.name,
            )
        )
    # Roles held over the region end with it.
    await end_region_roles(ctx.session, target)
    ctx.forget_grants()
    await remove_region(ctx.session, target)
    audit(ctx, "region.removed", region=target.id, name=target.name)
    return Reply(ctx.t("The {name} region is removed.", name=target.name))
