"""Several worker processes on one PostgreSQL: nothing lost, nothing counted twice.

Each worker is ``organiser run`` (through ``tests/worker_process.py``, which
only shortens the outbox lease) in Telegram webhook mode, against one
:class:`~tests.fake_telegram.FakeTelegram` in this process; updates are posted
to each worker's webhook as Telegram would post them, and everything the
workers send lands in the fake. People with a second, console identity (as
after ``/link``) act through a :class:`~bot.kernel.core.Core` in this process: a third
writer on the same database. Faults are real: ``kill -9`` of a worker, and
every connection to the database cut at once (what a PostgreSQL restart looks
like to its clients).

The sizes are small (tens of people, one or two workers): starting a worker
costs as much as a hundred button presses, and the races that matter (two
processes, two linked accounts at the same instant, a kill between a send and
its mark) happen whatever the count.

The first tests need no worker: the outbox's leases (on both backends) and a
connection lost while a message is being sent.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import os
import random
import signal
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp
import psycopg
import pytest
from sqlalchemy import func, insert, select

import bot.kernel.outbox
from bot.app import build_core
from bot.canvassing.reminders import weekly_roundup
from bot.demo.party import seed_demo
from bot.kernel.clock import FixedClock, SystemClock
from bot.kernel.config import Settings
from bot.kernel.messages import ChatRef, Reply, Request, Sender
from bot.kernel.outbox import Recipient, deliver_pending, enqueue
from bot.lib.sortition.verification import verify
from storage.db import Database
from storage.models import (
    Ballot,
    BranchChat,
    CanvassSession,
    CanvassSignup,
    Draw,
    DrawEntrant,
    Identity,
    Invitation,
    OutboxMessage,
    Person,
    Poll,
    PollVoter,
    SortitionProfile,
)
from tests.conftest import BALLOT_KEY
from tests.fake_telegram import BOT_USER, FakeTelegram, free_port
from tests.helpers import Chat, add_members, until

pytestmark = pytest.mark.slow  # worker processes

ROOT = Path(__file__).resolve().parent.parent
WORKER = ROOT / "tests" / "worker_process.py"
SECRET = "workers-Secret_token"
HOOK = "https://organiser.example.org:8443/hook"
GROUP = -1_000_000_000_777  # Frome's Telegram group
ALICE = 100  # Alice, Frome's organiser, on Telegram
LEASE_S = 3.0  # the workers' outbox lease (a minute in production)
PATIENCE = 60.0  # seconds to wait for anything before failing
SETTINGS = Settings(party_name="Test Party")
Delivery = tuple[str, str, bool]  # (Telegram chat, text, with a file)


def on_postgresql(test: Callable[..., Awaitable[None]]) -> Callable[..., Awaitable[None]]:
    """Several workers share a database on PostgreSQL only (SQLite is one process by
    design): the conftest's ``db`` fixture, its PostgreSQL half (skipped without a
    server, except under CI=true)."""
    return pytest.mark.postgres(pytest.mark.parametrize("db", ["postgresql"], indirect=True)(test))


# --- The outbox: leases, a lost connection (no worker processes) ---------------------


class SlowTransport:
    """A transport whose sends take (clock) time; ``after`` runs after the n-th send,
    as another worker would meanwhile."""

    platform = "console"

    def __init__(
        self,
        clock: FixedClock,
        takes: Callable[[int], dt.timedelta],
        after: dict[int, Callable[[], Awaitable[object]]],
    ) -> None:
        self.clock = clock
        self.takes = takes
        self.after = after
        self.sent: list[str] = []

    async def send(self, recipient: Recipient, reply: Reply) -> None:
        self.sent.append(recipient.user_id)
        self.clock.advance(self.takes(len(self.sent)))
        then = self.after.get(len(self.sent))
        if then is not None:
            await then()


class Quick:
    platform = "console"

    def __init__(self) -> None:
        self.sent: list[str] = []

    async def send(self, recipient: Recipient, reply: Reply) -> None:
        self.sent.append(recipient.user_id)


async def six_messages(demo: Chat) -> None:
    await add_members(demo, 6)
    async with demo.core.db.transaction() as session:
        ids = await session.scalars(select(Person.id).where(Person.display_name.like("Member %")))
        for pid in ids:
            await enqueue(session, key=f"m:{pid}", person_id=pid, text="hi", now=demo.clock.now())


async def test_a_batch_that_outlives_its_lease_keeps_it_while_sending(demo: Chat) -> None:
    """A slow platform: sending the batch takes longer than the lease, and another
    worker looks for work twice meanwhile, once after the first lease ran out."""
    await six_messages(demo)
    db, clock, lease = demo.core.db, demo.clock, bot.kernel.outbox.LEASE
    other = Quick()

    async def look() -> object:
        return await deliver_pending(db, {"console": other}, clock)

    slow = SlowTransport(clock, lambda n: lease * 0.4, {2: look, 3: look})
    began = clock.now()
    await deliver_pending(db, {"console": slow}, clock)
    assert clock.now() - began > lease * 2  # the batch outlived its first lease twice over
    assert other.sent == [] and sorted(slow.sent) == [f"member {i}" for i in range(1, 7)]


async def test_rows_claimed_by_another_worker_after_a_stall_are_left_to_it(demo: Chat) -> None:
    """A worker stalls past its lease (in the middle of its first send); another takes
    the whole batch. When the first wakes up it sends none of the rest again: only
    the message in flight at the stall goes twice."""
    await six_messages(demo)
    db, clock, lease = demo.core.db, demo.clock, bot.kernel.outbox.LEASE
    other = Quick()

    async def look() -> object:
        return await deliver_pending(db, {"console": other}, clock)

    stalled = SlowTransport(clock, lambda n: lease * 1.2, {1: look})
    await deliver_pending(db, {"console": stalled}, clock)
    everyone = [f"member {i}" for i in range(1, 7)]
    assert stalled.sent == ["member 1"] and sorted(other.sent) == everyone
    async with db.transaction() as session:
        statuses = list(await session.scalars(select(OutboxMessage.status)))
    assert statuses == ["sent"] * 6


async def cut_every_connection(url: str) -> int:
    """What a PostgreSQL restart looks like to its clients: every connection to the
    database is terminated (but the one doing it). How many were."""
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        cursor = await conn.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        row = await cursor.fetchone()
    return int(row[0]) if row else 0


@on_postgresql
async def test_a_message_sent_as_the_database_connection_is_lost_is_marked_sent(
    demo: Chat, pg_url: str
) -> None:
    """The connection is cut (a PostgreSQL restart) while a message is being sent:
    it is still marked sent, on a new connection, so that it is not sent again."""
    await six_messages(demo)
    db = demo.core.db

    class Cut(Quick):
        async def send(self, recipient: Recipient, reply: Reply) -> None:
            await super().send(recipient, reply)
            if len(self.sent) == 1:
                assert await cut_every_connection(pg_url) > 0

    transport = Cut()
    report = await deliver_pending(db, {"console": transport}, demo.clock)
    assert report.sent == 6 and sorted(transport.sent) == [f"member {i}" for i in range(1, 7)]
    async with db.transaction() as session:
        statuses = list(await session.scalars(select(OutboxMessage.status)))
    assert statuses == ["sent"] * 6


# --- Worker processes --------------------------------------------------------------------


class AddressInUse(Exception):
    pass


class Worker:
    """One ``organiser run`` process, serving the Telegram webhook on a port of its own."""

    def __init__(self, name: str, env: dict[str, str], logs: Path) -> None:
        self.name = name
        self.port = free_port()
        self.env = {**env, "ORGANISER_TELEGRAM_WEBHOOK_PORT": str(self.port)}
        self.logs = logs
        self.process: asyncio.subprocess.Process | None = None
        self.starts = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    async def start(self) -> None:
        try:
            await self._start()
        except AddressInUse:  # another program took the free port meanwhile
            self.port = free_port()
            self.env["ORGANISER_TELEGRAM_WEBHOOK_PORT"] = str(self.port)
            await self._start()

    async def _start(self) -> None:
        self.starts += 1
        path = self.logs / f"{self.name}-{self.starts}.log"
        with path.open("wb") as log:
            self.process = process = await asyncio.create_subprocess_exec(
                sys.executable,
                str(WORKER),
                cwd=self.logs,
                env=self.env,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=log,
                stderr=log,
            )
        async with asyncio.timeout(PATIENCE):
            while True:  # ready once its webhook takes connections
                if process.returncode is not None:
                    if "address already in use" in path.read_text(errors="replace").lower():
                        raise AddressInUse
                    raise AssertionError(f"worker {self.name} exited\n{self.log()}")
                with contextlib.suppress(OSError):
                    _, writer = await asyncio.open_connection("127.0.0.1", self.port)
                    writer.close()
                    await writer.wait_closed()
                    return
                await asyncio.sleep(0.05)

    async def kill(self) -> None:
        """kill -9: no clean shutdown at all."""
        assert self.process is not None and self.process.returncode is None, self.log()
        os.kill(self.process.pid, signal.SIGKILL)
        await self.process.wait()

    async def stop(self) -> None:
        process = self.process
        if process is None:
            return
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(process.wait(), 20)
            except TimeoutError:
                process.kill()
        await process.wait()

    def log(self) -> str:
        return "\n".join(
            f"--- {path.name}\n{path.read_text(errors='replace')[-4000:]}"
            for path in sorted(self.logs.glob(f"{self.name}-*.log"))
        )


class Rig:
    """The fake Telegram, the workers (two, started by each test as it needs), and a
    core in this process for console identities."""

    def __init__(self, tg: FakeTelegram, db: Database, http: aiohttp.ClientSession) -> None:
        self.tg = tg
        self.db = db
        self.http = http
        self.core = build_core(db, SETTINGS, clock=SystemClock())
        self.workers: list[Worker] = []
        self._waiting: dict[str, asyncio.Future[str]] = {}

    async def watch(self) -> None:
        """Resolve the waits for answered button presses as the answers arrive."""
        seen, open_ = 0, []
        while True:
            calls = self.tg.calls
            open_ += [c for c in calls[seen:] if c.method == "answerCallbackQuery"]
            seen = len(calls)
            for call in open_:
                if call.status is not None and call.ok:
                    answer = str(call.params.get("text") or "")
                    waiter = self._waiting.pop(str(call.params["callback_query_id"]), None)
                    if waiter is not None and not waiter.done():
                        waiter.set_result(answer)
            # A call a killed worker abandoned stays open for good; it is no answer.
            open_ = [c for c in open_ if c.status is None]
            await asyncio.sleep(0.02)

    async def post(self, worker: Worker, update: dict[str, Any]) -> None:
        """Post an update to a worker's webhook, as Telegram does."""
        async with self.http.post(
            worker.url, json=update, headers={"X-Telegram-Bot-Api-Secret-Token": SECRET}
        ) as response:
            await response.read()
            assert response.status == 200, (response.status, worker.log())

    async def press(
        self, worker: Worker, user: dict[str, Any], message: dict[str, Any], data: str
    ) -> str:
        """``user`` presses a button under ``message`` through ``worker``; once the
        press is answered (after the worker's transaction), the answer's text
        (empty unless it was a refusal or an apology)."""
        update = self.tg.callback_update(user, message, data)
        query = update["callback_query"]["id"]
        waiter: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        self._waiting[query] = waiter
        await self.post(worker, update)
        return await asyncio.wait_for(waiter, PATIENCE)

    async def say(self, worker: Worker, user: dict[str, Any], text: str) -> None:
        await self.post(worker, self.tg.text_update(user, text))

    async def console(self, name: str, data: str) -> list[Reply]:
        """``name`` presses a button on the console (through this process's core)."""
        return await self.core.handle(Request.button_from(*_console(name), data))

    async def console_says(self, name: str, text: str) -> list[Reply]:
        return await self.core.handle(Request.command_from(*_console(name), text))

    async def until(self, what: str, check: Callable[[], Any]) -> None:
        """Wait until ``check()`` (sync or async) is true; else fail with the workers' logs."""
        try:
            await until(check, what, PATIENCE)
        except AssertionError as exc:
            logs = "\n".join(w.log() for w in self.workers)
            raise AssertionError(f"{exc}\n{logs}") from None

    def sent_to(self, chat: int) -> list[str]:
        return self.tg.sent_texts(chat)

    async def outbox_delivery(self) -> tuple[Counter[Delivery], Counter[Delivery]]:
        """(messages queued for Telegram and not delivered, deliveries beyond one each).

        Every outbox row meant for someone on Telegram (or for a Telegram group) is
        compared with what the fake Telegram received: the same chat, the same text
        (as cut to Telegram's limits), with a file or without."""
        has_file = OutboxMessage.file_data.is_not(None)
        async with self.db.transaction() as session:
            to_people = await session.execute(
                select(Identity.chat_id, OutboxMessage.text, has_file).join(
                    Identity,
                    (Identity.person_id == OutboxMessage.person_id)
                    & (Identity.platform == "telegram"),
                )
            )
            to_chats = await session.execute(
                select(BranchChat.chat_id, OutboxMessage.text, has_file).join(
                    BranchChat,
                    (BranchChat.id == OutboxMessage.branch_chat_id)
                    & (BranchChat.platform == "telegram"),
                )
            )
            queued = Counter(
                (chat, text[:1024] if file else text[:4096], bool(file))
                for chat, text, file in [*to_people, *to_chats]
            )
        received = Counter(
            (str(p["chat_id"]), str(p.get("text", p.get("caption", ""))), "text" not in p)
            for p in self.tg.sent()
        )
        lost = queued - received
        twice = Counter({key: received[key] - n for key, n in queued.items() if received[key] > n})
        return lost, twice

    async def all_delivered(self) -> Counter[Delivery]:
        """Wait until every message queued for Telegram has arrived; those that
        arrived more than once (and how many times more)."""

        async def done() -> bool:
            lost, _ = await self.outbox_delivery()
            return not lost and not await self.pending()

        await self.until("every queued message to arrive and be marked sent", done)
        return (await self.outbox_delivery())[1]

    async def pending(self) -> int:
        """Outbox rows still to be sent to someone on Telegram or to a Telegram group."""
        on_telegram = select(Identity.person_id).where(Identity.platform == "telegram")
        groups = select(BranchChat.id).where(BranchChat.platform == "telegram")
        async with self.db.transaction() as session:
            return int(
                await session.scalar(
                    select(func.count()).where(
                        OutboxMessage.status == "pending",
                        OutboxMessage.person_id.in_(on_telegram)
                        | OutboxMessage.branch_chat_id.in_(groups),
                    )
                )
                or 0
            )


