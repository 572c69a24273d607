"""Casting a ballot: an open one (one row a voter, replaced by an upsert) or a
secret one (sealed, the roll marked by a conditional UPDATE in the same
transaction: of two simultaneous presses, one casts)."""

from __future__ import annotations

import datetime as dt
import secrets
import typing

from sqlalchemy import Table, bindparam, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import set_committed_value

from bot.kernel.config import Settings
from bot.polls import ballot_box
from bot.polls.queries import Place
from storage.models import Ballot, Person, Poll, PollVoter, SecretBallot
from storage.writes import claim, upsert

_ROLL = typing.cast(Table, PollVoter.__table__)


# Built once, on the table: an ORM update would also search the session for the
# rows it changes, which cost more than the update itself.
_MARK_VOTED = (
    update(_ROLL)
    .where(_ROLL.c.poll_id == bindparam("v_poll"), _ROLL.c.person_id == bindparam("v_person"))
    .values(voted=True)
)


async def cast_open(
    session: AsyncSession,
    poll: Poll,
    person: Person,
    choice: list[int],
    now: dt.datetime,
    place: Place,
) -> bool:
    """Record (or replace) an open ballot. Returns True if it replaced one.
    ``place``: what :func:`poll_for_vote` said of this voter in this transaction."""
    entry, existing = place
    await upsert(
        session,
        Ballot,
        # A reason went with the choice it explained: a new vote asks anew.
        {
            "poll_id": poll.id,
            "person_id": person.id,
            "choice": choice,
            "cast_at": now,
            "reason": None,
        },
        key=["poll_id", "person_id"],
        update=["choice", "cast_at", "reason"],
    )
    if entry is None or not entry.voted:  # a changed vote: marked on the roll already
        await session.execute(_MARK_VOTED, {"v_poll": poll.id, "v_person": person.id})
        if entry is not None:  # the entry loaded says so too, without a flush
            set_committed_value(entry, "voted", True)
    return existing


async def cast_secret(
    session: AsyncSession, poll: Poll, person: Person, choice: list[int], settings: Settings
) -> bool:
    """Cast a secret ballot, sealed (:mod:`bot.polls.ballot_box`); False if this
    person has already voted."""
    sealed = ballot_box.box(settings, session).seal(poll.id, choice)
    if not await claim(
        session,
        PollVoter,
        PollVoter.poll_id == poll.id,
        PollVoter.person_id == person.id,
        PollVoter.voted.is_(False),
        voted=True,
    ):
        return False
    session.add(SecretBallot(key=secrets.token_hex(16), poll_id=poll.id, sealed=sealed))
    return True
