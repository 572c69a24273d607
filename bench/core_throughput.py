#!/usr/bin/env python3
"""How fast the core answers its hot paths, against the raw rate of the same database.

Seeds a throwaway database with ``--people`` people (100,000) across
``--branches`` branches (500), each branch with an organiser, an open poll
(its roll: every member of the branch) and a canvassing session in three
days' time, then drives three hot paths through ``Core.handle`` (not a
platform), one request after another:

- ``join``: ``/join branch-NNNN`` by a consented person who is in no branch
  yet: each joins directly and queues a message to the organiser;
- ``vote``: a press of a poll's "pv" button (one choice, an open ballot) by a
  person on its roll who has not voted yet;
- ``signup``: a press of a canvassing session's "cvgo" button (Sign up) by a
  person of its branch.

In the same run it measures the raw rate of single-row insert transactions
through the same ``Database.transaction()`` on the same database, and prints
for each path the ratio of the two: the share of a minimal write
transaction's rate that a real request keeps. Each path is measured in
blocks, each block followed by a block of raw transactions, so that a change
in the machine's load during the run moves both alike; a path's ratio is
against the raw transactions that followed its own blocks.

    python bench/core_throughput.py [--db URL ...] [--people 100000] [--branches 500]
                                    [--ops 3000] [--raw 3000] [--paths join vote signup]

Without ``--db`` the database is a fresh SQLite file in a temporary directory
(``--db sqlite`` says the same, so that ``--db sqlite --db postgresql://...``
measures both in one run). A ``postgresql://`` URL names a server, never a
database to use: a fresh ``organiser_bench_<random>`` database is created there
and dropped at the end. Targets: ratio >= 0.3, p99 <= 5 ms, on every path.
``cpu_ms`` is this process's CPU time per request (on SQLite that includes the
database's work; on PostgreSQL not the server's): a figure that the machine's
load moves less than the others. The last line printed is one JSON object:
``{"runs": [{"db", "path", "ratio", "p99_ms", "ops_per_s", "p50_ms", "cpu_ms",
"raw_tx_per_s", "raw_p50_ms", "raw_p99_ms"}, ...], "met", "people", ...}``, one
row per database and path.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import random
import resource
import statistics
import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import Column, Integer, MetaData, Table, Text, func, insert, select

from bench.common import bulk_load, throwaway_database
from bot.app import build_core
from bot.kernel.config import Settings
from bot.kernel.core import Core
from bot.kernel.messages import ChatRef, Request, Sender
from bot.kernel.people import SHORT_ID_ALPHABET, SHORT_ID_LENGTH
from storage.db import Database
from storage.models import (
    Ballot,
    Branch,
    CanvassSession,
    CanvassSignup,
    Consent,
    Identity,
    OutboxMessage,
    Person,
    Poll,
    PollVoter,
    Region,
    RoleGrant,
)
from storage.vocabulary import ACTIVE, GOING, ORGANISER, SCOPE_BRANCH, SINGLE

PLATFORM = "bench"
REGIONS = 12
WARMUP = 100
BLOCKS = 20
RAW_TX = 3000
SEED = 20261126
TARGET_RATIO = 0.3
TARGET_P99_MS = 5.0
PATHS = ("join", "vote", "signup")
PAST_SESSIONS = 20  # past canvassing sessions a branch has, each with signups
PAST_SIGNUPS = 10

raw_metadata = MetaData()
bench_raw = Table(
    "bench_raw",
    raw_metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("v", Text),
)


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument(
        "--db",
        action="append",
        help="sqlite (a temporary file), sqlite:///NEW-FILE, or postgresql://USER@HOST:PORT/DB "
        "naming the server on which a throwaway database is created; may be given more than "
        "once (default: SQLite in a temporary directory)",
    )
    parser.add_argument("--people", type=int, default=100_000)
    parser.add_argument("--branches", type=int, default=500)
    parser.add_argument("--ops", type=int, default=3000, help="measured requests per path")
    parser.add_argument("--raw", type=int, default=RAW_TX, help="raw insert transactions per path")
    parser.add_argument("--paths", nargs="+", choices=PATHS, default=list(PATHS))
    parser.add_argument("--seed", type=int, default=SEED)
    args = parser.parse_args(argv)
    if args.branches < 1 or args.branches > 9999:
        parser.error("--branches must be between 1 and 9999")
    if args.ops < 1 or args.raw < 1:
        parser.error("--ops and --raw must be at least 1")
    if args.people < 2 * (args.ops + WARMUP) + args.branches:
        parser.error(
            f"--people must be at least 2 x (--ops + {WARMUP} warm-up) + --branches: "
            "joiners in no branch, and as many voters and sign-ups in branches"
        )
    args.paths = [p for p in PATHS if p in args.paths]
    return args


# --- Seeding ------------------------------------------------------------------------


def slug(n: int) -> str:
    return f"branch-{n:04d}"


def short_ids(rng: random.Random, count: int) -> list[str]:
    seen: set[str] = set()
    out: list[str] = []
    while len(out) < count:
        candidate = "".join(rng.choices(SHORT_ID_ALPHABET, k=SHORT_ID_LENGTH))
        if candidate not in seen:
            seen.add(candidate)
            out.append(candidate)
    return out


def split(items: Sequence[int], blocks: int, block: int) -> Sequence[int]:
    """The block-th of ``blocks`` nearly equal consecutive parts of ``items``."""
    n = len(items)
    return items[block * n // blocks : (block + 1) * n // blocks]


def branch_of(person: int, branches: int) -> int:
    """People are placed round-robin: person b is in branch b, its organiser."""
    return (person - 1) % branches + 1


async def seed(
    db: Database, rng: random.Random, *, people: int, branches: int, reserved: int
) -> None:
    """Regions, branches with an organiser each, and people; the last ``reserved``
    people (ids ``people - reserved + 1 .. people``) are consented but in no branch.
    Each branch b has an open poll b (its roll: the branch's people) and an upcoming
    canvassing session b, and past sessions with people signed up."""
    now = dt.datetime.now(dt.UTC)
    earlier = now - dt.timedelta(days=30)
    regions = [
        {"id": r, "name": f"Region {r:02d}", "slug": f"region-{r:02d}", "created_at": earlier}
        for r in range(1, REGIONS + 1)
    ]
    branch_rows = [
        {
            "id": b,
            "name": f"Town {b:04d}",
            "slug": slug(b),
            "area": f"Town {b:04d}, Village {b:04d}, TN{b % 100}",
            "timezone": "Europe/London",
            "status": ACTIVE,
            "region_id": (b - 1) % REGIONS + 1,
            "created_at": earlier,
        }
        for b in range(1, branches + 1)
    ]
    placed = people - reserved
    ids = short_ids(rng, people)
    person_rows = [
        {
            "id": p,
            "short_id": ids[p - 1],
            "display_name": f"Person {p}",
            "locale": "en",
            "timezone": None,
            "branch_id": branch_of(p, branches) if p <= placed else None,
            "joined_branch_at": earlier if p <= placed else None,
            "dues_paid_until": None,
            "consented_at": earlier,
            "claim_code": None,
            "created_at": earlier,
        }
        for p in range(1, people + 1)
    ]
    identity_rows = [
        {
            "id": p,
            "person_id": p,
            "platform": PLATFORM,
            "user_id": str(p),
            "chat_id": str(p),
            "handle": None,
            "unreachable": False,
            "last_seen_at": now,  # seen recently, as after /start: a request refreshes nothing
        }
        for p in range(1, people + 1)
    ]
    consent_rows = [
        {
            "id": p,
            "person_id": p,
            "purpose": "membership-data",
            "notice_version": Settings().notice_version,
            "given_at": earlier,
        }
        for p in range(1, people + 1)
    ]
    grant_rows = [
        {
            "id": b,
            "person_id": b,
            "role": ORGANISER,
            "scope": SCOPE_BRANCH,
            "scope_id": b,
            "granted_by": None,
            "granted_at": earlier,
        }
        for b in range(1, branches + 1)
    ]
    poll_rows = [
        {
            "id": b,
            "scope": SCOPE_BRANCH,
            "scope_id": b,
            "question": "Should we run a stall at the market?",
            "options": ["Yes", "No"],
            "kind": SINGLE,
            "secret": False,
            "everyone": True,
            "live": False,
            "opened_at": earlier + dt.timedelta(days=1),
            "closes_at": now + dt.timedelta(days=30),
            "created_by": b,
        }
        for b in range(1, branches + 1)
    ]
    voter_rows = [
        {"id": p, "poll_id": branch_of(p, branches), "person_id": p, "voted": False}
        for p in range(1, placed + 1)
    ]
    upcoming = [
        {
            "id": b,
            "branch_id": b,
            "starts_at": now + dt.timedelta(days=3),
            "meeting_point": "The market cross",
            "capacity": 5000,
        }
        for b in range(1, branches + 1)
    ]
    past = [
        {
            "id": branches + (w - 1) * branches + b,
            "branch_id": b,
            "starts_at": earlier + dt.timedelta(days=w),
            "meeting_point": "The market cross",
            "capacity": 20,
        }
        for w in range(1, PAST_SESSIONS + 1)
        for b in range(1, branches + 1)
    ]
    signup_rows = [
        {
            "id": i,
            "session_id": session["id"],
            "person_id": session["branch_id"] + k * branches,
            "status": GOING,
            "created_at": earlier,
        }
        for i, (session, k) in enumerate(
            (
                (s, k)
                for s in past
                for k in range(PAST_SIGNUPS)
                if s["branch_id"] + k * branches <= placed
            ),
            start=1,
        )
    ]
    await bulk_load(
        db,
        [
            (Region, regions),
            (Branch, branch_rows),
            (Person, person_rows),
            (Identity, identity_rows),
            (Consent, consent_rows),
            (RoleGrant, grant_rows),
            (Poll, poll_rows),
            (PollVoter, voter_rows),
            (CanvassSession, upcoming + past),
            (CanvassSignup, signup_rows),
        ],
    )


# --- Measuring ----------------------------------------------------------------------


def percentile(sorted_values: list[float], q: float) -> float:
    """The q-th percentile (0..100) by linear interpolation."""
    if len(sorted_values) == 1:
        return sorted_values[0]
    return statistics.quantiles(sorted_values, n=1000, method="inclusive")[round(q * 10) - 1]


def private(p: int) -> tuple[Sender, ChatRef]:
    user_id = str(p)
    return Sender(PLATFORM, user_id, f"Person {p}"), ChatRef(PLATFORM, "private", user_id)


def join_request(p: int, branches: int, rng: random.Random) -> Request:
    return Request.command_from(*private(p), f"/join {slug(rng.randint(1, branches))}")


def vote_request(p: int, branches: int, rng: random.Random) -> Request:
    return Request.button_from(*private(p), f"pv:{branch_of(p, branches)}.{rng.randint(0, 1)}")


def signup_request(p: int, branches: int, rng: random.Random) -> Request:
    return Request.button_from(*private(p), f"cvgo:{branch_of(p, branches)}")


MAKERS: dict[str, Callable[[int, int, random.Random], Request]] = {
    "join": join_request,
    "vote": vote_request,
    "signup": signup_request,
}
EXPECTED = {  # the words that show a request did what it should
    "join": "Welcome to the",
    "vote": "Your vote is recorded",
    "signup": "You're signed up",
}


async def path_ops(
    core: Core, path: str, people: Sequence[int], branches: int, rng: random.Random
) -> list[float]:
    """Each person makes one request of the path; the latency of each, in seconds."""
    make, expected = MAKERS[path], EXPECTED[path]
    latencies: list[float] = []
    for p in people:
        request = make(p, branches, rng)
        start = time.perf_counter()
        replies = await core.handle(request)
        latencies.append(time.perf_counter() - start)
        if not replies or expected not in replies[0].text:
            raise SystemExit(f"{path} by {p} failed: {[r.text for r in replies]}")
    return latencies


async def raw_transactions(db: Database, ids: Sequence[int]) -> list[float]:
    """One transaction per id, inserting one row; the latency of each."""
    latencies: list[float] = []
    for i in ids:
        start = time.perf_counter()
        async with db.transaction() as session:
            await session.execute(insert(bench_raw).values(id=i, v=f"row {i}"))
        latencies.append(time.perf_counter() - start)
    return latencies


async def count(db: Database, stmt: Any) -> int:
    async with db.transaction() as session:
        return int(await session.scalar(stmt) or 0)


class Tally:
    """One path's latencies and time, and those of the raw blocks that followed it."""

    def __init__(self) -> None:
        self.latencies: list[float] = []
        self.raw_latencies: list[float] = []
        self.seconds = self.raw_seconds = self.cpu_seconds = 0.0

    async def measure(self, ops: Awaitable[list[float]], raw: Awaitable[list[float]]) -> None:
        started, cpu = time.perf_counter(), time.process_time()
        self.latencies += await ops
        self.seconds += time.perf_counter() - started
        self.cpu_seconds += time.process_time() - cpu
        started = time.perf_counter()
        self.raw_latencies += await raw
        self.raw_seconds += time.perf_counter() - started

    def figures(self, backend: str, path: str) -> dict[str, Any]:
        ops_per_s = len(self.latencies) / self.seconds
        raw_tx_per_s = len(self.raw_latencies) / self.raw_seconds
        lat, raw = sorted(self.latencies), sorted(self.raw_latencies)
        return {
            "db": backend,
            "path": path,
            "ratio": round(ops_per_s / raw_tx_per_s, 3),
            "p99_ms": round(percentile(lat, 99) * 1000, 3),
            "ops_per_s": round(ops_per_s, 1),
            "p50_ms": round(percentile(lat, 50) * 1000, 3),
            "cpu_ms": round(self.cpu_seconds / len(self.latencies) * 1000, 3),
            "raw_tx_per_s": round(raw_tx_per_s, 1),
            "raw_p50_ms": round(percentile(raw, 50) * 1000, 3),
            "raw_p99_ms": round(percentile(raw, 99) * 1000, 3),
            "ops": len(self.latencies),
        }


async def run(url: str, args: argparse.Namespace) -> tuple[list[dict[str, Any]], float]:
    """One row of figures per path, and the seconds the seeding took."""
    rng = random.Random(args.seed)
    db = Database(url)
    try:
        await db.upgrade()
        per_path = args.ops + WARMUP
        started = time.perf_counter()
        await seed(db, rng, people=args.people, branches=args.branches, reserved=per_path)
        seed_s = time.perf_counter() - started
        print(
            f"{db.backend}: seeded {args.people:,} people ({per_path:,} in no branch yet) "
            f"across {args.branches:,} branches, one organiser, one open poll and "
            f"{PAST_SESSIONS + 1} canvassing sessions each, in {seed_s:.1f} s",
            flush=True,
        )

        core = build_core(db, Settings(), rng=random.Random(args.seed))
        placed = args.people - per_path
        members = list(range(args.branches + 1, placed + 1))  # everyone but the organisers
        joiners = list(range(placed + 1, args.people + 1))
        rng.shuffle(joiners)
        people = {
            "join": joiners,
            "vote": rng.sample(members, per_path),
            "signup": rng.sample(members, per_path),
        }
        async with db.engine.begin() as conn:
            await conn.exec_driver_sql("CREATE TABLE bench_raw (id integer primary key, v text)")
        tallies = {path: Tally() for path in args.paths}
        raw_ids = iter(range(1, 1 + (WARMUP + args.raw) * len(args.paths) + 1))
        try:
            for path in args.paths:
                await path_ops(core, path, people[path][:WARMUP], args.branches, rng)
            await raw_transactions(db, [next(raw_ids) for _ in range(WARMUP)])
            blocks = min(BLOCKS, args.ops, args.raw)
            raw_block = {path: [next(raw_ids) for _ in range(args.raw)] for path in args.paths}
            for block in range(blocks):
                for path in args.paths:
                    await tallies[path].measure(
                        path_ops(
                            core,
                            path,
                            split(people[path][WARMUP:], blocks, block),
                            args.branches,
                            rng,
                        ),
                        raw_transactions(db, split(raw_block[path], blocks, block)),
                    )
        finally:
            async with db.engine.begin() as conn:
                await conn.exec_driver_sql("DROP TABLE bench_raw")

        # Every request was committed: each join with its message to the organiser.
        checks = {
            "join": (select(func.count()).select_from(OutboxMessage), per_path),
            "vote": (select(func.count()).select_from(Ballot), per_path),
            "signup": (
                select(func.count())
                .select_from(CanvassSignup)
                .where(CanvassSignup.session_id <= args.branches),
                per_path,
            ),
        }
        for path in args.paths:
            stmt, expected = checks[path]
            found = await count(db, stmt)
            if found != expected:
                raise SystemExit(f"{path}: expected {expected} rows, found {found}")
        rows = []
        for path in args.paths:
            row = tallies[path].figures(db.backend, path)
            rows.append(row)
            met = row["ratio"] >= TARGET_RATIO and row["p99_ms"] <= TARGET_P99_MS
            print(
                f"{db.backend} {path:6}: {row['ops_per_s']:,.0f} ops/s, p50 {row['p50_ms']:.2f} ms, "
                f"p99 {row['p99_ms']:.2f} ms, cpu {row['cpu_ms']:.2f} ms/op; raw "
                f"{row['raw_tx_per_s']:,.0f} tx/s (p50 {row['raw_p50_ms']:.2f} ms, p99 "
                f"{row['raw_p99_ms']:.2f} ms); ratio {row['ratio']:.3f} "
                f"({'met' if met else 'MISSED'})",
                flush=True,
            )
        return rows, seed_s
    finally:
        await db.dispose()


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    load = os.getloadavg()[0]
    print(
        f"targets: ratio >= {TARGET_RATIO}, p99 <= {TARGET_P99_MS} ms on every path; "
        f"{args.ops:,} requests per path after {WARMUP} warm-up, in {BLOCKS} blocks each "
        f"followed by raw transactions; load average {load:.2f} on {os.cpu_count()} CPUs",
        flush=True,
    )
    runs: list[dict[str, Any]] = []
    seed_s: dict[str, float] = {}
    for url in args.db or [None]:
        with throwaway_database(None if url == "sqlite" else url, "core") as db_url:
            rows, seconds = asyncio.run(run(db_url, args))
        runs += rows
        seed_s[rows[0]["db"]] = round(seconds, 2)
    met = all(r["ratio"] >= TARGET_RATIO and r["p99_ms"] <= TARGET_P99_MS for r in runs)
    max_rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"targets {'met' if met else 'MISSED'}; peak RSS {max_rss_mb:.0f} MB")
    figures = {
        "runs": runs,
        "met": met,
        "target_ratio": TARGET_RATIO,
        "target_p99_ms": TARGET_P99_MS,
        "people": args.people,
        "branches": args.branches,
        "raw_tx": args.raw,
        "seed_s": seed_s,
        "load_at_start": round(load, 2),
        "max_rss_mb": round(max_rss_mb, 1),
    }
    print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
