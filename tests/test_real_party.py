"""A real party, from an empty database to a council drawn by lot (README: "Start a
real party"). Every step is what a person types or presses, on Telegram or on
Discord through the real adapters (python-telegram-bot and discord.py over HTTP,
against the local fakes), or the ``organiser`` command at the server's terminal:
no demo data, and nothing written to the database but by the bot itself. Both
platforms share one core over one database, played on SQLite and on PostgreSQL.
The core's clock is a FixedClock the test moves on, as the days of a party pass."""

from __future__ import annotations

import asyncio
import datetime as dt
import random
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from adapters.founding_cli import founded
from bot.app import build_core
from bot.kernel.clock import FixedClock
from bot.kernel.config import Settings
from bot.kernel.outbox import deliver_pending
from storage.db import Database
from tests.conftest import BALLOT_KEY
from tests.fake_discord import PATIENCE, FakeDiscord
from tests.fake_discord import TOKEN as DISCORD_TOKEN
from tests.fake_telegram import FakeTelegram
from tests.helpers import LOTTO_RESULT, lotto
from tests.observed import ObservedDiscord, ObservedTelegram
from tests.test_cli import organiser

pytestmark = pytest.mark.slow  # a whole party, through the command line and both platforms

TELEGRAM_TOKEN = "123456:TEST-TOKEN"
LONDON = ZoneInfo("Europe/London")  # the party's (and so each branch's) time zone by default
PAT, ANN = 701, 702  # Telegram user ids
BEA, CAI = 801, 802  # Discord user ids
TELEGRAM_SAYS = ("sendMessage", "sendDocument", "sendPhoto", "editMessageText")
APOLOGY = "something went wrong on our side"
# Seconds the fake Discord gives an interaction's first response, and the adapter
# knows it: Discord's three are tested in tests/test_discord.py; here a request
# slowed by a busy machine (the draw's work, say) must not turn a party's story
# into "This interaction failed".
ANSWER_WITHIN = PATIENCE


class Party:
    """Both platforms' fakes, and (once started) their adapters over one core with
    a clock the test moves."""

    def __init__(self, tg: FakeTelegram, dc: FakeDiscord, db: Database) -> None:
        self.tg, self.dc, self.db = tg, dc, db
        self.started: list[ObservedTelegram | ObservedDiscord] = []

    async def start(self) -> None:
        """What `organiser run` does: the party's name from `organiser init`, one core,
        both adapters. The party's days start now: `organiser init` (another process)
        dated its admin code by the wall clock, and the code lasts a day."""
        self.clock = FixedClock(dt.datetime.now(dt.UTC).replace(second=0, microsecond=0))
        settings = await founded(
            self.db,
            Settings(
                telegram_token=TELEGRAM_TOKEN,
                telegram_base_url=self.tg.base_url,
                discord_token=DISCORD_TOKEN,
                polls_ballot_key=BALLOT_KEY,
            ),
        )
        core = build_core(self.db, settings, clock=self.clock, rng=random.Random(7))
        self.telegram = ObservedTelegram(core, settings)
        await self.telegram.start()
        self.started.append(self.telegram)
        self.discord = ObservedDiscord(
            core, settings, answer_within=ANSWER_WITHIN, guild_ready_timeout=0.05
        )
        await self.discord.start()
        self.started.append(self.discord)

    # --- Telegram --------------------------------------------------------------------

    async def _telegram(self, update: dict[str, Any]) -> str:
        before = len(self.tg.calls)
        self.tg.enqueue(update)
        while (await _next(self.telegram.handled)) != update["update_id"]:
            pass
        said = []
        for call in self.tg.calls[before:]:
            if call.method in TELEGRAM_SAYS and call.ok:
                said.append(call.params.get("text", call.params.get("caption", "")))
            elif call.method == "answerCallbackQuery" and call.params.get("text"):
                said.append(call.params["text"])
        return _answered(said)

    async def say(self, user: dict[str, Any], text: str) -> str:
        """``user`` sends ``text`` to the bot on Telegram; what the bot answered."""
        return await self._telegram(self.tg.text_update(user, text))

    async def press(self, user: dict[str, Any], label: str) -> str:
        """``user`` presses the button labelled ``label`` (its start) on the newest of
        the bot's messages in their Telegram chat that has one."""
        for message in reversed(self.tg.bot_messages(user["id"])):
            for row in message.get("reply_markup", {}).get("inline_keyboard", []):
                for button in row:
                    if button["text"].startswith(label):
                        data = str(button["callback_data"])
                        return await self._telegram(self.tg.callback_update(user, message, data))
        raise AssertionError(f"{user['first_name']} has no button {label!r} on Telegram")

    # --- Discord ---------------------------------------------------------------------

    async def slash(self, user: int, name: str, **options: Any) -> str:
        """``user`` runs ``/name`` in their DM with the bot on Discord; the answer."""
        record = await self.dc.slash(user, name, options or None, guild=False)
        while (await _next(self.discord.handled)) != record.id:
            pass
        answers = [record.response_data] if record.response_type == 4 else []
        return _answered([a.get("content", "") for a in answers + self.dc.followups(record)])

    async def click(self, user: int, label: str) -> str:
        """``user`` presses the button labelled ``label`` (its start) on the newest of
        the bot's messages in their Discord DMs that has one."""
        for message in reversed(self.dc.messages_to(user)):
            for row in message.get("components", []):
                for button in row.get("components", []):
                    if button.get("label", "").startswith(label):
                        record = await self.dc.click(
                            user, button["custom_id"], message_id=int(message["id"])
                        )
                        while (await _next(self.discord.handled)) != record.id:
                            pass
                        answers = [record.response_data] if record.response_type in (4, 7) else []
                        return _answered(
                            [a.get("content", "") for a in answers + self.dc.followups(record)]
                        )
        raise AssertionError(f"user {user} has no button {label!r} on Discord")

    # --- time and the outbox ---------------------------------------------------------

    async def deliver(self) -> None:
        """The outbox worker's round: messages to others reach them on their platform."""
        transports = {"telegram": self.telegram.transport, "discord": self.discord.transport}
        await deliver_pending(self.db, transports, self.clock)

    def to(self, day: dt.date, hour: int, minute: int = 0) -> None:
        """Time passes: it is now ``day`` at ``hour:minute`` in Frome (London time)."""
        local = dt.datetime(day.year, day.month, day.day, hour, minute, tzinfo=LONDON)
        self.clock.set(local.astimezone(dt.UTC))


