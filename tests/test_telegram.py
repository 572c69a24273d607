"""The Telegram adapter, end to end: the real python-telegram-bot over real HTTP
against a fake Bot API server on 127.0.0.1 (tests/fake_telegram.py)."""

from __future__ import annotations

import asyncio
import datetime as dt
import io
import json
import shutil
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest
import zxingcpp
from PIL import Image
from sqlalchemy import select

from bot.app import build_core
from bot.demo.party import seed_demo
from bot.kernel.clock import SystemClock
from bot.kernel.config import Settings
from bot.kernel.outbox import deliver_pending
from storage.db import Database
from storage.models import Identity, OutboxMessage
from tests.fake_telegram import BOT_USERNAME, FakeTelegram, UploadedFile, free_port
from tests.helpers import catalogues, link_demo_people
from tests.observed import ObservedTelegram

TOKEN = "123456:TEST-TOKEN"


@dataclass
class Rig:
    tg: FakeTelegram
    adapter: ObservedTelegram
    db: Database

    async def handled(self, update: dict[str, Any]) -> None:
        while (await asyncio.wait_for(self.adapter.handled.get(), 10)) != update["update_id"]:
            pass

    async def say(
        self, user: dict[str, Any], text: str, chat: dict[str, Any] | None = None
    ) -> list[str]:
        """``user`` sends ``text``; the texts the bot sent back (anywhere) while handling it."""
        before = len(self.tg.sent())
        await self.handled(self.tg.send_text(user, text, chat))
        return [p.get("text", p.get("caption", "")) for p in self.tg.sent()[before:]]

    async def press(
        self, user: dict[str, Any], label: str, chat_id: int | None = None
    ) -> list[str]:
        """``user`` presses the button labelled ``label`` under the bot's last message."""
        message = self.tg.last_message(chat_id if chat_id is not None else user["id"])
        data = button_data(message, label)
        return await self.press_data(user, message, data)

    async def press_data(
        self, user: dict[str, Any], message: dict[str, Any], data: str
    ) -> list[str]:
        before = len(self.tg.sent())
        await self.handled(self.tg.press(user, message, data))
        return [p.get("text", p.get("caption", "")) for p in self.tg.sent()[before:]]

    async def deliver(self) -> None:
        transports = {self.adapter.transport.platform: self.adapter.transport}
        await deliver_pending(self.db, transports, SystemClock())


def button_data(message: dict[str, Any], label: str) -> str:
    for row in message.get("reply_markup", {}).get("inline_keyboard", []):
        for button in row:
            if button["text"].startswith(label):
                return str(button["callback_data"])
    raise AssertionError(f"no button {label!r} in {message.get('reply_markup')}")


async def _rig(
    tmp_path: Path, sqlite_template: Path, *, username: str = BOT_USERNAME, **settings: Any
) -> AsyncIterator[Rig]:
    path = tmp_path / "organiser.db"
    shutil.copy(sqlite_template, path)
    db = Database(f"sqlite:///{path}")
    base = Settings(party_name="Test Party", telegram_token=TOKEN)
    async with FakeTelegram(username=username) as tg:
        config = replace(base, telegram_base_url=tg.base_url, **settings)
        await seed_demo(db, config, dt.datetime.now(dt.UTC))
        await link_demo_people(db, {"Alice": 101, "Bob": 102, "Carol": 103, "Kai": 111})
        adapter = ObservedTelegram(build_core(db, config), config)
        await adapter.start()
        try:
            yield Rig(tg, adapter, db)
        finally:
            await adapter.stop()
            await db.dispose()


@pytest.fixture
async def rig(tmp_path: Path, sqlite_template: Path) -> AsyncIterator[Rig]:
    async for r in _rig(tmp_path, sqlite_template):
        yield r


