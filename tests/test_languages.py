"""Each person's language: what they chose (/language), their platform's, their
branch's (/branch language), the party's; the same for their replies and for the
messages the outbox queues for them."""

from __future__ import annotations

import dataclasses
import json
import random
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

import bot.kernel.i18n
from bot.app import build_core
from bot.kernel.messages import Request, Sender
from storage.models import Branch, Person
from tests.helpers import Chat

PO_HEADER = 'msgid ""\nmsgstr ""\n"Content-Type: text/plain; charset=UTF-8\\n"\n\n'
# A few sentences of each language: enough to tell which one a person reads.
SENTENCES = {
    "cy": {
        "Here is what you can do:": "Dyma beth allwch chi ei wneud:",
        "From now on I'll write to you in {language}.": "O hyn ymlaen byddaf yn ysgrifennu "
        "atoch yn {language}.",
        "You are now {role} of {where}.": "Rydych chi nawr yn {role} {where}.",
        "organiser": "trefnydd",
        "the {branch} branch": "cangen {branch}",
    },
    "es": {
        "Here is what you can do:": "Esto es lo que puedes hacer:",
        "From now on I'll write to you in {language}.": "A partir de ahora te escribiré "
        "en {language}.",
        "You are now {role} of {where}.": "Ahora eres {role} de {where}.",
        "organiser": "organizadora",
        "the {branch} branch": "la sección de {branch}",
    },
}


def write_catalogues(directory: Path, sentences: dict[str, dict[str, str]]) -> None:
    for lang, pairs in sentences.items():
        po = directory / lang / "LC_MESSAGES" / "messages.po"
        po.parent.mkdir(parents=True)
        body = "".join(
            f"msgid {json.dumps(k, ensure_ascii=False)}\nmsgstr {json.dumps(v, ensure_ascii=False)}\n\n"
            for k, v in pairs.items()
        )
        po.write_text(PO_HEADER + body, encoding="utf-8")


