"""/canvass itself: the coming week's sessions, and their buttons: Sign up (or Wait
for a place), Cancel, Calendar."""

from __future__ import annotations

from bot.canvassing.access import home, join_first
from bot.canvassing.queries import running_sessions, session_with_branch, sign_up_ahead
from bot.canvassing.sessions import cancel, sign_up, upcoming
from bot.canvassing.texts import calendar_event, here_listing, week_listing
from bot.kernel.actions import Action
from bot.kernel.context import Context, parse_id
from bot.kernel.i18n import format_local
from bot.kernel.messages import Attachment, Button, Reply
from bot.kernel.registry import action
from bot.lib.ics import ICS_TYPE, calendar_file
from storage.models import Branch, CanvassSession, Person
from storage.vocabulary import GOING


async def listing(ctx: Context) -> Reply:
    """/canvass: the coming week's sessions of the person's branch, with Sign up (or
    Wait for a place) or Cancel, and Calendar."""
    person, branch = await home(ctx)
    listings = await upcoming(ctx, branch, person.id)
    lines, here = here_listing(ctx.t, branch, await running_sessions(ctx, branch, person.id))
    if not listings:
        lines.append(
            ctx.t(
                "No canvassing with the {branch} branch in the coming week yet. "
                "Organisers add a weekly session with /canvass schedule.",
                branch=branch.name,
            )
        )
        return Reply("\n".join(lines), buttons=tuple(here))
    text, rows = week_listing(ctx.t, branch, listings)
    return Reply("\n".join([*lines, text]), buttons=(*here, *rows))


async def _pressed(
    ctx: Context, target: str, *, lock: bool = False
) -> tuple[Person, Branch, CanvassSession]:
    """The presser, their branch and the session a button names, in one query; a
    refusal if they are in no branch, a stale-button refusal if the session is not
    their branch's, or is cancelled or past. ``lock``: to sign up or cancel, the
    session locked (FOR UPDATE), as those need."""
    person = ctx.require_person()
    if person.branch_id is None:
        raise join_first(ctx)
    session_id = parse_id(target)
    if ctx.prefetched is not None:  # read with the person, locked (sign_up_ahead)
        row: tuple[CanvassSession, Branch] | None = (ctx.prefetched[0], ctx.prefetched[1])
    elif session_id:
        row = await session_with_branch(ctx.session, session_id, person.branch_id, lock=lock)
    else:
        row = None
    if row is None or row[0].cancelled_at is not None or row[0].starts_at <= ctx.now:
        raise ctx.stale()
    session, branch = row
    return person, branch, session


@action(Action.CANVASS_GO, prefetch=sign_up_ahead)
async def sign_up_pressed(ctx: Context, target: str) -> Reply:
    person, branch, session = await _pressed(ctx, target, lock=True)
    status = await sign_up(ctx, session, person.id)
    when = format_local(session.starts_at, "day_time", ctx.t, tz=branch.timezone)
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
    when = format_local(session.starts_at, "day_time", ctx.t, tz=branch.timezone)
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
    event = calendar_event(ctx.t, session, branch, ctx.settings.party_name)
    content = calendar_file([event], product="canvassing", stamp=ctx.now)
    return Reply(
        ctx.t("Add it to your calendar:"),
        file=Attachment(f"canvassing-{session.id}.ics", content, ICS_TYPE),
        private=True,
    )