async def test_a_newcomer_agrees_joins_and_the_organiser_is_told(rig: Rig) -> None:
    tg = rig.tg
    sam = tg.user(201, "Sam", "sam")
    replies = await rig.say(sam, "/start")
    assert "Privacy:" in replies[0]
    replies = await rig.press(sam, "I agree")
    # The notice is edited to say thanks; the next step comes as a new message.
    assert tg.last_message(201)["text"].startswith("Next, find your local branch")
    assert any(m["text"].startswith("Thank you, Sam") for m in tg.bot_messages(201))
    assert tg.calls_to("answerCallbackQuery"), "every button press is answered"
    replies = await rig.say(sam, "/join Frome")
    assert replies[0].startswith("Welcome to the Frome branch!")
    await rig.deliver()
    assert any("Sam (" in t and "joined the Frome branch" in t for t in tg.sent_texts(101))


async def test_deep_link_starts_joining_that_branch(rig: Rig) -> None:
    una = rig.tg.user(202, "Una")
    await rig.say(una, "/start join-bath")
    await rig.press(una, "I agree")
    assert rig.tg.last_message(202)["text"].startswith("Welcome to the Bath branch!")


async def test_signup_gives_the_deep_link_with_the_name_getme_gave_and_its_qr_code(
    tmp_path: Path, sqlite_template: Path
) -> None:
    """The adapter learns the bot's username from getMe at start-up; /signup's link
    uses it, its QR code comes as a photo, and a newcomer who follows the link says
    where they live and lands in that branch."""
    async for rig in _rig(tmp_path, sqlite_template, username="levellers_join_bot"):
        tg = rig.tg
        assert tg.calls_to("getMe")
        kai = tg.user(111, "Kai", "kai")  # the demo's national admin
        await rig.say(kai, "/signup")
        link = "https://t.me/levellers_join_bot?start=join"
        [photo] = [c.params for c in tg.calls_to("sendPhoto") if c.ok]
        assert photo["chat_id"] == 111 and link in photo["caption"]
        upload = photo["photo"]
        assert isinstance(upload, UploadedFile) and upload.filename == "signup-join.png"
        [code] = zxingcpp.read_barcodes(Image.open(io.BytesIO(upload.content)))
        assert code.text == link
        una = tg.user(202, "Una")
        await rig.say(una, "/start " + link.split("?start=")[1])
        await rig.press(una, "I agree")
        assert tg.last_message(202)["text"].startswith("Where do you live?")
        replies = await rig.say(una, "BA11 4AB")  # plain text, in the private chat
        assert replies[0].startswith("Welcome to the Frome branch!")


async def test_every_command_in_a_scripted_conversation(rig: Rig) -> None:
    tg = rig.tg
    alice, bob, kai = (
        tg.user(101, "Alice", "alice"),
        tg.user(102, "Bob", "bob"),
        tg.user(111, "Kai", "kai"),
    )
    sam = tg.user(201, "Sam", "sam")
    await rig.say(sam, "/start")
    await rig.press(sam, "I agree")
    await rig.say(sam, "/join Frome")
    help_text = (await rig.say(sam, "/help"))[0]
    assert "/join" in help_text and "/promote" not in help_text
    assert "short id is" in (await rig.say(sam, "/me"))[0]
    assert "Frome branch: affiliated" in (await rig.say(alice, "/branch"))[0]
    await rig.press(alice, "Members")
    assert "Sam" in tg.last_message(101)["text"]
    assert "Sam is now organiser" in (await rig.say(alice, "/promote @sam organiser"))[0]
    assert "no longer organiser" in (await rig.say(alice, "/demote @sam organiser"))[0]
    assert "paid until 2027-12-31" in (await rig.say(bob, "/dues @sam 2027-12-31"))[0]
    assert "now affiliated" in (await rig.say(kai, "/affiliate Bath"))[0]
    assert "I don't know the command /frobnicate" in (await rig.say(sam, "/frobnicate"))[0]
    assert "I understand commands" in (await rig.say(sam, "hello there"))[0]
    before = len(tg.sent())
    await rig.handled(tg.send_text(sam, "/mydata"))
    document = tg.sent()[before:][0]
    assert document["document"].filename.startswith("mydata-")
    assert b'"display_name": "Sam"' in document["document"].content
    await rig.say(sam, "/leave")
    await rig.press(sam, "Undo")
    assert "Welcome to the Frome branch" in tg.last_message(201)["text"]
    await rig.say(sam, "/forget")
    await rig.press(sam, "Yes, delete my data")
    assert "deleted" in tg.last_message(201)["text"]
    async with rig.db.transaction() as session:
        gone = await session.scalar(select(Identity).where(Identity.user_id == "201"))
    assert gone is None