async def _next(handled: asyncio.Queue[int]) -> int:
    """The id of the next update or interaction an adapter has finished with."""
    return await asyncio.wait_for(handled.get(), PATIENCE)


def _answered(said: list[str]) -> str:
    """What the bot answered, checked to be an answer and never an apology for a crash."""
    text = "\n".join(said)
    assert text and APOLOGY not in text and "Traceback" not in text, text
    return text


def telegram_texts(party: Party, user: dict[str, Any]) -> list[str]:
    return party.tg.sent_texts(user["id"])


def discord_texts(party: Party, user: int) -> list[str]:
    return [m.get("content", "") for m in party.dc.messages_to(user)]


@pytest.fixture
async def party(db: Database) -> AsyncIterator[Party]:
    async with FakeTelegram() as tg, FakeDiscord(answer_within=ANSWER_WITHIN) as dc:
        dc.user(BEA, "bea", global_name="Bea")
        dc.user(CAI, "cai", global_name="Cai")
        party = Party(tg, dc, db)
        try:
            yield party
        finally:
            for adapter in reversed(party.started):
                await adapter.stop()


async def test_a_real_party_from_an_empty_database_to_a_council_drawn_by_lot(
    party: Party, tmp_path: Path
) -> None:
    tg = party.tg
    pat, ann = tg.user(PAT, "Pat", "pat"), tg.user(ANN, "Ann", "ann")

    # 1. At the server's terminal, on the empty database the configuration names:
    # the party's name, and a one-time code for its first national admin.
    url = party.db.url.render_as_string(hide_password=False)
    env = {"ORGANISER_DATABASE_URL": url}
    init = organiser("init", "--party", "The Levellers", cwd=tmp_path, env=env)
    assert init.returncode == 0, init.stderr
    assert "The party: The Levellers" in init.stdout
    found = re.search(r"/claim (ADMIN-[A-Z0-9-]+)", init.stdout)
    assert found is not None, init.stdout
    await party.start()  # `organiser run`: Telegram and Discord
    today = party.clock.now().astimezone(LONDON).date()

    # 2. Pat claims the code on Telegram and sets up the South West region.
    assert "Welcome to The Levellers!" in await party.say(pat, "/start")
    await party.press(pat, "I agree")
    said = await party.say(pat, f"/claim {found.group(1)}")
    assert "You are now a national admin of The Levellers" in said
    assert "South West region is created" in await party.say(pat, "/region add South West")
    said = await party.say(pat, "/region areas South West: Frome, BA")
    assert "The South West region covers: Frome, BA." in said

    # 3. Ann proposes a Frome branch on Telegram and offers to organise it ...
    await party.say(ann, "/start")
    await party.press(ann, "I agree")
    assert "No branch covers Frome yet" in await party.say(ann, "/join Frome")
    said = await party.press(ann, "Propose")
    assert "You are the first person interested in a Frome branch" in said
    assert "The party's admins have been told" in await party.press(ann, "I can organise it")
    await party.deliver()
    told = telegram_texts(party, pat)
    assert any("A Frome branch was proposed, in your region" in t for t in told)
    offer = next((t for t in told if "offers to organise the proposed" in t), "")
    ann_id = re.search(r"Ann \((\w+)\) offers to organise the proposed Frome branch", offer)
    assert ann_id is not None, offer

    # ... Bea and Cai join it on Discord ...
    for user, n in ((BEA, 2), (CAI, 3)):
        assert "Welcome to The Levellers!" in await party.slash(user, "start")
        await party.click(user, "I agree")
        said = await party.slash(user, "join", place="Frome")
        assert f"{n} people are now interested in a Frome branch, you among them" in said
    said = await party.say(pat, "/branch Frome")
    assert "Next step: it starts forming with an organiser." in said

    # ... and Pat makes Ann its organiser: three people and an organiser, it is forming.
    said = await party.say(pat, f"/promote {ann_id.group(1)} organiser")
    assert "Ann is now organiser of the Frome branch." in said
    await party.deliver()
    for texts in (discord_texts(party, BEA), discord_texts(party, CAI)):
        assert any("the Frome branch now has enough people and an organiser" in t for t in texts)
    assert any("your first online call" in t for t in telegram_texts(party, ann))
    said = await party.say(ann, "/branch")
    assert "Frome branch: forming (South West region)" in said
    assert "Next step: a first online call." in said

    # 4. The first online call, two days on; recorded once it has taken place.
    call_day = today + dt.timedelta(days=2)
    said = await party.say(ann, f"/meeting online {call_day} 19:00 https://meet.example/frome")
    assert "Post it to the Frome branch?" in said
    said = await party.press(ann, "Confirm")
    call = re.search(r"Posted to the Frome branch: .* Its id is (\d+)", said)
    assert call is not None, said
    await party.deliver()
    assert "https://meet.example/frome" in discord_texts(party, BEA)[-1]
    said = await party.say(ann, f"/meeting held {call.group(1)}")
    assert "has not started yet" in said
    party.to(call_day, 20, 30)
    said = await party.say(ann, f"/meeting held {call.group(1)}")
    assert "That was the Frome branch's first online call." in said
    said = await party.say(ann, "/branch")
    assert "Next step: a first face-to-face meeting that at least 3 people come to" in said

    # 5. The first face-to-face meeting: Bea and Cai answer Going on Discord; at the
    # door Ann presses who came, and counts a guest.
    meeting_day = call_day + dt.timedelta(days=2)
    await party.say(ann, f'/meeting in-person {meeting_day} 11:00 "Market Hall"')
    said = await party.press(ann, "Confirm")
    meeting = re.search(r"Its id is (\d+)", said)
    assert meeting is not None, said
    await party.deliver()
    for user in (BEA, CAI):
        assert "Place: Market Hall" in discord_texts(party, user)[-1]
        assert "You're going ✓ to Frome branch meeting" in await party.click(user, "Going")
    party.to(meeting_day, 13)
    said = await party.say(ann, f"/meeting held {meeting.group(1)}")
    assert "Who came to Frome branch meeting" in said
    await party.press(ann, "Bea")
    await party.press(ann, "Cai")
    assert "So far: 3 people came, counting 1 guest." in await party.press(ann, "+ Guest")
    said = await party.press(ann, "Done")
    assert "first face-to-face meeting, with 3 people: the branch is now active" in said

    # 6. Two days later, Pat records the three founders' dues; affiliation waits for them.
    party.to(meeting_day + dt.timedelta(days=2), 10)
    said = await party.say(pat, "/affiliate Frome")
    assert "has 0 members with paid dues; it needs 3" in said
    paid = (today + dt.timedelta(days=365)).isoformat()
    for handle in ("ann", "bea", "cai"):
        said = await party.say(pat, f"/dues @{handle} {paid}")
        assert f"Dues for {handle.title()} are now paid until {paid}." in said
    said = await party.say(pat, "/affiliate Frome")
    assert "The Frome branch is now affiliated, in the South West region." in said
    await party.deliver()
    assert any(paid in t for t in discord_texts(party, CAI))  # each is told, where they are

    # 7. A poll of the members: Bea votes on Discord, Ann on Telegram; Ann closes it.
    said = await party.say(ann, '/poll "Canvass on which day?" "Saturdays" "Sundays"')
    assert "Who votes: the 3 members with current dues of Frome" in said
    said = await party.press(ann, "Post it")
    poll = re.search(r"Posted \(poll (\d+)\): 3 people can vote", said)
    assert poll is not None, said
    await party.deliver()
    assert "Your vote is recorded: Saturdays." in await party.click(BEA, "Saturdays")
    assert "not voted yet" in await party.say(ann, "/poll")
    await party.press(ann, "Vote 1")
    await party.press(ann, "☐ Saturdays")
    assert "Your vote is recorded: Saturdays." in await party.press(ann, "Cast my vote")
    said = await party.say(ann, f"/poll close {poll.group(1)}")
    assert "• Saturdays: 2\n• Sundays: 0\nDecided: Saturdays." in said
    await party.deliver()
    assert "Decided: Saturdays." in discord_texts(party, BEA)[-1]

    # 8. A council drawn by lot. Each founder opts in and answers the questions.
    for user, gender, age in ((ann, "woman", "30-44"),):
        await party.say(user, "/profile")
        await party.press(user, "Opt in")
        await party.press(user, gender)
        assert "Thank you: you are in the draw." in await party.press(user, age)
    for discord_user, gender, age in ((BEA, "woman", "45-64"), (CAI, "man", "18-29")):
        await party.slash(discord_user, "profile")
        await party.click(discord_user, "Opt in")
        await party.click(discord_user, gender)
        assert "Thank you: you are in the draw." in await party.click(discord_user, age)
    # Ann commits a draw of two, seeded by the next UK Lotto draw's numbers.
    source = lotto(party.clock)
    said = await party.say(ann, f"/draw 2 {source}")
    assert "Pool: 3 people; 2 seats." in said and "TRIAL" not in said
    said = await party.press(ann, "Commit")
    draw = re.search(r"Committed: draw (\d+)", said)
    assert draw is not None, said
    draw_id = draw.group(1)
    said = await party.say(ann, f"/draw seed {draw_id} {LOTTO_RESULT}")
    assert f"The seed of draw {draw_id} does not exist yet" in said  # nobody knows it yet
    assert "Nothing was recorded." in said
    # The result is out: two witnesses, Ann and Bea, enter it, each spelt their way.
    party.to(dt.date.fromisoformat(source.rsplit(":", 1)[1]), 21, 5)
    said = await party.say(ann, f"/draw seed {draw_id} {LOTTO_RESULT}")
    assert "Result noted for draw" in said
    said = await party.slash(BEA, "draw", details=f"seed {draw_id} 58,42,35,23,11,04 bonus 7")
    assert "The 2 people selected have been invited." in said
    await party.deliver()
    names = next(t for t in telegram_texts(party, ann) if t.startswith("Who was drawn"))
    drawn = re.findall(r"P\d+ = (\w+)", names)
    assert len(drawn) == 2 and set(drawn) <= {"Ann", "Bea", "Cai"}, names
    # Each person drawn has an invitation where they are, and accepts it.
    for name in drawn:
        if name == "Ann":
            assert any(
                "drawn by lot for the Frome council" in t for t in telegram_texts(party, ann)
            )
            said = await party.press(ann, "Accept")
        else:
            user = {"Bea": BEA, "Cai": CAI}[name]
            assert any(
                "drawn by lot for the Frome council" in t for t in discord_texts(party, user)
            )
            said = await party.click(user, "Accept")
        assert "Thank you: you are on the council." in said
    assert "checks out" in await party.say(ann, f"/draw verify {draw_id}")
    said = await party.slash(CAI, "council")
    assert all(name in said for name in drawn), said

    # The branch's history: the whole founding path, with its dates.
    said = await party.say(ann, "/branch")
    assert "Frome branch: affiliated (South West region)" in said
    assert (
        f"History: proposed {today}; forming {today}; first online call {call_day}; "
        f"first face-to-face meeting {meeting_day}, 3 came; active {meeting_day}; "
        f"affiliated {meeting_day + dt.timedelta(days=2)}."
    ) in said
