"""/canvass: the branch's weekly door-knocking, and /reminders.

/canvass                         the next week's sessions, with Sign up / Cancel
/canvass schedule <weekday> <HH:MM> <meeting point> [capacity]   (organisers)
/canvass slots                   the weekly sessions, with Remove (organisers)
/reminders on|off
"""

from __future__ import annotations

import asyncio
import datetime as dt
import unicodedata
from collections.abc import Callable
from zoneinfo import ZoneInfo

from sqlalchemy import bindparam, select

from bot.branches.handlers import require_staff
from bot.canvassing.queries import SIGNED_UP, SIGNUPS, coming_sessions
from bot.canvassing.results import MAX_COUNT, chart, parse_tags, weekly_totals
from bot.canvassing.rules import CAPACITY_LIMIT, POINT_LIMIT, slot_time
from bot.canvassing.sessions import cancel, cancel_sessions, let_in, sign_up, upcoming
from bot.canvassing.texts import calendar_event
from bot.kernel.actions import Action
from bot.kernel.context import Context, Refusal, parse_id
from bot.kernel.effects import audit, notify
from bot.kernel.i18n import N_, Translator, format_local
from bot.kernel.messages import Attachment, Button, Reply
from bot.kernel.outbox import Recipients
from bot.kernel.registry import Param, action, command
from bot.lib.ics import ICS_TYPE, calendar_file
from bot.lib.when import WhenError, read_weekly, weekly
from storage.models import Branch, CanvassResult, CanvassSession, CanvassSlot, Person
from storage.vocabulary import GOING, ORGANISER


def _number(word: str) -> bool:
    """Plain digits only ("²" is a digit to Python, not to int())."""
    return word.isascii() and word.isdigit() and len(word) <= 9


def _numeric(word: str) -> bool:
    """Does ``word`` look like a number someone meant (-5, 3.5, ١٢, +8)?"""
    body = word.lstrip("+-−")
    return (
        bool(body)
        and any(ch.isdecimal() for ch in body)
        and all(ch.isdecimal() or ch in ".," for ch in body)
    )


def _whole(word: str) -> int | None:
    """A whole number in any script's digits (١٢ is 12), or None (-5, 3.5)."""
    if not (word.isdecimal() and len(word) <= 9):
        return None
    return int("".join(str(unicodedata.decimal(ch)) for ch in word))


def _join_first(ctx: Context) -> Refusal:
    return ctx.refuse(ctx.t("Join a branch first: send /join and your town or postcode."))


async def _home(ctx: Context) -> tuple[Person, Branch]:
    person = ctx.require_person()
    branch = await ctx.session.get(Branch, person.branch_id) if person.branch_id else None
    if branch is None:
        raise _join_first(ctx)
    return person, branch


def _usage(ctx: Context) -> str:
    return ctx.t(
        "Usage: /canvass, or for organisers /canvass schedule <weekday> <HH:MM> "
        "<meeting point> [capacity], /canvass slots, /canvass log <doors> <conversations> "
        "[issues] and /canvass stats"
    )


@command(
    "canvass",
    N_("this week's canvassing sessions: sign up or cancel"),
    staff=(
        (
            "schedule <weekday> <HH:MM> <meeting point> [capacity]",
            N_("a weekly canvassing session"),
            (ORGANISER,),
        ),
        ("slots", N_("the weekly sessions, to remove one"), (ORGANISER,)),
        ("edit <n> point <text>|capacity <n>", N_("change a weekly session"), (ORGANISER,)),
        ("log <doors> <conversations> [issues]", N_("the latest session's results"), (ORGANISER,)),
        ("stats", N_("a chart of the last 12 weeks"), (ORGANISER,)),
    ),
)
async def canvass(ctx: Context) -> Reply:
    sub, _, rest = ctx.request.args.partition(" ")
    if sub.lower() == "schedule":
        return await _schedule(ctx, rest.strip())
    if sub.lower() == "slots":
        return await _slots(ctx)
    if sub.lower() == "edit":
        return await _edit(ctx, rest.split())
    if sub.lower() == "log":
        return await _log(ctx, rest.split())
    if sub.lower() == "stats":
        return await _stats(ctx)
    if sub:
        raise ctx.refuse(_usage(ctx))
    person, branch = await _home(ctx)
    listings = await upcoming(ctx, branch, person.id)
    if not listings:
        return Reply(
            ctx.t(
                "No canvassing with the {branch} branch in the coming week yet. "
                "Organisers add a weekly session with /canvass schedule.",
                branch=branch.name,
            )
        )
    lines = [ctx.t("Canvassing with the {branch} branch this week:", branch=branch.name)]
    rows = []
    for n, item in enumerate(listings, 1):
        when = format_local(item.session.starts_at, "day_time", ctx.t.locale, tz=branch.timezone)
        if item.places_left is None:
            places = ctx.t("open to all")
        else:
            places = ctx.t.plural("{n} place left", "{n} places left", item.places_left)
        mine = ""
        if item.mine == GOING:
            mine = " · " + ctx.t("you're going ✓")
        elif item.mine is not None:
            mine = " · " + ctx.t("you're on the waiting list")
        lines.append(f"{n}. {when} · {item.session.meeting_point} · {places}{mine}")
        sid = str(item.session.id)
        if item.mine is None:
            label = (
                ctx.t("Sign up {n}", n=n)
                if item.places_left != 0
                else ctx.t("Wait for a place {n}", n=n)
            )
            first = Button(label, Action.CANVASS_GO, sid)
        else:
            first = Button(ctx.t("Cancel {n}", n=n), Action.CANVASS_NO, sid)
        rows.append((first, Button(ctx.t("Calendar {n}", n=n), Action.CANVASS_ICS, sid)))
    lines.append(ctx.t("Times are {tz} time.", tz=branch.timezone))
    return Reply("\n".join(lines), buttons=tuple(rows))


