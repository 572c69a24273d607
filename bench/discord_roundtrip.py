#!/usr/bin/env python3
"""How fast the Discord adapter answers people, end to end through a fake Discord.

``--people`` simulated people (300), each a distinct Discord user, each run one
slash command through the fake Discord of ``tests/fake_discord.py`` (REST over
real HTTP and the gateway over a real WebSocket, both on 127.0.0.1); the real
adapter (``adapters/discord.py`` on discord.py) with the real core and a fresh
SQLite database (the demo party seeded) answers them. For each person the
latency runs from the moment the fake starts dispatching the INTERACTION_CREATE
to the moment it records the bot's answer: the interaction callback with a
message (type 4) or, if the adapter deferred first (type 5, after two seconds),
the follow-up that fills the deferral (``ack_max_ms``: the longest wait for the
first callback of any type, which Discord wants within 3 s). A mode runs ``--rounds`` (3) bursts, each
of ``--people`` new people; a round's throughput is its interactions answered
per second, from its first injection to its last answer, and the mode's is the
median of its rounds; the latency percentiles pool every round.

Two modes, each in its own process (so that its peak RSS is its own), with its
own fresh database, fake server and adapter, after one warm-up interaction that
is not counted:

* ``dm-help``: ``/help`` in each person's DM with the bot (strangers to the bot);
* ``guild-me``: ``/me`` in the server's #general, whose answer is ephemeral; the
  people are members of the Frome branch with a Discord identity, so that the
  core answers with their record (not a request to consent first).

Interactions are injected all at once, or with ``--concurrency N`` at most N
unanswered at a time. The fake and the bot share one asyncio loop (one core), so
the fake's own HTTP and WebSocket work is in the figures: they understate what
the adapter alone could do.

    python bench/discord_roundtrip.py [--people 300] [--rounds 3] [--concurrency 0] [--modes ...]

Every interaction must get exactly one answer (one accepted callback within
3 s, no refused request, no extra follow-up, the expected text and ephemerality), else
the exit status is 1. One JSON line per mode ``{"mode", "interactions_per_s",
"p50_ms", "p99_ms", "max_ms", "peak_rss_mb", ...}``, then the last line: one
JSON object ``{"modes": [...]}`` holding them all.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import logging
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import select

from adapters.discord import DiscordAdapter
from bot.app import build_core
from bot.demo.party import seed_demo
from bot.kernel.config import Settings
from bot.kernel.people import new_short_id
from storage.db import Database
from storage.models import Branch, Consent, Identity, Person
from tests.fake_discord import (
    CHANNELS,
    DEFERRED_CHANNEL_MESSAGE,
    EPHEMERAL,
    TOKEN,
    FakeDiscord,
    RecordedRequest,
)

FIRST_USER_ID = 700_000_000_000_000_001
WARMUP_USER_ID = 699_999_999_999_999_999
APOLOGY = "something went wrong on our side"
ACK_WITHIN = 3.0  # seconds: Discord drops an interaction not acknowledged by then


@dataclass(frozen=True)
class Mode:
    name: str
    command: str
    guild: bool
    members: bool  # the people are seeded as branch members with a Discord identity
    reply_has: str  # the answer must contain this (and, for members, start with their name)
    ephemeral: bool


MODES = {
    m.name: m
    for m in (
        Mode("dm-help", "help", False, False, "Here is what you can do", False),
        Mode("guild-me", "me", True, True, "Branch: Frome", True),
    )
}


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--people", type=int, default=300, help="simulated people (300)")
    parser.add_argument(
        "--concurrency",
        type=int,
        default=0,
        help="at most this many interactions unanswered at once (0, the default: all at once)",
    )
    parser.add_argument(
        "--modes",
        nargs="+",
        choices=list(MODES),
        default=list(MODES),
        help="which modes to run, in order (both)",
    )
    parser.add_argument(
        "--rounds",
        type=int,
        default=3,
        help="bursts per mode, each of --people new people (3); interactions/s is their median",
    )
    parser.add_argument(
        "--timeout", type=float, default=60.0, help="seconds to wait for all answers, per round"
    )
    parser.add_argument(
        "--same-process",
        action="store_true",
        help="run every mode in this process (peak RSS then covers the modes so far)",
    )
    args = parser.parse_args(argv)
    if args.people < 1 or args.rounds < 1 or args.concurrency < 0:
        parser.error("--people and --rounds must be at least 1, --concurrency at least 0")
    return args


class TimedDiscord(FakeDiscord):
    """The fake, noting when it dispatches each interaction and when the bot answers it."""

    def __init__(self) -> None:
        super().__init__()
        self.injected_at: dict[int, float] = {}
        self.answered_at: dict[int, float] = {}
        self.acked_at: dict[int, float] = {}  # the first accepted callback, of any type
        self.callback_attempts: dict[int, int] = {}
        self.followup_count: dict[int, int] = {}
        self.deferred: set[int] = set()
        self.refused: list[str] = []
        self.answers: dict[int, asyncio.Future[None]] = {}

    async def dispatch(self, event: str, data: dict[str, Any], timeout: float = 5.0) -> int:  # noqa: ASYNC109
        if event == "INTERACTION_CREATE":
            interaction_id = int(data["id"])
            self.injected_at[interaction_id] = time.perf_counter()
            self.answers[interaction_id] = asyncio.get_running_loop().create_future()
        return await super().dispatch(event, data, timeout)

    def _answered(self, interaction_id: int) -> None:
        self.answered_at.setdefault(interaction_id, time.perf_counter())
        waiter = self.answers.get(interaction_id)
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def _interaction_callback(
        self, req: RecordedRequest, interaction_id: str, token: str
    ) -> dict[str, Any] | None:
        iid = int(interaction_id)
        self.callback_attempts[iid] = self.callback_attempts.get(iid, 0) + 1
        try:
            result = super()._interaction_callback(req, interaction_id, token)
        except Exception as error:
            self.refused.append(f"callback for interaction {iid} refused: {error!r}")
            raise
        self.acked_at.setdefault(iid, time.perf_counter())
        if (req.json or {}).get("type") == DEFERRED_CHANNEL_MESSAGE:
            self.deferred.add(iid)
        else:
            self._answered(iid)
        return result

    def _create_followup(
        self, req: RecordedRequest, app_id: str, token: str
    ) -> dict[str, Any] | None:
        try:
            result = super()._create_followup(req, app_id, token)
        except Exception as error:
            self.refused.append(f"follow-up refused: {error!r}")
            raise
        record = self._by_token[token]
        self.followup_count[record.id] = self.followup_count.get(record.id, 0) + 1
        if record.id in self.deferred:
            self._answered(record.id)
        return result


def percentile(sorted_values: list[float], q: float) -> float:
    """The q-th percentile (0..100) by linear interpolation."""
    if len(sorted_values) == 1:
        return sorted_values[0]
    return statistics.quantiles(sorted_values, n=1000, method="inclusive")[round(q * 10) - 1]


def member_name(user_id: int) -> str:
    return f"Person {user_id % 100_000}"


async def seed_members(db: Database, settings: Settings, user_ids: list[int]) -> None:
    """Make each user a consenting member of Frome with a Discord identity."""
    now = dt.datetime.now(dt.UTC)
    rng = random.Random(7)
    async with db.transaction() as session:
        frome = await session.scalar(select(Branch.id).where(Branch.slug == "frome"))
        for uid in user_ids:
            person = Person(
                short_id=await new_short_id(session, rng),
                display_name=member_name(uid),
                locale=settings.default_locale,
                branch_id=frome,
                joined_branch_at=now - dt.timedelta(days=30),
                dues_paid_until=(now + dt.timedelta(days=200)).date(),
                consented_at=now - dt.timedelta(days=30),
                created_at=now - dt.timedelta(days=30),
            )
            session.add(person)
            await session.flush()
            session.add(
                Identity(
                    person_id=person.id,
                    platform="discord",
                    user_id=str(uid),
                    chat_id=str(uid),
                    handle=f"p{uid % 100_000}",
                    unreachable=False,
                    last_seen_at=now - dt.timedelta(days=1),
                )
            )
            session.add(
                Consent(
                    person_id=person.id,
                    purpose="membership-data",
                    notice_version=settings.notice_version,
                    given_at=now - dt.timedelta(days=30),
                )
            )


async def inject_all(
    fake: TimedDiscord, mode: Mode, ids: list[int], concurrency: int
) -> dict[int, int]:
    """Every person runs the command; returns user id -> interaction id."""
    where: dict[str, Any] = {"guild": mode.guild}
    if mode.guild:
        where["channel_id"] = CHANNELS["general"]
    interactions: dict[int, int] = {}
    if concurrency == 0:
        records = await asyncio.gather(
            *(fake.slash(uid, mode.command, None, **where) for uid in ids)
        )
        return {uid: r.id for uid, r in zip(ids, records, strict=True)}
    gate = asyncio.Semaphore(concurrency)

    async def one(uid: int) -> None:
        async with gate:
            record = await fake.slash(uid, mode.command, None, **where)
            interactions[uid] = record.id
            await fake.answers[record.id]

    await asyncio.gather(*(one(uid) for uid in ids))
    return interactions


def check_answers(
    fake: TimedDiscord, mode: Mode, ids: list[int], interactions: dict[int, int]
) -> tuple[list[float], list[float], list[str]]:
    """Every interaction: exactly one answer, the expected one, acknowledged in time;
    returns the latencies to the answer and to the first acknowledgement."""
    failures: list[str] = []
    latencies: list[float] = []
    acks: list[float] = []
    for uid in ids:
        iid = interactions.get(uid)
        if iid is None:
            failures.append(f"user {uid}: no interaction injected")
            continue
        record = fake.interaction(iid)
        attempts = fake.callback_attempts.get(iid, 0)
        followups = fake.followup_count.get(iid, 0)
        expected_followups = 1 if iid in fake.deferred else 0
        if attempts != 1 or followups != expected_followups:
            failures.append(
                f"user {uid}: {attempts} callbacks and {followups} follow-ups "
                f"(deferred: {iid in fake.deferred})"
            )
            continue
        answer = fake.followups(record)[0] if followups else record.response_data
        content = answer.get("content", "")
        mine = not mode.members or content.startswith(f"{member_name(uid)}, ")
        if mode.reply_has not in content or not mine or APOLOGY in content:
            failures.append(f"user {uid}: unexpected answer {content[:60]!r}")
        if bool(int(answer.get("flags", 0) or 0) & EPHEMERAL) != mode.ephemeral:
            failures.append(f"user {uid}: ephemeral should be {mode.ephemeral}: {answer}")
        if iid in fake.answered_at:
            latencies.append(fake.answered_at[iid] - fake.injected_at[iid])
        ack = fake.acked_at[iid] - fake.injected_at[iid]
        acks.append(ack)
        if ack > ACK_WITHIN:
            failures.append(f"user {uid}: acknowledged after {ack:.2f} s; Discord would drop it")
    return latencies, acks, failures


async def run_mode(
    mode: Mode, args: argparse.Namespace, tmp: Path
) -> tuple[dict[str, Any], list[str]]:
    db = Database(f"sqlite:///{tmp / f'{mode.name}.db'}")
    await db.upgrade()
    settings = Settings(discord_token=TOKEN)
    await seed_demo(db, settings, dt.datetime.now(dt.UTC))
    # Each round its own people: everyone runs the command once.
    rounds = [
        list(range(FIRST_USER_ID + r * args.people, FIRST_USER_ID + (r + 1) * args.people))
        for r in range(args.rounds)
    ]
    if mode.members:
        await seed_members(db, settings, [WARMUP_USER_ID, *(uid for ids in rounds for uid in ids)])
    failures: list[str] = []
    latencies: list[float] = []
    acks: list[float] = []
    rates: list[float] = []
    where: dict[str, Any] = {"guild": mode.guild}
    if mode.guild:
        where["channel_id"] = CHANNELS["general"]
    async with TimedDiscord() as fake:
        fake.user(WARMUP_USER_ID, "warmup")
        for ids in rounds:
            for uid in ids:
                fake.user(uid, f"p{uid % 100_000}")
        adapter = DiscordAdapter(build_core(db, settings), settings, guild_ready_timeout=0.05)
        try:
            await adapter.start()
            # One warm-up interaction, not counted: first-use costs (connections, caches).
            warm = await fake.slash(WARMUP_USER_ID, mode.command, None, **where)
            await asyncio.wait_for(fake.answers[warm.id], 30)

            for number, ids in enumerate(rounds, 1):
                interactions: dict[int, int] = {}
                started = time.perf_counter()
                try:
                    interactions = await asyncio.wait_for(
                        inject_all(fake, mode, ids, args.concurrency), args.timeout
                    )
                    pending = [fake.answers[iid] for iid in interactions.values()]
                    await asyncio.wait_for(asyncio.gather(*pending), args.timeout)
                except TimeoutError:
                    answered = sum(1 for iid in interactions.values() if iid in fake.answered_at)
                    failures.append(
                        f"round {number}: only {answered} of {len(ids)} interactions "
                        f"answered after {args.timeout:g} s"
                    )
                await asyncio.sleep(0.3)  # a late duplicate answer would show up here
                times, acked, problems = check_answers(fake, mode, ids, interactions)
                failures += [f"round {number}: {p}" for p in problems]
                latencies += times
                acks += acked
                if times:
                    last = max(
                        fake.answered_at[i] for i in interactions.values() if i in fake.answered_at
                    )
                    rates.append(len(times) / (last - started))
        finally:
            await adapter.stop()
            await db.dispose()
        failures += fake.refused[:20]
        refused = [
            f"{r.method} {r.path} -> {r.status}"
            for r in fake.requests
            if r.status is not None and r.status >= 400
        ]
        if refused:
            failures.append(f"{len(refused)} refused requests, e.g. {refused[:3]}")
        deferred = len(fake.deferred - {warm.id})

    max_rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    if not latencies:
        return {"mode": mode.name, "n": 0}, failures
    latencies.sort()
    figures = {
        "mode": mode.name,
        "command": f"/{mode.command}",
        "interactions_per_s": round(statistics.median(rates), 1),
        "p50_ms": round(percentile(latencies, 50) * 1000, 1),
        "p99_ms": round(percentile(latencies, 99) * 1000, 1),
        "max_ms": round(latencies[-1] * 1000, 1),
        "ack_max_ms": round(max(acks) * 1000, 1),
        "acked_late": sum(1 for a in acks if a > ACK_WITHIN),
        "n": len(latencies),
        "people": args.people,
        "rounds": args.rounds,
        "rounds_per_s": [round(r, 1) for r in rates],
        "deferred": deferred,
        "concurrency": args.concurrency or "all",
        "peak_rss_mb": round(max_rss_mb, 1),
    }
    return figures, failures


def describe(figures: dict[str, Any]) -> str:
    how = (
        "all injected at once"
        if figures["concurrency"] == "all"
        else f"at most {figures['concurrency']} unanswered at once"
    )
    return (
        f"{figures['mode']}: {figures['rounds']} rounds of {figures['people']} people running "
        f"{figures['command']} ({how}): {figures['interactions_per_s']:,.1f} interactions/s "
        f"(median of rounds {figures['rounds_per_s']}), injection-to-answer "
        f"p50 {figures['p50_ms']:.0f} ms, p99 {figures['p99_ms']:.0f} ms, "
        f"max {figures['max_ms']:.0f} ms; first callback at most {figures['ack_max_ms']:.0f} ms; "
        f"{figures['deferred']} deferred; "
        f"peak RSS {figures['peak_rss_mb']:.0f} MB"
    )


async def run(args: argparse.Namespace) -> tuple[list[dict[str, Any]], list[str]]:
    results: list[dict[str, Any]] = []
    failures: list[str] = []
    with tempfile.TemporaryDirectory(prefix="organiser-bench-") as tmp:
        for name in args.modes:
            figures, problems = await run_mode(MODES[name], args, Path(tmp))
            failures += [f"{name}: {p}" for p in problems]
            if figures.get("n"):
                print(describe(figures), flush=True)
            for problem in problems[:10]:
                print(f"{name}: FAILED: {problem}", flush=True)
            results.append(figures)
    return results, failures


def run_children(args: argparse.Namespace) -> tuple[list[dict[str, Any]], int]:
    """Each mode in a process of its own; their human lines are passed on."""
    results: list[dict[str, Any]] = []
    status = 0
    for name in args.modes:
        child = subprocess.run(
            [
                sys.executable,
                __file__,
                "--same-process",
                "--modes",
                name,
                "--people",
                str(args.people),
                "--concurrency",
                str(args.concurrency),
                "--rounds",
                str(args.rounds),
                "--timeout",
                str(args.timeout),
            ],
            stdout=subprocess.PIPE,
            text=True,
            check=False,
        )
        lines = child.stdout.splitlines()
        for line in lines[1:]:
            if not line.startswith("{") and not line.startswith("all modes in"):
                print(line, flush=True)
        try:
            results += json.loads(lines[-1])["modes"]
        except (IndexError, ValueError, KeyError):
            print(f"{name}: FAILED: the mode's process gave no result", flush=True)
            results.append({"mode": name, "n": 0})
            status = 1
        status = status or child.returncode
    return results, status


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("discord.client").setLevel(logging.ERROR)  # no voice: PyNaCl, davey
    print(
        f"{args.people} people each run a slash command through a fake Discord on 127.0.0.1; "
        f"modes: {', '.join(args.modes)}",
        flush=True,
    )
    started = time.perf_counter()
    if args.same_process:
        results, failures = asyncio.run(run(args))
        status = 1 if failures else 0
    else:
        results, status = run_children(args)
    print(
        f"all modes in {time.perf_counter() - started:.1f} s; "
        + ("every interaction got exactly one answer" if status == 0 else "FAILURES")
    )
    for figures in results:
        print(json.dumps(figures))
    print(json.dumps({"modes": results}))
    return status


if __name__ == "__main__":
    sys.exit(main())
