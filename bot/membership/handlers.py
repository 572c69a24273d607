"""/join, /leave and /me: a person and their branch."""

from __future__ import annotations

import datetime as dt
import typing

from sqlalchemy import Table, bindparam, delete, update
from sqlalchemy.orm.attributes import set_committed_value

from bot.branches.formation import maybe_forming
from bot.branches.queries import anyone, count_people, region_for, search
from bot.branches.recipients import admins_over, organisers_of
from bot.branches.rules import PLACE_LIMIT, clean_place, slugify
from bot.branches.texts import role_label, status_label
from bot.kernel.actions import Action
from bot.kernel.context import PROMPT_LIFETIME, Context, parse_id
from bot.kernel.effects import audit, notify
from bot.kernel.i18n import N_, Translator, format_local
from bot.kernel.messages import Button, Reply
from bot.kernel.permissions import is_member
from bot.kernel.registry import Param, action, answer, command
from bot.privacy.handlers import ask_consent
from storage.models import Branch, BranchTransition, Person, Region, RoleGrant
from storage.vocabulary import PROPOSED, SCOPE_BRANCH, SCOPE_REGION


def _not_a_place(ctx: Context) -> str:
    return ctx.t(
        "Please send a town, area or postcode of up to {limit} letters, for example: /join Frome",
        limit=PLACE_LIMIT,
    )


async def join_flow(ctx: Context, query: str) -> Reply:
    """Find the branch for a place; join it, offer a choice, or offer to propose one."""
    person = ctx.require_person()
    place = clean_place(query)
    if place is None:
        raise ctx.refuse(_not_a_place(ctx))
    exact, found = await search(ctx, place)
    if exact is not None:
        return await join_branch(ctx, person, exact)
    prompt = await ctx.prompt("propose", place=place)
    propose = Button(ctx.t("Propose a {place} branch", place=place), Action.PROPOSE, str(prompt.id))
    if not found:
        return Reply(
            ctx.t(
                "No branch covers {place} yet. Would you like to propose one? When {n} people "
                "are interested and someone offers to organise it, it starts forming.",
                place=place,
                n=ctx.settings.forming_threshold,
            ),
            buttons=((propose,),),
        )
    rows = tuple(
        (Button(f"{b.name} ({status_label(ctx.t, b.status)})", Action.JOIN, str(b.id)),)
        for b in found
    )
    return Reply(
        ctx.t("Which branch is yours? Press one:"),
        buttons=(*rows, (propose,)),
    )


WHERE_LIFETIME = dt.timedelta(days=1)


async def ask_where(ctx: Context) -> Reply:
    """Ask a newcomer (from the party's sign-up link) where they live; their next
    plain message answers it (``where_answered``), or /join does."""
    await ctx.prompt("where", lifetime=WHERE_LIFETIME)
    return Reply(
        ctx.t(
            "Where do you live? Reply with your town or postcode (for example Frome or "
            "BA11 4AB), and I will find your local branch."
        )
    )


@answer("where")
async def where_answered(ctx: Context, text: str) -> Reply:
    if clean_place(text) is None:  # refused: the question stays open for another try
        raise ctx.refuse(
            ctx.t(
                "Please reply with a town, area or postcode of up to {limit} letters, for "
                "example Frome or BA11 4AB.",
                limit=PLACE_LIMIT,
            )
        )
    return await join_flow(ctx, text)


async def join_branch(ctx: Context, person: Person, branch: Branch) -> Reply:
    if person.branch_id == branch.id:
        return Reply(ctx.t("You are already in the {branch} branch.", branch=branch.name))
    if person.branch_id is not None:
        current = await ctx.session.get(Branch, person.branch_id)
        return Reply(
            ctx.t(
                "You are in the {current} branch. Move to {branch}? "
                "Any role you hold in {current} would end.",
                current=current.name if current else "?",
                branch=branch.name,
            ),
            buttons=(
                (
                    Button(
                        ctx.t("Move to {branch}", branch=branch.name), Action.MOVE, str(branch.id)
                    ),
                ),
            ),
        )
    return await _enter(ctx, person, branch)


