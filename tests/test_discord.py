"""The Discord adapter, end to end: the real discord.py over real HTTP and a real
gateway WebSocket against a fake Discord on 127.0.0.1 (tests/fake_discord.py)."""

from __future__ import annotations

import asyncio
import datetime as dt
import re
import shutil
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import discord
import pytest
from sqlalchemy import func, select

from adapters.cli import token_refused
from adapters.discord import DEFER_AFTER, DiscordAdapter
from adapters.discord_replies import MAX_TEXT, chunks
from bot.app import build_core, build_handlers
from bot.demo.party import seed_demo
from bot.kernel.clock import SystemClock
from bot.kernel.config import Settings
from bot.kernel.core import Core
from bot.kernel.messages import Reply, Request
from bot.kernel.outbox import deliver_pending
from runtime.meta import Memory
from storage.db import Database
from storage.models import (
    Ballot,
    CanvassSignup,
    Identity,
    OutboxMessage,
    Poll,
    SecretBallot,
)
from tests.fake_discord import CHANNELS, EPHEMERAL, GUILD_ID, TOKEN, FakeDiscord, InteractionRecord
from tests.helpers import Chat, catalogues, confirm_link, link_demo_people, snapshot
from tests.observed import ObservedDiscord

ALICE, BOB, CAROL, DAN, KAI = 401, 402, 403, 404, 411
STRANGER = 499
APOLOGY = "something went wrong on our side"


@dataclass
class Rig:
    fake: FakeDiscord
    adapter: ObservedDiscord
    db: Database
    settings: Settings
    answer_within: float = 3.0  # the fake's time to answer an interaction, the adapter's too

    async def done(self, record: InteractionRecord) -> None:
        while (await asyncio.wait_for(self.adapter.handled.get(), 10)) != record.id:
            pass

    def answers(self, record: InteractionRecord) -> list[dict[str, Any]]:
        """The messages the bot answered with: the response, then any follow-ups."""
        out = []
        if record.response_type == 4:
            out.append(record.response_data or {})
        out += self.fake.followups(record)
        return out

    async def slash(
        self, user: int, name: str, guild: bool = True, channel: str = "general", **options: Any
    ) -> list[dict[str, Any]]:
        record = await self.fake.slash(
            user,
            name,
            options or None,
            guild=guild,
            channel_id=CHANNELS[channel] if guild else None,
        )
        await self.done(record)
        answers = self.answers(record)
        for answer in answers:
            assert "Traceback" not in answer.get("content", "")
            assert APOLOGY not in answer.get("content", ""), answer
        return answers

    async def click(self, user: int, custom_id: str, **where: Any) -> list[dict[str, Any]]:
        record = await self.fake.click(user, custom_id, **where)
        await self.done(record)
        out = []
        if record.response_type in (4, 7):
            out.append(record.response_data or {})
        return out + self.fake.followups(record)

    async def restart(self) -> None:
        await self.adapter.stop()
        self.adapter = await start_adapter(self.db, self.settings, self.answer_within)

    async def deliver(self) -> None:
        transports = {self.adapter.transport.platform: self.adapter.transport}
        await deliver_pending(self.db, transports, SystemClock())


def contents(answers: list[dict[str, Any]]) -> str:
    return "\n".join(a.get("content", "") for a in answers)


def ephemeral(answer: dict[str, Any]) -> bool:
    return bool(int(answer.get("flags", 0) or 0) & EPHEMERAL)


def custom_ids(answer: dict[str, Any]) -> dict[str, str]:
    """label -> custom_id of the buttons on a message."""
    return {
        c["label"]: c["custom_id"]
        for row in answer.get("components", [])
        for c in row.get("components", [])
    }


async def start_adapter(
    db: Database, settings: Settings, answer_within: float = 3.0
) -> ObservedDiscord:
    adapter = ObservedDiscord(
        build_core(db, settings),
        settings,
        memory=Memory(db),  # what was published, as `organiser run` keeps it
        answer_within=answer_within,
        guild_ready_timeout=0.05,
    )
    await adapter.start()
    return adapter


