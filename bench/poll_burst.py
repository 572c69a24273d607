#!/usr/bin/env python3
"""A burst of votes on one poll with a large electoral roll, through the core.

A fresh database is seeded with the demo party (``bot.demo.party.seed_demo``) and then
``--members`` (50,000) more members of its Frome branch, bulk-inserted: dues
paid until 2030, joined 30 days ago, consented, each with a console identity.
Alice (Frome's organiser) then previews ``/poll "Q?" "A" "B" "C"`` and presses
"Post it", all through ``Core.handle``: the real code writes the roll (one row
per member with current dues) and queues the poll privately to every voter
(one outbox row each); the time the press takes is reported as ``post_s``.

Then ``--votes`` (20,000) distinct members, picked at random, press an option
button (``pv:{poll}.{option}``) as fast as the core takes them, from
``--concurrency`` (32) concurrent tasks. ``--repeat`` (5%) of them press a
second time, half the same option again and half a different one; a second
press is only issued once that person's first has been answered, so the truth
is each person's last press. Every reply must be a recorded (or changed) vote;
the latency of each press is measured around ``Core.handle``.

Finally Alice sends ``/poll close ID`` and the result (the counts in the reply,
the result stored on the poll, and the ballots counted directly) is compared
with the truth: per-option counts equal, and ballots = voters marked as voted
= distinct voters.

    python bench/poll_burst.py [--db URL] [--members 50000] [--votes 20000] [--concurrency 32]

Without ``--db`` it runs twice: on a fresh SQLite file in a temporary directory
and on PostgreSQL at ``postgresql://postgres@127.0.0.1:5432/postgres`` (skipped,
saying so, if that server cannot be reached). ``--db sqlite`` or a
``sqlite:///NEW-FILE`` URL runs SQLite only; a ``postgresql://`` URL names a
server, never a database to use: a fresh ``organiser_bench_<random>`` database
is created there and dropped at the end. One JSON line is printed per database;
the last line is one JSON object ``{"db", "votes_per_s", "p99_ms", "tally_ok"}``
(with both databases, each figure is an object keyed by database). The exit
status is 1 if a tally is wrong.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import logging
import random
import re
import statistics
import sys
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import psycopg
from sqlalchemy import func, select
from sqlalchemy.engine import make_url

from bench.common import bulk_load, throwaway_database
from bot.app import build_core
from bot.demo.party import seed_demo
from bot.kernel.config import Settings
from bot.kernel.core import Core
from bot.kernel.messages import ChatRef, Reply, Request, Sender
from bot.kernel.people import SHORT_ID_ALPHABET, SHORT_ID_LENGTH
from storage.db import Database
from storage.models import (
    Ballot,
    Branch,
    Consent,
    Identity,
    OutboxMessage,
    Person,
    Poll,
    PollVoter,
)

PLATFORM = "console"
DEFAULT_PG = "postgresql://postgres@127.0.0.1:5432/postgres"
OPTIONS = ("A", "B", "C")
WEIGHTS = (5, 3, 2)  # how likely each option is picked, so the counts differ
DUES = dt.date(2030, 1, 1)
SEED = 20261127
PROGRESS_S = 5.0

# The tables seeded with explicit ids, whose PostgreSQL sequences must then catch up.

ALICE = Sender(PLATFORM, "alice", "Alice", handle="alice")
ALICE_CHAT = ChatRef(PLATFORM, "private", "alice")


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument(
        "--db",
        help="sqlite (a temporary file), sqlite:///NEW-FILE, or postgresql://USER@HOST:PORT/DB "
        "naming the server on which a throwaway database is created (default: both SQLite "
        f"and {DEFAULT_PG})",
    )
    parser.add_argument("--members", type=int, default=50_000)
    parser.add_argument("--votes", type=int, default=20_000, help="distinct voters")
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument(
        "--repeat", type=float, default=0.05, help="share of voters who press twice (0.05)"
    )
    parser.add_argument("--seed", type=int, default=SEED)
    args = parser.parse_args(argv)
    if args.members < 1 or args.votes < 1 or args.concurrency < 1:
        parser.error("--members, --votes and --concurrency must be at least 1")
    if args.votes > args.members:
        parser.error("--votes (distinct voters) cannot exceed --members")
    if not 0 <= args.repeat <= 1:
        parser.error("--repeat must be between 0 and 1")
    return args


# --- Seeding ------------------------------------------------------------------------


def short_id(n: int) -> str:
    """A distinct short id for each n (base 32, fixed length)."""
    base = len(SHORT_ID_ALPHABET)
    digits = []
    for _ in range(SHORT_ID_LENGTH):
        n, d = divmod(n, base)
        digits.append(SHORT_ID_ALPHABET[d])
    return "".join(reversed(digits))


def user_id(n: int) -> str:
    return f"member-{n}"


async def seed(db: Database, settings: Settings, members: int) -> list[int]:
    """The demo party, then ``members`` paid-up members of Frome; their person ids."""
    now = dt.datetime.now(dt.UTC)
    earlier = now - dt.timedelta(days=30)
    await seed_demo(db, settings, now)
    async with db.transaction() as session:
        frome = await session.scalar(select(Branch.id).where(Branch.slug == "frome"))
        if frome is None:
            raise SystemExit("the demo party has no Frome branch")
        taken = set(await session.scalars(select(Person.short_id)))
        first_person = int(await session.scalar(select(func.max(Person.id))) or 0) + 1
        first_identity = int(await session.scalar(select(func.max(Identity.id))) or 0) + 1
        first_consent = int(await session.scalar(select(func.max(Consent.id))) or 0) + 1
    ids = list(range(first_person, first_person + members))
    codes: list[str] = []
    n = 0
    while len(codes) < members:
        n += 1
        code = short_id(n)
        if code not in taken:
            codes.append(code)
    person_rows = [
        {
            "id": pid,
            "short_id": codes[i],
            "display_name": f"Member {i + 1}",
            "locale": "en",
            "timezone": None,
            "branch_id": frome,
            "joined_branch_at": earlier,
            "dues_paid_until": DUES,
            "consented_at": earlier,
            "claim_code": None,
            "reminders": True,
            "created_at": earlier,
        }
        for i, pid in enumerate(ids)
    ]
    identity_rows = [
        {
            "id": first_identity + i,
            "person_id": pid,
            "platform": PLATFORM,
            "user_id": user_id(pid),
            "chat_id": user_id(pid),
            "handle": None,
            "unreachable": False,
            "last_seen_at": now,  # seen recently: a press refreshes nothing
        }
        for i, pid in enumerate(ids)
    ]
    consent_rows = [
        {
            "id": first_consent + i,
            "person_id": pid,
            "purpose": "membership-data",
            "notice_version": settings.notice_version,
            "given_at": earlier,
        }
        for i, pid in enumerate(ids)
    ]
    await bulk_load(
        db,
        [
            (Person, person_rows),
            (Identity, identity_rows),
            (Consent, consent_rows),
        ],
    )
    return ids


# --- The poll, through the core -----------------------------------------------------


async def as_alice(core: Core, text: str) -> list[Reply]:
    return await core.handle(Request.command_from(ALICE, ALICE_CHAT, text))


async def post_poll(core: Core) -> tuple[int, int, float]:
    """Alice previews and posts the poll: (poll id, roll size, seconds the post took)."""
    question = "Burst?"
    line = f'/poll "{question}" ' + " ".join(f'"{o}"' for o in OPTIONS)
    replies = await as_alice(core, line)
    if not replies[0].text.startswith("Preview of your poll:"):
        raise SystemExit(f"no preview: {[r.text for r in replies]}")
    button = next(
        (b for r in replies for row in r.buttons for b in row if b.action == "pollpost"), None
    )
    if button is None:
        raise SystemExit(f"the preview has no Post it button: {replies[0].buttons}")
    started = time.perf_counter()
    replies = await core.handle(Request.button_from(ALICE, ALICE_CHAT, button.data))
    post_s = time.perf_counter() - started
    posted = re.match(r"Posted \(poll (\d+)\): (\d+) people can vote", replies[0].text)
    if posted is None:
        raise SystemExit(f"the poll was not posted: {[r.text for r in replies]}")
    return int(posted[1]), int(posted[2]), post_s


# --- The burst ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Press:
    person: int
    option: int
    second: bool


def plan(
    rng: random.Random, ids: Sequence[int], votes: int, repeat: float, concurrency: int
) -> tuple[list[Press], dict[int, int]]:
    """The presses in the order they are issued, and the truth: each voter's last option.

    A second press comes well after the person's first in the order (at least
    two rounds of the concurrent tasks), and is anyway held until the first is
    answered."""
    voters = rng.sample(list(ids), votes)
    repeaters = set(rng.sample(voters, round(votes * repeat)))
    keyed: list[tuple[float, Press]] = []
    truth: dict[int, int] = {}
    for position, person in enumerate(voters):
        option = rng.choices(range(len(OPTIONS)), weights=WEIGHTS)[0]
        keyed.append((position, Press(person, option, False)))
        truth[person] = option
        if person in repeaters:
            if rng.random() < 0.5:
                again = option  # the same button again
            else:
                again = rng.choice([o for o in range(len(OPTIONS)) if o != option])
            later = position + rng.uniform(2 * concurrency, 2 * concurrency + votes / 4)
            keyed.append((later, Press(person, again, True)))
            truth[person] = again
    keyed.sort(key=lambda k: k[0])
    return [p for _, p in keyed], truth


def percentile(sorted_values: list[float], q: float) -> float:
    """The q-th percentile (0..100) by linear interpolation."""
    if len(sorted_values) == 1:
        return sorted_values[0]
    return statistics.quantiles(sorted_values, n=1000, method="inclusive")[round(q * 10) - 1]


async def burst(
    core: Core, poll_id: int, presses: list[Press], concurrency: int, label: str
) -> tuple[list[float], list[str], float]:
    """Every press, from ``concurrency`` tasks: (latencies in s, errors, wall seconds)."""
    firsts_done: dict[int, asyncio.Event] = {
        p.person: asyncio.Event() for p in presses if not p.second
    }
    latencies: list[float] = []
    errors: list[str] = []
    queue = iter(presses)

    async def worker() -> None:
        for press in queue:
            if press.second:
                await firsts_done[press.person].wait()
            uid = user_id(press.person)
            request = Request.button_from(
                Sender(PLATFORM, uid, f"Member {press.person}"),
                ChatRef(PLATFORM, "private", uid),
                f"pv:{poll_id}.{press.option}",
            )
            start = time.perf_counter()
            replies = await core.handle(request)
            latencies.append(time.perf_counter() - start)
            reply = replies[0] if replies else None
            if reply is None or reply.error or not reply.text.startswith("Your vote is"):
                errors.append(f"{uid}: {reply.text if reply else 'no reply'}"[:200])
            if not press.second:
                firsts_done[press.person].set()

    async def progress() -> None:
        while True:
            await asyncio.sleep(PROGRESS_S)
            elapsed = time.perf_counter() - started
            print(
                f"  {label}: {len(latencies):,}/{len(presses):,} presses in {elapsed:.0f} s "
                f"({len(latencies) / elapsed:,.0f}/s)",
                file=sys.stderr,
                flush=True,
            )

    started = time.perf_counter()
    reporter = asyncio.create_task(progress())
    try:
        await asyncio.gather(*(worker() for _ in range(concurrency)))
    finally:
        reporter.cancel()
    return latencies, errors, time.perf_counter() - started


# --- The tally ----------------------------------------------------------------------


@dataclass
class Tally:
    ok: bool
    expected: list[int]
    reply_counts: list[int]
    stored_counts: list[int]
    ballot_counts: list[int]
    ballots: int
    voted: int
    close_s: float


async def close_and_check(core: Core, db: Database, poll_id: int, truth: dict[int, int]) -> Tally:
    expected = [0] * len(OPTIONS)
    for option in truth.values():
        expected[option] += 1
    started = time.perf_counter()
    replies = await as_alice(core, f"/poll close {poll_id}")
    close_s = time.perf_counter() - started
    text = replies[0].text
    reply_counts = []
    for label in OPTIONS:
        found = re.search(rf"^• {re.escape(label)}: (\d+)$", text, re.MULTILINE)
        reply_counts.append(int(found[1]) if found else -1)
    async with db.transaction() as session:
        poll = await session.get(Poll, poll_id)
        result = poll.result if poll is not None and poll.result is not None else {}
        stored_counts = [int(n) for n in result.get("counts", [])]
        choices = list(
            await session.scalars(select(Ballot.choice).where(Ballot.poll_id == poll_id))
        )
        by_person = dict(
            (
                await session.execute(
                    select(Ballot.person_id, Ballot.choice).where(Ballot.poll_id == poll_id)
                )
            ).all()
        )
        voted = int(
            await session.scalar(
                select(func.count())
                .select_from(PollVoter)
                .where(PollVoter.poll_id == poll_id, PollVoter.voted.is_(True))
            )
            or 0
        )
    tallied = Counter(c[0] for c in choices if len(c) == 1)
    ballot_counts = [tallied.get(i, 0) for i in range(len(OPTIONS))]
    per_person_ok = all(list(by_person.get(p, [])) == [o] for p, o in truth.items())
    ok = (
        reply_counts == expected
        and stored_counts == expected
        and ballot_counts == expected
        and len(choices) == len(truth) == voted
        and int(result.get("ballots", -1)) == len(truth)
        and per_person_ok
    )
    return Tally(
        ok, expected, reply_counts, stored_counts, ballot_counts, len(choices), voted, close_s
    )


# --- One database -------------------------------------------------------------------


async def run(url: str, args: argparse.Namespace) -> dict[str, Any]:
    rng = random.Random(args.seed)
    settings = Settings()
    db = Database(url)
    label = db.backend
    try:
        await db.upgrade()
        started = time.perf_counter()
        ids = await seed(db, settings, args.members)
        print(
            f"{label}: seeded the demo party and {args.members:,} paid-up Frome members "
            f"in {time.perf_counter() - started:.1f} s",
            flush=True,
        )
        core = build_core(db, settings, rng=random.Random(args.seed))
        poll_id, roll, post_s = await post_poll(core)
        async with db.transaction() as session:
            queued = int(await session.scalar(select(func.count()).select_from(OutboxMessage)) or 0)
        print(
            f"{label}: Alice posted poll {poll_id} through the core in {post_s:.2f} s: "
            f"{roll:,} on the roll, {queued:,} outbox rows queued",
            flush=True,
        )

        presses, truth = plan(rng, ids, args.votes, args.repeat, args.concurrency)
        seconds = len(presses) - len(truth)
        print(
            f"{label}: {len(presses):,} presses ({len(truth):,} voters, {seconds:,} of them "
            f"pressing twice) from {args.concurrency} concurrent tasks ...",
            flush=True,
        )
        latencies, errors, wall_s = await burst(core, poll_id, presses, args.concurrency, label)
        votes_per_s = len(latencies) / wall_s
        latencies.sort()
        p50_ms = percentile(latencies, 50) * 1000
        p99_ms = percentile(latencies, 99) * 1000
        print(
            f"{label}: {len(latencies):,} presses in {wall_s:.2f} s: {votes_per_s:,.0f} votes/s, "
            f"p50 {p50_ms:.2f} ms, p99 {p99_ms:.2f} ms, max {latencies[-1] * 1000:.1f} ms; "
            f"{len(errors)} not recorded",
            flush=True,
        )
        for error in errors[:5]:
            print(f"  {label}: not recorded: {error}", flush=True)

        tally = await close_and_check(core, db, poll_id, truth)
        ok = tally.ok and not errors
        print(
            f"{label}: /poll close in {tally.close_s:.2f} s; expected {tally.expected}, "
            f"close reply {tally.reply_counts}, stored result {tally.stored_counts}, "
            f"ballots counted {tally.ballot_counts}; {tally.ballots:,} ballots, "
            f"{tally.voted:,} marked voted, {len(truth):,} distinct voters: "
            f"tally {'OK' if ok else 'WRONG'}",
            flush=True,
        )
        return {
            "db": label,
            "members": args.members,
            "votes": len(truth),
            "presses": len(latencies),
            "votes_per_s": round(votes_per_s, 1),
            "p50_ms": round(p50_ms, 3),
            "p99_ms": round(p99_ms, 3),
            "post_s": round(post_s, 3),
            "close_s": round(tally.close_s, 3),
            "roll": roll,
            "errors": len(errors),
            "tally_ok": ok,
        }
    finally:
        await db.dispose()


def reachable(url: str) -> str | None:
    """None if the PostgreSQL server answers, else why not."""
    admin = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    try:
        with psycopg.connect(admin, connect_timeout=3):
            return None
    except psycopg.Error as exc:
        return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    if args.db is None:
        targets: list[str | None] = [None, DEFAULT_PG]
    elif args.db == "sqlite":
        targets = [None]
    else:
        targets = [args.db]
    results: list[dict[str, Any]] = []
    wall = time.perf_counter()
    for target in targets:
        if target is not None and make_url(target).get_backend_name() != "sqlite":
            why = reachable(target)
            if why is not None:
                print(f"PostgreSQL at {target} is unreachable ({why}): skipped", flush=True)
                continue
        with throwaway_database(target, "poll") as url:
            figures = asyncio.run(run(url, args))
        results.append(figures)
        print(json.dumps(figures), flush=True)
    if not results:
        raise SystemExit("no database could be used")
    print(f"total wall time {time.perf_counter() - wall:.1f} s", flush=True)
    if len(results) == 1:
        only = results[0]
        last: dict[str, Any] = {k: only[k] for k in ("db", "votes_per_s", "p99_ms", "tally_ok")}
    else:
        last = {
            "db": ",".join(r["db"] for r in results),
            "votes_per_s": {r["db"]: r["votes_per_s"] for r in results},
            "p99_ms": {r["db"]: r["p99_ms"] for r in results},
            "tally_ok": all(r["tally_ok"] for r in results),
        }
    print(json.dumps(last))
    return 0 if all(r["tally_ok"] for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