# A session's button pressed: the session with its branch (built once: a hot path).
_PRESSED = (
    select(CanvassSession, Branch)
    .join(Branch, Branch.id == CanvassSession.branch_id)
    .where(CanvassSession.id == bindparam("session"), Branch.id == bindparam("branch"))
)
_PRESSED_LOCKED = _PRESSED.with_for_update(of=CanvassSession)


async def _pressed(
    ctx: Context, target: str, *, lock: bool = False
) -> tuple[Person, Branch, CanvassSession]:
    """The presser, their branch and the session a button names, in one query; a
    refusal if they are in no branch, a stale-button refusal if the session is not
    their branch's, or is cancelled or past. ``lock``: to sign up or cancel, the
    session locked (FOR UPDATE), as those need."""
    person = ctx.require_person()
    if person.branch_id is None:
        raise _join_first(ctx)
    session_id = parse_id(target)
    row = (
        (
            await ctx.session.execute(
                _PRESSED_LOCKED if lock else _PRESSED,
                {"session": session_id, "branch": person.branch_id},
            )
        ).first()
        if session_id
        else None
    )
    if row is None or row[0].cancelled_at is not None or row[0].starts_at <= ctx.now:
        raise ctx.stale()
    session, branch = row
    return person, branch, session


@action(Action.CANVASS_GO)
async def sign_up_pressed(ctx: Context, target: str) -> Reply:
    person, branch, session = await _pressed(ctx, target, lock=True)
    status = await sign_up(ctx, session, person.id)
    when = format_local(session.starts_at, "day_time", ctx.t.locale, tz=branch.timezone)
    cancel_button = ((Button(ctx.t("Cancel"), Action.CANVASS_NO, str(session.id)),),)
    if status == GOING:
        return Reply(
            ctx.t(
                "You're signed up ✓ for {when} at {point}.", when=when, point=session.meeting_point
            ),
            buttons=cancel_button,
            private=True,
        )
    return Reply(
        ctx.t(
            "{when} is full, so you're on the waiting list; you'll be told as soon as a "
            "place opens.",
            when=when,
        ),
        buttons=cancel_button,
        private=True,
    )


@action(Action.CANVASS_NO)
async def cancel_pressed(ctx: Context, target: str) -> Reply:
    person, branch, session = await _pressed(ctx, target, lock=True)
    was_on = await cancel(ctx, session, branch, person.id)
    when = format_local(session.starts_at, "day_time", ctx.t.locale, tz=branch.timezone)
    if not was_on:
        raise ctx.refuse(ctx.t("You were not signed up for {when}.", when=when))
    return Reply(
        ctx.t("Cancelled: you're no longer down for {when}.", when=when),
        buttons=((Button(ctx.t("Sign up again"), Action.CANVASS_GO, str(session.id)),),),
        private=True,
    )


@action(Action.CANVASS_ICS)
async def calendar_pressed(ctx: Context, target: str) -> Reply:
    _, branch, session = await _pressed(ctx, target)
    event = calendar_event(session, branch, ctx.settings.party_name)
    content = calendar_file([event], product="canvassing", stamp=ctx.now)
    return Reply(
        ctx.t("Add it to your calendar:"),
        file=Attachment(f"canvassing-{session.id}.ics", content, ICS_TYPE),
        private=True,
    )


