"""Who may arrange meetings, who may answer one, and which meeting an id or a button names.

Shared by the meeting handlers: the organiser's gate and own branch, the meeting an
organiser names (one out of reach reads like one that does not exist), a button's
meeting, and whether the person may answer it (``bot.meetings.rules``)."""

from __future__ import annotations

from collections.abc import Sequence

from bot.branches.handlers import require_staff
from bot.kernel.context import Context, Refusal, parse_id
from bot.kernel.messages import Button, Reply
from bot.kernel.permissions import holds_anywhere, holds_at_branch
from bot.meetings.rules import answers_by_right
from storage.models import Branch, Meeting, Person
from storage.vocabulary import (
    ORGANISER,
)


def private_refusal(text: str) -> Refusal:
    return Refusal(Reply(text, error=True, private=True))


async def own_branch(ctx: Context) -> Branch | None:
    person = ctx.require_person()
    return await ctx.session.get(Branch, person.branch_id) if person.branch_id else None


async def gate(ctx: Context) -> Person:
    """Only organisers (and admins, who hold an organiser's powers) arrange meetings."""
    person = ctx.require_person()
    if holds_anywhere(await ctx.grants(), ORGANISER):
        return person
    branch = await own_branch(ctx)
    if branch is not None:
        await require_staff(ctx, branch, (ORGANISER,), "meeting")
    raise ctx.refuse(
        ctx.t("Only a branch's organisers (or admins above it) can arrange meetings."),
        audit="meeting",
    )


async def organised_branch(ctx: Context) -> Branch:
    """The organiser's own branch, which they organise."""
    branch = await own_branch(ctx)
    if branch is None:
        raise ctx.refuse(
            ctx.t("Meetings are arranged for your own branch, and you are not in one.")
        )
    await require_staff(ctx, branch, (ORGANISER,), "meeting")
    return branch


async def staff_meeting(ctx: Context, ref: str, what: str) -> tuple[Meeting, Branch]:
    """The meeting an organiser names by id, if they organise its branch. A meeting out
    of their reach reads exactly like one that does not exist."""
    meeting_id = parse_id(ref)
    meeting = await ctx.session.get(Meeting, meeting_id) if meeting_id else None
    branch = await ctx.session.get(Branch, meeting.branch_id) if meeting else None
    if (
        meeting is None
        or branch is None
        or not holds_at_branch(await ctx.grants(), ORGANISER, branch)
    ):
        raise ctx.refuse(
            ctx.t(
                "There is no meeting {id} in a branch you organise. /meetings shows their ids.",
                id=ref[:12],
            ),
            audit=what if meeting is not None else None,
        )
    return meeting, branch


async def may_answer(ctx: Context, meeting: Meeting, branch: Branch) -> bool:
    """People of the branch and its organisers (and admins above); anyone who agreed
    to the privacy notice for an assembly."""
    person = ctx.person
    if person is None:
        return False
    if answers_by_right(person, meeting, branch):
        return True
    return holds_at_branch(await ctx.grants(), ORGANISER, branch)


async def button_meeting(ctx: Context, target: str) -> tuple[Meeting, Branch]:
    meeting_id = parse_id(target)
    meeting = await ctx.session.get(Meeting, meeting_id) if meeting_id else None
    branch = await ctx.session.get(Branch, meeting.branch_id) if meeting else None
    if meeting is None or branch is None:
        raise ctx.stale()
    return meeting, branch


def button_rows(rows: Sequence[Sequence[Button]]) -> tuple[tuple[Button, ...], ...]:
    return tuple(tuple(r) for r in rows)
