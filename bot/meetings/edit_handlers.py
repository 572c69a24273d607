"""The organiser's view of a meeting and changing it: /meeting show, edit, cancel,
and Undo (restore); those who answered are told."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from bot.kernel.actions import Action
from bot.kernel.context import Context
from bot.kernel.effects import audit, notify
from bot.kernel.i18n import format_local
from bot.kernel.messages import Button, Reply
from bot.kernel.registry import action
from bot.lib.when import WhenError, read_when
from bot.lib.when_words import words_of
from bot.meetings.access import (
    gate,
    staff_meeting,
)
from bot.meetings.answers import let_in
from bot.meetings.parsing import CAPACITY_LIMIT, LINK, LINK_LIMIT, PLACE_LIMIT, TITLE_LIMIT
from bot.meetings.queries import answer_counts, answered, anyone_who_answered, later_in_series
from bot.meetings.texts import (
    answer_buttons,
    cancelled_notice,
    kind_label,
    moved_notice,
    new_place_notice,
    renamed_notice,
    when_problem,
    where_line,
)
from storage.models import Branch, Meeting
from storage.vocabulary import (
    ONLINE,
    RSVP_GOING,
    RSVP_MAYBE,
    RSVP_NO,
    RSVP_WAITING,
)

# --- the organiser's view, edits and cancelling ---------------------------------------


async def show(ctx: Context, ref: str) -> Reply:
    meeting, branch = await staff_meeting(ctx, ref, "meeting.show")
    counts = await answer_counts(ctx, meeting)
    lines = [
        f"#{meeting.id} {meeting.title} ({kind_label(ctx.t, meeting.kind)})",
        format_local(meeting.starts_at, "datetime_zone", ctx.t, tz=branch.timezone),
        where_line(ctx.t, meeting.kind, meeting.place),
        ctx.t(
            "Going: {going} · Maybe: {maybe} · Waiting: {waiting} · Can't: {no}",
            going=counts.get(RSVP_GOING, 0),
            maybe=counts.get(RSVP_MAYBE, 0),
            waiting=counts.get(RSVP_WAITING, 0),
            no=counts.get(RSVP_NO, 0),
        ),
        ctx.t.plural("{n} place", "{n} places", meeting.capacity)
        if meeting.capacity
        else ctx.t("No limit on places."),
    ]
    buttons: list[Button] = []
    if meeting.cancelled_at is not None:
        lines.append(ctx.t("Cancelled."))
        if meeting.starts_at > ctx.now:
            buttons.append(Button(ctx.t("Restore"), Action.MEETING_RESTORE, str(meeting.id)))
    elif meeting.held_at is not None:
        lines.append(ctx.t("Held ✓"))
    elif meeting.starts_at <= ctx.now:
        buttons.append(Button(ctx.t("Mark as held"), Action.MEETING_HELD, str(meeting.id)))
    if meeting.minutes:
        lines.append(ctx.t("Minutes: {text}", text=meeting.minutes))
    return Reply("\n".join(lines), buttons=(tuple(buttons),) if buttons else ())


def _changed(meeting: Meeting) -> None:
    meeting.version = (meeting.version or 1) + 1


async def edit(ctx: Context, text: str) -> Reply:
    parts = text.split(None, 2)
    usage = ctx.t("Usage: /meeting edit <id> time|place|capacity|title <value>")
    if len(parts) < 3:
        raise ctx.refuse(usage)
    meeting, branch = await staff_meeting(ctx, parts[0], "meeting.edit")
    what, value = parts[1].lower(), parts[2].strip()
    await ctx.session.refresh(meeting, with_for_update=True)
    if meeting.cancelled_at is not None or meeting.starts_at <= ctx.now:
        raise ctx.refuse(
            ctx.t(
                "{title} was cancelled or has started: it can no longer be changed.",
                title=meeting.title,
            )
        )
    tz = branch.timezone
    if what == "time":
        try:
            when = read_when(value, ctx.now, ZoneInfo(tz), words=words_of(ctx.t))
        except WhenError as exc:
            raise ctx.refuse(when_problem(ctx.t, exc)) from None
        if when.at == meeting.starts_at:
            raise ctx.refuse(ctx.t("Nothing to change: that is already recorded."))
        meeting.starts_at = when.at
        render = moved_notice(meeting, branch)
        reply = ctx.t(
            "{title} is now {when}; those who answered have been told.",
            title=meeting.title,
            when=format_local(when.at, "datetime_zone", ctx.t, tz=tz),
        )
    elif what == "place":
        value = _clean(value.strip('"“”'))
        if meeting.kind == ONLINE:
            if not LINK.fullmatch(value):
                raise ctx.refuse(ctx.t("An online call needs a link starting https://."))
            limit = LINK_LIMIT
        else:
            limit = PLACE_LIMIT
        if not value or len(value) > limit:
            raise ctx.refuse(ctx.t("Please keep the place under {n} characters.", n=limit))
        meeting.place = value
        render = new_place_notice(meeting, branch)
        reply = ctx.t("Changed; those who answered have been told.")
    elif what == "title":
        value = _clean(value.strip('"“”'))
        if not value or len(value) > TITLE_LIMIT:
            raise ctx.refuse(ctx.t("Please keep the title under {n} characters.", n=TITLE_LIMIT))
        render = renamed_notice(meeting, branch, value)
        meeting.title = value
        reply = ctx.t("Changed; those who answered have been told.")
    elif what == "capacity":
        return await _edit_capacity(ctx, meeting, branch, value)
    else:
        raise ctx.refuse(usage)
    _changed(meeting)
    audit(ctx, "meeting.edited", branch=branch, meeting=meeting.id, field=what)
    await notify(
        ctx,
        anyone_who_answered(meeting) if what == "time" else answered(meeting),
        f"mtedit:{meeting.id}:{meeting.version}",
        render,
        buttons=lambda t: answer_buttons(t, meeting.id),
    )
    return Reply(reply)


def _clean(text: str) -> str:
    return " ".join("".join(ch for ch in text if ch.isprintable()).split())


async def _edit_capacity(ctx: Context, meeting: Meeting, branch: Branch, value: str) -> Reply:
    """More places let people in from the waiting list (and they are told); fewer
    places take nobody's place away."""
    if value.lower() == "none":
        capacity = None
    elif value.isascii() and value.isdigit() and len(value) <= 6:
        capacity = int(value)
        if not 1 <= capacity <= CAPACITY_LIMIT:
            raise ctx.refuse(ctx.t("The capacity must be from 1 to {n}.", n=CAPACITY_LIMIT))
    else:
        raise ctx.refuse(ctx.t("The capacity must be from 1 to {n}.", n=CAPACITY_LIMIT))
    meeting.capacity = capacity
    _changed(meeting)
    await let_in(ctx, meeting, branch)
    audit(ctx, "meeting.edited", branch=branch, meeting=meeting.id, field="capacity")
    places = ctx.t.plural("{n} place", "{n} places", capacity) if capacity else ctx.t("no limit")
    return Reply(ctx.t("Capacity is now {places}.", places=places))


