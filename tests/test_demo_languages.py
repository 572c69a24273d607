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
from bot.kernel.i18n import DOMAIN, LOCALE_DIR
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