async def test_group_chat_linkchat_and_private_replies(rig: Rig) -> None:
    tg = rig.tg
    alice, carol = tg.user(101, "Alice", "alice"), tg.user(103, "Carol", "carol")
    group = tg.group_chat(-1001, "Frome branch")
    replies = await rig.say(alice, "/linkchat@organiser_test_bot", chat=group)
    assert "now receives the Frome branch's announcements" in replies[0]
    # Personal answers asked for in the group go to the person privately.
    await rig.say(carol, "/me", chat=group)
    assert not any("short id" in t for t in tg.sent_texts(-1001))
    assert any("short id" in t for t in tg.sent_texts(103))
    # Someone whose private chat is closed (blocked the bot) is asked to open it.
    dora = tg.user(204, "Dora", "dora")
    await rig.say(dora, "/start")
    await rig.press(dora, "I agree")
    tg.block(204)
    replies = await rig.say(dora, "/me", chat=group)
    assert "open a chat with me" in replies[-1] and "t.me/organiser_test_bot" in replies[-1]


async def test_announcements_reach_the_linked_group(rig: Rig) -> None:
    tg = rig.tg
    group = tg.group_chat(-1002, "Bath branch")
    await link_demo_people(rig.db, {"Erin": 105})
    await rig.say(tg.user(105, "Erin", "erin"), "/linkchat", chat=group)
    await rig.say(tg.user(111, "Kai", "kai"), "/affiliate Bath")
    await rig.deliver()
    assert "The Bath branch is now affiliated to the party, in the South West region." in (
        tg.sent_texts(-1002)
    )


async def test_a_forged_or_stale_button_is_answered_and_changes_nothing(rig: Rig) -> None:
    tg = rig.tg
    sam, mallory = tg.user(201, "Sam", "sam"), tg.user(666, "Mallory", "mallory")
    await rig.say(sam, "/start")
    notice = tg.last_message(201)
    data = button_data(notice, "I agree")
    # Mallory presses Sam's consent button (a forged callback with Sam's prompt id).
    await rig.press_data(mallory, notice, data)
    answers = tg.calls_to("answerCallbackQuery")
    assert answers[-1].params.get("text") == "This button has expired; nothing was changed."
    await rig.press_data(sam, notice, "undo:99999")
    assert tg.calls_to("answerCallbackQuery")[-1].params.get("text", "")  # said, not spinning
    async with rig.db.transaction() as session:
        nobody = await session.scalar(select(Identity).where(Identity.user_id.in_(["201", "666"])))
    assert nobody is None


async def test_a_blocked_person_is_recorded_unreachable_and_not_retried(rig: Rig) -> None:
    tg = rig.tg
    tg.block(101)  # Alice blocked the bot
    sam = tg.user(201, "Sam", "sam")
    await rig.say(sam, "/start")
    await rig.press(sam, "I agree")
    await rig.say(sam, "/join Frome")
    await rig.deliver()
    await rig.deliver()
    tries = [c for c in tg.calls_to("sendMessage") if str(c.params.get("chat_id")) == "101"]
    assert len(tries) == 1
    async with rig.db.transaction() as session:
        alice = await session.scalar(select(Identity).where(Identity.user_id == "101"))
        row = await session.scalar(select(OutboxMessage))
    assert alice is not None and alice.unreachable
    # Alice is still reachable on the console in the demo; the message stays for it.
    assert row is not None and row.status in ("pending", "undeliverable")


