"""Property tests of the adapters: whatever a platform delivers, the person gets a
clear answer the platform accepts, and a refusal changes nothing.

tests/test_properties.py fuzzes the core directly; here the same kind of input
goes the whole way: the fake platform (tests/fake_telegram.py,
tests/fake_discord.py) delivers it to the real library (python-telegram-bot,
discord.py), the adapter parses it, the core answers, and the adapter sends the
answer back, where the fake checks it as the platform would (length, HTML, empty
texts, callback answers, components, autocomplete choices, @everyone).

Input: every registered command (on Discord, as its slash command with typed
options) and every registered button action, with arbitrary text (any Unicode
a platform carries: NUL, zero-width and right-to-left marks, emoji), huge text
up to the platform's own limits (a Telegram message 4096, callback data 64
bytes, a Discord option 6000, a custom_id 100), markup (HTML tags, Markdown,
@everyone, @here) and arbitrary button data, from a stranger, a newcomer, a
member, an organiser, a treasurer and a national admin.

For every example:

- the adapter finished with the update/interaction and nothing was logged at
  ERROR (no traceback, no apology for an internal error);
- the person got an answer: a message with text (Telegram: sent to them or to
  the group; Discord: the interaction's response and follow-ups), every call the
  adapter made was accepted by the fake, and a button press was answered once;
- no message from the bot notifies @everyone or @here;
- a refusal (a reply the core marked ``error``) changed nothing but, at most,
  one "refused" audit row of that person (and /link's remembered failures).

A request that changed the party is undone before the next example, as in
tests/test_properties.py, so that every example meets the same party.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
import os
import shutil
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select, update

from bot.app import build_handlers
from bot.demo.party import seed_demo
from bot.kernel.clock import FixedClock
from bot.kernel.config import Settings
from bot.kernel.core import Core
from bot.kernel.messages import Reply, Request
from storage.db import Database
from storage.models import AuditEntry, Base, Branch, Identity, Person, Prompt
from tests.fake_discord import CHANNELS, EPHEMERAL, FakeDiscord, InteractionRecord
from tests.fake_discord import TOKEN as DISCORD_TOKEN
from tests.fake_telegram import FakeTelegram
from tests.helpers import link_demo_people, snapshot
from tests.observed import ObservedDiscord, ObservedTelegram

NOW = dt.datetime(2026, 11, 26, 12, 0, tzinfo=dt.UTC)
TELEGRAM_TOKEN = "123456:FUZZ"
HANDLERS = build_handlers()
COMMAND_NAMES = sorted(HANDLERS.commands)
ACTION_NAMES = sorted(HANDLERS.actions)
APOLOGY = "something went wrong on our side"
WAIT = 5.0  # seconds an adapter may take over one update or interaction (far more than it does)
AUDIT_COLUMNS = [c.name for c in AuditEntry.__table__.columns]
# A wrong /link or /claim code is remembered even though it changes nothing else (it
# limits guessing).
REMEMBERED_FAILURES = {"link": {"link_failures"}, "claim": {"link_failures"}}

# Examples per platform: few, so that the file stays within seconds; a deeper search
# now and then: ORGANISER_FUZZ_EXAMPLES=500 pytest tests/test_fuzz_adapters.py
EXAMPLES = int(os.environ.get("ORGANISER_FUZZ_EXAMPLES", "60"))
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    report_multiple_bugs=False,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

# --- what platforms deliver -------------------------------------------------------------

HOSTILE = [
    "<b>bold</b>",
    "</a>",
    "<a href='javascript:x'>",
    "<script>alert(1)</script>",
    "&amp;&lt;&",
    "*bold* _it_ `code` ```pre```",
    "[link](http://example.org)",
    "_*`[]()~>#+-=|{}.!",
    "@everyone",
    "@here",
    "<@&1200000000000000000>",
    "<@401>",
    "\x00",
    "a\x00b",
    "\u200b",
    "\u200d",
    "\u2060",
    "\ufeff",
    "\u202e",
    "\u202d",
    "\u2067",
    "\u061c",
    "\n",
    "\r\n",
    "\t",
    "👩\u200d👩\u200d👧",
    "𝕏",
    "🏳️\u200d🌈",
    "e\u0301",  # e and a combining accent
    "١٢",
    "'; DROP TABLE persons; --",
    "%s%(name)s{0}{name}",
    "\\",
    "/help",
    "@organiser_test_bot",
]
# Any character a platform carries: no lone surrogates (UTF-8 has none), NUL included.
CHARACTER = st.characters(exclude_categories=["Cs"])
ODD = st.characters(categories=["Cc", "Cf", "Zs", "Zl", "Zp", "Mn", "So", "Nd", "No"])
PIECE = st.one_of(
    st.text(CHARACTER, max_size=30),
    st.text(ODD, max_size=8),
    st.sampled_from(HOSTILE),
    st.sampled_from(
        ["Frome", "Bath", "bath", "Wells", "carol", "@carol", "organiser", "2027-12-31"]
    ),
    st.integers(-5, 10**20).map(str),
)


def platform_text(limit: int) -> st.SearchStrategy[str]:
    """Text as a platform delivers it, at most ``limit`` characters: words, hostile
    pieces, and now and then a huge repetition up to the limit."""
    words = st.builds(
        lambda parts, sep: sep.join(parts),
        st.lists(PIECE, max_size=6),
        st.sampled_from([" ", "", "\n", "  "]),
    )
    huge = st.builds(
        lambda unit, n: (unit * n)[:n],
        st.sampled_from(HOSTILE) | st.text(CHARACTER, min_size=1, max_size=3),
        st.integers(900, limit),
    )
    return st.one_of(words, words, words, huge).map(lambda s: s[:limit])


def utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def fits_bytes(text: str, size: int) -> str:
    """``text`` cut to at most ``size`` UTF-8 bytes (at a character boundary)."""
    return text.encode()[:size].decode(errors="ignore")


# --- the checks every request goes through -------------------------------------------


def _only_a_refusal_was_audited(
    before: dict[str, list[str]],
    after: dict[str, list[str]],
    actor_id: int | None,
    what: str,
    remembered: set[str] | frozenset[str] = frozenset(),
) -> None:
    changed = sorted(t for t in before if before[t] != after[t])
    assert set(changed) <= {"audit_log", *remembered}, f"{what}: refused, yet {changed} changed"
    old, new = before["audit_log"], after["audit_log"]
    assert new[: len(old)] == old, f"{what}: existing audit rows changed"
    added = [dict(zip(AUDIT_COLUMNS, json.loads(row), strict=True)) for row in new[len(old) :]]
    assert len(added) <= 1, f"{what}: {len(added)} audit rows for one refusal"
    for row in added:
        assert row["action"] == "refused" and row["actor_id"] == actor_id, f"{what}: {row}"


class RecordingCore(Core):
    """The real core, keeping what it answered (the adapters show only the text)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.answered: list[tuple[Request, list[Reply]]] = []

    async def handle(self, request: Request) -> list[Reply]:
        replies = await super().handle(request)
        self.answered.append((request, replies))
        return replies


