"""After the meeting: /meeting held, the door sheet of who came (/meeting came, its
name, guest and Done buttons; a forming branch's founding steps) and the minutes."""

from __future__ import annotations

from bot.branches.formation import first_call_held, first_meeting_attended
from bot.branches.queries import attendance
from bot.branches.rules import counts_as_first_meeting
from bot.kernel.actions import Action
from bot.kernel.context import Context, parse_id
from bot.kernel.effects import audit
from bot.kernel.i18n import format_local
from bot.kernel.messages import Button, Reply
from bot.kernel.people import resolve_reference
from bot.kernel.registry import action
from bot.meetings.access import (
    gate,
    staff_meeting,
)
from bot.meetings.queries import (
    answer_of,
    check_in,
    door_list,
    marked_ids,
    may_mark,
    toggle_attendance,
)
from bot.meetings.rules import MINUTES_LIMIT, running
from storage.models import Branch, Meeting, Person
from storage.vocabulary import (
    ONLINE,
    RSVP_GOING,
)

# --- after the meeting -------------------------------------------------------------


async def held(ctx: Context, ref: str) -> Reply:
    meeting, branch = await staff_meeting(ctx, ref, "meeting.held")
    return await _mark_held(ctx, meeting, branch)


@action(Action.MEETING_HELD)
async def held_pressed(ctx: Context, target: str) -> Reply:
    await gate(ctx)
    meeting, branch = await staff_meeting(ctx, target, "meeting.held")
    return await _mark_held(ctx, meeting, branch)


async def _mark_held(ctx: Context, meeting: Meeting, branch: Branch) -> Reply:
    """It took place. A proposed or forming branch's first online call is recorded;
    for a face-to-face meeting (or assembly) the organiser is asked who came."""
    await ctx.session.refresh(meeting, with_for_update=True)
    when = format_local(meeting.starts_at, "datetime_zone", ctx.t, tz=branch.timezone)
    if meeting.cancelled_at is not None:
        raise ctx.refuse(ctx.t("{title} was cancelled.", title=meeting.title))
    if meeting.starts_at > ctx.now:
        raise ctx.refuse(
            ctx.t("{title} has not started yet: it is on {when}.", title=meeting.title, when=when)
        )
    if meeting.held_at is not None:
        raise ctx.refuse(ctx.t("{title} is already recorded as held.", title=meeting.title))
    meeting.held_at = ctx.now
    audit(ctx, "meeting.held", branch=branch, meeting=meeting.id)
    lines = [ctx.t("Recorded: {title}, {when}, was held.", title=meeting.title, when=when)]
    await ctx.session.flush()
    await ctx.session.refresh(branch, with_for_update=True)
    edit = ctx.request.action is not None
    if meeting.kind == ONLINE:
        first = await first_call_held(ctx, branch, meeting)
        if first:
            lines.append(first)
        lines.append(ctx.t("Record what was decided: /meeting minutes {id} <text>", id=meeting.id))
        return Reply("\n".join(lines), edit=edit)
    sheet = await _sheet(ctx, meeting, branch)
    return Reply("\n".join([*lines, sheet.text]), buttons=sheet.buttons, edit=edit)


# --- who came ------------------------------------------------------------------------

SHEET_ROWS, SHEET_COLUMNS = 4, 4  # with the last row, 5 rows: Discord's limit
GUESTS_LIMIT = 2000


