"""Answering a meeting (Going / Maybe / Can't, the waiting list, Calendar) and
/meetings [past] [branch], the list with those buttons and the past minutes."""

from __future__ import annotations

from sqlalchemy import ColumnElement

from bot.branches.queries import search
from bot.kernel.actions import Action
from bot.kernel.context import Context
from bot.kernel.i18n import N_, format_local
from bot.kernel.messages import Attachment, Button, Reply
from bot.kernel.permissions import holds_at_branch
from bot.kernel.registry import action, command
from bot.lib.ics import ICS_TYPE, calendar_file
from bot.meetings.access import (
    button_meeting,
    button_rows,
    may_answer,
    own_branch,
    private_refusal,
)
from bot.meetings.answers import answer
from bot.meetings.queries import PLACES, coming_meetings, going_now, my_answers, past_meetings
from bot.meetings.rules import running
from bot.meetings.texts import (
    answer_buttons,
    answer_row,
    calendar_event,
    here_reply,
    kind_label,
    my_answer_note,
    places_note,
    where_line,
)
from storage.models import Branch, Meeting, Person
from storage.vocabulary import (
    ASSEMBLY,
    ORGANISER,
    RSVP_GOING,
    RSVP_MAYBE,
    RSVP_NO,
    RSVP_WAITING,
)

LIST_LIMIT = 5  # four buttons each: Discord shows 25 at most
CHUNK = 1900  # a reply's text stays under Discord's 2000 characters


# --- answering ---------------------------------------------------------------------


async def _answer_pressed(ctx: Context, target: str, wanted: str) -> Reply:
    person = ctx.require_person()
    meeting, branch = await button_meeting(ctx, target)
    tz = branch.timezone
    if not await may_answer(ctx, meeting, branch):
        raise ctx.stale(audit="meeting.answer")  # another branch's: it says nothing
    if meeting.cancelled_at is not None:
        raise private_refusal(ctx.t("{title} was cancelled.", title=meeting.title))
    if meeting.starts_at <= ctx.now:
        raise private_refusal(ctx.t("{title} has already started.", title=meeting.title))
    status = await answer(ctx, meeting, branch, person.id, wanted)
    when = format_local(meeting.starts_at, "datetime_zone", ctx.t, tz=tz)
    if status == RSVP_GOING:
        text = (
            ctx.t("You're going ✓ to {title}, {when}.", title=meeting.title, when=when)
            + "\n"
            + where_line(ctx.t, meeting.kind, meeting.place)
        )
    elif status == RSVP_WAITING:
        text = ctx.t(
            "{title} is full, so you're on the waiting list; you'll be told as soon as a "
            "place opens.",
            title=meeting.title,
        )
    elif status == RSVP_MAYBE:
        text = ctx.t("Noted: maybe, for {title}, {when}.", title=meeting.title, when=when)
    else:
        text = ctx.t(
            "Noted: you can't come to {title}, {when}. Thank you for saying.",
            title=meeting.title,
            when=when,
        )
    return Reply(text, buttons=button_rows(answer_buttons(ctx.t, meeting.id)), private=True)


@action(Action.MEETING_GOING)
async def going_pressed(ctx: Context, target: str) -> Reply:
    return await _answer_pressed(ctx, target, RSVP_GOING)


@action(Action.MEETING_MAYBE)
async def maybe_pressed(ctx: Context, target: str) -> Reply:
    return await _answer_pressed(ctx, target, RSVP_MAYBE)


@action(Action.MEETING_NO)
async def cannot_pressed(ctx: Context, target: str) -> Reply:
    return await _answer_pressed(ctx, target, RSVP_NO)


@action(Action.MEETING_ICS)
async def calendar_pressed(ctx: Context, target: str) -> Reply:
    ctx.require_person()
    meeting, branch = await button_meeting(ctx, target)
    if not await may_answer(ctx, meeting, branch):
        raise ctx.stale(audit="meeting.calendar")
    event = calendar_event(meeting, branch, ctx.settings.party_name)
    content = calendar_file([event], product="meetings", stamp=ctx.now)
    return Reply(
        ctx.t("Add it to your calendar:"),
        file=Attachment(f"meeting-{meeting.id}.ics", content, ICS_TYPE),
        private=True,
    )


# --- /meetings ---------------------------------------------------------------------


