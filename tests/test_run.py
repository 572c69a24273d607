"""`organiser run`: the adapters and the outbox worker in one loop, stopped cleanly."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import signal
import sys
from pathlib import Path

import pytest

from bot.demo.party import seed_demo
from bot.kernel.config import Settings
from bot.kernel.outbox import enqueue
from runtime.serve import serve
from storage.db import Database
from storage.models import Identity, Person
from tests.fake_telegram import FakeTelegram
from tests.helpers import link_demo_people

pytestmark = pytest.mark.slow  # the bot in a process of its own

ORGANISER = str(Path(sys.executable).parent / "organiser")


async def test_serve_answers_people_and_delivers_the_outbox_until_stopped(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'organiser.db'}")
    await db.upgrade()
    async with FakeTelegram() as tg:
        settings = Settings(telegram_token="1:T", telegram_base_url=tg.base_url)
        await seed_demo(db, settings, dt.datetime.now(dt.UTC))
        await link_demo_people(db, {"Alice": 101})
        stop = asyncio.Event()
        running = asyncio.create_task(serve(db, settings, stop=stop))
        await tg.wait_for("getUpdates")
        sam = tg.user(201, "Sam", "sam")
        tg.send_text(sam, "/join Frome")  # asks for consent first
        await tg.wait_for("sendMessage")
        notice = tg.last_message(201)
        data = notice["reply_markup"]["inline_keyboard"][0][0]["callback_data"]
        tg.press(sam, notice, data)
        # Sam joins; the outbox worker tells Alice on Telegram, with no one asking.
        for _ in range(50):
            if any("joined the Frome branch" in t for t in tg.sent_texts(101)):
                break
            await tg.wait_for("sendMessage", count=len(tg.calls_to("sendMessage")) + 1)
        assert any("Sam (" in t and "joined the Frome branch" in t for t in tg.sent_texts(101))
        stop.set()
        await asyncio.wait_for(running, 15)
    await db.dispose()


async def test_organiser_run_with_a_token_stops_on_sigterm(tmp_path: Path) -> None:
    async with FakeTelegram() as tg:
        env = {k: v for k, v in os.environ.items() if not k.startswith("ORGANISER_")}
        env |= {"ORGANISER_TELEGRAM_TOKEN": "1:T", "ORGANISER_TELEGRAM_BASE_URL": tg.base_url}
        process = await asyncio.create_subprocess_exec(
            ORGANISER,
            "run",
            cwd=tmp_path,
            env=env,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        try:
            await tg.wait_for("getUpdates", timeout=30)
            tg.send_text(tg.user(201, "Sam"), "/help")
            await tg.wait_for("sendMessage", timeout=15)
            assert tg.sent_texts(201)[0].startswith("Here is what you can do")
            process.send_signal(signal.SIGTERM)
            _, stderr = await asyncio.wait_for(process.communicate(), 30)
        finally:
            if process.returncode is None:
                process.kill()
                await process.wait()
        assert process.returncode == 0, stderr.decode()
        assert b"Traceback" not in stderr
        assert (tmp_path / "organiser.db").exists()


async def _start_organiser(tmp_path: Path, tg: FakeTelegram) -> asyncio.subprocess.Process:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ORGANISER_")}
    env |= {"ORGANISER_TELEGRAM_TOKEN": "1:T", "ORGANISER_TELEGRAM_BASE_URL": tg.base_url}
    return await asyncio.create_subprocess_exec(
        ORGANISER,
        "run",
        cwd=tmp_path,
        env=env,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )


async def test_a_worker_killed_mid_fan_out_loses_nothing(tmp_path: Path) -> None:
    """kill -9 during a fan-out, then a restart: every message arrives; at most the
    one in flight at the kill arrives twice."""
    people = 120
    db = Database(f"sqlite:///{tmp_path / 'organiser.db'}")
    await db.upgrade()
    now = dt.datetime.now(dt.UTC)
    async with db.transaction() as session:
        for n in range(1, people + 1):
            person = Person(short_id=f"P{n:05d}", display_name=f"P{n}", created_at=now)
            session.add(person)
            await session.flush()
            session.add(
                Identity(
                    person_id=person.id,
                    platform="telegram",
                    user_id=str(1000 + n),
                    chat_id=str(1000 + n),
                    unreachable=False,
                    last_seen_at=now,
                )
            )
            await enqueue(
                session, key=f"weekly:{n}", person_id=person.id, text="Canvassing!", now=now
            )
    await db.dispose()

    def delivered() -> list[str]:
        return [str(c.params["chat_id"]) for c in tg.calls_to("sendMessage") if c.ok]

    async with FakeTelegram() as tg:
        first = await _start_organiser(tmp_path, tg)
        try:
            await tg.wait_for("sendMessage", count=people // 2, timeout=60)
        finally:
            first.kill()  # SIGKILL: no clean shutdown at all
            await first.wait()
        at_kill = len(delivered())
        second = await _start_organiser(tmp_path, tg)
        try:
            for _ in range(600):
                if len(set(delivered())) == people:
                    break
                await asyncio.sleep(0.1)
        finally:
            second.send_signal(signal.SIGTERM)
            await asyncio.wait_for(second.wait(), 30)
    chats = delivered()
    lost = people - len(set(chats))
    duplicated = len(chats) - len(set(chats))
    assert at_kill < people, "the kill came too late to test anything"
    assert lost == 0
    assert duplicated <= 1