async def _sheet(ctx: Context, meeting: Meeting, branch: Branch) -> Reply:
    marked = await marked_ids(ctx, meeting)
    shown, listed = await door_list(ctx, meeting, SHEET_ROWS * SHEET_COLUMNS)
    came = await attendance(ctx, meeting)
    lines = [
        ctx.t(
            "Who came to {title}, {when}? Press the name of each person who came (again to "
            "undo), count anyone else with + Guest, then Done.",
            title=meeting.title,
            when=format_local(meeting.starts_at, "datetime_zone", ctx.t, tz=branch.timezone),
        ),
        ctx.t("So far: {came}.", came=ctx.t.plural("{n} person came", "{n} people came", came))
        if not meeting.guests
        else ctx.t(
            "So far: {came}, counting {guests}.",
            came=ctx.t.plural("{n} person came", "{n} people came", came),
            guests=ctx.t.plural("{n} guest", "{n} guests", meeting.guests),
        ),
    ]
    if listed > len(shown):
        lines.append(
            ctx.t(
                "Mark the others by short id or @handle: /meeting came {id} <who>",
                id=meeting.id,
            )
        )
    buttons: list[tuple[Button, ...]] = [
        tuple(
            Button(
                ("✓ " if p.id in marked else "") + p.display_name[:40],
                Action.MEETING_CAME,
                f"{meeting.id}.{p.id}",
            )
            for p in shown[i : i + SHEET_COLUMNS]
        )
        for i in range(0, len(shown), SHEET_COLUMNS)
    ]
    buttons.append(
        (
            Button(ctx.t("+ Guest"), Action.MEETING_GUEST, f"{meeting.id}.+"),
            Button(ctx.t("− Guest"), Action.MEETING_GUEST, f"{meeting.id}.-"),
            Button(ctx.t("Done"), Action.MEETING_DONE, str(meeting.id)),
        )
    )
    return Reply("\n".join(lines), buttons=tuple(buttons))


@action(Action.MEETING_HERE)
async def here_pressed(ctx: Context, target: str) -> Reply:
    """I'm here: from the meeting's start until it ends, for those going to it. An
    organiser's door sheet shows them ticked (and can untick a mistake)."""
    person = ctx.require_person()
    meeting_id = parse_id(target)
    meeting = await ctx.session.get(Meeting, meeting_id) if meeting_id else None
    if meeting is None or meeting.cancelled_at is not None:
        raise ctx.stale()
    if not running(meeting, ctx.now):
        raise ctx.refuse(
            ctx.t(
                "Checking in to {title} is open from its start until it ends.",
                title=meeting.title,
            )
        )
    rsvp = await answer_of(ctx.session, meeting, person.id)
    if rsvp is None or rsvp.answer != RSVP_GOING:
        raise ctx.refuse(
            ctx.t(
                "You're not down as going to {title}: an organiser can mark you at the door.",
                title=meeting.title,
            )
        )
    if not await check_in(ctx, meeting, person):
        return Reply(
            ctx.t("You're already checked in to {title} ✓", title=meeting.title), private=True
        )
    return Reply(ctx.t("Checked in to {title} ✓ Welcome!", title=meeting.title), private=True)


async def _held_meeting(ctx: Context, ref: str) -> tuple[Meeting, Branch]:
    meeting, branch = await staff_meeting(ctx, ref, "meeting.came")
    await ctx.session.refresh(meeting, with_for_update=True)
    if meeting.held_at is None:
        raise ctx.refuse(
            ctx.t(
                "{title} is not recorded as held yet: /meeting held {id} first.",
                title=meeting.title,
                id=meeting.id,
            )
        )
    return meeting, branch


async def came(ctx: Context, words: list[str]) -> Reply:
    """/meeting came <id> shows the door sheet; /meeting came <id> <who> marks (or
    unmarks) one person of the branch or on the meeting's list."""
    if not words:
        raise ctx.refuse(ctx.t("Usage: /meeting came <id> [short id or @handle]"))
    meeting, branch = await _held_meeting(ctx, words[0])
    if len(words) > 1:
        ref = " ".join(words[1:])
        found = [
            p for p in await resolve_reference(ctx.session, ref) if await may_mark(ctx, meeting, p)
        ]
        if len(found) != 1:
            raise ctx.refuse(
                ctx.t(
                    "{ref} is nobody in the {branch} branch or on the meeting's list: give "
                    "their short id (from the Members list) or @handle.",
                    ref=ref[:40],
                    branch=branch.name,
                )
            )
        await toggle_attendance(ctx, meeting, found[0])
    return await _sheet(ctx, meeting, branch)


def _two(target: str) -> tuple[str, str]:
    first, _, second = target.partition(".")
    return first, second


