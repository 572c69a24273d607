"""/promote and /demote: who may give or take which role, at a branch, a region
or nationally; the change, audited, told to the person, with an Undo button.
"""

from __future__ import annotations

from bot.branches.formation import maybe_forming
from bot.branches.handlers import target_person
from bot.branches.queries import end_grant, grant_of, national_admin_count
from bot.branches.recipients import only
from bot.branches.texts import role_label
from bot.kernel.context import Context
from bot.kernel.effects import audit, notify
from bot.kernel.i18n import N_
from bot.kernel.messages import Reply
from bot.kernel.permissions import holds_at_branch, holds_at_region, holds_nationally
from bot.kernel.registry import Param, command
from bot.membership.queries import place_name
from bot.membership.texts import scope_phrase
from storage.models import Branch, Person, RoleGrant
from storage.vocabulary import (
    ADMIN,
    NATIONAL_SCOPE_ID,
    ORGANISER,
    ROLES,
    SCOPE_BRANCH,
    SCOPE_NATIONAL,
    SCOPE_REGION,
    TREASURER,
)

# /promote and /demote: someone, a role from the vocabulary, and where.
ROLE_PARAMS = (
    Param.person(),
    Param.choice("role", N_("which role"), ROLES, required=True),
    Param.choice(
        "level",
        N_("where (default: their branch)"),
        (SCOPE_BRANCH, SCOPE_REGION, SCOPE_NATIONAL),
    ),
)


def _parse_role_args(ctx: Context, name: str) -> tuple[str, str, str]:
    words = ctx.request.args.split()
    if len(words) not in (2, 3) or words[1].lower() not in ROLES:
        hint = ctx.t("<person> <role> [where]")
        raise ctx.refuse(
            ctx.t(
                "Usage: {usage}. Roles: organiser, treasurer, admin. Where: branch (the "
                "default), region or national.",
                usage=f"/{name} {hint}",
            )
        )
    scope = words[2].lower() if len(words) == 3 else SCOPE_BRANCH
    if scope not in (SCOPE_BRANCH, SCOPE_REGION, SCOPE_NATIONAL):
        raise ctx.refuse(ctx.t("Where must be branch, region or national."))
    return words[0], words[1].lower(), scope


def _scope_id(ctx: Context, scope: str, branch: Branch | None) -> int:
    """The id of the scope a grant is made at, from the person's branch."""
    if scope == SCOPE_BRANCH:
        if branch is None:
            raise ctx.refuse(ctx.t("They are not in a branch yet."))
        return branch.id
    if scope == SCOPE_REGION:
        if branch is None or branch.region_id is None:
            raise ctx.refuse(ctx.t("Their branch is not in a region yet."))
        return branch.region_id
    return NATIONAL_SCOPE_ID


async def _may_grant(ctx: Context, role: str, scope: str, scope_id: int, grant: bool) -> bool:
    """Branch organisers make organisers of their branch (and may end a treasurer's
    role); admins of a level make anything at that level and below. Only admins
    make treasurers: a treasurer makes members (who vote and may be drawn), so an
    organiser must not choose one."""
    grants = await ctx.grants()
    if scope == SCOPE_BRANCH:
        branch = await ctx.session.get(Branch, scope_id)
        by_organiser = role == ORGANISER or (role == TREASURER and not grant)
        needed = ORGANISER if by_organiser else ADMIN
        return branch is not None and holds_at_branch(grants, needed, branch)
    if scope == SCOPE_REGION:
        return holds_at_region(grants, ADMIN, scope_id)
    return holds_nationally(grants, ADMIN)


async def _check_may_change(
    ctx: Context, person: Person, role: str, scope: str, scope_id: int, grant: bool
) -> None:
    """Refuse unless the actor may give (or take) this role here: never to themselves."""
    if grant and ctx.person is not None and person.id == ctx.person.id:
        raise ctx.refuse(
            ctx.t("You cannot give yourself a role: ask another organiser or an admin."),
            audit="promote",
        )
    if not await _may_grant(ctx, role, scope, scope_id, grant):
        raise ctx.refuse(
            ctx.t("Only admins make treasurers.")
            if role == TREASURER and grant
            else ctx.t("You do not have the role needed to change that."),
            audit="promote" if grant else "demote",
        )


async def _add_grant(
    ctx: Context,
    person: Person,
    role: str,
    scope: str,
    scope_id: int,
    existing: RoleGrant | None,
    label: str,
    where: str,
) -> None:
    if existing is not None:
        raise ctx.refuse(
            ctx.t(
                "{name} is already {role} of {where}.",
                name=person.display_name,
                role=label,
                where=where,
            )
        )
    ctx.session.add(
        RoleGrant(
            person_id=person.id,
            role=role,
            scope=scope,
            scope_id=scope_id,
            granted_by=ctx.person.id if ctx.person else None,
            granted_at=ctx.now,
        )
    )
    await ctx.session.flush()


