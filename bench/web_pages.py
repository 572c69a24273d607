#!/usr/bin/env python3
"""The public pages under load: one worker serves a draw's page, its record and
a branch's and a person's calendar feeds to ``--clients`` (200) concurrent
clients.

A fresh database is seeded with the demo party and ``--members`` (200) Frome
members who opted in to sortition; Alice draws a 5-seat council from them
(committed, then seeded by two witnesses entering a lottery result, all through
``Core.handle``), and Frome gets a people's assembly. The worker is this
process: ``bot.public.pages.Site`` behind ``adapters.web.pages_app`` on
127.0.0.1, as ``organiser run`` serves it on ``[web] port``. The clients are
another process (aiohttp, one connection each, keep-alive), each fetching in
turn ``/draws/1`` (the HTML page), ``/draws/1/record.json`` (what the page's
script checks), ``/branches/frome.ics`` (a branch's public feed) and Alice's
private feed for ``--seconds`` (10), after a second of warm-up. Public pages and
feeds are made at most once every ``bot.public.pages.FRESH_FOR`` seconds; a
private feed is made for every request.

    python bench/web_pages.py [--db URL] [--clients 200] [--members 200] [--seconds 10]

Without ``--db`` it runs on a fresh SQLite file and on PostgreSQL at
``postgresql://postgres@127.0.0.1:5432/postgres`` (skipped, saying so, if that
server cannot be reached). It prints, per database, the requests per second and
the p50 and p99 latency of each path and of all; the last line is one JSON
object ``{"requests_per_s", "p99_ms", "errors"}``, each keyed by database, with
``clients`` and ``record_bytes``. The exit status is 1 if any request failed.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import multiprocessing
import socket
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import select

from bench.common import DEFAULT_PG, bulk_load, percentile, pg_unreachable, throwaway_database
from bot.app import build_core
from bot.demo.party import seed_demo
from bot.kernel.clock import FixedClock
from bot.kernel.config import Settings
from bot.kernel.core import Core
from bot.kernel.messages import ChatRef, Reply, Request, Sender
from bot.public.rules import token_hash
from storage.db import Database
from storage.models import (
    CalendarFeed,
    Identity,
    Meeting,
    MeetingRsvp,
    Person,
    SortitionProfile,
)

TOKEN = "bench-feed-token-0123456789abcdef"  # Alice's private feed
PATHS = ("/draws/1", "/draws/1/record.json", "/branches/frome.ics", f"/calendar/{TOKEN}.ics")
NOW = dt.datetime(2026, 11, 26, 12, 0, tzinfo=dt.UTC)
GENDERS = ("woman", "man", "non-binary")
AGES = ("18-29", "30-44", "45-64", "65+")
RESULT = "4 11 23 35 42 58 + 7"


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument(
        "--db",
        help=f"sqlite, sqlite:///NEW-FILE or a postgresql:// server URL (default: both SQLite and {DEFAULT_PG})",
    )
    parser.add_argument("--clients", type=int, default=200)
    parser.add_argument("--members", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args(argv)
    if args.clients < 1 or args.members < 10 or args.seconds <= 0:
        parser.error("at least 1 client, 10 members and some seconds")
    return args


# --- the party and its draw ----------------------------------------------------------------


class Say:
    """Console people talking to the core, pressing buttons by their label."""

    def __init__(self, core: Core) -> None:
        self.core = core
        self.last: dict[str, list[Reply]] = {}

    def who(self, name: str) -> tuple[Sender, ChatRef]:
        return Sender("console", name.lower(), name), ChatRef("console", "private", name.lower())

    async def say(self, name: str, text: str) -> list[Reply]:
        sender, chat = self.who(name)
        self.last[name] = await self.core.handle(Request.command_from(sender, chat, text))
        return self.last[name]

    async def press(self, name: str, label: str) -> list[Reply]:
        button = next(
            b for r in self.last[name] for b in r.button_list() if b.label.startswith(label)
        )
        sender, chat = self.who(name)
        self.last[name] = await self.core.handle(Request.button_from(sender, chat, button.data))
        return self.last[name]


async def members(db: Database, count: int) -> None:
    async with db.transaction() as session:
        first = (
            int(
                await session.scalar(
                    Person.__table__.select()
                    .with_only_columns(Person.__table__.c.id)
                    .order_by(Person.__table__.c.id.desc())
                    .limit(1)
                )
                or 0
            )
            + 1
        )
    ids = range(first, first + count)
    await bulk_load(
        db,
        [
            (
                Person,
                [
                    {
                        "id": i,
                        "short_id": f"B{i:05d}",
                        "display_name": f"Member {i}",
                        "locale": "en",
                        "branch_id": 1,
                        "dues_paid_until": dt.date(2027, 6, 30),
                        "joined_branch_at": NOW - dt.timedelta(days=60),
                        "consented_at": NOW,
                        "created_at": NOW,
                    }
                    for i in ids
                ],
            ),
            (
                Identity,
                [
                    {
                        "person_id": i,
                        "platform": "console",
                        "user_id": f"member {i}",
                        "chat_id": f"member {i}",
                        "unreachable": False,
                        "last_seen_at": NOW,
                    }
                    for i in ids
                ],
            ),
            (
                SortitionProfile,
                [
                    {
                        "person_id": i,
                        "opted_in": True,
                        "features": {"gender": GENDERS[i % 3], "age": AGES[i % 4]},
                        "updated_at": NOW,
                    }
                    for i in ids
                ],
            ),
        ],
    )


async def seed(url: str, members_count: int) -> tuple[Database, Settings, FixedClock]:
    db = Database(url)
    await db.upgrade()
    settings = Settings(
        party_name="Bench Party", polls_ballot_key="dGVzdHMgc2VhbCBzZWNyZXQgYmFsbG90cywgaz0zMiE="
    )
    clock = FixedClock(NOW)
    await seed_demo(db, settings, NOW)
    await members(db, members_count)
    people = Say(build_core(db, settings, clock=clock))
    day = NOW.date() + dt.timedelta(days=1)
    while day.weekday() not in (2, 5):  # UK Lotto: Wednesdays and Saturdays
        day += dt.timedelta(days=1)
    await people.say("Alice", f"/draw 5 lottery:UK Lotto:{day.isoformat()}")
    committed = await people.press("Alice", "Commit")
    assert committed[0].text.startswith("Committed: draw 1"), committed[0].text
    clock.set(dt.datetime.combine(day, dt.time(22, 0), tzinfo=dt.UTC))
    await people.say("Alice", f"/draw seed 1 {RESULT}")
    drawn = await people.say("Carol", f"/draw seed 1 {RESULT}")
    assert "have been invited" in drawn[0].text, drawn[0].text
    now = clock.now()
    async with db.transaction() as session:
        assembly = Meeting(
            branch_id=1,
            kind="assembly",
            title="Frome people's assembly",
            starts_at=now + dt.timedelta(days=10),
            place="Frome Library",
            created_at=now,
        )
        session.add(assembly)
        await session.flush()
        alice = await session.scalar(select(Person.id).where(Person.display_name == "Alice"))
        session.add(
            MeetingRsvp(meeting_id=assembly.id, person_id=alice, answer="going", answered_at=now)
        )
        session.add(CalendarFeed(person_id=alice, token_hash=token_hash(TOKEN), created_at=now))
    return db, settings, clock


# --- the clients (another process) -----------------------------------------------------------


def clients(base: str, count: int, seconds: float, out: Any) -> None:
    out.put(asyncio.run(_clients(base, count, seconds)))


async def _clients(base: str, count: int, seconds: float) -> dict[str, Any]:
    import aiohttp

    timings: dict[str, list[float]] = {p: [] for p in PATHS}
    errors = 0
    started = time.perf_counter()
    measure_from = started + 1.0  # a second of warm-up
    until = measure_from + seconds

    async def client(n: int, http: aiohttp.ClientSession) -> None:
        nonlocal errors
        turn = n % len(PATHS)
        while (now := time.perf_counter()) < until:
            path = PATHS[turn]
            turn = (turn + 1) % len(PATHS)
            try:
                async with http.get(base + path) as response:
                    await response.read()
                    ok = response.status == 200
            except aiohttp.ClientError:
                ok = False
            took = time.perf_counter() - now
            if now >= measure_from:
                timings[path].append(took)
                errors += not ok

    connector = aiohttp.TCPConnector(limit=count)
    async with aiohttp.ClientSession(connector=connector) as http:
        await asyncio.gather(*(client(n, http) for n in range(count)))
    return {"timings": timings, "errors": errors, "seconds": seconds}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def run_one(url: str, args: argparse.Namespace) -> dict[str, Any]:
    from adapters.web import start_pages
    from bot.public.pages import Site

    db, settings, clock = await seed(url, args.members)
    port = free_port()
    runner = await start_pages(Site(db, settings, clock), "127.0.0.1", port)
    try:
        record = await Site(db, settings, clock).draw_record("1")
        assert record is not None
        context = multiprocessing.get_context("spawn")
        queue = context.Queue()
        process = context.Process(
            target=clients, args=(f"http://127.0.0.1:{port}", args.clients, args.seconds, queue)
        )
        process.start()
        result = await asyncio.to_thread(queue.get, True, args.seconds + 120)
        process.join()
    finally:
        await runner.cleanup()
        await db.dispose()
    every = sorted(t for times in result["timings"].values() for t in times)
    out = {
        "requests_per_s": round(len(every) / result["seconds"], 1),
        "p50_ms": round(percentile(every, 50) * 1000, 1),
        "p99_ms": round(percentile(every, 99) * 1000, 1),
        "errors": result["errors"],
        "record_bytes": len(record.body),
        "paths": {},
    }
    for path, times in result["timings"].items():
        times.sort()
        out["paths"][path] = {
            "requests_per_s": round(len(times) / result["seconds"], 1),
            "p50_ms": round(percentile(times, 50) * 1000, 1),
            "p99_ms": round(percentile(times, 99) * 1000, 1),
        }
    return out


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    targets: list[tuple[str, str | None]] = []
    if args.db in (None, "sqlite") or (args.db or "").startswith("sqlite"):
        targets.append(("sqlite", None if args.db in (None, "sqlite") else args.db))
    if args.db is None or (args.db or "").startswith("postgres"):
        pg = args.db or DEFAULT_PG
        problem = pg_unreachable(pg)
        if problem is None:
            targets.append(("postgresql", pg))
        else:
            print(f"postgresql: skipped ({problem})")
    found: dict[str, dict[str, Any]] = {}
    for name, url in targets:
        with throwaway_database(url, "web-pages") as fresh:
            found[name] = result = asyncio.run(run_one(fresh, args))
        print(
            f"{name}: {args.clients} clients, one worker: {result['requests_per_s']} requests/s, "
            f"p50 {result['p50_ms']} ms, p99 {result['p99_ms']} ms, {result['errors']} errors "
            f"(the record: {result['record_bytes']} bytes)"
        )
        for path, figures in result["paths"].items():
            print(
                f"  {path:<22} {figures['requests_per_s']:>8} requests/s  "
                f"p50 {figures['p50_ms']} ms  p99 {figures['p99_ms']} ms"
            )
    summary = {
        "clients": args.clients,
        "requests_per_s": {k: v["requests_per_s"] for k, v in found.items()},
        "p99_ms": {k: v["p99_ms"] for k, v in found.items()},
        "errors": {k: v["errors"] for k, v in found.items()},
        "record_bytes": {k: v["record_bytes"] for k, v in found.items()},
    }
    print(json.dumps(summary))
    return 1 if any(v["errors"] for v in found.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
