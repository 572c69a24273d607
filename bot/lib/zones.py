"""Time zones as people name them: by a city ("Madrid", "Nueva York", "Llundain"),
or by the zone's own name ("Europe/Madrid").

The cities are the IANA database's (the last part of a zone's name) and CLDR's
exemplar cities in the reader's language and each the bot speaks (Babel). A name may be
typed in any case, with or without accents, spaces or underscores; a name that
fits no zone, or several, gets the closest zones as suggestions.
"""

from __future__ import annotations

import difflib
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from zoneinfo import available_timezones

from babel import Locale
from babel.core import get_global
from babel.dates import get_timezone_location

from bot.kernel.i18n import shipped_languages

# The regions of the world's zones; the rest (Etc/GMT+3, US/Eastern, posix/...)
# are aliases or offsets no one names a city by.
_AREAS = (
    "Africa",
    "America",
    "Antarctica",
    "Arctic",
    "Asia",
    "Atlantic",
    "Australia",
    "Europe",
    "Indian",
    "Pacific",
)
SUGGESTIONS = 5


@dataclass(frozen=True, slots=True)
class Found:
    """The zone a name means (None if it means none or several), or suggestions."""

    zone: str | None
    suggestions: tuple[str, ...] = ()


def fold(text: str) -> str:
    """``text`` as names are compared: no accents, case, underscores or extra spaces."""
    bare = "".join(
        ch for ch in unicodedata.normalize("NFKD", text) if not unicodedata.combining(ch)
    )
    return " ".join(bare.replace("_", " ").casefold().split())


@lru_cache(maxsize=1)
def zones() -> tuple[str, ...]:
    """The zones a person may keep: UTC and every city's (not the old names CLDR
    knows as aliases of another: Europe/Belfast is Europe/London)."""
    aliases = get_global("zone_aliases")
    named = (
        z
        for z in available_timezones()
        if z.split("/", 1)[0] in _AREAS and "/" in z and z not in aliases
    )
    return ("UTC", *sorted(named))


def city(zone: str, lang: str) -> str:
    """The zone's city in ``lang`` ("Llundain" for Europe/London in Welsh)."""
    if "/" not in zone:
        return zone
    return str(get_timezone_location(zone, locale=Locale.parse(lang), return_city=True))


@lru_cache(maxsize=8)
def _index(languages: tuple[str, ...]) -> dict[str, frozenset[str]]:
    """Every name of every zone (its own, its city's in each of ``languages``),
    folded, to the zones it names."""
    index: dict[str, set[str]] = {}
    for zone in zones():
        names = {zone, zone.rsplit("/", 1)[-1], *(city(zone, lang) for lang in languages)}
        for name in names:
            index.setdefault(fold(name), set()).add(zone)
    return {name: frozenset(found) for name, found in index.items()}


def find_zone(text: str, lang: str) -> Found:
    """The zone ``text`` names for a reader of ``lang``, or up to SUGGESTIONS zones
    it may mean (several of the same name, or the closest names)."""
    wanted = fold(text)
    if not wanted:
        return Found(None)
    index = _index(tuple(dict.fromkeys((lang, *shipped_languages()))))
    exact = sorted(index.get(wanted, ()))
    if len(exact) == 1:
        return Found(exact[0])
    if exact:
        return Found(None, tuple(exact[:SUGGESTIONS]))
    near = difflib.get_close_matches(wanted, index, n=SUGGESTIONS * 2, cutoff=0.7)
    near += [name for name in index if len(wanted) >= 3 and name.startswith(wanted)]
    suggestions: list[str] = []
    for name in near:
        for zone in sorted(index[name]):
            if zone not in suggestions:
                suggestions.append(zone)
    return Found(None, tuple(suggestions[:SUGGESTIONS]))
