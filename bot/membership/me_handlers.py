"""/me: a person's short id, branch, membership and roles."""

from __future__ import annotations

from bot.branches.texts import role_label, status_label
from bot.kernel.context import Context
from bot.kernel.i18n import N_, format_local
from bot.kernel.messages import Reply
from bot.kernel.permissions import is_member
from bot.kernel.registry import command
from bot.membership.queries import place_name
from bot.membership.texts import scope_phrase
from storage.models import Branch, RoleGrant


@command("me", N_("your branch, membership and roles"), private=True, params=())
async def me(ctx: Context) -> Reply:
    person = ctx.require_person()
    branch = await ctx.session.get(Branch, person.branch_id) if person.branch_id else None
    tz = branch.timezone if branch else ctx.settings.default_timezone
    lines = [
        ctx.t(
            "{name}, your short id is {short_id}.",
            name=person.display_name,
            short_id=person.short_id,
        )
    ]
    if branch is None:
        lines.append(ctx.t("Branch: none yet (send /join)."))
    else:
        lines.append(
            ctx.t(
                "Branch: {branch} ({status}).",
                branch=branch.name,
                status=status_label(ctx.t, branch.status),
            )
        )
    paid_until = person.dues_paid_until
    if paid_until is not None and is_member(person, ctx.now, tz):
        lines.append(
            ctx.t(
                "Member: dues paid until {date}.",
                date=format_local(paid_until, "iso_date", ctx.t.locale),
            )
        )
    elif paid_until is not None:
        lines.append(
            ctx.t(
                "Supporter: your dues ran out on {date}; you can vote again once they are paid.",
                date=format_local(paid_until, "iso_date", ctx.t.locale),
            )
        )
    else:
        lines.append(ctx.t("Supporter: you can canvass and come to meetings."))
    grants = await ctx.grants()
    for g in grants:
        lines.append(
            ctx.t(
                "Role: {role} of {scope}.",
                role=role_label(ctx.t, g.role),
                scope=await scope_name(ctx, g),
            )
        )
    return Reply("\n".join(lines))


async def scope_name(ctx: Context, grant: RoleGrant) -> str:
    return scope_phrase(ctx.t, grant.scope, await place_name(ctx, grant.scope, grant.scope_id))