async def _rig(
    tmp_path: Path, sqlite_template: Path, answer_within: float = 3.0, **changes: Any
) -> AsyncIterator[Rig]:
    path = tmp_path / "organiser.db"
    shutil.copy(sqlite_template, path)
    db = Database(f"sqlite:///{path}")
    settings = replace(Settings(party_name="Test Party", discord_token=TOKEN), **changes)
    await seed_demo(db, settings, dt.datetime.now(dt.UTC))
    await link_demo_people(
        db, {"Alice": ALICE, "Bob": BOB, "Carol": CAROL, "Dan": DAN, "Kai": KAI}, "discord"
    )
    async with FakeDiscord(answer_within=answer_within) as fake:
        for uid, name in ((ALICE, "alice"), (BOB, "bob"), (CAROL, "carol"), (DAN, "dan")):
            fake.user(uid, name)
        fake.user(KAI, "kai")
        fake.user(STRANGER, "sam", global_name="Sam")
        adapter = await start_adapter(db, settings, answer_within)
        rig = Rig(fake, adapter, db, settings, answer_within)
        try:
            yield rig
        finally:
            await rig.adapter.stop()
            await db.dispose()


@pytest.fixture
async def rig(tmp_path: Path, sqlite_template: Path) -> AsyncIterator[Rig]:
    async for r in _rig(tmp_path, sqlite_template):
        yield r


# Values a person might give each option, to try every command.
SAMPLE = {
    "place": "Frome",
    "branch": "Frome",
    "person": "carol",
    "role": "organiser",
    "level": None,
    "paid_until": "2027-01-31",
    "region": None,
    "setting": "off",
    "code": "ABCD-EFGH",
    "details": None,
}


async def test_every_command_answers_as_a_slash_command_for_everyone(rig: Rig) -> None:
    commands = rig.fake.registered_commands()
    assert {c["name"] for c in commands} >= {"join", "me", "link", "linkchannel", "canvass"}
    for user in (STRANGER, DAN, ALICE):
        for command in commands:
            options = {
                o["name"]: SAMPLE[o["name"]]
                for o in command.get("options", [])
                if SAMPLE.get(o["name"]) is not None
            }
            answers = await rig.slash(user, command["name"], **options)
            assert answers and all(a.get("content") for a in answers), command["name"]


async def test_personal_answers_are_ephemeral_in_a_server(rig: Rig) -> None:
    (me,) = await rig.slash(ALICE, "me")
    assert ephemeral(me) and "Frome" in me["content"]
    help_ = await rig.slash(ALICE, "help")  # long: in more than one message
    assert help_ and not any(ephemeral(part) for part in help_)
    # A refusal is for the one who asked, too.
    (refused,) = await rig.slash(DAN, "promote", person="carol", role="organiser")
    assert ephemeral(refused) and "cannot find carol" in refused["content"]
    # In a DM there is nobody else to hide it from.
    (dm,) = await rig.slash(ALICE, "me", guild=False)
    assert not ephemeral(dm) and "Frome" in dm["content"]


async def test_the_slash_commands_are_the_command_descriptions(rig: Rig) -> None:
    """Discord's forms come from the commands' own descriptions: every command,
    under its Discord name, with its typed options (people and branches suggested
    as typed, roles and places from the vocabulary), described in the catalogue's
    words."""
    registered = {c["name"]: c for c in rig.fake.registered_commands()}
    specs = build_core(rig.db, rig.settings).commands
    assert set(registered) == {spec.name_on("discord") for spec in specs}
    assert "linkchannel" in registered and "linkchat" not in registered

    def shape(name: str) -> list[tuple[Any, ...]]:
        return [
            (
                o["name"],
                bool(o.get("required")),
                bool(o.get("autocomplete")),
                [c["value"] for c in o.get("choices", [])],
                o["description"],
            )
            for o in registered[name].get("options", [])
        ]

    assert shape("promote") == [
        ("person", True, True, [], "who"),
        ("role", True, False, ["organiser", "treasurer", "admin"], "which role"),
        ("level", False, False, ["branch", "region", "national"], "where (default: their branch)"),
    ]
    assert shape("join") == [("place", True, True, [], "your town or postcode")]
    assert shape("reminders") == [("setting", False, False, ["on", "off"], "on or off")]
    assert shape("me") == [] and shape("unlinkchannel") == []
    assert shape("poll") == [("details", False, False, [], "what to do (see /help)")]