def _console(name: str) -> tuple[Sender, ChatRef]:
    uid = name.lower()
    return Sender("console", uid, name, handle=uid), ChatRef("console", "private", uid)


@pytest.fixture
async def rig(db: Database, pg_url: str, tmp_path: Path) -> AsyncIterator[Rig]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ORGANISER_")}
    async with FakeTelegram() as tg, aiohttp.ClientSession() as http:
        env |= {
            "PYTHONPATH": str(ROOT),
            "ORGANISER_DATABASE_URL": pg_url,
            "ORGANISER_PARTY_NAME": SETTINGS.party_name,
            "ORGANISER_POLLS_BALLOT_KEY": BALLOT_KEY,  # every worker shares it
            "ORGANISER_TELEGRAM_TOKEN": "1:T",
            "ORGANISER_TELEGRAM_BASE_URL": tg.base_url,
            "ORGANISER_TELEGRAM_WEBHOOK_URL": HOOK,
            "ORGANISER_TELEGRAM_WEBHOOK_LISTEN": "127.0.0.1",
            "ORGANISER_TELEGRAM_SECRET_TOKEN": SECRET,
            "ORGANISER_LOGGING_LEVEL": "WARNING",
            "ORGANISER_TEST_LEASE": str(LEASE_S),
        }
        r = Rig(tg, db, http)
        r.workers = [Worker(name, env, tmp_path) for name in ("a", "b")]
        watcher = asyncio.create_task(r.watch())
        try:
            yield r
        finally:
            watcher.cancel()
            await asyncio.gather(*(w.stop() for w in r.workers))