async def _schedule(ctx: Context, text: str) -> Reply:
    person, branch = await _home(ctx)
    await require_staff(ctx, branch, (ORGANISER,), "canvass.schedule")
    words = text.split()
    example = ctx.t(
        "Please give a weekday, a time and a meeting point, for example: "
        "/canvass schedule saturday 10:30 Market Cross 8"
    )
    try:
        weekday, at, used = read_weekly(words)
    except WhenError:
        raise ctx.refuse(example) from None
    rest = words[used:]
    if not rest:
        raise ctx.refuse(example)
    capacity = None
    if len(rest) > 1 and _numeric(rest[-1]):
        # A number at the end is the capacity: a whole number in range, or refused,
        # never swallowed into the meeting point ("Market Cross -5").
        capacity = _whole(rest.pop())
        if capacity is None or not 1 <= capacity <= CAPACITY_LIMIT:
            raise ctx.refuse(
                ctx.t(
                    "The capacity (the last word) must be a whole number from 1 to {n}, "
                    "for example: /canvass schedule saturday 10:30 Market Cross 8",
                    n=CAPACITY_LIMIT,
                )
            )
    point = " ".join(rest)
    if len(point) > POINT_LIMIT:
        raise ctx.refuse(
            ctx.t("Please keep the meeting point under {n} characters.", n=POINT_LIMIT)
        )
    slot = CanvassSlot(
        branch_id=branch.id,
        weekday=weekday,
        local_time=at.isoformat(timespec="minutes"),
        meeting_point=point,
        capacity=capacity,
        created_by=person.id,
        created_at=ctx.now,
    )
    ctx.session.add(slot)
    await ctx.session.flush()
    audit(ctx, "canvass.scheduled", branch=branch, slot=slot.id)
    first = format_local(
        next(weekly(weekday, at, ZoneInfo(branch.timezone), ctx.now)),
        "day_time",
        ctx.t.locale,
        tz=branch.timezone,
    )
    places = ctx.t.plural("{n} place", "{n} places", capacity) if capacity else ctx.t("no limit")
    return Reply(
        ctx.t(
            "Weekly canvassing for {branch}: every {day} at {time} ({tz} time), meeting at "
            "{point}; {places}. First session: {first}.",
            branch=branch.name,
            day=format_local(weekday, "weekday", ctx.t.locale),
            time=format_local(at, "time", ctx.t.locale),
            tz=branch.timezone,
            point=point,
            places=places,
            first=first,
        ),
        buttons=((Button(ctx.t("Undo"), Action.CANVASS_REMOVE, str(slot.id)),),),
    )


async def _active_slots(ctx: Context, branch: Branch) -> list[CanvassSlot]:
    """The branch's weekly sessions, in the order /canvass slots numbers them."""
    return list(
        await ctx.session.scalars(
            select(CanvassSlot)
            .where(CanvassSlot.branch_id == branch.id, CanvassSlot.removed_at.is_(None))
            .order_by(CanvassSlot.weekday, CanvassSlot.local_time, CanvassSlot.id)
        )
    )


def _weekly(ctx: Context, slot: CanvassSlot) -> str:
    """``Saturday 10:30``: when a weekly session meets, in the branch's time."""
    day = format_local(slot.weekday, "weekday", ctx.t.locale)
    return f"{day} {format_local(slot_time(slot), 'time', ctx.t.locale)}"


async def _slots(ctx: Context) -> Reply:
    _, branch = await _home(ctx)
    await require_staff(ctx, branch, (ORGANISER,), "canvass.slots")
    slots = await _active_slots(ctx, branch)
    if not slots:
        return Reply(
            ctx.t("No weekly canvassing yet: /canvass schedule saturday 10:30 Market Cross 8")
        )
    lines = [ctx.t("Weekly canvassing of the {branch} branch:", branch=branch.name)]
    rows = []
    for n, slot in enumerate(slots, 1):
        cap = (
            " · " + ctx.t.plural("{n} place", "{n} places", slot.capacity) if slot.capacity else ""
        )
        lines.append(f"{n}. {_weekly(ctx, slot)} · {slot.meeting_point}{cap}")
        rows.append((Button(ctx.t("Remove {n}", n=n), Action.CANVASS_REMOVE, str(slot.id)),))
    return Reply("\n".join(lines), buttons=tuple(rows))