async def test_options_become_the_command_text(rig: Rig) -> None:
    answers = await rig.slash(ALICE, "promote", person="carol", role="organiser")
    assert answers
    async with rig.db.transaction() as session:
        from storage.models import Person, RoleGrant

        carol = await session.scalar(select(Person).where(Person.display_name == "Carol"))
        assert carol is not None
        roles = set(
            await session.scalars(select(RoleGrant.role).where(RoleGrant.person_id == carol.id))
        )
    assert "organiser" in roles


async def test_autocomplete_names_branches_and_people_only_for_staff(rig: Rig) -> None:
    record = await rig.fake.autocomplete(STRANGER, "join", {"place": "fr"})
    choices = (await rig.fake.wait_response(record))["data"]["choices"]
    assert [c["name"] for c in choices] == ["Frome"]
    record = await rig.fake.autocomplete(ALICE, "promote", {"person": "car"})
    choices = (await rig.fake.wait_response(record))["data"]["choices"]
    assert len(choices) == 1 and choices[0]["name"].startswith("Carol (")
    # A supporter cannot list people.
    record = await rig.fake.autocomplete(DAN, "promote", {"person": "car"})
    assert (await rig.fake.wait_response(record))["data"]["choices"] == []
    # An organiser of Frome is not shown Bath's people.
    record = await rig.fake.autocomplete(ALICE, "promote", {"person": "femi"})
    assert (await rig.fake.wait_response(record))["data"]["choices"] == []


async def test_buttons_keep_working_after_a_restart(rig: Rig) -> None:
    await rig.slash(ALICE, "canvass", details="schedule saturday 10:30 Market Cross 8")
    (listing,) = await rig.slash(CAROL, "canvass", guild=False)
    ids = custom_ids(listing)
    assert re.fullmatch(r"cvgo:\d+", ids["Sign up 1"])
    synced = rig.fake.sync_count
    await rig.restart()
    assert rig.fake.sync_count == synced  # unchanged commands are not published again
    answers = await rig.click(CAROL, ids["Sign up 1"])
    assert "You're signed up ✓" in contents(answers)
    async with rig.db.transaction() as session:
        assert await session.scalar(select(func.count()).select_from(CanvassSignup)) == 1


async def test_a_forged_or_stale_custom_id_changes_nothing(rig: Rig) -> None:
    # Carol (also on the console) is offered to unlink that account; Dan presses it.
    (answer,) = await rig.slash(CAROL, "unlink")
    carols = custom_ids(answer)["Unlink console"]
    await rig.slash(DAN, "me")  # (his last-seen time is refreshed now, not below)
    before = await snapshot(rig.db)
    forgeries = (carols, "undo:1", "forget:1", "mtdone:2", "nonsense", "cvgo:99999")
    for forged in forgeries:
        answers = await rig.click(DAN, forged, guild=True, channel_id=CHANNELS["general"])
        said = contents(answers)
        assert "expired" in said or "Only the organisers" in said, forged
        assert all(ephemeral(a) for a in answers if a.get("content"))
    after = await snapshot(rig.db)
    assert {k: v for k, v in after.items() if k != "audit_log"} == {
        k: v for k, v in before.items() if k != "audit_log"
    }


async def _posted_poll(rig: Rig, line: str) -> int:
    (preview,) = await rig.slash(ALICE, "poll", guild=False, details=line)
    (posted,) = await rig.click(ALICE, custom_ids(preview)["Post it"], guild=False)
    assert posted["content"].startswith("Posted (poll "), posted
    async with rig.db.transaction() as session:
        return int(await session.scalar(select(func.max(Poll.id))) or 0)


