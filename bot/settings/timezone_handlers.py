"""/timezone: the time zone a person reads times in.

/timezone            theirs (or their branch's) and how to change it
/timezone CITY       keep that city's zone (by its name in their language or in
                     English, or the zone's name); several or none: suggestions
/timezone reset      their branch's again

Times are then shown in their zone, named, wherever it differs from the branch's
(``bot.kernel.i18n.format_local`` given their translator).
"""

from __future__ import annotations

from bot.kernel.actions import Action
from bot.kernel.context import Context
from bot.kernel.i18n import N_
from bot.kernel.messages import Reply
from bot.kernel.registry import Param, action, command
from bot.lib.zones import find_zone, zones
from bot.settings import texts
from storage.models import Branch, Person

RESET = "reset"


@command(
    "timezone",
    N_("the time zone you read times in"),
    usage=N_("[city|reset]"),
    params=(Param.text("city", N_("a city, or reset for your branch's time zone")),),
    longest=80,
)
async def timezone_command(ctx: Context) -> Reply:
    person = ctx.require_person()
    typed = " ".join(ctx.request.args.split())
    if not typed:
        own = person.timezone if person.timezone in zones() else None
        return Reply(texts.zone_screen(ctx.t, own, await _branch_zone(ctx, person), ctx.now))
    if typed.casefold() == RESET:
        return await _keep(ctx, person, None, edit=False)
    found = find_zone(typed, ctx.t.locale)
    if found.zone is None:
        return Reply(
            texts.zone_unknown(ctx.t, typed, bool(found.suggestions)),
            buttons=texts.zone_buttons(ctx.t, found.suggestions),
            error=True,
        )
    return await _keep(ctx, person, found.zone, edit=False)


@action(Action.TIMEZONE)
async def timezone_pressed(ctx: Context, target: str) -> Reply:
    person = ctx.require_person()
    if target != RESET and target not in zones():
        raise ctx.stale()
    return await _keep(ctx, person, None if target == RESET else target, edit=True)


async def _keep(ctx: Context, person: Person, zone: str | None, *, edit: bool) -> Reply:
    person.timezone = zone
    if zone is None:
        return Reply(texts.zone_reset(ctx.t, await _branch_zone(ctx, person)), edit=edit)
    return Reply(texts.zone_set(ctx.t, zone, ctx.now), edit=edit)


async def _branch_zone(ctx: Context, person: Person) -> str:
    branch = await ctx.session.get(Branch, person.branch_id) if person.branch_id else None
    return branch.timezone if branch else ctx.settings.default_timezone