@action(Action.CANVASS_REMOVE)
async def remove_pressed(ctx: Context, target: str) -> Reply:
    """Remove a weekly session: its coming sessions are cancelled and those signed up told."""
    _, branch = await _home(ctx)
    slot_id = parse_id(target)
    slot = await ctx.session.get(CanvassSlot, slot_id) if slot_id else None
    if slot is None or slot.branch_id != branch.id or slot.removed_at is not None:
        raise ctx.stale()
    await require_staff(ctx, branch, (ORGANISER,), "canvass.remove")
    slot.removed_at = ctx.now
    await cancel_sessions(
        ctx, await coming_sessions(ctx, CanvassSession.slot_id == slot.id), branch
    )
    audit(ctx, "canvass.removed", branch=branch, slot=slot.id)
    return Reply(
        ctx.t(
            "Removed: no more canvassing {day} at {time}.",
            day=format_local(slot.weekday, "weekday", ctx.t.locale),
            time=format_local(slot_time(slot), "time", ctx.t.locale),
        ),
        edit=True,
    )


async def _edit(ctx: Context, words: list[str]) -> Reply:
    """/canvass edit <n> point <text> | capacity <n|none>: the weekly session n (as
    numbered by /canvass slots) and its coming sessions; those signed up are told
    of a new meeting point, and a larger capacity lets people in from the waiting list."""
    _, branch = await _home(ctx)
    await require_staff(ctx, branch, (ORGANISER,), "canvass.edit")
    usage = ctx.t(
        "Usage: /canvass edit <number> point <meeting point> or /canvass edit <number> "
        "capacity <places|none>. To change the day or time, remove it and schedule anew."
    )
    slots = await _active_slots(ctx, branch)
    if len(words) < 3 or not _number(words[0]) or not 1 <= int(words[0]) <= len(slots):
        raise ctx.refuse(usage)
    slot, what, value = slots[int(words[0]) - 1], words[1].lower(), " ".join(words[2:])
    coming = await coming_sessions(ctx, CanvassSession.slot_id == slot.id)
    if what == "point":
        if len(value) > POINT_LIMIT:
            raise ctx.refuse(
                ctx.t("Please keep the meeting point under {n} characters.", n=POINT_LIMIT)
            )
        slot.meeting_point = value
        for session in coming:
            session.meeting_point = value
            await notify(
                ctx,
                Recipients(SIGNED_UP, {"r_session": session.id}),
                f"canvass-moved:{session.id}:{ctx.now.isoformat()}",
                _moved_notice(session.starts_at, branch.timezone, value),
            )
        audit(ctx, "canvass.edited", branch=branch, slot=slot.id, field="point")
        return Reply(
            ctx.t("The meeting point is now {point}; those signed up have been told.", point=value)
        )
    if what == "capacity":
        capacity = None if value.lower() == "none" else int(value) if _number(value) else -1
        if capacity is not None and not 1 <= capacity <= CAPACITY_LIMIT:
            raise ctx.refuse(ctx.t("The capacity must be from 1 to {n}.", n=CAPACITY_LIMIT))
        slot.capacity = capacity
        for session in coming:
            await ctx.session.refresh(session, with_for_update=True)
            session.capacity = capacity
            await let_in(ctx, session, branch)
        audit(ctx, "canvass.edited", branch=branch, slot=slot.id, field="capacity")
        if not capacity:
            return Reply(ctx.t("The sessions now have no limit on places."))
        text = ctx.t.plural("Capacity is now {n} place.", "Capacity is now {n} places.", capacity)
        # Nobody signed up loses their place; the organiser hears where it is now too full.
        over = []
        for session in coming:
            going = await SIGNUPS.count_going(ctx.session, session.id)
            if going > capacity:
                over.append(
                    ctx.t(
                        "{when}: {n} signed up",
                        when=format_local(
                            session.starts_at, "day_time", ctx.t.locale, tz=branch.timezone
                        ),
                        n=going,
                    )
                )
        if over:
            text += " " + ctx.t(
                "More are signed up than that, and keep their places: {sessions}. Ask some "
                "to cancel, or raise the capacity again.",
                sessions="; ".join(over),
            )
        return Reply(text)
    raise ctx.refuse(usage)


def _moved_notice(at: dt.datetime, tz: str, point: str) -> Callable[[Translator], str]:
    return lambda t: t(
        "The canvassing session {when} now meets at {point}.",
        when=format_local(at, "day_time", t.locale, tz=tz),
        point=point,
    )