async def _vote(rig: Rig, poll: int, options: list[str], cleared: str = "") -> str:
    """Carol opens her ballot in her DMs, ticks ``options`` and casts it; what she is
    told. With ``cleared``, she first ticks that option and presses Clear."""
    (ballot,) = await rig.click(CAROL, f"pollopen:{poll}", guild=False)
    if cleared:
        (ballot,) = await rig.click(CAROL, custom_ids(ballot)[f"☐ {cleared}"], guild=False)
        (ballot,) = await rig.click(CAROL, custom_ids(ballot)["Clear"], guild=False)
        assert not any(label.startswith("☑") for label in custom_ids(ballot)), ballot
        assert "Cast my vote" not in custom_ids(ballot)
    for option in options:
        (ballot,) = await rig.click(CAROL, custom_ids(ballot)[f"☐ {option}"], guild=False)
        assert f"☑ {option}" in custom_ids(ballot), ballot
        assert "Clear" in custom_ids(ballot)
    (cast,) = await rig.click(CAROL, custom_ids(ballot)["Cast my vote"], guild=False)
    return str(cast["content"])


async def test_a_voter_can_tick_and_cast_a_ballot_on_discord(rig: Rig) -> None:
    """Discord refuses a message whose buttons share a custom_id (400, 50035
    COMPONENT_CUSTOM_ID_DUPLICATED): with one option ticked, the ballot's Clear
    button must not carry the same data as that option's untick."""
    nights = await _posted_poll(rig, '"Which nights?" "Mon" "Tue" "Wed" --multi')
    assert "Your vote is recorded: Tue." in await _vote(rig, nights, ["Tue"], cleared="Mon")
    delegate = await _posted_poll(rig, '"Elect Carol as delegate?" "Yes" "No" --secret')
    assert "secret ballot is cast" in await _vote(rig, delegate, ["No"])
    refused = [(r.path, r.response) for r in rig.fake.requests if (r.status or 0) >= 400]
    assert refused == []
    async with rig.db.transaction() as session:
        assert await session.scalar(select(func.count()).select_from(Ballot)) == 1
        assert await session.scalar(select(func.count()).select_from(SecretBallot)) == 1


async def test_a_refused_dm_marks_the_account_unreachable(rig: Rig) -> None:
    rig.fake.refuse_dms(CAROL)
    await rig.slash(ALICE, "promote", person="carol", role="organiser")
    await rig.slash(ALICE, "promote", person="bob", role="organiser")
    await rig.deliver()
    assert any("organiser" in m["content"] for m in rig.fake.messages_to(BOB))
    assert rig.fake.messages_to(CAROL) == []
    async with rig.db.transaction() as session:
        identity = await session.scalar(
            select(Identity).where(Identity.platform == "discord", Identity.user_id == str(CAROL))
        )
        assert identity is not None and identity.unreachable
        statuses = list(await session.scalars(select(OutboxMessage.status)))
    assert "undeliverable" in statuses and "sent" in statuses


async def test_a_linked_channel_receives_the_branch_announcements(rig: Rig) -> None:
    (answer,) = await rig.slash(KAI, "linkchannel", channel="announcements", branch="Bath")
    assert "now receives the Bath branch's announcements" in answer["content"]
    await rig.slash(KAI, "affiliate", branch="Bath")
    await rig.deliver()
    posted = [m["content"] for m in rig.fake.channel_messages(CHANNELS["announcements"])]
    assert any("affiliated" in text for text in posted), posted


async def test_one_person_on_telegram_and_discord_signs_up_once(rig: Rig) -> None:
    telegram = Chat(build_core(rig.db, rig.settings), SystemClock(), platform="telegram")
    await telegram.say("Tess", "/start")
    await telegram.press("Tess", "I agree")
    await telegram.say("Tess", "/join Frome")
    code = re.search(r"[0-9A-Z]{4}-[0-9A-Z]{4}", (await telegram.say("Tess", "/link"))[0].text)
    assert code is not None
    rig.fake.user(450, "tess")
    (asked,) = await rig.slash(450, "link", guild=False, code=code.group(0))
    assert asked["content"].startswith("Almost done: to confirm, press Link it")
    await confirm_link(telegram, "Tess", "telegram")
    await rig.deliver()
    linked = rig.fake.messages_to(450)[-1]
    assert linked["content"].startswith("Linked: this Discord account now belongs to your record")
    await rig.slash(ALICE, "canvass", details="schedule saturday 10:30 Market Cross 8")
    # She presses Sign up on both platforms at the same instant.
    await telegram.say("Tess", "/canvass")
    (listing,) = await rig.slash(450, "canvass", guild=False)
    on_discord = custom_ids(listing)["Sign up 1"]
    await asyncio.gather(
        telegram.press("Tess", "Sign up 1"), rig.click(450, on_discord, guild=False)
    )
    (listing,) = await rig.slash(450, "canvass", guild=False)
    assert "7 places left · you're going ✓" in listing["content"]
    (mine,) = await rig.slash(450, "me", guild=False)
    assert "Frome" in mine["content"]
    async with rig.db.transaction() as session:
        assert await session.scalar(select(func.count()).select_from(CanvassSignup)) == 1


