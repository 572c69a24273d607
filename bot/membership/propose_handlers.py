"""Proposing a branch where none covers the place (the admins over it are told),
and offering to organise a proposed one."""

from __future__ import annotations

from bot.branches.queries import anyone, region_for, search
from bot.branches.recipients import admins_over
from bot.branches.rules import slugify
from bot.kernel.actions import Action
from bot.kernel.context import Context
from bot.kernel.effects import audit, notify
from bot.kernel.messages import Button, Reply
from bot.kernel.registry import action
from bot.membership.handlers import enter_branch, join_branch
from bot.membership.leaving import leave_branch
from storage.models import Branch, BranchTransition
from storage.vocabulary import PROPOSED


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
        await leave_branch(ctx, person)
    return await enter_branch(ctx, person, branch)


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
