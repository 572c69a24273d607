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

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from bot.branches.service import (
    admins_over,
    count_people,
    organisers,
    organisers_of,
    record_transition,
    status_label,
)
from bot.kernel.context import Context
from bot.kernel.effects import announce, audit
from bot.kernel.i18n import Translator
from bot.kernel.outbox import enqueue_for
from storage.models import Branch, Meeting, MeetingAttendance, Person, Region
from storage.vocabulary import ACTIVE, AFFILIATED, FORMING, ONLINE, PROPOSED

NEXT_STATUS = {PROPOSED: FORMING, FORMING: ACTIVE, ACTIVE: AFFILIATED}
REASON_LIMIT = 300


@dataclass(frozen=True, slots=True)
class Progress:
    """Where a branch stands on its founding path, counted now."""

    status: str
    interested: int
    organisers: int
    first_call: Meeting | None
    first_meeting: Meeting | None
    came: int  # to the first face-to-face meeting
    paid: int  # people with current dues


async def attendance(ctx: Context, meeting: Meeting) -> int:
    """How many came: those marked at the door and the guests counted."""
    marked = await ctx.session.scalar(
        select(func.count())
        .select_from(MeetingAttendance)
        .where(MeetingAttendance.meeting_id == meeting.id)
    )
    return (marked or 0) + meeting.guests


async def _meeting_at(
    ctx: Context, branch: Branch, at: dt.datetime | None, online: bool
) -> Meeting | None:
    if at is None:
        return None
    kind = Meeting.kind == ONLINE if online else Meeting.kind != ONLINE
    return await ctx.session.scalar(
        select(Meeting)
        .where(
            Meeting.branch_id == branch.id,
            Meeting.starts_at == at,
            kind,
            Meeting.held_at.is_not(None),
        )
        .order_by(Meeting.id)
        .limit(1)
    )


async def paid_up(ctx: Context, branch: Branch) -> int:
    """How many of the branch's people are Members now: dues paid through today in
    the branch's time zone (the rule of ``bot.kernel.permissions.is_member``), counted in SQL."""
    today = ctx.now.astimezone(ZoneInfo(branch.timezone)).date()
    found = await ctx.session.scalar(
        select(func.count())
        .select_from(Person)
        .where(Person.branch_id == branch.id, Person.dues_paid_until >= today)
    )
    return found or 0


async def progress(ctx: Context, branch: Branch) -> Progress:
    first_meeting = await _meeting_at(ctx, branch, branch.first_meeting_at, online=False)
    return Progress(
        status=branch.status,
        interested=await count_people(ctx, branch),
        organisers=len(await organisers(ctx, branch)),
        first_call=await _meeting_at(ctx, branch, branch.first_call_at, online=True),
        first_meeting=first_meeting,
        came=await attendance(ctx, first_meeting) if first_meeting else 0,
        paid=await paid_up(ctx, branch),
    )


def next_step(ctx: Context, branch: Branch, at: Progress) -> str:
    """What the organisers do next, and what is missing for it, in plain words."""
    t, settings = ctx.t, ctx.settings
    if at.status == PROPOSED:
        needs = []
        if at.interested < settings.forming_threshold:
            needs.append(
                t.plural(
                    "{n} more interested person",
                    "{n} more interested people",
                    settings.forming_threshold - at.interested,
                )
            )
        if not at.organisers:
            needs.append(t("an organiser"))
        return t("Next step: it starts forming with {needs}.", needs=t(" and ").join(needs))
    if at.status == FORMING and branch.first_call_at is None:
        return t(
            "Next step: a first online call. Arrange it with /meeting online <when> <link>; "
            "once it has taken place, record it with /meeting held <id>."
        )
    if at.status == FORMING:
        return t.plural(
            "Next step: a first face-to-face meeting that at least {n} person comes to. "
            'Arrange it with /meeting in-person <when> "<place>"; afterwards record it '
            "with /meeting held <id> and mark who came.",
            "Next step: a first face-to-face meeting that at least {n} people come to. "
            'Arrange it with /meeting in-person <when> "<place>"; afterwards record it '
            "with /meeting held <id> and mark who came.",
            settings.first_meeting_attendees,
        )
    if at.status == ACTIVE and at.paid < settings.members_to_affiliate:
        return t.plural(
            "Next step: affiliation. {n} more member with paid dues before you can "
            "affiliate (the treasurer records dues with /dues).",
            "Next step: affiliation. {n} more members with paid dues before you can "
            "affiliate (the treasurer records dues with /dues).",
            settings.members_to_affiliate - at.paid,
        )
    if at.status == ACTIVE:
        return t(
            "Next step: a region or national admin affiliates it: /affiliate {branch}",
            branch=branch.name,
        )
    return t("It is affiliated to the party: nothing more to do.")


