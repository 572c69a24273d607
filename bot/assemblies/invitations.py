"""Invitations to the residents drawn for an assembly, as for councils: sent to
the account that registered, with the assembly's practical details; reminders
48 and 24 hours before the deadline and silence at it a decline (the
``assembly-invitations`` sweep); each place declined, expired or given up goes
to the next reserve under the rule the record committed (one person a
household), an event in the record's history that anyone can replay.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy.ext.asyncio import AsyncSession

from bot.assemblies import queries
from bot.assemblies.rules import DRAWN, VACATED, respond_by
from bot.assemblies.texts import (
    invitation_buttons,
    invitation_text,
    reminder_heading,
    vacancy_notice,
)
from bot.draws.bodies import Body
from bot.draws.queries import staff_of
from bot.draws.rules import REMIND_AT, with_event
from bot.kernel.config import Settings
from bot.kernel.i18n import translator
from bot.kernel.messages import Recipient
from bot.kernel.outbox import enqueue, enqueue_for
from bot.kernel.timed import Sweep
from bot.lib.sortition.drawing import features_of, next_replacement, reserve_order, standing_after
from storage.db import Database
from storage.models import Assembly, AssemblyDraw, AssemblyInvitation, AssemblyRegistrant
from storage.vocabulary import ACCEPTED, EXPIRED, INVITED

ASSEMBLY_BODY = "citizens-assembly"


def body_of(assembly: Assembly) -> Body:
    """The assembly as the draws' gates and recipients see a body."""
    return Body(ASSEMBLY_BODY, assembly.scope, assembly.scope_id, assembly.title, assembly.timezone)


def account(registrant: AssemblyRegistrant) -> Recipient:
    """The registrant's account: no person, the private chat they registered from."""
    return Recipient(None, "", registrant.platform, registrant.user_id, registrant.chat_id)


def message_key(registrant: AssemblyRegistrant, what: str) -> str:
    return f"{queries.MESSAGE_KEY}{registrant.assembly_id}:{registrant.id}:{what}"


async def send_invitation(
    session: AsyncSession,
    assembly: Assembly,
    invitation: AssemblyInvitation,
    registrant: AssemblyRegistrant,
    now: dt.datetime,
    *,
    reminder: int = 0,
) -> None:
    """Queue the invitation (Accept / Decline), or its ``reminder``-th reminder,
    in the registrant's language."""
    t = translator(registrant.locale)
    text = invitation_text(t, assembly, invitation)
    if reminder:
        text = reminder_heading(t) + "\n" + text
    await enqueue(
        session,
        key=message_key(registrant, f"invite:{invitation.id}:{reminder}"),
        text=text,
        buttons=invitation_buttons(t, invitation),
        now=now,
        to=account(registrant),
    )


async def invite(
    session: AsyncSession,
    assembly: Assembly,
    draw: AssemblyDraw,
    registrant_id: int,
    now: dt.datetime,
) -> AssemblyInvitation | None:
    registrant = await session.get(AssemblyRegistrant, registrant_id)
    if registrant is None:
        return None
    invitation = AssemblyInvitation(
        draw_id=draw.id,
        registrant_id=registrant_id,
        status=INVITED,
        respond_by=respond_by(now, draw.answer_within_hours),
        reminders_sent=0,
    )
    session.add(invitation)
    await session.flush()
    await send_invitation(session, assembly, invitation, registrant, now)
    return invitation


