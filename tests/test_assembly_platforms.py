"""A citizens' assembly start to finish over the real platform libraries: 300
residents register on Telegram (python-telegram-bot, the deep link) and on
Discord (discord.py, /register in a DM) against the local fakes, the organiser
uploads the census targets, a 30-seat panel is drawn with a lottery's result
entered by two witnesses, two of those invited decline on their platform and
are replaced, and the organisers' full record verifies offline with
`organiser sortition verify`."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import re
import shutil
from dataclasses import replace
from pathlib import Path
from typing import Any

from sqlalchemy import select

from adapters.cli import main as organiser
from bot.app import build_core
from bot.demo.party import seed_demo
from bot.kernel.clock import FixedClock
from bot.kernel.config import Settings
from bot.kernel.outbox import deliver_pending
from storage.db import Database
from storage.models import AssemblyDraw, AssemblyInvitation, AssemblyRegistrant, Person
from tests.fake_discord import TOKEN as DISCORD_TOKEN
from tests.fake_discord import FakeDiscord
from tests.fake_telegram import FakeTelegram
from tests.helpers import LOTTO_RESULT, link_demo_people, lotto
from tests.observed import ObservedDiscord, ObservedTelegram

TELEGRAM_TOKEN = "123456:TEST-TOKEN"
ALICE, CAROL = 101, 103
GENDERS = ("woman", "man", "non-binary")
AGES = ("18-29", "30-44", "45-64", "65+")
TENURES = ("owner", "renter")
TARGETS = (
    "gender,woman,51%\ngender,man,47%\ngender,non-binary,2%\n"
    "age,18-29,20%\nage,30-44,25%\nage,45-64,32%\nage,65+,23%\n"
    "tenure,owner,62%\ntenure,renter,38%"
)
PER_PLATFORM = 150


def answers(i: int) -> tuple[str, str, str]:
    gender = GENDERS[2] if i % 25 == 0 else GENDERS[i % 2]
    return gender, AGES[(i // 2) % 4], TENURES[0 if i % 8 < 5 else 1]


def house(i: int) -> str:
    """Every tenth pair of residents share an address: one household."""
    return str(i - 1) if i % 10 == 1 else str(i)


class Telegram:
    def __init__(self, tg: FakeTelegram, adapter: ObservedTelegram) -> None:
        self.tg, self.adapter = tg, adapter

    async def handled(self, update: dict[str, Any]) -> None:
        while (await asyncio.wait_for(self.adapter.handled.get(), 10)) != update["update_id"]:
            pass

    async def say(self, user: dict[str, Any], text: str) -> str:
        before = len(self.tg.sent())
        await self.handled(self.tg.send_text(user, text))
        return "\n".join(p.get("text", p.get("caption", "")) for p in self.tg.sent()[before:])

    async def press(self, user: dict[str, Any], label: str) -> str:
        message = self.tg.last_message(user["id"])
        for row in message.get("reply_markup", {}).get("inline_keyboard", []):
            for button in row:
                if button["text"].startswith(label):
                    await self.handled(self.tg.press(user, message, button["callback_data"]))
                    return str(self.tg.last_message(user["id"]).get("text", ""))
        raise AssertionError(f"no button {label!r} in {message}")


class Discord:
    def __init__(self, fake: FakeDiscord, adapter: ObservedDiscord) -> None:
        self.fake, self.adapter = fake, adapter

    async def done(self, record: Any) -> list[dict[str, Any]]:
        while (await asyncio.wait_for(self.adapter.handled.get(), 10)) != record.id:
            pass
        out = [record.response_data or {}] if record.response_type in (4, 7) else []
        return out + self.fake.followups(record)

    async def slash(self, user: int, name: str, **options: Any) -> list[dict[str, Any]]:
        return await self.done(await self.fake.slash(user, name, options, guild=False))

    async def press(
        self, user: int, answers: list[dict[str, Any]], label: str
    ) -> list[dict[str, Any]]:
        for answer in reversed(answers):
            for row in answer.get("components", []):
                for c in row.get("components", []):
                    if c.get("label", "").startswith(label):
                        return await self.done(
                            await self.fake.click(user, c["custom_id"], guild=False)
                        )
        raise AssertionError(f"no button {label!r} in {answers}")


async def test_three_hundred_residents_a_thirty_seat_panel_and_two_replacements(
    tmp_path: Path, sqlite_template: Path
) -> None:
    path = tmp_path / "organiser.db"
    shutil.copy(sqlite_template, path)
    db = Database(f"sqlite:///{path}")
    clock = FixedClock(dt.datetime(2026, 11, 26, 12, 0, tzinfo=dt.UTC))
    async with FakeTelegram() as tg, FakeDiscord() as fake:
        settings = replace(
            Settings(party_name="Test Party"),
            telegram_token=TELEGRAM_TOKEN,
            telegram_base_url=tg.base_url,
            discord_token=DISCORD_TOKEN,
        )
        await seed_demo(db, settings, clock.now())
        await link_demo_people(db, {"Alice": ALICE, "Carol": CAROL})
        for i in range(PER_PLATFORM):
            fake.user(5000 + i, f"resident{i}")
        on_telegram = ObservedTelegram(build_core(db, settings, clock=clock), settings)
        on_discord = ObservedDiscord(
            build_core(db, settings, clock=clock), settings, guild_ready_timeout=0.05
        )
        await on_telegram.start()
        await on_discord.start()
        try:
            await _run(db, clock, Telegram(tg, on_telegram), Discord(fake, on_discord), tmp_path)
        finally:
            await on_discord.stop()
            await on_telegram.stop()
            await db.dispose()


async def _run(
    db: Database, clock: FixedClock, telegram: Telegram, discord: Discord, tmp_path: Path
) -> None:
    tg = telegram.tg
    alice, carol = tg.user(ALICE, "Alice", "alice"), tg.user(CAROL, "Carol", "carol")
    opened = await telegram.say(
        alice,
        "/assembly open Frome housing assembly | BA11 | 30 | 2027-03-06 to 2027-03-07 | 2027-02-01",
    )
    code = re.search(r"code ([A-Z0-9]{8})", opened)
    assert code, opened
    await telegram.say(alice, "/assembly categories 1 tenure: owner | renter")
    await telegram.say(
        alice,
        "/assembly details 1 place: Frome Town Hall; expenses: travel and £60 a day; "
        "childcare: provided",
    )
    link = await telegram.say(alice, "/assembly link 1")
    assert f"?start=asm-{code.group(1)}" in link
    people_before = await _count_people(db)

    for i in range(PER_PLATFORM):  # Telegram: the deep link, then the address typed
        resident = tg.user(2000 + i, f"Resident {i}")
        asked = await telegram.say(resident, f"/start asm-{code.group(1)}")
        assert "postcode" in asked, asked
        await telegram.say(resident, f"BA11 1AB {house(i)}")
        await telegram.press(resident, "I agree")
        for value in answers(i):
            done = await telegram.press(resident, value)
        assert "you are registered" in done, done

    for i in range(PER_PLATFORM):  # Discord: /register in a DM with the bot
        user = 5000 + i
        reply = await discord.slash(
            user, "register", code=code.group(1), address=f"BA11 2CD {house(i)}"
        )
        reply = await discord.press(user, reply, "I agree")
        for value in answers(i + 3):
            reply = await discord.press(user, reply, value)
        assert "you are registered" in reply[-1]["content"], reply

    assert await _count_people(db) == people_before  # residents are not Persons
    shown = await telegram.say(alice, f"/assembly targets 1\n{TARGETS}")
    assert "300 registered" in shown and "gender woman: 14-16 seats" in shown, shown
    assert "cannot all be met" not in shown
    preview = await telegram.say(alice, f"/assembly draw 1 {lotto(clock)}")
    assert "30 of 300 registrants" in preview, preview
    committed = await telegram.press(alice, "Commit")
    published = re.search(r"Record hash ([0-9a-f]{64})", committed)
    assert published, committed
    async with db.transaction() as session:
        draw = await session.scalar(select(AssemblyDraw))
        assert draw is not None
        clock.set(draw.seed_due_at + dt.timedelta(minutes=5))
    assert "Result noted" in await telegram.say(alice, f"/assembly seed 1 {LOTTO_RESULT}")
    drawn = await telegram.say(carol, f"/assembly seed 1 {LOTTO_RESULT}")
    assert "the 30 residents selected" in drawn, drawn

    transports = {
        "telegram": telegram.adapter.transport,
        "discord": discord.adapter.transport,
    }
    await deliver_pending(db, transports, clock)
    invited = await _invitations(db)
    assert len(invited) == 30
    # The invitations reached each resident on the platform they registered on,
    # with the assembly's practical details.
    declined = []
    firsts = [next(i for i in invited if i[0] == p) for p in ("telegram", "discord")]
    for platform, user_id, _ in firsts:
        if platform == "telegram":
            message = tg.last_message(int(user_id))
            assert "Frome Town Hall" in message["text"] and "£60" in message["text"]
            user = tg.user(int(user_id), "Resident")
            assert "someone else will be drawn" in await telegram.press(user, "Decline")
        else:
            (last,) = discord.fake.messages_to(int(user_id))[-1:]
            assert "Frome Town Hall" in last["content"]
            reply = await discord.press(int(user_id), [last], "Decline")
            assert "someone else will be drawn" in reply[0]["content"]
        declined.append(user_id)
    await deliver_pending(db, transports, clock)

    every = await _invitations(db, every=True)
    standing = [i for i in every if i[2] in ("invited", "accepted")]
    assert len(every) == 32 and len(standing) == 30
    assert {i[1] for i in every if i[2] == "declined"} == set(declined)
    async with db.transaction() as session:
        draw = await session.scalar(select(AssemblyDraw))
        assert draw is not None and draw.seed is not None
        homes = dict(
            (
                await session.execute(select(AssemblyRegistrant.id, AssemblyRegistrant.household))
            ).all()
        )
        seats = list(
            await session.scalars(
                select(AssemblyInvitation.registrant_id).where(
                    AssemblyInvitation.status.in_(("invited", "accepted"))
                )
            )
        )
        record, seed = draw.record, draw.seed
    assert len({homes[r] for r in seats}) == 30  # one person per household
    assert [e["event"] for e in record["history"]] == ["declined", "declined"]
    assert all(e["replacement"] for e in record["history"])
    saved = tmp_path / "record.json"
    saved.write_text(json.dumps(record))
    verify = ["sortition", "verify", str(saved), "--seed", seed]
    assert (
        await asyncio.to_thread(organiser, [*verify, "--published-hash", published.group(1)]) == 0
    )
    # A record whose drawn panel was swapped after the commitment does not verify.
    record["panels"][draw.chosen_index or 0] = record["panels"][(draw.chosen_index or 0) - 1]
    saved.write_text(json.dumps(record))
    assert (
        await asyncio.to_thread(organiser, [*verify, "--published-hash", published.group(1)]) != 0
    )


async def _count_people(db: Database) -> int:
    async with db.transaction() as session:
        return len(list(await session.scalars(select(Person.id))))


async def _invitations(db: Database, every: bool = False) -> list[tuple[str, str, str]]:
    async with db.transaction() as session:
        rows = await session.execute(
            select(
                AssemblyRegistrant.platform, AssemblyRegistrant.user_id, AssemblyInvitation.status
            )
            .join(AssemblyRegistrant, AssemblyRegistrant.id == AssemblyInvitation.registrant_id)
            .order_by(AssemblyInvitation.id)
        )
        return [(p, u, s) for p, u, s in rows if every or s == "invited"]
