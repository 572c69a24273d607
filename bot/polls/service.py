"""Polls: the electoral roll, casting a ballot, counting, closing.

Rules that hold whatever the platform:

* **The roll is fixed when the poll opens.** Members with current dues in the
  poll's scope (with ``everyone``, supporters too) are written to
  ``poll_voters``; joining later adds no vote, and dues that lapse during the
  poll take none away.
* **One person, one vote.** An open ballot is one row per (poll, person),
  written by an upsert, so presses from two linked accounts at the same instant
  leave one ballot, the last. A secret ballot is cast by a conditional UPDATE
  of the roll (``voted`` false → true) in the same transaction as the ballot's
  INSERT: of two simultaneous presses, one casts and one is told it already has.
* **Secret means unlinkable.** A secret ballot holds the poll and the choice
  sealed under a key the database does not hold (:mod:`bot.polls.ballot_box`), under
  a random key, with no person, no time and (on SQLite, ``WITHOUT ROWID``) no
  insertion order; the roll holds who voted, with no time. The close writes
  ballots and roll anew (:func:`reshuffle`) and a sweep vacuums the old rows
  away. So a secret ballot cannot be changed once cast: changing it would need
  exactly the link that must not exist. Results stay hidden until the poll
  closes.
* **Forgetting a voter changes no count.** Their places on rolls and their
  open ballots stay, naming nobody (:func:`forget_voter`).
* **Closing happens once**, by a conditional UPDATE of ``closed_at``, whether
  the deadline's sweep or an organiser gets there first.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import io
import logging
import secrets
import typing
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import (
    Select,
    Table,
    and_,
    bindparam,
    delete,
    func,
    insert,
    literal,
    or_,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import set_committed_value

from bot.kernel.actions import Action
from bot.kernel.config import Settings
from bot.kernel.i18n import N_, Translator, format_local
from bot.kernel.messages import Attachment, Button
from bot.kernel.outbox import Recipients, enqueue, enqueue_for
from bot.kernel.timed import Sweep
from bot.lib import spreadsheet
from bot.lib.voting import count_approval, count_ranked, count_single
from bot.lib.when import read_wall_text
from bot.polls import ballot_box
from storage.db import Database
from storage.models import Ballot, Branch, BranchChat, Person, Poll, PollVoter, SecretBallot
from storage.vocabulary import (
    MULTI,
    RANKED,
    SCOPE_BRANCH,
    SCOPE_NATIONAL,
    SCOPE_REGION,
    SINGLE,
    TIMES,
)
from storage.writes import claim, upsert

log = logging.getLogger(__name__)

MAX_OPTIONS = 20
RANK_DIGITS = "0123456789ABCDEFGHIJ"  # option i is RANK_DIGITS[i] in a ranking
REMIND_BEFORE = dt.timedelta(hours=24)
# Why an option left a ranked count (bot.lib.voting.Elimination), for translators.
REASONS = {
    "fewest votes": N_("fewest votes"),
    "tie broken by earlier round": N_("tie broken by earlier round"),
    "tie broken by option order": N_("tie broken by option order"),
}
DEFAULT_OPEN_FOR = dt.timedelta(days=7)


# --- Scope ------------------------------------------------------------------------


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


# --- Ballots ------------------------------------------------------------------------


def check_choice(poll: Poll, choice: Sequence[int]) -> list[int] | None:
    """The choice if valid for this poll's kind, else None."""
    n = len(poll.options)
    picked = list(choice)
    if any(not 0 <= i < n for i in picked) or len(set(picked)) != len(picked):
        return None
    if poll.kind == SINGLE:
        return picked if len(picked) == 1 else None
    if poll.kind in (MULTI, TIMES):
        return sorted(picked) if picked else None
    return picked if picked else None  # ranked: in order of preference


def decode_mask(text: str, options: int) -> list[int] | None:
    """Approval choices carried in a button as a bitmask (decimal)."""
    if not (text.isascii() and text.isdigit()) or len(text) > 7:
        return None
    mask = int(text)
    if mask >= 1 << options:
        return None
    return [i for i in range(options) if mask >> i & 1]


def encode_mask(choice: Sequence[int]) -> str:
    return str(sum(1 << i for i in set(choice)))


def decode_ranking(text: str, options: int) -> list[int] | None:
    """A ranking carried in a button: one character an option, best first."""
    if len(text) > options or any(ch not in RANK_DIGITS[:options] for ch in text):
        return None
    ranking = [RANK_DIGITS.index(ch) for ch in text]
    return ranking if len(set(ranking)) == len(ranking) else None


def encode_ranking(ranking: Sequence[int]) -> str:
    return "".join(RANK_DIGITS[i] for i in ranking)


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
        {"poll_id": poll.id, "person_id": person.id, "choice": choice, "cast_at": now},
        key=["poll_id", "person_id"],
        update=["choice", "cast_at"],
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


