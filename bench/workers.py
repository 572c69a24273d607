#!/usr/bin/env python3
"""Several worker processes on one PostgreSQL database: a poll burst and an outbox fan-out.

For each number of worker processes in ``--workers`` (1 2 4), on a fresh
database of its own:

* Poll burst (as ``bench/poll_burst.py``): the demo party and ``--members``
  (20,000) paid-up Frome members are seeded, Alice posts a poll through
  ``Core.handle``, and ``--votes`` (5,000) distinct members press an option
  button, ``--repeat`` (5%) of them a second time (the truth is each person's
  last press). The voters are dealt out among the worker processes (all of a
  person's presses go to one process, in order), and each process answers its
  share through its own ``Core`` and ``storage.db.Database`` from
  ``--concurrency`` / W concurrent tasks (32 in all, whatever W). Before the
  clock starts each process casts one warm-up vote (a member who is not among
  the voters; counted in the truth, not in the figures). Then Alice closes the
  poll and the tally (close reply, stored result, ballots) is compared with the
  truth. Votes/s: presses answered / time from "go" to the last answer; the
  latency of a press is measured around ``Core.handle``.
* Fan-out: ``--messages`` (5,000) members with an identity on the platform
  "bench" are seeded and one reminder is queued for each with
  ``bot.kernel.outbox.enqueue_for`` (as ``bench/fanout.py``); then every worker
  process runs the real delivery loop, ``bot.kernel.outbox.run_outbox`` (which claims
  rows with ``FOR UPDATE SKIP LOCKED`` and a lease), through a transport that
  only counts what it is given (``--send-ms`` of simulated network time per
  message, 0 by default) until no row is pending. Every message must have been
  handed to a transport exactly once (duplicates: more than once; lost: never)
  and every row must be marked sent after one attempt. Messages/s: messages /
  time from "go" to the last message handed over.

The worker processes are this file run with ``--worker poll|fanout``: each gets
its job as one JSON line on stdin, opens its own database connection pool,
says "ready", waits for "go" (so that starting Python is not timed), and
prints its figures as one JSON line. The scaling is each figure divided by the
one for a single worker. This machine's cores are shared by the workers, the
database server and this driver: processes beyond the number of cores cannot
add throughput, and the figures say how many cores there were.

    python bench/workers.py [--db URL] [--workers 1 2 4] [--members 20000]
                            [--votes 5000] [--messages 5000] [--concurrency 32]

``--db`` names a PostgreSQL server (default
``postgresql://postgres@127.0.0.1:5432/postgres``), never a database to use: a
fresh ``organiser_bench_<random>`` database is created there for each run and
dropped at the end. SQLite is one process by design and is refused. The last
line printed is one JSON object ``{"workers", "cpus", "votes_per_s", "p99_ms",
"fanout_per_s", "speedup_votes", "speedup_fanout", "tally_ok", "duplicates",
"lost"}`` (the per-run figures keyed by the number of workers). The exit status
is 1 if a tally is wrong or a message was delivered twice or not at all.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import random
import signal
import sys
import time
from collections import Counter
from collections.abc import Sequence
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import func, select
from sqlalchemy.engine import make_url

from bench import fanout, poll_burst
from bench.common import DEFAULT_PG, percentile, pg_unreachable, throwaway_database
from bot.app import build_core
from bot.kernel.clock import SystemClock
from bot.kernel.config import Settings
from bot.kernel.messages import ChatRef, Reply, Request, Sender
from bot.kernel.outbox import Recipient, run_outbox
from storage.db import Database
from storage.models import OutboxMessage

SCRIPT = Path(__file__).resolve()
SEED = 20261211
READY_TIMEOUT_S = 120.0  # for a worker to start, connect and warm up
RUN_TIMEOUT_S = 900.0  # for a worker to finish its share
STOP_POLL_S = 0.1  # how often a fan-out worker asks whether anything is still pending


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument(
        "--db",
        default=DEFAULT_PG,
        help="postgresql://USER@HOST:PORT/DB naming the server on which throwaway databases "
        f"are created ({DEFAULT_PG})",
    )
    parser.add_argument(
        "--workers", type=int, nargs="+", default=[1, 2, 4], help="worker process counts (1 2 4)"
    )
    parser.add_argument("--members", type=int, default=20_000, help="members seeded (20,000)")
    parser.add_argument("--votes", type=int, default=5_000, help="distinct voters (5,000)")
    parser.add_argument(
        "--repeat", type=float, default=0.05, help="share of voters who press twice (0.05)"
    )
    parser.add_argument(
        "--concurrency", type=int, default=32, help="concurrent presses, over all workers (32)"
    )
    parser.add_argument(
        "--messages", type=int, default=5_000, help="fan-out messages, one per person (5,000)"
    )
    parser.add_argument(
        "--send-ms",
        type=float,
        default=0.0,
        help="simulated network time of one send in the fan-out (0)",
    )
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--worker", choices=["poll", "fanout"], help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        return args
    if make_url(args.db).get_backend_name() not in ("postgresql", "postgres"):
        parser.error("--db must name a PostgreSQL server: SQLite is one process by design")
    if not args.workers or min(args.workers) < 1:
        parser.error("--workers must be at least 1")
    if min(args.members, args.votes, args.messages) < 1:
        parser.error("--members, --votes and --messages must be at least 1")
    if args.concurrency < max(args.workers):
        parser.error("--concurrency must be at least the largest worker count")
    if args.votes + max(args.workers) > args.members:
        parser.error("--members must exceed --votes by at least the largest worker count")
    if not 0 <= args.repeat <= 1:
        parser.error("--repeat must be between 0 and 1")
    if args.send_ms < 0:
        parser.error("--send-ms must not be negative")
    return args


# --- The worker processes -----------------------------------------------------------


async def read_line() -> str:
    return await asyncio.to_thread(sys.stdin.readline)


def say(obj: object) -> None:
    """One line to the driver (stdout is the protocol; everything else goes to stderr)."""
    print(obj if isinstance(obj, str) else json.dumps(obj), flush=True)


def vote_request(poll_id: int, person: int, option: int) -> Request:
    uid = poll_burst.user_id(person)
    return Request.button_from(
        Sender(poll_burst.PLATFORM, uid, f"Member {person}"),
        ChatRef(poll_burst.PLATFORM, "private", uid),
        f"pv:{poll_id}.{option}",
    )


async def poll_worker(job: dict[str, Any]) -> None:
    """Warm up with one vote, then answer this worker's share of the presses."""
    db = Database(job["url"])
    try:
        core = build_core(db, Settings(), rng=random.Random(job["seed"]))
        person, option = job["warmup"]
        replies = await core.handle(vote_request(job["poll_id"], person, option))
        if not replies or not replies[0].text.startswith("Your vote is"):
            raise SystemExit(f"warm-up vote not recorded: {[r.text for r in replies]}")
        presses = [poll_burst.Press(p, o, bool(s)) for p, o, s in job["presses"]]
        say("ready")
        await read_line()
        start = time.time()
        latencies, errors, _wall = await poll_burst.burst(
            core, job["poll_id"], presses, job["concurrency"], job["label"]
        )
        end = time.time()
    finally:
        await db.dispose()
    say({"start": start, "end": end, "latencies": latencies, "errors": errors})


