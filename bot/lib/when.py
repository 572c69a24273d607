"""Dates and times that members type, read in their branch's time zone: the one parser
behind /meeting, /poll (its times and --closes), /canvass schedule and /campaign.

``parse_when(text, now, tz)`` returns an aware UTC datetime; ``read_when`` returns the
same with the local reading and a flag for a wall time that happens twice. The same
words and times are read by ``read_time_of_day`` (a time alone), ``read_weekly`` (a
weekday and a time: "saturdays 10:30") and ``read_date`` (a calendar date alone). What
is read (English words; another language adds its own, from CLDR, with
``bot.lib.when_words.words_for``):

    2026-12-03 19:00        ISO date (also 2026/12/03, 2026.12.03, 2026-12-03T19:00)
    3 dec 19:00             day and month name, the year optional (then the next such day):
    3rd of December 2026 7pm    "dec 3", "december 3rd 2026" too
    today 19:30, tomorrow 7pm
    tue 19:00               the coming Tuesday: today if it is Tuesday and 19:00 is still
                            ahead, otherwise the Tuesday of next week
    next tuesday 19:00      the first Tuesday strictly after today (on a Monday: tomorrow)
    in 3 days 18:00         also "in 2 weeks 19:00"
    19:00                   a time alone is today

Times: ``19:00``, ``19.00``, ``7pm``, ``7 pm``, ``7:30pm``, ``7:30 pm``, ``noon``. The
parts may come in any order; "at", "on", "of", "the" and commas are ignored; case and
accents do not matter ("miercoles" is "miércoles"). Digits of any script (Arabic-Indic,
Devanagari...) are read as the digits they are.

A word of the table may be a phrase ("dydd mawrth", "el próximo martes"): the longest
phrase is read first. A word may mean two things (``Word.also``), told apart by its
neighbours: a weekday or a month (Spanish "mar": "mar 19:00" is Tuesday, "3 mar 19:00"
March), a word to ignore or a meridiem (Welsh "am 19:00" is "at 19:00", "7 am" is 7:00).

A numeric date with the day or month first (``3/12/2026``, ``03.12.2026``, ``3/12``) is
refused as ambiguous, even where only one reading is possible, so members learn one form.

Refusals raise ``WhenError(reason, **params)``; the bot words them:

    unreadable     not understood; ``word``: the part that was not (absent when empty/too long)
    no_time        a day without a time of day
    ambiguous      a day/month order that is not clear; ``text``
    no_such_date   ``year`` (None if not typed), ``month``, ``day``: 2026-02-30
    no_such_time   ``hour``, ``minute``: 25:00, 13pm
    past           ``local``: the naive local date and time read (now counts as past)
    too_far        ``local``, ``years``: more than two years ahead
    gap            ``local``, ``tz``: a local time skipped by a clock change (spring forward,
                   2027-03-28 01:30 in Europe/London)

Clock changes. A local time that happens twice (autumn, 2026-10-25 01:30 in Europe/London)
is read as its first occurrence (``fold=0``, still summer time) and ``When.ambiguous`` says
so, so the bot can show which one it chose. A repeating time (``series``: a meeting series,
``weekly``: a canvassing slot such as "Saturdays 10:30") keeps the local wall time (a 19:00
meeting stays at 19:00 across the change); an occurrence that falls in a gap moves forward
by the gap (01:30 becomes 02:30 summer time), one that happens twice takes the first
occurrence (``local_moment``).
"""

from __future__ import annotations

import datetime as dt
import itertools
import re
import unicodedata
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal, NamedTuple
from zoneinfo import ZoneInfo

__all__ = [
    "ENGLISH",
    "MAX_PHRASE",
    "MAX_YEARS_AHEAD",
    "PAIRS",
    "REASONS",
    "When",
    "WhenError",
    "Word",
    "fold",
    "local_moment",
    "parse_when",
    "read_date",
    "read_time_of_day",
    "read_wall_text",
    "read_weekday",
    "read_weekly",
    "read_when",
    "recurrences",
    "series",
    "wall_text",
    "weekly",
]

MAX_YEARS_AHEAD = 2
MAX_LENGTH = 200
"""Longer text is refused unread."""


REASONS = frozenset(
    ("unreadable", "no_time", "ambiguous", "no_such_date", "no_such_time", "past", "too_far", "gap")
)
"""Every ``WhenError.reason`` (see the module docstring)."""


