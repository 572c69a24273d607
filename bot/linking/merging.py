"""Two records of one person become one (:func:`merge_people`): the older
membership is kept and everything else moves onto it, so that a linked person
still has one membership, one vote, one sign-up per session and one invitation.
"""

from __future__ import annotations

from sqlalchemy import Table, and_, delete, exists, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import set_committed_value

from bot.linking.rules import merged_dues_and_consent
from storage.models import (
    Base,
    CanvassSignup,
    MeetingRsvp,
    OutboxMessage,
    Person,
    PollVoter,
)
from storage.vocabulary import GOING, RSVP_GOING, WAITING


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
    keep.dues_paid_until, keep.consented_at = merged_dues_and_consent(keep, drop)
    claim = drop.claim_code
    await session.delete(drop)
    await session.flush()
    if keep.claim_code is None and claim is not None:
        keep.claim_code = claim