async def replace_place(
    session: AsyncSession,
    settings: Settings,
    draw_id: int,
    left: str,
    event: str,
    now: dt.datetime,
) -> str | None:
    """Fill the place the entrant ``left`` (a pseudonym) gave up: the first
    reserve of the seeded order who keeps the quotas and whose household holds
    no place, recorded as an event of the draw's history. Returns the pseudonym
    invited, or None when nobody can be."""
    draw = await session.get(AssemblyDraw, draw_id, with_for_update=True)
    if draw is None or draw.seed is None or draw.status != DRAWN:
        return None
    await session.refresh(draw)
    assembly = await session.get(Assembly, draw.assembly_id)
    if assembly is None:
        return None
    behind = await queries.entrants_of(session, draw.id)
    of = {rid: name for name, rid in behind.items()}
    invitations = await queries.invitations_of(session, draw.id)
    standing, invited = standing_after(draw.record, draw.seed)
    standing |= {
        of[i.registrant_id]
        for i in invitations
        if i.status in (INVITED, ACCEPTED) and i.registrant_id in of
    }
    standing.discard(left)
    invited |= {of[i.registrant_id] for i in invitations if i.registrant_id in of}
    order = reserve_order(draw.record, draw.seed)
    gone = {name for name in order if name not in behind}  # withdrawn since the commitment
    features = features_of(draw.record) or {}
    chosen = next_replacement(draw.record, draw.seed, standing, invited, gone, features)
    passed = order[: order.index(chosen)] if chosen is not None else order
    skipped = [name for name in passed if name in gone and name not in invited]
    draw.record = with_event(
        draw.record,
        {
            "event": event,
            "at": now.isoformat(),
            "id": left,
            "replacement": chosen,
            "skipped": skipped,
        },
    )
    if chosen is not None:
        await invite(session, assembly, draw, behind[chosen], now)
    await enqueue_for(
        session,
        staff_of(body_of(assembly)),
        key=f"asm-vacancy:{draw.id}:{left}",
        render=lambda t: vacancy_notice(t, assembly, chosen is not None),
        now=now,
    )
    return chosen


async def answered(
    session: AsyncSession,
    settings: Settings,
    invitation: AssemblyInvitation,
    status: str,
    now: dt.datetime,
) -> None:
    """An invitation declined, expired or given up: its place goes to the next."""
    invitation.status = status
    invitation.answered_at = now
    await session.flush()
    behind = await queries.entrants_of(session, invitation.draw_id)
    of = {rid: name for name, rid in behind.items()}
    left = of.get(invitation.registrant_id)
    if left is not None:
        event = {EXPIRED: "expired", VACATED: "vacated"}.get(status, "declined")
        await replace_place(session, settings, invitation.draw_id, left, event, now)


async def vacate(
    session: AsyncSession, settings: Settings, registrant: AssemblyRegistrant, now: dt.datetime
) -> int:
    """Every place ``registrant`` holds or is offered becomes a vacancy (before
    their row is deleted); returns how many."""
    held = await queries.invitations_held(session, registrant.id)
    for invitation in held:
        await answered(session, settings, invitation, VACATED, now)
    return len(held)


async def invitation_sweep(db: Database, settings: Settings, now: dt.datetime) -> None:
    """Remind at 48 and 24 hours before the deadline; at it, silence is a decline."""
    async with db.transaction() as session:
        due = await queries.due_invitations(session, now + REMIND_AT[0])
    for invitation_id in due:
        async with db.transaction() as session:
            invitation = await session.get(AssemblyInvitation, invitation_id, with_for_update=True)
            if invitation is None or invitation.status != INVITED:
                continue
            if invitation.respond_by <= now:
                await answered(session, settings, invitation, EXPIRED, now)
                continue
            registrant = await session.get(AssemblyRegistrant, invitation.registrant_id)
            draw = await session.get(AssemblyDraw, invitation.draw_id)
            assembly = await session.get(Assembly, draw.assembly_id) if draw else None
            if registrant is None or assembly is None:
                continue
            for number, before in enumerate(REMIND_AT, start=1):
                if invitation.reminders_sent < number and invitation.respond_by - before <= now:
                    invitation.reminders_sent = number
                    await send_invitation(
                        session, assembly, invitation, registrant, now, reminder=number
                    )


TIMED = (Sweep("assembly-invitations", invitation_sweep),)