async def test_a_slow_answer_is_deferred_then_followed_up(rig: Rig) -> None:
    rig.adapter.defer_after = 0.0
    record = await rig.fake.slash(ALICE, "me", None, channel_id=CHANNELS["general"])
    await rig.done(record)
    response = await rig.fake.wait_response(record)
    assert response["type"] == 5 and ephemeral(response["data"])
    (followup,) = rig.fake.followups(record)
    assert "Frome" in followup["content"]


async def test_a_slow_public_answer_does_not_stay_hidden_behind_its_deferral(rig: Rig) -> None:
    """In a server the deferral is ephemeral (the core has not said yet whether
    its reply is personal); a public reply then replaces it as a new message."""
    rig.adapter.defer_after = 0.0
    record = await rig.fake.slash(ALICE, "help", None, channel_id=CHANNELS["general"])
    await rig.done(record)
    response = await rig.fake.wait_response(record)
    assert response["type"] == 5 and ephemeral(response["data"])
    followups = rig.fake.followups(record)
    assert followups[0]["content"].startswith("Here is what you can do:")
    assert not any(ephemeral(f) for f in followups)
    posted = [m["content"] for m in rig.fake.channel_messages(CHANNELS["general"])]
    assert any(text.startswith("Here is what you can do:") for text in posted)


class HeldCore(Core):
    """The real core, holding every answer until the test lets it go: a command
    as slow as the test needs, without a sleep."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.release = asyncio.Event()

    async def handle(self, request: Request) -> list[Reply]:
        await self.release.wait()
        return await super().handle(request)


def held(rig: Rig) -> HeldCore:
    assert isinstance(rig.adapter.core, HeldCore)
    return rig.adapter.core


@pytest.fixture
async def quick_rig(tmp_path: Path, sqlite_template: Path) -> AsyncIterator[Rig]:
    """Discord's 3 seconds to answer shortened to 0.6 for speed, in the fake and
    the adapter alike (its deferral scales with it); the core held by the test."""
    async for r in _rig(tmp_path, sqlite_template, answer_within=0.6):
        r.adapter.core = HeldCore(r.db, r.settings, build_handlers())
        yield r


async def test_a_command_slower_than_discord_allows_is_deferred_in_time_and_answered(
    quick_rig: Rig,
) -> None:
    rig = quick_rig
    record = await rig.fake.slash(ALICE, "me", None, channel_id=CHANNELS["general"])
    # The core is still working; the adapter acknowledges before Discord gives up.
    response = await rig.fake.wait_response(record)
    assert response["type"] == 5 and ephemeral(response["data"])
    await rig.fake.wait_until(lambda: time.monotonic() >= record.deadline)
    held(rig).release.set()
    await rig.done(record)
    assert not record.failed  # Alice never sees "This interaction failed"
    (answer,) = rig.fake.followups(record)
    assert "Frome" in answer["content"] and ephemeral(answer)


async def test_an_answer_later_than_discord_allows_is_refused_and_sent_by_dm(
    quick_rig: Rig,
) -> None:
    """The control: an adapter that thinks it has Discord's full 3 seconds does
    not defer in time; the fake refuses its late answer as Discord would, the
    user sees "This interaction failed", and the answer reaches them by DM."""
    rig = quick_rig
    rig.adapter.defer_after = DEFER_AFTER
    record = await rig.fake.slash(ALICE, "me", None, channel_id=CHANNELS["general"])
    await rig.fake.wait_until(lambda: record.failed, 5, "the interaction to fail")
    held(rig).release.set()
    await rig.done(record)
    (late,) = rig.fake.requests_to(f"/interactions/{record.id}/*/callback")
    assert (late.status, late.response["code"]) == (404, 10062)
    assert record.failed and record.callback is None
    (dm,) = rig.fake.messages_to(ALICE)
    assert "Frome" in dm["content"]


async def test_commands_are_published_to_one_server_in_development(
    tmp_path: Path, sqlite_template: Path
) -> None:
    async for rig in _rig(tmp_path, sqlite_template, discord_guild_id=str(GUILD_ID)):
        names = {c["name"] for c in rig.fake.registered_commands(GUILD_ID)}
        assert "join" in names and "linkchannel" in names
        (answer,) = await rig.slash(ALICE, "me")
        assert "Frome" in answer["content"]


async def test_a_refused_token_is_said_in_one_line(tmp_path: Path, sqlite_template: Path) -> None:
    path = tmp_path / "organiser.db"
    shutil.copy(sqlite_template, path)
    db = Database(f"sqlite:///{path}")
    settings = Settings(discord_token="not-the-token")
    try:
        async with FakeDiscord(token=TOKEN):
            adapter = DiscordAdapter(build_core(db, settings), settings, guild_ready_timeout=0.05)
            with pytest.raises(discord.LoginFailure) as caught:
                await adapter.start()
            await adapter.stop()
    finally:
        await db.dispose()
    assert token_refused(caught.value) == (
        "Discord refused discord.token: check it in the developer portal"
    )


def test_option_values_are_typed_as_the_command_would_be() -> None:
    """What the core is handed from a slash command: the text a person would type
    on Telegram, with an option's words before its value, unset options left out."""
    specs = {spec.name: spec for spec in build_core(Database("sqlite://"), Settings()).commands}
    affiliate, promote = specs["affiliate"], specs["promote"]
    assert affiliate.typed({"branch": "Bath", "region": " South West "}) == (
        "/affiliate Bath to South West"
    )
    assert affiliate.typed({"branch": "Bath", "region": None}) == "/affiliate Bath"
    assert promote.typed({"person": "carol", "role": "admin", "level": "  "}) == (
        "/promote carol admin"
    )


