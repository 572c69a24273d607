"""Arranging a meeting: the one-line /meeting, the guided steps (kind, time, place),
the echo with Confirm and Cancel, and posting it (and its series)."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal
from zoneinfo import ZoneInfo

from bot.branches.handlers import require_staff
from bot.kernel.actions import Action
from bot.kernel.context import Context
from bot.kernel.effects import announce, audit
from bot.kernel.i18n import format_local
from bot.kernel.messages import Button, Reply
from bot.kernel.registry import action
from bot.lib.when import WhenError, read_when, recurrences, wall_text
from bot.lib.when_words import words_of
from bot.meetings.access import (
    button_rows,
    gate,
    organised_branch,
)
from bot.meetings.parsing import Draft, LineError, parse_kind, parse_line
from bot.meetings.queries import draft_of
from bot.meetings.texts import (
    announcement,
    answer_buttons,
    default_title,
    kind_label,
    series_line,
    when_problem,
    where_line,
)
from storage.models import Branch, Meeting, Person, Prompt
from storage.vocabulary import (
    ASSEMBLY,
    ONLINE,
    ORGANISER,
)

DRAFT_LIFETIME = dt.timedelta(hours=1)


def usage(ctx: Context, tz: str) -> str:
    return ctx.t(
        "In one line: /meeting <online|in-person|assembly> <date and time> <link or place> "
        "[title] [cap N] [weekly|monthly [xN]], for example:\n"
        "/meeting online next tue 19:00 https://meet.example/abc Branch call\n"
        '/meeting in-person 2026-12-03 19:00 "Library, Market St" "Branch meeting" cap 30 '
        "weekly\n"
        "Times are {tz} time.\n"
        "Then: /meeting show|held|came|cancel <id>, /meeting edit <id> time|place|capacity|title "
        "<value>, /meeting minutes <id> [+]<text>, /meeting reminders 24,1",
        tz=tz,
    )


def _line_problem(ctx: Context, error: LineError, tz: str) -> str:
    reason, p = error.reason, error.params
    if reason == "when":
        when_error = p["error"]
        assert isinstance(when_error, WhenError)
        return when_problem(ctx.t, when_error)
    if reason == "no_when":
        return ctx.t(
            "Please give the date and time after the kind, for example: /meeting online "
            "tomorrow 19:00 https://meet.example/abc"
        )
    if reason == "link":
        return ctx.t(
            "An online call needs its link (starting https://) after the date and time, "
            "for example: /meeting online tomorrow 19:00 https://meet.example/abc"
        )
    if reason == "no_place":
        return ctx.t(
            'Please give the place after the date and time, in quotes if a title follows: "Library, Market St".'
        )
    if reason == "place_too_long":
        return ctx.t("Please keep the place under {n} characters.", n=p["n"])
    if reason == "title_too_long":
        return ctx.t("Please keep the title under {n} characters.", n=p["n"])
    if reason == "capacity":
        return ctx.t("The capacity must be from 1 to {n}.", n=p["n"])
    if reason == "count":
        return ctx.t("A series can have from 1 to {n} meetings.", n=p["n"])
    if reason == "too_long":
        return ctx.t("That message is too long for me; please shorten it.")
    return usage(ctx, tz)


async def start(ctx: Context) -> Reply:
    branch = await organised_branch(ctx)
    return Reply(
        ctx.t(
            "A new meeting of the {branch} branch: which kind? Then I'll ask for the date "
            "and the place.",
            branch=branch.name,
        )
        + "\n\n"
        + usage(ctx, branch.timezone),
        buttons=(
            (
                Button(ctx.t("Online call"), Action.MEETING_KIND, ONLINE),
                Button(ctx.t("Face-to-face"), Action.MEETING_KIND, "in_person"),
                Button(ctx.t("People's assembly"), Action.MEETING_KIND, ASSEMBLY),
            ),
        ),
    )


@action(Action.MEETING_KIND)
async def kind_pressed(ctx: Context, target: str) -> Reply:
    kind = parse_kind(target)
    if kind is None:
        raise ctx.stale()
    await gate(ctx)
    branch = await organised_branch(ctx)
    await ctx.prompt("mtdraft", lifetime=DRAFT_LIFETIME, branch=branch.id, meeting_kind=kind)
    return Reply(
        ctx.t(
            "{kind}: when is it? Send /meeting and the date and time ({tz} time), for "
            "example /meeting 2026-12-03 19:00, /meeting tomorrow 19:00 or /meeting next "
            "tue 19:00.",
            kind=kind_label(ctx.t, kind).capitalize(),
            tz=branch.timezone,
        )
    )


async def pending_draft(ctx: Context) -> Prompt | None:
    return await draft_of(ctx.session, ctx.request.sender.key, ctx.now)


async def guided_step(ctx: Context, branch: Branch, draft: Prompt, text: str) -> Reply:
    kind = str(draft.payload.get("meeting_kind"))
    if draft.payload.get("branch") != branch.id or parse_kind(kind) is None:
        raise ctx.refuse(usage(ctx, branch.timezone))
    when_typed = draft.payload.get("when")
    if not when_typed:
        try:
            when = read_when(text, ctx.now, ZoneInfo(branch.timezone), words=words_of(ctx.t))
        except WhenError as exc:
            raise ctx.refuse(when_problem(ctx.t, exc)) from None
        await ctx.take_prompt(str(draft.id), "mtdraft")
        await ctx.prompt(
            "mtdraft",
            lifetime=DRAFT_LIFETIME,
            branch=branch.id,
            meeting_kind=kind,
            when=wall_text(when.local),
        )
        shown = format_local(when.at, "datetime_zone", ctx.t, tz=branch.timezone)
        if kind == ONLINE:
            ask = ctx.t(
                "{when}. Now the link, and a title if you like: /meeting "
                "https://meet.example/abc Branch call",
                when=shown,
            )
        else:
            ask = ctx.t(
                '{when}. Now the place: /meeting "Library, Market St", optionally followed '
                'by a title in quotes, "cap 30" and "weekly".',
                when=shown,
            )
        return Reply(ask)
    try:
        parsed = parse_line(
            f"{kind} {when_typed} {text}",
            ctx.now,
            ZoneInfo(branch.timezone),
            words=words_of(ctx.t),
        )
    except LineError as exc:
        raise ctx.refuse(_line_problem(ctx, exc, branch.timezone)) from None
    await ctx.take_prompt(str(draft.id), "mtdraft")
    return await _echo(ctx, branch, parsed)


async def from_line(ctx: Context, branch: Branch, text: str) -> Reply:
    try:
        parsed = parse_line(text, ctx.now, ZoneInfo(branch.timezone), words=words_of(ctx.t))
    except LineError as exc:
        raise ctx.refuse(_line_problem(ctx, exc, branch.timezone)) from None
    return await _echo(ctx, branch, parsed)


async def _echo(ctx: Context, branch: Branch, draft: Draft) -> Reply:
    """The meeting as understood, its time with weekday and zone, to confirm."""
    tz = branch.timezone
    rule: Literal["weekly", "monthly"] = "monthly" if draft.rule == "monthly" else "weekly"
    times = (
        recurrences(draft.when.at, ZoneInfo(tz), rule, draft.count)
        if draft.rule
        else [draft.when.at]
    )
    title = draft.title or default_title(ctx.t, draft.kind, branch)
    prompt = await ctx.prompt(
        "mtnew",
        branch=branch.id,
        meeting_kind=draft.kind,
        title=title,
        place=draft.place,
        capacity=draft.capacity,
        rule=draft.rule,
        times=[t.isoformat() for t in times],
    )
    when = format_local(draft.when.at, "datetime_zone", ctx.t, tz=tz)
    if draft.when.ambiguous:
        when += " " + ctx.t(
            "(the first time it is {time} that night, before the clocks go back)",
            time=format_local(draft.when.at, "time", ctx.t, tz=tz),
        )
    lines = [
        f"{kind_label(ctx.t, draft.kind).capitalize()}: {title}",
        when,
        where_line(ctx.t, draft.kind, draft.place),
        ctx.t.plural("{n} place", "{n} places", draft.capacity)
        if draft.capacity
        else ctx.t("No limit on places."),
    ]
    if draft.kind == ASSEMBLY:
        lines.append(ctx.t("Open to everyone living in the area, in the branch or not."))
    if len(times) > 1:
        lines.append(series_line(ctx.t, draft.rule or "", times, tz))
    lines.append(ctx.t("Post it to the {branch} branch?", branch=branch.name))
    return Reply(
        "\n".join(lines),
        buttons=(
            (
                Button(ctx.t("Confirm"), Action.MEETING_CONFIRM, str(prompt.id)),
                Button(ctx.t("Cancel"), Action.MEETING_DROP, str(prompt.id)),
            ),
        ),
    )


@action(Action.MEETING_DROP)
async def drop_pressed(ctx: Context, target: str) -> Reply:
    await ctx.take_prompt(target, "mtnew", audit="meeting.confirm")
    return Reply(ctx.t("Cancelled: nothing was posted."), edit=True)


@action(Action.MEETING_CONFIRM)
async def confirm_pressed(ctx: Context, target: str) -> Reply:
    """Post the confirmed draft: its meetings are created, the branch is told, and the
    organiser gets the first one's id and the answer buttons."""
    person = ctx.require_person()
    prompt = await ctx.take_prompt(target, "mtnew", audit="meeting.confirm")
    data = prompt.payload
    branch, times = await _confirmed(ctx, data)
    created = await _create(ctx, person, branch, data, times)
    first = created[0]
    audit(ctx, "meeting.created", branch=branch, meeting=first.id, count=len(created))
    await announce(
        ctx,
        branch,
        f"mtnew:{first.id}",
        announcement(first, branch, str(data.get("rule")), times),
        buttons=lambda t: answer_buttons(t, first.id),
    )
    return Reply(
        ctx.t(
            "Posted to the {branch} branch: {title}, {when}. Its id is {id}, for /meeting "
            "show, edit, cancel, held, came and minutes.",
            branch=branch.name,
            title=first.title,
            when=format_local(first.starts_at, "datetime_zone", ctx.t, tz=branch.timezone),
            id=first.id,
        ),
        buttons=button_rows(answer_buttons(ctx.t, first.id)),
        edit=True,
    )


