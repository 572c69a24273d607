"""A fan-out through platforms that misbehave: the real outbox worker
(``bot.kernel.outbox.run_outbox``) delivers a branch announcement to a few hundred
people through the real transports (python-telegram-bot against
tests/fake_telegram.py, discord.py against tests/fake_discord.py) while the
fake servers answer with 429 storms, 403 refusals, 500/502 errors and answers
held back past the client's timeout.

What people notice, and what is asserted:

- everyone reachable gets the announcement, exactly once, except for the one
  duplicate the outbox cannot avoid: a send the platform accepted but whose
  answer never came back (a timeout) is, from the sender's side, not known to
  have arrived, so it is sent again. The outbox delivers at least once; neither
  Telegram's ``sendMessage`` nor discord.py's ``send`` takes an idempotency key
  here. So: copies <= 1 + the sends accepted late to that person;
- someone who blocked the bot (403) is recorded unreachable on that platform, and
  reached on their other platform if they have one; with none left, their
  message is kept as undeliverable (for /delivery) and they get nothing;
- no message stays pending once the faults stop, and nothing escapes the worker:
  it runs until told to stop, and neither it nor the adapters log an error.

Time: the libraries' back-off sleeps (PTB's rate limiter after a 429, the
adapter's network retries, discord.py's 429/5xx retries) are hurried
``HURRY`` times; the outbox runs on a clock ``CLOCK_SPEED`` times faster than
the wall clock (its back-off is read from the clock); the overall and per-chat
pacing limits are raised out of the way (tests/test_telegram.py covers them),
and the clients' read timeouts are cut to ``CLIENT_TIMEOUT``. The faults
themselves are those of the platforms.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import functools
import logging
import random
import shutil
import time
import types
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import aiohttp
import discord.http
import pytest
import telegram.ext._aioratelimiter as ptb_rate_limiter
from sqlalchemy import func, select
from telegram.ext import AIORateLimiter, ApplicationBuilder

import adapters.discord_replies
import adapters.telegram
import adapters.telegram_replies
from adapters.discord import DiscordAdapter
from adapters.telegram import TelegramAdapter
from bot.app import build_core
from bot.demo.party import seed_demo
from bot.kernel.clock import FixedClock
from bot.kernel.config import Settings
from bot.kernel.outbox import PENDING, SENT, UNDELIVERABLE, deliver_pending, run_outbox
from storage.db import Database
from storage.models import Branch, BranchChat, Identity, OutboxMessage, Person
from tests.fake_discord import TOKEN as DISCORD_TOKEN
from tests.fake_discord import FakeDiscord
from tests.fake_telegram import FakeTelegram
from tests.helpers import Chat, RecordingTransport

TELEGRAM_TOKEN = "123456:FAULTS"
PEOPLE = 200
TG_BASE, DC_BASE = 700_000, 800_000  # Telegram / Discord user ids: base + n
HURRY = 200  # library back-off sleeps run this many times faster
CLOCK_SPEED = 600  # the outbox's clock: a 2 s back-off passes in 3 ms
CLIENT_TIMEOUT = 0.4  # seconds the clients wait for an answer
LATE = 1.0  # seconds a held-back answer would come after (past CLIENT_TIMEOUT)
NOW = dt.datetime(2026, 11, 26, 12, 0, tzinfo=dt.UTC)
ANNOUNCEMENT = "The Bath branch is now affiliated to the party, in the South West region."


class FastClock:
    """The outbox's clock: starts at ``start`` and runs ``speed`` times too fast."""

    def __init__(self, start: dt.datetime, speed: float) -> None:
        self.start, self.speed, self.t0 = start, speed, time.monotonic()

    def now(self) -> dt.datetime:
        return self.start + dt.timedelta(seconds=(time.monotonic() - self.t0) * self.speed)


def hurried_asyncio() -> types.SimpleNamespace:
    """The asyncio module as a library sees it, with ``sleep`` HURRY times faster."""
    real = asyncio.sleep

    async def sleep(delay: float, result: Any = None) -> Any:
        return await real(delay / HURRY, result)

    return types.SimpleNamespace(**{**vars(asyncio), "sleep": sleep})


def impatient_aiohttp() -> types.SimpleNamespace:
    """aiohttp as discord.py's HTTP client sees it: sessions that wait CLIENT_TIMEOUT
    for each read (the gateway's WebSocket keeps its own, unlimited, read timeout)."""
    timeout = aiohttp.ClientTimeout(total=None, sock_connect=5, sock_read=CLIENT_TIMEOUT)

    def session(*args: Any, **kwargs: Any) -> aiohttp.ClientSession:
        kwargs.setdefault("timeout", timeout)
        return aiohttp.ClientSession(*args, **kwargs)

    return types.SimpleNamespace(**{**vars(aiohttp), "ClientSession": session})


