"""The public pages' decisions over plain values: which language a visitor
reads, and what a draw's record shows (its quotas against the drawn panel, its
replacements in committed order). No database, no request."""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from bot.branches.rules import Area
from bot.kernel.i18n import language
from bot.lib.sortition.encoding import VACANCIES

ASSEMBLY_DRAWS = "/assemblies/draws"  # a citizens' assembly's draw: /assemblies/draws/ID


def assembly_draw_url(base: str, draw_id: int) -> str:
    """The public page of an assembly's draw, on the pages reached at ``base``."""
    return f"{base.rstrip('/')}{ASSEMBLY_DRAWS}/{draw_id}"


def pick_language(
    chosen: str | None, accept_language: str | None, shipped: Iterable[str], default: str
) -> str:
    """The language a page is shown in: the switcher's choice (``?lang=``), else
    the first of the browser's ``Accept-Language`` (by its q-values) that is
    shipped, else ``default``."""
    offered = set(shipped)
    if chosen and language(chosen) in offered:
        return language(chosen)
    ranked: list[tuple[float, int, str]] = []
    for order, part in enumerate((accept_language or "").split(",")[:20]):
        tag, _, params = part.strip().partition(";")
        weight = 1.0
        if params.strip().startswith("q="):
            try:
                weight = float(params.strip()[2:])
            except ValueError:
                weight = 0.0
        if tag and weight > 0:
            ranked.append((-weight, order, language(tag)))
    for _, _, lang in sorted(ranked):
        if lang in offered:
            return lang
    return language(default) if language(default) in offered else sorted(offered)[0]


@dataclass(frozen=True, slots=True)
class QuotaRow:
    """One quota and how many of the drawn panel hold its value (None: not opened)."""

    category: str
    value: str
    low: int
    high: int
    drawn: int | None

    @property
    def met(self) -> bool | None:
        return None if self.drawn is None else self.low <= self.drawn <= self.high


def quota_rows(record: Mapping[str, Any]) -> list[QuotaRow]:
    """The quotas, each with the drawn panel's opened count where the record has it."""
    opened = record.get("opened")
    counts: dict[tuple[str, str], int] = {}
    if isinstance(opened, dict) and isinstance(opened.get("counts"), list):
        for entry in opened["counts"]:
            if isinstance(entry, list) and len(entry) == 3 and isinstance(entry[2], int):
                counts[(str(entry[0]), str(entry[1]))] = entry[2]
    rows = []
    for quota in record.get("quotas") or []:
        key = (str(quota.get("category")), str(quota.get("value")))
        rows.append(
            QuotaRow(
                key[0], key[1], int(quota.get("min", 0)), int(quota.get("max", 0)), counts.get(key)
            )
        )
    return rows


@dataclass(frozen=True, slots=True)
class Vacancy:
    """A place given up (``event``: declined, expired or vacated) and who was
    invited in their stead, in the order the history holds them."""

    event: str
    gone: str
    replacement: str | None
    skipped: tuple[str, ...]


def vacancies(record: Mapping[str, Any]) -> list[Vacancy]:
    history = record.get("history")
    out = []
    for event in history if isinstance(history, list) else []:
        if isinstance(event, dict) and event.get("event") in VACANCIES:
            chosen = event.get("replacement")
            out.append(
                Vacancy(
                    str(event["event"]),
                    str(event.get("id")),
                    None if chosen is None else str(chosen),
                    tuple(str(s) for s in event.get("skipped") or []),
                )
            )
    return out


def drawn_panel(record: Mapping[str, Any], index: int | None) -> list[str]:
    """The panel at ``index`` (the one the seed picked), as the record lists it."""
    panels = record.get("panels")
    if index is None or not isinstance(panels, list) or not 0 <= index < len(panels):
        return []
    return [str(i) for i in panels[index]]


def pool_size(record: Mapping[str, Any]) -> int:
    entrants = record.get("entrants", record.get("pool"))
    return len(entrants) if isinstance(entrants, list) else 0


def search_terms(name: str, area: str, region: str | None) -> tuple[list[str], list[str]]:
    """What the directory's search matches for a branch: (place names,
    casefolded: its name, region and the places its area names; its postcode
    prefixes, upper-cased)."""
    parsed = Area.parse(area)
    places = sorted({name.casefold(), *parsed.places, *([region.casefold()] if region else [])})
    return places, sorted(parsed.postcodes)


def matches(query: str, places: Iterable[str], postcodes: Iterable[str]) -> bool:
    """Does a search (a place, its first letters, a postcode or its prefix) find
    a branch? The page's script (static/branches.js) decides the same way."""
    text = query.strip().casefold()
    if not text:
        return True
    if any(text in place for place in places):
        return True
    outward = query.strip().upper().split()[0]
    if not re.match(r"[A-Z]{1,2}[0-9]?", outward):
        return False
    return any(
        outward == prefix
        or (outward.isalpha() and prefix.startswith(outward))  # still typing: "B", "BA"
        or (
            prefix.isalpha()
            and outward.startswith(prefix)
            and outward[len(prefix) : len(prefix) + 1].isdigit()
        )
        for prefix in postcodes
    )


# --- calendar feeds --------------------------------------------------------------------

FEED_TOKEN = re.compile(r"[A-Za-z0-9_-]{32,64}")  # secrets.token_urlsafe(24) gives 32
FEED_SINCE = dt.timedelta(days=30)  # a feed shows what is coming and the last month
ALARM_BEFORE = dt.timedelta(hours=1)  # each event's reminder


def token_hash(token: str) -> str:
    """What is kept of a feed's token: its SHA-256."""
    return hashlib.sha256(token.encode("ascii")).hexdigest()


@dataclass(frozen=True, slots=True)
class Series:
    """The sessions of one weekly slot a person goes to, as one weekly event:
    from ``first`` to ``last`` (wall times in the branch's zone), without the
    weeks ``skipped``."""

    slot_id: int
    first_id: int  # the first session's id
    first: dt.datetime
    last: dt.datetime
    skipped: tuple[dt.datetime, ...]


def weekly_series(sessions: Iterable[tuple[int, int, dt.datetime]], zone: str) -> list[Series]:
    """The sessions ``(slot id, session id, start)`` a person goes to, grouped
    into weekly series: one per slot and local weekday and time (a slot whose
    time was changed starts a new series), each week between the first and the
    last that they do not go to skipped. Weeks are counted in wall time, so a
    series keeps its hour across a clock change."""
    where = ZoneInfo(zone)
    groups: dict[tuple[int, int, dt.time], list[tuple[dt.datetime, int]]] = {}
    for slot_id, session_id, starts in sessions:
        local = starts.astimezone(where)
        groups.setdefault((slot_id, local.weekday(), local.time()), []).append((local, session_id))
    out = []
    for (slot_id, _, _), found in sorted(groups.items(), key=lambda g: min(g[1])):
        found.sort()
        first, last = found[0][0], found[-1][0]
        going = {local.date() for local, _ in found}
        skipped = []
        week = first
        while week < last:
            week = _plus_a_week(week, where)
            if week.date() not in going:
                skipped.append(week)
        out.append(Series(slot_id, found[0][1], first, last, tuple(skipped)))
    return out


def _plus_a_week(moment: dt.datetime, where: ZoneInfo) -> dt.datetime:
    """The same wall time a week later (an hour may have been gained or lost)."""
    wall = moment.replace(tzinfo=None) + dt.timedelta(weeks=1)
    return wall.replace(tzinfo=where)
