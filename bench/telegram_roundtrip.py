#!/usr/bin/env python3
"""How fast the Telegram adapter answers people, end to end through a fake Bot API.

``--people`` simulated people (300), each a distinct Telegram user, each send one
``/help`` in their private chat through the fake Bot API server of
``tests/fake_telegram.py``; the real adapter (python-telegram-bot, over real
HTTP on 127.0.0.1) with the real core and a fresh SQLite database (the demo
party seeded) answers them. For each person the latency runs from the moment
the update is made available (queued for ``getUpdates`` in polling mode; the
POST to the webhook begins in webhook mode) to the moment the fake records the
bot's ``sendMessage`` to that person. Throughput is people answered per second,
from the first update made available to the last reply recorded.

Four modes, each with its own fresh database and fake server, after one
warm-up update that is not counted:

* ``polling``: long polling, every update queued at once;
* ``webhook``: the adapter's webhook server, updates POSTed ``--concurrency``
  (20) at a time, with the secret token;
* ``polling-unlimited`` and ``webhook-unlimited``: the same with the adapter's
  rate limiter off (``rate_limit=False``), so that the cost of the core and the
  adapter themselves is visible.

With the rate limiter on (PTB's ``AIORateLimiter``: 30 messages a second
overall, as Telegram allows, after an initial burst of 30), the limiter, not
the bot, sets the pace: with many more than 30 people those modes cannot much
exceed 30 updates/s, and the late people's latency is mostly the limiter's queue.

    python bench/telegram_roundtrip.py [--people 300] [--concurrency 20] [--modes ...]

Every person must get exactly one reply, else the exit status is 1. One JSON
line per mode ``{"mode", "updates_per_s", "p50_ms", "p99_ms", ...}``, then the
last line: one JSON object ``{"modes": [...]}`` holding them all.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import logging
import resource
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from adapters.telegram import TelegramAdapter
from bot.app import build_core
from bot.demo.party import seed_demo
from bot.kernel.config import Settings
from storage.db import Database
from tests.fake_telegram import Call, FakeTelegram, free_port

TOKEN = "123:BENCH"
SECRET = "bench-secret"
WEBHOOK_URL = "https://bench.example.org:8443/hook"
COMMAND = "/help"
REPLY_START = "Here is what you can do"
FIRST_USER_ID = 500_001
WARMUP_USER_ID = 499_999
MODES = ("polling", "webhook", "polling-unlimited", "webhook-unlimited")
LIMITED_RATE = 30  # AIORateLimiter's default overall limit, messages per second


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--people", type=int, default=300, help="simulated people (300)")
    parser.add_argument(
        "--concurrency", type=int, default=20, help="webhook POSTs in flight at once (20)"
    )
    parser.add_argument(
        "--modes",
        nargs="+",
        choices=MODES,
        default=list(MODES),
        help="which modes to run, in order (all four)",
    )
    parser.add_argument(
        "--timeout", type=float, default=120.0, help="seconds to wait for all replies, per mode"
    )
    args = parser.parse_args(argv)
    if args.people < 1 or args.concurrency < 1:
        parser.error("--people and --concurrency must be at least 1")
    return args


class TimedTelegram(FakeTelegram):
    """The fake, noting when it records each successful sendMessage, per chat."""

    def __init__(self) -> None:
        super().__init__()
        self.replied_at: dict[int, list[float]] = {}
        self.reply_texts: dict[int, list[str]] = {}
        self.all_replied = asyncio.Event()
        self.expected: set[int] = set()

    def expect(self, chat_ids: set[int]) -> None:
        self.expected = set(chat_ids)
        self.all_replied = asyncio.Event()

    def _send_message(self, call: Call) -> dict[str, Any]:
        message = super()._send_message(call)
        at = time.perf_counter()
        chat_id = int(message["chat"]["id"])
        self.replied_at.setdefault(chat_id, []).append(at)
        self.reply_texts.setdefault(chat_id, []).append(message.get("text", ""))
        self.expected.discard(chat_id)
        if not self.expected:
            self.all_replied.set()
        return message


def percentile(sorted_values: list[float], q: float) -> float:
    """The q-th percentile (0..100) by linear interpolation."""
    if len(sorted_values) == 1:
        return sorted_values[0]
    return statistics.quantiles(sorted_values, n=1000, method="inclusive")[round(q * 10) - 1]


@dataclass
class Outcome:
    mode: str
    people: int
    made_available: dict[int, float] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)


async def post_all(
    tg: TimedTelegram,
    url: str,
    updates: list[tuple[int, dict[str, Any]]],
    concurrency: int,
    outcome: Outcome,
) -> None:
    """POST every update to the webhook, ``concurrency`` at a time."""
    gate = asyncio.Semaphore(concurrency)

    async def post(user_id: int, update: dict[str, Any]) -> None:
        async with gate:
            outcome.made_available[user_id] = time.perf_counter()
            status = await tg.post_update(url, update, secret_token=SECRET)
            if status != 200:
                outcome.failures.append(f"webhook POST for user {user_id} answered {status}")

    await asyncio.gather(*(post(uid, update) for uid, update in updates))


async def run_mode(
    mode: str, args: argparse.Namespace, tmp: Path
) -> tuple[dict[str, Any], list[str]]:
    webhook = mode.startswith("webhook")
    rate_limit = not mode.endswith("-unlimited")
    db = Database(f"sqlite:///{tmp / f'{mode}.db'}")
    await db.upgrade()
    async with TimedTelegram() as tg:
        port = free_port()
        settings = Settings(telegram_token=TOKEN, telegram_base_url=tg.base_url)
        if webhook:
            settings = Settings(
                telegram_token=TOKEN,
                telegram_base_url=tg.base_url,
                telegram_webhook_url=WEBHOOK_URL,
                telegram_webhook_listen="127.0.0.1",
                telegram_webhook_port=port,
                telegram_secret_token=SECRET,
            )
        await seed_demo(db, settings, dt.datetime.now(dt.UTC))
        adapter = TelegramAdapter(build_core(db, settings), settings, rate_limit=rate_limit)
        hook = f"http://127.0.0.1:{port}/hook"
        outcome = Outcome(mode, args.people)
        try:
            await adapter.start()

            # One warm-up update, not counted: first-use costs (connections, caches).
            warm = tg.user(WARMUP_USER_ID, "Warm Up")
            tg.expect({WARMUP_USER_ID})
            if webhook:
                await tg.post_update(hook, tg.text_update(warm, COMMAND), secret_token=SECRET)
            else:
                tg.send_text(warm, COMMAND)
            await asyncio.wait_for(tg.all_replied.wait(), 30)

            ids = list(range(FIRST_USER_ID, FIRST_USER_ID + args.people))
            updates = [(uid, tg.text_update(tg.user(uid, f"Person {uid}"), COMMAND)) for uid in ids]
            tg.expect(set(ids))
            started = time.perf_counter()
            if webhook:
                await post_all(tg, hook, updates, args.concurrency, outcome)
            else:
                for uid, update in updates:  # all queued at once, as a burst
                    outcome.made_available[uid] = time.perf_counter()
                    tg.enqueue(update)
            try:
                await asyncio.wait_for(tg.all_replied.wait(), args.timeout)
            except TimeoutError:
                outcome.failures.append(
                    f"{len(tg.expected)} of {args.people} people had no reply "
                    f"after {args.timeout:g} s"
                )
            await asyncio.sleep(0.2)  # a late duplicate reply would show up here
        finally:
            await adapter.stop()
            await db.dispose()

    # Every person: exactly one reply, the help text.
    latencies: list[float] = []
    for uid in ids:
        times, texts = tg.replied_at.get(uid, []), tg.reply_texts.get(uid, [])
        if len(times) != 1:
            outcome.failures.append(f"user {uid} got {len(times)} replies")
            continue
        if not texts[0].startswith(REPLY_START):
            outcome.failures.append(f"user {uid} got an unexpected reply: {texts[0][:60]!r}")
        latencies.append(times[0] - outcome.made_available[uid])
    stray = set(tg.replied_at) - set(ids) - {WARMUP_USER_ID}
    if stray:
        outcome.failures.append(f"replies to chats nobody wrote from: {sorted(stray)[:5]}")
    if not latencies:
        return {"mode": mode, "n": 0}, outcome.failures

    last_reply = max(tg.replied_at[uid][-1] for uid in ids if uid in tg.replied_at)
    total_s = last_reply - started
    latencies.sort()
    figures = {
        "mode": mode,
        "updates_per_s": round(len(latencies) / total_s, 1),
        "p50_ms": round(percentile(latencies, 50) * 1000, 2),
        "p99_ms": round(percentile(latencies, 99) * 1000, 2),
        "n": len(latencies),
        "total_s": round(total_s, 3),
        "rate_limited": rate_limit,
    }
    if webhook:
        figures["concurrency"] = args.concurrency
    return figures, outcome.failures


def describe(figures: dict[str, Any]) -> str:
    mode, rate = figures["mode"], figures["updates_per_s"]
    how = (
        f"webhook, POSTed {figures['concurrency']} at a time"
        if "concurrency" in figures
        else "long polling, all queued at once"
    )
    limiter = (
        f"rate limiter ON ({LIMITED_RATE} msgs/s overall after a burst of {LIMITED_RATE}): "
        "the limiter, not the bot, sets this pace"
        if figures["rate_limited"]
        else "rate limiter off: core + adapter + HTTP cost"
    )
    return (
        f"{mode}: {figures['n']} people answered in {figures['total_s']:.2f} s "
        f"({how}): {rate:,.1f} updates/s, update-to-reply p50 {figures['p50_ms']:.1f} ms, "
        f"p99 {figures['p99_ms']:.1f} ms; {limiter}"
    )


async def run(args: argparse.Namespace) -> tuple[list[dict[str, Any]], list[str]]:
    results: list[dict[str, Any]] = []
    failures: list[str] = []
    with tempfile.TemporaryDirectory(prefix="organiser-bench-") as tmp:
        for mode in args.modes:
            figures, problems = await run_mode(mode, args, Path(tmp))
            failures += [f"{mode}: {p}" for p in problems]
            if figures.get("n"):
                print(describe(figures), flush=True)
            for problem in problems[:10]:
                print(f"{mode}: FAILED: {problem}", flush=True)
            results.append(figures)
    return results, failures


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    print(
        f"{args.people} people each send {COMMAND} through a fake Bot API on 127.0.0.1; "
        f"modes: {', '.join(args.modes)}",
        flush=True,
    )
    started = time.perf_counter()
    results, failures = asyncio.run(run(args))
    max_rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"all modes in {time.perf_counter() - started:.1f} s; peak RSS {max_rss_mb:.0f} MB; "
        + ("every person got exactly one reply" if not failures else f"{len(failures)} FAILURES")
    )
    for figures in results:
        print(json.dumps(figures))
    print(json.dumps({"modes": results}))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