class CountingTransport:
    """A transport (the ``bot.kernel.outbox.Transport`` protocol) that sends nothing and
    notes who each message was for, and when."""

    platform = fanout.PLATFORM

    def __init__(self, send_s: float) -> None:
        self.send_s = send_s
        self.people: list[int] = []
        self.first = 0.0
        self.last = 0.0

    async def send(self, recipient: Recipient, reply: Reply) -> None:
        if self.send_s:
            await asyncio.sleep(self.send_s)
        now = time.time()
        if not self.people:
            self.first = now
        self.last = now
        self.people.append(recipient.person_id if recipient.person_id is not None else -1)


async def fanout_worker(job: dict[str, Any]) -> None:
    """Run the outbox delivery loop until no message is pending."""
    db = Database(job["url"])
    transport = CountingTransport(job["send_ms"] / 1000)
    stop = asyncio.Event()
    try:
        await fanout.pending_count(db)  # connect before the clock starts
        say("ready")
        await read_line()
        start = time.time()
        loop = asyncio.create_task(
            run_outbox(db, {transport.platform: transport}, SystemClock(), stop)
        )
        while not loop.done():
            await asyncio.sleep(STOP_POLL_S)
            if await fanout.pending_count(db) == 0:
                stop.set()
        await loop
        end = time.time()
    finally:
        await db.dispose()
    say(
        {
            "start": start,
            "end": end,
            "first": transport.first,
            "last": transport.last,
            "people": transport.people,
        }
    )