@pytest.fixture
async def demo(tmp_path: Path, sqlite_template: Path) -> AsyncIterator[Chat]:
    """The demo party on SQLite only: the worker's claim on PostgreSQL is covered by
    tests/test_outbox.py, and one backend keeps this test within seconds."""
    path = tmp_path / "organiser.db"
    shutil.copy(sqlite_template, path)
    db = Database(f"sqlite:///{path}")
    settings = Settings(party_name="Test Party")
    clock = FixedClock(NOW)
    try:
        await seed_demo(db, settings, clock.now())
        yield Chat(build_core(db, settings, clock=clock, rng=random.Random(7)), clock)
    finally:
        await db.dispose()


@pytest.fixture
def hurried(monkeypatch: pytest.MonkeyPatch) -> None:
    fast = hurried_asyncio()
    for module in (adapters.telegram_replies, ptb_rate_limiter, discord.http):
        monkeypatch.setattr(module, "asyncio", fast)
    monkeypatch.setattr(discord.http, "aiohttp", impatient_aiohttp())
    monkeypatch.setattr(
        adapters.telegram,
        "ApplicationBuilder",
        lambda: ApplicationBuilder().read_timeout(CLIENT_TIMEOUT),
    )
    monkeypatch.setattr(
        adapters.telegram,
        "AIORateLimiter",
        functools.partial(AIORateLimiter, overall_max_rate=10_000),
    )
    monkeypatch.setattr(adapters.telegram_replies, "PER_CHAT_PER_SECOND", 10_000)
    monkeypatch.setattr(adapters.discord_replies, "GLOBAL_PER_SECOND", 10_000)


# --- who the members are, and what goes wrong for each ---------------------------------
#
# n in 0..PEOPLE-1. Even n: on Telegram; odd n: on Discord; n % 10 == 0: on both (Telegram
# seen last, so tried first). Faults by n % 20 or n % 40, and a few answers held back
# past the client's timeout (few: each costs the test CLIENT_TIMEOUT of waiting).
TG_ACCEPTED_LATE, TG_NOT_ANSWERED = 8, 12  # members whose send times out once
DC_ACCEPTED_LATE, DC_NOT_ANSWERED = 13, 15


def on_telegram(n: int) -> bool:
    return n % 2 == 0


def on_discord(n: int) -> bool:
    return n % 2 == 1 or n % 10 == 0


def telegram_blocked(n: int) -> bool:  # 403 "bot was blocked by the user"
    return n % 20 in (0, 2)


def discord_refused(n: int) -> bool:  # 403 50007 "Cannot send messages to this user"
    return n % 20 in (3, 7) or n % 40 == 0


def unreachable_everywhere(n: int) -> bool:
    return (not on_telegram(n) or telegram_blocked(n)) and (not on_discord(n) or discord_refused(n))


def arrange_faults(tg: FakeTelegram, dc: FakeDiscord) -> None:
    """The faults of single people; the storms come on top, while the fan-out runs."""
    for n in range(PEOPLE):
        chat, user, kind = TG_BASE + n, DC_BASE + n, n % 40
        if on_telegram(n) and telegram_blocked(n):
            tg.block(chat)
        elif kind == 4:
            tg.fail_chat(chat, 500, times=2)  # the adapter's own retries get through
        elif kind == 6:
            tg.fail_chat(chat, 502, times=5)  # more than it retries: the outbox tries later
        elif n in (TG_ACCEPTED_LATE, TG_NOT_ANSWERED):
            tg.delay_next("sendMessage", LATE, chat_id=chat, processed=n == TG_ACCEPTED_LATE)
        if on_discord(n) and discord_refused(n):
            dc.refuse_dms(user, on_create=kind % 20 == 7)
        elif kind == 9:
            dc.fail_next("/channels/*/messages", 500, method="POST", dm_to=user, times=2)
        elif kind == 11:
            dc.fail_next("/channels/*/messages", 502, method="POST", dm_to=user, times=6)
        elif n in (DC_ACCEPTED_LATE, DC_NOT_ANSWERED):
            dc.delay_next(
                "/channels/*/messages",
                LATE,
                method="POST",
                dm_to=user,
                processed=n == DC_ACCEPTED_LATE,
            )
    # The first DM channel opened: created, but the answer is lost on the way.
    dc.delay_next("/users/@me/channels", LATE, method="POST")


