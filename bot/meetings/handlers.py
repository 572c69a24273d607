"""Meetings: /meeting, /meetings, RSVP buttons, reminders and minutes.

Organisers (and admins above the branch):

/meeting                       the one-line syntax, and buttons that guide through it:
                               kind -> /meeting <date and time> -> /meeting <link or place>
/meeting <kind> <date and time> <link or place> [title] [cap N] [weekly|monthly [xN]]
                               e.g. /meeting online next tue 19:00 https://meet.example/abc
                                    /meeting in-person 2026-12-03 19:00 "Library, Market St"
                                        "Branch meeting" cap 30 weekly
                               the time is echoed with its weekday and zone, with Confirm
                               and Cancel; only Confirm posts it (and its series)
/meeting show <id>             the organiser's view: answers, and Held once it started
/meeting edit <id> time|place|capacity|title <value>   those who answered are told
/meeting cancel <id> [all]     (all: the rest of its series too); those who answered told
/meeting held <id>             it took place; a forming branch's first online call is
                               recorded; for a face-to-face meeting, who came is asked
/meeting came <id> [@person]   who came: a sheet of those who answered, to press at the
                               door (or mark one person by short id or @handle); with
                               enough people, a forming branch's first face-to-face
                               meeting makes it active
/meeting minutes <id> [+]<text>   what was decided (+: added to what is there)
/meeting reminders <hours,...|off>   when those going are reminded (default 24,1)

Everyone: /meetings [past] [branch], and the Going / Maybe / Can't / Calendar buttons.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from typing import Literal
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, case, func, select

from bot.branches.formation import (
    attendance,
    counts_as_first_meeting,
    first_call_held,
    first_meeting_attended,
)
from bot.branches.handlers import _require_staff
from bot.branches.service import search
from bot.kernel.actions import Action
from bot.kernel.context import Context, Refusal, parse_id
from bot.kernel.effects import audit
from bot.kernel.i18n import N_, Translator, format_local
from bot.kernel.messages import Attachment, Button, Reply
from bot.kernel.people import resolve_reference
from bot.kernel.permissions import holds_anywhere, holds_at_branch
from bot.kernel.registry import action, command
from bot.kernel.waiting_list import is_full, places_left
from bot.lib.ics import ICS_TYPE, calendar_file
from bot.lib.when import WhenError, read_when, recurrences, wall_text
from bot.meetings.service import (
    CAPACITY_LIMIT,
    LINK,
    LINK_LIMIT,
    MINUTES_LIMIT,
    PLACE_LIMIT,
    PLACES,
    TITLE_LIMIT,
    Draft,
    LineError,
    answer,
    answer_buttons,
    answered,
    anyone_who_answered,
    calendar_event,
    default_title,
    kind_label,
    may_answer,
    one,
    parse_kind,
    parse_line,
    parse_reminder_hours,
    promote_waiting,
    promoted_notice,
    reminder_hours,
    tell,
    when_problem,
    where_line,
)
from bot.meetings.service import announce as announce_meeting
from storage.models import Branch, Meeting, MeetingAttendance, MeetingRsvp, Person, Prompt
from storage.vocabulary import (
    ADMIN,
    ASSEMBLY,
    ONLINE,
    ORGANISER,
    RSVP_GOING,
    RSVP_MAYBE,
    RSVP_NO,
    RSVP_WAITING,
)

DRAFT_LIFETIME = dt.timedelta(hours=1)
LIST_LIMIT = 5  # four buttons each: Discord shows 25 at most
PAST_LIMIT = 10
CHUNK = 1900  # a reply's text stays under Discord's 2000 characters


def _private_refusal(text: str) -> Refusal:
    return Refusal(Reply(text, error=True, private=True))


async def _own_branch(ctx: Context) -> Branch | None:
    person = ctx.require_person()
    return await ctx.session.get(Branch, person.branch_id) if person.branch_id else None


async def _gate(ctx: Context) -> Person:
    """Only organisers (and admins, who hold an organiser's powers) arrange meetings."""
    person = ctx.require_person()
    if holds_anywhere(await ctx.grants(), ORGANISER):
        return person
    branch = await _own_branch(ctx)
    if branch is not None:
        await _require_staff(ctx, branch, (ORGANISER,), "meeting")
    raise ctx.refuse(
        ctx.t("Only a branch's organisers (or admins above it) can arrange meetings."),
        audit="meeting",
    )


async def _organised_branch(ctx: Context) -> Branch:
    """The organiser's own branch, which they organise."""
    branch = await _own_branch(ctx)
    if branch is None:
        raise ctx.refuse(
            ctx.t("Meetings are arranged for your own branch, and you are not in one.")
        )
    await _require_staff(ctx, branch, (ORGANISER,), "meeting")
    return branch


async def _staff_meeting(ctx: Context, ref: str, what: str) -> tuple[Meeting, Branch]:
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


async def _button_meeting(ctx: Context, target: str) -> tuple[Meeting, Branch]:
    meeting_id = parse_id(target)
    meeting = await ctx.session.get(Meeting, meeting_id) if meeting_id else None
    branch = await ctx.session.get(Branch, meeting.branch_id) if meeting else None
    if meeting is None or branch is None:
        raise ctx.stale()
    return meeting, branch


def _usage(ctx: Context, tz: str) -> str:
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
    return _usage(ctx, tz)


# --- /meeting ----------------------------------------------------------------------


# /help stays short (the whole of it must fit one Discord message): /meeting alone
# shows the full syntax and the other subcommands.
@command("meeting", N_("arrange a branch meeting"), roles=(ORGANISER, ADMIN))
async def meeting_command(ctx: Context) -> Reply:
    await _gate(ctx)
    args = ctx.request.args.strip()
    parts = args.split(None, 1)
    sub = parts[0].lower() if parts else ""
    rest = parts[1] if len(parts) > 1 else ""
    if not sub:
        return await _start(ctx)
    if sub == "show":
        return await _show(ctx, rest.strip())
    if sub == "edit":
        return await _edit(ctx, rest)
    if sub == "cancel":
        return await _cancel(ctx, rest.split())
    if sub == "held":
        return await _held(ctx, rest.strip())
    if sub == "came":
        return await _came(ctx, rest.split())
    if sub == "minutes":
        return await _minutes(ctx, rest)
    if sub == "reminders":
        return await _reminders(ctx, rest.strip())
    branch = await _organised_branch(ctx)
    if parse_kind(sub) is not None:
        return await _from_line(ctx, branch, args)
    draft = await _pending_draft(ctx)
    if draft is not None:
        return await _guided_step(ctx, branch, draft, args)
    raise ctx.refuse(_usage(ctx, branch.timezone))


async def _start(ctx: Context) -> Reply:
    branch = await _organised_branch(ctx)
    return Reply(
        ctx.t(
            "A new meeting of the {branch} branch: which kind? Then I'll ask for the date "
            "and the place.",
            branch=branch.name,
        )
        + "\n\n"
        + _usage(ctx, branch.timezone),
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
    await _gate(ctx)
    branch = await _organised_branch(ctx)
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


async def _pending_draft(ctx: Context) -> Prompt | None:
    return await ctx.session.scalar(
        select(Prompt)
        .where(
            Prompt.owner_key == ctx.request.sender.key,
            Prompt.kind == "mtdraft",
            Prompt.used_at.is_(None),
            Prompt.expires_at > ctx.now,
        )
        .order_by(Prompt.id.desc())
        .limit(1)
    )


async def _guided_step(ctx: Context, branch: Branch, draft: Prompt, text: str) -> Reply:
    kind = str(draft.payload.get("meeting_kind"))
    if draft.payload.get("branch") != branch.id or parse_kind(kind) is None:
        raise ctx.refuse(_usage(ctx, branch.timezone))
    when_typed = draft.payload.get("when")
    if not when_typed:
        try:
            when = read_when(text, ctx.now, ZoneInfo(branch.timezone))
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
        shown = format_local(when.at, "datetime_zone", ctx.t.locale, tz=branch.timezone)
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
        parsed = parse_line(f"{kind} {when_typed} {text}", ctx.now, ZoneInfo(branch.timezone))
    except LineError as exc:
        raise ctx.refuse(_line_problem(ctx, exc, branch.timezone)) from None
    await ctx.take_prompt(str(draft.id), "mtdraft")
    return await _echo(ctx, branch, parsed)


async def _from_line(ctx: Context, branch: Branch, text: str) -> Reply:
    try:
        parsed = parse_line(text, ctx.now, ZoneInfo(branch.timezone))
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
    when = format_local(draft.when.at, "datetime_zone", ctx.t.locale, tz=tz)
    if draft.when.ambiguous:
        when += " " + ctx.t(
            "(the first time it is {time} that night, before the clocks go back)",
            time=format_local(draft.when.at, "time", ctx.t.locale, tz=tz),
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
        lines.append(_series_line(ctx.t, draft.rule or "", times, tz))
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


def _series_line(t: Translator, rule: str, times: Sequence[dt.datetime], tz: str) -> str:
    last = format_local(times[-1], "date", t.locale, tz=tz)
    hour = format_local(times[0], "time", t.locale, tz=tz)
    if rule == "monthly":
        return t(
            "Monthly, {n} times, the last on {last} (always {time} {tz} time).",
            n=len(times),
            last=last,
            time=hour,
            tz=tz,
        )
    return t(
        "Weekly, {n} times, the last on {last} (always {time} {tz} time).",
        n=len(times),
        last=last,
        time=hour,
        tz=tz,
    )


@action(Action.MEETING_DROP)
async def drop_pressed(ctx: Context, target: str) -> Reply:
    await ctx.take_prompt(target, "mtnew", audit="meeting.confirm")
    return Reply(ctx.t("Cancelled: nothing was posted."), edit=True)


@action(Action.MEETING_CONFIRM)
async def confirm_pressed(ctx: Context, target: str) -> Reply:
    person = ctx.require_person()
    prompt = await ctx.take_prompt(target, "mtnew", audit="meeting.confirm")
    data = prompt.payload
    branch_id = data.get("branch")
    branch = await ctx.session.get(Branch, branch_id) if isinstance(branch_id, int) else None
    if branch is None:
        raise ctx.stale()
    await _require_staff(ctx, branch, (ORGANISER,), "meeting")
    times = [dt.datetime.fromisoformat(str(t)) for t in data.get("times") or []]
    if not times:
        raise ctx.stale()
    if times[0] <= ctx.now:
        raise ctx.refuse(
            ctx.t("That time has passed in the meantime; nothing was posted. Send /meeting again.")
        )
    kind, title, place = str(data["meeting_kind"]), str(data["title"]), str(data["place"])
    capacity = data.get("capacity")
    rule = data.get("rule")
    created = [
        Meeting(
            branch_id=branch.id,
            kind=kind,
            title=title,
            starts_at=at,
            place=place,
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
    first = created[0]
    if len(created) > 1:
        for row in created:
            row.series_id = first.id
    audit(ctx, "meeting.created", branch=branch, meeting=first.id, count=len(created))
    tz = branch.timezone
    series = _series_line if len(times) > 1 else None

    def render(t: Translator) -> str:
        lines = [
            t(
                "New {kind} of the {branch} branch: {title}",
                kind=kind_label(t, kind),
                branch=branch.name,
                title=title,
            ),
            format_local(first.starts_at, "datetime_zone", t.locale, tz=tz),
            where_line(t, kind, place),
        ]
        if kind == ASSEMBLY:
            lines.append(t("Open to everyone living in the area: bring your neighbours!"))
        if first.capacity:
            lines.append(t.plural("{n} place", "{n} places", first.capacity))
        if series is not None:
            lines.append(series(t, str(rule), times, tz))
            lines.append(t("Answer for each date under /meetings."))
        lines.append(t("Will you come?"))
        return "\n".join(lines)

    await announce_meeting(
        ctx, branch, f"mtnew:{first.id}", render, lambda t: answer_buttons(t, first.id)
    )
    return Reply(
        ctx.t(
            "Posted to the {branch} branch: {title}, {when}. Its id is {id}, for /meeting "
            "show, edit, cancel, held, came and minutes.",
            branch=branch.name,
            title=title,
            when=format_local(first.starts_at, "datetime_zone", ctx.t.locale, tz=tz),
            id=first.id,
        ),
        buttons=_rows(answer_buttons(ctx.t, first.id)),
        edit=True,
    )


def _rows(rows: Sequence[Sequence[Button]]) -> tuple[tuple[Button, ...], ...]:
    return tuple(tuple(r) for r in rows)


# --- answering ---------------------------------------------------------------------


async def _answer_pressed(ctx: Context, target: str, wanted: str) -> Reply:
    person = ctx.require_person()
    meeting, branch = await _button_meeting(ctx, target)
    tz = branch.timezone
    if not await may_answer(ctx, meeting, branch):
        raise ctx.stale(audit="meeting.answer")  # another branch's: it says nothing
    if meeting.cancelled_at is not None:
        raise _private_refusal(ctx.t("{title} was cancelled.", title=meeting.title))
    if meeting.starts_at <= ctx.now:
        raise _private_refusal(ctx.t("{title} has already started.", title=meeting.title))
    status, promoted = await answer(ctx, meeting, person.id, wanted)
    for person_id in promoted:
        await tell(
            ctx,
            one(person_id),
            f"mtup:{meeting.id}:{person_id}:{ctx.now.isoformat()}",
            promoted_notice(meeting, branch),
            lambda t: answer_buttons(t, meeting.id),
        )
    when = format_local(meeting.starts_at, "datetime_zone", ctx.t.locale, tz=tz)
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
    return Reply(text, buttons=_rows(answer_buttons(ctx.t, meeting.id)), private=True)


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
    meeting, branch = await _button_meeting(ctx, target)
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


def _places(t: Translator, meeting: Meeting, going: int) -> str:
    left = places_left(meeting.capacity, going)
    if left is None:
        return ""
    if left == 0:
        return t("full: waiting list")
    return t.plural("{n} place left", "{n} places left", left)


def _mine(t: Translator, answer_: str | None) -> str:
    labels = {
        RSVP_GOING: t("you're going ✓"),
        RSVP_MAYBE: t("you said maybe"),
        RSVP_NO: t("you said you can't come"),
        RSVP_WAITING: t("you're on the waiting list"),
    }
    return labels.get(answer_ or "", "")


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
        branch = await _own_branch(ctx)
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
        return _past(ctx, branch, staff, await _past_meetings(ctx, where))
    return [await _upcoming(ctx, branch, person, staff, where)]


async def _upcoming(
    ctx: Context,
    branch: Branch | None,
    person: Person,
    staff: bool,
    where: list[ColumnElement[bool]],
) -> Reply:
    rows = list(
        await ctx.session.execute(
            select(Meeting, Branch)
            .join(Branch, Branch.id == Meeting.branch_id)
            .where(Meeting.starts_at > ctx.now, *where)
            .order_by(Meeting.starts_at, Meeting.id)
            .limit(LIST_LIMIT)
        )
    )
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
    mine = {
        key: value
        for key, value in await ctx.session.execute(
            select(MeetingRsvp.meeting_id, MeetingRsvp.answer).where(
                MeetingRsvp.meeting_id.in_(ids), MeetingRsvp.person_id == person.id
            )
        )
    }
    if branch is not None:
        lines = [ctx.t("Coming meetings of the {branch} branch:", branch=branch.name)]
    else:
        lines = [ctx.t("Coming people's assemblies, open to everyone:")]
    buttons = []
    for n, (meeting, home) in enumerate(rows, 1):
        parts = [
            f"{n}. {format_local(meeting.starts_at, 'datetime', ctx.t.locale, tz=home.timezone)}",
            f"{meeting.title} ({kind_label(ctx.t, meeting.kind)})",
            meeting.place,
        ]
        if branch is None:
            parts.append(home.name)
        places = _places(ctx.t, meeting, going.get(meeting.id, 0))
        parts += [p for p in (places, _mine(ctx.t, mine.get(meeting.id))) if p]
        if staff:
            parts.append(f"#{meeting.id}")
        lines.append(" · ".join(parts))
        on_it = mine.get(meeting.id) in (RSVP_GOING, RSVP_WAITING)
        full = is_full(meeting.capacity, going.get(meeting.id, 0)) and not on_it
        mid = str(meeting.id)
        buttons.append(
            (
                Button(
                    ctx.t("Wait for a place {n}", n=n) if full else ctx.t("Going {n}", n=n),
                    Action.MEETING_GOING,
                    mid,
                ),
                Button(ctx.t("Maybe {n}", n=n), Action.MEETING_MAYBE, mid),
                Button(ctx.t("Can't {n}", n=n), Action.MEETING_NO, mid),
                Button(ctx.t("Calendar {n}", n=n), Action.MEETING_ICS, mid),
            )
        )
    zones = sorted({home.timezone for _, home in rows})
    lines.append(
        ctx.t(
            "Times are {tz} time. Past meetings and their minutes: /meetings past",
            tz=", ".join(zones),
        )
    )
    return Reply("\n".join(lines), buttons=tuple(buttons))


async def _past_meetings(ctx: Context, where: list[ColumnElement[bool]]) -> list[Meeting]:
    return list(
        await ctx.session.scalars(
            select(Meeting)
            .where(Meeting.starts_at <= ctx.now, *where)
            .order_by(Meeting.starts_at.desc(), Meeting.id.desc())
            .limit(PAST_LIMIT)
        )
    )


def _past(ctx: Context, branch: Branch, staff: bool, rows: list[Meeting]) -> list[Reply]:
    if not rows:
        return [Reply(ctx.t("The {branch} branch has held no meetings yet.", branch=branch.name))]
    blocks = [ctx.t("The last meetings of the {branch} branch:", branch=branch.name)]
    buttons = []
    for n, meeting in enumerate(rows, 1):
        head = (
            f"{n}. {format_local(meeting.starts_at, 'datetime', ctx.t.locale, tz=branch.timezone)}"
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


# --- the organiser's view, edits and cancelling ---------------------------------------


async def _show(ctx: Context, ref: str) -> Reply:
    meeting, branch = await _staff_meeting(ctx, ref, "meeting.show")
    counts = {
        key: value
        for key, value in await ctx.session.execute(
            select(MeetingRsvp.answer, func.count())
            .where(MeetingRsvp.meeting_id == meeting.id)
            .group_by(MeetingRsvp.answer)
        )
    }
    lines = [
        f"#{meeting.id} {meeting.title} ({kind_label(ctx.t, meeting.kind)})",
        format_local(meeting.starts_at, "datetime_zone", ctx.t.locale, tz=branch.timezone),
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


async def _edit(ctx: Context, text: str) -> Reply:
    parts = text.split(None, 2)
    usage = ctx.t("Usage: /meeting edit <id> time|place|capacity|title <value>")
    if len(parts) < 3:
        raise ctx.refuse(usage)
    meeting, branch = await _staff_meeting(ctx, parts[0], "meeting.edit")
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
            when = read_when(value, ctx.now, ZoneInfo(tz))
        except WhenError as exc:
            raise ctx.refuse(when_problem(ctx.t, exc)) from None
        if when.at == meeting.starts_at:
            raise ctx.refuse(ctx.t("Nothing to change: that is already recorded."))
        meeting.starts_at = when.at
        render = _moved_notice(meeting, branch)
        reply = ctx.t(
            "{title} is now {when}; those who answered have been told.",
            title=meeting.title,
            when=format_local(when.at, "datetime_zone", ctx.t.locale, tz=tz),
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
        render = _new_place_notice(meeting, branch)
        reply = ctx.t("Changed; those who answered have been told.")
    elif what == "title":
        value = _clean(value.strip('"“”'))
        if not value or len(value) > TITLE_LIMIT:
            raise ctx.refuse(ctx.t("Please keep the title under {n} characters.", n=TITLE_LIMIT))
        render = _renamed_notice(meeting, branch, value)
        meeting.title = value
        reply = ctx.t("Changed; those who answered have been told.")
    elif what == "capacity":
        return await _edit_capacity(ctx, meeting, branch, value)
    else:
        raise ctx.refuse(usage)
    _changed(meeting)
    audit(ctx, "meeting.edited", branch=branch, meeting=meeting.id, field=what)
    await tell(
        ctx,
        anyone_who_answered(meeting) if what == "time" else answered(meeting),
        f"mtedit:{meeting.id}:{meeting.version}",
        render,
        lambda t: answer_buttons(t, meeting.id),
    )
    return Reply(reply)


def _clean(text: str) -> str:
    return " ".join("".join(ch for ch in text if ch.isprintable()).split())


def _moved_notice(meeting: Meeting, branch: Branch) -> Callable[[Translator], str]:
    title, kind, place, at, tz = (
        meeting.title,
        meeting.kind,
        meeting.place,
        meeting.starts_at,
        branch.timezone,
    )
    return lambda t: (
        t(
            "{title} has moved: it is now {when}.",
            title=title,
            when=format_local(at, "datetime_zone", t.locale, tz=tz),
        )
        + "\n"
        + where_line(t, kind, place)
    )


def _new_place_notice(meeting: Meeting, branch: Branch) -> Callable[[Translator], str]:
    title, kind, place, at, tz = (
        meeting.title,
        meeting.kind,
        meeting.place,
        meeting.starts_at,
        branch.timezone,
    )
    return lambda t: (
        t(
            "{title}, {when}, has a new place or link.",
            title=title,
            when=format_local(at, "datetime_zone", t.locale, tz=tz),
        )
        + "\n"
        + where_line(t, kind, place)
    )


def _renamed_notice(meeting: Meeting, branch: Branch, title: str) -> Callable[[Translator], str]:
    old, at, tz = meeting.title, meeting.starts_at, branch.timezone
    return lambda t: t(
        "{old}, {when}, is now called {title}.",
        old=old,
        when=format_local(at, "datetime_zone", t.locale, tz=tz),
        title=title,
    )


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
    for person_id in await promote_waiting(ctx, meeting):
        await tell(
            ctx,
            one(person_id),
            f"mtup:{meeting.id}:{person_id}:{ctx.now.isoformat()}",
            promoted_notice(meeting, branch),
            lambda t: answer_buttons(t, meeting.id),
        )
    audit(ctx, "meeting.edited", branch=branch, meeting=meeting.id, field="capacity")
    places = ctx.t.plural("{n} place", "{n} places", capacity) if capacity else ctx.t("no limit")
    return Reply(ctx.t("Capacity is now {places}.", places=places))


def _cancelled_notice(meeting: Meeting, branch: Branch) -> Callable[[Translator], str]:
    title, kind, at, tz = meeting.title, meeting.kind, meeting.starts_at, branch.timezone
    return lambda t: t(
        "Cancelled: {title} ({kind}), {when}, will not take place.",
        title=title,
        kind=kind_label(t, kind),
        when=format_local(at, "datetime_zone", t.locale, tz=tz),
    )


async def _cancel(ctx: Context, words: list[str]) -> Reply:
    if not words or len(words) > 2 or (len(words) == 2 and words[1].lower() != "all"):
        raise ctx.refuse(ctx.t("Usage: /meeting cancel <id> [all]"))
    meeting, branch = await _staff_meeting(ctx, words[0], "meeting.cancel")
    await ctx.session.refresh(meeting, with_for_update=True)
    if meeting.cancelled_at is not None:
        raise ctx.refuse(ctx.t("{title} is already cancelled.", title=meeting.title))
    if meeting.starts_at <= ctx.now:
        raise ctx.refuse(ctx.t("{title} has already started.", title=meeting.title))
    targets = [meeting]
    if len(words) == 2 and meeting.series_id is not None:
        targets += list(
            await ctx.session.scalars(
                select(Meeting)
                .where(
                    Meeting.series_id == meeting.series_id,
                    Meeting.id != meeting.id,
                    Meeting.starts_at > meeting.starts_at,
                    Meeting.cancelled_at.is_(None),
                )
                .order_by(Meeting.starts_at)
            )
        )
    for row in targets:
        row.cancelled_at = ctx.now
        _changed(row)
        await tell(
            ctx, answered(row), f"mtcancel:{row.id}:{row.version}", _cancelled_notice(row, branch)
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
    await _gate(ctx)
    meeting, branch = await _staff_meeting(ctx, target, "meeting.restore")
    await ctx.session.refresh(meeting, with_for_update=True)
    if meeting.cancelled_at is None or meeting.starts_at <= ctx.now:
        raise ctx.stale()
    meeting.cancelled_at = None
    _changed(meeting)
    title, at, tz = meeting.title, meeting.starts_at, branch.timezone
    await tell(
        ctx,
        answered(meeting),
        f"mtback:{meeting.id}:{meeting.version}",
        lambda t: t(
            "Back on: {title}, {when}, takes place after all.",
            title=title,
            when=format_local(at, "datetime_zone", t.locale, tz=tz),
        ),
        lambda t: answer_buttons(t, meeting.id),
    )
    audit(ctx, "meeting.restored", branch=branch, meeting=meeting.id)
    return Reply(
        ctx.t(
            "Undone: {title}, {when}, is back on; those who answered have been told.",
            title=title,
            when=format_local(at, "datetime_zone", ctx.t.locale, tz=tz),
        ),
        edit=True,
    )


# --- after the meeting -------------------------------------------------------------


async def _held(ctx: Context, ref: str) -> Reply:
    meeting, branch = await _staff_meeting(ctx, ref, "meeting.held")
    return await _mark_held(ctx, meeting, branch)


@action(Action.MEETING_HELD)
async def held_pressed(ctx: Context, target: str) -> Reply:
    await _gate(ctx)
    meeting, branch = await _staff_meeting(ctx, target, "meeting.held")
    return await _mark_held(ctx, meeting, branch)


async def _mark_held(ctx: Context, meeting: Meeting, branch: Branch) -> Reply:
    """It took place. A proposed or forming branch's first online call is recorded;
    for a face-to-face meeting (or assembly) the organiser is asked who came."""
    await ctx.session.refresh(meeting, with_for_update=True)
    when = format_local(meeting.starts_at, "datetime_zone", ctx.t.locale, tz=branch.timezone)
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


async def _marked(ctx: Context, meeting: Meeting) -> set[int]:
    return set(
        await ctx.session.scalars(
            select(MeetingAttendance.person_id).where(MeetingAttendance.meeting_id == meeting.id)
        )
    )


def _on_list(meeting: Meeting) -> ColumnElement[bool]:
    """Who may be marked as there: the branch's people, anyone who answered (an
    assembly is open to residents) and anyone already marked."""
    answered_any = select(MeetingRsvp.person_id).where(MeetingRsvp.meeting_id == meeting.id)
    marked = select(MeetingAttendance.person_id).where(MeetingAttendance.meeting_id == meeting.id)
    return (
        (Person.branch_id == meeting.branch_id)
        | Person.id.in_(answered_any)
        | Person.id.in_(marked)
    )


async def _listed(ctx: Context, meeting: Meeting, limit: int) -> tuple[list[Person], int]:
    """The door list: those marked or who answered Going or Maybe first, then the
    rest of the branch, each by name; at most ``limit`` of them, and how many in all."""
    expected = select(MeetingRsvp.person_id).where(
        MeetingRsvp.meeting_id == meeting.id,
        MeetingRsvp.answer.in_((RSVP_GOING, RSVP_MAYBE, RSVP_WAITING)),
    )
    marked = select(MeetingAttendance.person_id).where(MeetingAttendance.meeting_id == meeting.id)
    first = case((Person.id.in_(marked) | Person.id.in_(expected), 0), else_=1)
    people = list(
        await ctx.session.scalars(
            select(Person)
            .where(_on_list(meeting))
            .order_by(first, Person.display_name, Person.id)
            .limit(limit)
        )
    )
    total = await ctx.session.scalar(
        select(func.count()).select_from(Person).where(_on_list(meeting))
    )
    return people, total or 0


async def _sheet(ctx: Context, meeting: Meeting, branch: Branch) -> Reply:
    marked = await _marked(ctx, meeting)
    shown, listed = await _listed(ctx, meeting, SHEET_ROWS * SHEET_COLUMNS)
    came = await attendance(ctx, meeting)
    lines = [
        ctx.t(
            "Who came to {title}, {when}? Press the name of each person who came (again to "
            "undo), count anyone else with + Guest, then Done.",
            title=meeting.title,
            when=format_local(meeting.starts_at, "datetime_zone", ctx.t.locale, tz=branch.timezone),
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


async def _held_meeting(ctx: Context, ref: str) -> tuple[Meeting, Branch]:
    meeting, branch = await _staff_meeting(ctx, ref, "meeting.came")
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


async def _may_mark(ctx: Context, meeting: Meeting, person: Person) -> bool:
    found = await ctx.session.scalar(
        select(Person.id).where(Person.id == person.id, _on_list(meeting))
    )
    return found is not None


async def _toggle(ctx: Context, meeting: Meeting, person: Person) -> None:
    row = await ctx.session.scalar(
        select(MeetingAttendance).where(
            MeetingAttendance.meeting_id == meeting.id, MeetingAttendance.person_id == person.id
        )
    )
    if row is not None:
        await ctx.session.delete(row)
    else:
        ctx.session.add(
            MeetingAttendance(
                meeting_id=meeting.id,
                person_id=person.id,
                marked_by=ctx.person.id if ctx.person else None,
                at=ctx.now,
            )
        )
    await ctx.session.flush()


async def _came(ctx: Context, words: list[str]) -> Reply:
    """/meeting came <id> shows the door sheet; /meeting came <id> <who> marks (or
    unmarks) one person of the branch or on the meeting's list."""
    if not words:
        raise ctx.refuse(ctx.t("Usage: /meeting came <id> [short id or @handle]"))
    meeting, branch = await _held_meeting(ctx, words[0])
    if len(words) > 1:
        ref = " ".join(words[1:])
        found = [
            p for p in await resolve_reference(ctx.session, ref) if await _may_mark(ctx, meeting, p)
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
        await _toggle(ctx, meeting, found[0])
    return await _sheet(ctx, meeting, branch)


def _two(target: str) -> tuple[str, str]:
    first, _, second = target.partition(".")
    return first, second


@action(Action.MEETING_CAME)
async def came_pressed(ctx: Context, target: str) -> Reply:
    await _gate(ctx)
    meeting_ref, person_ref = _two(target)
    meeting, branch = await _held_meeting(ctx, meeting_ref)
    person_id = parse_id(person_ref)
    person = await ctx.session.get(Person, person_id) if person_id else None
    if person is None or not await _may_mark(ctx, meeting, person):
        raise ctx.stale()
    await _toggle(ctx, meeting, person)
    sheet = await _sheet(ctx, meeting, branch)
    return Reply(sheet.text, buttons=sheet.buttons, edit=True)


@action(Action.MEETING_GUEST)
async def guest_pressed(ctx: Context, target: str) -> Reply:
    await _gate(ctx)
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
    await _gate(ctx)
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


async def _minutes(ctx: Context, text: str) -> Reply:
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
    meeting, branch = await _staff_meeting(ctx, parts[0], "meeting.minutes")
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
                when=format_local(
                    meeting.starts_at, "datetime_zone", ctx.t.locale, tz=branch.timezone
                ),
            )
        )
    meeting.minutes = minutes
    meeting.minutes_by = ctx.person.id if ctx.person else None
    audit(ctx, "meeting.minutes", branch=branch, meeting=meeting.id)
    return Reply(
        ctx.t(
            "Minutes recorded for {title}, {when}. Everyone can read them with /meetings past.",
            title=meeting.title,
            when=format_local(meeting.starts_at, "datetime", ctx.t.locale, tz=branch.timezone),
        )
    )


async def _reminders(ctx: Context, text: str) -> Reply:
    branch = await _organised_branch(ctx)
    if not text:
        hours = reminder_hours(branch.meeting_reminders)
        return Reply(_reminders_state(ctx, branch, hours))
    hours_or_none = parse_reminder_hours(text)
    if hours_or_none is None:
        raise ctx.refuse(
            ctx.t(
                "Usage: /meeting reminders 24,1 (hours before, up to 4 of them, each at most "
                "168) or /meeting reminders off"
            )
        )
    branch.meeting_reminders = ",".join(str(h) for h in hours_or_none)
    audit(ctx, "meeting.reminders", branch=branch, hours=branch.meeting_reminders)
    return Reply(_reminders_state(ctx, branch, hours_or_none))


def _reminders_state(ctx: Context, branch: Branch, hours: list[int]) -> str:
    if not hours:
        return ctx.t(
            "Those going to the {branch} branch's meetings get no reminders. "
            "/meeting reminders 24,1 turns them on.",
            branch=branch.name,
        )
    return ctx.t(
        "Those going to the {branch} branch's meetings are reminded {hours} before.",
        branch=branch.name,
        hours=ctx.t(" and ").join(ctx.t.plural("{n} hour", "{n} hours", h) for h in hours),
    )