async def test_429_is_honoured_and_the_reply_still_arrives(rig: Rig) -> None:
    tg = rig.tg
    sam = tg.user(201, "Sam", "sam")
    tg.fail_next("sendMessage", status=429, retry_after=1)
    replies = await rig.say(sam, "/help")
    assert replies and replies[0].startswith("Here is what you can do")
    statuses = [c.status for c in tg.calls_to("sendMessage")]
    assert statuses[:2] == [429, 200]


async def test_the_command_menu_is_published_for_private_chats_and_groups(rig: Rig) -> None:
    scopes = {json.loads(k[0])["type"]: v for k, v in rig.tg.commands.items()}
    private = {c["command"] for c in scopes["all_private_chats"]}
    group = {c["command"] for c in scopes["all_group_chats"]}
    assert {"start", "join", "mydata", "forget", "promote"} <= private
    assert "linkchat" in group and "mydata" not in group


@pytest.fixture
async def webhook_rig(tmp_path: Path, sqlite_template: Path) -> AsyncIterator[Rig]:
    port = free_port()
    async for r in _rig(
        tmp_path,
        sqlite_template,
        telegram_webhook_url="https://organiser.example.org:8443/hook",
        telegram_webhook_listen="127.0.0.1",
        telegram_webhook_port=port,
        telegram_secret_token="s3cret-Token",
    ):
        r.adapter.port = port  # type: ignore[attr-defined]
        yield r


async def test_webhook_mode_checks_the_secret_token(webhook_rig: Rig) -> None:
    tg, port = webhook_rig.tg, webhook_rig.adapter.port  # type: ignore[attr-defined]
    hook = tg.calls_to("setWebhook")[-1].params
    assert hook["url"] == "https://organiser.example.org:8443/hook"
    assert hook["secret_token"] == "s3cret-Token"
    url = f"http://127.0.0.1:{port}/hook"
    sam = tg.user(201, "Sam", "sam")
    forged = tg.text_update(sam, "/help")
    assert await tg.post_update(url, forged) == 403
    assert await tg.post_update(url, forged, secret_token="wrong") == 403
    good = tg.text_update(sam, "/help")
    assert await tg.post_update(url, good, secret_token="s3cret-Token") == 200
    await webhook_rig.handled(good)
    texts = tg.sent_texts(201)
    assert len(texts) == 1 and texts[0].startswith("Here is what you can do")


async def test_each_chat_keeps_its_own_pace_and_the_memory_is_bounded(rig: Rig) -> None:
    transport = rig.adapter.transport
    assert transport._limiter(1) is transport._limiter(1)
    assert transport._limiter(1) is not transport._limiter(2)
    assert transport._limiter(1).max_rate == 1 and transport._limiter(1).time_period == 1
    for chat in range(20_000):
        transport._limiter(chat)
    assert len(transport._per_chat) == 10_000


async def test_canvassing_over_telegram_with_its_calendar_and_chart(rig: Rig) -> None:
    tg = rig.tg
    alice, carol = tg.user(101, "Alice", "alice"), tg.user(103, "Carol", "carol")
    replies = await rig.say(alice, "/canvass schedule saturday 10:30 Market Cross 8")
    assert replies[0].startswith("Weekly canvassing for Frome")
    await rig.say(carol, "/canvass")
    replies = await rig.press(carol, "Sign up 1")
    assert replies[0].startswith("You're signed up ✓")
    await rig.say(carol, "/canvass")
    before = len(tg.sent())
    await rig.handled(
        tg.press(carol, tg.last_message(103), button_data(tg.last_message(103), "Calendar 1"))
    )
    document = tg.sent()[before:][0]["document"]
    assert document.filename.endswith(".ics") and b"BEGIN:VEVENT" in document.content
    assert "are on" in (await rig.say(carol, "/reminders"))[0]
    before = len(tg.calls_to("sendPhoto"))
    await rig.handled(tg.send_text(alice, "/canvass stats"))
    photos = tg.calls_to("sendPhoto")[before:]
    assert photos and photos[0].params["photo"].content.startswith(b"\x89PNG")
    assert "got through" in (await rig.say(alice, "/delivery"))[0]
    assert "campaign is on" in (await rig.say(alice, "/campaign start By-election 2027-01-14"))[0]


