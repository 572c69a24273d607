"""Where a draw's seed comes from, as data: what the commitment names, when the
seed exists, and the one text that is hashed.

A seed source is fixed in the record before anyone can know the seed. Three kinds:

``lottery``
    A public lottery's result on a date after the commitment: a known game (UK
    Lotto, EuroMillions, La Primitiva) or another named with its format ("Irish
    Lotto 6 of 1-47"). The committed
    source fixes which numbers, their range and their order (``format``) and the
    moment the result is public (``results_after``, UTC). Two witnesses type the
    numbers however they like ("03 14 15 35 42 58 + 07", "3,14,15,35,42,58 bonus
    7", in any order within a group); both are read into one canonical text (the
    groups in the committed order, each group's numbers ascending, no zero
    padding, groups joined by " + "), and that text is the seed.
``beacon``
    A round of a known drand chain (see ``bot.lib.sortition.beacons``) whose time,
    from the chain's genesis and period, is after the commitment.
``string``
    Anything else: a TRIAL. It may be useful to rehearse, but whoever types the
    seed could pick the panel, so a trial draw invites and seats nobody and says
    so wherever it shows.

Messages raised here (``SeedProblem``) are catalogue sentences: the command
translates them with their parameters (a weekday in the reader's language).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from bot.kernel.i18n import N_, format_local
from bot.lib.sortition.chains import round_time

LOTTERY, BEACON, STRING = "lottery", "beacon", "string"


class SeedProblem(Exception):
    """A seed source or a seed that cannot be used, with a sentence to show."""

    def __init__(self, message: str, **params: object) -> None:
        super().__init__(message)
        self.message = message
        self.params = params

    def render(self, t: Any) -> str:
        params = {
            key: format_local(value, "weekday", t.locale) if isinstance(value, Weekday) else value
            for key, value in self.params.items()
        }
        return str(t(self.message, **params))


class Weekday(int):
    """A weekday (0 = Monday) in a ``SeedProblem``: named in the reader's language."""


@dataclass(frozen=True, slots=True)
class Group:
    """``count`` distinct numbers from ``low`` to ``high``."""

    count: int
    low: int
    high: int

    def describe(self) -> str:
        return f"{self.count} of {self.low}-{self.high}"


@dataclass(frozen=True, slots=True)
class Game:
    key: str
    name: str
    aliases: tuple[str, ...]
    groups: tuple[Group, ...]
    distinct_across: bool  # a bonus ball drawn from the same machine as the main numbers
    weekdays: frozenset[int] | None  # Monday = 0; None: any day
    results_at: dt.time  # when the result is public, local time of ``timezone``
    timezone: str | None  # None: the body's own

    @property
    def format(self) -> str:
        groups = " + ".join(g.describe() for g in self.groups)
        return groups + (", all distinct" if self.distinct_across else "") + "; each group sorted"


GAMES = (
    Game(
        "uk-lotto",
        "UK Lotto",
        ("uk lotto", "lotto", "national lottery", "uk national lottery", "the national lottery"),
        (Group(6, 1, 59), Group(1, 1, 59)),
        True,
        frozenset({2, 5}),
        dt.time(21, 0),
        "Europe/London",
    ),
    Game(
        "euromillions",
        "EuroMillions",
        ("euromillions", "euro millions", "euromillones"),
        (Group(5, 1, 50), Group(2, 1, 12)),
        False,
        frozenset({1, 4}),
        dt.time(22, 0),
        "Europe/Paris",
    ),
    Game(
        "la-primitiva",
        "La Primitiva",
        ("la primitiva", "primitiva"),
        (Group(6, 1, 49), Group(1, 0, 9)),
        False,
        frozenset({0, 3, 5}),
        dt.time(22, 30),
        "Europe/Madrid",
    ),
)
GENERIC = re.compile(
    r"^(?P<name>.*?[^\W\d_].*?)[\s,:(]+(?P<count>\d{1,2}) ?of ?(?P<low>\d{1,4}) ?- ?(?P<high>\d{1,4})\)?$"
)
GENERIC_RESULTS_AT = dt.time(21, 0)


def game_named(name: str) -> Game | None:
    """A known game by any of its names, or another public lottery named with its
    format, e.g. "Irish Lotto 6 of 1-47" (results after 21:00 in the body's time
    zone). A bare "6 of 1-49" names no lottery, so witnesses could type anything:
    it is refused."""
    plain = " ".join(name.split())
    for game in GAMES:
        if plain.lower() in game.aliases or plain.lower() == game.key:
            return game
    generic = GENERIC.match(plain)
    if generic:
        count, low, high = (int(generic[k]) for k in ("count", "low", "high"))
        if 1 <= count <= 20 and low < high and high - low + 1 >= count:
            group = Group(count, low, high)
            title = generic["name"].strip()[:40]
            return Game(
                f"{title} {group.describe()}",
                title,
                (),
                (group,),
                False,
                None,
                GENERIC_RESULTS_AT,
                None,
            )
    return None


def game_of(source: dict[str, Any]) -> Game | None:
    return game_named(str(source.get("game") or source.get("name") or ""))


