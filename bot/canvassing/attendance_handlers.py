"""Who came canvassing: "I'm here" (a person going checks in while the session
runs) and /canvass came, the organisers' sheet of the session's sign-up list, a
press marking someone present and a second press undoing it."""

from __future__ import annotations

from bot.branches.handlers import require_staff
from bot.canvassing.access import home
from bot.canvassing.queries import (
    came_ids,
    check_in,
    is_going,
    session_for_sheet,
    sheet_list,
    toggle_came,
)
from bot.canvassing.rules import SESSION_LENGTH, running
from bot.canvassing.texts import came_sheet
from bot.kernel.actions import Action
from bot.kernel.context import Context, parse_id
from bot.kernel.effects import audit
from bot.kernel.i18n import format_local
from bot.kernel.messages import Reply
from bot.kernel.people import resolve_reference
from bot.kernel.registry import action
from storage.models import Branch, CanvassSession, Person
from storage.vocabulary import ORGANISER

SHEET_LIMIT = 16  # four rows of four names: with Discord's five rows, room to spare


async def _own_session(ctx: Context, branch: Branch, target: str) -> CanvassSession:
    """The session a button names, if it is the branch's and not cancelled."""
    session_id = parse_id(target)
    session = await ctx.session.get(CanvassSession, session_id) if session_id else None
    if session is None or session.branch_id != branch.id or session.cancelled_at is not None:
        raise ctx.stale()
    return session


@action(Action.CANVASS_HERE)
async def here_pressed(ctx: Context, target: str) -> Reply:
    """I'm here: from the session's start until it ends, for those going to it."""
    person, branch = await home(ctx)
    session = await _own_session(ctx, branch, target)
    when = format_local(session.starts_at, "day_time", ctx.t, tz=branch.timezone)
    if not running(session.starts_at, ctx.now):
        raise ctx.refuse(
            ctx.t(
                "Checking in for {when} is open from its start until {end}, while the "
                "session runs.",
                when=when,
                end=format_local(
                    session.starts_at + SESSION_LENGTH, "time", ctx.t, tz=branch.timezone
                ),
            )
        )
    if not await is_going(ctx, session, person.id):
        raise ctx.refuse(
            ctx.t("You're not signed up for {when}: an organiser can mark you present.", when=when)
        )
    if not await check_in(ctx, session, person.id, None):
        return Reply(ctx.t("You're already checked in for {when} ✓", when=when), private=True)
    audit(ctx, "canvass.checked_in", branch=branch, session=session.id)
    return Reply(
        ctx.t(
            "Checked in for {when} at {point} ✓ Thank you!", when=when, point=session.meeting_point
        ),
        private=True,
    )


async def _sheet(ctx: Context, session: CanvassSession, branch: Branch) -> Reply:
    people, listed = await sheet_list(ctx, session, SHEET_LIMIT)
    text, rows = came_sheet(ctx.t, session, branch, people, await came_ids(ctx, session), listed)
    return Reply(text, buttons=rows)


async def came(ctx: Context, words: list[str]) -> Reply:
    """/canvass came: the sheet of the latest session (under way, or of the last two
    weeks); /canvass came <who> marks (or unmarks) one person of the branch."""
    _, branch = await home(ctx)
    await require_staff(ctx, branch, (ORGANISER,), "canvass.came")
    session = await session_for_sheet(ctx, branch)
    if session is None:
        raise ctx.refuse(ctx.t("There is no session of the last two weeks to mark."))
    if words:
        ref = " ".join(words)
        found = [p for p in await resolve_reference(ctx.session, ref) if p.branch_id == branch.id]
        if len(found) != 1:
            raise ctx.refuse(
                ctx.t(
                    "{ref} is nobody in the {branch} branch: give their short id (from the "
                    "Members list) or @handle.",
                    ref=ref[:40],
                    branch=branch.name,
                )
            )
        await _toggle(ctx, session, branch, found[0])
    return await _sheet(ctx, session, branch)


async def _toggle(ctx: Context, session: CanvassSession, branch: Branch, person: Person) -> None:
    present = await toggle_came(ctx, session, person.id, ctx.require_person().id)
    audit(
        ctx,
        "canvass.marked" if present else "canvass.unmarked",
        branch=branch,
        session=session.id,
        person=person.id,
    )


@action(Action.CANVASS_CAME)
async def came_pressed(ctx: Context, target: str) -> Reply:
    """A name on the sheet pressed: present, or (pressed again) not after all."""
    _, branch = await home(ctx)
    session_ref, _, person_ref = target.partition(".")
    session = await _own_session(ctx, branch, session_ref)
    await require_staff(ctx, branch, (ORGANISER,), "canvass.came")
    person_id = parse_id(person_ref)
    person = await ctx.session.get(Person, person_id) if person_id else None
    if person is None or person.branch_id != branch.id or session.starts_at > ctx.now:
        raise ctx.stale()
    await _toggle(ctx, session, branch, person)
    sheet = await _sheet(ctx, session, branch)
    return Reply(sheet.text, buttons=sheet.buttons, edit=True)