def worker_main(role: str) -> int:
    logging.basicConfig(
        level=logging.WARNING, format=f"worker {os.getpid()}: %(levelname)s %(message)s"
    )
    job = json.loads(sys.stdin.readline())
    asyncio.run(poll_worker(job) if role == "poll" else fanout_worker(job))
    return 0


# --- Driving the workers ------------------------------------------------------------


class Workers:
    """Worker processes of one role: started with their jobs, released together."""

    def __init__(self, role: str) -> None:
        self.role = role
        self.procs: list[asyncio.subprocess.Process] = []

    async def start(self, jobs: list[dict[str, Any]]) -> None:
        for job in jobs:
            proc = await asyncio.create_subprocess_exec(
                sys.executable,
                str(SCRIPT),
                "--worker",
                self.role,
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
            )
            self.procs.append(proc)
            assert proc.stdin is not None
            proc.stdin.write((json.dumps(job) + "\n").encode())
            await proc.stdin.drain()
        async with asyncio.timeout(READY_TIMEOUT_S):
            for proc in self.procs:
                assert proc.stdout is not None
                line = (await proc.stdout.readline()).decode().strip()
                if line != "ready":
                    code = await proc.wait()
                    raise SystemExit(f"a {self.role} worker did not start (exit status {code})")

    async def go(self) -> tuple[float, list[dict[str, Any]]]:
        """Release every worker at once; (the time of the release, their figures)."""
        released = time.time()
        for proc in self.procs:
            assert proc.stdin is not None
            proc.stdin.write(b"go\n")
        await asyncio.gather(*(p.stdin.drain() for p in self.procs if p.stdin is not None))
        async with asyncio.timeout(RUN_TIMEOUT_S):
            outputs = await asyncio.gather(*(p.communicate() for p in self.procs))
        results = []
        for proc, (out, _err) in zip(self.procs, outputs, strict=True):
            lines = out.decode().strip().splitlines()
            if proc.returncode != 0 or not lines:
                raise SystemExit(f"a {self.role} worker failed (exit status {proc.returncode})")
            results.append(json.loads(lines[-1]))
        return released, results

    def kill(self) -> None:
        """End every worker of ours that is still running."""
        for proc in self.procs:
            if proc.returncode is None:
                with suppress(ProcessLookupError):
                    os.kill(proc.pid, signal.SIGKILL)


@dataclass
class PollRun:
    presses: int
    votes_per_s: float
    p50_ms: float
    p99_ms: float
    errors: int
    tally_ok: bool


@dataclass
class FanoutRun:
    messages: int
    per_s: float
    duplicates: int
    lost: int
    rows_ok: bool