async def add_members(db: Database, now: dt.datetime) -> dict[int, int]:
    """PEOPLE members of the Bath branch with their identities; person id by n."""
    async with db.transaction() as session:
        bath = await session.scalar(select(Branch).where(Branch.slug == "bath"))
        assert bath is not None
        people = [
            Person(
                short_id=f"Q{n:05d}",
                display_name=f"Member {n}",
                branch_id=bath.id,
                joined_branch_at=now - dt.timedelta(days=30),
                consented_at=now - dt.timedelta(days=30),
                created_at=now - dt.timedelta(days=30),
            )
            for n in range(PEOPLE)
        ]
        session.add_all(people)
        await session.flush()
        for n, person in enumerate(people):
            accounts = []
            if on_telegram(n):
                accounts.append(("telegram", TG_BASE + n, now))
            if on_discord(n):
                accounts.append(("discord", DC_BASE + n, now - dt.timedelta(days=1)))
            for platform, uid, seen in accounts:
                session.add(
                    Identity(
                        person_id=person.id,
                        platform=platform,
                        user_id=str(uid),
                        chat_id=str(uid),
                        handle=f"member{n}",
                        unreachable=False,
                        last_seen_at=seen,
                    )
                )
        return {n: p.id for n, p in enumerate(people)}


@dataclass
class Platforms:
    tg: FakeTelegram
    dc: FakeDiscord
    telegram: TelegramAdapter
    discord: DiscordAdapter


@asynccontextmanager
async def platforms(chat: Chat) -> AsyncIterator[Platforms]:
    """Both fakes, and both adapters started on them as ``organiser run`` starts them."""
    async with FakeTelegram() as tg, FakeDiscord() as dc:
        settings = replace(
            chat.core.settings,
            telegram_token=TELEGRAM_TOKEN,
            telegram_base_url=tg.base_url,
            discord_token=DISCORD_TOKEN,
        )
        core = build_core(chat.core.db, settings, clock=chat.clock)
        for n in range(PEOPLE):
            if on_discord(n):
                dc.user(DC_BASE + n, f"member{n}")
        telegram = TelegramAdapter(core, settings)
        discord_ = DiscordAdapter(core, settings, guild_ready_timeout=0.05)
        await telegram.start()
        try:
            await discord_.start()
            try:
                yield Platforms(tg, dc, telegram, discord_)
            finally:
                await discord_.stop()
        finally:
            await telegram.stop()


async def statuses(db: Database) -> dict[str, int]:
    async with db.transaction() as session:
        rows = await session.execute(
            select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status)
        )
        return {status: int(count) for status, count in rows}


async def storms(p: Platforms) -> None:
    """429 storms in the middle of the fan-out, on both platforms at once."""
    await p.tg.wait_for("sendMessage", count=40, timeout=30)
    p.tg.fail_next("sendMessage", 429, retry_after=1, times=10)
    await p.dc.wait_request("/channels/*/messages", "POST", count=40, timeout=30)
    p.dc.fail_next("/channels/*/messages", 429, method="POST", retry_after=0.5, times=12)


