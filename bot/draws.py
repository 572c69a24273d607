"""Draws by lot in chat: from a branch's opted-in members to its council.

1. **Preview.** The pool is the branch's members with current dues who opted
   in (``/profile``) and have not sat on the council within the rotation period.
   Quotas are proportional to the pool, plus or minus one seat per value. The
   organiser sees feasibility (or the smallest relaxation) and the fairness
   summary before anything is committed.
2. **Commit.** The record (``bot.sortition.record``) is stored and posted; the
   people behind its pseudonymous ids are kept apart and never published.
3. **Seed.** Entered with ``/draw seed``: for a lottery or a beacon, two
   witnesses (staff over the branch) must enter the same value; a plain string
   needs one. The draw then completes: the index, the panel, invitations.
4. **Invitations.** Accept or Decline by the invited person only; reminders 48
   and 24 hours before the deadline; silence at the deadline is a decline. Each
   decline draws a replacement from those not yet invited, with quotas reduced
   by those still in, itself a committed record with a seed derived from the
   original one.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import math
from collections import Counter
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.branches import organisers_of, people_of
from bot.config import Settings, parse_categories
from bot.i18n import Translator, translator
from bot.messages import Button
from bot.outbox import enqueue, enqueue_for
from bot.sortition.model import Person as Entrant
from bot.sortition.model import Problem, Quota
from bot.sortition.panels import InfeasibleQuotas
from bot.sortition.record import commit, replacement_seed, selected_after
from bot.sweeps import sweep
from storage.db import Database
from storage.models import (
    ACCEPTED,
    DECLINED,
    EXPIRED,
    INVITED,
    SCOPE_BRANCH,
    Branch,
    CouncilSeat,
    Draw,
    DrawEntrant,
    Invitation,
    Person,
    SortitionProfile,
)

COUNCIL = "branch-council"
PREFER_NOT = "prefer not to say"
REMIND_AT = (dt.timedelta(hours=48), dt.timedelta(hours=24))


def pseudonym(index: int) -> str:
    return f"P{index + 1:04d}"


async def eligible(
    session: AsyncSession, settings: Settings, branch: Branch, now: dt.datetime
) -> list[tuple[Person, dict[str, str]]]:
    """Members of ``branch`` with current dues, opted in, not seated within the rotation."""
    from zoneinfo import ZoneInfo

    today = now.astimezone(ZoneInfo(branch.timezone)).date()
    since = now - dt.timedelta(days=30 * settings.sortition_rotation_months)
    served = select(CouncilSeat.person_id).where(
        CouncilSeat.body == COUNCIL,
        CouncilSeat.scope == SCOPE_BRANCH,
        CouncilSeat.scope_id == branch.id,
        CouncilSeat.since > since,
    )
    rows = await session.execute(
        select(Person, SortitionProfile.features)
        .join(SortitionProfile, SortitionProfile.person_id == Person.id)
        .where(
            Person.branch_id == branch.id,
            Person.dues_paid_until >= today,
            SortitionProfile.opted_in.is_(True),
            Person.id.not_in(served),
        )
        .order_by(Person.id)
    )
    categories = [name for name, _ in parse_categories(settings.sortition_categories)]
    return [
        (person, {c: str(features.get(c) or PREFER_NOT) for c in categories})
        for person, features in rows
    ]


def proportional_quotas(
    features: list[dict[str, str]], settings: Settings, seats: int
) -> list[Quota]:
    """Each value's share of the pool in seats, plus or minus one."""
    quotas = []
    for name, values in parse_categories(settings.sortition_categories):
        counts = Counter(f[name] for f in features)
        for value in [*values, PREFER_NOT]:
            share = seats * counts.get(value, 0) / max(len(features), 1)
            low = max(0, math.floor(share) - 1)
            high = min(seats, math.ceil(share) + 1) if counts.get(value) else 0
            quotas.append(Quota(name, value, low, high))
    return quotas


def build(
    people: list[tuple[Person, dict[str, str]]], quotas: list[Quota], seats: int
) -> tuple[Problem, dict[str, int]]:
    """The problem over pseudonymous ids, and who is behind each."""
    entrants = [Entrant(pseudonym(i), features) for i, (_, features) in enumerate(people)]
    behind = {pseudonym(i): person.id for i, (person, _) in enumerate(people)}
    return Problem.build(entrants, quotas, seats), behind