async def _remove_grant(
    ctx: Context,
    person: Person,
    role: str,
    scope: str,
    existing: RoleGrant | None,
    label: str,
    where: str,
) -> None:
    """Take the role away; the party keeps at least one national admin."""
    if existing is None:
        raise ctx.refuse(
            ctx.t(
                "{name} is not {role} of {where}.",
                name=person.display_name,
                role=label,
                where=where,
            )
        )
    if role == ADMIN and scope == SCOPE_NATIONAL:
        if await national_admin_count(ctx.session) <= 1:
            raise ctx.refuse(ctx.t("The party must keep at least one national admin."))
    await end_grant(ctx.session, existing)


async def _tell_role_change(
    ctx: Context, person: Person, role: str, scope: str, scope_id: int, place: str, grant: bool
) -> None:
    key = f"role:{'+' if grant else '-'}:{role}:{scope}:{scope_id}:{ctx.now.isoformat()}"
    await notify(
        ctx,
        only(person),
        key,
        # In the recipient's language, role and place names too.
        (
            lambda t: t(
                "You are now {role} of {where}.",
                role=role_label(t, role),
                where=scope_phrase(t, scope, place),
            )
        )
        if grant
        else (
            lambda t: t(
                "You are no longer {role} of {where}.",
                role=role_label(t, role),
                where=scope_phrase(t, scope, place),
            )
        ),
    )


async def change_role(
    ctx: Context, person: Person, role: str, scope: str, scope_id: int, grant: bool
) -> Reply:
    """Give (``grant``) or take away ``role`` at that scope, tell the person, and
    offer Undo; /promote, /demote and their Undo button all come here."""
    branch = await ctx.session.get(Branch, scope_id) if scope == SCOPE_BRANCH else None
    await _check_may_change(ctx, person, role, scope, scope_id, grant)
    existing = await grant_of(ctx.session, person.id, role, scope, scope_id)
    place = await place_name(ctx, scope, scope_id)
    where = scope_phrase(ctx.t, scope, place)
    label = role_label(ctx.t, role)
    if grant:
        await _add_grant(ctx, person, role, scope, scope_id, existing, label, where)
    else:
        await _remove_grant(ctx, person, role, scope, existing, label, where)
    ctx.forget_grants()
    audit(
        ctx,
        "role.granted" if grant else "role.revoked",
        subject=person,
        branch=branch if scope == SCOPE_BRANCH else None,
        role=role,
        scope=scope,
        scope_id=scope_id,
    )
    await _tell_role_change(ctx, person, role, scope, scope_id, place, grant)
    if grant and role == ORGANISER and scope == SCOPE_BRANCH and branch is not None:
        await maybe_forming(ctx, branch, ctx.person)
    undo = await ctx.prompt(
        "undo",
        op="role",
        person=person.id,
        role=role,
        scope=scope,
        scope_id=scope_id,
        grant=not grant,
    )
    text = (
        ctx.t("{name} is now {role} of {where}.", name=person.display_name, role=label, where=where)
        if grant
        else ctx.t(
            "{name} is no longer {role} of {where}.",
            name=person.display_name,
            role=label,
            where=where,
        )
    )
    return Reply(text, buttons=((ctx.undo_button(undo),),))


@command(
    "promote",
    N_("give someone a role"),
    usage=N_("<person> <organiser|treasurer|admin> [branch|region|national]"),
    roles=(ORGANISER, ADMIN),
    params=ROLE_PARAMS,
)
async def promote(ctx: Context) -> Reply:
    ctx.require_person()
    ref, role, scope = _parse_role_args(ctx, "promote")
    person, branch = await target_person(ctx, ref, ORGANISER)
    return await change_role(ctx, person, role, scope, _scope_id(ctx, scope, branch), grant=True)


@command(
    "demote",
    N_("take a role away from someone"),
    usage=N_("<person> <organiser|treasurer|admin> [branch|region|national]"),
    roles=(ORGANISER, ADMIN),
    params=ROLE_PARAMS,
)
async def demote(ctx: Context) -> Reply:
    ctx.require_person()
    ref, role, scope = _parse_role_args(ctx, "demote")
    person, branch = await target_person(ctx, ref, ORGANISER)
    return await change_role(ctx, person, role, scope, _scope_id(ctx, scope, branch), grant=False)