@pytest.fixture
def languages(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The bot speaks English, Welsh and Spanish (small catalogues of its own)."""
    folder = tmp_path / "locale"
    write_catalogues(folder, SENTENCES)
    monkeypatch.setattr(bot.kernel.i18n, "LOCALE_DIR", folder)
    bot.kernel.i18n._load.cache_clear()
    yield
    bot.kernel.i18n._load.cache_clear()


def sender(name: str, locale: str | None = None) -> Sender:
    return Sender("console", name.lower(), name, handle=name.lower(), locale=locale)


async def say_as(chat: Chat, name: str, text: str, locale: str | None) -> str:
    """``name`` writes from an app set to ``locale``; the bot's first reply."""
    request = Request.command_from(sender(name, locale), chat.chat_ref(name), text)
    return (await chat.core.handle(request))[0].text


async def test_language_offers_each_language_in_its_own_name_and_switches(
    demo: Chat, languages: None
) -> None:
    screen = await demo.say("Carol", "/language")
    assert "It is the party's language." in screen[0].text
    labels = [b.label for b in screen[0].button_list()]
    assert labels == ["English", "Cymraeg", "Español"]
    chosen = await demo.press("Carol", "Cymraeg")
    assert chosen[0].text == "O hyn ymlaen byddaf yn ysgrifennu atoch yn Cymraeg."
    assert (await demo.say("Carol", "/help"))[0].text.startswith("Dyma beth allwch chi")
    # Typed, by its English name too; and back to no choice of one's own.
    typed = await demo.say("Carol", "/language spanish")
    assert typed[0].text == "A partir de ahora te escribiré en español."
    await demo.say("Carol", "/language auto")
    assert (await demo.say("Carol", "/help"))[0].text.startswith("Here is what you can do:")


async def test_an_unknown_language_is_refused_and_changes_nothing(
    demo: Chat, languages: None
) -> None:
    await demo.say("Carol", "/language cy")
    refused = await demo.say("Carol", "/language Klingon")
    assert refused[0].error
    assert "Klingon" in refused[0].text and "Cymraeg, español" in refused[0].text
    carol = await demo.person("Carol")
    assert carol is not None and carol.language == "cy"


async def test_the_language_is_chosen_then_the_apps_then_the_branchs_then_the_partys(
    demo: Chat, languages: None
) -> None:
    help_es, help_cy, help_en = "Esto es lo que", "Dyma beth allwch", "Here is what you"
    # No choice, an app in Spanish: Spanish.
    assert (await say_as(demo, "Dan", "/help", "es-ES")).startswith(help_es)
    # The Frome branch speaks Welsh: those whose app speaks no language of the bot's
    # read Welsh (German is none; the console tells none), the Spanish app still wins.
    assert "now Cymraeg" in (await demo.say("Alice", "/branch language Frome: Cymraeg"))[0].text
    assert (await say_as(demo, "Dan", "/help", "es")).startswith(help_es)
    assert (await say_as(demo, "Dan", "/help", "de")).startswith(help_cy)
    assert (await demo.say("Carol", "/help"))[0].text.startswith(help_cy)
    assert (await demo.say("Erin", "/help"))[0].text.startswith(help_en)  # Bath: the party's
    # What one chose comes first.
    await say_as(demo, "Dan", "/language en", "de")
    assert (await say_as(demo, "Dan", "/help", "es")).startswith(help_en)
    screen = await demo.say("Carol", "/language")
    assert "It is your branch's language." in screen[0].text


async def test_the_partys_language_is_for_those_with_nothing_else(
    db: object, settings: object, clock: object, languages: None
) -> None:
    from bot.demo.party import seed_demo

    core = build_core(
        db,  # type: ignore[arg-type]
        dataclasses.replace(settings, default_locale="es"),  # type: ignore[type-var]
        clock=clock,  # type: ignore[arg-type]
        rng=random.Random(7),
    )
    chat = Chat(core, clock)  # type: ignore[arg-type]
    await seed_demo(core.db, core.settings, clock.now())  # type: ignore[attr-defined]
    assert (await chat.say("Kai", "/help"))[0].text.startswith("Esto es lo que")  # no branch
    assert (await say_as(chat, "Kai", "/help", "cy")).startswith("Dyma beth")
    newcomer = await say_as(chat, "Newcomer", "/help", "de")  # not yet agreed: the party's
    assert newcomer.startswith("Esto es lo que")


async def test_messages_to_others_are_in_each_ones_language(demo: Chat, languages: None) -> None:
    """The outbox picks each reader's language as their replies do, in SQL."""
    await demo.say("Alice", "/branch language Frome: cy")
    await say_as(demo, "Dan", "/me", "es")  # Dan's app speaks Spanish
    await demo.say("Bob", "/language en")  # Bob chose English; Carol: the branch's
    for name in ("dan", "carol", "bob"):
        await demo.say("Alice", f"/promote @{name} organiser")
    told = dict(await demo.outbox())
    assert told["Dan"] == "Ahora eres organizadora de la sección de Frome."
    assert told["Carol"] == "Rydych chi nawr yn trefnydd cangen Frome."
    assert told["Bob"] == "You are now organiser of the Frome branch."


async def test_only_a_branchs_organisers_set_its_language(demo: Chat, languages: None) -> None:
    refused = await demo.say("Carol", "/branch language Frome: cy")
    assert refused[0].error
    unknown = await demo.say("Alice", "/branch language Frome: Elvish")
    assert unknown[0].error and "Elvish" in unknown[0].text
    async with demo.core.db.transaction() as session:
        frome = await session.scalar(select(Branch).where(Branch.slug == "frome"))
        assert frome is not None and frome.language is None


async def test_mydata_shows_the_language_and_forget_removes_it(demo: Chat, languages: None) -> None:
    await say_as(demo, "Dan", "/language Cymraeg", "es")
    data = await demo.say("Dan", "/mydata")
    assert data[0].file is not None
    person = json.loads(data[0].file.content)["person"]
    assert (person["language"], person["locale"]) == ("cy", "es")
    await demo.say("Dan", "/forget")
    await demo.press("Dan", "Yes")
    async with demo.core.db.transaction() as session:
        left = await session.scalars(select(Person.language).where(Person.language.is_not(None)))
        assert list(left) == []


@pytest.mark.slow  # runs `organiser` in a process
def test_an_unknown_party_language_stops_start_up_with_one_line(tmp_path: Path) -> None:
    from tests.test_cli import organiser

    for wanted in ("xx", "fr"):
        result = organiser("run", cwd=tmp_path, env={"ORGANISER_PARTY_LOCALE": wanted})
        assert result.returncode == 2
        speaks = ", ".join(bot.kernel.i18n.shipped_languages())
        assert result.stderr.strip() == (
            f"organiser: environment variable ORGANISER_PARTY_LOCALE '{wanted}' is not a "
            f"language the bot speaks (it speaks: {speaks})"
        )
    (tmp_path / "config.toml").write_text('[party]\nlocale = "es-ES"\n')
    spanish = organiser("run", cwd=tmp_path, stdin="/help\n")
    assert spanish.returncode == 0, spanish.stderr
    assert "Esto es lo que puedes hacer:" in spanish.stdout  # a newcomer: the party's


async def test_a_branchs_group_chat_reads_announcements_in_the_branchs_language(
    demo: Chat,
) -> None:
    """A group has no one reader: it reads its branch's language (the party's if
    none), while each person reached privately reads their own."""
    from tests.helpers import RecordingTransport, deliver

    await demo.say("Erin", "/linkchat", group="-100bath")
    await demo.say("Erin", "/branch language Bath: es")
    await demo.say("Jo", "/announce region: Regional assembly in Taunton")
    await demo.press("Jo", "Send")
    transport = RecordingTransport()
    await deliver(demo, transport)
    copies = {name: sent for name, sent in transport.sent if "Taunton" in sent}
    assert copies[""].startswith("📣 Desde ")  # Bath's chat
    assert copies["Alice"].startswith("📣 From ")  # Frome, privately: the party's
    assert copies["Ivan"].startswith("📣 Desde ")  # Wells: his app speaks Spanish


async def test_a_branchs_group_chat_reads_its_draws_and_polls_in_the_branchs_language(
    demo: Chat,
) -> None:
    """A draw's announcement, a poll and its result go to the branch's group chat in
    the branch's language (Frome: Welsh), though every person there chose English."""
    from storage.models import OutboxMessage
    from tests.helpers import post_poll
    from tests.test_draws import committed_and_drawn

    await demo.say("Alice", "/linkchat", group="-100frome")
    async with demo.core.db.transaction() as session:
        for person in await session.scalars(select(Person)):
            person.language = "en"
    assert "now Cymraeg" in (await demo.say("Alice", "/branch language Frome: cy"))[0].text
    await committed_and_drawn(demo)  # Alice's, Carol's replies: English, as they chose
    poll = await post_poll(demo, "Alice", '"Yes or no?" "Yes" "No"')
    closed = await demo.say("Alice", f"/poll close {poll}")
    assert closed[-1].text.startswith("Results: Yes or no?")  # Alice's: English
    async with demo.core.db.transaction() as session:
        rows = await session.execute(
            select(OutboxMessage.key, OutboxMessage.text).where(
                OutboxMessage.branch_chat_id.is_not(None)
            )
        )
        to_chat = {key.split(":chat")[0].rstrip(":"): text for key, text in rows}
    assert to_chat["drawn:1"].startswith("Mae tyniad 1 ar gyfer ")
    assert to_chat[f"poll:{poll}"].startswith("Pôl: Yes or no?")
    assert "Dewiswch un." in to_chat[f"poll:{poll}"]
    assert to_chat[f"pollresult:{poll}"].startswith("Canlyniadau: Yes or no?")


async def test_a_polls_poster_reads_its_result_in_their_own_language(demo: Chat) -> None:
    """The result the poster is sent privately is in the language they read (here
    chosen after posting), not the party's."""
    from storage.models import OutboxMessage
    from tests.helpers import post_poll

    poll = await post_poll(demo, "Alice", '"Yes or no?" "Yes" "No"')
    await demo.say("Alice", "/language es")
    await demo.say("Alice", f"/poll close {poll}")
    async with demo.core.db.transaction() as session:
        text = await session.scalar(
            select(OutboxMessage.text).where(OutboxMessage.key == f"pollresult:{poll}:creator")
        )
    assert text is not None and text.startswith("Resultados: Yes or no?"), text