@command("meetings", N_("your branch's meetings"))
async def meetings_command(ctx: Context) -> list[Reply]:
    person = ctx.require_person()
    words = ctx.request.args.split()
    past = bool(words) and words[0].lower() == "past"
    name = " ".join(words[1:] if past else words)
    branch: Branch | None
    if name:
        exact, found = await search(ctx, name)
        branch = exact or (found[0] if len(found) == 1 else None)
        if branch is None:
            raise ctx.refuse(ctx.t("There is no branch called {name}.", name=name[:40]))
    else:
        branch = await own_branch(ctx)
    if branch is None and past:
        raise ctx.refuse(ctx.t("Name a branch: /meetings past Frome"))
    insider = branch is not None and (
        person.branch_id == branch.id or holds_at_branch(await ctx.grants(), ORGANISER, branch)
    )
    staff = branch is not None and holds_at_branch(await ctx.grants(), ORGANISER, branch)
    where: list[ColumnElement[bool]] = [Meeting.cancelled_at.is_(None)]
    if branch is not None:
        where.append(Meeting.branch_id == branch.id)
    if not insider:
        where.append(Meeting.kind == ASSEMBLY)
    if past:
        assert branch is not None
        return _past(ctx, branch, staff, await past_meetings(ctx, where))
    now = [m for m in await going_now(ctx, person) if running(m, ctx.now)]
    if now:
        text, rows = here_reply(ctx.t, now)
        return [Reply(text, buttons=rows), await _upcoming(ctx, branch, person, staff, where)]
    return [await _upcoming(ctx, branch, person, staff, where)]


async def _upcoming(
    ctx: Context,
    branch: Branch | None,
    person: Person,
    staff: bool,
    where: list[ColumnElement[bool]],
) -> Reply:
    rows = await coming_meetings(ctx, where, LIST_LIMIT)
    if not rows:
        if branch is None:
            return Reply(
                ctx.t(
                    "No people's assembly is coming up. Join your local branch to hear of "
                    "its meetings: /join and your town or postcode."
                )
            )
        return Reply(
            ctx.t(
                "No meetings of the {branch} branch are coming up. Past meetings and their "
                "minutes: /meetings past",
                branch=branch.name,
            )
        )
    ids = [m.id for m, _ in rows]
    going = await PLACES.counts_going(ctx.session, ids)
    mine = await my_answers(ctx, person, ids)
    if branch is not None:
        lines = [ctx.t("Coming meetings of the {branch} branch:", branch=branch.name)]
    else:
        lines = [ctx.t("Coming people's assemblies, open to everyone:")]
    buttons = []
    for n, (meeting, home) in enumerate(rows, 1):
        going_n, my_answer = going.get(meeting.id, 0), mine.get(meeting.id)
        parts = [
            f"{n}. {format_local(meeting.starts_at, 'datetime', ctx.t, tz=home.timezone)}",
            f"{meeting.title} ({kind_label(ctx.t, meeting.kind)})",
            meeting.place,
        ]
        if branch is None:
            parts.append(home.name)
        places = places_note(ctx.t, meeting, going_n)
        parts += [p for p in (places, my_answer_note(ctx.t, my_answer)) if p]
        if staff:
            parts.append(f"#{meeting.id}")
        lines.append(" · ".join(parts))
        buttons.append(answer_row(ctx.t, n, meeting, going_n, my_answer))
    zones = sorted({ctx.t.zone or home.timezone for _, home in rows})  # the reader's
    lines.append(
        ctx.t(
            "Times are {tz} time. Past meetings and their minutes: /meetings past",
            tz=", ".join(zones),
        )
    )
    return Reply("\n".join(lines), buttons=tuple(buttons))


def _past(ctx: Context, branch: Branch, staff: bool, rows: list[Meeting]) -> list[Reply]:
    if not rows:
        return [Reply(ctx.t("The {branch} branch has held no meetings yet.", branch=branch.name))]
    blocks = [ctx.t("The last meetings of the {branch} branch:", branch=branch.name)]
    buttons = []
    for n, meeting in enumerate(rows, 1):
        head = (
            f"{n}. {format_local(meeting.starts_at, 'datetime', ctx.t, tz=branch.timezone)}"
            f" · {meeting.title} "
            f"({kind_label(ctx.t, meeting.kind)})"
        )
        if staff:
            head += f" · #{meeting.id}"
        if meeting.held_at is None and staff:
            buttons.append((Button(ctx.t("Held {n}", n=n), Action.MEETING_HELD, str(meeting.id)),))
        minutes = (
            ctx.t("Minutes: {text}", text=meeting.minutes)
            if meeting.minutes
            else ctx.t("No minutes recorded.")
        )
        blocks.append(f"{head}\n{minutes}")
    chunks: list[str] = []
    for block in blocks:
        if chunks and len(chunks[-1]) + len(block) + 2 <= CHUNK:
            chunks[-1] += "\n\n" + block
        else:
            chunks.append(block)
    replies = [Reply(chunk) for chunk in chunks]
    if buttons:
        replies[-1] = Reply(replies[-1].text, buttons=tuple(buttons))
    return replies
