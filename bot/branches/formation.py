"""The founding path a branch follows, recorded from what happened.

Interest -> a first online call -> a first face-to-face meeting -> affiliation.
A proposed branch starts *forming* with enough interested people and an
organiser (``[branches] forming_threshold``); its first online call is an
online meeting marked held; it becomes *active* when its first face-to-face
meeting (after the call) is marked held with at least
``first_meeting_attendees`` people recorded as there; it can be *affiliated*
once ``members_to_affiliate`` of its people have paid their dues. A region's or
the national admins may override a step, with a reason that is audited and
shown in the branch's history. The organisers get a short guide at each step.
"""

from __future__ import annotations

from bot.branches.queries import attendance, count_people, organisers, progress, record_transition
from bot.branches.recipients import admins_over, organisers_of
from bot.branches.rules import NEXT_STATUS
from bot.branches.texts import GUIDES, status_label
from bot.kernel.context import Context
from bot.kernel.effects import announce, audit
from bot.kernel.outbox import enqueue_for
from storage.models import Branch, Meeting, Person, Region
from storage.vocabulary import ACTIVE, AFFILIATED, FORMING, PROPOSED

REASON_LIMIT = 300


# --- the steps --------------------------------------------------------------------


async def maybe_forming(ctx: Context, branch: Branch, actor: Person | None) -> bool:
    """Advance a proposed branch to forming when it has the interest and an organiser."""
    if branch.status != PROPOSED:
        return False
    # Lock the branch (PostgreSQL) so that two joins at once record one step.
    await ctx.session.refresh(branch, with_for_update=True)
    if branch.status != PROPOSED:
        return False
    if await count_people(ctx, branch) < ctx.settings.forming_threshold:
        return False
    if not await organisers(ctx, branch):
        return False
    await record_transition(ctx, branch, FORMING, actor)
    await announce(
        ctx,
        branch,
        f"branch-forming:{branch.id}",
        lambda t: t(
            "Good news: the {branch} branch now has enough people and an organiser, so it "
            "is forming. Next come a first online call, then a first face-to-face meeting: "
            "watch for the invitations.",
            branch=branch.name,
        ),
    )
    await guide(ctx, branch, "forming")
    return True


async def first_call_held(ctx: Context, branch: Branch, meeting: Meeting) -> str | None:
    """An online meeting of a proposed or forming branch was held: if it is the
    branch's first, it is recorded as its first online call."""
    if branch.status not in (PROPOSED, FORMING) or branch.first_call_at is not None:
        return None
    branch.first_call_at = meeting.starts_at
    audit(ctx, "branch.first_call", branch=branch, meeting=meeting.id)
    await guide(ctx, branch, "call")
    return ctx.t(
        "That was the {branch} branch's first online call. Next: its first face-to-face meeting.",
        branch=branch.name,
    )


async def first_meeting_attended(ctx: Context, branch: Branch, meeting: Meeting) -> str:
    """Attendance at a forming branch's face-to-face meeting was recorded: with
    the first online call behind it and enough people there, the branch is active."""
    came = await attendance(ctx, meeting)
    need = ctx.settings.first_meeting_attendees
    if branch.first_call_at is None:
        return ctx.t(
            "The {branch} branch has not recorded its first online call yet: the first "
            "face-to-face meeting counts once the call has been held (/meeting held <id>).",
            branch=branch.name,
        )
    if came < need:
        return ctx.t(
            "{came} came; the {branch} branch becomes active after a first face-to-face "
            "meeting with {need}. Mark anyone you missed, or hold another meeting.",
            came=ctx.t.plural("{n} person", "{n} people", came),
            branch=branch.name,
            need=ctx.t.plural("{n} person", "{n} people", need),
        )
    branch.first_meeting_at = meeting.starts_at
    audit(ctx, "branch.first_meeting", branch=branch, meeting=meeting.id, came=came)
    await become_active(ctx, branch)
    return ctx.t(
        "That was the {branch} branch's first face-to-face meeting, with {came}: the "
        "branch is now active, and the party's admins have been told.",
        branch=branch.name,
        came=ctx.t.plural("{n} person", "{n} people", came),
    )


