"""The draw from a committed record: the index a seed selects, the reserve order
and replacements under the committed rule, and what a record shows (the public
view, the drawn panel's opened composition, each entrant's features).

The record's format is described in ``bot.lib.sortition.encoding``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

from bot.lib.sortition.encoding import (
    HOUSEHOLD_RULE,
    PRIVATE,
    SEALED,
    VACANCIES,
    composition,
)
from bot.lib.sortition.model import Quota


def public_view(record: Mapping[str, Any]) -> dict[str, Any]:
    """What anyone may see: the record without the organisers' openings."""
    return {k: v for k, v in record.items() if k not in PRIVATE}


def open_drawn(record: Mapping[str, Any], index: int) -> dict[str, Any] | None:
    """The opening of panel ``index``'s composition (a format 2 full record), else None."""
    if record.get("format") != SEALED or "openings" not in record:
        return None
    features = {pid: o["features"] for pid, o in record["openings"].items()}
    counts = composition(record["panels"][index], features, record["quotas"])
    return {"index": index, "salt": record["composition_salts"][index], "counts": counts}


def features_of(record: Mapping[str, Any]) -> dict[str, dict[str, str]] | None:
    """Each entrant's declared features, from a full record (format 2) or a format 1 pool."""
    if record.get("format") == SEALED:
        openings = record.get("openings")
        if not isinstance(openings, dict):
            return None
        return {pid: dict(o["features"]) for pid, o in openings.items()}
    return {e["id"]: dict(e["features"]) for e in record.get("pool", [])}


def households_of(record: Mapping[str, Any]) -> dict[str, str] | None:
    """Each entrant's household token, from a full record drawn one person a
    household (None: not such a record, or no openings)."""
    openings = record.get("openings")
    if record.get("replacement") != HOUSEHOLD_RULE or not isinstance(openings, dict):
        return None
    return {pid: str(o.get("household")) for pid, o in openings.items()}


def entrant_ids(record: Mapping[str, Any]) -> list[str]:
    if record.get("format") == SEALED:
        return [e["id"] for e in record["entrants"]]
    return [e["id"] for e in record["pool"]]


def draw_index(record_hash: str, seed: str, m: int) -> int:
    """The lottery index for ``seed``: SHA-256(seed ‖ record hash) mod m."""
    data = seed.encode("utf-8") + bytes.fromhex(record_hash)
    return int.from_bytes(hashlib.sha256(data).digest(), "big") % m


def replacement_seed(seed: str, round_: int) -> str:
    """The seed of replacement draw ``round_`` (1, 2, ...), derived from the original seed."""
    if round_ < 1:
        raise ValueError("replacement rounds start at 1")
    data = seed.encode("utf-8") + b"replacement" + str(round_).encode("ascii")
    return hashlib.sha256(data).hexdigest()


def selected_after(record: Mapping[str, Any], seed: str) -> tuple[int, tuple[str, ...]]:
    """The index and panel ``seed`` selects (no checks: see ``verify``)."""
    index = draw_index(record["record_hash"], seed, record["m"])
    return index, tuple(record["panels"][index])


def seeded(record: Mapping[str, Any], seed: str) -> tuple[int, tuple[str, ...], Mapping[str, Any]]:
    """What ``seed`` makes of a committed record: the index, the panel it selects,
    and the record to keep, which opens the drawn panel's composition (its quotas
    checkable by anyone) where the record is a sealed full one."""
    index, selected = selected_after(record, seed)
    opened = open_drawn(record, index)
    return index, selected, record if opened is None else {**record, "opened": opened}


def reserve_order(record: Mapping[str, Any], seed: str) -> list[str]:
    """The committed order in which reserves fill vacancies (see the module doc)."""
    index = draw_index(record["record_hash"], seed, record["m"])
    drawn = set(record["panels"][index])
    barred = set(record["excluded"])
    prefix = seed.encode("utf-8") + bytes.fromhex(record["record_hash"]) + b"reserve"
    return sorted(
        (i for i in entrant_ids(record) if i not in drawn and i not in barred),
        key=lambda i: hashlib.sha256(prefix + i.encode("utf-8")).digest(),
    )


def next_replacement(
    record: Mapping[str, Any],
    seed: str,
    standing: set[str],
    invited: set[str],
    skipped: set[str],
    features: Mapping[str, Mapping[str, str]],
) -> str | None:
    """Who fills a vacancy under the committed rule: ``standing`` still hold or
    are invited to a place, ``invited`` ever were, ``skipped`` are no longer
    eligible. A record drawn one person a household passes over anyone whose
    household already holds a place (its openings name the households)."""
    quotas = [
        Quota(q["category"], q["value"], int(q["min"]), int(q["max"])) for q in record["quotas"]
    ]
    k = int(record["k"])
    candidates = [r for r in reserve_order(record, seed) if r not in invited and r not in skipped]
    households = households_of(record)
    if households is not None:
        homes = {households.get(i, i) for i in standing}
        candidates = [r for r in candidates if households.get(r, r) not in homes]

    def counts(people: set[str]) -> dict[tuple[str, str], int]:
        return {q.key: sum(1 for i in people if features[i][q.category] == q.value) for q in quotas}

    def within_max(people: set[str]) -> bool:
        have = counts(people)
        return all(have[q.key] <= q.max for q in quotas)

    def mins_reachable(people: set[str]) -> bool:
        have = counts(people)
        short: dict[str, int] = {}
        for q in quotas:
            short[q.category] = short.get(q.category, 0) + max(0, q.min - have[q.key])
        return all(n <= k - len(people) for n in short.values())

    for reserve in candidates:
        after = standing | {reserve}
        if within_max(after) and mins_reachable(after):
            return reserve
    for reserve in candidates:
        if within_max(standing | {reserve}):
            return reserve
    return None


def standing_after(record: Mapping[str, Any], seed: str) -> tuple[set[str], set[str]]:
    """Who holds (or is invited to) a place once the history's vacancies and
    replacements are replayed, and who was ever invited."""
    index = draw_index(record["record_hash"], seed, record["m"])
    standing = set(record["panels"][index])
    invited = set(standing)
    for event in record.get("history") or []:
        if isinstance(event, dict) and event.get("event") in VACANCIES:
            standing.discard(event.get("id"))
            if event.get("replacement") is not None:
                standing.add(event["replacement"])
                invited.add(event["replacement"])
    return standing, invited
