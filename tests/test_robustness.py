"""Races, languages and failures a person would notice."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from sqlalchemy import func, select

import bot.kernel.i18n
from bot.kernel.messages import Request, Sender
from storage.models import Branch, Person
from tests.helpers import Chat, snapshot


async def test_two_presses_of_i_agree_at_once_make_one_person(chat: Chat) -> None:
    await chat.say("Sam", "/start")
    button = chat.button("Sam", "I agree")
    both = await asyncio.gather(chat.press("Sam", button), chat.press("Sam", button))
    texts = [r[0].text for r in both]
    assert any("agreement is recorded" in t for t in texts)
    async with chat.core.db.transaction() as session:
        assert await session.scalar(select(func.count()).select_from(Person)) == 1


async def test_two_people_proposing_the_same_place_at_once_make_one_branch(chat: Chat) -> None:
    for name in ("Sam", "Tom", "Uma"):
        await chat.signup(name)
        await chat.say(name, "/join Glastonbury")
    await asyncio.gather(*(chat.press(n, "Propose") for n in ("Sam", "Tom", "Uma")))
    async with chat.core.db.transaction() as session:
        assert await session.scalar(select(func.count()).select_from(Branch)) == 1
        joined = await session.scalar(
            select(func.count()).select_from(Person).where(Person.branch_id.is_not(None))
        )
    assert joined == 3


async def test_an_unexpected_error_is_an_apology_and_changes_nothing(
    chat: Chat, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    await chat.signup("Sam")
    before = await snapshot(chat.core.db)

    async def broken(ctx: object) -> None:
        raise ZeroDivisionError("a bug")

    handlers = chat.core.handlers
    spec = handlers.commands["leave"]
    commands = {**handlers.commands, "leave": type(spec)(**{**_fields(spec), "handler": broken})}
    monkeypatch.setattr(chat.core, "handlers", replace(handlers, commands=commands))
    with caplog.at_level(logging.ERROR):
        replies = await chat.say("Sam", "/leave")
    assert replies[0].error and "Sorry, something went wrong" in replies[0].text
    assert "ZeroDivisionError" not in replies[0].text
    assert "ZeroDivisionError" in caplog.text  # the traceback goes to the log
    assert await snapshot(chat.core.db) == before


def _fields(spec: object) -> dict[str, object]:
    return {name: getattr(spec, name) for name in spec.__slots__}  # type: ignore[attr-defined]


async def test_a_forged_button_changes_nothing(demo: Chat) -> None:
    before = await snapshot(demo.core.db)
    forged = ("undo:999999", "join:abc", "nosuchaction:1", "forget:", "consent:-1", ":")
    huge = ("join:" + "9" * 40, "members:99999999999", "mtgo:2147483648", "join:１２")
    for data in forged + huge:
        replies = await demo.press("Carol", data)
        assert replies[0].error and "expired" in replies[0].text, data
    assert await snapshot(demo.core.db) == before


async def test_group_chat_command_names_with_the_bot_suffix_work(demo: Chat) -> None:
    request = Request.command_from(demo.sender("Carol"), demo.chat_ref("Carol"), "/me@OrganiserBot")
    replies = await demo.core.handle(request)
    assert "short id" in replies[0].text


WELSH = (
    'msgid ""\nmsgstr ""\n"Content-Type: text/plain; charset=UTF-8\\n"\n\n'
    'msgid "Here is what you can do:"\nmsgstr "Dyma beth allwch chi ei wneud:"\n\n'
    'msgid "You are now {role} of {where}."\nmsgstr "Rydych chi nawr yn {role} {where}."\n\n'
    'msgid "organiser"\nmsgstr "trefnydd"\n\n'
    'msgid "the {branch} branch"\nmsgstr "cangen {branch}"\n'
)


@pytest.fixture
def welsh(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    po = tmp_path / "cy" / "LC_MESSAGES" / "messages.po"
    po.parent.mkdir(parents=True)
    po.write_text(WELSH, encoding="utf-8")
    monkeypatch.setattr(bot.kernel.i18n, "LOCALE_DIR", tmp_path)
    bot.kernel.i18n._load.cache_clear()
    yield
    bot.kernel.i18n._load.cache_clear()


async def test_each_person_is_told_in_their_own_language(demo: Chat, welsh: None) -> None:
    async with demo.core.db.transaction() as session:
        dan = await session.scalar(select(Person).where(Person.display_name == "Dan"))
        assert dan is not None
        dan.locale = "cy"
    await demo.say("Alice", "/promote @dan organiser")
    await demo.say("Alice", "/promote @carol organiser")
    told = dict(await demo.outbox())
    assert told["Dan"] == "Rydych chi nawr yn trefnydd cangen Frome."
    assert told["Carol"] == "You are now organiser of the Frome branch."


async def test_a_second_language_is_a_file_not_a_code_change(demo: Chat, welsh: None) -> None:
    newcomer = Sender("console", "newcomer", "Newcomer", locale="cy-GB")
    reply = await demo.core.handle(
        Request.command_from(newcomer, demo.chat_ref("newcomer"), "/help")
    )
    assert reply[0].text.startswith("Dyma beth allwch chi ei wneud:")
    english = await demo.say("Carol", "/help")
    assert english[0].text.startswith("Here is what you can do:")
    assert bot.kernel.i18n.available_locales() == ["cy"]