@pytest.mark.slow  # hundreds of messages through failing platforms
async def test_a_fanout_through_failing_platforms_reaches_everyone_once(
    demo: Chat, hurried: None, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    db = demo.core.db
    ids = await add_members(db, demo.clock.now())
    replies = await demo.say("Kai", "/affiliate Bath")
    assert "now affiliated" in replies[0].text
    async with db.transaction() as session:
        queued = Counter(
            await session.scalars(
                select(OutboxMessage.person_id).where(OutboxMessage.text == ANNOUNCEMENT)
            )
        )
    assert all(queued[ids[n]] == 1 for n in range(PEOPLE)), "one row per member"

    async with platforms(demo) as p:
        tg, dc = p.tg, p.dc
        arrange_faults(tg, dc)
        # A storm before the first send, another in the middle of the fan-out.
        tg.fail_next("sendMessage", 429, retry_after=1, times=9)
        dc.fail_next("/channels/*/messages", 429, method="POST", retry_after=0.5, times=7)
        console = RecordingTransport("console")  # the demo's own Bath people
        transports = {
            "telegram": p.telegram.transport,
            "discord": p.discord.transport,
            "console": console,
        }
        clock = FastClock(demo.clock.now(), CLOCK_SPEED)
        stop = asyncio.Event()
        worker = asyncio.create_task(run_outbox(db, transports, clock, stop, idle=0.05))
        middle = asyncio.create_task(storms(p))
        try:
            async with asyncio.timeout(60):
                while (await statuses(db)).get(PENDING):
                    assert not worker.done(), "the outbox worker stopped by itself"
                    await asyncio.sleep(0.2)
            await middle
        finally:
            stop.set()
            middle.cancel()
            async with asyncio.timeout(10):
                assert await worker is None  # nothing escaped it
        tg_calls = tg.calls_to("sendMessage")
        dc_posts = dc.requests_to("/channels/*/messages", "POST")
        dc_opens = dc.requests_to("/users/@me/channels", "POST")

        # The faults did happen.
        tg_status = Counter(c.status for c in tg_calls)
        dc_status = Counter(r.status for r in dc_posts)
        assert tg_status[429] >= 19 and dc_status[429] >= 19, (tg_status, dc_status)
        assert tg_status[403] and tg_status[500] and tg_status[502], tg_status
        assert dc_status[403] and dc_status[500] and dc_status[502], dc_status
        assert sum(1 for c in tg_calls if c.delayed) == 2
        assert sum(1 for r in dc_posts if r.delayed) == 2
        assert sum(1 for r in dc_opens if r.delayed) == 1

        # Who got what, as they see it.
        def copies(n: int) -> int:
            on_tg = [m for m in tg.bot_messages(TG_BASE + n) if m.get("text") == ANNOUNCEMENT]
            on_dc = [m for m in dc.messages_to(DC_BASE + n) if m["content"] == ANNOUNCEMENT]
            return len(on_tg) + len(on_dc)

        def accepted_late(n: int) -> int:
            return sum(
                1 for c in tg_calls if c.delayed and c.ok and c.params["chat_id"] == TG_BASE + n
            ) + sum(
                1
                for r in dc_posts
                if r.delayed
                and r.ok
                and r.path.startswith(f"/channels/{dc.dm_channel_id(DC_BASE + n)}/")
            )

    async with db.transaction() as session:
        rows = {
            row.person_id: row
            for row in await session.scalars(
                select(OutboxMessage).where(OutboxMessage.text == ANNOUNCEMENT)
            )
        }
        unreachable = {
            (i.platform, int(i.user_id))
            for i in await session.scalars(select(Identity).where(Identity.unreachable))
        }
    problems = []
    for n in range(PEOPLE):
        row, got = rows[ids[n]], copies(n)
        if unreachable_everywhere(n):
            if row.status != UNDELIVERABLE or got:
                problems.append(f"member {n}: {row.status}, {got} copies; expected none")
            elif "Forbidden" not in (row.last_error or "") and "50007" not in (
                row.last_error or ""
            ):
                problems.append(f"member {n}: undeliverable for {row.last_error!r}")
        elif row.status != SENT or not 1 <= got <= 1 + accepted_late(n):
            problems.append(
                f"member {n}: {row.status}, {got} copies, {accepted_late(n)} accepted late"
            )
    assert not problems, f"{len(problems)} of {PEOPLE}:\n" + "\n".join(problems)
    expected_unreachable = {
        ("telegram", TG_BASE + n) for n in range(PEOPLE) if on_telegram(n) and telegram_blocked(n)
    } | {("discord", DC_BASE + n) for n in range(PEOPLE) if on_discord(n) and discord_refused(n)}
    assert unreachable == expected_unreachable
    assert (await statuses(db)).get(PENDING) is None
    logged = [
        f"{r.name}: {r.getMessage()}"
        for r in caplog.records
        if r.levelno >= logging.ERROR and r.name.startswith(("bot", "adapters"))
    ]
    assert not logged, logged


GROUP, SUPERGROUP = -1002, -1_002_000_000_002


async def test_an_announcement_follows_a_group_that_became_a_supergroup(
    demo: Chat, hurried: None
) -> None:
    """Telegram turns a group into a supergroup (with a new id) when it grows or an admin
    changes some settings; messages to the old id are refused with the new one."""
    db = demo.core.db
    async with db.transaction() as session:
        bath = await session.scalar(select(Branch).where(Branch.slug == "bath"))
        assert bath is not None
        session.add(
            BranchChat(branch_id=bath.id, platform="telegram", chat_id=str(GROUP), linked_at=NOW)
        )
    assert "now affiliated" in (await demo.say("Kai", "/affiliate Bath"))[0].text
    async with FakeTelegram() as tg:
        tg.group_chat(GROUP, "Bath branch")
        tg.upgrade_group(GROUP, SUPERGROUP)
        settings = replace(
            demo.core.settings, telegram_token=TELEGRAM_TOKEN, telegram_base_url=tg.base_url
        )
        adapter = TelegramAdapter(build_core(db, settings, clock=demo.clock), settings)
        await adapter.start()
        try:
            transports = {"telegram": adapter.transport}
            await deliver_pending(db, transports, FastClock(NOW, CLOCK_SPEED))
        finally:
            await adapter.stop()
    assert ANNOUNCEMENT in tg.sent_texts(SUPERGROUP)
    async with db.transaction() as session:
        row = await session.scalar(
            select(OutboxMessage).where(OutboxMessage.branch_chat_id.is_not(None))
        )
    assert row is not None and row.status == SENT, row and (row.status, row.last_error)
    async with db.transaction() as session:
        link = await session.scalar(select(BranchChat.chat_id))
    assert link == str(SUPERGROUP)  # the next announcement goes straight to the new id
