#!/usr/bin/env python3
"""/forget and the retention sweep on a busy outbox.

A fresh database is seeded with the demo party (``bot.demo.party.seed_demo``); Zed
agrees, joins Frome and so is announced to its organisers, all through
``Core.handle``. Then ``--messages`` (100,000) sent outbox rows are
bulk-inserted, addressed to the demo's people, sent at times spread evenly over
the last 60 days; ``--about`` (500) of them name Zed ("Zed (SHORTID) joined ...",
``about_id`` set) and ``--mentions`` (500) name Zed without being about them
("P0001 = Zed; ..."), the rest name other members.

Zed sends /forget and presses "Yes, delete my data": the time that press takes
is ``forget_s`` (it rewrites every stored mention). Every outbox text is then
checked for "Zed" (``erased_ok``). Finally the retention sweep runs once
(``privacy.retention_days`` = 30) and deletes the rows sent more than 30 days
ago: ``retention_s`` and ``deleted``.

    python bench/forget.py [--db URL] [--messages 100000] [--about 500] [--mentions 500]

Without ``--db`` it runs on a fresh SQLite file and on PostgreSQL at
``postgresql://postgres@127.0.0.1:5432/postgres`` (skipped, saying so, if that
server cannot be reached); a ``postgresql://`` URL names a server on which a
throwaway database is created and dropped. The last line is one JSON object
``{"forget_s", "retention_s", "deleted", "erased_ok"}``, each keyed by database.
The exit status is 1 if a mention survived.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import random
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import func, select

from bench.common import DEFAULT_PG, bulk_load, pg_unreachable, throwaway_database
from bot.app import build_core
from bot.demo.party import seed_demo
from bot.kernel.clock import FixedClock
from bot.kernel.config import Settings
from bot.kernel.core import Core
from bot.kernel.messages import ChatRef, Request, Sender
from bot.privacy.retention import retention_sweep
from storage.db import Database
from storage.models import OutboxMessage, Person

ZED = Sender("console", "zed", "Zed", handle="zed")
ZED_CHAT = ChatRef("console", "private", "zed")


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument(
        "--db",
        help=f"sqlite, sqlite:///NEW-FILE or a postgresql:// server URL (default: both SQLite and {DEFAULT_PG})",
    )
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--about", type=int, default=500)
    parser.add_argument("--mentions", type=int, default=500)
    args = parser.parse_args(argv)
    if (
        min(args.messages, args.about, args.mentions) < 0
        or args.about + args.mentions > args.messages
    ):
        parser.error("--about and --mentions are counts within --messages")
    return args


async def say(core: Core, text: str) -> Any:
    return await core.handle(Request.command_from(ZED, ZED_CHAT, text))


async def press(core: Core, data: str) -> Any:
    return await core.handle(Request.button_from(ZED, ZED_CHAT, data))


async def run(url: str, args: argparse.Namespace) -> dict[str, Any]:
    rng = random.Random(13)
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    settings = Settings(party_name="Bench Party")
    db = Database(url)
    await db.upgrade()
    try:
        await seed_demo(db, settings, now)
        core = build_core(db, settings, clock=FixedClock(now), rng=random.Random(7))
        await press(core, (await say(core, "/start"))[0].button_list()[0].data)
        await say(core, "/join Frome")
        async with db.transaction() as session:
            zed = await session.scalar(select(Person).where(Person.display_name == "Zed"))
            assert zed is not None, "Zed did not join"
            people = list(await session.scalars(select(Person.id).where(Person.id != zed.id)))
            first = int(await session.scalar(select(func.max(OutboxMessage.id))) or 0) + 1
        rows = []
        for i in range(args.messages):
            if i < args.about:
                text, about = f"Zed ({zed.short_id}) joined the Frome branch.", zed.id
            elif i < args.about + args.mentions:
                text, about = f"Who was drawn: P0001 = Member {i}; P0002 = Zed.", None
            else:
                text, about = f"Member {i} (X{i:05d}) joined the Frome branch.", None
            sent = now - dt.timedelta(seconds=rng.uniform(0, 60 * 86400))
            rows.append(
                {
                    "id": first + i,
                    "key": f"bench:{i}",
                    "person_id": rng.choice(people),
                    "branch_chat_id": None,
                    "about_id": about,
                    "text": text,
                    "buttons": [],
                    "status": "sent",
                    "attempts": 1,
                    "last_error": None,
                    "created_at": sent,
                    "sent_at": sent,
                    "next_attempt_at": None,
                    "file_name": None,
                    "file_type": None,
                    "file_data": None,
                }
            )
        await bulk_load(db, [(OutboxMessage, rows)])
        confirm = (await say(core, "/forget"))[0].button_list()[0].data
        started = time.perf_counter()
        replies = await press(core, confirm)
        forget_s = time.perf_counter() - started
        assert "deleted" in replies[0].text, replies[0].text
        async with db.transaction() as session:
            left = await session.scalar(
                select(func.count())
                .select_from(OutboxMessage)
                .where(OutboxMessage.text.like("%Zed%"))
            )
        started = time.perf_counter()
        counts = await retention_sweep(db, settings, now)
        retention_s = time.perf_counter() - started
        return {
            "db": db.backend,
            "messages": args.messages,
            "forget_s": round(forget_s, 3),
            "retention_s": round(retention_s, 3),
            "deleted": counts["outbox"],
            "erased_ok": left == 0,
        }
    finally:
        await db.dispose()


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.db in (None, "sqlite"):
        targets: list[str | None] = [None]
        if args.db is None:
            unreachable = pg_unreachable()
            if unreachable:
                print(json.dumps({"db": "postgresql", "skipped": unreachable}))
            else:
                targets.append(DEFAULT_PG)
    else:
        targets = [args.db]
    results = []
    for target in targets:
        with throwaway_database(target, "forget") as url:
            result = asyncio.run(run(url, args))
        print(json.dumps(result))
        results.append(result)
    keys = ("forget_s", "retention_s", "deleted", "erased_ok")
    print(json.dumps({k: {r["db"]: r[k] for r in results} for k in keys}))
    return 0 if all(r["erased_ok"] for r in results) else 1


if __name__ == "__main__":
    raise SystemExit(main())
