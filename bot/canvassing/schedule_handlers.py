"""The organisers' weekly canvassing: /canvass schedule, /canvass slots (with
Remove, and Undo after scheduling), /canvass edit (a new meeting point, or
capacity: those signed up are told, and a larger capacity lets people in from the
waiting list)."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from bot.branches.handlers import require_staff
from bot.canvassing.access import home
from bot.canvassing.queries import SIGNED_UP, SIGNUPS, active_slots, coming_sessions
from bot.canvassing.rules import (
    CAPACITY_LIMIT,
    POINT_LIMIT,
    looks_numeric,
    plain_number,
    slot_time,
    whole_number,
)
from bot.canvassing.sessions import cancel_sessions, let_in
from bot.canvassing.texts import moved_notice
from bot.kernel.actions import Action
from bot.kernel.context import Context, parse_id
from bot.kernel.effects import audit, notify
from bot.kernel.i18n import format_local
from bot.kernel.messages import Button, Reply
from bot.kernel.outbox import Recipients
from bot.kernel.registry import action
from bot.lib.when import WhenError, read_weekly, weekly
from bot.lib.when_words import words_of
from storage.models import CanvassSession, CanvassSlot
from storage.vocabulary import ORGANISER


async def schedule(ctx: Context, text: str) -> Reply:
    person, branch = await home(ctx)
    await require_staff(ctx, branch, (ORGANISER,), "canvass.schedule")
    words = text.split()
    example = ctx.t(
        "Please give a weekday, a time and a meeting point, for example: "
        "/canvass schedule saturday 10:30 Market Cross 8"
    )
    try:
        weekday, at, used = read_weekly(words, words=words_of(ctx.t))
    except WhenError:
        raise ctx.refuse(example) from None
    rest = words[used:]
    if not rest:
        raise ctx.refuse(example)
    capacity = None
    if len(rest) > 1 and looks_numeric(rest[-1]):
        # A number at the end is the capacity: a whole number in range, or refused,
        # never swallowed into the meeting point ("Market Cross -5").
        capacity = whole_number(rest.pop())
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
        ctx.t,
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


def _weekly(ctx: Context, slot: CanvassSlot) -> str:
    """``Saturday 10:30``: when a weekly session meets, in the branch's time."""
    day = format_local(slot.weekday, "weekday", ctx.t.locale)
    return f"{day} {format_local(slot_time(slot), 'time', ctx.t.locale)}"


async def slots(ctx: Context) -> Reply:
    _, branch = await home(ctx)
    await require_staff(ctx, branch, (ORGANISER,), "canvass.slots")
    slots = await active_slots(ctx, branch)
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
    _, branch = await home(ctx)
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


async def edit(ctx: Context, words: list[str]) -> Reply:
    """/canvass edit <n> point <text> | capacity <n|none>: the weekly session n (as
    numbered by /canvass slots) and its coming sessions; those signed up are told
    of a new meeting point, and a larger capacity lets people in from the waiting list."""
    _, branch = await home(ctx)
    await require_staff(ctx, branch, (ORGANISER,), "canvass.edit")
    usage = ctx.t(
        "Usage: /canvass edit <number> point <meeting point> or /canvass edit <number> "
        "capacity <places|none>. To change the day or time, remove it and schedule anew."
    )
    slots = await active_slots(ctx, branch)
    if len(words) < 3 or not plain_number(words[0]) or not 1 <= int(words[0]) <= len(slots):
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
                moved_notice(session.starts_at, branch.timezone, value),
            )
        audit(ctx, "canvass.edited", branch=branch, slot=slot.id, field="point")
        return Reply(
            ctx.t("The meeting point is now {point}; those signed up have been told.", point=value)
        )
    if what == "capacity":
        capacity = None if value.lower() == "none" else int(value) if plain_number(value) else -1
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
                        when=format_local(session.starts_at, "day_time", ctx.t, tz=branch.timezone),
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
