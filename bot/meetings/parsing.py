"""Reading the one-line /meeting: its kind, date and time, place or link, title,
capacity and series (weekly|monthly [xN]), and the reminder hours an organiser types."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from bot.lib.when import ENGLISH, When, WhenError, Word, read_when
from storage.vocabulary import (
    ASSEMBLY,
    IN_PERSON,
    ONLINE,
)

TITLE_LIMIT = 200
PLACE_LIMIT = 200
LINK_LIMIT = 500
CAPACITY_LIMIT = 1000
LINE_LIMIT = 900
DEFAULT_COUNT = {"weekly": 8, "monthly": 6}
MAX_COUNT = {"weekly": 52, "monthly": 24}
MAX_REMINDER_HOURS = 168  # a week
MAX_REMINDERS = 4
MAX_DATE_WORDS = 7

KIND_WORDS = {
    "online": ONLINE,
    "call": ONLINE,
    "in-person": IN_PERSON,
    "inperson": IN_PERSON,
    "in_person": IN_PERSON,
    "face-to-face": IN_PERSON,
    "f2f": IN_PERSON,
    "assembly": ASSEMBLY,
}
RULES = {"weekly": "weekly", "monthly": "monthly"}
CAPACITY_WORDS = {"cap", "capacity", "max", "places"}

LINK = re.compile(r"https?://[^\s<>\"]+", re.IGNORECASE)
_TIMES = re.compile(r"[x×]([0-9]{1,3})|([0-9]{1,3})[x×]")
_TOKEN = re.compile(r"\"([^\"]*)\"?|“([^”]*)”?|(\S+)")


class LineError(ValueError):
    """A line the bot will not take: ``reason`` a short key, ``params`` the details;
    reason "when" carries the ``WhenError`` as ``error``."""

    def __init__(self, reason: str, **params: object) -> None:
        super().__init__(reason)
        self.reason = reason
        self.params = params


@dataclass(frozen=True, slots=True)
class Token:
    text: str
    quoted: bool


@dataclass(frozen=True, slots=True)
class Draft:
    """A meeting as typed, before it is confirmed."""

    kind: str
    when: When
    place: str
    title: str | None
    capacity: int | None
    rule: str | None  # "weekly", "monthly" or None
    count: int


def _printable(text: str) -> str:
    return " ".join("".join(ch for ch in text if ch.isprintable()).split())


def tokenize(text: str) -> list[Token]:
    """Words, and "quoted phrases" (straight or curly quotes) as one token each."""
    tokens = []
    for match in _TOKEN.finditer(text):
        bare, straight, curly = match.group(3), match.group(1), match.group(2)
        if bare is not None:
            tokens.append(Token(_printable(bare), False))
        else:
            tokens.append(Token(_printable(straight if straight is not None else curly), True))
    return [t for t in tokens if t.text or t.quoted]


_NUMBERISH = re.compile(r"[-+\u2212]?\d*[.,]?\d+")


def _digits(word: str) -> bool:
    return word.isascii() and word.isdigit() and len(word) <= 6


def _options(tokens: list[Token]) -> tuple[list[Token], int | None, str | None, int | None]:
    """Strip ``cap N`` and ``weekly|monthly [xN]`` from the end of the line."""
    capacity: int | None = None
    rule: str | None = None
    count: int | None = None
    while tokens:
        words = [None if t.quoted else t.text.lower() for t in tokens]
        last = words[-1]
        before = words[-2] if len(words) > 1 else None
        times = _TIMES.fullmatch(last) if last is not None else None
        if rule is None and before in RULES and times is not None:
            rule, count = RULES[before], int(times.group(1) or times.group(2))
            tokens = tokens[:-2]
        elif rule is None and last in RULES:
            rule = RULES[last]
            tokens = tokens[:-1]
        elif capacity is None and before in CAPACITY_WORDS and last is not None and _digits(last):
            capacity = int(last)
            tokens = tokens[:-2]
        elif before in CAPACITY_WORDS and last is not None and _NUMBERISH.fullmatch(last):
            # "cap -3", "cap 3.5": a capacity meant and mistyped, refused with a hint,
            # never kept as the end of the title.
            raise LineError("capacity", n=CAPACITY_LIMIT)
        else:
            break
    if capacity is not None and not 1 <= capacity <= CAPACITY_LIMIT:
        raise LineError("capacity", n=CAPACITY_LIMIT)
    if rule is not None:
        if count is None:
            count = DEFAULT_COUNT[rule]
        if not 1 <= count <= MAX_COUNT[rule]:
            raise LineError("count", n=MAX_COUNT[rule])
    return tokens, capacity, rule, count


def _read_date(
    tokens: list[Token], now: dt.datetime, tz: ZoneInfo, words: Mapping[str, Word]
) -> tuple[When, int]:
    """The date and time at the start of ``tokens``, and how many tokens it took:
    the longest run of words that reads as one (so "next tue 19:00" is not cut short),
    without trailing words that change nothing ("at", "the")."""
    specific: WhenError | None = None
    last: WhenError | None = None
    for n in range(min(len(tokens), MAX_DATE_WORDS), 0, -1):
        prefix = tokens[:n]
        if any(t.quoted for t in prefix):
            continue
        try:
            when = read_when(" ".join(t.text for t in prefix), now, tz, words=words)
        except WhenError as exc:
            last = exc
            if specific is None and exc.reason != "unreadable":
                specific = exc
            continue
        while n > 1:
            try:
                shorter = read_when(" ".join(t.text for t in tokens[: n - 1]), now, tz, words=words)
            except WhenError:
                break
            if shorter.at != when.at:
                break
            n -= 1
        return when, n
    error = specific or last
    if error is None:
        raise LineError("no_when")
    raise LineError("when", error=error)


def _place_and_title(kind: str, tokens: list[Token]) -> tuple[str, str | None]:
    if kind == ONLINE:
        link = next((t for t in tokens if LINK.fullmatch(t.text)), None)
        if link is None:
            raise LineError("link")
        place = link.text
        title = " ".join(t.text for t in tokens if t is not link)
        if len(place) > LINK_LIMIT:
            raise LineError("place_too_long", n=LINK_LIMIT)
    elif not tokens:
        raise LineError("no_place")
    elif tokens[0].quoted:
        place, title = tokens[0].text, " ".join(t.text for t in tokens[1:])
    else:
        words = tokens[1:] if len(tokens) > 1 and tokens[0].text.lower() in ("at", "@") else tokens
        place, title = " ".join(t.text for t in words), ""
    if not place:
        raise LineError("no_place")
    if len(place) > PLACE_LIMIT and kind != ONLINE:
        raise LineError("place_too_long", n=PLACE_LIMIT)
    if len(title) > TITLE_LIMIT:
        raise LineError("title_too_long", n=TITLE_LIMIT)
    return place, title or None


def parse_line(
    text: str, now: dt.datetime, tz: ZoneInfo, *, words: Mapping[str, Word] = ENGLISH
) -> Draft:
    """``<kind> <date and time> <link or place> [title] [cap N] [weekly|monthly [xN]]``.

    The place of a face-to-face meeting or an assembly is the rest of the line, or a
    "quoted phrase" followed by the title; an online call's link is any word that is a
    link, the other words its title. The date is read in ``words`` (the person's language's:
    ``bot.lib.when_words.words_of``). Raises ``LineError``."""
    if len(text) > LINE_LIMIT:
        raise LineError("too_long")
    tokens = tokenize(text)
    kind = KIND_WORDS.get(tokens[0].text.lower()) if tokens and not tokens[0].quoted else None
    if kind is None:
        raise LineError("kind")
    rest, capacity, rule, count = _options(tokens[1:])
    when, used = _read_date(rest, now, tz, words)
    place, title = _place_and_title(kind, rest[used:])
    return Draft(kind, when, place, title, capacity, rule, count or 1)


def parse_kind(word: str) -> str | None:
    return KIND_WORDS.get(word.lower())


def reminder_hours(setting: str) -> list[int]:
    """The hours of a branch's ``meeting_reminders`` ("24,1"), largest first; what
    cannot be read is ignored."""
    hours = {int(w.strip()) for w in setting.split(",") if _digits(w.strip())}
    return sorted((h for h in hours if 1 <= h <= MAX_REMINDER_HOURS), reverse=True)


def parse_reminder_hours(text: str) -> list[int] | None:
    """ "48,2" or "48 2" -> [48, 2]; "off" -> []; None if it is not that."""
    if text.lower() in ("off", "none"):
        return []
    words = [w for w in re.split(r"[\s,]+", text) if w]
    if not words or len(words) > MAX_REMINDERS or not all(_digits(w) for w in words):
        return None
    hours = {int(w) for w in words}
    if not all(1 <= h <= MAX_REMINDER_HOURS for h in hours):
        return None
    return sorted(hours, reverse=True)