_PERSONS = typing.cast(Table, Person.__table__)
_ENTER = update(_PERSONS).where(_PERSONS.c.id == bindparam("person"))


async def _enter(ctx: Context, person: Person, branch: Branch) -> Reply:
    if branch.status == PROPOSED:
        # Lock the branch before anything else, so that joins that may make it
        # form queue up here rather than deadlock later (PostgreSQL).
        await ctx.session.refresh(branch, with_for_update=True)
    await ctx.session.execute(
        _ENTER, {"person": person.id, "branch_id": branch.id, "joined_branch_at": ctx.now}
    )
    # The person loaded says so too, without an ORM flush of it (a hot path).
    set_committed_value(person, "branch_id", branch.id)
    set_committed_value(person, "joined_branch_at", ctx.now)
    stamp = ctx.now.isoformat()
    await notify(
        ctx,
        organisers_of(branch),
        f"joined:{person.id}:{branch.id}:{stamp}",
        lambda t: t(
            "{name} ({short_id}) joined the {branch} branch.",
            name=person.display_name,
            short_id=person.short_id,
            branch=branch.name,
        ),
        about=person,
    )
    # The Undo names this very join (branch and time), so it needs no stored prompt:
    # /join stays as cheap as it can be.
    undo = Button(ctx.t("Undo"), Action.UNJOIN, f"{branch.id}.{_micros(ctx.now)}")
    if branch.status == PROPOSED:
        if await maybe_forming(ctx, branch, person):
            return Reply(
                ctx.t(
                    "You joined {branch}, and with you it has enough people: the branch is now "
                    "forming!",
                    branch=branch.name,
                ),
                buttons=((undo,),),
            )
        n = await count_people(ctx, branch)
        return Reply(
            ctx.t.plural(
                "You are the first person interested in a {branch} branch.",
                "{n} people are now interested in a {branch} branch, you among them.",
                n,
                branch=branch.name,
            )
            + " "
            + ctx.t(
                "It starts forming at {threshold} people with an organiser. Could you organise it?",
                threshold=ctx.settings.forming_threshold,
            ),
            buttons=((Button(ctx.t("I can organise it"), Action.VOLUNTEER, str(branch.id)), undo),),
        )
    if is_member(person, ctx.now, branch.timezone):
        welcome = ctx.t(
            "Welcome to the {branch} branch! As a member you vote on internal decisions, can "
            "be drawn by lot for councils, and can canvass and come to meetings.",
            branch=branch.name,
        )
    else:
        welcome = ctx.t(
            "Welcome to the {branch} branch! As a supporter you can canvass and come to "
            "meetings. Dues-paying members also vote on internal decisions and can be drawn "
            "by lot for councils: ask your branch treasurer.",
            branch=branch.name,
        )
    return Reply(welcome, buttons=((undo,),))


async def _leave(ctx: Context, person: Person) -> tuple[Branch | None, list[str]]:
    """Take the person out of their branch; their roles in it end.
    (the branch, the roles that ended)"""
    branch = await ctx.session.get(Branch, person.branch_id) if person.branch_id else None
    if branch is None:
        return None, []
    ended = list(
        await ctx.session.scalars(
            delete(RoleGrant)
            .where(
                RoleGrant.person_id == person.id,
                RoleGrant.scope == SCOPE_BRANCH,
                RoleGrant.scope_id == branch.id,
            )
            .returning(RoleGrant.role)
        )
    )
    if ended:
        audit(ctx, "role.ended_on_leave", subject=person, branch=branch, roles=sorted(ended))
        ctx.forget_grants()
    person.branch_id = None
    person.joined_branch_at = None
    return branch, sorted(ended)


@command(
    "join",
    N_("find your local branch and join it"),
    usage="<town or postcode>",
    params=(Param.branch(N_("your town or postcode"), name="place", required=True),),
)
async def join(ctx: Context) -> Reply:
    if ctx.person is None:
        if ctx.request.args and clean_place(ctx.request.args) is None:
            raise ctx.refuse(_not_a_place(ctx))
        return await ask_consent(ctx, clean_place(ctx.request.args) or "")
    person = ctx.person
    if not ctx.request.args:
        if person.branch_id is not None:
            branch = await ctx.session.get(Branch, person.branch_id)
            return Reply(
                ctx.t(
                    "You are in the {branch} branch. To move, send /join and the new place.",
                    branch=branch.name if branch else "?",
                )
            )
        return Reply(ctx.t("Send /join and your town or postcode, for example: /join Frome"))
    return await join_flow(ctx, ctx.request.args)


