"""The console demo in Welsh and in Spanish: Hana's app speaks Welsh, Ivan's
Spanish (bot.demo.party). Playing the demo as each, no sentence the bot says to
them is English (beyond names and places): each line of their replies is compared
with every sentence of the English catalogue."""

from __future__ import annotations

import io
import re
from functools import lru_cache

import pytest
from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po

from adapters.console import ConsoleChat
from bot.app import build_handlers
from bot.kernel.i18n import DOMAIN, LOCALE_DIR, translator
from tests.helpers import Chat

SCRIPT = """\
/as Alice
/canvass schedule saturday 10:30 Market Cross 8
/meeting in-person 2026-12-09 19:00 "Library" Planning
1
/as {name}
/start
/help
/me
/join Frome
1
/me
/canvass
1
/canvass
/meetings
/poll
/council
/reminders
/language
/timezone
/timezone Madrid
/meetings
/timezone Atlantis
/branch
/nonsense
/as Bob
/dues @{handle} 2027-11-30
/as {name}
/me
/leave
1
"""


def _catalogue(path: str) -> Catalog:
    with (LOCALE_DIR / path).open("rb") as fh:
        return read_po(fh)


@lru_cache(maxsize=4)
def english_sentences(lang: str) -> list[re.Pattern[str]]:
    """A pattern for each line of each English sentence ({placeholders}: anything)
    that the language's catalogue does not say the same way."""
    translated = _catalogue(f"{lang}/LC_MESSAGES/{DOMAIN}.po")
    patterns = []
    for message in _catalogue(f"{DOMAIN}.pot"):
        ids = message.id if isinstance(message.id, tuple) else (message.id,)
        if not ids[0]:
            continue
        theirs = translated.get(message.id)
        same = set(ids) & set(
            theirs.string
            if theirs and isinstance(theirs.string, tuple)
            else [theirs.string if theirs else ""]
        )
        for text in ids:
            if text in same:
                continue  # the language says it the same way ("OK", "Discord")
            for line in text.split("\n"):
                words = [
                    w
                    for w in re.sub(r"\{[^{}]*\}", " ", line).split()
                    if len(w) > 2 and w.isalpha()
                ]
                if len(words) < (2 if "{" in line else 1):
                    continue  # too few words to tell a language by ("{a} · {b}", "{who} has {what}.")
                parts = re.split(r"\{[^{}]*\}", line.strip())
                patterns.append(re.compile(".+?".join(re.escape(p) for p in parts)))
    return patterns


def english_in(lines: list[str], lang: str) -> list[str]:
    """The lines (or button labels) that are an English sentence, or hold one of
    four words or more."""
    found = []
    for line in lines:
        for piece in re.split(r"\s{3}(?=\[\d+\] )", line):
            piece = re.sub(r"^\[\d+\] ", "", piece.strip())
            for pattern in english_sentences(lang):
                literal = pattern.pattern.replace(".+?", " ")
                if pattern.fullmatch(piece) or (
                    len(literal.split()) >= 4 and pattern.search(piece)
                ):
                    found.append(f"{piece!r} is English ({pattern.pattern!r})")
                    break
    return found


def their_lines(out: str, name: str) -> list[str]:
    """What the console showed while playing ``name``: the replies to what they typed."""
    mine, lines = False, []
    for line in out.splitlines():
        prompt = re.match(r"^(\w+)> (?:/as (\w+))?", line)
        if prompt:  # "Hana> /as Bob": what follows is Bob's
            mine = (prompt.group(2) or prompt.group(1)) == name
            continue
        if mine and line.strip() and not line.startswith("→"):
            lines.append(line)
    return lines


@pytest.mark.parametrize(("name", "lang"), [("Hana", "cy"), ("Ivan", "es")])
async def test_the_demo_played_in_each_language_speaks_no_english(
    demo: Chat, name: str, lang: str
) -> None:
    if not (LOCALE_DIR / lang / "LC_MESSAGES" / f"{DOMAIN}.po").is_file():
        pytest.skip(f"needs the {lang} catalogue, bot/locale/{lang}/LC_MESSAGES/messages.po")
    out = io.StringIO()
    console = ConsoleChat(demo.core, out=out)
    await console.run(io.StringIO(SCRIPT.format(name=name, handle=name.lower())))
    shown = their_lines(out.getvalue(), name)
    assert len(shown) > 40, out.getvalue()  # they did see the replies
    assert english_in(shown, lang) == [], "\n".join(shown)


def test_the_detector_finds_english() -> None:
    """It is no test that cannot fail: the English it is shown, it finds."""
    if not (LOCALE_DIR / "cy" / "LC_MESSAGES" / f"{DOMAIN}.po").is_file():
        pytest.skip("needs the cy catalogue, bot/locale/cy/LC_MESSAGES/messages.po")
    assert english_in(["Dyma beth allwch chi ei wneud:"], "cy") == []
    assert english_in(["Here is what you can do:"], "cy") != []
    assert english_in(["[1] Dadwneud   [2] Members"], "cy") != []
    assert english_in(["Hana, your short id is 836VY9."], "cy") != []
    assert english_in(["Member: dues paid until 2027-11-30."], "cy") != []


HELP_SCRIPT = """\
/as {name}
/start
/help
/as Alice
/language {lang}
/help
/as Kai
/language {lang}
/help
"""


def declared_hints() -> set[str]:
    """Every argument hint a command declares for /help (its usage and its staff lines')."""
    hints = set()
    for spec in build_handlers().commands.values():
        hints |= {spec.usage, *(extra for extra, _, _ in spec.staff)} - {""}
    return hints


@pytest.mark.parametrize(("name", "lang"), [("Hana", "cy"), ("Ivan", "es")])
async def test_help_shows_each_command_s_hints_in_each_language(
    demo: Chat, name: str, lang: str
) -> None:
    """/help's argument hints ("/join <town or postcode>") read in the person's
    language, a member's and the staff's lines alike; the words to type stay."""
    if not (LOCALE_DIR / lang / "LC_MESSAGES" / f"{DOMAIN}.po").is_file():
        pytest.skip(f"needs the {lang} catalogue, bot/locale/{lang}/LC_MESSAGES/messages.po")
    t = translator(lang)
    english = {hint for hint in declared_hints() if t(hint) != hint}
    out = io.StringIO()
    console = ConsoleChat(demo.core, out=out)
    await console.run(io.StringIO(HELP_SCRIPT.format(name=name, lang=lang)))
    shown = out.getvalue()
    lines = [line for line in shown.splitlines() if re.match(r"^/\w+ .+ — ", line)]
    assert len(lines) > 60, shown  # a member's /help, an organiser's and an admin's
    untranslated = [line for line in lines if line.split(" — ")[0].split(" ", 1)[1] in english]
    assert untranslated == [], shown
    # What each reader would look for, in their words.
    join, canvass = {
        "cy": ("<tref neu god post>", "<man cyfarfod>"),
        "es": (
            "<localidad o código postal>",
            "<punto de encuentro>",
        ),
    }[lang]
    assert f"/join {join} — " in shown
    assert [line for line in lines if line.startswith("/canvass schedule ") and canvass in line]
