"""/join: finding a person's branch and joining it (or moving to it), and the
Undo under a join. Proposing a branch is in ``propose_handlers``, /leave in
``leave_handlers``, /me in ``me_handlers``."""

from __future__ import annotations

import datetime as dt

from sqlalchemy.orm.attributes import set_committed_value

from bot.branches.formation import maybe_forming
from bot.branches.queries import count_people, place_ahead, search
from bot.branches.recipients import organisers_of
from bot.branches.rules import PLACE_LIMIT, clean_place
from bot.branches.texts import status_label
from bot.kernel.actions import Action
from bot.kernel.context import PROMPT_LIFETIME, Context, parse_id
from bot.kernel.effects import notify
from bot.kernel.i18n import N_
from bot.kernel.messages import Button, Reply
from bot.kernel.permissions import is_member
from bot.kernel.registry import Param, action, answer, command
from bot.membership.leaving import leave_branch
from bot.membership.queries import enter
from bot.privacy.consent import ask_consent
from storage.models import Branch, Person
from storage.vocabulary import PROPOSED


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
    exact, found = await search(ctx, place, ahead=ctx.prefetched)  # /join's place_ahead
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
    return await enter_branch(ctx, person, branch)


async def enter_branch(ctx: Context, person: Person, branch: Branch) -> Reply:
    if branch.status == PROPOSED:
        # Lock the branch before anything else, so that joins that may make it
        # form queue up here rather than deadlock later (PostgreSQL).
        await ctx.session.refresh(branch, with_for_update=True)
    await enter(ctx.session, person, branch, ctx.now)
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


@command(
    "join",
    N_("find your local branch and join it"),
    usage=N_("<town or postcode>"),
    params=(Param.branch(N_("your town or postcode"), name="place", required=True),),
    prefetch=place_ahead,
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
    await leave_branch(ctx, person)
    return await enter_branch(ctx, person, branch)


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
    _, roles = await leave_branch(ctx, person)
    text = ctx.t("Undone: you are no longer in the {branch} branch.", branch=branch.name)
    if roles:
        text += " " + ctx.t("Your roles there have ended.")
    return Reply(text, edit=True)