async def become_active(ctx: Context, branch: Branch, reason: str | None = None) -> None:
    """A forming branch held its first face-to-face meeting (or an admin overrode
    it): it becomes active, the admins over it are told and its people too."""
    await record_transition(ctx, branch, ACTIVE, ctx.person, reason=reason)
    audit(ctx, "branch.activated", branch=branch)
    await ctx.session.flush()
    at = await progress(ctx, branch)
    more = ctx.settings.members_to_affiliate - at.paid
    await enqueue_for(
        ctx.session,
        admins_over(branch),
        key=f"branch-active:{branch.id}",
        render=lambda t: (
            t(
                "The {branch} branch has held its first face-to-face meeting and is active. "
                "It can now be affiliated: /affiliate {branch}",
                branch=branch.name,
            )
            if more <= 0
            else t.plural(
                "The {branch} branch has held its first face-to-face meeting and is active. "
                "It can be affiliated once {n} more member has paid dues.",
                "The {branch} branch has held its first face-to-face meeting and is active. "
                "It can be affiliated once {n} more members have paid dues.",
                more,
                branch=branch.name,
            )
        ),
        now=ctx.now,
        exclude_id=ctx.person.id if ctx.person else None,
        default_locale=ctx.settings.default_locale,
    )
    await announce(
        ctx,
        branch,
        f"announce-active:{branch.id}",
        lambda t: t(
            "The {branch} branch has held its first face-to-face meeting: it is now active!",
            branch=branch.name,
        ),
    )
    await guide(ctx, branch, "active")


async def guide(ctx: Context, branch: Branch, step: str) -> None:
    """The organisers' short guide for the step the branch has reached, once each."""
    write = GUIDES[step]
    await enqueue_for(
        ctx.session,
        organisers_of(branch),
        key=f"guide:{step}:{branch.id}",
        render=lambda t: write(t, branch, ctx.settings),
        now=ctx.now,
        default_locale=ctx.settings.default_locale,
    )


# --- overrides --------------------------------------------------------------------


async def override(ctx: Context, branch: Branch, reason: str) -> str:
    """An admin takes the branch to its next step without what the step needs.
    The caller checks the admin's rights; the reason is kept in the history."""
    await ctx.session.refresh(branch, with_for_update=True)
    to = NEXT_STATUS.get(branch.status)
    if to is None:
        raise ctx.refuse(
            ctx.t(
                "The {branch} branch is already affiliated: there is no step left.",
                branch=branch.name,
            )
        )
    if to == AFFILIATED and branch.region_id is None:
        raise ctx.refuse(
            ctx.t(
                "The {branch} branch is in no region yet: put it in one first "
                "(/region assign <region>: {branch}).",
                branch=branch.name,
            )
        )
    before = branch.status
    audit(ctx, "branch.override", branch=branch, before=before, after=to, reason=reason)
    if to == FORMING:
        await record_transition(ctx, branch, FORMING, ctx.person, reason=reason)
        await guide(ctx, branch, "forming")
    elif to == ACTIVE:
        await become_active(ctx, branch, reason=reason)
    else:
        region = await ctx.session.get(Region, branch.region_id)
        assert region is not None  # region_id is a foreign key
        await affiliated(ctx, branch, region, reason=reason)
    return ctx.t(
        "Overridden: the {branch} branch is now {status}. Your reason is kept in its history.",
        branch=branch.name,
        status=status_label(ctx.t, to),
    )


async def affiliated(
    ctx: Context, branch: Branch, region: Region, reason: str | None = None
) -> None:
    """The branch joins the party structure, in ``region``; its people are told."""
    branch.region_id = region.id
    await record_transition(ctx, branch, AFFILIATED, ctx.person, reason=reason)
    audit(ctx, "branch.affiliated", branch=branch, region=region.id)
    await announce(
        ctx,
        branch,
        f"affiliated:{branch.id}",
        lambda t: t(
            "The {branch} branch is now affiliated to the party, in the {region} region.",
            branch=branch.name,
            region=region.name,
        ),
    )
    await guide(ctx, branch, "affiliated")