async def poll_run(args: argparse.Namespace, workers: int) -> PollRun:
    label = f"{workers} worker{'s' if workers > 1 else ''}"
    rng = random.Random(args.seed)
    settings = Settings()
    with throwaway_database(args.db, "workers") as url:
        db = Database(url)
        try:
            await db.upgrade()
            started = time.perf_counter()
            ids = await poll_burst.seed(db, settings, args.members)
            core = build_core(db, settings, rng=random.Random(args.seed))
            poll_id, roll, _post_s = await poll_burst.post_poll(core)
            print(
                f"{label}: seeded {args.members:,} members and posted poll {poll_id} "
                f"({roll:,} on the roll) in {time.perf_counter() - started:.1f} s",
                flush=True,
            )
            presses, truth = poll_burst.plan(rng, ids, args.votes, args.repeat, args.concurrency)
            # Deal the voters out in the order of their first press, so that every
            # worker has as many and all of one person's presses are in one worker.
            shard: dict[int, int] = {}
            for press in presses:
                shard.setdefault(press.person, len(shard) % workers)
            spare = [p for p in ids if p not in truth]
            jobs = []
            for i in range(workers):
                mine = [
                    [p.person, p.option, int(p.second)] for p in presses if shard[p.person] == i
                ]
                warm = (spare[i], rng.randrange(len(poll_burst.OPTIONS)))
                truth[warm[0]] = warm[1]
                share = args.concurrency // workers + (i < args.concurrency % workers)
                jobs.append(
                    {
                        "url": url,
                        "seed": args.seed + i,
                        "poll_id": poll_id,
                        "warmup": warm,
                        "presses": mine,
                        "concurrency": share,
                        "label": f"{label}, worker {i + 1}",
                    }
                )
            procs = Workers("poll")
            try:
                await procs.start(jobs)
                released, results = await procs.go()
            finally:
                procs.kill()
            latencies = sorted(x for r in results for x in r["latencies"])
            errors = [e for r in results for e in r["errors"]]
            wall = max(r["end"] for r in results) - released
            votes_per_s = len(latencies) / wall
            p50_ms = percentile(latencies, 50) * 1000
            p99_ms = percentile(latencies, 99) * 1000
            for error in errors[:5]:
                print(f"  {label}: not recorded: {error}", flush=True)
            tally = await poll_burst.close_and_check(core, db, poll_id, truth)
        finally:
            await db.dispose()
    ok = tally.ok and not errors
    print(
        f"{label}: {len(latencies):,} presses in {wall:.2f} s: {votes_per_s:,.0f} votes/s, "
        f"p50 {p50_ms:.2f} ms, p99 {p99_ms:.2f} ms; {len(errors)} not recorded; "
        f"tally {'OK' if ok else 'WRONG'} (expected {tally.expected}, close reply "
        f"{tally.reply_counts}, stored {tally.stored_counts}, ballots {tally.ballot_counts})",
        flush=True,
    )
    return PollRun(len(latencies), votes_per_s, p50_ms, p99_ms, len(errors), ok)


async def fanout_run(args: argparse.Namespace, workers: int) -> FanoutRun:
    label = f"{workers} worker{'s' if workers > 1 else ''}"
    with throwaway_database(args.db, "fanout") as url:
        db = Database(url)
        try:
            await db.upgrade()
            await fanout.seed(db, args.messages)
            queued = await fanout.pending_count(db)
            if queued != args.messages:
                raise SystemExit(f"expected {args.messages} queued messages, found {queued}")
            procs = Workers("fanout")
            try:
                await procs.start([{"url": url, "send_ms": args.send_ms}] * workers)
                released, results = await procs.go()
            finally:
                procs.kill()
            async with db.transaction() as session:
                rows = (
                    await session.execute(
                        select(
                            OutboxMessage.status,
                            func.count(),
                            func.min(OutboxMessage.attempts),
                            func.max(OutboxMessage.attempts),
                        ).group_by(OutboxMessage.status)
                    )
                ).all()
        finally:
            await db.dispose()
    handed = Counter(p for r in results for p in r["people"])
    duplicates = sum(n - 1 for n in handed.values() if n > 1)
    lost = sum(1 for p in range(1, args.messages + 1) if p not in handed)
    rows_ok = [(s, int(n), int(lo), int(hi)) for s, n, lo, hi in rows] == [
        ("sent", args.messages, 1, 1)
    ]
    last = max((r["last"] for r in results if r["people"]), default=released)
    per_s = sum(handed.values()) / (last - released) if last > released else 0.0
    shares = ", ".join(f"{len(r['people']):,}" for r in results)
    statuses = ", ".join(f"{int(n):,} {s} (attempts {lo}-{hi})" for s, n, lo, hi in rows)
    print(
        f"{label}: fan-out of {args.messages:,} messages in {last - released:.2f} s: "
        f"{per_s:,.0f} msgs/s (per worker: {shares}); duplicates {duplicates}, lost {lost}; "
        f"outbox rows: {statuses}",
        flush=True,
    )
    return FanoutRun(args.messages, per_s, duplicates, lost, rows_ok)


