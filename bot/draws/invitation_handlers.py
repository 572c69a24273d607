"""Answering an invitation to a seat (accept, decline: someone else is drawn) and
/council, the rosters a member may see.
"""

from __future__ import annotations

import datetime as dt

from bot.draws import queries, rules
from bot.draws.invitations import replace
from bot.draws.texts import accepted_notice, roster_line
from bot.kernel.actions import Action
from bot.kernel.context import Context, Refusal, parse_id
from bot.kernel.effects import audit, notify
from bot.kernel.i18n import N_
from bot.kernel.messages import Reply
from bot.kernel.registry import action, command
from storage.models import Branch, CouncilSeat, Draw, Invitation
from storage.vocabulary import (
    ACCEPTED,
    AFFILIATED,
    DECLINED,
    INVITED,
    NATIONAL_SCOPE_ID,
    SCOPE_BRANCH,
    SCOPE_NATIONAL,
    SCOPE_REGION,
)


async def _invitation(ctx: Context, target: str) -> Invitation:
    person = ctx.require_person()
    invitation_id = parse_id(target)
    invitation = (
        await ctx.session.get(Invitation, invitation_id, with_for_update=True)
        if invitation_id
        else None
    )
    if invitation is None:
        raise ctx.stale()
    if invitation.person_id != person.id:
        raise Refusal(*ctx.stale().replies, audit="invitation")
    if invitation.status != INVITED:
        raise ctx.refuse(ctx.t("You have already answered this invitation."))
    if invitation.respond_by <= ctx.now:
        raise ctx.refuse(ctx.t("The time to answer has passed, so someone else has been drawn."))
    return invitation


@action(Action.INVITATION_ACCEPT)
async def accept(ctx: Context, target: str) -> Reply:
    invitation = await _invitation(ctx, target)
    draw = await ctx.session.get(Draw, invitation.draw_id)
    if draw is None:
        raise ctx.stale()
    invitation.status = ACCEPTED
    invitation.answered_at = ctx.now
    ctx.session.add(
        CouncilSeat(
            body=draw.body,
            scope=draw.scope,
            scope_id=draw.scope_id,
            person_id=invitation.person_id,
            draw_id=draw.id,
            since=ctx.now,
        )
    )
    audit(ctx, "invitation.accepted", draw=draw.id)
    body = await queries.draw_body(ctx.session, ctx.settings, draw)
    if body is None:
        raise ctx.stale()
    root = await queries.root_of(ctx.session, draw)
    await ctx.session.flush()
    seated = await queries.seated(ctx.session, root)
    person = ctx.require_person()
    name = person.display_name
    await notify(
        ctx,
        queries.staff_of(body),
        f"accepted:{invitation.id}",
        lambda t: accepted_notice(t, name, body, root, seated),
        about=person,
    )
    if body.kind in rules.DELEGATIONS:
        done = ctx.t("Thank you: you are a delegate.")
    else:
        done = ctx.t("Thank you: you are on the council.")
    return Reply(
        done
        + " "
        + ctx.t(
            "The organisers will tell you when it first meets; /meetings lists what is "
            "coming, /council who sits with you."
        ),
        edit=True,
    )


@command("council", N_("who sits on your councils and delegations"), private=True)
async def council(ctx: Context) -> Reply:
    """The rosters a member of a branch may see: their branch's council and
    delegates, their region's council and delegates, the national council."""
    person = ctx.require_person()
    branch = await ctx.session.get(Branch, person.branch_id) if person.branch_id else None
    if branch is None:
        return Reply(ctx.t("You are in no branch yet: /join one first."), private=True)
    since = ctx.now - dt.timedelta(days=30 * ctx.settings.sortition_rotation_months)
    bodies = [
        (rules.COUNCIL, SCOPE_BRANCH, branch.id),
        (rules.TO_REGION, SCOPE_BRANCH, branch.id),
    ]
    if branch.region_id is not None and branch.status == AFFILIATED:
        bodies += [
            (rules.REGION_COUNCIL, SCOPE_REGION, branch.region_id),
            (rules.TO_NATIONAL, SCOPE_REGION, branch.region_id),
        ]
    if branch.status == AFFILIATED:
        bodies.append((rules.NATIONAL_COUNCIL, SCOPE_NATIONAL, NATIONAL_SCOPE_ID))
    lines = []
    for kind, scope, scope_id in bodies:
        body = await queries.body_of(ctx.session, ctx.settings, kind, scope, scope_id)
        names = await queries.seated_since(ctx.session, kind, scope, scope_id, since)
        if body is not None and names:
            lines.append(roster_line(ctx.t, body, names))
    if not lines:
        return Reply(ctx.t("Nobody has been drawn for your councils yet."), private=True)
    return Reply("\n".join(lines), private=True)


@action(Action.INVITATION_DECLINE)
async def decline(ctx: Context, target: str) -> Reply:
    invitation = await _invitation(ctx, target)
    invitation.status = DECLINED
    invitation.answered_at = ctx.now
    await ctx.session.flush()
    await replace(ctx.session, ctx.settings, invitation, ctx.now)
    return Reply(
        ctx.t("Thank you for answering: someone else will be drawn in your place."),
        edit=True,
    )