async def _log(ctx: Context, words: list[str]) -> Reply:
    """/canvass log <doors> <conversations> [issue tags]: for the latest session."""
    person, branch = await _home(ctx)
    await require_staff(ctx, branch, (ORGANISER,), "canvass.log")
    counts = [w for w in words[:2] if _number(w)]
    tags = parse_tags(words[2:])
    if len(counts) != 2 or tags is None or any(int(c) > MAX_COUNT for c in counts):
        raise ctx.refuse(
            ctx.t(
                "Usage: /canvass log <doors> <conversations> [issues], for example: "
                "/canvass log 120 35 housing buses"
            )
        )
    doors, conversations = int(counts[0]), int(counts[1])
    if conversations > doors:
        raise ctx.refuse(ctx.t("There cannot be more conversations than doors knocked."))
    session = await ctx.session.scalar(
        select(CanvassSession)
        .where(
            CanvassSession.branch_id == branch.id,
            CanvassSession.cancelled_at.is_(None),
            CanvassSession.starts_at <= ctx.now,
            CanvassSession.starts_at > ctx.now - dt.timedelta(days=14),
            ~select(CanvassResult.id).where(CanvassResult.session_id == CanvassSession.id).exists(),
        )
        .order_by(CanvassSession.starts_at.desc())
        .limit(1)
    )
    if session is None:
        raise ctx.refuse(ctx.t("There is no session of the last two weeks left to log."))
    people = await SIGNUPS.count_going(ctx.session, session.id)
    result = CanvassResult(
        session_id=session.id,
        people_out=people,
        doors=doors,
        conversations=conversations,
        tags=tags,
        recorded_by=person.id,
        recorded_at=ctx.now,
    )
    ctx.session.add(result)
    await ctx.session.flush()
    audit(ctx, "canvass.logged", branch=branch, session=session.id)
    text = ctx.t(
        "Logged for {when}: {people} out, {doors} doors, {conversations} conversations.",
        when=format_local(session.starts_at, "day_time", ctx.t.locale, tz=branch.timezone),
        people=people,
        doors=doors,
        conversations=conversations,
    )
    if tags:
        text += " " + ctx.t("Issues raised: {tags}.", tags=", ".join(tags))
    return Reply(text, buttons=((Button(ctx.t("Undo"), Action.CANVASS_UNLOG, str(result.id)),),))


@action(Action.CANVASS_UNLOG)
async def unlog_pressed(ctx: Context, target: str) -> Reply:
    _, branch = await _home(ctx)
    result_id = parse_id(target)
    result = await ctx.session.get(CanvassResult, result_id) if result_id else None
    session = await ctx.session.get(CanvassSession, result.session_id) if result else None
    if result is None or session is None or session.branch_id != branch.id:
        raise ctx.stale()
    await require_staff(ctx, branch, (ORGANISER,), "canvass.unlog")
    await ctx.session.delete(result)
    audit(ctx, "canvass.unlogged", branch=branch, session=session.id)
    return Reply(ctx.t("Undone: that session's results are no longer recorded."), edit=True)


async def _stats(ctx: Context) -> Reply:
    _, branch = await _home(ctx)
    await require_staff(ctx, branch, (ORGANISER,), "canvass.stats")
    weeks, issues = await weekly_totals(ctx, branch)
    labels = {
        "title": ctx.t("Canvassing with the {branch} branch, last 12 weeks"),
        "doors": ctx.t("doors knocked"),
        "conversations": ctx.t("conversations"),
        "people": ctx.t("people out"),
    }
    image = await asyncio.to_thread(chart, branch.name, weeks, labels, ctx.t.locale)
    totals = ctx.t(
        "Last 12 weeks: {people} people out, {doors} doors, {conversations} conversations.",
        people=sum(w.people for w in weeks),
        doors=sum(w.doors for w in weeks),
        conversations=sum(w.conversations for w in weeks),
    )
    top = ", ".join(f"{tag} ({n})" for tag, n in issues.most_common(5))
    if top:
        totals += " " + ctx.t("Top issues: {top}.", top=top)
    return Reply(totals, file=Attachment(f"canvassing-{branch.slug}.png", image, "image/png"))


@command(
    "reminders",
    N_("turn canvassing reminders on or off"),
    usage="on|off",
    params=(Param.choice("setting", N_("on or off"), ("on", "off"), required=True),),
)
async def reminders(ctx: Context) -> Reply:
    person = ctx.require_person()
    choice = ctx.request.args.strip().lower()
    if choice not in ("on", "off"):
        state = ctx.t("on") if person.reminders else ctx.t("off")
        return Reply(
            ctx.t("Your reminders are {state}. Send /reminders on or /reminders off.", state=state)
        )
    person.reminders = choice == "on"
    if person.reminders:
        return Reply(
            ctx.t(
                "Reminders are on: you'll get the weekly round-up and a reminder the evening before."
            )
        )
    return Reply(ctx.t("Reminders are off. Send /reminders on to have them again."))
