"""Polls' queries: the scope's branches, the electoral roll, what a vote needs
to know, the ballots in the box and the turnout, forgetting a voter."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Select, and_, bindparam, func, insert, literal, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.kernel.config import Settings
from bot.kernel.context import parse_id
from bot.kernel.messages import Request
from bot.kernel.people import by_sender
from bot.polls import ballot_box
from bot.polls.rules import REASON_QUESTION as REASON
from storage.models import (
    Ballot,
    Branch,
    BranchChat,
    Person,
    Poll,
    PollVoter,
    Prompt,
    RoleGrant,
    SecretBallot,
)
from storage.vocabulary import ORGANISER, SCOPE_BRANCH, SCOPE_NATIONAL, SCOPE_REGION


async def scope_branches(session: AsyncSession, poll_scope: str, scope_id: int) -> list[Branch]:
    stmt = select(Branch)
    if poll_scope == SCOPE_BRANCH:
        stmt = stmt.where(Branch.id == scope_id)
    elif poll_scope == SCOPE_REGION:
        stmt = stmt.where(Branch.region_id == scope_id)
    return list(await session.scalars(stmt.order_by(Branch.id)))


def roll_query(
    branches: Sequence[Branch],
    now: dt.datetime,
    everyone: bool,
    *,
    national_timezone: str | None = None,
) -> Select[Any]:
    """The people who may vote: in these branches, and (unless ``everyone``)
    with dues paid through today in their branch's time zone. For a national
    poll (``national_timezone`` given), members in no branch too."""
    if everyone:
        clauses: list[Any] = [Person.branch_id.in_([b.id for b in branches])]
        if national_timezone:  # members in no branch; guests (no branch, no dues) are not
            clauses.append(and_(Person.branch_id.is_(None), Person.dues_paid_until.is_not(None)))
        return select(Person.id).where(or_(*clauses))
    by_day: dict[dt.date, list[int]] = {}
    for branch in branches:
        today = now.astimezone(ZoneInfo(branch.timezone)).date()
        by_day.setdefault(today, []).append(branch.id)
    clauses = [
        and_(Person.branch_id.in_(ids), Person.dues_paid_until >= day)
        for day, ids in by_day.items()
    ]
    if national_timezone:
        today = now.astimezone(ZoneInfo(national_timezone)).date()
        clauses.append(and_(Person.branch_id.is_(None), Person.dues_paid_until >= today))
    return select(Person.id).where(or_(*clauses) if clauses else literal(False))


async def roll_size(
    session: AsyncSession,
    branches: Sequence[Branch],
    now: dt.datetime,
    everyone: bool,
    *,
    national_timezone: str | None = None,
) -> int:
    """How many people :func:`roll_query` finds now (a preview's "who votes")."""
    roll = roll_query(branches, now, everyone, national_timezone=national_timezone).subquery()
    return int(await session.scalar(select(func.count()).select_from(roll)) or 0)


async def open_roll(
    session: AsyncSession, poll: Poll, branches: Sequence[Branch], default_timezone: str
) -> int:
    """Write the electoral roll (one INSERT ... SELECT); returns its size."""
    national = default_timezone if poll.scope == SCOPE_NATIONAL else None
    people = roll_query(
        branches, poll.opened_at, poll.everyone, national_timezone=national
    ).subquery()
    rows = select(literal(poll.id), people.c.id, literal(False))
    await session.execute(insert(PollVoter).from_select(["poll_id", "person_id", "voted"], rows))
    count = await session.scalar(
        select(func.count()).select_from(PollVoter).where(PollVoter.poll_id == poll.id)
    )
    return int(count or 0)


async def roll_entry(session: AsyncSession, poll: Poll, person: Person) -> PollVoter | None:
    return await session.scalar(
        select(PollVoter).where(PollVoter.poll_id == poll.id, PollVoter.person_id == person.id)
    )


# Built once: this runs for every press of a ballot's button.
_FOR_A_VOTE = (
    select(Poll, Branch.timezone, PollVoter, Ballot.id)
    .outerjoin(Branch, (Poll.scope == SCOPE_BRANCH) & (Branch.id == Poll.scope_id))
    .outerjoin(
        PollVoter, (PollVoter.poll_id == Poll.id) & (PollVoter.person_id == bindparam("person"))
    )
    .outerjoin(Ballot, (Ballot.poll_id == Poll.id) & (Ballot.person_id == bindparam("person")))
    .where(Poll.id == bindparam("poll"))
    .with_for_update(read=True, of=Poll)
)


Place = tuple[PollVoter | None, bool]  # a voter's roll entry (None: not on it), a ballot in?

# The same, with the presser's person, in one statement: a vote's button is pressed
# far more often than anything else.
_VOTE_AHEAD = (
    by_sender(Poll, Branch.timezone, PollVoter, Ballot.id)
    .join(Poll, Poll.id == bindparam("poll"))
    .outerjoin(Branch, (Poll.scope == SCOPE_BRANCH) & (Branch.id == Poll.scope_id))
    .outerjoin(PollVoter, (PollVoter.poll_id == Poll.id) & (PollVoter.person_id == Person.id))
    .outerjoin(Ballot, (Ballot.poll_id == Poll.id) & (Ballot.person_id == Person.id))
    .with_for_update(read=True, of=Poll)
)


def vote_ahead(request: Request) -> tuple[Select[Any], dict[str, Any]] | None:
    """The prefetch of a press of a ballot's button (``poll.option``): what
    :func:`poll_for_vote` reads, read with the person (bot.kernel.registry.Prefetch)."""
    poll_id = parse_id(request.target.partition(".")[0])
    return (_VOTE_AHEAD, {"poll": poll_id}) if poll_id is not None else None


def vote_read_ahead(row: tuple[Any, ...]) -> tuple[Poll, str | None, Place]:
    """What :func:`poll_for_vote` returns, from :func:`vote_ahead`'s row."""
    poll, timezone, entry, ballot_id = row
    return poll, timezone, (entry, ballot_id is not None)


async def poll_for_vote(
    session: AsyncSession, poll_id: int, person_id: int | None
) -> tuple[Poll, str | None, Place] | None:
    """What a vote needs, in one query (None: no such poll): the poll, share-locked,
    so that a close (which updates it) waits for the vote and counts it; its
    branch's time zone (a branch's poll); the person's entry on its roll and
    whether an open ballot of theirs is in the box."""
    row = (await session.execute(_FOR_A_VOTE, {"poll": poll_id, "person": person_id})).first()
    if row is None:
        return None
    poll, timezone, entry, ballot_id = row
    return poll, timezone, (entry, ballot_id is not None)


async def my_choice(session: AsyncSession, poll: Poll, person: Person) -> list[int] | None:
    if poll.secret:
        return None
    row = await session.scalar(
        select(Ballot.choice).where(Ballot.poll_id == poll.id, Ballot.person_id == person.id)
    )
    return list(row) if row is not None else None


async def ballots_of(session: AsyncSession, poll: Poll, settings: Settings) -> list[list[int]]:
    if poll.secret:
        sealer = ballot_box.box(settings, session)
        return [
            sealer.open(poll.id, sealed)
            for sealed in await session.scalars(
                select(SecretBallot.sealed).where(SecretBallot.poll_id == poll.id)
            )
            if sealed is not None
        ]
    return [
        list(c)
        for c in await session.scalars(select(Ballot.choice).where(Ballot.poll_id == poll.id))
    ]


async def turnout(session: AsyncSession, poll: Poll) -> tuple[int, int, int]:
    """(on the roll, marked as voted, ballots)."""
    roll = await session.scalar(
        select(func.count()).select_from(PollVoter).where(PollVoter.poll_id == poll.id)
    )
    voted = await session.scalar(
        select(func.count())
        .select_from(PollVoter)
        .where(PollVoter.poll_id == poll.id, PollVoter.voted.is_(True))
    )
    model: Any = SecretBallot if poll.secret else Ballot
    ballots = await session.scalar(
        select(func.count()).select_from(model).where(model.poll_id == poll.id)
    )
    return int(roll or 0), int(voted or 0), int(ballots or 0)


async def scope_timezone(session: AsyncSession, settings: Settings, poll: Poll) -> str:
    if poll.scope == SCOPE_BRANCH:
        branch = await session.get(Branch, poll.scope_id)
        if branch is not None:
            return branch.timezone
    return settings.default_timezone


async def forget_voter(session: AsyncSession, person_id: int) -> None:
    """Before a person is deleted (/forget): their places on rolls and their open
    ballots stay, with nobody's name on them. A closed result, the turnout and the
    count of an open poll stay as they were; nothing left names the person, and
    the reasons they gave in open polls still running go."""
    await session.execute(
        update(Ballot)
        .where(Ballot.person_id == person_id)
        .values(reason=None)
        .execution_options(synchronize_session=False)
    )
    for model in (PollVoter, Ballot):
        await session.execute(
            update(model)
            .where(model.person_id == person_id)
            .values(person_id=None)
            .execution_options(synchronize_session=False)
        )


BRANCH_ROLL = (
    select(PollVoter.person_id)
    .join(Person, Person.id == PollVoter.person_id)
    .where(PollVoter.poll_id == bindparam("r_poll"), Person.branch_id == bindparam("r_branch"))
)


UNBRANCHED_ROLL = (
    select(PollVoter.person_id)
    .join(Person, Person.id == PollVoter.person_id)
    .where(PollVoter.poll_id == bindparam("r_poll"), Person.branch_id.is_(None))
)


async def linked_chats(session: AsyncSession, branches: Sequence[Branch]) -> list[BranchChat]:
    """The group chats linked to these branches (where a poll and its result go)."""
    return list(
        await session.scalars(
            select(BranchChat).where(BranchChat.branch_id.in_([b.id for b in branches]))
        )
    )


async def open_polls_of(session: AsyncSession, person_id: int) -> list[tuple[Poll, bool]]:
    """The first ten open polls with this person on the roll, soonest to close
    first, each with whether they have voted."""
    rows = await session.execute(
        select(Poll, PollVoter.voted)
        .join(PollVoter, PollVoter.poll_id == Poll.id)
        .where(PollVoter.person_id == person_id, Poll.closed_at.is_(None))
        .order_by(Poll.closes_at, Poll.id)
        .limit(10)
    )
    return [(poll, voted) for poll, voted in rows]


_SCOPE_ORGANISERS = select(RoleGrant.person_id).where(
    RoleGrant.role == ORGANISER,
    RoleGrant.scope == bindparam("r_scope"),
    RoleGrant.scope_id == bindparam("r_scope_id"),
)
POLL_ORGANISERS = select(Person.id).where(
    or_(Person.id.in_(_SCOPE_ORGANISERS), Person.id == bindparam("r_creator"))
)
"""The organisers of a poll's branch, region or party, and whoever posted it
(``r_scope``, ``r_scope_id``, ``r_creator``)."""


async def close_reason_questions(session: AsyncSession, owner_key: str, now: dt.datetime) -> None:
    """An earlier proposal's reason question of this person is no longer open: a
    reply answers the vote just cast."""
    await session.execute(
        update(Prompt)
        .where(Prompt.owner_key == owner_key, Prompt.kind == REASON, Prompt.used_at.is_(None))
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    )


async def reason_question(session: AsyncSession, owner_key: str, now: dt.datetime) -> int | None:
    """The poll of the reason question this request has just taken, if any."""
    row = await session.scalar(
        select(Prompt)
        .where(Prompt.owner_key == owner_key, Prompt.kind == REASON, Prompt.used_at == now)
        .order_by(Prompt.id.desc())
        .limit(1)
    )
    return int(row.payload["poll"]) if row is not None else None


async def set_reason(session: AsyncSession, poll: Poll, person_id: int, reason: str) -> bool:
    """Keep an open ballot's reason; False if the person has no ballot in it."""
    done = await session.execute(
        update(Ballot)
        .where(Ballot.poll_id == poll.id, Ballot.person_id == person_id)
        .values(reason=reason)
        .execution_options(synchronize_session=False)
    )
    return bool(getattr(done, "rowcount", 0))


async def reasons_of(session: AsyncSession, poll: Poll) -> list[tuple[int, str]]:
    """An open poll's reasons, (option, reason), with no name."""
    if poll.secret:
        return []
    rows = await session.execute(
        select(Ballot.choice, Ballot.reason).where(
            Ballot.poll_id == poll.id, Ballot.reason.is_not(None)
        )
    )
    return [(int(choice[0]), str(reason)) for choice, reason in rows if choice]


async def roll_count(session: AsyncSession, poll: Poll) -> int:
    return int(
        await session.scalar(
            select(func.count()).select_from(PollVoter).where(PollVoter.poll_id == poll.id)
        )
        or 0
    )