async def start(rig: Rig, count: int) -> list[Worker]:
    """Start ``count`` workers at once (on a new database too: only the one that
    takes the scheduler's lead creates APScheduler's table and writes the jobs)."""
    workers = rig.workers[:count]
    await asyncio.gather(*(w.start() for w in workers))
    return workers


async def frome(db: Database, *, group: bool) -> int:
    """The demo party, with Alice (Frome's organiser) also on Telegram and, with
    ``group``, Frome's Telegram group linked. Frome's id."""
    now = dt.datetime.now(dt.UTC)
    await seed_demo(db, SETTINGS, now)
    async with db.transaction() as session:
        alice = await session.scalar(select(Person).where(Person.display_name == "Alice"))
        assert alice is not None and alice.branch_id is not None
        session.add(
            Identity(
                person_id=alice.id,
                platform="telegram",
                user_id=str(ALICE),
                chat_id=str(ALICE),
                unreachable=False,
                last_seen_at=now,
            )
        )
        if group:
            session.add(
                BranchChat(
                    branch_id=alice.branch_id,
                    platform="telegram",
                    chat_id=str(GROUP),
                    linked_at=now,
                )
            )
        return alice.branch_id


async def members(
    db: Database, count: int, *, linked: int = 0, opted_in: bool = False
) -> list[int]:
    """``count`` paid-up Frome members M1..Mn, each on Telegram (user id 10000 + n);
    the first ``linked`` also on the console (``m{n}``), as after /link; with
    ``opted_in``, in the draw by lot. Their person ids, in order."""
    now = dt.datetime.now(dt.UTC)
    async with db.transaction() as session:
        frome_id = await session.scalar(
            select(Person.branch_id).where(Person.display_name == "Alice")
        )
        ids = list(
            await session.scalars(
                insert(Person).returning(Person.id),
                [
                    {
                        "short_id": f"W{n:05d}",
                        "display_name": f"M{n}",
                        "locale": "en",
                        "branch_id": frome_id,
                        "joined_branch_at": now - dt.timedelta(days=30),
                        "dues_paid_until": (now + dt.timedelta(days=365)).date(),
                        "consented_at": now - dt.timedelta(days=30),
                        "created_at": now - dt.timedelta(days=30),
                    }
                    for n in range(1, count + 1)
                ],
            )
        )
        rows = [
            {
                "person_id": pid,
                "platform": "telegram",
                "user_id": str(10_000 + n),
                "chat_id": str(10_000 + n),
                "unreachable": False,
                "last_seen_at": now,
            }
            for n, pid in enumerate(ids, 1)
        ]
        rows += [
            {
                "person_id": pid,
                "platform": "console",
                "user_id": f"m{n}",
                "chat_id": f"m{n}",
                "unreachable": False,
                "last_seen_at": now - dt.timedelta(hours=1),
            }
            for n, pid in enumerate(ids[:linked], 1)
        ]
        await session.execute(insert(Identity), rows)
        if opted_in:
            genders, ages = ["woman", "man", "non-binary"], ["18-29", "30-44", "45-64", "65+"]
            await session.execute(
                insert(SortitionProfile),
                [
                    {
                        "person_id": pid,
                        "opted_in": True,
                        "features": {"gender": genders[n % 3], "age": ages[n % 4]},
                        "updated_at": now,
                    }
                    for n, pid in enumerate(ids)
                ],
            )
    return ids


