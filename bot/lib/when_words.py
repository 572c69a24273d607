"""The words of a language for the time parser (``bot.lib.when``), from CLDR (Babel).

``words_for(locale)`` is English (always understood) and the language's own words:

- weekdays and months, wide and abbreviated, as written and standing alone
  ("martes", "mar", "dydd Mawrth", "Maw", "diciembre", "dic"), and a Welsh
  weekday's "dydd" as mutated after "ar" ("ar ddydd Mawrth");
- the days named relative to today ("hoy", "mañana", "pasado mañana", "heddiw",
  "yfory"), "this" and "next" weekday ("este martes", "el próximo martes",
  "dydd Mawrth nesaf"), and "next" alone before a weekday ("el próximo", "próximo");
- "in N days/weeks" ("dentro de 3 días", "ymhen 3 wythnos", "ymhen deuddydd") and a
  weekday's plural ("sábados": every Saturday), from the relative-time patterns;
- the words to ignore: those quoted in the language's date and time patterns ("de",
  "am"), and those its translators give (``FILLERS``: "a las", "el").

A word that means two things (Spanish "mar", Tuesday and March; Welsh "am", "at" and
English "a.m.") keeps both; the parser tells them apart by their neighbours. Otherwise
the language's meaning wins over English's. CLDR's relative fields have no public
Babel accessor: they are read from ``Locale._data["date_fields"]`` (what
``babel.dates.format_timedelta`` reads too).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import lru_cache

from babel import Locale, UnknownLocaleError
from babel.dates import get_day_names, get_month_names

from bot.kernel.i18n import N_, Translator
from bot.lib.when import ENGLISH, MAX_PHRASE, PAIRS, Word, fold

__all__ = ["FILLERS", "words_for", "words_of"]

FILLERS = N_(
    "Small words people type around a date and time, which the bot ignores, "
    "separated by spaces: at on of the"
)
"""The translators' words to ignore: what follows the last colon of the translation."""

_WEEKDAY_FIELDS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_UNITS = (("day", 1), ("week", 7))
_COUNTS = {"one": 1, "two": 2}  # a pattern without its number: "ymhen deuddydd"


def _table_of(word: Word, other: Word) -> Word:
    """One entry for two meanings of the same word: both where the parser can tell
    them apart, otherwise the first."""
    if word[:2] == other[:2] or word.also is not None:
        return word
    if {word.kind, other.kind} in PAIRS:
        return Word(word.kind, word.value, (other.kind, other.value))
    return word


class _Table:
    def __init__(self) -> None:
        self.words: dict[str, Word] = {}

    def add(self, text: str, word: Word) -> None:
        key = " ".join(fold(text).strip(" .").split())
        if not key or len(key.split()) > MAX_PHRASE or re.search(r"[0-9{}]", key):
            return
        known = self.words.get(key)
        self.words[key] = word if known is None else _table_of(known, word)


def _fields(locale: Locale) -> Mapping[str, Mapping[str, Mapping[object, str]]]:
    fields: Mapping[str, Mapping[str, Mapping[object, str]]]
    fields = locale._data["date_fields"]  # no public accessor (see the module's docstring)
    return fields


# Welsh soft mutation of a word's first letters, which CLDR does not give: "ar
# ddydd Mawrth" (on Tuesday) is written with "dydd" mutated. Longest first.
_SOFT_MUTATION = (
    ("ll", "l"), ("rh", "r"), ("c", "g"), ("p", "b"), ("t", "d"),
    ("g", ""), ("b", "f"), ("d", "dd"), ("m", "f"),
)  # fmt: skip


def _mutated(language: str, phrase: str) -> str | None:
    """``phrase`` with its first word soft-mutated, in a language that mutates."""
    if language != "cy":
        return None
    folded = fold(phrase)
    for plain, soft in _SOFT_MUTATION:
        if folded.startswith(plain) and " " in folded:
            return soft + folded[len(plain) :]
    return None


def _names(table: _Table, locale: Locale) -> None:
    for width in ("wide", "abbreviated"):
        for context in ("format", "stand-alone"):
            for weekday, name in get_day_names(width, context, locale).items():
                table.add(str(name), Word("weekday", int(weekday)))
                if mutated := _mutated(locale.language, str(name)):
                    table.add(mutated, Word("weekday", int(weekday)))
            for month, name in get_month_names(width, context, locale).items():
                table.add(str(name), Word("month", int(month)))


def _relative(table: _Table, locale: Locale) -> None:
    fields = _fields(locale)
    for offset, text in fields["day"]["relative"].items():
        table.add(text, Word("day", int(offset)))  # type: ignore[call-overload]
    for weekday, field in enumerate(_WEEKDAY_FIELDS):
        relative = fields[field]["relative"]
        table.add(relative[0], Word("weekday", weekday))
        table.add(relative[1], Word("weekday_after", weekday))
        if mutated := _mutated(locale.language, relative[1]):
            table.add(mutated, Word("weekday_after", weekday))
        name = fold(str(get_day_names("wide", locale=locale)[weekday]))
        before, found, _after = fold(relative[1]).partition(name)
        if found and before.strip():  # "next Tuesday", "el próximo martes"
            table.add(before, Word("next"))
            table.add(before.split()[-1], Word("next"))
        plural = fields[field]["future"].get("other", "")
        if "{0}" in plural:
            table.add(plural.split("{0}", 1)[1], Word("weekdays", weekday))
    for unit, days in _UNITS:
        for count, pattern in fields[unit]["future"].items():
            if "{0}" in pattern:
                before, after = pattern.split("{0}", 1)
                table.add(before, Word("in"))
                table.add(after, Word("unit", days))
            elif count in _COUNTS:
                table.add(pattern, Word("day", _COUNTS[str(count)] * days))


def _quoted(locale: Locale) -> list[str]:
    """The words quoted in the date and time patterns ("d 'de' MMMM", "{1} 'am' {0}")."""
    patterns = [
        *locale.date_formats.values(),
        *locale.datetime_formats.values(),
        *locale.datetime_formats_relative.values(),
    ]
    return [word for p in patterns for word in re.findall(r"'([^']+)'", str(p))]


@lru_cache(maxsize=32)
def words_for(locale: str, fillers: str = "") -> Mapping[str, Word]:
    """The words read in ``locale`` (English too), with ``fillers`` (words separated by
    spaces) ignored. An unknown locale reads English."""
    try:
        where = Locale.parse(locale.replace("-", "_"))
    except (UnknownLocaleError, ValueError, TypeError):
        return ENGLISH
    table = _Table()
    _names(table, where)
    _relative(table, where)
    for quoted in [*_quoted(where), *fillers.split()]:
        for part in quoted.split():
            table.add(part, Word("filler"))
    for key, word in ENGLISH.items():
        table.add(key, word)
    return table.words


def words_of(t: Translator) -> Mapping[str, Word]:
    """The words read from someone who reads ``t``: their language's and English."""
    return words_for(t.locale, t(FILLERS).rpartition(":")[2])