async def solve(
    problem: Problem, seed_source: dict[str, Any], m: int
) -> tuple[dict[str, Any], str | None]:
    """(record, None), or the quotas relaxed as proposed and a sentence why.

    Solved in a thread: the linear programs can take a moment."""
    try:
        record, _ = await asyncio.to_thread(commit, problem, seed_source, m)
        return record, None
    except InfeasibleQuotas as exc:
        relaxed = Problem.build(problem.people, exc.relaxation.relaxed, problem.k, problem.exclude)
        record, _ = await asyncio.to_thread(commit, relaxed, seed_source, m)
        return record, exc.relaxation.describe()


def summary_text(t: Translator, record: dict[str, Any]) -> str:
    summary = record["summary"]
    return t(
        "Pool: {n} people; {k} seats. Each person's chance of selection lies between "
        "{low}% and {high}%; the lottery has {panels} distinct panels. Record hash: {hash}.",
        n=len(record["pool"]) - len(record["excluded"]),
        k=record["k"],
        low=f"{float(summary['min_probability']) * 100:.1f}",
        high=f"{float(summary['max_probability']) * 100:.1f}",
        panels=summary["distinct_panels"],
        hash=record["record_hash"][:16],
    )


async def complete(
    session: AsyncSession, settings: Settings, draw: Draw, seed: str, now: dt.datetime
) -> list[Invitation] | None:
    """Draw with ``seed``: once (a conditional UPDATE); invitations go out."""
    index, selected = selected_after(draw.record, seed)
    done = await session.execute(
        update(Draw)
        .where(Draw.id == draw.id, Draw.status == "committed")
        .values(status="drawn", seed=seed, chosen_index=index, drawn_at=now)
        .execution_options(synchronize_session=False)
    )
    if getattr(done, "rowcount", 0) != 1:
        return None
    await session.refresh(draw)
    behind = dict(
        (
            await session.execute(
                select(DrawEntrant.pseudonym, DrawEntrant.person_id).where(
                    DrawEntrant.draw_id == draw.id
                )
            )
        ).all()
    )
    invitations = []
    for name in selected:
        invitation = Invitation(
            draw_id=draw.id,
            person_id=behind[name],
            status=INVITED,
            respond_by=draw.respond_by,
            reminders_sent=0,
        )
        session.add(invitation)
        invitations.append(invitation)
    await session.flush()
    branch = await session.get(Branch, draw.scope_id)
    for invitation in invitations:
        t = translator(settings.default_locale)
        person = await session.get(Person, invitation.person_id)
        if person is not None:
            t = translator(person.locale)
        await enqueue(
            session,
            key=f"invite:{invitation.id}",
            text=invitation_text(t, branch, draw),
            buttons=invitation_buttons(t, invitation),
            now=now,
            person_id=invitation.person_id,
        )
    if branch is not None:

        def public(t: Translator) -> str:
            return t(
                "Draw {id} for the {branch} council is done: seed {seed}, panel {index} of {m}. "
                "Selected: {ids}. Anyone can check it with the published record.",
                id=draw.id,
                branch=branch.name,
                seed=seed[:80],
                index=index,
                m=draw.record["m"],
                ids=", ".join(selected),
            )

        await enqueue_for(
            session,
            people_of(branch),
            key=f"drawn:{draw.id}",
            render=public,
            now=now,
        )
        names = []
        for name in selected:
            person = await session.get(Person, behind[name])
            names.append(f"{name} = {person.display_name if person else '?'}")
        await enqueue_for(
            session,
            organisers_of(branch),
            key=f"drawn-names:{draw.id}",
            render=lambda t: t(
                "Who was drawn (for organisers only): {names}.", names="; ".join(names)
            ),
            now=now,
        )
    return invitations


def invitation_text(t: Translator, branch: Branch | None, draw: Draw) -> str:
    return t(
        "You have been drawn by lot for the {branch} council. Will you serve? Please answer "
        "by {when} (UTC); no answer counts as a no, and someone else is then drawn.",
        branch=branch.name if branch else "",
        when=draw.respond_by.strftime("%a %d %b %H:%M"),
    )