async def test_an_announcement_over_telegram_reaches_members_who_have_not_turned_it_off(
    rig: Rig,
) -> None:
    tg = rig.tg
    alice, carol = tg.user(101, "Alice", "alice"), tg.user(103, "Carol", "carol")
    await rig.say(carol, "/reminders")
    await rig.press(carol, "Region announcements off")
    assert "your region: off" in tg.last_message(103)["text"]  # the screen, edited
    preview = await rig.say(alice, "/announce members: AGM on the 14th")
    assert "Preview of your announcement" in preview[0] and "AGM on the 14th" in preview[0]
    await rig.press(alice, "Send")
    assert "Sent: queued for" in tg.last_message(101)["text"]
    await rig.deliver()
    for member in (102, 103):  # Bob and Carol (Carol turned off only the region's)
        assert any("AGM on the 14th" in t for t in tg.sent_texts(member))
    await rig.say(carol, "/reminders")
    await rig.press(carol, "Branch announcements off")
    await rig.say(alice, "/announce members: Second notice")
    await rig.press(alice, "Send")
    await rig.deliver()
    assert any("Second notice" in t for t in tg.sent_texts(102))
    assert not any("Second notice" in t for t in tg.sent_texts(103))


async def test_checking_in_to_canvassing_over_telegram_and_an_organisers_undo(rig: Rig) -> None:
    from storage.models import Branch, CanvassSession, CanvassSignup, Person

    tg = rig.tg
    alice, carol = tg.user(101, "Alice", "alice"), tg.user(103, "Carol", "carol")
    now = dt.datetime.now(dt.UTC)
    async with rig.db.transaction() as session:  # a session under way, Carol going
        frome = await session.scalar(select(Branch).where(Branch.slug == "frome"))
        person = await session.scalar(select(Person).where(Person.display_name == "Carol"))
        assert frome is not None and person is not None
        item = CanvassSession(
            branch_id=frome.id, starts_at=now - dt.timedelta(minutes=10), meeting_point="Cross"
        )
        session.add(item)
        await session.flush()
        session.add(
            CanvassSignup(session_id=item.id, person_id=person.id, status="going", created_at=now)
        )
    assert "Under way now" in (await rig.say(carol, "/canvass"))[0]
    replies = await rig.press(carol, "I'm here")
    assert replies[0].startswith("Checked in for")
    await rig.say(alice, "/canvass came")
    assert "So far: 1 person came." in tg.last_message(101)["text"]
    await rig.press(alice, "✓ Carol")
    assert "So far: 0 people came." in tg.last_message(101)["text"]  # the sheet, edited


async def test_members_over_telegram_pages_with_its_buttons_and_refuses_a_member(
    rig: Rig,
) -> None:
    from storage.models import Branch, Person

    tg = rig.tg
    alice, carol = tg.user(101, "Alice", "alice"), tg.user(103, "Carol", "carol")
    async with rig.db.transaction() as session:
        frome = await session.scalar(select(Branch).where(Branch.slug == "frome"))
        assert frome is not None
        for i in range(25):
            session.add(
                Person(
                    short_id=f"TG{i:04}",
                    display_name=f"Yan {i:02}",
                    branch_id=frome.id,
                    created_at=dt.datetime.now(dt.UTC),
                )
            )
    first = await rig.say(alice, "/members all yan")
    assert "People (everyone) whose name contains “yan”: 25. Page 1 of 2." in first[0]
    await rig.press(alice, "Next")
    page = tg.last_message(101)["text"]
    assert "Page 2 of 2." in page and "Yan 24" in page and "Yan 00" not in page
    refused = await rig.say(carol, "/members")
    assert "Only organisers, treasurers and the admins over them" in refused[0]
    assert "Yan" not in refused[0]


