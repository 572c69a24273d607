#!/usr/bin/env python3
"""How fast the core answers ``/join``, against the raw rate of the same database.

Seeds a throwaway database with ``--people`` people (100,000) across
``--branches`` branches (500), each branch with an organiser, then drives
``--ops`` ``/join branch-NNNN`` requests through ``Core.handle`` (not a
platform), one after another, each by a consented person who is in no branch
yet: every one of them joins directly and queues a message to the organiser.
In the same run it measures the raw rate of single-row insert transactions
through the same ``Database.transaction()`` on the same database, and prints
the ratio of the two: the share of a minimal write transaction's rate that a
real command keeps. The two are measured in alternating blocks, so that a
change in the machine's load during the run moves both alike.

    python bench/core_throughput.py [--db URL] [--people 100000] [--branches 500] [--ops 3000]

Without ``--db`` the database is a fresh SQLite file in a temporary directory.
A ``postgresql://`` URL names a server, never a database to use: a fresh
``organiser_bench_<random>`` database is created there and dropped at the end.
Targets: ratio >= 0.3, p99 <= 5 ms. The last line printed is one JSON object:
``{"db", "ops_per_s", "p50_ms", "p99_ms", "raw_tx_per_s", "ratio", ...}``.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import random
import resource
import statistics
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import Column, Integer, MetaData, Table, Text, func, insert, select

from bench.common import bulk_load, throwaway_database
from bot.config import Settings
from bot.core import Core
from bot.messages import ChatRef, Request, Sender
from bot.people import SHORT_ID_ALPHABET, SHORT_ID_LENGTH
from storage.db import Database
from storage.models import (
    ACTIVE,
    ORGANISER,
    SCOPE_BRANCH,
    Branch,
    Consent,
    Identity,
    OutboxMessage,
    Person,
    Region,
    RoleGrant,
)

PLATFORM = "bench"
REGIONS = 12
WARMUP = 100
BLOCKS = 20
RAW_TX = 3000
SEED = 20261126
TARGET_RATIO = 0.3
TARGET_P99_MS = 5.0

# The tables seeded with explicit ids, whose PostgreSQL sequences must then catch up.

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
        help="sqlite:///NEW-FILE, or postgresql://USER@HOST:PORT/DB naming the server on "
        "which a throwaway database is created (default: SQLite in a temporary directory)",
    )
    parser.add_argument("--people", type=int, default=100_000)
    parser.add_argument("--branches", type=int, default=500)
    parser.add_argument("--ops", type=int, default=3000)
    parser.add_argument("--raw", type=int, default=RAW_TX, help="raw insert transactions")
    parser.add_argument("--seed", type=int, default=SEED)
    args = parser.parse_args(argv)
    if args.branches < 1 or args.branches > 9999:
        parser.error("--branches must be between 1 and 9999")
    if args.ops < 1 or args.raw < 1:
        parser.error("--ops and --raw must be at least 1")
    if args.people < args.ops + WARMUP + args.branches:
        parser.error(
            f"--people must be at least --ops + {WARMUP} (warm-up) + --branches (organisers)"
        )
    return args


# --- The throwaway database ---------------------------------------------------------


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


async def seed(
    db: Database, rng: random.Random, *, people: int, branches: int, reserved: int
) -> None:
    """Regions, branches with an organiser each, and people; the last ``reserved``
    people (ids ``people - reserved + 1 .. people``) are consented but in no branch."""
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
            "branch_id": (p - 1) % branches + 1 if p <= placed else None,
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
            "last_seen_at": now,  # seen recently, as after /start: /join refreshes nothing
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
    # Person b is in branch b (people are placed round-robin): its organiser.
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
    await bulk_load(
        db,
        [
            (Region, regions),
            (Branch, branch_rows),
            (Person, person_rows),
            (Identity, identity_rows),
            (Consent, consent_rows),
            (RoleGrant, grant_rows),
        ],
    )


# --- Measuring ----------------------------------------------------------------------


def percentile(sorted_values: list[float], q: float) -> float:
    """The q-th percentile (0..100) by linear interpolation."""
    if len(sorted_values) == 1:
        return sorted_values[0]
    return statistics.quantiles(sorted_values, n=1000, method="inclusive")[round(q * 10) - 1]


async def join_ops(
    core: Core, joiners: Sequence[int], branches: int, rng: random.Random
) -> list[float]:
    """Each person /joins a random branch; the latency of each, in seconds."""
    latencies: list[float] = []
    for p in joiners:
        user_id = str(p)
        request = Request.command_from(
            Sender(PLATFORM, user_id, f"Person {p}"),
            ChatRef(PLATFORM, "private", user_id),
            f"/join {slug(rng.randint(1, branches))}",
        )
        start = time.perf_counter()
        replies = await core.handle(request)
        latencies.append(time.perf_counter() - start)
        if not replies or "Welcome to the" not in replies[0].text:
            raise SystemExit(f"/join by {user_id} did not join: {[r.text for r in replies]}")
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


async def run(url: str, args: argparse.Namespace) -> dict[str, Any]:
    rng = random.Random(args.seed)
    db = Database(url)
    try:
        await db.upgrade()
        reserved = args.ops + WARMUP
        started = time.perf_counter()
        await seed(db, rng, people=args.people, branches=args.branches, reserved=reserved)
        seed_s = time.perf_counter() - started
        print(
            f"seeded {args.people:,} people ({reserved:,} in no branch yet) across "
            f"{args.branches:,} branches, one organiser each, in {seed_s:.1f} s",
            flush=True,
        )

        core = Core(db, Settings(), rng=random.Random(args.seed))
        joiners = list(range(args.people - reserved + 1, args.people + 1))
        rng.shuffle(joiners)
        async with db.engine.begin() as conn:
            await conn.exec_driver_sql("CREATE TABLE bench_raw (id integer primary key, v text)")
        try:
            await join_ops(core, joiners[:WARMUP], args.branches, rng)
            await raw_transactions(db, range(1, WARMUP + 1))
            # Both measured in alternating blocks, so that the ratio compares like with
            # like even when the machine's load changes during the run.
            blocks = min(BLOCKS, args.ops, args.raw)
            raw_ids = range(WARMUP + 1, WARMUP + 1 + args.raw)
            latencies: list[float] = []
            raw_latencies: list[float] = []
            ops_s = raw_s = 0.0
            for block in range(blocks):
                started = time.perf_counter()
                latencies += await join_ops(
                    core, split(joiners[WARMUP:], blocks, block), args.branches, rng
                )
                ops_s += time.perf_counter() - started
                started = time.perf_counter()
                raw_latencies += await raw_transactions(db, split(raw_ids, blocks, block))
                raw_s += time.perf_counter() - started
        finally:
            async with db.engine.begin() as conn:
                await conn.exec_driver_sql("DROP TABLE bench_raw")
        ops_per_s = len(latencies) / ops_s
        latencies.sort()
        p50_ms = percentile(latencies, 50) * 1000
        p99_ms = percentile(latencies, 99) * 1000
        print(
            f"core: {len(latencies):,} /join in {ops_s:.2f} s (after {WARMUP} warm-up, "
            f"in {blocks} blocks alternating with the raw transactions)"
        )
        print(f"core: {ops_per_s:,.0f} ops/s, p50 {p50_ms:.2f} ms, p99 {p99_ms:.2f} ms")

        # Every join was committed, with its message to the organiser.
        outbox = await count(db, select(func.count()).select_from(OutboxMessage))
        homeless = await count(
            db, select(func.count()).select_from(Person).where(Person.branch_id.is_(None))
        )
        if outbox != reserved or homeless != 0:
            raise SystemExit(
                f"expected {reserved} outbox rows and nobody without a branch, "
                f"found {outbox} and {homeless}"
            )

        raw_tx_per_s = args.raw / raw_s
        raw_latencies.sort()
        raw_p50_ms = percentile(raw_latencies, 50) * 1000
        raw_p99_ms = percentile(raw_latencies, 99) * 1000
        ratio = ops_per_s / raw_tx_per_s
        print(
            f"raw:  {args.raw:,} single-row insert transactions: {raw_tx_per_s:,.0f} tx/s, "
            f"p50 {raw_p50_ms:.2f} ms, p99 {raw_p99_ms:.2f} ms"
        )
        max_rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(
            f"ratio {ratio:.3f} (target >= {TARGET_RATIO}: "
            f"{'met' if ratio >= TARGET_RATIO else 'MISSED'}); "
            f"p99 {p99_ms:.2f} ms (target <= {TARGET_P99_MS} ms: "
            f"{'met' if p99_ms <= TARGET_P99_MS else 'MISSED'}); peak RSS {max_rss_mb:.0f} MB"
        )
        return {
            "db": db.backend,
            "ops_per_s": round(ops_per_s, 1),
            "p50_ms": round(p50_ms, 3),
            "p99_ms": round(p99_ms, 3),
            "raw_tx_per_s": round(raw_tx_per_s, 1),
            "ratio": round(ratio, 3),
            "raw_p50_ms": round(raw_p50_ms, 3),
            "raw_p99_ms": round(raw_p99_ms, 3),
            "people": args.people,
            "branches": args.branches,
            "ops": len(latencies),
            "raw_tx": len(raw_latencies),
            "seed_s": round(seed_s, 2),
            "max_rss_mb": round(max_rss_mb, 1),
        }
    finally:
        await db.dispose()


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    with throwaway_database(args.db, "core") as url:
        figures = asyncio.run(run(url, args))
    print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