def tomorrow() -> str:
    """Tomorrow's weekday in Frome: a weekly session then is in the coming week."""
    return (dt.datetime.now(ZoneInfo("Europe/London")) + dt.timedelta(days=1)).strftime("%A")


def tg_user(tg: FakeTelegram, n: int) -> dict[str, Any]:
    return tg.user(10_000 + n, f"M{n}")


def private_message(tg: FakeTelegram, user: dict[str, Any], n: int) -> dict[str, Any]:
    """A message of the bot's in ``user``'s private chat (buttons are pressed under one)."""
    return {
        "message_id": n,
        "from": BOT_USER,
        "chat": tg.private_chat(user),
        "date": int(time.time()),
        "text": "…",
    }


async def post_poll(rig: Rig, line: str) -> int:
    """Alice posts a poll from the console: preview, then Post it. Its id."""
    replies = await rig.console_says("Alice", f"/poll {line}")
    assert replies[0].text.startswith("Preview of your poll"), replies
    posted = await rig.console("Alice", replies[0].buttons[0][0].data)
    assert posted[0].text.startswith("Posted (poll "), posted
    return int(posted[0].text.removeprefix("Posted (poll ").partition(")")[0])


async def ballots(db: Database, poll: int) -> list[tuple[int, list[int]]]:
    async with db.transaction() as session:
        rows = await session.execute(
            select(Ballot.person_id, Ballot.choice).where(Ballot.poll_id == poll)
        )
        return [(pid, list(choice)) for pid, choice in rows]