def lottery_source(name: str, date: str, timezone: str, now: dt.datetime) -> dict[str, Any]:
    """The committed source for ``name``'s result on ``date``, drawn by a body in
    ``timezone`` at ``now``: refused unless the game is known, the day is one it
    draws on, and the day is after today (so nobody can know the numbers yet)."""
    game = game_named(name)
    if game is None:
        raise SeedProblem(
            N_(
                "There is no lottery “{name}” here: name UK Lotto, EuroMillions, La Primitiva, "
                "or another public lottery with its format, e.g. “Irish Lotto 6 of 1-47”."
            ),
            name=name[:40],
        )
    try:
        day = dt.date.fromisoformat(date.strip())
    except ValueError:
        day = None
    today = now.astimezone(ZoneInfo(timezone)).date()
    if day is None or day <= today:
        raise SeedProblem(
            N_(
                "Give the lottery's date as YYYY-MM-DD, after today (a result already known "
                "could be chosen), e.g. lottery:{name}:{date}"
            ),
            name=game.name,
            date=_next_draw_day(game, today).isoformat(),
        )
    if game.weekdays is not None and day.weekday() not in game.weekdays:
        raise SeedProblem(
            N_("{name} is not drawn on a {weekday}; the next draw after today is on {date}."),
            name=game.name,
            weekday=Weekday(day.weekday()),
            date=_next_draw_day(game, today).isoformat(),
        )
    zone = ZoneInfo(game.timezone or timezone)
    results = dt.datetime.combine(day, game.results_at, zone).astimezone(dt.UTC)
    return {
        "kind": LOTTERY,
        "name": game.name,
        "game": game.key,
        "date": day.isoformat(),
        "format": game.format,
        "results_after": results.isoformat(),
    }


def example_source(now: dt.datetime) -> str:
    """``lottery:UK Lotto:DATE`` for its next draw after today: for help texts."""
    game = GAMES[0]
    today = now.astimezone(ZoneInfo(game.timezone or "UTC")).date()
    return f"lottery:{game.name}:{_next_draw_day(game, today).isoformat()}"


def _next_draw_day(game: Game, today: dt.date) -> dt.date:
    day = today + dt.timedelta(days=1)
    while game.weekdays is not None and day.weekday() not in game.weekdays:
        day += dt.timedelta(days=1)
    return day


NUMBER_TEXT = re.compile(r"^[\s\d,;:+\-/|.()#*a-zA-Z]*$")


def lottery_seed(source: dict[str, Any], typed: str) -> str:
    """The canonical text of the result ``typed`` for the committed ``source``."""
    game = game_of(source)
    if game is None:
        raise SeedProblem(N_("This draw's lottery is unknown to this version of the bot."))
    expected = " + ".join(g.describe() for g in game.groups)
    numbers = [int(n) for n in re.findall(r"\d+", typed)] if NUMBER_TEXT.match(typed) else []
    if len(numbers) != sum(g.count for g in game.groups) or any(n > 10_000 for n in numbers):
        raise SeedProblem(
            N_(
                "{name} gives {expected}: type exactly those numbers, group by group, e.g. "
                "{example}. Nothing was recorded."
            ),
            name=game.name,
            expected=expected,
            example=_example(game),
        )
    groups, at = [], 0
    for group in game.groups:
        chosen = sorted(numbers[at : at + group.count])
        at += group.count
        if any(not group.low <= n <= group.high for n in chosen) or len(set(chosen)) != len(chosen):
            raise SeedProblem(
                N_(
                    "{name} gives {expected}, each group's numbers different and within its "
                    "range: {typed} is not. Nothing was recorded."
                ),
                name=game.name,
                expected=expected,
                typed=typed[:80],
            )
        groups.append(chosen)
    flat = [n for g in groups for n in g]
    if game.distinct_across and len(set(flat)) != len(flat):
        raise SeedProblem(
            N_("{name}'s numbers are all different: {typed} repeats one. Nothing was recorded."),
            name=game.name,
            typed=typed[:80],
        )
    return " + ".join(" ".join(str(n) for n in g) for g in groups)


def _example(game: Game) -> str:
    return " + ".join(
        " ".join(str(g.low + i * max(1, (g.high - g.low) // g.count)) for i in range(g.count))
        for g in game.groups
    )


def is_trial(source: dict[str, Any]) -> bool:
    """A seed nobody outside can check: a trial that invites nobody."""
    return source.get("kind") not in (LOTTERY, BEACON)


def seed_exists_at(source: dict[str, Any], timezone: str, committed: dt.datetime) -> dt.datetime:
    """The moment the seed exists (before it, no draw completes): a lottery's
    result time, a beacon round's time, else the commitment itself."""
    if source.get("kind") == LOTTERY:
        stated = _instant(source.get("results_after"))
        if stated is not None:
            return stated
        game = game_of(source)
        try:
            day = dt.date.fromisoformat(str(source.get("date")))
        except ValueError:
            return committed
        results_at = game.results_at if game else GENERIC_RESULTS_AT
        zone = ZoneInfo((game.timezone if game else None) or timezone)
        return dt.datetime.combine(day, results_at, zone).astimezone(dt.UTC)
    if source.get("kind") == BEACON:
        out = round_time(source)
        return out if out is not None else committed
    return committed


def _instant(value: Any) -> dt.datetime | None:
    try:
        at = dt.datetime.fromisoformat(str(value))
    except ValueError:
        return None
    return at.astimezone(dt.UTC) if at.tzinfo else None


__all__ = [
    "BEACON",
    "GAMES",
    "LOTTERY",
    "STRING",
    "SeedProblem",
    "game_named",
    "is_trial",
    "lottery_seed",
    "lottery_source",
    "seed_exists_at",
]
