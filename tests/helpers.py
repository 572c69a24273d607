"""A chat driver for tests: people say things and press buttons, as in the console."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from babel.messages.catalog import Catalog
from babel.messages.pofile import write_po
from sqlalchemy import func, select

import bot.kernel.i18n
from bot.app import build_timed_jobs
from bot.kernel.clock import FixedClock
from bot.kernel.config import Settings
from bot.kernel.core import Core
from bot.kernel.messages import Button, ChatRef, Reply, Request, Sender
from bot.kernel.outbox import Recipient, deliver_pending
from storage.db import Database
from storage.models import Base, Identity, OutboxMessage, Person


def distinct_buttons(replies: list[Reply]) -> list[Reply]:
    """The replies, each checked to carry no two buttons with the same data: Discord
    refuses such a message (COMPONENT_CUSTOM_ID_DUPLICATED), so every test of the
    core, on any platform, holds each reply to it."""
    for reply in replies:
        data = [button.data for button in reply.button_list()]
        repeated = sorted({d for d in data if data.count(d) > 1})
        assert not repeated, f"buttons repeat their data {repeated} in {reply}"
    return replies


class Chat:
    """Drives the core as console users, by name (``alice`` is the demo's Alice)."""

    def __init__(self, core: Core, clock: FixedClock, platform: str = "console") -> None:
        self.core = core
        self.clock = clock
        self.platform = platform
        self.last: dict[str, list[Reply]] = {}

    def sender(self, name: str, platform: str | None = None) -> Sender:
        return Sender(platform or self.platform, name.lower(), name, handle=name.lower())

    def chat_ref(self, name: str, platform: str | None = None) -> ChatRef:
        return ChatRef(platform or self.platform, "private", name.lower())

    async def say(
        self, name: str, text: str, platform: str | None = None, group: str | None = None
    ) -> list[Reply]:
        """``name`` sends ``text`` privately, or in the group chat ``group``."""
        where = (
            ChatRef(platform or self.platform, "group", group)
            if group
            else self.chat_ref(name, platform)
        )
        request = Request.command_from(self.sender(name, platform), where, text)
        replies = distinct_buttons(await self.core.handle(request))
        assert replies, f"no reply to {text!r}"
        self.last[name] = replies
        return replies

    async def press(
        self,
        name: str,
        what: str | Button,
        platform: str | None = None,
        group: str | None = None,
    ) -> list[Reply]:
        """Press a button by its label (among ``name``'s last replies), or by its data."""
        if isinstance(what, Button):
            data = what.data
        elif ":" in what:
            data = what
        else:
            data = self.button(name, what).data
        where = (
            ChatRef(platform or self.platform, "group", group)
            if group
            else self.chat_ref(name, platform)
        )
        request = Request.button_from(self.sender(name, platform), where, data)
        replies = distinct_buttons(await self.core.handle(request))
        assert replies
        self.last[name] = replies
        return replies

    def button(self, name: str, label: str) -> Button:
        for reply in self.last.get(name, []):
            for button in reply.button_list():
                if button.label.startswith(label):
                    return button
        raise AssertionError(f"{name} has no button {label!r} in {self.last.get(name)}")

    async def signup(self, name: str, place: str | None = None) -> list[Reply]:
        """/start, agree, and (optionally) /join a place, pressing its only branch."""
        await self.say(name, "/start")
        replies = await self.press(name, "I agree")
        if place is not None:
            replies = await self.say(name, f"/join {place}")
        return replies

    async def person(self, name: str) -> Person | None:
        async with self.core.db.transaction() as session:
            from storage.models import Identity

            return await session.scalar(
                select(Person)
                .join(Identity, Identity.person_id == Person.id)
                .where(Identity.user_id == name.lower())
            )

    async def outbox(self) -> list[tuple[str, str]]:
        """(recipient's display name, text) of every outbox row, oldest first."""
        async with self.core.db.transaction() as session:
            rows = await session.execute(
                select(Person.display_name, OutboxMessage.text)
                .join(Person, Person.id == OutboxMessage.person_id)
                .order_by(OutboxMessage.id)
            )
            return [(name, text) for name, text in rows]


async def confirm_link(
    chat: Chat, name: str, platform: str | None = None, *, label: str = "Link it"
) -> list[Reply]:
    """``name`` presses "Link it" (or ``label``) in the newest message asking their
    account on ``platform`` (the one that gave the code) to confirm a link."""
    where = platform or chat.platform
    async with chat.core.db.transaction() as session:
        rows = await session.scalars(
            select(OutboxMessage)
            .where(OutboxMessage.to_platform == where, OutboxMessage.to_user_id == name.lower())
            .order_by(OutboxMessage.id.desc())
        )
        data = next(
            (
                f"{action}:{id_}"
                for row in rows
                for line in row.buttons
                for text_, action, id_ in line
                if text_ == label
            ),
            None,
        )
    assert data is not None, f"{name} on {where} was not asked to confirm a link"
    return await chat.press(name, data, platform=where)


class RecordingTransport:
    """A transport that keeps what it was asked to send (a fake, not a mock)."""

    def __init__(self, platform: str = "console", refuse: set[str] | None = None) -> None:
        self.platform = platform
        self.sent: list[tuple[str, str]] = []
        self.refuse = refuse or set()

    async def send(self, recipient: Recipient, reply: Reply) -> None:
        from bot.kernel.outbox import Undeliverable

        if recipient.user_id in self.refuse:
            raise Undeliverable("blocked the bot")
        self.sent.append((recipient.display_name, reply.text))


async def deliver(chat: Chat, transport: RecordingTransport) -> None:
    await deliver_pending(chat.core.db, {transport.platform: transport}, chat.clock)


def text(replies: list[Reply]) -> str:
    return "\n".join(r.text for r in replies)


async def snapshot(db: Database) -> dict[str, list[Any]]:
    """Every row of every table, to prove that something changed nothing."""
    out: dict[str, list[Any]] = {}
    async with db.engine.connect() as conn:
        for table in Base.metadata.sorted_tables:
            rows = (await conn.execute(table.select().order_by(*table.primary_key.columns))).all()
            out[table.name] = [json.dumps(list(r), default=str, sort_keys=True) for r in rows]
    return out


async def link_demo_people(db: Database, ids: dict[str, int], platform: str = "telegram") -> None:
    """Give demo people an identity on ``platform``, as if they had used the bot before."""
    async with db.transaction() as session:
        for name, tid in ids.items():
            person = await session.scalar(select(Person).where(Person.display_name == name))
            assert person is not None
            session.add(
                Identity(
                    person_id=person.id,
                    platform=platform,
                    user_id=str(tid),
                    chat_id=str(tid),
                    handle=name.lower(),
                    unreachable=False,
                    last_seen_at=dt.datetime.now(dt.UTC),
                )
            )


async def post_poll(chat: Chat, who: str, line: str) -> int:
    """``who`` previews ``/poll line`` and posts it; the new poll's id."""
    from storage.models import Poll

    replies = await chat.say(who, f"/poll {line}")
    assert replies[0].text.startswith("Preview of your poll:"), text(replies)
    replies = await chat.press(who, "Post it")
    assert replies[0].text.startswith("Posted (poll "), text(replies)
    async with chat.core.db.transaction() as session:
        return int(await session.scalar(select(func.max(Poll.id))) or 0)


async def add_members(
    chat: Chat,
    count: int,
    name: str = "Member",
    *,
    branch_id: int = 1,
    features: Callable[[int], dict[str, str]] | None = None,
) -> None:
    """``count`` paid-up members of the branch (``{name} 1`` .. ``{name} n``), each
    with a console identity (user id ``{name.lower()} i``); with ``features``,
    opted in to sortition with those answers."""
    from storage.models import SortitionProfile

    now = chat.clock.now()
    async with chat.core.db.transaction() as session:
        people = [
            Person(
                short_id=f"{name[0]}{i:05d}",
                display_name=f"{name} {i}",
                branch_id=branch_id,
                dues_paid_until=dt.date(2027, 6, 30),
                joined_branch_at=now - dt.timedelta(days=60),
                consented_at=now,
                created_at=now,
            )
            for i in range(1, count + 1)
        ]
        session.add_all(people)
        await session.flush()
        for i, person in enumerate(people, start=1):
            session.add(
                Identity(
                    person_id=person.id,
                    platform="console",
                    user_id=f"{name.lower()} {i}",
                    chat_id=f"{name.lower()} {i}",
                    unreachable=False,
                    last_seen_at=now,
                )
            )
            if features is not None:
                session.add(
                    SortitionProfile(
                        person_id=person.id, opted_in=True, features=features(i), updated_at=now
                    )
                )


async def run_sweeps(db: Database, settings: Settings, now: dt.datetime) -> None:
    """Every sweep once at ``now``, as the scheduler's jobs run them; each must succeed."""
    jobs = build_timed_jobs()
    for planned in await jobs.plan(db, settings):
        if planned.branch is None:
            assert await jobs.run(planned.job, db, settings, now), planned.job


async def until(predicate: Callable[[], Any], what: str, within: float = 10.0) -> Any:
    """Poll ``predicate`` (sync or async) until it is truthy (at most ``within``
    seconds, else the test fails saying ``what`` did not happen); its value."""
    try:
        async with asyncio.timeout(within):
            while True:
                value = predicate()
                if asyncio.iscoroutine(value):
                    value = await value
                if value:
                    return value
                await asyncio.sleep(0.02)
    except TimeoutError:
        raise AssertionError(f"waited {within:g} s for {what}") from None


def lotto(clock: FixedClock) -> str:
    """A public seed source for ``/draw``: UK Lotto on its next draw day (a
    Wednesday or Saturday) after today. Draws seeded from a typed text are trials
    that invite nobody; tests that need a real draw use this and ``seed_by_lottery``."""
    day = clock.now().date() + dt.timedelta(days=1)
    while day.weekday() not in (2, 5):
        day += dt.timedelta(days=1)
    return f"lottery:UK Lotto:{day.isoformat()}"


LOTTO_RESULT = "4 11 23 35 42 58 + 7"


async def seed_by_lottery(
    chat: Chat,
    draw_id: int = 1,
    witnesses: tuple[str, str] = ("Alice", "Carol"),
    result: str = LOTTO_RESULT,
) -> list[Reply]:
    """Move the clock to just after draw ``draw_id``'s lottery result is out (if it
    is not yet), and two witnesses (by default Alice, an organiser, and Carol, a
    Frome member) enter ``result``. The second witness's replies."""
    from storage.models import Draw

    async with chat.core.db.transaction() as session:
        draw = await session.get(Draw, draw_id)
        assert draw is not None, f"no draw {draw_id}"
        due = draw.seed_due_at
    if chat.clock.now() < due:
        chat.clock.set(due + dt.timedelta(minutes=5))
    first = await chat.say(witnesses[0], f"/draw seed {draw_id} {result}")
    assert "Result noted" in first[0].text, text(first)
    return await chat.say(witnesses[1], f"/draw seed {draw_id} {result}")


@contextmanager
def catalogues(directory: Path, sentences: Mapping[str, Mapping[str, str]]) -> Iterator[None]:
    """The bot's catalogue is, while inside, only ``sentences`` (language -> msgid ->
    translation), written as .po files under ``directory``: a test of what happens
    per language that does not depend on the shipped translations."""
    for lang, translated in sentences.items():
        catalog = Catalog(locale=lang)
        for msgid, msgstr in translated.items():
            catalog.add(msgid, msgstr)
        po = directory / lang / "LC_MESSAGES" / "messages.po"
        po.parent.mkdir(parents=True)
        with po.open("wb") as fh:
            write_po(fh, catalog)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(bot.kernel.i18n, "LOCALE_DIR", directory)
        bot.kernel.i18n._load.cache_clear()
        try:
            yield
        finally:
            bot.kernel.i18n._load.cache_clear()