async def test_a_proposal_over_telegram_with_a_reason_a_block_and_the_decision(rig: Rig) -> None:
    tg = rig.tg
    alice, bob, carol = (
        tg.user(101, "Alice", "alice"),
        tg.user(102, "Bob", "bob"),
        tg.user(103, "Carol", "carol"),
    )
    preview = await rig.say(alice, '/poll "We hire the hall" --proposal --quorum 50%')
    assert "Quorum: 50% of the roll must vote." in preview[0]
    await rig.press(alice, "Post it")
    await rig.deliver()
    assert "Why?" in (await rig.press(carol, "Block"))[0]
    assert "without your name" in (await rig.say(carol, "Too far from the station"))[0]
    await rig.press(bob, "Agree")
    await rig.deliver()
    told = [t for t in tg.sent_texts(101) if "blocks the proposal" in t]
    assert len(told) == 1 and told[0].startswith("Carol blocks the proposal")
    result = "\n".join(await rig.say(alice, "/poll close 1"))
    assert "Not carried: the threshold was missed (1 of the 2 votes cast agree" in result
    assert "• Block: Too far from the station" in result


async def test_a_dues_renewal_reminder_reaches_the_member_privately_over_telegram(
    rig: Rig,
) -> None:
    from bot.members.renewals import remind_renewals
    from storage.models import Person

    now = dt.datetime.now(dt.UTC)
    async with rig.db.transaction() as session:  # Carol's dues end in five days
        carol = await session.scalar(select(Person).where(Person.display_name == "Carol"))
        assert carol is not None
        carol.dues_paid_until = now.date() + dt.timedelta(days=5)
    settings = Settings(dues_renewal="https://party.example/renew")
    assert await remind_renewals(rig.db, settings, now) == 1
    assert await remind_renewals(rig.db, settings, now) == 0  # the job again: once only
    await rig.deliver()
    got = [t for t in rig.tg.sent_texts(103) if "Your membership dues are paid until" in t]
    assert len(got) == 1 and "To renew: https://party.example/renew" in got[0]
    assert not any("membership dues are paid" in t for t in rig.tg.sent_texts(102))


# Two languages of a catalogue made for the test (not the shipped translations).
MENU_CATALOGUES = {
    "cy": {"find your local branch and join it": "dewch o hyd i'ch cangen leol ac ymunwch"},
    "es": {"find your local branch and join it": "encuentra tu grupo local y únete"},
}


@pytest.fixture
async def menus_rig(tmp_path: Path, sqlite_template: Path) -> AsyncIterator[Rig]:
    with catalogues(tmp_path / "locale", MENU_CATALOGUES):
        async for r in _rig(tmp_path, sqlite_template):
            yield r


async def test_the_command_menus_are_published_in_each_language(menus_rig: Rig) -> None:
    menus = {
        (json.loads(scope)["type"], language): {c["command"]: c["description"] for c in menu}
        for (scope, language), menu in menus_rig.tg.commands.items()
    }
    # The default menu (no language code) and one per catalogue, for each kind of chat.
    assert set(menus) == {
        (chats, language)
        for chats in ("all_private_chats", "all_group_chats")
        for language in ("", "cy", "es")
    }
    assert menus["all_private_chats", ""]["join"] == "find your local branch and join it"
    assert menus["all_private_chats", "cy"]["join"] == "dewch o hyd i'ch cangen leol ac ymunwch"
    assert menus["all_private_chats", "es"]["join"] == "encuentra tu grupo local y únete"
    # Each language's menu offers the same commands; what is not translated reads English.
    assert menus["all_private_chats", "es"].keys() == menus["all_private_chats", ""].keys()
    assert menus["all_private_chats", "es"]["mydata"] == menus["all_private_chats", ""]["mydata"]
    assert "linkchat" in menus["all_group_chats", "cy"]