@action(Action.MEETING_CAME)
async def came_pressed(ctx: Context, target: str) -> Reply:
    await gate(ctx)
    meeting_ref, person_ref = _two(target)
    meeting, branch = await _held_meeting(ctx, meeting_ref)
    person_id = parse_id(person_ref)
    person = await ctx.session.get(Person, person_id) if person_id else None
    if person is None or not await may_mark(ctx, meeting, person):
        raise ctx.stale()
    await toggle_attendance(ctx, meeting, person)
    sheet = await _sheet(ctx, meeting, branch)
    return Reply(sheet.text, buttons=sheet.buttons, edit=True)


@action(Action.MEETING_GUEST)
async def guest_pressed(ctx: Context, target: str) -> Reply:
    await gate(ctx)
    meeting_ref, sign = _two(target)
    if sign not in ("+", "-"):
        raise ctx.stale()
    meeting, branch = await _held_meeting(ctx, meeting_ref)
    meeting.guests = max(0, min(GUESTS_LIMIT, meeting.guests + (1 if sign == "+" else -1)))
    sheet = await _sheet(ctx, meeting, branch)
    return Reply(sheet.text, buttons=sheet.buttons, edit=True)


@action(Action.MEETING_DONE)
async def came_done(ctx: Context, target: str) -> Reply:
    """The sheet is finished: the count is recorded, and for a forming branch's
    first face-to-face meeting the founding step is taken when enough came."""
    await gate(ctx)
    meeting, branch = await _held_meeting(ctx, target)
    await ctx.session.refresh(branch, with_for_update=True)
    came = await attendance(ctx, meeting)
    audit(ctx, "meeting.attendance", branch=branch, meeting=meeting.id, came=came)
    lines = [
        ctx.t(
            "Recorded: {came} to {title}.",
            came=ctx.t.plural("{n} person came", "{n} people came", came),
            title=meeting.title,
        )
    ]
    if counts_as_first_meeting(branch, meeting):
        lines.append(await first_meeting_attended(ctx, branch, meeting))
    lines.append(ctx.t("Record what was decided: /meeting minutes {id} <text>", id=meeting.id))
    return Reply("\n".join(lines), edit=True)


async def minutes(ctx: Context, text: str) -> Reply:
    """Minutes replace those recorded before; text starting with "+" is added to them
    (a message holds at most 1000 characters, the minutes up to 2000)."""
    parts = text.split(None, 1)
    body = parts[1].strip() if len(parts) > 1 else ""
    more = body.startswith("+")
    body = body.removeprefix("+").strip()
    if not body:
        raise ctx.refuse(
            ctx.t(
                "Usage: /meeting minutes <id> <what was decided>; start the text with + to "
                "add to the minutes already recorded."
            )
        )
    meeting, branch = await staff_meeting(ctx, parts[0], "meeting.minutes")
    minutes = "\n".join(
        "".join(ch for ch in line if ch.isprintable()).rstrip() for line in body.splitlines()
    )
    if more and meeting.minutes:
        minutes = f"{meeting.minutes}\n{minutes}"
    if len(minutes) > MINUTES_LIMIT:
        raise ctx.refuse(ctx.t("Please keep the minutes under {n} characters.", n=MINUTES_LIMIT))
    if meeting.cancelled_at is not None:
        raise ctx.refuse(ctx.t("{title} was cancelled.", title=meeting.title))
    if meeting.starts_at > ctx.now:
        raise ctx.refuse(
            ctx.t(
                "{title} has not started yet: it is on {when}.",
                title=meeting.title,
                when=format_local(meeting.starts_at, "datetime_zone", ctx.t, tz=branch.timezone),
            )
        )
    meeting.minutes = minutes
    meeting.minutes_by = ctx.person.id if ctx.person else None
    audit(ctx, "meeting.minutes", branch=branch, meeting=meeting.id)
    return Reply(
        ctx.t(
            "Minutes recorded for {title}, {when}. Everyone can read them with /meetings past.",
            title=meeting.title,
            when=format_local(meeting.starts_at, "datetime", ctx.t, tz=branch.timezone),
        )
    )
