"""One person, several platforms: link codes and merging two records into one.

``/link`` on one platform gives a code; ``/link CODE`` on another attaches that
account to the same Person. If the second account already had a record of its
own, the two records become one (:func:`merge_people`): the older membership is
kept and everything else moves onto it, so that a linked person still has one
membership, one vote, one sign-up per session and one invitation.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets

from sqlalchemy import Table, and_, delete, exists, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import set_committed_value

from bot.kernel.people import SHORT_ID_ALPHABET
from storage.models import (
    Base,
    CanvassSignup,
    Identity,
    LinkCode,
    LinkFailure,
    MeetingRsvp,
    OutboxMessage,
    Person,
    Poll,
    PollVoter,
)
from storage.vocabulary import GOING, RSVP_GOING, WAITING
from storage.writes import claim

CODE_LENGTH = 8  # 32**8: about 10**12 codes
CODE_LIFETIME = dt.timedelta(minutes=10)
FAILURES_ALLOWED = 5  # wrong codes per account ...
FAILURE_WINDOW = dt.timedelta(hours=1)  # ... in this time
CODES_ALLOWED = 5  # codes a person may ask for ...
CODE_WINDOW = dt.timedelta(hours=1)  # ... in this time
# What people mistype for Crockford base32 digits.
_READ_AS = str.maketrans({"O": "0", "I": "1", "L": "1", "U": "V"})


def new_code() -> str:
    """A code to show: eight characters in two groups, e.g. ``7KQ2-M9XD``.

    From ``secrets``, never from the bot's seeded random source: whoever could
    reproduce that source (it also makes short ids and trial draws) must not be
    able to compute someone's code.
    """
    raw = "".join(secrets.choice(SHORT_ID_ALPHABET) for _ in range(CODE_LENGTH))
    return f"{raw[:4]}-{raw[4:]}"


def normalise_code(text: str) -> str | None:
    """The code as typed (any case, with or without the dash or spaces), or None."""
    raw = "".join(text.split()).replace("-", "").upper().translate(_READ_AS)
    if len(raw) != CODE_LENGTH or any(ch not in SHORT_ID_ALPHABET for ch in raw):
        return None
    return raw


def code_hash(raw: str) -> str:
    return hashlib.sha256(f"link:{raw}".encode()).hexdigest()


async def codes_issued(session: AsyncSession, person: Person, now: dt.datetime) -> int:
    """How many codes this person asked for in the last ``CODE_WINDOW``."""
    count = await session.scalar(
        select(func.count())
        .select_from(LinkCode)
        .where(LinkCode.person_id == person.id, LinkCode.created_at > now - CODE_WINDOW)
    )
    return int(count or 0)


async def issue_code(session: AsyncSession, person: Person, platform: str, now: dt.datetime) -> str:
    """A fresh code for this person; earlier unused ones stop working (they are
    kept, expired, for an hour: they count towards ``CODES_ALLOWED``)."""
    await session.execute(
        delete(LinkCode).where(
            LinkCode.person_id == person.id, LinkCode.created_at <= now - CODE_WINDOW
        )
    )
    await session.execute(
        update(LinkCode)
        .where(
            LinkCode.person_id == person.id,
            LinkCode.used_at.is_(None),
            LinkCode.expires_at > now,
        )
        .values(expires_at=now)
        .execution_options(synchronize_session=False)
    )
    code = new_code()
    session.add(
        LinkCode(
            code_hash=code_hash(code.replace("-", "")),
            person_id=person.id,
            platform=platform,
            created_at=now,
            expires_at=now + CODE_LIFETIME,
        )
    )
    await session.flush()
    return code


async def recent_failures(session: AsyncSession, owner_key: str, now: dt.datetime) -> int:
    await session.execute(delete(LinkFailure).where(LinkFailure.at <= now - FAILURE_WINDOW))
    count = await session.scalar(
        select(func.count()).select_from(LinkFailure).where(LinkFailure.owner_key == owner_key)
    )
    return int(count or 0)


async def take_code(session: AsyncSession, raw: str, now: dt.datetime) -> LinkCode | None:
    """The code's row, now used; None if it is unknown, expired or already used.

    Taking it is one conditional UPDATE, so a code entered twice at the same
    instant is taken once.
    """
    row = await session.scalar(select(LinkCode).where(LinkCode.code_hash == code_hash(raw)))
    if row is None:
        return None
    taken = await claim(
        session,
        LinkCode,
        LinkCode.id == row.id,
        LinkCode.used_at.is_(None),
        LinkCode.expires_at > now,
        used_at=now,
    )
    return row if taken else None


def older_membership(a: Person, b: Person) -> tuple[Person, Person]:
    """(keep, drop): the record whose branch membership is older is kept; with
    no membership on either side, the older record."""

    def age(p: Person) -> tuple[int, dt.datetime, int]:
        joined = p.joined_branch_at if p.branch_id is not None else None
        return (0 if joined is not None else 1, joined or p.created_at, p.id)

    return (a, b) if age(a) <= age(b) else (b, a)


def person_columns() -> list[tuple[Table, str]]:
    """Every (table, column) that points at a person: what a merge must move."""
    persons = Person.__table__
    found: list[tuple[Table, str]] = []
    for table in Base.metadata.sorted_tables:
        for fk in table.foreign_keys:
            if fk.column.table is persons and fk.parent.table is table:
                found.append((table, fk.parent.name))
    return found


def _unique_sets(table: Table, column: str) -> list[list[str]]:
    """The other columns of each unique constraint or index that includes ``column``."""
    sets: list[list[str]] = []
    for constraint in table.constraints:
        names = [c.name for c in getattr(constraint, "columns", [])]
        if constraint.__class__.__name__ == "UniqueConstraint" and column in names:
            sets.append([n for n in names if n != column])
    for index in table.indexes:
        names = [c.name for c in index.columns]
        if index.unique and column in names:
            sets.append([n for n in names if n != column])
    return sets


async def merge_people(session: AsyncSession, keep: Person, drop: Person) -> None:
    """Move everything of ``drop`` onto ``keep`` and delete ``drop``.

    Where both have a row that may exist only once per person (a role, a
    sign-up for one session, a ballot in one poll), ``keep``'s row stays and
    ``drop``'s goes, except that a firm canvass place beats a waiting one.
    Messages queued for both under the same key are sent once.
    """
    # Both voted in the same poll: one vote survives. Whoever voted, the merged
    # person has voted (no reminder, and no second secret ballot).
    voted_there = select(PollVoter.poll_id).where(
        PollVoter.person_id == drop.id, PollVoter.voted.is_(True)
    )
    await session.execute(
        update(PollVoter)
        .where(PollVoter.person_id == keep.id, PollVoter.poll_id.in_(voted_there))
        .values(voted=True)
        .execution_options(synchronize_session=False)
    )
    # A firm place on a meeting beats a waiting, maybe or no answer.
    firm = select(MeetingRsvp.meeting_id).where(
        MeetingRsvp.person_id == drop.id, MeetingRsvp.answer == RSVP_GOING
    )
    await session.execute(
        delete(MeetingRsvp).where(
            MeetingRsvp.person_id == keep.id,
            MeetingRsvp.answer != RSVP_GOING,
            MeetingRsvp.meeting_id.in_(firm),
        )
    )
    # A firm place on a session beats a place on its waiting list.
    mine = select(CanvassSignup.session_id).where(
        CanvassSignup.person_id == drop.id, CanvassSignup.status == GOING
    )
    await session.execute(
        delete(CanvassSignup).where(
            CanvassSignup.person_id == keep.id,
            CanvassSignup.status == WAITING,
            CanvassSignup.session_id.in_(mine),
        )
    )
    # Outbox keys end in the recipient's id: re-key drop's messages, and drop
    # those keep already has.
    suffix, new_suffix = f":{drop.id}", f":{keep.id}"
    for row in list(
        await session.scalars(select(OutboxMessage).where(OutboxMessage.person_id == drop.id))
    ):
        if not row.key.endswith(suffix):
            continue
        new_key = row.key[: -len(suffix)] + new_suffix
        clash = await session.scalar(select(OutboxMessage.id).where(OutboxMessage.key == new_key))
        if clash is not None:
            await session.delete(row)
        else:
            row.key = new_key[:160]
    await session.flush()
    # Every other table, generically, so that tables added later are covered too.
    for table, column in person_columns():
        col = table.c[column]
        for others in _unique_sets(table, column):
            twin = table.alias("twin")
            same = and_(twin.c[column] == keep.id, *[twin.c[o] == table.c[o] for o in others])
            await session.execute(
                delete(table).where(col == drop.id, exists(select(twin.c[column]).where(same)))
            )
        await session.execute(update(table).where(col == drop.id).values({column: keep.id}))
    # Rows already loaded in this session (the sender's identity, say) follow too.
    for obj in list(session.identity_map.values()):
        for table, column in person_columns():
            if getattr(obj, "__table__", None) is table and getattr(obj, column, None) == drop.id:
                set_committed_value(obj, column, keep.id)
    # The person's own fields: the kept membership, the longer dues.
    if drop.dues_paid_until is not None and (
        keep.dues_paid_until is None or drop.dues_paid_until > keep.dues_paid_until
    ):
        keep.dues_paid_until = drop.dues_paid_until
    if keep.consented_at is None or (
        drop.consented_at is not None and drop.consented_at < keep.consented_at
    ):
        keep.consented_at = drop.consented_at
    claim = drop.claim_code
    await session.delete(drop)
    await session.flush()
    if keep.claim_code is None and claim is not None:
        keep.claim_code = claim


async def secret_votes_in_common(session: AsyncSession, a: Person, b: Person) -> list[str]:
    """Open secret ballots both records have voted in: merging them would leave
    one person with two ballots that nobody can tell apart, so it must wait."""
    mine, theirs = PollVoter.__table__.alias("mine"), PollVoter.__table__.alias("theirs")
    rows = await session.scalars(
        select(Poll.question)
        .join(mine, mine.c.poll_id == Poll.id)
        .join(theirs, theirs.c.poll_id == Poll.id)
        .where(
            Poll.secret.is_(True),
            Poll.closed_at.is_(None),
            mine.c.person_id == a.id,
            mine.c.voted.is_(True),
            theirs.c.person_id == b.id,
            theirs.c.voted.is_(True),
        )
    )
    return list(rows)


async def platforms_of(session: AsyncSession, person_id: int) -> set[str]:
    rows = await session.scalars(select(Identity.platform).where(Identity.person_id == person_id))
    return set(rows)
