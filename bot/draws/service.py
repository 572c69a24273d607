"""Draws by lot in chat: councils (of a branch, a region or the national
party) and delegations (from each branch to its region, from each region to
the national level).

1. **Preview.** The pool is the body's members with current dues who opted in
   (``/profile``) and have not sat on the same body within the rotation period.
   Quotas are proportional to the pool, plus or minus one seat per value, or
   set by the organiser. The organiser sees feasibility (or the smallest
   relaxation) and the fairness summary before anything is committed.
2. **Commit.** The record (``bot.lib.sortition.record``) is stored and posted; the
   people behind its pseudonymous ids are kept apart and never published. A
   delegation commits one record per sending branch (or region), each
   verifiable on its own, grouped under the first.
3. **Seed.** A beacon's round is fetched by the scheduler once it is published
   (and only if the bot saw it unpublished after the commitment); a lottery's
   numbers are entered with ``/draw seed`` by two witnesses (staff over the
   body) who must agree, and the scheduler reminds them on the lottery's day; a
   plain string needs one. The draw then completes: the index, the panel,
   invitations.
4. **Invitations.** Accept or Decline by the invited person only; reminders 48
   and 24 hours before the deadline; silence at the deadline is a decline. Each
   decline draws a replacement from those not yet invited, with quotas reduced
   by those still in, itself a committed record with a seed derived from the
   original one.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import math
import secrets
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from sqlalchemy import Select, bindparam, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.branches.service import organisers_of
from bot.kernel.actions import Action
from bot.kernel.config import Settings, parse_categories
from bot.kernel.effects import people_of
from bot.kernel.i18n import Translator, format_local, translator
from bot.kernel.messages import Attachment, Button
from bot.kernel.outbox import Recipients, enqueue, enqueue_for
from bot.kernel.timed import Sweep
from bot.lib.sortition import beacons, chains
from bot.lib.sortition.model import Person as Entrant
from bot.lib.sortition.model import Problem, Quota
from bot.lib.sortition.record import (
    commit_sealed,
    entrant_ids,
    features_of,
    next_replacement,
    open_drawn,
    reserve_order,
    selected_after,
    standing_after,
)
from bot.lib.sortition.seeds import is_trial, seed_exists_at
from storage.db import Database
from storage.models import (
    AuditEntry,
    Branch,
    BranchChat,
    CouncilSeat,
    Draw,
    DrawEntrant,
    Invitation,
    Person,
    Region,
    RoleGrant,
    SortitionProfile,
)
from storage.vocabulary import (
    ACCEPTED,
    ADMIN,
    AFFILIATED,
    DECLINED,
    EXPIRED,
    INVITED,
    NATIONAL_SCOPE_ID,
    ORGANISER,
    SCOPE_BRANCH,
    SCOPE_NATIONAL,
    SCOPE_REGION,
)
from storage.writes import claim

# httpx is imported where a beacon round is fetched, and the solver where a draw is
# solved: a bot that does neither holds neither in memory.
if TYPE_CHECKING:
    import httpx

log = logging.getLogger(__name__)

COUNCIL = "branch-council"
REGION_COUNCIL = "region-council"
NATIONAL_COUNCIL = "national-council"
TO_REGION = "delegation-region"  # delegates of a branch to its region
TO_NATIONAL = "delegation-national"  # delegates of a region to the national level
DELEGATIONS = (TO_REGION, TO_NATIONAL)
PREFER_NOT = "prefer not to say"
REMIND_AT = (dt.timedelta(hours=48), dt.timedelta(hours=24))
TRIAL = "trial"  # a completed draw whose seed was typed: it invites nobody
PREVIEW = "preview"  # solved and shown to the organiser, not committed: nobody's draw yet
COMMITTED = "committed"
CANCELLED = "cancelled"
VACATED = "vacated"  # an invitation or seat given up otherwise than by answering
PREVIEW_LIFETIME = dt.timedelta(days=2)  # as long as the preview's Commit button
RECORD_FILE_LIMIT = 8_000_000  # bytes: larger records are fetched with /draw record


def pseudonym(index: int) -> str:
    return f"P{index + 1:04d}"


@dataclass(frozen=True, slots=True)
class Body:
    """Who a draw is for: a council, or one unit's delegation. ``scope`` and
    ``scope_id`` name the unit whose members form the pool (a branch, a region,
    or the national party with id 0)."""

    kind: str
    scope: str
    scope_id: int
    name: str
    timezone: str
    destination: str = ""  # a delegation's: the region's name, or the party's

    def describe(self, t: Translator) -> str:
        if self.kind == TO_REGION:
            return t("the delegation of {unit} to {to}", unit=self.name, to=self.destination)
        if self.kind == TO_NATIONAL:
            return t("the delegation of {unit} to the national level", unit=self.name)
        if self.kind == REGION_COUNCIL:
            return t("the {unit} regional council", unit=self.name)
        if self.kind == NATIONAL_COUNCIL:
            return t("the national council")
        return t("the {unit} council", unit=self.name)


async def body_of(
    session: AsyncSession, settings: Settings, kind: str, scope: str, scope_id: int
) -> Body | None:
    if scope == SCOPE_BRANCH:
        branch = await session.get(Branch, scope_id)
        if branch is None:
            return None
        destination = ""
        if kind == TO_REGION and branch.region_id is not None:
            region = await session.get(Region, branch.region_id)
            destination = region.name if region else ""
        return Body(kind, scope, scope_id, branch.name, branch.timezone, destination)
    if scope == SCOPE_REGION:
        region = await session.get(Region, scope_id)
        if region is None:
            return None
        return Body(
            kind, scope, scope_id, region.name, settings.default_timezone, settings.party_name
        )
    return Body(
        kind, SCOPE_NATIONAL, NATIONAL_SCOPE_ID, settings.party_name, settings.default_timezone
    )


async def draw_body(session: AsyncSession, settings: Settings, draw: Draw) -> Body | None:
    return await body_of(session, settings, draw.body, draw.scope, draw.scope_id)


def branches_in(scope: str, scope_id: int) -> Select[Any]:
    """The ids of the branches whose members belong to a unit: the branch itself;
    a region's affiliated branches; every affiliated branch."""
    if scope == SCOPE_BRANCH:
        return select(Branch.id).where(Branch.id == scope_id)
    if scope == SCOPE_REGION:
        return select(Branch.id).where(Branch.region_id == scope_id, Branch.status == AFFILIATED)
    return select(Branch.id).where(Branch.status == AFFILIATED)