async def my_choice(session: AsyncSession, poll: Poll, person: Person) -> list[int] | None:
    if poll.secret:
        return None
    row = await session.scalar(
        select(Ballot.choice).where(Ballot.poll_id == poll.id, Ballot.person_id == person.id)
    )
    return list(row) if row is not None else None


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


async def forget_voter(session: AsyncSession, person_id: int) -> None:
    """Before a person is deleted (/forget): their places on rolls and their open
    ballots stay, with nobody's name on them. A closed result, the turnout and the
    count of an open poll stay as they were; nothing left names the person."""
    for model in (PollVoter, Ballot):
        await session.execute(
            update(model)
            .where(model.person_id == person_id)
            .values(person_id=None)
            .execution_options(synchronize_session=False)
        )


# --- Counting ------------------------------------------------------------------------


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


def count(poll: Poll, ballots: list[list[int]]) -> dict[str, Any]:
    """The result as plain data (stored at close)."""
    n = len(poll.options)
    if poll.kind == SINGLE:
        tally = count_single(n, [b[0] for b in ballots])
        return {"counts": tally.counts, "ballots": tally.total_ballots, "winners": tally.winners}
    if poll.kind in (MULTI, TIMES):
        tally = count_approval(n, ballots)
        return {"counts": tally.counts, "ballots": tally.total_ballots, "winners": tally.winners}
    result = count_ranked(n, ballots)
    rounds = [
        {
            "votes": {str(k): v for k, v in r.votes.items()},
            "exhausted": r.exhausted,
            "eliminated": r.eliminated,
            "reason": str(r.reason) if r.reason else None,
        }
        for r in result.rounds
    ]
    first = [0] * n
    if result.rounds:
        for k, v in result.rounds[0].votes.items():
            first[k] = v
    return {
        "counts": first,
        "ballots": result.total_ballots,
        "winners": [result.winner] if result.winner is not None else [],
        "rounds": rounds,
    }


def option_label(poll: Poll, index: int, locale: str) -> str:
    """Option ``index`` as a person reading ``locale`` reads it: the time of a poll
    about times in words ("Fri 04 Dec 19:00"), any other option as written."""
    text = poll.options[index]
    if poll.kind == TIMES:
        try:
            local = read_wall_text(text)
        except ValueError:
            return text
        return format_local(local, "day_time", locale)
    return text


def result_text(t: Translator, poll: Poll, result: dict[str, Any], tz: str) -> str:
    counts: list[int] = result["counts"]
    lines = [t("Results: {question}", question=poll.question)]
    if poll.kind == RANKED:
        lines.append(t("First preferences:"))
    for i, n in enumerate(counts):
        lines.append(f"• {option_label(poll, i, t.locale)}: {n}")
    winners = [option_label(poll, i, t.locale) for i in result["winners"]]
    if poll.kind == RANKED and result.get("rounds"):
        for number, r in enumerate(result["rounds"], start=1):
            if r["eliminated"] is not None:
                lines.append(
                    t(
                        "Round {n}: {option} eliminated ({reason}).",
                        n=number,
                        option=option_label(poll, int(r["eliminated"]), t.locale),
                        reason=t(REASONS.get(r["reason"] or "", N_("fewest votes"))),
                    )
                )
    if not winners:
        lines.append(t("No votes were cast."))
    elif len(winners) == 1:
        lines.append(t("Decided: {option}.", option=winners[0]))
    else:
        lines.append(t("A tie between: {options}.", options=", ".join(winners)))
    lines.append(t("Ballots: {n}.", n=result["ballots"]))
    return "\n".join(lines)


def chart_series(poll: Poll, result: dict[str, Any]) -> list[tuple[int, list[int]]]:
    """The bars a result chart shows: (round number, counts by option). A ranked
    poll shows every round, so the chart ends where the text does (an option out
    of the count has no bar); other polls have one round, their counts."""
    rounds = result.get("rounds") or []
    if poll.kind != RANKED or not rounds:
        return [(1, list(result["counts"]))]
    n = len(poll.options)
    return [
        (number, [int(r["votes"].get(str(i), 0)) for i in range(n)])
        for number, r in enumerate(rounds, start=1)
    ]