class Errors(logging.Handler):
    """Everything logged at ERROR or above, by the adapters, the core or the libraries."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def said(self) -> list[str]:
        return [f"{r.name}: {r.getMessage()}" for r in self.records]


class Party:
    """The seeded party in one SQLite file, its baseline, and how to put it back."""

    def __init__(self, db: Database, core: RecordingCore) -> None:
        self.db, self.core = db, core
        self.baseline: dict[str, list[str]] = {}
        self.rows: dict[str, list[dict[str, Any]]] = {}
        self.current: dict[str, list[str]] = {}
        self.ids: dict[str, int | None] = {}  # actor -> person id
        self.prompt_ids: list[str] = []
        self.branch_ids: list[str] = []
        self.examples = 0

    async def settle(self, platform: str, actors: dict[str, str]) -> None:
        """Freeze "last seen" (the core's clock stands still), note the actors' person
        ids and live prompt ids, and take the baseline."""
        async with self.db.transaction() as session:
            await session.execute(update(Identity).values(last_seen_at=NOW))
        async with self.db.transaction() as session:
            for name, user_id in actors.items():
                self.ids[name] = await session.scalar(
                    select(Identity.person_id).where(
                        Identity.platform == platform, Identity.user_id == user_id
                    )
                )
            self.prompt_ids = [str(i) for i in await session.scalars(select(Prompt.id))]
            self.branch_ids = [str(i) for i in await session.scalars(select(Branch.id))]
        async with self.db.engine.connect() as conn:
            self.rows = {
                table.name: [dict(r) for r in (await conn.execute(table.select())).mappings()]
                for table in Base.metadata.sorted_tables
            }
        self.baseline = self.current = await snapshot(self.db)

    async def check(self, actor: str, what: str, answered_from: int) -> list[Reply]:
        """After one request: a refusal changed nothing; else put the party back."""
        self.examples += 1
        answered = self.core.answered[answered_from:]
        replies = [r for _, rs in answered for r in rs]
        before, after = self.current, await snapshot(self.db)
        self.current = after
        if answered and any(r.error for r in replies):
            request = answered[0][0]
            remembered = REMEMBERED_FAILURES.get(request.command or "", set())
            _only_a_refusal_was_audited(before, after, self.ids.get(actor), what, remembered)
        elif after != before:
            await self.restore()
        return replies

    async def restore(self) -> None:
        async with self.db.engine.begin() as conn:
            for table in reversed(Base.metadata.sorted_tables):
                await conn.execute(table.delete())
            for table in Base.metadata.sorted_tables:
                if self.rows[table.name]:
                    await conn.execute(table.insert(), self.rows[table.name])
        self.current = await snapshot(self.db)
        assert self.current == self.baseline, "could not put the seeded party back"


async def new_party(tmp_path: Path, sqlite_template: Path, settings: Settings) -> Party:
    path = tmp_path / "organiser.db"
    shutil.copy(sqlite_template, path)
    db = Database(f"sqlite:///{path}")
    await seed_demo(db, settings, NOW)
    return Party(db, RecordingCore(db, settings, HANDLERS, clock=FixedClock(NOW)))


@pytest.fixture
def errors() -> Iterator[Errors]:
    handler = Errors()
    root = logging.getLogger()
    root.addHandler(handler)
    yield handler
    root.removeHandler(handler)


def targets(party: Party) -> st.SearchStrategy[str]:
    """What follows ``action:``: ids that exist (of both kinds), near misses, anything."""
    return st.one_of(
        st.sampled_from(party.prompt_ids + party.branch_ids),
        st.integers(-1, 10**20).map(str),
        st.text(CHARACTER, max_size=20),
        st.sampled_from(HOSTILE),
        st.just(""),
    )


def button_data(party: Party, size: int) -> st.SearchStrategy[str]:
    """Button data at most ``size`` (Telegram: bytes; Discord: characters) long."""
    registered = st.builds(
        lambda action, sep, target: f"{action}{sep}{target}",
        st.sampled_from(ACTION_NAMES),
        st.sampled_from([":", ":", "", "::"]),
        targets(party),
    )
    anything = st.text(CHARACTER, min_size=1, max_size=size) | st.sampled_from(HOSTILE)
    return st.one_of(registered, registered, anything)


# --- Telegram ---------------------------------------------------------------------------

TG_ACTORS = {  # name -> Telegram user id
    "Zed": "201",  # a stranger: never agreed to the privacy notice
    "Nia": "202",  # agreed, in no branch
    "Carol": "103",
    "Alice": "101",
    "Bob": "102",
    "Kai": "111",
}
TG_GROUP = -1001


class TelegramWorld:
    def __init__(self, tg: FakeTelegram, adapter: ObservedTelegram, party: Party) -> None:
        self.tg, self.adapter, self.party = tg, adapter, party
        self.users = {
            name: tg.user(int(uid), name, name.lower()) for name, uid in TG_ACTORS.items()
        }
        self.group = tg.group_chat(TG_GROUP, "Frome branch")

    def __repr__(self) -> str:
        return f"<TelegramWorld: {self.party.examples} examples>"

    async def handled(self, update: dict[str, Any]) -> None:
        async with asyncio.timeout(WAIT):
            while await self.adapter.handled.get() != update["update_id"]:
                pass

    async def deliver(self, actor: str, update: dict[str, Any], what: str) -> list[Reply]:
        """Queue ``update``, wait for the adapter, and check everything said above."""
        tg, party = self.tg, self.party
        calls, answered = len(tg.calls), len(party.core.answered)
        tg.enqueue(update)
        await self.handled(update)
        made = [c for c in tg.calls[calls:] if c.method != "getUpdates"]
        refused = [f"{c.method} -> {c.status} {c.response}" for c in made if not c.ok]
        assert not refused, f"{what}: the platform refused {refused}"
        replies = await party.check(actor, what, answered)
        assert replies, f"{what}: the core was not asked"
        for reply in replies:
            assert reply.text.strip() and APOLOGY not in reply.text, f"{what}: {reply.text!r}"
        texts = [
            c.params.get("text") or c.params.get("caption") or ""
            for c in made
            if c.method in ("sendMessage", "sendDocument", "sendPhoto", "editMessageText")
        ]
        answers = [c for c in made if c.method == "answerCallbackQuery"]
        said = texts + [str(c.params.get("text") or "") for c in answers]
        assert any(t.strip() for t in said), f"{what}: nothing was said ({made})"
        for text in texts:
            assert utf16_len(text) <= 4096, f"{what}: {len(text)} characters sent"
        return replies


@pytest.fixture
async def telegram_world(tmp_path: Path, sqlite_template: Path) -> AsyncIterator[TelegramWorld]:
    async with FakeTelegram() as tg:
        settings = Settings(
            party_name="Test Party", telegram_token=TELEGRAM_TOKEN, telegram_base_url=tg.base_url
        )
        party = await new_party(tmp_path, sqlite_template, settings)
        await link_demo_people(
            party.db, {name: int(TG_ACTORS[name]) for name in ("Alice", "Bob", "Carol", "Kai")}
        )
        # Without the rate limiter: its 20 messages a minute per group would hold the
        # examples back for seconds (tests/test_telegram.py drives it).
        adapter = ObservedTelegram(party.core, settings, rate_limit=False)
        await adapter.start()
        try:
            world = TelegramWorld(tg, adapter, party)
            nia = world.users["Nia"]
            await world.handled(tg.send_text(nia, "/start"))
            notice = tg.last_message(nia["id"])
            agree = notice["reply_markup"]["inline_keyboard"][0][0]["callback_data"]
            await world.handled(tg.press(nia, notice, agree))
            for user in world.users.values():  # a message of the bot's to press buttons under
                await world.handled(tg.send_text(user, "/help"))
            await party.settle("telegram", TG_ACTORS)
            yield world
        finally:
            await adapter.stop()
            await party.db.dispose()


def telegram_messages() -> st.SearchStrategy[tuple[str, bool]]:
    """(text, in the group?): a command with arguments, or any text (private chats only:
    in a group the bot hears commands alone). At most 4096 UTF-16 units, not blank."""
    command = st.builds(
        lambda name, at, sep, args: f"/{name}{at}{sep}{args}",
        st.sampled_from(COMMAND_NAMES),
        st.sampled_from(["", "", "@organiser_test_bot"]),
        st.sampled_from([" ", " ", "\n", "  "]),
        platform_text(4000),
    )
    unknown = st.builds(
        lambda name, args: f"/{name} {args}", st.text(CHARACTER, max_size=12), PIECE
    )
    private = st.one_of(command, command, unknown, platform_text(4096))
    in_group = st.tuples(command, st.just(True))
    text = st.one_of(st.tuples(private, st.just(False)), in_group)
    return text.map(lambda m: (cut_utf16(m[0], 4096), m[1])).filter(lambda m: m[0].strip() != "")


def cut_utf16(text: str, units: int) -> str:
    """``text`` cut to at most ``units`` UTF-16 code units (how Telegram counts)."""
    used = 0
    for index, char in enumerate(text):
        used += 2 if ord(char) > 0xFFFF else 1
        if used > units:
            return text[:index]
    return text


async def telegram_message(world: TelegramWorld, actor: str, data: st.DataObject) -> None:
    text, in_group = data.draw(telegram_messages(), label="message")
    what = f"telegram: {actor} sent {text[:300]!r}" + (" in the group" if in_group else "")
    update = world.tg.text_update(world.users[actor], text, chat=world.group if in_group else None)
    await world.deliver(actor, update, what)


async def telegram_press(world: TelegramWorld, actor: str, data: st.DataObject) -> None:
    tg = world.tg
    payload = fits_bytes(data.draw(button_data(world.party, 64), label="data"), 64) or "x"
    what = f"telegram: {actor} pressed {payload!r}"
    user = world.users[actor]
    update = tg.callback_update(user, tg.last_message(user["id"]), payload)
    await world.deliver(actor, update, what)
    query = update["callback_query"]["id"]
    answers = [
        c for c in tg.calls_to("answerCallbackQuery") if c.params["callback_query_id"] == query
    ]
    assert len(answers) == 1 and answers[0].ok, f"{what}: answered {answers}"


@FUZZ
@given(data=st.data())
async def test_telegram_answers_whatever_comes(
    telegram_world: TelegramWorld, errors: Errors, data: st.DataObject
) -> None:
    """A message (a command, or anything in a private chat) or a button press."""
    actor = data.draw(st.sampled_from(sorted(TG_ACTORS)), label="actor")
    act = data.draw(st.sampled_from([telegram_message, telegram_message, telegram_press]))
    errors.records.clear()
    await act(telegram_world, actor, data)
    assert not errors.records, f"{act.__name__} by {actor}: logged {errors.said()}"


# --- Discord ------------------------------------------------------------------------------

DC_ACTORS = {  # name -> Discord user id
    "Zed": "499",
    "Nia": "498",
    "Carol": "403",
    "Alice": "401",
    "Bob": "402",
    "Kai": "411",
}


class DiscordWorld:
    def __init__(self, fake: FakeDiscord, adapter: ObservedDiscord, party: Party) -> None:
        self.fake, self.adapter, self.party = fake, adapter, party
        self.commands = {c["name"]: c for c in fake.registered_commands()}

    def __repr__(self) -> str:
        return f"<DiscordWorld: {self.party.examples} examples>"

    async def done(self, record: InteractionRecord) -> None:
        async with asyncio.timeout(WAIT):
            while await self.adapter.handled.get() != record.id:
                pass

    def messages(self, record: InteractionRecord) -> list[dict[str, Any]]:
        """Every message the bot posted for this interaction, as the fake holds them."""
        out = []
        original = self.fake.original(record)
        if original is not None:
            out.append(original)
        out += self.fake.followups(record)
        return out

    async def check(
        self, actor: str, record: InteractionRecord, what: str, answered: int, requests: int
    ) -> list[Reply]:
        fake = self.fake
        await fake.wait_response(record)  # fails at once if the fake refused the response
        refused = [
            f"{r.method} {r.path} -> {r.status} {r.response}"
            for r in fake.requests[requests:]
            if r.status is not None and not r.ok
        ]
        assert not refused, f"{what}: the platform refused {refused}"
        replies = await self.party.check(actor, what, answered)
        assert replies, f"{what}: the core was not asked"
        messages = self.messages(record)
        if record.response_type == 7:  # the pressed message, edited in place
            messages.append(record.response_data)
        assert any(m.get("content", "").strip() for m in messages), f"{what}: said nothing"
        for message in messages + fake.channel_messages(record.channel_id):
            assert APOLOGY not in message.get("content", ""), f"{what}: {message['content']!r}"
            assert not message.get("mention_everyone"), (
                f"{what}: the bot notified everyone: {message['content'][:300]!r}"
            )
        return replies


@pytest.fixture
async def discord_world(tmp_path: Path, sqlite_template: Path) -> AsyncIterator[DiscordWorld]:
    settings = Settings(party_name="Test Party", discord_token=DISCORD_TOKEN)
    party = await new_party(tmp_path, sqlite_template, settings)
    await link_demo_people(
        party.db,
        {name: int(DC_ACTORS[name]) for name in ("Alice", "Bob", "Carol", "Kai")},
        "discord",
    )
    async with FakeDiscord() as fake:
        for name, uid in DC_ACTORS.items():
            fake.user(int(uid), name.lower(), global_name=name)
        adapter = ObservedDiscord(party.core, settings, guild_ready_timeout=0.05)
        await adapter.start()
        try:
            world = DiscordWorld(fake, adapter, party)
            nia = int(DC_ACTORS["Nia"])
            record = await fake.slash(nia, "start", guild=False)
            await world.done(record)
            agree = fake.original(record)
            assert agree is not None
            custom_id = agree["components"][0]["components"][0]["custom_id"]
            await world.done(await fake.click(nia, custom_id, guild=False))
            for uid in DC_ACTORS.values():  # each has a DM channel, as after a first DM
                await world.done(await fake.slash(int(uid), "help", guild=False))
            await party.settle("discord", DC_ACTORS)
            yield world
        finally:
            await adapter.stop()
            await party.db.dispose()


def option_values(command: dict[str, Any]) -> st.SearchStrategy[dict[str, str]]:
    """Values for a slash command's options, as Discord lets them through: a choice
    where there are choices, any text (1 to 6000 characters, not blank) elsewhere;
    required options always, the others now and then."""
    fields: dict[str, st.SearchStrategy[str | None]] = {}
    for option in command.get("options", []):
        if option.get("choices"):
            value: st.SearchStrategy[str] = st.sampled_from([c["value"] for c in option["choices"]])
        else:
            value = platform_text(6000).filter(lambda s: s.strip() != "")
        fields[option["name"]] = value if option.get("required") else st.none() | value
    return st.fixed_dictionaries(fields).map(lambda d: {k: v for k, v in d.items() if v})


async def discord_slash(world: DiscordWorld, actor: str, data: st.DataObject) -> None:
    fake = world.fake
    name = data.draw(st.sampled_from(sorted(world.commands)), label="command")
    options = data.draw(option_values(world.commands[name]), label="options")
    channel = data.draw(st.sampled_from([None, *CHANNELS]), label="channel")
    shown = {k: v[:200] for k, v in options.items()}
    what = f"discord: {actor} ran /{name} {shown} in {channel or 'a DM'}"
    answered, requests = len(world.party.core.answered), len(fake.requests)
    record = await fake.slash(
        int(DC_ACTORS[actor]),
        name,
        options or None,
        guild=channel is not None,
        channel_id=CHANNELS[channel] if channel else None,
    )
    await world.done(record)
    replies = await world.check(actor, record, what, answered, requests)
    personal = replies[0].error or replies[0].private
    if channel is not None and personal and record.response_type == 4:
        flags = int(record.response_data.get("flags", 0) or 0)
        assert flags & EPHEMERAL, f"{what}: a personal answer shown to the channel"


async def discord_press(world: DiscordWorld, actor: str, data: st.DataObject) -> None:
    fake = world.fake
    # (A line break is pinned below, apart: discord.py would not dispatch it at all.)
    drawn = data.draw(button_data(world.party, 100), label="custom_id")
    custom_id = drawn.replace("\n", " ")[:100] or "x"
    channel = data.draw(st.sampled_from([None, *CHANNELS]), label="channel")
    what = f"discord: {actor} pressed {custom_id!r} in {channel or 'a DM'}"
    answered, requests = len(world.party.core.answered), len(fake.requests)
    # The button on a message of the bot's (made up if the bot sent none such: Discord
    # lets people press only buttons the bot sent, but which is not the adapter's to know).
    record = await fake.click(
        int(DC_ACTORS[actor]),
        custom_id,
        channel_id=CHANNELS[channel] if channel else None,
        guild=channel is not None,
    )
    await world.done(record)
    await world.check(actor, record, what, answered, requests)


async def discord_typing(world: DiscordWorld, actor: str, data: st.DataObject) -> None:
    """Autocomplete: any text typed so far gets choices Discord accepts (or none)."""
    fake = world.fake
    name, option = data.draw(
        st.sampled_from([("join", "place"), ("branch", "branch"), ("promote", "person")]),
        label="option",
    )
    typed = data.draw(platform_text(6000), label="typed")
    what = f"discord: {actor} typed {typed[:200]!r} into /{name} {option}"
    record = await fake.autocomplete(int(DC_ACTORS[actor]), name, {option: typed})
    response = await fake.wait_response(record)
    choices = response["data"]["choices"]
    assert all(1 <= len(c["name"]) <= 100 and len(c["value"]) <= 100 for c in choices), what
    assert await snapshot(world.party.db) == world.party.current, f"{what}: changed the party"


@FUZZ
@given(data=st.data())
async def test_discord_answers_whatever_comes(
    discord_world: DiscordWorld, errors: Errors, data: st.DataObject
) -> None:
    """A slash command with any options, a button press, or typing into an option."""
    actor = data.draw(st.sampled_from(sorted(DC_ACTORS)), label="actor")
    act = data.draw(st.sampled_from([discord_slash, discord_slash, discord_press, discord_typing]))
    errors.records.clear()
    await act(discord_world, actor, data)
    assert not errors.records, f"{act.__name__} by {actor}: logged {errors.said()}"


# --- what the properties found, pinned as plain examples ---------------------------------


async def test_discord_never_notifies_everyone_for_what_people_typed(
    discord_world: DiscordWorld, errors: Errors
) -> None:
    """An organiser's public confirmation repeats the meeting point they typed; typed as
    "@everyone", it must not notify the whole server."""
    world, fake = discord_world, discord_world.fake
    answered, requests = len(world.party.core.answered), len(fake.requests)
    record = await fake.slash(
        int(DC_ACTORS["Alice"]),
        "canvass",
        {"details": "schedule saturday 10:30 @everyone and @here 8"},
        channel_id=CHANNELS["general"],
    )
    await world.done(record)
    replies = await world.check("Alice", record, "Alice's canvass schedule", answered, requests)
    assert "@everyone" in replies[0].text and not replies[0].error


async def test_a_long_list_reaches_a_telegram_organiser_whole(
    telegram_world: TelegramWorld, errors: Errors
) -> None:
    """Alice's Members list for her branch, 90 more people with emoji in their names (as
    Telegram names often have): longer than one Telegram message, and within the list's
    own limit of 100 names."""
    world, tg = telegram_world, telegram_world.tg
    names = [f"🌻 Rose {i:02d} " + "🌻" * 10 for i in range(90)]
    async with world.party.db.transaction() as session:
        session.add_all(
            Person(
                short_id=f"R{i:05d}",
                display_name=name,
                branch_id=1,  # Frome
                consented_at=NOW,
                created_at=NOW,
                joined_branch_at=NOW,
            )
            for i, name in enumerate(names)
        )
    alice = world.users["Alice"]
    await world.handled(tg.send_text(alice, "/branch"))
    listing = tg.last_message(alice["id"])
    members = next(
        b["callback_data"]
        for row in listing["reply_markup"]["inline_keyboard"]
        for b in row
        if b["text"].startswith("Members")
    )
    calls = len(tg.calls)
    await world.handled(tg.press(alice, listing, members))
    refused = [f"{c.method}: {c.response}" for c in tg.calls[calls:] if c.status not in (None, 200)]
    assert not refused and not errors.records, (refused, errors.said())
    shown = "\n".join(tg.sent_texts(alice["id"]))
    missing = [name for name in names if name not in shown]
    assert not missing, f"{len(missing)} of 90 people missing from the list, e.g. {missing[-1]}"


async def test_a_discord_button_with_a_line_break_in_its_id_is_answered(
    discord_world: DiscordWorld, errors: Errors
) -> None:
    """Discord delivers only custom_ids of buttons the bot sent, and the core's carry no
    line break today; a button carrying what someone typed would."""
    world, fake = discord_world, discord_world.fake
    answered, requests = len(world.party.core.answered), len(fake.requests)
    record = await fake.click(int(DC_ACTORS["Carol"]), "undo:1\n2", guild=False)
    # Answered in milliseconds when dispatched; else never (Discord shows "This
    # interaction failed" after three seconds).
    await fake.wait_response(record)
    await world.done(record)
    await world.check("Carol", record, "a press of 'undo:1\\n2'", answered, requests)
    assert not errors.records, errors.said()
