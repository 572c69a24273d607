"""Invitations to the people drawn: sending them, reminders and
deadlines (the ``invitations`` sweep), and the replacement drawn for a place
declined, expired or vacated (e.g. on /forget).
"""

from __future__ import annotations

import datetime as dt
from functools import partial

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.draws.bodies import Body
from bot.draws.queries import draw_body, eligible, entrants_of, root_of, staff_of
from bot.draws.rules import REMIND_AT, VACATED, answer_by, with_event
from bot.draws.texts import (
    invitation_buttons,
    invitation_text,
    nobody_left_notice,
    reminder_heading,
    replacement_notice,
    vacancy_notice,
)
from bot.kernel.config import Settings
from bot.kernel.outbox import enqueue, enqueue_for
from bot.kernel.people import reader
from bot.kernel.timed import Sweep
from bot.lib.sortition.drawing import features_of, next_replacement, reserve_order, standing_after
from storage.db import Database
from storage.models import Branch, CouncilSeat, Draw, Invitation, Person
from storage.vocabulary import ACCEPTED, EXPIRED, INVITED


async def send_invitation(
    session: AsyncSession, settings: Settings, body: Body, invitation: Invitation, now: dt.datetime
) -> Person | None:
    """Queue the invitation (Accept / Decline) to its person, in their language."""
    person = await session.get(Person, invitation.person_id)
    t = await reader(session, person, settings.default_locale)
    await enqueue(
        session,
        key=f"invite:{invitation.id}",
        text=invitation_text(t, body, invitation, await reader_timezone(session, person, body)),
        buttons=invitation_buttons(t, invitation),
        now=now,
        person_id=invitation.person_id,
    )
    return person


async def reader_timezone(session: AsyncSession, person: Person | None, body: Body) -> str:
    """The time zone a person reads times in: their branch's, else the body's."""
    branch = await session.get(Branch, person.branch_id) if person and person.branch_id else None
    return branch.timezone if branch else body.timezone


async def replace(
    session: AsyncSession, settings: Settings, declined: Invitation, now: dt.datetime
) -> str | None:
    """Fill the place of a declined, expired or vacated invitation (see
    ``replace_place``). Returns a reason when nobody can be drawn."""
    event = {EXPIRED: "expired", VACATED: "vacated"}.get(declined.status, "declined")
    return await replace_place(
        session,
        settings,
        declined.draw_id,
        str(declined.id),
        now,
        person_id=declined.person_id,
        event=event,
    )


async def replace_place(
    session: AsyncSession,
    settings: Settings,
    draw_id: int,
    place: str,
    now: dt.datetime,
    *,
    person_id: int | None = None,
    pseudonym: str | None = None,
    event: str = "vacated",
) -> str | None:
    """Fill a place of ``draw_id`` left empty (``place`` names it, once: a
    declined invitation's id, or a forgotten entrant's pseudonym; who left is
    ``person_id`` or ``pseudonym``) under the rule the record committed before
    its seed: the first reserve of the seeded reserve order who keeps the quotas
    (see ``bot.lib.sortition.drawing``). No new record: the vacancy and its
    replacement are an event in the draw's history, which anyone can replay.
    Returns a reason when nobody can be drawn."""
    draw = await session.get(Draw, draw_id)
    if draw is None:
        return "gone"
    root = await root_of(session, draw)
    root = await session.get(Draw, root.id, with_for_update=True) or root
    await session.refresh(root)
    body = await draw_body(session, settings, root)
    if body is None or root.seed is None:
        return "gone"
    behind = await entrants_of(session, root.id)
    of = {pid: name for name, pid in behind.items()}
    left = pseudonym if pseudonym is not None else of.get(person_id or 0)
    chosen, skipped = await _next_reserve(
        session, settings, root, root.seed, body, behind, left, now
    )
    happened = {
        "event": event,
        "at": now.isoformat(),
        "id": left,
        "replacement": chosen,
        "skipped": skipped,
    }
    root.record = with_event(root.record, happened)
    if chosen is None:
        # Nobody is left to ask: the organisers must hear it, not find out later.
        await enqueue_for(
            session,
            staff_of(body),
            key=f"draw-empty:{place}",
            render=lambda t: nobody_left_notice(t, root, body),
            now=now,
            default_locale=settings.default_locale,
        )
        return "empty"
    invitation = Invitation(
        draw_id=root.id,
        person_id=behind[chosen],
        status=INVITED,
        respond_by=answer_by(root, now),
        reminders_sent=0,
    )
    session.add(invitation)
    await session.flush()
    person = await send_invitation(session, settings, body, invitation, now)
    shown = person.display_name if person else "?"
    await enqueue_for(
        session,
        staff_of(body),
        key=f"draw-replacement:{invitation.id}",
        render=lambda t: replacement_notice(t, root, body, shown),
        now=now,
        default_locale=settings.default_locale,
    )
    return None