def test_long_texts_are_split_at_line_ends() -> None:
    text = "\n".join(f"line {i} " + "x" * 50 for i in range(200))
    parts = chunks(text)
    assert all(len(p) <= MAX_TEXT for p in parts)
    assert "\n".join(parts) == text
    assert chunks("y" * (MAX_TEXT * 2 + 5)) == ["y" * MAX_TEXT, "y" * MAX_TEXT, "y" * 5]


async def test_an_announcement_over_discord_previews_sends_once_and_reaches_members(
    rig: Rig,
) -> None:
    (preview,) = await rig.slash(ALICE, "announce", guild=False, details="members: AGM on the 14th")
    assert "Preview of your announcement" in preview["content"]
    send = custom_ids(preview)["Send"]
    assert "Sent: queued for" in contents(await rig.click(ALICE, send))
    assert "already sent" in contents(await rig.click(ALICE, send))
    await rig.deliver()
    for member in (BOB, CAROL):
        got = [m for m in rig.fake.messages_to(member) if "AGM on the 14th" in m["content"]]
        assert len(got) == 1
    assert not any("AGM on the 14th" in m["content"] for m in rig.fake.messages_to(DAN))


async def test_checking_in_to_canvassing_on_discord_and_an_organisers_undo(rig: Rig) -> None:
    from storage.models import Branch, CanvassAttendance, CanvassSession, CanvassSignup, Person

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
    (listing,) = await rig.slash(CAROL, "canvass", guild=False)
    here = custom_ids(listing)["I'm here"]
    for _ in range(2):  # pressed twice: counted once
        assert "checked in" in contents(await rig.click(CAROL, here)).lower()
    async with rig.db.transaction() as session:
        assert await session.scalar(select(func.count()).select_from(CanvassAttendance)) == 1
    (sheet,) = await rig.slash(ALICE, "canvass", guild=False, details="came")
    assert "So far: 1 person came." in sheet["content"]
    answers = await rig.click(ALICE, custom_ids(sheet)["✓ Carol"])
    assert "So far: 0 people came." in contents(answers)