def _today(body: Body, now: dt.datetime) -> dt.date:
    return now.astimezone(ZoneInfo(body.timezone)).date()


async def eligible(
    session: AsyncSession, settings: Settings, body: Body, now: dt.datetime
) -> list[tuple[Person, dict[str, str]]]:
    """Members of the body's unit with current dues, opted in, not seated on the
    same body within the rotation period."""
    since = now - dt.timedelta(days=30 * settings.sortition_rotation_months)
    served = select(CouncilSeat.person_id).where(
        CouncilSeat.body == body.kind,
        CouncilSeat.scope == body.scope,
        CouncilSeat.scope_id == body.scope_id,
        CouncilSeat.since > since,
    )
    rows = await session.execute(
        select(Person, SortitionProfile.features)
        .join(SortitionProfile, SortitionProfile.person_id == Person.id)
        .where(
            Person.branch_id.in_(branches_in(body.scope, body.scope_id)),
            Person.dues_paid_until >= _today(body, now),
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


async def member_count(session: AsyncSession, body: Body, now: dt.datetime) -> int:
    """Members with current dues in the body's unit: what delegation seats follow."""
    return (
        await session.scalar(
            select(func.count(Person.id)).where(
                Person.branch_id.in_(branches_in(body.scope, body.scope_id)),
                Person.dues_paid_until >= _today(body, now),
            )
        )
        or 0
    )


def apportion(members: dict[int, int], caps: dict[int, int], seats: int) -> dict[int, int]:
    """Seats per unit in proportion to its members, at least one each, never
    more than its ``caps`` (who can be drawn there), summing to ``seats`` where
    the caps allow: the largest remainder method, deterministic (ties to the
    lower id). Units with nobody to draw get nothing."""
    units = sorted(u for u in members if caps.get(u, 0) > 0)
    total = sum(members[u] for u in units) or 1
    share = {u: seats * members[u] / total for u in units}
    given = {u: min(caps[u], max(1, math.floor(share[u]))) for u in units}
    while sum(given.values()) > seats:
        over = [u for u in units if given[u] > 1]
        if not over:
            break
        given[min(over, key=lambda u: (share[u] - given[u], -u))] -= 1
    while sum(given.values()) < seats:
        room = [u for u in units if given[u] < caps[u]]
        if not room:
            break
        given[max(room, key=lambda u: (share[u] - given[u], -u))] += 1
    return given


# Who hears about a draw: module-level queries (see bot.kernel.outbox.Recipients).
_PEOPLE_IN_REGION = select(Person.id).where(
    Person.branch_id.in_(
        select(Branch.id).where(
            Branch.region_id == bindparam("r_region"), Branch.status == AFFILIATED
        )
    )
)
_PEOPLE_NATIONAL = select(Person.id).where(
    Person.branch_id.in_(select(Branch.id).where(Branch.status == AFFILIATED))
)
_STAFF_OF_REGION = select(RoleGrant.person_id).where(
    RoleGrant.role.in_((ORGANISER, ADMIN)),
    (RoleGrant.scope == SCOPE_NATIONAL)
    | ((RoleGrant.scope == SCOPE_REGION) & (RoleGrant.scope_id == bindparam("r_region"))),
)
_NATIONAL_STAFF = select(RoleGrant.person_id).where(
    RoleGrant.role.in_((ORGANISER, ADMIN)), RoleGrant.scope == SCOPE_NATIONAL
)


def people_in(body: Body) -> Recipients:
    if body.scope == SCOPE_BRANCH:
        return people_of(_branch_ref(body.scope_id))
    if body.scope == SCOPE_REGION:
        return Recipients(_PEOPLE_IN_REGION, {"r_region": body.scope_id})
    return Recipients(_PEOPLE_NATIONAL, {})


def staff_of(body: Body) -> Recipients:
    """Who may see names: the unit's own organisers (a branch's, or the region's
    and national staff for a region, national staff for the party)."""
    if body.scope == SCOPE_BRANCH:
        return organisers_of(_branch_ref(body.scope_id))
    if body.scope == SCOPE_REGION:
        return Recipients(_STAFF_OF_REGION, {"r_region": body.scope_id})
    return Recipients(_NATIONAL_STAFF, {})


def _branch_ref(branch_id: int) -> Branch:
    return Branch(id=branch_id)


async def publish(
    session: AsyncSession,
    settings: Settings,
    body: Body,
    *,
    key: str,
    render: Any,
    now: dt.datetime,
    file: Attachment | None = None,
) -> None:
    """To the body's chats (the linked chats of its branches) if it has any, in
    the party's language, with ``file``; else to each of its people privately
    (without the file: a pool's record can be large)."""
    chats = list(
        await session.scalars(
            select(BranchChat.id).where(
                BranchChat.branch_id.in_(branches_in(body.scope, body.scope_id))
            )
        )
    )
    if not chats:
        await enqueue_for(session, people_in(body), key=key, render=render, now=now)
        return
    text = render(translator(settings.default_locale))
    if file is not None and len(file.content) > RECORD_FILE_LIMIT:
        file = None
    for chat_id in chats:
        await enqueue(
            session,
            key=f"{key}:chat{chat_id}",
            text=text,
            now=now,
            branch_chat_id=chat_id,
            file=file,
        )


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
    # Pseudonyms in a secret random order: numbered in joining order, they would
    # let anyone who knows who joined when read the published features.
    order = list(range(len(people)))
    secrets.SystemRandom().shuffle(order)
    entrants = [Entrant(pseudonym(order[i]), features) for i, (_, features) in enumerate(people)]
    behind = {pseudonym(order[i]): person.id for i, (person, _) in enumerate(people)}
    return Problem.build(entrants, quotas, seats), behind


async def solve(
    problem: Problem, seed_source: dict[str, Any], m: int
) -> tuple[dict[str, Any], str | None]:
    """(record, None), or the quotas relaxed as proposed and a sentence why.

    Solved in a thread: the linear programs can take a moment."""
    from bot.lib.sortition.panels import InfeasibleQuotas

    try:
        record, _ = await asyncio.to_thread(commit_sealed, problem, seed_source, m)
        return record, None
    except InfeasibleQuotas as exc:
        relaxed = Problem.build(problem.people, exc.relaxation.relaxed, problem.k, problem.exclude)
        record, _ = await asyncio.to_thread(commit_sealed, relaxed, seed_source, m)
        return record, exc.relaxation.describe()


def summary_text(t: Translator, record: dict[str, Any]) -> str:
    summary = record["summary"]
    low = format_local(float(summary["min_probability"]) * 100, "decimal1", t.locale)
    high = format_local(float(summary["max_probability"]) * 100, "decimal1", t.locale)
    chance = (
        t("Each person's chance of selection is {p}%.", p=low)
        if low == high
        else t(
            "Each person's chance of selection lies between {low}% and {high}%.", low=low, high=high
        )
    )
    return " ".join(
        (
            t.plural("Pool: {n} person;", "Pool: {n} people;", n_pool(record))
            + " "
            + t.plural("{n} seat.", "{n} seats.", record["k"]),
            chance,
            t.plural(
                "The lottery has {n} distinct panel.",
                "The lottery has {n} distinct panels.",
                summary["distinct_panels"],
            ),
            t("Record hash: {hash}.", hash=record["record_hash"][:16]),
        )
    )


def n_pool(record: dict[str, Any]) -> int:
    return len(entrant_ids(record)) - len(record["excluded"])


async def stage(
    session: AsyncSession,
    kind: str,
    body: Body,
    seats: int,
    record: dict[str, Any],
    behind: dict[str, int],
    now: dt.datetime,
) -> Draw:
    """Keep a preview as a draw in status ``preview``: who is behind each
    pseudonym stays in ``draw_entrants``, never in the organiser's prompt (which
    ``/mydata`` hands out). Previews older than a Commit button are deleted."""
    stale = select(Draw.id).where(Draw.status == PREVIEW, Draw.created_at < now - PREVIEW_LIFETIME)
    await session.execute(
        DrawEntrant.__table__.delete().where(DrawEntrant.draw_id.in_(stale))  # type: ignore[attr-defined]
    )
    await session.execute(Draw.__table__.delete().where(Draw.id.in_(stale)))  # type: ignore[attr-defined]
    draw = Draw(
        body=kind,
        scope=body.scope,
        scope_id=body.scope_id,
        seats=seats,
        status=PREVIEW,
        record=record,
        record_hash=record["record_hash"],
        seed_due_at=now,
        witnesses=[],
        round=0,
        respond_by=now,
        created_at=now,
    )
    session.add(draw)
    await session.flush()
    session.add_all(
        DrawEntrant(draw_id=draw.id, pseudonym=name, person_id=pid) for name, pid in behind.items()
    )
    await session.flush()
    return draw


async def pending_draw(session: AsyncSession, body: Body) -> Draw | None:
    """The body's draw committed and waiting for its seed, if any (at most one:
    ``uq_draws_one_pending``)."""
    return await session.scalar(
        select(Draw).where(
            Draw.body == body.kind,
            Draw.scope == body.scope,
            Draw.scope_id == body.scope_id,
            Draw.status == COMMITTED,
            Draw.round == 0,
        )
    )


async def published_hash(session: AsyncSession, draw: Draw) -> str | None:
    """The record hash announced when ``draw`` was committed, as the audit log
    holds it: what a record must match, whatever the draw's row now says."""
    rows = await session.scalars(
        select(AuditEntry.details)
        .where(AuditEntry.action == "draw.committed", AuditEntry.at >= draw.created_at)
        .order_by(AuditEntry.id)
    )
    for details in rows:
        if isinstance(details, dict) and details.get("draw") == draw.id:
            value = details.get("record_hash")
            return str(value) if value else None
    return None


def seed_may_be_known(draw: Draw, now: dt.datetime) -> bool:
    """Once a public seed is due, or witnesses have begun to enter it, a cancel
    could be a choice between panels."""
    source = draw.record.get("seed_source") or {}
    if draw.witnesses:
        return True
    return source.get("kind") in ("lottery", "beacon") and draw.seed_due_at <= now


def _with_event(record: dict[str, Any], event: dict[str, Any]) -> dict[str, Any]:
    """``record`` with ``event`` added to its history (kept outside the hashed fields)."""
    return {**record, "history": [*record.get("history", []), event]}


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
            record=_with_event(
                member.record, {"event": "cancelled", "at": now.isoformat(), "reason": reason}
            ),
        ):
            continue
        await session.refresh(member)
        done.append(member)
        body = await draw_body(session, settings, member)
        if body is None:
            continue

        def told(t: Translator, member: Draw = member, body: Body = body) -> str:
            return t(
                "Draw {id} for {body} was cancelled by its organisers before its seed was "
                "known. Their reason: {reason}",
                id=member.id,
                body=body.describe(t),
                reason=reason,
            )

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
    index, selected = selected_after(draw.record, seed)
    opened = open_drawn(draw.record, index)  # the drawn panel's counts: its quotas checkable
    record = draw.record if opened is None else {**draw.record, "opened": opened}
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
        trial_body = await draw_body(session, settings, draw)
        if trial_body is not None:
            await publish(
                session,
                settings,
                trial_body,
                key=f"drawn:{draw.id}",
                render=lambda t: t(
                    "TRIAL draw {id} for {body}: seed {seed}, panel {index} of {m}. The seed "
                    "was typed, not public, so nobody is invited and nobody takes a seat.",
                    id=draw.id,
                    body=trial_body.describe(t),
                    seed=seed[:80],
                    index=index,
                    m=draw.record["m"],
                ),
                now=now,
            )
        return []
    behind = dict(
        (
            await session.execute(
                select(DrawEntrant.pseudonym, DrawEntrant.person_id).where(
                    DrawEntrant.draw_id == draw.id
                )
            )
        ).all()
    )
    respond_by = now + max(draw.respond_by - draw.created_at, dt.timedelta(days=1))
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
        await _send_invitation(session, settings, body, invitation, now)

    def public(t: Translator) -> str:
        # No pseudonym: who was drawn is for the people drawn and the organisers.
        return t(
            "Draw {id} for {body} is done: seed {seed}, panel {index} of {m}; the {n} people "
            "selected have been invited. Anyone can check it against the record hash "
            "published at commit (/draw record {id}).",
            id=draw.id,
            body=body.describe(t),
            seed=seed[:80],
            index=index,
            m=draw.record["m"],
            n=len(selected),
        )

    await publish(session, settings, body, key=f"drawn:{draw.id}", render=public, now=now)
    names = []
    for name in selected:
        if name in forgotten:
            continue
        person = await session.get(Person, behind[name])
        names.append(f"{name} = {person.display_name if person else '?'}")
    await enqueue_for(
        session,
        staff_of(body),
        key=f"drawn-names:{draw.id}",
        render=lambda t: t(
            "Who was drawn for {body} (for organisers only): {names}.",
            body=body.describe(t),
            names="; ".join(names),
        ),
        now=now,
    )
    root = await root_of(session, draw)
    for name in forgotten:
        await enqueue_for(
            session,
            staff_of(body),
            key=f"draw-vacancy:{draw.id}:{name}",
            render=_vacancy_text(body, root.id),
            now=now,
        )
        await replace_place(session, settings, draw.id, f"{draw.id}:{name}", now, pseudonym=name)
    return invitations


async def _send_invitation(
    session: AsyncSession, settings: Settings, body: Body, invitation: Invitation, now: dt.datetime
) -> Person | None:
    """Queue the invitation (Accept / Decline) to its person, in their language."""
    person = await session.get(Person, invitation.person_id)
    t = translator(person.locale if person else settings.default_locale)
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


def invitation_text(t: Translator, body: Body, invitation: Invitation, tz: str) -> str:
    if body.kind in DELEGATIONS:
        ask = t("You have been drawn by lot for {body}. Will you go?", body=body.describe(t))
    else:
        ask = t("You have been drawn by lot for {body}. Will you serve?", body=body.describe(t))
    return (
        ask
        + " "
        + t(
            "Please answer by {when} ({tz} time); no answer counts as a no, and someone "
            "else is then drawn. If you accept, the members of {unit} see your name on its "
            "roster (/council).",
            when=format_local(invitation.respond_by, "day_time", t.locale, tz=tz),
            tz=tz,
            unit=body.name,
        )
    )


def invitation_buttons(t: Translator, invitation: Invitation) -> tuple[tuple[Button, ...], ...]:
    return (
        (
            Button(t("Accept"), Action.INVITATION_ACCEPT, str(invitation.id)),
            Button(t("Decline"), Action.INVITATION_DECLINE, str(invitation.id)),
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
    (see ``bot.lib.sortition.record``). No new record: the vacancy and its
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
    family = [root.id, *await session.scalars(select(Draw.id).where(Draw.parent_id == root.id))]
    invitations = list(
        await session.scalars(select(Invitation).where(Invitation.draw_id.in_(family)))
    )
    behind = dict(
        (
            await session.execute(
                select(DrawEntrant.pseudonym, DrawEntrant.person_id).where(
                    DrawEntrant.draw_id == root.id
                )
            )
        ).all()
    )
    of = {pid: name for name, pid in behind.items()}
    left = pseudonym if pseudonym is not None else of.get(person_id or 0)
    # Who holds a place: as the history replays (also a drawn entrant forgotten
    # before any invitation), and anyone invited (records older than the history).
    standing, invited = standing_after(root.record, root.seed)
    standing |= {
        of[i.person_id]
        for i in invitations
        if i.status in (INVITED, ACCEPTED) and i.person_id in of
    }
    standing.discard(left or "")
    invited |= {of[i.person_id] for i in invitations if i.person_id in of}
    still = {p.id for p, _ in await eligible(session, settings, body, now)}
    features = features_of(root.record) or {}
    order = reserve_order(root.record, root.seed)
    gone = {name for name in order if behind.get(name) not in still}
    chosen = next_replacement(root.record, root.seed, standing, invited, gone, features)
    passed = order[: order.index(chosen)] if chosen is not None else order
    happened = {
        "event": event,
        "at": now.isoformat(),
        "id": left,
        "replacement": chosen,
        "skipped": [name for name in passed if name in gone and name not in invited],
    }
    root.record = _with_event(root.record, happened)
    if chosen is None:
        # Nobody is left to ask: the organisers must hear it, not find out later.
        await enqueue_for(
            session,
            staff_of(body),
            key=f"draw-empty:{place}",
            render=lambda t: t(
                "Draw {id} for {body}: a place was given up, and nobody is left in the pool "
                "to draw in their place.",
                id=root.id,
                body=body.describe(t),
            ),
            now=now,
        )
        return "empty"
    invitation = Invitation(
        draw_id=root.id,
        person_id=behind[chosen],
        status=INVITED,
        respond_by=now + max(root.respond_by - root.created_at, dt.timedelta(days=1)),
        reminders_sent=0,
    )
    session.add(invitation)
    await session.flush()
    person = await _send_invitation(session, settings, body, invitation, now)
    shown = person.display_name if person else "?"
    await enqueue_for(
        session,
        staff_of(body),
        key=f"draw-replacement:{invitation.id}",
        render=lambda t: t(
            "Draw {id} for {body}: a place was given up; {name} is invited in it, the next "
            "in the reserve order the record committed (for organisers only).",
            id=root.id,
            body=body.describe(t),
            name=shown,
        ),
        now=now,
    )
    return None


def _vacancy_text(body: Body, draw_id: int) -> Callable[[Translator], str]:
    return lambda t: t(
        "A place on {body} (draw {id}) is vacant: its holder left. The next person is "
        "drawn under the draw's rules.",
        body=body.describe(t),
        id=draw_id,
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
            await enqueue_for(
                session,
                staff_of(body),
                key=f"draw-vacancy:{invitation.id}",
                render=_vacancy_text(body, root.id),
                now=now,
            )
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
                    t = translator(person.locale if person else settings.default_locale)
                    draw = await session.get(Draw, invitation.draw_id)
                    body = await draw_body(session, settings, draw) if draw else None
                    await enqueue(
                        session,
                        key=f"invite-remind:{invitation.id}:{number}",
                        text=t("A reminder, please answer:")
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


async def group_of(session: AsyncSession, draw: Draw) -> list[Draw]:
    """The draws committed and seeded together with ``draw``: its delegation, or itself."""
    if draw.group_id is None:
        return [draw]
    return list(
        await session.scalars(select(Draw).where(Draw.group_id == draw.group_id).order_by(Draw.id))
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


def seed_due(source: dict[str, Any], timezone: str, now: dt.datetime) -> dt.datetime:
    """When the seed exists: see ``bot.lib.sortition.seeds.seed_exists_at``."""
    return seed_exists_at(source, timezone, now)


async def seed_sweep(
    db: Database,
    settings: Settings,
    now: dt.datetime,
    client: httpx.AsyncClient | None = None,
    resolver: beacons.Resolver = beacons.resolve,
) -> None:
    """Draws waiting for their seed: once a beacon's round is due, fetch it, check
    its signature against the chain's key, store it and complete the draw; on a
    lottery's day, remind the organisers to have the result entered."""
    async with db.transaction() as session:
        # Only the seed sources, not the records (a national pool's is megabytes).
        waiting = (
            await session.execute(
                select(Draw.id, Draw.record["seed_source"], Draw.seed_due_at)
                .where(
                    Draw.status == "committed",
                    Draw.round == 0,
                    Draw.seed_reminded_at.is_(None),
                    (Draw.group_id.is_(None)) | (Draw.group_id == Draw.id),
                )
                .order_by(Draw.id)
            )
        ).all()
        due_beacons = [
            (i, dict(source))
            for i, source, due in waiting
            if source.get("kind") == "beacon" and due <= now
        ]
        for draw_id, source, due in waiting:
            if source.get("kind") == "lottery" and due <= now:
                draw = await session.get(Draw, draw_id)
                if draw is not None:
                    await _remind_seed(session, settings, draw, now)
    if not due_beacons:
        return
    import httpx

    owned = client is None
    client = client or httpx.AsyncClient(timeout=10.0, follow_redirects=False)
    urls = beacons.endpoints(settings.sortition_beacon_urls)
    try:
        for draw_id, source in due_beacons:
            chain = chains.chain_of(source)
            round_ = source.get("round")
            if chain is None or not isinstance(round_, int):
                continue
            try:
                proof = await beacons.fetch_round(chain, round_, urls, client, resolver)
            except beacons.BeaconError as exc:
                log.warning("draw %s: %s round %s: %s", draw_id, chain.name, round_, exc)
                continue
            if proof is None:
                continue
            async with db.transaction() as session:
                row = await session.get(Draw, draw_id, with_for_update=True)
                if row is None or row.status != "committed":
                    continue
                await session.execute(
                    update(Draw)
                    .where((Draw.id == row.id) | (Draw.group_id == row.id))
                    .values(seed_proof=proof.as_json())
                    .execution_options(synchronize_session=False)
                )
                await complete_group(session, settings, row, proof.randomness, now)
    finally:
        if owned:
            await client.aclose()


TIMED = (
    Sweep("invitations", invitation_sweep),  # once a minute: reminders, deadlines
    Sweep("seeds", seed_sweep),  # once a minute: beacon rounds due, lottery days
)


async def _remind_seed(
    session: AsyncSession, settings: Settings, draw: Draw, now: dt.datetime
) -> None:
    if draw.seed_reminded_at is not None or draw.seed_due_at > now:
        return
    body = await draw_body(session, settings, draw)
    if body is None:
        return
    draw.seed_reminded_at = now
    source = draw.record["seed_source"]
    await enqueue_for(
        session,
        staff_of(body),
        key=f"draw-seed-due:{draw.id}",
        render=lambda t: t(
            "Draw {id} for {body} waits for the numbers of {name} drawn on {date}. Two "
            "witnesses, members who are not both organisers, each enter them: /draw seed {id} "
            "followed by the numbers.",
            id=draw.id,
            body=body.describe(t),
            name=source.get("name"),
            date=source.get("date"),
        ),
        now=now,
    )


__all__ = [
    "ACCEPTED",
    "DECLINED",
    "EXPIRED",
    "cancel",
    "complete",
    "eligible",
    "pending_draw",
    "published_hash",
    "replace",
    "stage",
    "vacate",
]