# --- Faults: kill -9 ---------------------------------------------------------------------


@on_postgresql
async def test_a_worker_killed_mid_fan_out_loses_nothing_and_repeats_at_most_one(
    rig: Rig,
) -> None:
    people = 60
    db = rig.db
    branch = await frome(db, group=False)
    await members(db, people)
    (a,) = await start(rig, 1)
    await rig.console_says("Alice", f"/canvass schedule {tomorrow()} 10:30 Market Cross")
    # The weekly round-up, as the scheduler queues it: to the members and Alice on Telegram.
    assert await weekly_roundup(db, SETTINGS, dt.datetime.now(dt.UTC), branch) == 1

    def roundups() -> int:
        return sum(1 for t in rig.tg.sent_texts() if t.startswith("Canvassing with the Frome"))

    await rig.until("a third of the round-up to go out", lambda: roundups() >= people // 3)
    await a.kill()
    at_kill = roundups()
    await a.start()
    twice = await rig.all_delivered()
    assert at_kill < people, "the kill came too late to test anything"
    assert twice.total() <= 1, f"more than the one message in flight at the kill: {twice}"
    async with db.transaction() as session:
        statuses = Counter(
            await session.scalars(
                select(OutboxMessage.status)
                .join(Identity, Identity.person_id == OutboxMessage.person_id)
                .where(Identity.platform == "telegram")
            )
        )
    assert statuses == {"sent": people + 1}


async def committed_when(db: Database, check: Callable[[Any], bool], model: Any, id_: int) -> bool:
    async with db.transaction() as session:
        row = await session.get(model, id_)
        return row is not None and check(row)


@on_postgresql
async def test_a_worker_killed_as_it_closes_a_poll_closes_it_once(rig: Rig) -> None:
    voters = 30
    tg, db = rig.tg, rig.db
    await frome(db, group=False)  # no group: the result goes to each voter privately
    await members(db, voters)
    (a,) = await start(rig, 1)
    poll = await post_poll(rig, '"Adopt the budget?" "Yes" "No"')
    for n in range(1, voters + 1):  # each votes from Telegram (answered here: quicker)
        sender = Sender("telegram", str(10_000 + n), f"M{n}")
        chat = ChatRef("telegram", "private", str(10_000 + n))
        await rig.core.handle(Request.button_from(sender, chat, f"pv:{poll}.{n % 3 % 2}"))
    alice = tg.user(ALICE, "Alice")
    closing = asyncio.create_task(rig.say(a, alice, f"/poll close {poll}"))
    # kill -9 as soon as the close is committed: most often before the worker has
    # answered Alice or sent a single result.
    await rig.until(
        "the close", lambda: committed_when(db, lambda p: p.closed_at is not None, Poll, poll)
    )
    await a.kill()
    with contextlib.suppress(aiohttp.ClientError, AssertionError):
        await closing
    async with db.transaction() as session:
        first = await session.get(Poll, poll)
        assert first is not None and first.result is not None
        closed_at, result = first.closed_at, first.result
    # The worker comes back; Alice, who had no answer, asks again.
    await a.start()
    await rig.say(a, alice, f"/poll close {poll}")
    await rig.until(
        "Alice's answer", lambda: any("already closed" in t for t in rig.sent_to(ALICE))
    )
    twice = await rig.all_delivered()
    assert twice.total() <= 1, f"more than the one message in flight at the kill: {twice}"
    async with db.transaction() as session:
        again = await session.get(Poll, poll)
        assert again is not None
    assert (again.closed_at, again.result) == (closed_at, result)
    yes = sum(1 for n in range(1, voters + 1) if n % 3 % 2 == 0)
    assert result["counts"] == [yes, voters - yes] and result["ballots"] == voters
    told = [
        sum(1 for t in rig.sent_to(10_000 + n) if t.startswith("Results: Adopt"))
        for n in range(1, voters + 1)
    ]
    assert min(told) == 1 and sum(told) - voters <= 1, told


@on_postgresql
async def test_a_worker_killed_as_it_draws_leaves_the_draw_and_its_invitations_whole(
    rig: Rig,
) -> None:
    tg, db = rig.tg, rig.db
    await frome(db, group=False)
    await members(db, 12, opted_in=True)
    (a,) = await start(rig, 1)
    day = (dt.datetime.now(ZoneInfo("Europe/London")) + dt.timedelta(days=2)).date()
    preview = await rig.console_says(
        "Alice", f"/draw 3 lottery:Bonoloto 6 of 1-49:{day.isoformat()}"
    )
    commit = next(x for row in preview[0].buttons for x in row if x.action == "drawok")
    committed = await rig.console("Alice", commit.data)
    assert committed[0].text.startswith("Committed: draw 1"), committed
    async with db.transaction() as session:
        draw = await session.get(Draw, 1)
        assert draw is not None
        record, record_hash = draw.record, draw.record_hash
        # The workers keep real time: as if the lottery's result were out now.
        draw.seed_due_at = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1)
    seed = "4 8 15 16 23 42"
    noted = await rig.console_says("Carol", f"/draw seed 1 {seed}")  # the first witness
    assert "Result noted" in noted[0].text, noted
    alice = tg.user(ALICE, "Alice")
    seeding = asyncio.create_task(rig.say(a, alice, f"/draw seed 1 {seed}"))
    await rig.until("the draw", lambda: committed_when(db, lambda d: d.seed is not None, Draw, 1))
    await a.kill()  # as soon as the draw is committed: most often before any invitation
    with contextlib.suppress(aiohttp.ClientError, AssertionError):
        await seeding
    await a.start()  # it comes back; Alice, who had no answer, sends the seed again
    await rig.say(a, alice, f"/draw seed 1 {seed}")
    await rig.until("Alice's answer", lambda: any("already done" in t for t in rig.sent_to(ALICE)))
    twice = await rig.all_delivered()
    assert twice.total() <= 1, f"more than the one message in flight at the kill: {twice}"

    async with db.transaction() as session:
        draw = await session.get(Draw, 1)
        assert draw is not None
        invited = list(
            await session.execute(
                select(Invitation.id, Invitation.person_id, Identity.chat_id)
                .join(Identity, Identity.person_id == Invitation.person_id)
                .where(Identity.platform == "telegram")
                .order_by(Invitation.id)
            )
        )
        behind = dict(
            (await session.execute(select(DrawEntrant.pseudonym, DrawEntrant.person_id))).all()
        )
    # The record as committed; the draw only adds the drawn panel's opened counts.
    committed = {k: v for k, v in draw.record.items() if k != "opened"}
    assert (committed, draw.record_hash, draw.seed) == (record, record_hash, seed)
    checked = verify(draw.record, seed)
    assert checked.ok
    assert sorted(pid for _, pid, _ in invited) == sorted(behind[p] for p in checked.selected)
    for invitation, _, chat in invited:  # each invitation arrived once, with its buttons
        messages = [
            m
            for m in tg.bot_messages(chat)
            if any(
                button.get("callback_data", "").endswith(f":{invitation}")
                for row in m.get("reply_markup", {}).get("inline_keyboard", [])
                for button in row
            )
        ]
        assert 1 <= len(messages) <= 1 + twice.total(), (invitation, messages)