@action(Action.JOIN)
async def join_pressed(ctx: Context, target: str) -> Reply:
    person = ctx.require_person()
    return await join_branch(ctx, person, await ctx.branch_from(target))


@action(Action.MOVE)
async def move_pressed(ctx: Context, target: str) -> Reply:
    person = ctx.require_person()
    branch = await ctx.branch_from(target)
    if person.branch_id == branch.id:
        return Reply(ctx.t("You are already in the {branch} branch.", branch=branch.name))
    await _leave(ctx, person)
    return await _enter(ctx, person, branch)


@action(Action.PROPOSE)
async def propose_pressed(ctx: Context, target: str) -> Reply:
    person = ctx.require_person()
    prompt = await ctx.take_prompt(target, "propose")
    place = str(prompt.payload["place"])
    exact, _ = await search(ctx, place)
    if exact is not None:  # someone proposed it meanwhile: join that one
        return await join_branch(ctx, person, exact)
    if person.branch_id is not None and not prompt.payload.get("move"):
        current = await ctx.session.get(Branch, person.branch_id)
        again = await ctx.prompt("propose", place=place, move=True)
        return Reply(
            ctx.t(
                "You are in the {current} branch. Proposing a {place} branch moves you there, "
                "and any role you hold in {current} would end.",
                current=current.name if current else "?",
                place=place,
            ),
            buttons=(
                (
                    Button(
                        ctx.t("Propose {place} and move", place=place),
                        Action.PROPOSE,
                        str(again.id),
                    ),
                ),
            ),
        )
    branch = Branch(
        name=place,
        slug=slugify(place),  # free: search() above looked it up
        area=place,
        timezone=ctx.settings.default_timezone,
        status=PROPOSED,
        # In the region whose area covers the place; else it waits for a national admin.
        region_id=getattr(await region_for(ctx.session, place), "id", None),
        created_at=ctx.now,
    )
    ctx.session.add(branch)
    await ctx.session.flush()
    ctx.session.add(
        BranchTransition(
            branch_id=branch.id,
            from_status=None,
            to_status=PROPOSED,
            actor_id=person.id,
            at=ctx.now,
        )
    )
    audit(ctx, "branch.proposed", branch=branch)
    await notify(
        ctx,
        admins_over(branch),
        f"proposed:{branch.id}",
        (
            (
                lambda t: t(
                    "A {branch} branch was proposed, in your region. You will hear when "
                    "someone offers to organise it.",
                    branch=branch.name,
                )
            )
            if branch.region_id is not None
            else (
                lambda t: t(
                    "A {branch} branch was proposed; no region covers it yet. "
                    "Place it with /region assign {branch}: <region>.",
                    branch=branch.name,
                )
            )
        ),
    )
    if person.branch_id is not None:
        await _leave(ctx, person)
    return await _enter(ctx, person, branch)


@action(Action.VOLUNTEER)
async def volunteer_pressed(ctx: Context, target: str) -> Reply:
    """Someone offers to organise a proposed branch: admins above it are told."""
    person = ctx.require_person()
    branch = await ctx.branch_from(target)
    if person.branch_id != branch.id:
        raise ctx.refuse(ctx.t("Join the {branch} branch first.", branch=branch.name))
    await notify(
        ctx,
        admins_over(branch),
        f"volunteer:{person.id}:{branch.id}",
        lambda t: t(
            "{name} ({short_id}) offers to organise the proposed {branch} branch. "
            "To accept: /promote {short_id} organiser",
            name=person.display_name,
            short_id=person.short_id,
            branch=branch.name,
        ),
        about=person,
    )
    audit(ctx, "branch.volunteered", subject=person, branch=branch)
    if not await anyone(ctx, admins_over(branch)):
        # Nobody to tell yet (a party with no admin): say so rather than pretend.
        return Reply(
            ctx.t(
                "Thank you! The party has no admin yet who could make you the organiser of "
                "{branch}; your offer is recorded and its admins will see it.",
                branch=branch.name,
            ),
            edit=True,
        )
    return Reply(
        ctx.t(
            "Thank you! The party's admins have been told, and will be in touch to make you "
            "the organiser of {branch}.",
            branch=branch.name,
        ),
        edit=True,
    )


