"""The public pages' decisions over plain values: which language a visitor
reads, and what a draw's record shows (its quotas against the drawn panel, its
replacements in committed order). No database, no request."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from bot.branches.rules import Area
from bot.kernel.i18n import language
from bot.lib.sortition.encoding import VACANCIES


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