async def cancel(ctx: Context, words: list[str]) -> Reply:
    if not words or len(words) > 2 or (len(words) == 2 and words[1].lower() != "all"):
        raise ctx.refuse(ctx.t("Usage: /meeting cancel <id> [all]"))
    meeting, branch = await staff_meeting(ctx, words[0], "meeting.cancel")
    await ctx.session.refresh(meeting, with_for_update=True)
    if meeting.cancelled_at is not None:
        raise ctx.refuse(ctx.t("{title} is already cancelled.", title=meeting.title))
    if meeting.starts_at <= ctx.now:
        raise ctx.refuse(ctx.t("{title} has already started.", title=meeting.title))
    targets = [meeting]
    if len(words) == 2 and meeting.series_id is not None:
        targets += await later_in_series(ctx, meeting)
    for row in targets:
        row.cancelled_at = ctx.now
        _changed(row)
        await notify(
            ctx, answered(row), f"mtcancel:{row.id}:{row.version}", cancelled_notice(row, branch)
        )
    audit(ctx, "meeting.cancelled", branch=branch, meetings=[m.id for m in targets])
    text = ctx.t.plural(
        "Cancelled {n} meeting; those who answered have been told.",
        "Cancelled {n} meetings; those who answered have been told.",
        len(targets),
    )
    if len(targets) > 1:
        return Reply(text)
    return Reply(text, buttons=((Button(ctx.t("Undo"), Action.MEETING_RESTORE, str(meeting.id)),),))


@action(Action.MEETING_RESTORE)
async def restore_pressed(ctx: Context, target: str) -> Reply:
    """Undo a cancellation while the meeting is still to come; those who answered
    are told it is back on."""
    await gate(ctx)
    meeting, branch = await staff_meeting(ctx, target, "meeting.restore")
    await ctx.session.refresh(meeting, with_for_update=True)
    if meeting.cancelled_at is None or meeting.starts_at <= ctx.now:
        raise ctx.stale()
    meeting.cancelled_at = None
    _changed(meeting)
    title, at, tz = meeting.title, meeting.starts_at, branch.timezone
    await notify(
        ctx,
        answered(meeting),
        f"mtback:{meeting.id}:{meeting.version}",
        lambda t: t(
            "Back on: {title}, {when}, takes place after all.",
            title=title,
            when=format_local(at, "datetime_zone", t, tz=tz),
        ),
        buttons=lambda t: answer_buttons(t, meeting.id),
    )
    audit(ctx, "meeting.restored", branch=branch, meeting=meeting.id)
    return Reply(
        ctx.t(
            "Undone: {title}, {when}, is back on; those who answered have been told.",
            title=title,
            when=format_local(at, "datetime_zone", ctx.t, tz=tz),
        ),
        edit=True,
    )
