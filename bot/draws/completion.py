"""A committed draw's end: cancelled before its seed, or completed with it (the
panel drawn, the invitations sent, the result published), alone or with the rest
of its delegation.
"""

from __future__ import annotations

import datetime as dt
from functools import partial

from sqlalchemy.ext.asyncio import AsyncSession

from bot.draws.announce import publish
from bot.draws.bodies import Body
from bot.draws.invitations import replace_place, send_invitation, tell_vacancy
from bot.draws.queries import draw_body, entrants_of, group_of, root_of, staff_of
from bot.draws.rules import CANCELLED, COMMITTED, TRIAL, answer_by, with_event
from bot.draws.texts import (
    cancelled_notice,
    drawn_names_notice,
    drawn_notice,
    trial_notice,
)
from bot.kernel.config import Settings
from bot.kernel.outbox import enqueue_for
from bot.lib.sortition.drawing import seeded
from bot.lib.sortition.seeds import is_trial
from storage.models import Draw, Invitation, Person
from storage.vocabulary import INVITED
from storage.writes import claim


async def cancel(
    session: AsyncSession, settings: Settings, draw: Draw, reason: str, now: dt.datetime
) -> list[Draw]:
    """Cancel ``draw`` (and the rest of its delegation) before its seed: its
    history keeps the reason, and everyone in the body is told."""
    done = []
    for member in await group_of(session, draw):
        if not await claim(
            session,
            Draw,
            Draw.id == member.id,
            Draw.status == COMMITTED,
            status=CANCELLED,
            record=with_event(
                member.record, {"event": "cancelled", "at": now.isoformat(), "reason": reason}
            ),
        ):
            continue
        await session.refresh(member)
        done.append(member)
        body = await draw_body(session, settings, member)
        if body is None:
            continue
        told = partial(cancelled_notice, member=member, body=body, reason=reason)
        await publish(
            session, settings, body, key=f"draw-cancelled:{member.id}", render=told, now=now
        )
    return done


async def complete(
    session: AsyncSession, settings: Settings, draw: Draw, seed: str, now: dt.datetime
) -> list[Invitation] | None:
    """Draw with ``seed``: once (a conditional UPDATE), never before the seed
    exists; invitations go out, each with as long to answer as the draw
    promised, counted from now. A trial (a seed nobody outside can check, see
    ``bot.lib.sortition.seeds``) is drawn and announced as one, and invites nobody."""
    if draw.round == 0 and now < draw.seed_due_at:
        return None
    trial = draw.round == 0 and is_trial(draw.record["seed_source"])
    index, selected, record = seeded(draw.record, seed)
    if not await claim(
        session,
        Draw,
        Draw.id == draw.id,
        Draw.status == "committed",
        status=TRIAL if trial else "drawn",
        seed=seed,
        chosen_index=index,
        drawn_at=now,
        record=record,
    ):
        return None
    await session.refresh(draw)
    if trial:
        await _announce_trial(session, settings, draw, seed, index, now)
        return []
    behind = await entrants_of(session, draw.id)
    respond_by = answer_by(draw, now)
    invitations = []
    # Someone forgotten (/forget) since the commitment has no entrant left: their
    # place is a vacancy, filled below.
    forgotten = [name for name in selected if name not in behind]
    for name in selected:
        if name in forgotten:
            continue
        invitation = Invitation(
            draw_id=draw.id,
            person_id=behind[name],
            status=INVITED,
            respond_by=respond_by,
            reminders_sent=0,
        )
        session.add(invitation)
        invitations.append(invitation)
    await session.flush()
    body = await draw_body(session, settings, draw)
    if body is None:
        return invitations
    for invitation in invitations:
        await send_invitation(session, settings, body, invitation, now)
    await _announce_drawn(session, settings, body, draw, seed, index, selected, behind, now)
    root = await root_of(session, draw)
    for name in forgotten:
        await tell_vacancy(session, body, root.id, f"{draw.id}:{name}", now)
        await replace_place(session, settings, draw.id, f"{draw.id}:{name}", now, pseudonym=name)
    return invitations


async def _announce_trial(
    session: AsyncSession, settings: Settings, draw: Draw, seed: str, index: int, now: dt.datetime
) -> None:
    """Tell the body a trial was drawn: which panel, and that it invites nobody."""
    trial_body = await draw_body(session, settings, draw)
    if trial_body is not None:
        await publish(
            session,
            settings,
            trial_body,
            key=f"drawn:{draw.id}",
            render=lambda t: trial_notice(t, draw, trial_body, seed, index),
            now=now,
        )


async def _announce_drawn(
    session: AsyncSession,
    settings: Settings,
    body: Body,
    draw: Draw,
    seed: str,
    index: int,
    selected: tuple[str, ...],
    behind: dict[str, int],
    now: dt.datetime,
) -> None:
    """Publish that ``draw`` is done (no names), and tell the organisers who was
    drawn (those forgotten since, who have no entrant left, are not named)."""
    public = partial(drawn_notice, draw=draw, body=body, seed=seed, index=index, selected=selected)
    await publish(session, settings, body, key=f"drawn:{draw.id}", render=public, now=now)
    names = []
    for name in selected:
        if name not in behind:
            continue
        person = await session.get(Person, behind[name])
        names.append(f"{name} = {person.display_name if person else '?'}")
    await enqueue_for(
        session,
        staff_of(body),
        key=f"drawn-names:{draw.id}",
        render=lambda t: drawn_names_notice(t, body, names),
        now=now,
        default_locale=settings.default_locale,
    )


async def complete_group(
    session: AsyncSession, settings: Settings, draw: Draw, seed: str, now: dt.datetime
) -> list[Invitation] | None:
    """Complete ``draw`` and the rest of its delegation with one seed; None if it
    was already done."""
    done: list[Invitation] | None = None
    for member in await group_of(session, draw):
        invitations = await complete(session, settings, member, seed, now)
        if invitations is not None:
            done = [*(done or []), *invitations]
    return done