def invitation_buttons(t: Translator, invitation: Invitation) -> tuple[tuple[Button, ...], ...]:
    return (
        (
            Button(t("Accept"), "invyes", str(invitation.id)),
            Button(t("Decline"), "invno", str(invitation.id)),
        ),
    )


async def root_of(session: AsyncSession, draw: Draw) -> Draw:
    while draw.parent_id is not None:
        parent = await session.get(Draw, draw.parent_id)
        if parent is None:
            break
        draw = parent
    return draw


async def replace(
    session: AsyncSession, settings: Settings, declined: Invitation, now: dt.datetime
) -> str | None:
    """Draw one replacement for a declined or expired invitation. Returns a
    reason when nobody can be drawn."""
    draw = await session.get(Draw, declined.draw_id)
    if draw is None:
        return "gone"
    root = await root_of(session, draw)
    family = [root.id, *await session.scalars(select(Draw.id).where(Draw.parent_id == root.id))]
    invited = list(await session.scalars(select(Invitation).where(Invitation.draw_id.in_(family))))
    branch = await session.get(Branch, root.scope_id)
    if branch is None or root.seed is None:
        return "gone"
    pool = [
        (p, f)
        for p, f in await eligible(session, settings, branch, now)
        if p.id not in {i.person_id for i in invited}
    ]
    if not pool:
        # Nobody is left to ask: the organisers must hear it, not find out later.
        await enqueue_for(
            session,
            organisers_of(branch),
            key=f"draw-empty:{declined.id}",
            render=lambda t: t(
                "Draw {id} for the {branch} council: someone declined, and nobody is left "
                "in the pool to draw in their place.",
                id=root.id,
                branch=branch.name,
            ),
            now=now,
        )
        return "empty"
    staying = {i.person_id for i in invited if i.status in (INVITED, ACCEPTED)}
    profiles = dict(
        (
            await session.execute(
                select(SortitionProfile.person_id, SortitionProfile.features).where(
                    SortitionProfile.person_id.in_(staying)
                )
            )
        ).all()
    )
    quotas = []
    for quota in root.record["quotas"]:
        taken = sum(
            1
            for pid in staying
            if str((profiles.get(pid) or {}).get(quota["category"]) or PREFER_NOT) == quota["value"]
        )
        quotas.append(
            Quota(
                quota["category"],
                quota["value"],
                max(0, quota["min"] - taken),
                max(0, quota["max"] - taken),
            )
        )
    round_ = (
        max([d.round for d in await session.scalars(select(Draw).where(Draw.id.in_(family)))]) + 1
    )
    problem, behind = build(pool, quotas, 1)
    source = {
        "kind": "string",
        "description": f"replacement {round_} of draw {root.id}: SHA-256(seed + 'replacement' + {round_})",
    }
    record, _relaxed = await solve(problem, source, settings.sortition_panels)
    replacement = Draw(
        body=root.body,
        scope=root.scope,
        scope_id=root.scope_id,
        seats=1,
        status="committed",
        record=record,
        record_hash=record["record_hash"],
        seed_due_at=now,
        witnesses=[],
        round=round_,
        parent_id=root.id,
        respond_by=now + dt.timedelta(days=settings.sortition_respond_days),
        created_by=root.created_by,
        created_at=now,
    )
    session.add(replacement)
    await session.flush()
    session.add_all(
        DrawEntrant(draw_id=replacement.id, pseudonym=name, person_id=pid)
        for name, pid in behind.items()
    )
    await session.flush()
    await complete(session, settings, replacement, replacement_seed(root.seed, round_), now)
    return None


@sweep("invitations")
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
                    t = translator(person.locale if person else settings.default_locale)
                    draw = await session.get(Draw, invitation.draw_id)
                    branch = await session.get(Branch, draw.scope_id) if draw else None
                    await enqueue(
                        session,
                        key=f"invite-remind:{invitation.id}:{number}",
                        text=t("A reminder, please answer:")
                        + "\n"
                        + (invitation_text(t, branch, draw) if draw else ""),
                        buttons=invitation_buttons(t, invitation),
                        now=now,
                        person_id=invitation.person_id,
                    )


__all__ = ["ACCEPTED", "DECLINED", "complete", "eligible", "replace"]