def chart(poll: Poll, result: dict[str, Any], locale: str, title: str) -> bytes:
    """A bar chart (PNG) of the counts; for a ranked poll, one bar per round."""
    from matplotlib.figure import Figure

    labels = [option_label(poll, i, locale)[:40] for i in range(len(poll.options))]
    series = chart_series(poll, result)
    figure = Figure(figsize=(7, 1.2 + 0.45 * len(labels) * max(1, len(series) * 0.6)))
    axes = figure.subplots()
    height = 0.8 / len(series)
    positions = range(len(labels))[::-1]
    highest = 1
    for k, (number, counts) in enumerate(series):
        offsets = [p + 0.4 - height * (k + 0.5) for p in positions]
        bars = axes.barh(
            offsets, counts, height=height, label=f"{number}" if len(series) > 1 else None
        )
        axes.bar_label(bars, padding=3)
        highest = max(highest, *counts)
    axes.set_yticks(list(positions), labels)
    if len(series) > 1:
        axes.legend(title="round", loc="lower right")
    axes.set_title(title[:80])
    axes.set_xlim(0, highest * 1.15)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100)
    return buffer.getvalue()


def export_csv(poll: Poll, result: dict[str, Any], turnout_: tuple[int, int, int]) -> bytes:
    """Totals (and, for a ranked poll, every round) as CSV; no names, no formulas.
    The options as written: a poll's times as ``2026-12-04 19:00``, which sorts."""
    out = io.StringIO()
    writer = spreadsheet.writer(out)
    writer.writerow(["poll", poll.id, poll.question])
    writer.writerow(["on the roll", turnout_[0], "voted", turnout_[1], "ballots", turnout_[2]])
    writer.writerow(["option", "votes"])
    for i, n in enumerate(result["counts"]):
        writer.writerow([poll.options[i], n])
    for number, r in enumerate(result.get("rounds") or [], start=1):
        writer.writerow([])
        writer.writerow([f"round {number}", "votes", "exhausted", r["exhausted"]])
        for k, v in r["votes"].items():
            writer.writerow([poll.options[int(k)], v])
    return out.getvalue().encode("utf-8")


# --- Closing ------------------------------------------------------------------------


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
    result = count(poll, await ballots_of(session, poll, settings))
    poll.result = result
    await announce_result(session, settings, poll, result, now)
    return Closed(poll, result)


async def scope_timezone(session: AsyncSession, settings: Settings, poll: Poll) -> str:
    if poll.scope == SCOPE_BRANCH:
        branch = await session.get(Branch, poll.scope_id)
        if branch is not None:
            return branch.timezone
    return settings.default_timezone


async def announce_result(
    session: AsyncSession, settings: Settings, poll: Poll, result: dict[str, Any], now: dt.datetime
) -> None:
    """The result to every linked chat of the scope (text and chart); to the
    people on the roll privately where their branch has no linked chat."""
    from bot.kernel.i18n import translator

    tz = await scope_timezone(session, settings, poll)
    branches = await scope_branches(session, poll.scope, poll.scope_id)
    chats = list(
        await session.scalars(
            select(BranchChat).where(BranchChat.branch_id.in_([b.id for b in branches]))
        )
    )
    t = translator(settings.default_locale)
    if chats:
        # Drawn off the event loop: matplotlib takes a noticeable fraction of a second.
        png = await asyncio.to_thread(chart, poll, result, t.locale, poll.question)
        for chat in chats:
            await enqueue(
                session,
                key=f"pollresult:{poll.id}:chat:{chat.id}",
                text=result_text(t, poll, result, tz),
                now=now,
                branch_chat_id=chat.id,
                file=Attachment(f"poll-{poll.id}.png", png, "image/png"),
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
        )
    if poll.created_by is not None:
        creator_t = translator(settings.default_locale)
        await enqueue(
            session,
            key=f"pollresult:{poll.id}:creator",
            text=result_text(creator_t, poll, result, tz),
            now=now,
            person_id=poll.created_by,
            buttons=meeting_buttons(creator_t, poll, result),
        )


def meeting_buttons(
    t: Translator, poll: Poll, result: dict[str, Any]
) -> tuple[tuple[Button, ...], ...]:
    """For a branch's meeting-time poll with a winner: schedule the meeting."""
    if poll.kind != TIMES or poll.scope != SCOPE_BRANCH or not result.get("winners"):
        return ()
    return (
        (
            Button(t("Schedule an online call"), Action.POLL_MEET, f"{poll.id}.online"),
            Button(t("Schedule a meeting"), Action.POLL_MEET, f"{poll.id}.in_person"),
        ),
    )


def _ballot_button(t: Translator, poll: Poll) -> tuple[tuple[Button, ...], ...]:
    return ((Button(t("Vote"), Action.POLL_OPEN, str(poll.id)),),)


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
            when=format_local(closes, "day_time", t.locale, tz=tz) if closes else "",
        ),
        buttons=lambda t: _ballot_button(t, poll),
        now=now,
    )


def scope_label(t: Translator, poll_scope: str, name: str) -> str:
    if poll_scope == SCOPE_NATIONAL:
        return t("the whole party")
    return name