# --- Concurrency ---------------------------------------------------------------------------


@on_postgresql
async def test_two_workers_count_each_vote_once_and_fill_no_more_places_than_there_are(
    rig: Rig,
) -> None:
    """At the same time, through both workers: people vote (some change their mind,
    some press twice, some vote from two linked accounts at the same instant), and
    more people than there are places sign up for a canvassing session."""
    people, linked, options, places = 500, 20, 3, 6
    tg, db = rig.tg, rig.db
    await frome(db, group=True)
    ids = await members(db, people, linked=linked)
    numbers = {pid: n for n, pid in enumerate(ids, 1)}
    a, b = await start(rig, 2)
    poll = await post_poll(rig, '"Where next?" "Frome" "Bath" "Wells"')
    replies = await rig.console_says(
        "Alice", f"/canvass schedule {tomorrow()} 10:30 Market Cross {places}"
    )
    assert "Market Cross" in replies[0].text, replies
    await rig.console_says("Alice", "/canvass")  # the coming week's session now exists
    async with db.transaction() as session:
        canvass = await session.scalar(select(CanvassSession.id))
    go, leave = f"cvgo:{canvass}", f"cvno:{canvass}"
    await rig.until("the poll in Frome's group", lambda: rig.sent_to(GROUP))
    message = tg.last_message(GROUP)
    rng = random.Random(8)
    gate = asyncio.Semaphore(16)  # people pressing at once (each press holds a connection)

    def worker() -> Worker:
        return rng.choice((a, b))

    truth: dict[int, set[int]] = {}  # person id -> what may count: their last press

    async def voter(n: int) -> None:
        pid, user = ids[n - 1], tg_user(tg, n)
        presses = [rng.randrange(options) for _ in range(rng.choice((1, 1, 2, 3)))]
        if rng.random() < 0.2:
            presses.append(presses[-1])  # the same button again
        async with gate:
            for choice in presses:
                assert not await rig.press(worker(), user, message, f"pv:{poll}.{choice}")
            truth[pid] = {presses[-1]}
            if n > linked:
                return
            # The same person, linked, on the console; then on both at the same instant.
            await rig.console(f"m{n}", f"pv:{poll}.{rng.randrange(options)}")
            last = rng.randrange(options)
            if n % 2:
                await rig.console(f"m{n}", f"pv:{poll}.{last}")
                truth[pid] = {last}
                return
            both = rng.randrange(options)
            await asyncio.gather(
                rig.press(worker(), user, message, f"pv:{poll}.{last}"),
                rig.console(f"m{n}", f"pv:{poll}.{both}"),
            )
            truth[pid] = {last, both}

    signers = range(people - 23, people + 1)  # 24 people for 6 places; the first 6 linked
    for n in signers[:6]:
        await link_on_console(db, ids[n - 1], f"s{n}")
    told: dict[int, list[str]] = {}  # person id -> what the console told them

    async def signer(n: int) -> None:
        user = tg_user(tg, n)
        press = rig.press(worker(), user, private_message(tg, user, n), go)
        if n >= signers[6]:
            assert not await press
            return
        # Linked: both accounts at the same instant.
        _, replies = await asyncio.gather(press, rig.console(f"s{n}", go))
        told[ids[n - 1]] = [r.text for r in replies]

    await asyncio.gather(*map(voter, range(1, people + 1)), *map(signer, signers))

    # The votes: one ballot each, each the person's last press.
    cast = await ballots(db, poll)
    voters = [pid for pid, _ in cast]
    assert len(voters) == len(set(voters)) == people
    wrong = {pid: (choice, truth[pid]) for pid, choice in cast if choice[0] not in truth[pid]}
    assert not wrong, f"ballots other than the person's last press: {wrong}"

    # The places: never more going than there are, and exactly those going were told so.
    rows = await signups(db)
    going = {pid for pid, status in rows if status == "going"}
    assert len(rows) == len({pid for pid, _ in rows}) == len(signers)
    assert len(going) == places

    def answered() -> bool:
        return all(
            any("signed up" in t or "waiting list" in t for t in rig.sent_to(10_000 + n))
            for n in signers
        )

    await rig.until("an answer to every sign-up", answered)
    heard_yes = {
        ids[n - 1] for n in signers if any("You're signed up" in t for t in rig.sent_to(10_000 + n))
    }
    heard_yes |= {pid for pid, texts in told.items() if any("You're signed up" in t for t in texts)}
    assert heard_yes == going

    # Three of those going cancel while ten waiting press again: still no more than
    # the places, and the first three on the waiting list move up.
    leaving = sorted(going)[:3]
    waiting = [pid for pid, status in rows if status == "waiting"]

    async def press(pid: int, data: str) -> None:
        user = tg_user(tg, numbers[pid])
        assert not await rig.press(worker(), user, private_message(tg, user, 1), data)

    await asyncio.gather(*(press(p, leave) for p in leaving), *(press(p, go) for p in waiting[:10]))
    now_going = {pid for pid, status in await signups(db) if status == "going"}
    assert now_going == (going - set(leaving)) | set(waiting[:3])

    # Alice closes the poll through a worker: the stored result is the truth.
    await rig.say(b, tg.user(ALICE, "Alice"), f"/poll close {poll}")
    await rig.until("the result", lambda: rig.sent_to(ALICE))
    async with db.transaction() as session:
        closed = await session.get(Poll, poll)
        marked = await session.scalar(
            select(func.count()).where(PollVoter.poll_id == poll, PollVoter.voted.is_(True))
        )
    assert closed is not None and closed.result is not None
    counts = [sum(1 for _, choice in cast if choice == [i]) for i in range(options)]
    assert closed.result["counts"] == counts and closed.result["ballots"] == people == marked
    assert f"Ballots: {people}." in rig.sent_to(ALICE)[-1]
    # And everything queued meanwhile (the poll, places freed) went out, once.
    twice = await rig.all_delivered()
    assert not twice, f"sent more than once with no fault at all: {twice}"