@command("leave", N_("leave your branch"), params=())
async def leave(ctx: Context) -> Reply:
    person = ctx.require_person()
    branch, roles = await _leave(ctx, person)
    if branch is None:
        raise ctx.refuse(ctx.t("You are not in a branch. Send /join to find one."))
    text = ctx.t("You have left the {branch} branch.", branch=branch.name)
    if roles:
        text += " " + ctx.t("Your roles there have ended.")
    undo = await ctx.prompt("rejoin", branch=branch.id, roles=roles)
    return Reply(text, buttons=((Button(ctx.t("Undo"), Action.REJOIN, str(undo.id)),),))


def _micros(when: dt.datetime) -> int:
    return round(when.timestamp() * 1_000_000)


@action(Action.UNJOIN)
async def unjoin_pressed(ctx: Context, target: str) -> Reply:
    """The Undo under a join: only the person's own latest join, for two days."""
    person = ctx.require_person()
    branch_text, _, stamp = target.partition(".")
    joined = person.joined_branch_at
    if (
        parse_id(branch_text) != person.branch_id
        or joined is None
        or not stamp.isdigit()
        or int(stamp) != _micros(joined)
        or ctx.now - joined > PROMPT_LIFETIME
    ):
        raise ctx.stale()
    branch = await ctx.branch_from(branch_text)
    _, roles = await _leave(ctx, person)
    text = ctx.t("Undone: you are no longer in the {branch} branch.", branch=branch.name)
    if roles:
        text += " " + ctx.t("Your roles there have ended.")
    return Reply(text, edit=True)


@action(Action.REJOIN)
async def rejoin_pressed(ctx: Context, target: str) -> Reply:
    """The Undo under /leave: back in the branch, with the roles that ended."""
    person = ctx.require_person()
    prompt = await ctx.take_prompt(target, "rejoin")
    branch = await ctx.session.get(Branch, int(prompt.payload["branch"]))
    if branch is None:
        raise ctx.stale()
    if person.branch_id is not None:
        raise ctx.refuse(ctx.t("You have joined another branch since; send /join to move back."))
    reply = await _enter(ctx, person, branch)
    for role in prompt.payload.get("roles") or []:
        ctx.session.add(
            RoleGrant(
                person_id=person.id,
                role=str(role),
                scope=SCOPE_BRANCH,
                scope_id=branch.id,
                granted_at=ctx.now,
            )
        )
    if prompt.payload.get("roles"):
        audit(ctx, "role.restored_on_undo", subject=person, branch=branch)
        ctx.forget_grants()
    # The welcome's own buttons stay (e.g. "I can organise it", which its text asks
    # about); its Undo does not: this reply is already an undo.
    rows = tuple(
        kept for row in reply.buttons if (kept := tuple(b for b in row if b.action != "unjoin"))
    )
    return Reply(reply.text, buttons=rows, edit=True)


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


async def place_name(ctx: Context, scope: str, scope_id: int) -> str:
    """The name of the branch or region a scope names ("" for the national party)."""
    if scope == SCOPE_BRANCH:
        branch = await ctx.session.get(Branch, scope_id)
        return branch.name if branch else "?"
    if scope == SCOPE_REGION:
        region = await ctx.session.get(Region, scope_id)
        return region.name if region else "?"
    return ""


def scope_phrase(t: Translator, scope: str, name: str) -> str:
    """ "the Frome branch", "the South West region", "the national party", in ``t``'s language."""
    if scope == SCOPE_BRANCH:
        return t("the {branch} branch", branch=name)
    if scope == SCOPE_REGION:
        return t("the {region} region", region=name)
    return t("the national party")