class WhenError(ValueError):
    """A refusal: ``reason`` is a short key (see the module docstring), ``params`` details."""

    def __init__(self, reason: str, **params: object) -> None:
        super().__init__(reason)
        self.reason = reason
        self.params = params

    def __repr__(self) -> str:
        return f"WhenError({self.reason!r}, **{self.params!r})"


WordKind = Literal[
    "day",  # value: days from today
    "weekday",  # value: Monday 0 .. Sunday 6
    "weekdays",  # "saturdays": every such weekday (read_weekday and read_weekly only)
    "next",  # "next <weekday>": strictly after today
    "weekday_after",  # value: a weekday strictly after today (a phrase: "el próximo martes")
    "in",  # "in <number> <unit>"
    "unit",  # value: days in the unit
    "month",  # value: 1 .. 12
    "meridiem",  # value: hours to add to 1..12 (am 0, pm 12)
    "ordinal",  # the suffix of "3rd"
    "clock",  # value: minutes after midnight
    "filler",  # ignored
]


class Word(NamedTuple):
    kind: WordKind
    value: int = 0
    also: tuple[WordKind, int] | None = None
    """A second meaning, taken where the neighbours call for it: a month next to a day
    number (where ``kind`` is a weekday), a meridiem after an hour (where it is a filler),
    and the other way round."""


def fold(text: str) -> str:
    """A word as the table keeps it: casefolded, without accents ("Miércoles" is
    "miercoles"). Digits are left as they are."""
    decomposed = unicodedata.normalize("NFD", text.casefold())
    return unicodedata.normalize(
        "NFC", "".join(c for c in decomposed if not unicodedata.combining(c))
    )


def _words(kind: WordKind, table: Mapping[str, int]) -> dict[str, Word]:
    return {word: Word(kind, value) for word, value in table.items()}


ENGLISH: Mapping[str, Word] = {
    **_words("day", {"today": 0, "tonight": 0, "tomorrow": 1, "tmrw": 1}),
    **_words(
        "weekday",
        {
            "mon": 0,
            "monday": 0,
            "tue": 1,
            "tues": 1,
            "tuesday": 1,
            "wed": 2,
            "weds": 2,
            "wednesday": 2,
            "thu": 3,
            "thur": 3,
            "thurs": 3,
            "thursday": 3,
            "fri": 4,
            "friday": 4,
            "sat": 5,
            "saturday": 5,
            "sun": 6,
            "sunday": 6,
        },
    ),
    **_words(
        "weekdays",
        {
            "mondays": 0,
            "tuesdays": 1,
            "wednesdays": 2,
            "thursdays": 3,
            "fridays": 4,
            "saturdays": 5,
            "sundays": 6,
        },
    ),
    "next": Word("next"),
    "in": Word("in"),
    **_words("unit", {"day": 1, "days": 1, "week": 7, "weeks": 7}),
    **_words(
        "month",
        {
            "jan": 1,
            "january": 1,
            "feb": 2,
            "february": 2,
            "mar": 3,
            "march": 3,
            "apr": 4,
            "april": 4,
            "may": 5,
            "jun": 6,
            "june": 6,
            "jul": 7,
            "july": 7,
            "aug": 8,
            "august": 8,
            "sep": 9,
            "sept": 9,
            "september": 9,
            "oct": 10,
            "october": 10,
            "nov": 11,
            "november": 11,
            "dec": 12,
            "december": 12,
        },
    ),
    **_words("meridiem", {"am": 0, "pm": 12}),
    **_words("ordinal", {"st": 0, "nd": 0, "rd": 0, "th": 0}),
    **_words("clock", {"noon": 12 * 60, "midday": 12 * 60}),
    **_words("filler", {"at": 0, "on": 0, "of": 0, "the": 0}),
}
"""Words (folded: ``fold``) and what they mean. A language adds its own
(``bot.lib.when_words.words_for``)."""
PAIRS = ({"weekday", "month"}, {"filler", "meridiem"})
"""The two meanings one word may have, told apart by its neighbours."""
MAX_PHRASE = 4
"""The most words a phrase of the table has."""


@dataclass(frozen=True)
class When:
    at: dt.datetime
    """Aware, in UTC."""
    local: dt.datetime
    """The same instant in the branch's time zone."""
    ambiguous: bool
    """The local time happens twice (clocks going back); the first occurrence was taken."""