async def test_members_export_as_a_slash_command_is_a_csv_of_the_branch(rig: Rig) -> None:
    [answer] = await rig.slash(ALICE, "members", show="export", filter="members")
    assert "as a spreadsheet" in answer["content"]
    [attachment] = answer["attachments"]
    assert attachment["filename"].startswith("members-") and attachment["filename"].endswith(".csv")
    [refused] = await rig.slash(CAROL, "members")
    assert "Only organisers, treasurers" in refused["content"]


async def test_a_proposal_on_discord_with_a_reason_by_command_and_the_decision(rig: Rig) -> None:
    poll = await _posted_poll(rig, '"We hire the hall" --proposal --threshold 2/3')
    await rig.deliver()
    cast = await rig.click(CAROL, f"pv:{poll}.0", guild=False)
    assert "Your vote is recorded: Agree." in contents(cast) and f"/poll why {poll}" in contents(
        cast
    )
    why = await rig.slash(CAROL, "poll", guild=False, details=f"why {poll} Central and cheap")
    assert "without your name" in contents(why)
    await rig.click(BOB, f"pv:{poll}.2", guild=False)
    (closed,) = await rig.slash(ALICE, "poll", guild=False, details=f"close {poll}")
    assert (
        "Not carried: the threshold was missed (1 of the 2 votes cast agree; 2 needed: two thirds)."
        in closed["content"]
    )
    assert "• Agree: Central and cheap" in closed["content"]


async def test_a_dues_renewal_reminder_reaches_the_member_privately_on_discord(rig: Rig) -> None:
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
    got = [
        m["content"]
        for m in rig.fake.messages_to(CAROL)
        if "Your membership dues are paid until" in m["content"]
    ]
    assert len(got) == 1 and "To renew: https://party.example/renew" in got[0]
    assert not any("membership dues are paid" in m["content"] for m in rig.fake.messages_to(BOB))


# Two languages of a catalogue made for the test (not the shipped translations).
JOIN, PLACE = "find your local branch and join it", "your town or postcode"
MENU_CATALOGUES = {
    "cy": {JOIN: "dewch o hyd i'ch cangen leol ac ymunwch"},
    "es": {JOIN: "encuentra tu grupo local y únete", PLACE: "tu ciudad o código postal"},
}


async def _localized_commands(
    tmp_path: Path, sqlite_template: Path, **settings: Any
) -> dict[str, dict[str, Any]]:
    with catalogues(tmp_path / "locale", MENU_CATALOGUES):
        rigs = _rig(tmp_path, sqlite_template, **settings)
        try:
            rig = await anext(rigs)
            return {c["name"]: c for c in rig.fake.registered_commands()}
        finally:
            await rigs.aclose()


async def test_the_slash_commands_are_described_in_each_language(
    tmp_path: Path, sqlite_template: Path
) -> None:
    registered = await _localized_commands(tmp_path, sqlite_template)
    join = registered["join"]
    assert join["description"] == JOIN
    # Spanish in both of Discord's Spanish locales; Discord has no Welsh one (the fake
    # refuses a locale Discord does not know, as Discord does).
    spanish = "encuentra tu grupo local y únete"
    assert join["description_localizations"] == {"es-ES": spanish, "es-419": spanish}
    (place,) = join["options"]
    assert place["description"] == PLACE
    assert place["description_localizations"] == {
        "es-ES": "tu ciudad o código postal",
        "es-419": "tu ciudad o código postal",
    }
    # Names are typed the same in every language; an untranslated sentence is left
    # to the default.
    assert not join.get("name_localizations")
    assert not registered["mydata"].get("description_localizations")


async def test_a_spanish_party_describes_its_commands_in_english_to_english_clients(
    tmp_path: Path, sqlite_template: Path
) -> None:
    registered = await _localized_commands(tmp_path, sqlite_template, default_locale="es")
    join = registered["join"]
    assert join["description"] == "encuentra tu grupo local y únete"
    assert join["description_localizations"] == {"en-US": JOIN, "en-GB": JOIN}
    assert join["options"][0]["description"] == "tu ciudad o código postal"