async def run(args: argparse.Namespace) -> tuple[dict[str, Any], bool]:
    cpus = os.cpu_count() or 1
    counts = list(dict.fromkeys(args.workers))
    print(
        f"{cpus} CPU core{'s' if cpus > 1 else ''} on this machine, shared by the worker "
        f"processes, PostgreSQL and this driver: more than {cpus} workers cannot add "
        f"throughput, and fewer may already saturate it. Load average at start: "
        f"{', '.join(f'{x:.2f}' for x in os.getloadavg())}.",
        flush=True,
    )
    polls: dict[int, PollRun] = {}
    fans: dict[int, FanoutRun] = {}
    for w in counts:
        polls[w] = await poll_run(args, w)
        fans[w] = await fanout_run(args, w)
    base = counts[0]
    speedup_votes = {w: round(polls[w].votes_per_s / polls[base].votes_per_s, 2) for w in counts}
    speedup_fanout = {
        w: round(fans[w].per_s / fans[base].per_s, 2) if fans[base].per_s else 0.0 for w in counts
    }
    for w in counts:
        print(
            f"{w} worker{'s' if w > 1 else ' '}: {polls[w].votes_per_s:8,.0f} votes/s "
            f"(x{speedup_votes[w]:.2f}), p99 {polls[w].p99_ms:7.2f} ms; fan-out "
            f"{fans[w].per_s:8,.0f} msgs/s (x{speedup_fanout[w]:.2f}); duplicates "
            f"{fans[w].duplicates}, lost {fans[w].lost}",
            flush=True,
        )
    tally_ok = all(p.tally_ok for p in polls.values())
    duplicates = sum(f.duplicates for f in fans.values())
    lost = sum(f.lost for f in fans.values())
    rows_ok = all(f.rows_ok for f in fans.values())
    figures = {
        "workers": counts,
        "cpus": cpus,
        "members": args.members,
        "votes": args.votes,
        "messages": args.messages,
        "votes_per_s": {w: round(polls[w].votes_per_s, 1) for w in counts},
        "p99_ms": {w: round(polls[w].p99_ms, 2) for w in counts},
        "fanout_per_s": {w: round(fans[w].per_s, 1) for w in counts},
        "speedup_votes": speedup_votes,
        "speedup_fanout": speedup_fanout,
        "tally_ok": tally_ok,
        "duplicates": duplicates,
        "lost": lost,
    }
    return figures, tally_ok and duplicates == 0 and lost == 0 and rows_ok


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.worker:
        return worker_main(args.worker)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    why = pg_unreachable(args.db)
    if why is not None:
        raise SystemExit(f"PostgreSQL at {args.db} is unreachable ({why})")
    wall = time.perf_counter()
    figures, ok = asyncio.run(run(args))
    print(f"total wall time {time.perf_counter() - wall:.1f} s", flush=True)
    print(json.dumps(figures))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