# After _normalise every digit is ASCII, so the patterns need only [0-9].
_ISO_DATE = re.compile(r"([0-9]{4})([-/.])([0-9]{1,2})\2([0-9]{1,2})")
_ISO_DATE_TIME = re.compile(r"([0-9]{4}-[0-9]{1,2}-[0-9]{1,2})t(.+)")
_DAY_MONTH_DATE = re.compile(r"[0-9]{1,2}([-/.])[0-9]{1,2}(?:\1[0-9]{0,4})?")
_CLOCK = re.compile(r"([0-9]{1,2})[:.]([0-9]{2})([^\W\d_]*)")
_NUMBER = re.compile(r"([0-9]{1,4})([^\W\d_]*)")
_WALL_TEXT = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}", re.ASCII)

_DateSpec = (
    tuple[Literal["date"], int | None, int, int]  # year (None: the next such day), month, day
    | tuple[Literal["days"], int]  # days from today
    | tuple[Literal["weekday"], int, bool]  # weekday, strictly after today
)


def _normalise(text: str) -> list[str]:
    """Casefolded tokens, every digit made ASCII, commas and a closing "!", "?" or "."
    dropped (not a dot after a digit: "3.12." is a date)."""
    digits = fold(
        "".join(str(unicodedata.decimal(ch, ch)) if ch.isdecimal() else ch for ch in text)
    )
    digits = re.sub(r"(?<![0-9])\.$", "", digits.rstrip().rstrip("!?"))
    tokens: list[str] = []
    for token in re.sub(r"[,;]", " ", digits).split():
        iso = _ISO_DATE_TIME.fullmatch(token)
        # "sáb." and "dic." are abbreviations: their dot is no part of the word.
        tokens.extend(iso.groups() if iso else [re.sub(r"(?<=[^\W\d_])\.$", "", token)])
    return [token for token in tokens if token]


def _phrases(tokens: list[str], words: Mapping[str, Word]) -> list[str]:
    """``tokens`` with each run that is a phrase of ``words`` joined into one, longest
    first ("dydd mawrth nesaf" before "dydd mawrth")."""
    joined: list[str] = []
    at = 0
    while at < len(tokens):
        for n in range(min(MAX_PHRASE, len(tokens) - at), 1, -1):
            phrase = " ".join(tokens[at : at + n])
            if phrase in words:
                joined.append(phrase)
                at += n
                break
        else:
            joined.append(tokens[at])
            at += 1
    return joined


def _as(word: Word | None, *kinds: WordKind) -> Word | None:
    """``word`` in the meaning of one of ``kinds`` (its first or its second), if it has one."""
    if word is None:
        return None
    if word.kind in kinds:
        return word
    if word.also is not None and word.also[0] in kinds:
        return Word(*word.also)
    return None


_HOUR = re.compile(r"[0-9]{1,2}(?:[:.][0-9]{2})?")
_DAY_NUMBER = re.compile(r"[0-9]{1,2}([^\W\d_]*)")


def _both(word: Word | None, *kinds: WordKind) -> bool:
    """``word`` has two meanings, and they are ``kinds``."""
    return word is not None and word.also is not None and {word.kind, word.also[0]} == {*kinds}


def _meanings(tokens: list[str], words: Mapping[str, Word]) -> list[tuple[str, Word | None]]:
    """Each token with the meaning it has here, the words to ignore left out: a word
    with two meanings is a meridiem right after an hour ("7 am"), a month next to a day
    number, words to ignore aside ("3 mar", "3 de mar", "mar 3"; not "mar 7 pm"),
    otherwise its other meaning."""
    kept: list[tuple[str, Word | None]] = []
    for index, token in enumerate(tokens):
        word = words.get(token)
        if _both(word, "filler", "meridiem"):
            after_hour = index > 0 and _HOUR.fullmatch(tokens[index - 1]) is not None
            word = _as(word, "meridiem" if after_hour else "filler")
        if word is None or word.kind != "filler":
            kept.append((token, word))

    def day_number(index: int) -> bool:
        if not 0 <= index < len(kept) or not (number := _DAY_NUMBER.fullmatch(kept[index][0])):
            return False
        if number.group(1):
            return _as(words.get(number.group(1)), "ordinal") is not None
        return index + 1 >= len(kept) or _as(kept[index + 1][1], "meridiem") is None

    for index, (token, word) in enumerate(kept):
        if _both(word, "weekday", "month"):
            by_day = day_number(index - 1) or day_number(index + 1)
            kept[index] = (token, _as(word, "month" if by_day else "weekday"))
    return kept