async def _next_reserve(
    session: AsyncSession,
    settings: Settings,
    root: Draw,
    seed: str,
    body: Body,
    behind: dict[str, int],
    left: str | None,
    now: dt.datetime,
) -> tuple[str | None, list[str]]:
    """Who of ``root``'s reserve order takes the place ``left`` gave up (None if
    nobody can), and the reserves passed over because they can no longer be drawn."""
    family = [root.id, *await session.scalars(select(Draw.id).where(Draw.parent_id == root.id))]
    invitations = list(
        await session.scalars(select(Invitation).where(Invitation.draw_id.in_(family)))
    )
    of = {pid: name for name, pid in behind.items()}
    # Who holds a place: as the history replays (also a drawn entrant forgotten
    # before any invitation), and anyone invited (records older than the history).
    standing, invited = standing_after(root.record, seed)
    standing |= {
        of[i.person_id]
        for i in invitations
        if i.status in (INVITED, ACCEPTED) and i.person_id in of
    }
    standing.discard(left or "")
    invited |= {of[i.person_id] for i in invitations if i.person_id in of}
    still = {p.id for p, _ in await eligible(session, settings, body, now)}
    features = features_of(root.record) or {}
    order = reserve_order(root.record, seed)
    gone = {name for name in order if behind.get(name) not in still}
    chosen = next_replacement(root.record, seed, standing, invited, gone, features)
    passed = order[: order.index(chosen)] if chosen is not None else order
    return chosen, [name for name in passed if name in gone and name not in invited]


async def tell_vacancy(
    session: AsyncSession, body: Body, draw_id: int, place: str, now: dt.datetime
) -> None:
    """Tell the body's staff that ``place`` on draw ``draw_id`` is vacant (its
    holder left, or was forgotten before the seed): the next person is drawn."""
    await enqueue_for(
        session,
        staff_of(body),
        key=f"draw-vacancy:{place}",
        render=partial(vacancy_notice, body=body, draw_id=draw_id),
        now=now,
    )


async def vacate(
    session: AsyncSession, settings: Settings, person_id: int, now: dt.datetime
) -> int:
    """``person_id`` gives up every place they hold or are invited to (e.g. on
    /forget): each is a vacancy, the organisers are told, and a replacement is
    drawn under the draw's rules. Returns how many places were vacated. Call it
    before the person's rows are deleted."""
    held = list(
        await session.scalars(
            select(Invitation).where(
                Invitation.person_id == person_id, Invitation.status.in_((INVITED, ACCEPTED))
            )
        )
    )
    for invitation in held:
        invitation.status = VACATED
        invitation.answered_at = now
        await session.execute(
            CouncilSeat.__table__.delete().where(  # type: ignore[attr-defined]
                CouncilSeat.person_id == person_id, CouncilSeat.draw_id == invitation.draw_id
            )
        )
        await session.flush()
        draw = await session.get(Draw, invitation.draw_id)
        root = await root_of(session, draw) if draw is not None else None
        body = await draw_body(session, settings, root) if root is not None else None
        if root is not None and body is not None:
            await tell_vacancy(session, body, root.id, str(invitation.id), now)
        await replace(session, settings, invitation, now)
    return len(held)


async def invitation_sweep(db: Database, settings: Settings, now: dt.datetime) -> None:
    """Remind at 48 and 24 hours before the deadline; at the deadline, silence
    is a decline and a replacement is drawn."""
    async with db.transaction() as session:
        due = list(
            await session.scalars(
                select(Invitation.id).where(
                    Invitation.status == INVITED,
                    Invitation.respond_by <= now + REMIND_AT[0],
                )
            )
        )
    for invitation_id in due:
        async with db.transaction() as session:
            invitation = await session.get(Invitation, invitation_id, with_for_update=True)
            if invitation is None or invitation.status != INVITED:
                continue
            if invitation.respond_by <= now:
                invitation.status = EXPIRED
                invitation.answered_at = now
                await replace(session, settings, invitation, now)
                continue
            for number, before in enumerate(REMIND_AT, start=1):
                if invitation.reminders_sent < number and invitation.respond_by - before <= now:
                    invitation.reminders_sent = number
                    person = await session.get(Person, invitation.person_id)
                    t = await reader(session, person, settings.default_locale)
                    draw = await session.get(Draw, invitation.draw_id)
                    body = await draw_body(session, settings, draw) if draw else None
                    await enqueue(
                        session,
                        key=f"invite-remind:{invitation.id}:{number}",
                        text=reminder_heading(t)
                        + "\n"
                        + (
                            invitation_text(
                                t, body, invitation, await reader_timezone(session, person, body)
                            )
                            if body
                            else ""
                        ),
                        buttons=invitation_buttons(t, invitation),
                        now=now,
                        person_id=invitation.person_id,
                    )


TIMED = (Sweep("invitations", invitation_sweep),)  # once a minute: reminders, deadlines