async def signups(db: Database) -> list[tuple[int, str]]:
    """(person id, status) of every canvass sign-up, first come first."""
    async with db.transaction() as session:
        rows = await session.execute(
            select(CanvassSignup.person_id, CanvassSignup.status).order_by(
                CanvassSignup.created_at, CanvassSignup.id
            )
        )
        return [(pid, status) for pid, status in rows]


async def link_on_console(db: Database, person_id: int, name: str) -> None:
    """Give a member a second, console identity, as after /link."""
    async with db.transaction() as session:
        session.add(
            Identity(
                person_id=person_id,
                platform="console",
                user_id=name,
                chat_id=name,
                unreachable=False,
                last_seen_at=dt.datetime.now(dt.UTC) - dt.timedelta(hours=1),
            )
        )


# --- Faults: the database goes away ------------------------------------------------------


@on_postgresql
async def test_workers_carry_on_when_every_database_connection_is_cut(
    rig: Rig, pg_url: str
) -> None:
    people, options, cuts = 40, 3, 2
    tg, db = rig.tg, rig.db
    branch = await frome(db, group=True)
    ids = await members(db, people)
    a, b = await start(rig, 2)
    await rig.console_says("Alice", f"/canvass schedule {tomorrow()} 10:30 Market Cross")
    poll = await post_poll(rig, '"Which leaflet?" "Red" "Green" "Blue"')
    await rig.until("the poll in Frome's group", lambda: rig.sent_to(GROUP))
    message = tg.last_message(GROUP)
    # The round-up goes out while people vote: the outbox works through the cuts too.
    await weekly_roundup(db, SETTINGS, dt.datetime.now(dt.UTC), branch)

    rng = random.Random(5)
    truth: dict[int, int] = {}
    answered = 0
    apologies: list[str] = []
    gate = asyncio.Semaphore(16)

    async def voter(n: int) -> None:
        nonlocal answered
        user = tg_user(tg, n)
        async with gate:
            for choice in [rng.randrange(options) for _ in range(rng.choice((1, 2)))]:
                answer = await rig.press(rng.choice((a, b)), user, message, f"pv:{poll}.{choice}")
                while answer:  # an apology: nothing changed; the person presses again
                    apologies.append(answer)
                    answer = await rig.press(
                        rng.choice((a, b)), user, message, f"pv:{poll}.{choice}"
                    )
                truth[ids[n - 1]] = choice
                answered += 1

    async def cutter() -> None:
        for at in range(1, cuts + 1):
            await rig.until("votes", lambda at=at: answered >= at * people // 3)
            assert await cut_every_connection(pg_url) > 0
            await db.engine.dispose()  # this process's own connections were cut too

    await asyncio.gather(cutter(), *(voter(n) for n in range(1, people + 1)))
    assert all(w.process is not None and w.process.returncode is None for w in rig.workers)
    assert dict(await ballots(db, poll)) == {pid: [c] for pid, c in truth.items()}
    # A cut between sending a message and marking it sent is no reason to send it again.
    twice = await rig.all_delivered()
    assert not twice, f"sent more than once: {twice}"
    assert not apologies, apologies