async def _confirmed(ctx: Context, data: dict[str, Any]) -> tuple[Branch, list[dt.datetime]]:
    """The draft's branch, if the organiser still organises it, and its times, if the
    first is still to come."""
    branch_id = data.get("branch")
    branch = await ctx.session.get(Branch, branch_id) if isinstance(branch_id, int) else None
    if branch is None:
        raise ctx.stale()
    await require_staff(ctx, branch, (ORGANISER,), "meeting")
    times = [dt.datetime.fromisoformat(str(t)) for t in data.get("times") or []]
    if not times:
        raise ctx.stale()
    if times[0] <= ctx.now:
        raise ctx.refuse(
            ctx.t("That time has passed in the meantime; nothing was posted. Send /meeting again.")
        )
    return branch, times


async def _create(
    ctx: Context, person: Person, branch: Branch, data: dict[str, Any], times: list[dt.datetime]
) -> list[Meeting]:
    """One meeting at each time; those of a series carry the first one's id."""
    capacity = data.get("capacity")
    rule = data.get("rule")
    created = [
        Meeting(
            branch_id=branch.id,
            kind=str(data["meeting_kind"]),
            title=str(data["title"]),
            starts_at=at,
            place=str(data["place"]),
            capacity=capacity if isinstance(capacity, int) else None,
            recurrence=str(rule) if rule else None,
            created_by=person.id,
            created_at=ctx.now,
            version=1,
        )
        for at in times
    ]
    ctx.session.add_all(created)
    await ctx.session.flush()
    if len(created) > 1:
        for row in created:
            row.series_id = created[0].id
    return created