def affiliation_missing(ctx: Context, branch: Branch, at: Progress) -> str | None:
    """Why the branch cannot be affiliated yet, or None."""
    if at.status != ACTIVE:
        return ctx.t(
            "The {branch} branch is {status}: it can be affiliated once its first "
            "face-to-face meeting has been held.",
            branch=branch.name,
            status=status_label(ctx, at.status),
        )
    need = ctx.settings.members_to_affiliate
    if at.paid < need:
        return ctx.t(
            "The {branch} branch has {paid}; it needs {need} to be affiliated. An admin "
            "who has a good reason can override this: /branch override {branch}: <reason>",
            branch=branch.name,
            paid=ctx.t.plural("{n} member with paid dues", "{n} members with paid dues", at.paid),
            need=ctx.t.plural("{n} member with paid dues", "{n} members with paid dues", need),
        )
    return None


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


def counts_as_first_meeting(branch: Branch, meeting: Meeting) -> bool:
    return (
        branch.status == FORMING
        and branch.first_meeting_at is None
        and meeting.kind != ONLINE
        and meeting.held_at is not None
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


# --- guides -----------------------------------------------------------------------

GUIDES: dict[str, Callable[[Translator, Branch, Context], str]] = {
    "forming": lambda t, b, ctx: t(
        "Guide for the {branch} branch's organisers: your first online call.\n"
        "• Pick a time most can make: /poll --times offers a few.\n"
        "• Arrange it with /meeting online <when> <link>; everyone in the branch is told.\n"
        "• On the call: introductions, why each of you came, what the area needs, and who "
        "can find a room for a first face-to-face meeting. Keep it to an hour.\n"
        "• Afterwards record it with /meeting held <id>.",
        branch=b.name,
    ),
    "call": lambda t, b, ctx: t.plural(
        "Guide for the {branch} branch's organisers: your first face-to-face meeting.\n"
        "• Book a free, accessible room and arrange it with /meeting in-person <when> "
        '"<place>".\n'
        "• Decide together: who organises and who keeps the money (treasurer), a weekly "
        "canvassing slot (/canvass schedule), and how members pay their dues.\n"
        "• At the door, note who came: afterwards /meeting held <id> and press their names. "
        "The branch becomes active once {n} person has come.",
        "Guide for the {branch} branch's organisers: your first face-to-face meeting.\n"
        "• Book a free, accessible room and arrange it with /meeting in-person <when> "
        '"<place>".\n'
        "• Decide together: who organises and who keeps the money (treasurer), a weekly "
        "canvassing slot (/canvass schedule), and how members pay their dues.\n"
        "• At the door, note who came: afterwards /meeting held <id> and press their names. "
        "The branch becomes active once {n} people have come.",
        ctx.settings.first_meeting_attendees,
        branch=b.name,
    ),
    "active": lambda t, b, ctx: t.plural(
        "Guide for the {branch} branch's organisers: affiliation.\n"
        "• Only members with paid dues vote and sit on councils; the treasurer records dues "
        "with /dues.\n"
        "• Once {n} member has paid, a region or national admin affiliates the branch: "
        "/branch shows what is still missing.",
        "Guide for the {branch} branch's organisers: affiliation.\n"
        "• Only members with paid dues vote and sit on councils; the treasurer records dues "
        "with /dues.\n"
        "• Once {n} members have paid, a region or national admin affiliates the branch: "
        "/branch shows what is still missing.",
        ctx.settings.members_to_affiliate,
        branch=b.name,
    ),
    "affiliated": lambda t, b, ctx: t(
        "Guide for the {branch} branch's organisers: you are part of the party now.\n"
        "• Canvass every week: /canvass schedule sets the weekly session, and members sign "
        "up with /canvass.\n"
        "• Decide together with /poll; councils and delegations are drawn by lot (/draw).",
        branch=b.name,
    ),
}


async def guide(ctx: Context, branch: Branch, step: str) -> None:
    """The organisers' short guide for the step the branch has reached, once each."""
    write = GUIDES[step]
    await enqueue_for(
        ctx.session,
        organisers_of(branch),
        key=f"guide:{step}:{branch.id}",
        render=lambda t: write(t, branch, ctx),
        now=ctx.now,
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
        status=status_label(ctx, to),
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
