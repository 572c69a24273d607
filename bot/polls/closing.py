"""Closing a poll, once (a conditional UPDATE of ``closed_at``, whether the
deadline's sweep or an organiser gets there first): a secret poll's ballots and
roll written anew, the count stored, the result announced."""

from __future__ import annotations

import asyncio
import datetime as dt
import secrets
from dataclasses import dataclass
from typing import Any

from sqlalchemy import bindparam, delete, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.kernel.config import Settings
from bot.kernel.messages import Attachment
from bot.kernel.outbox import Recipients, enqueue, enqueue_for
from bot.kernel.people import reader
from bot.polls import ballot_box
from bot.polls.queries import (
    ballots_of,
    linked_chats,
    reasons_of,
    roll_count,
    scope_branches,
    scope_timezone,
)
from bot.polls.rules import count
from bot.polls.texts import chart, meeting_buttons, result_text
from storage.models import Person, Poll, PollVoter, SecretBallot
from storage.writes import claim


@dataclass
class Closed:
    poll: Poll
    result: dict[str, Any]


async def close(
    session: AsyncSession, settings: Settings, poll: Poll, now: dt.datetime
) -> Closed | None:
    """Close the poll, count it, and queue the results; None if it was closed already."""
    if not await claim(session, Poll, Poll.id == poll.id, Poll.closed_at.is_(None), closed_at=now):
        return None
    await session.refresh(poll)
    if poll.secret:
        await reshuffle(session, poll, settings)
    result = count(
        poll,
        await ballots_of(session, poll, settings),
        roll=await roll_count(session, poll),
        reasons=await reasons_of(session, poll),
    )
    poll.result = result
    await announce_result(session, settings, poll, result, now)
    return Closed(poll, result)


async def reshuffle(session: AsyncSession, poll: Poll, settings: Settings) -> None:
    """Write a secret poll's ballots and its roll anew, in the closing transaction.

    On PostgreSQL a row carries the id of the transaction that wrote it
    (``xmin``) and sits where it was written (``ctid``, the order of a
    ``pg_dump``): while the poll is open, a ballot and its voter's roll row were
    written by one transaction, in the order of voting. Here every ballot is
    sealed again (new nonce, new key, so no blob matches one in a backup taken
    meanwhile) and written in random order, and the roll is written in the order
    of the people: all by one transaction, so ``xmin`` joins every voter to every
    ballot, and the order carries nothing. The old rows stay in the tables' pages
    until a VACUUM (:func:`vacuum_closed`); on SQLite they are overwritten
    (``secure_delete``) and the write-ahead log is truncated.
    """
    sealer = ballot_box.box(settings, session)
    sealed = list(
        await session.scalars(select(SecretBallot.sealed).where(SecretBallot.poll_id == poll.id))
    )
    choices = [sealer.open(poll.id, s) for s in sealed if s is not None]
    secrets.SystemRandom().shuffle(choices)
    await session.execute(
        delete(SecretBallot)
        .where(SecretBallot.poll_id == poll.id)
        .execution_options(synchronize_session=False)
    )
    if choices:
        await session.execute(
            insert(SecretBallot),
            [
                {
                    "key": secrets.token_hex(16),
                    "poll_id": poll.id,
                    "sealed": sealer.seal(poll.id, c),
                }
                for c in choices
            ],
        )
    roll = list(
        await session.execute(
            select(PollVoter.person_id, PollVoter.voted).where(PollVoter.poll_id == poll.id)
        )
    )
    roll.sort(key=lambda row: (row[0] is None, row[0] or 0))
    await session.execute(
        delete(PollVoter)
        .where(PollVoter.poll_id == poll.id)
        .execution_options(synchronize_session=False)
    )
    if roll:
        await session.execute(
            insert(PollVoter),
            [{"poll_id": poll.id, "person_id": who, "voted": voted} for who, voted in roll],
        )


async def announce_result(
    session: AsyncSession, settings: Settings, poll: Poll, result: dict[str, Any], now: dt.datetime
) -> None:
    """The result to every linked chat of the scope (text and chart, in the chat's
    branch's language, else the party's: a group has no one reader); to the people on
    the roll privately where their branch has no linked chat (each in theirs)."""
    from bot.kernel.i18n import pick_language, translator

    tz = await scope_timezone(session, settings, poll)
    branches = await scope_branches(session, poll.scope, poll.scope_id)
    chats = await linked_chats(session, branches)
    languages = {b.id: pick_language(b.language, settings.default_locale) for b in branches}
    pngs: dict[str, bytes] = {}
    for chat in chats:
        t = translator(languages.get(chat.branch_id, settings.default_locale))
        if t.locale not in pngs:
            # Drawn off the event loop: matplotlib takes a noticeable fraction of a second.
            pngs[t.locale] = await asyncio.to_thread(chart, poll, result, t.locale, poll.question)
        await enqueue(
            session,
            key=f"pollresult:{poll.id}:chat:{chat.id}",
            text=result_text(t, poll, result, tz),
            now=now,
            branch_chat_id=chat.id,
            file=Attachment(f"poll-{poll.id}.png", pngs[t.locale], "image/png"),
        )
    linked = {c.branch_id for c in chats}
    unlinked = [b.id for b in branches if b.id not in linked]
    if unlinked:
        who = Recipients(
            select(PollVoter.person_id)
            .join(Person, Person.id == PollVoter.person_id)
            .where(PollVoter.poll_id == bindparam("r_poll"), Person.branch_id.in_(unlinked)),
            {"r_poll": poll.id},
        )
        await enqueue_for(
            session,
            who,
            key=f"pollresult:{poll.id}",
            render=lambda tr: result_text(tr, poll, result, tz),
            now=now,
            default_locale=settings.default_locale,
        )
    if poll.created_by is not None:
        # The poster reads the result in their own language, like every private message.
        creator = await session.get(Person, poll.created_by)
        creator_t = await reader(session, creator, settings.default_locale)
        await enqueue(
            session,
            key=f"pollresult:{poll.id}:creator",
            text=result_text(creator_t, poll, result, tz),
            now=now,
            person_id=poll.created_by,
            buttons=meeting_buttons(creator_t, poll, result),
        )
