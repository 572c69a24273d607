"""The polls' sweep, once a minute: closing the polls due, vacuuming the rows a
closed secret poll left behind, reminding non-voters a day before the close."""

from __future__ import annotations

import datetime as dt
import logging

from sqlalchemy import bindparam, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.kernel.config import Settings
from bot.kernel.i18n import format_local
from bot.kernel.outbox import Recipients, enqueue_for
from bot.kernel.timed import Sweep
from bot.polls.closing import close
from bot.polls.queries import scope_timezone
from bot.polls.rules import REMIND_BEFORE
from bot.polls.texts import ballot_button
from storage.db import Database
from storage.models import Poll, PollVoter
from storage.writes import claim

log = logging.getLogger(__name__)


async def poll_sweep(db: Database, settings: Settings, now: dt.datetime) -> None:
    """Close polls whose deadline has passed; remind non-voters a day before."""
    async with db.transaction() as session:
        due = list(
            await session.scalars(
                select(Poll.id).where(Poll.closed_at.is_(None), Poll.closes_at <= now)
            )
        )
    for poll_id in due:
        try:
            async with db.transaction() as session:
                poll = await session.get(Poll, poll_id)
                if poll is not None:
                    await close(session, settings, poll, now)
        except Exception:  # one poll's failure must not keep the others open
            log.exception("closing poll %s failed; trying again next minute", poll_id)
    await vacuum_closed(db, now)
    async with db.transaction() as session:
        soon = [
            poll_id
            for poll_id, opened, closes in await session.execute(
                select(Poll.id, Poll.opened_at, Poll.closes_at).where(
                    Poll.closed_at.is_(None),
                    Poll.reminded_at.is_(None),
                    Poll.closes_at > now,
                    Poll.closes_at <= now + REMIND_BEFORE,
                )
            )
            # A poll open for less than a day has no "day before".
            if closes is not None and opened <= closes - REMIND_BEFORE
        ]
    for poll_id in soon:
        async with db.transaction() as session:
            claimed = await claim(
                session, Poll, Poll.id == poll_id, Poll.reminded_at.is_(None), reminded_at=now
            )
            poll = await session.get(Poll, poll_id)
            if claimed and poll is not None:
                await remind_non_voters(session, settings, poll, now)


TIMED = (Sweep("polls", poll_sweep),)  # once a minute: closes and reminders due now


async def vacuum_closed(db: Database, now: dt.datetime) -> None:
    """After a secret poll closed: clear the rows written while it was open out
    of the tables' pages (PostgreSQL: VACUUM; SQLite, which overwrites deleted
    rows: the write-ahead log checkpointed and truncated), then record when."""
    async with db.transaction() as session:
        waiting = list(
            await session.scalars(
                select(Poll.id).where(
                    Poll.secret.is_(True), Poll.closed_at.is_not(None), Poll.vacuumed_at.is_(None)
                )
            )
        )
    if not waiting:
        return
    if not (db.is_sqlite and db.url.database in (None, "", ":memory:")):  # else: not on disk
        async with db.engine.connect() as conn:
            auto = await conn.execution_options(isolation_level="AUTOCOMMIT")
            if db.is_sqlite:
                busy = (await auto.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")).first()
                if busy is not None and busy[0]:
                    log.info("the write-ahead log is in use; truncating it next minute")
                    return
            else:
                await auto.exec_driver_sql("VACUUM secret_ballots, poll_voters")
    async with db.transaction() as session:
        await session.execute(
            update(Poll)
            .where(Poll.id.in_(waiting), Poll.vacuumed_at.is_(None))
            .values(vacuumed_at=now)
            .execution_options(synchronize_session=False)
        )


_NOT_VOTED = select(PollVoter.person_id).where(
    PollVoter.poll_id == bindparam("r_poll"),
    PollVoter.voted.is_(False),
    PollVoter.person_id.is_not(None),
)


async def remind_non_voters(
    session: AsyncSession, settings: Settings, poll: Poll, now: dt.datetime
) -> None:
    tz = await scope_timezone(session, settings, poll)
    closes = poll.closes_at
    await enqueue_for(
        session,
        Recipients(_NOT_VOTED, {"r_poll": poll.id}),
        key=f"pollremind:{poll.id}",
        render=lambda t: t(
            "A reminder: the poll “{question}” closes {when}, and you have not voted yet.",
            question=poll.question,
            when=format_local(closes, "day_time", t, tz=tz) if closes else "",
        ),
        buttons=lambda t: ballot_button(t, poll),
        now=now,
        default_locale=settings.default_locale,
    )