class _Reader:
    """Reads tokens into at most one day and one time of day."""

    def __init__(self, tokens: list[str], words: Mapping[str, Word]) -> None:
        self.words = words
        kept = _meanings(_phrases(tokens, words), words)
        self.tokens = [token for token, _ in kept]
        self.meanings = [word for _, word in kept]
        self.at = 0
        self.date: _DateSpec | None = None
        self.time: tuple[int, int] | None = None

    def word(self, offset: int = 0) -> Word | None:
        index = self.at + offset
        return self.meanings[index] if index < len(self.meanings) else None

    def number(self, offset: int = 0, *, digits: int = 4) -> int | None:
        """A plain number (no suffix) at ``offset``, of at most ``digits`` digits."""
        index = self.at + offset
        if index < len(self.tokens) and re.fullmatch(f"[0-9]{{1,{digits}}}", self.tokens[index]):
            return int(self.tokens[index])
        return None

    def unreadable(self) -> WhenError:
        return WhenError("unreadable", word=self.tokens[self.at][:30])

    def set_date(self, spec: _DateSpec) -> None:
        if self.date is not None:
            raise self.unreadable()
        self.date = spec

    def set_time(self, hour: int, minute: int, meridiem: Word | None) -> None:
        if self.time is not None:
            raise self.unreadable()
        if meridiem is not None:
            if not 1 <= hour <= 12:
                raise WhenError("no_such_time", hour=hour, minute=minute)
            hour = hour % 12 + meridiem.value
        if not (0 <= hour <= 23 and 0 <= minute <= 59):
            raise WhenError("no_such_time", hour=hour, minute=minute)
        self.time = (hour, minute)

    def suffix(self, text: str) -> Word | None:
        """The meaning of letters glued to a number; unreadable if they mean nothing here."""
        if not text:
            return None
        word = _as(self.words.get(text), "meridiem", "ordinal")
        if word is None:
            raise self.unreadable()
        return word

    def day_of_month(self, day: int, month: int) -> int:
        """After "<day> <month>" or "<month> <day>": an optional year. Returns tokens used."""
        year = self.number(2)
        if year is not None and year >= 1000:
            self.set_date(("date", year, month, day))
            return 3
        self.set_date(("date", None, month, day))
        return 2

    def read(self) -> None:
        while self.at < len(self.tokens):
            self.at += self.step(self.tokens[self.at])

    def step(self, token: str) -> int:
        """Read the token at ``self.at``; return how many tokens it used."""
        if iso := _ISO_DATE.fullmatch(token):
            year, _sep, month, day = iso.groups()
            self.set_date(("date", int(year), int(month), int(day)))
            return 1
        if clock := _CLOCK.fullmatch(token):
            hour, minute, suffix = clock.groups()
            meridiem = self.suffix(suffix)
            if meridiem is not None and meridiem.kind != "meridiem":
                raise self.unreadable()
            after = self.word(1)
            if meridiem is None and after is not None and after.kind == "meridiem":
                self.set_time(int(hour), int(minute), after)  # "7:30 pm"
                return 2
            self.set_time(int(hour), int(minute), meridiem)
            return 1
        if _DAY_MONTH_DATE.fullmatch(token.rstrip(".")):
            raise WhenError("ambiguous", text=token[:30])
        if number := _NUMBER.fullmatch(token):
            return self.number_first(int(number.group(1)), self.suffix(number.group(2)))
        word = self.word()
        if word is None:
            raise self.unreadable()
        if word.kind == "day":
            self.set_date(("days", word.value))
        elif word.kind == "weekday":
            self.set_date(("weekday", word.value, False))
        elif word.kind == "weekday_after":
            self.set_date(("weekday", word.value, True))
        elif word.kind == "next":
            after = self.word(1)
            if after is None or after.kind != "weekday":
                raise self.unreadable()
            self.set_date(("weekday", after.value, True))
            return 2
        elif word.kind == "in":
            count, unit = self.number(1), self.word(2)
            if count is None or unit is None or unit.kind != "unit":
                raise self.unreadable()
            self.set_date(("days", count * unit.value))
            return 3
        elif word.kind == "month":
            day = self.number(1, digits=2)
            if day is None and self.at + 1 < len(self.tokens):
                ordinal = _NUMBER.fullmatch(self.tokens[self.at + 1])
                if ordinal and len(ordinal.group(1)) <= 2:
                    if _as(self.words.get(ordinal.group(2)), "ordinal") is not None:
                        day = int(ordinal.group(1))
            if day is None:
                raise self.unreadable()
            return self.day_of_month(day, word.value)
        elif word.kind == "clock":
            self.set_time(word.value // 60, word.value % 60, None)
        else:  # a meridiem, unit, ordinal or "saturdays" on its own
            raise self.unreadable()
        return 1

    def number_first(self, value: int, suffix: Word | None) -> int:
        """ "7pm", "7 pm", "3rd dec", "3 december 2026"."""
        if suffix is not None and suffix.kind == "meridiem":
            self.set_time(value, 0, suffix)
            return 1
        after = self.word(1)
        if suffix is None and after is not None and after.kind == "meridiem":
            self.set_time(value, 0, after)
            return 2
        if after is not None and after.kind == "month" and value <= 99:
            return self.day_of_month(value, after.value)
        raise self.unreadable()


def _years_later(moment: dt.datetime, years: int) -> dt.datetime:
    try:
        return moment.replace(year=moment.year + years)
    except ValueError:  # 29 February
        return moment.replace(year=moment.year + years, day=28)


def _place(wall: dt.datetime, tz: ZoneInfo) -> tuple[dt.datetime, bool, bool]:
    """A naive local time as UTC, the first occurrence if it happens twice (fold=0).
    Returns (utc, ambiguous, in_gap); in a gap the result is moved forward by the gap."""
    first = wall.replace(tzinfo=tz, fold=0)
    second = wall.replace(tzinfo=tz, fold=1)
    utc = first.astimezone(dt.UTC)
    if first.utcoffset() == second.utcoffset():
        return utc, False, False
    in_gap = utc.astimezone(tz).replace(tzinfo=None) != wall
    return utc, not in_gap, in_gap


def _day(spec: _DateSpec | None, wall: dt.time, local_now: dt.datetime) -> dt.date:
    today = local_now.date()
    naive_now = local_now.replace(tzinfo=None)
    if spec is None:
        return today
    if spec[0] == "days":
        return today + dt.timedelta(days=spec[1])
    if spec[0] == "weekday":
        _, weekday, strictly_after = spec
        ahead = (weekday - today.weekday()) % 7
        if ahead == 0 and (strictly_after or dt.datetime.combine(today, wall) <= naive_now):
            ahead = 7
        return today + dt.timedelta(days=ahead)
    _, year, month, day = spec
    if year is not None:
        try:
            return dt.date(year, month, day)
        except ValueError:
            raise WhenError("no_such_date", year=year, month=month, day=day) from None
    try:
        dt.date(2000, month, day)  # a leap year: any day that exists at all
    except ValueError:
        raise WhenError("no_such_date", year=None, month=month, day=day) from None
    for candidate_year in range(today.year, today.year + 9):  # 29 February: a leap year
        try:
            candidate = dt.date(candidate_year, month, day)
        except ValueError:
            continue
        if dt.datetime.combine(candidate, wall) > naive_now:
            return candidate
    raise WhenError("no_such_date", year=None, month=month, day=day)  # pragma: no cover


def read_when(
    text: str, now: dt.datetime, tz: ZoneInfo, *, words: Mapping[str, Word] = ENGLISH
) -> When:
    """Read a date and time of day typed by a member, in the time zone ``tz``.
    ``now`` is aware. Raises ``WhenError`` for anything it will not accept."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    if len(text) > MAX_LENGTH:
        raise WhenError("unreadable")
    tokens = _normalise(text)
    if not tokens:
        raise WhenError("unreadable")
    reader = _Reader(tokens, words)
    reader.read()
    if reader.time is None:
        if reader.date is None:
            raise WhenError("unreadable")
        raise WhenError("no_time")
    now_utc = now.astimezone(dt.UTC)
    local_now = now_utc.astimezone(tz)
    wall_time = dt.time(*reader.time)
    day = _day(reader.date, wall_time, local_now)
    wall = dt.datetime.combine(day, wall_time)
    # Far-off dates are settled before any arithmetic in UTC, which could overflow.
    if day < local_now.date() - dt.timedelta(days=1):
        raise WhenError("past", local=wall)
    if day > _years_later(local_now, MAX_YEARS_AHEAD).date() + dt.timedelta(days=1):
        raise WhenError("too_far", local=wall, years=MAX_YEARS_AHEAD)
    at, ambiguous, in_gap = _place(wall, tz)
    if at <= now_utc:
        raise WhenError("past", local=wall)
    if at > _years_later(now_utc, MAX_YEARS_AHEAD):
        raise WhenError("too_far", local=wall, years=MAX_YEARS_AHEAD)
    if in_gap:
        raise WhenError("gap", local=wall, tz=tz.key)
    return When(at=at, local=at.astimezone(tz), ambiguous=ambiguous)


def _read(text: str, words: Mapping[str, Word]) -> _Reader:
    tokens = _normalise(text) if len(text) <= MAX_LENGTH else []
    if not tokens:
        raise WhenError("unreadable")
    reader = _Reader(tokens, words)
    reader.read()
    return reader


def read_time_of_day(text: str, *, words: Mapping[str, Word] = ENGLISH) -> dt.time:
    """A time of day alone (``19:00``, ``7pm``, ``7:30 pm``, ``noon``), read as
    ``read_when`` reads one, so every command accepts the same times."""
    reader = _read(text, words)
    if reader.time is None or reader.date is not None:
        raise WhenError("unreadable")
    return dt.time(*reader.time)


def read_weekday(text: str, *, words: Mapping[str, Word] = ENGLISH) -> int:
    """A weekday named alone, 0 (Monday) to 6: ``saturday``, ``sat``, ``Sat.``, or
    ``saturdays`` (as in "every Saturday"). Raises ``WhenError("unreadable")``."""
    tokens = _normalise(text) if len(text) <= MAX_LENGTH else []
    kept = _meanings(_phrases(tokens, words), words)
    word = _as(kept[0][1], "weekday", "weekdays") if len(kept) == 1 else None
    if word is None:
        raise WhenError("unreadable", **({"word": tokens[0][:30]} if tokens else {}))
    return word.value


def read_weekly(
    typed: Sequence[str], *, words: Mapping[str, Word] = ENGLISH
) -> tuple[int, dt.time, int]:
    """A weekday and a time of day at the start of the words ``typed``
    (``saturday 10:30``, ``sat 7 pm``, ``saturdays noon``): the weekday (0 = Monday),
    the time, and how many of the words they took; the rest is the caller's (a meeting
    point). The weekday may be a phrase ("dydd Sadwrn 10:30", "los sábados 10:30"). The
    time takes a second word only where that changes it ("7 pm"), never one that
    changes nothing ("10:30 the"). Raises ``WhenError``."""
    if not typed:
        raise WhenError("unreadable")
    for n in range(min(MAX_PHRASE, len(typed)), 0, -1):
        try:
            weekday = read_weekday(" ".join(typed[:n]), words=words)
        except WhenError:
            if n == 1:
                raise
            continue
        used = n - 1
        break
    weekday, at, took = _weekly_time(weekday, typed[used:], words)
    return weekday, at, took + used


def _weekly_time(
    weekday: int, typed: Sequence[str], words: Mapping[str, Word]
) -> tuple[int, dt.time, int]:
    """``read_weekly`` once the weekday was read: ``typed[0]`` its last word."""
    if len(typed) < 2:
        raise WhenError("no_time")
    try:
        at: dt.time | None = read_time_of_day(typed[1], words=words)
    except WhenError:
        at = None
    if len(typed) > 2:
        try:
            longer = read_time_of_day(f"{typed[1]} {typed[2]}", words=words)
        except WhenError:
            pass
        else:
            if longer != at:
                return weekday, longer, 3
    if at is None:
        raise WhenError("unreadable", word=typed[1][:30])
    return weekday, at, 2


def read_date(text: str, today: dt.date, *, words: Mapping[str, Word] = ENGLISH) -> dt.date:
    """A calendar date alone (``2026-12-03``, ``2026/12/03``, ``3 dec 2026``; without a
    year the next such day, ``today`` included), for a day fixed in advance such as a
    polling day: never a time, nor a day counted from today ("tomorrow", "sat"), which
    would move with the day it is read. Raises ``WhenError`` ("unreadable",
    "ambiguous", "no_such_date")."""
    reader = _read(text, words)
    if reader.date is None or reader.date[0] != "date" or reader.time is not None:
        raise WhenError("unreadable")
    return _day(reader.date, dt.time.max, dt.datetime.combine(today, dt.time.min))


def wall_text(local: dt.datetime) -> str:
    """``2026-12-03 19:00``: a local wall time kept as text that ``read_when`` and
    ``read_wall_text`` read back (a draft's time, the options of a poll about times).
    People read times through ``bot.kernel.i18n.format_local``."""
    return local.replace(tzinfo=None).isoformat(sep=" ", timespec="minutes")


def read_wall_text(text: str) -> dt.datetime:
    """The naive local wall time of ``wall_text``; ValueError if ``text`` is not one."""
    if not _WALL_TEXT.fullmatch(text):
        raise ValueError(f"not a wall time: {text[:40]!r}")
    return dt.datetime.fromisoformat(text)


def parse_when(
    text: str, now: dt.datetime, tz: ZoneInfo, *, words: Mapping[str, Word] = ENGLISH
) -> dt.datetime:
    """``read_when(...).at``: the moment meant, aware, in UTC."""
    return read_when(text, now, tz, words=words).at


def local_moment(day: dt.date, at: dt.time, tz: ZoneInfo) -> dt.datetime:
    """The moment (aware, UTC) when clocks in ``tz`` show ``at`` on ``day``. A time
    the clocks skip (spring forward) moves forward by the gap (01:30 becomes 02:30
    summer time); a time that happens twice (autumn) is its first occurrence."""
    return _place(dt.datetime.combine(day, at.replace(tzinfo=None, fold=0)), tz)[0]


def series(
    start: dt.date, at: dt.time, tz: ZoneInfo, rule: Literal["weekly", "monthly"]
) -> Iterator[dt.datetime]:
    """Without end, in order: ``at`` in ``tz`` on ``start``, then on each day the rule
    gives, always at that local wall time (``local_moment``), whatever the clocks do.

    Weekly: every 7 days. Monthly: the same day of the month, skipping months that have no
    such day (a series on the 31st has none in April), as iCalendar's RRULE does, so that
    calendars exported from the bot agree."""
    if rule not in ("weekly", "monthly"):
        raise ValueError(f"unknown rule {rule!r}")
    return _series(start, at, tz, rule)


def _series(start: dt.date, at: dt.time, tz: ZoneInfo, rule: str) -> Iterator[dt.datetime]:
    step = 0
    while True:
        if rule == "weekly":
            day = start + dt.timedelta(weeks=step)
        else:
            months = start.month - 1 + step
            try:
                day = start.replace(year=start.year + months // 12, month=months % 12 + 1)
            except ValueError:  # no such day this month
                step += 1
                continue
        yield local_moment(day, at, tz)
        step += 1


def weekly(weekday: int, at: dt.time, tz: ZoneInfo, after: dt.datetime) -> Iterator[dt.datetime]:
    """Without end, in order: each moment strictly after ``after`` when it is
    ``weekday`` (0 Monday to 6 Sunday) ``at`` o'clock in ``tz`` ("Saturdays 10:30")."""
    if after.tzinfo is None:
        raise ValueError("after must be timezone-aware")
    start = after.astimezone(tz).date()
    start += dt.timedelta(days=(weekday - start.weekday()) % 7)
    return (moment for moment in series(start, at, tz, "weekly") if moment > after)


def recurrences(
    first: dt.datetime, tz: ZoneInfo, rule: Literal["weekly", "monthly"], count: int
) -> list[dt.datetime]:
    """``count`` occurrences of ``series``, ``first`` included, at the same local wall
    time as ``first``. Results are aware UTC datetimes."""
    if first.tzinfo is None:
        raise ValueError("first must be timezone-aware")
    if count < 0:
        raise ValueError("count cannot be negative")
    local = first.astimezone(tz)
    later = itertools.islice(series(local.date(), local.time(), tz, rule), 1, max(count, 1))
    return [first.astimezone(dt.UTC), *later][:count]
