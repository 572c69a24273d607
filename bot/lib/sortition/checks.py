"""The checks ``verify`` runs over a record, each returning what does not match
(:class:`Mismatch`): the hashes and contents of format 1, and of format 2 its
hashes, contents, the opened composition and the history of replacements.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bot.lib.sortition.drawing import (
    features_of,
    next_replacement,
    reserve_order,
)
from bot.lib.sortition.encoding import (
    COMMITTED,
    FORMAT,
    HOUSEHOLD_RULE,
    RULES,
    SEALED_COMMITTED,
    VACANCIES,
    composition,
    composition_commitment,
    digest,
    entry_commitment,
    seed_source_problem,
)
from bot.lib.sortition.model import Quota


@dataclass(frozen=True, slots=True)
class Mismatch:
    field: str
    detail: str

    def __str__(self) -> str:
        return f"{self.field}: {self.detail}"


def sealed_hashes(record: dict[str, Any], published_hash: str | None) -> list[Mismatch]:
    found: list[Mismatch] = []
    claimed = record["record_hash"]
    if published_hash is not None and claimed != published_hash:
        found.append(Mismatch("record_hash", "differs from the published record hash"))
    committed = record["field_hashes"]
    if not isinstance(committed, dict) or set(committed) != set(SEALED_COMMITTED):
        found.append(Mismatch("field_hashes", "does not list exactly the committed fields"))
        return found
    if _safe_digest(committed) != claimed:
        found.append(Mismatch("record_hash", "is not the hash of field_hashes"))
    for name in SEALED_COMMITTED:
        if _safe_digest(record[name]) != committed[name]:
            found.append(Mismatch(name, "does not match its committed hash"))
    for name in ("entrants", "panels", "compositions"):
        if _safe_digest(record[name]) != record[f"{name}_hash"]:
            found.append(Mismatch(name, f"does not hash to {name}_hash"))
    return found


def sealed_contents(record: dict[str, Any]) -> list[Mismatch]:
    found: list[Mismatch] = []
    problem = seed_source_problem(record["seed_source"])
    if problem:
        found.append(Mismatch("seed_source", problem))
    if record["replacement"] not in RULES:
        found.append(Mismatch("replacement", "is not a rule this software knows"))
    k, m = record["k"], record["m"]
    for name, value in (("k", k), ("m", m)):
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            found.append(Mismatch(name, "is not a positive whole number"))
    try:
        quotas = [
            Quota(q["category"], q["value"], int(q["min"]), int(q["max"])) for q in record["quotas"]
        ]
        ids = [e["id"] for e in record["entrants"]]
        commitments = {e["id"]: e["commitment"] for e in record["entrants"]}
    except (KeyError, TypeError, ValueError):
        return [*found, Mismatch("entrants", "each entrant needs an id and a commitment")]
    if ids != sorted(set(ids)):
        found.append(Mismatch("entrants", "are not sorted by id, each once"))
    if not isinstance(record["excluded"], list) or not set(record["excluded"]) <= set(ids):
        found.append(Mismatch("excluded", "lists ids that are not in the pool"))
    panels, compositions = record["panels"], record["compositions"]
    if len(panels) != m or len(compositions) != m:
        found.append(Mismatch("panels", f"there are {len(panels)} panels, m is {m}"))
    if found:
        return found
    barred = set(record["excluded"])
    for number, panel in enumerate(panels):
        if not isinstance(panel, list) or len(panel) != k or len(set(panel)) != k:
            found.append(Mismatch("panels", f"panel {number} does not have {k} different people"))
        elif any(i not in commitments or i in barred for i in panel):
            found.append(Mismatch("panels", f"panel {number} names someone not drawable"))
        if len(found) >= 10:
            return found
    features = features_of(record)
    if features is None:
        return found
    openings = record["openings"]
    by_household = record["replacement"] == HOUSEHOLD_RULE
    for pid in ids:
        if by_household and "household" not in (openings.get(pid) or {}):
            found.append(Mismatch("openings", f"{pid!r} has no household"))
            return found
        opening = openings.get(pid)
        if (
            not isinstance(opening, dict)
            or entry_commitment(
                str(opening.get("salt")),
                opening.get("features") or {},
                str(opening["household"]) if by_household else None,
            )
            != commitments[pid]
        ):
            found.append(Mismatch("openings", f"{pid!r} does not open its commitment"))
            return found
    salts = record["composition_salts"]
    for number, panel in enumerate(panels):
        bad = _panel_problem(panel, k, features, barred, quotas)
        counts = composition(panel, features, record["quotas"])
        if bad is None and composition_commitment(salts[number], counts) != compositions[number]:
            bad = "does not open its composition"
        if bad is None and by_household:
            homes = [openings[i]["household"] for i in panel]
            if len(set(homes)) != len(homes):
                bad = "holds two people of one household"
        if bad:
            found.append(Mismatch("panels", f"panel {number} {bad}"))
            if len(found) >= 10:
                break
    return found


def sealed_opened(record: dict[str, Any], index: int) -> list[Mismatch]:
    """The drawn panel's composition, opened after the draw, meets every quota."""
    opened = record.get("opened")
    if not isinstance(opened, dict):
        if features_of(record) is not None:
            return []
        return [Mismatch("opened", "is missing: the drawn panel's quotas cannot be checked")]
    try:
        counts = opened["counts"]
        matches = composition_commitment(str(opened["salt"]), counts)
    except (KeyError, TypeError, ValueError):
        return [Mismatch("opened", "needs index, salt and counts")]
    if opened.get("index") != index or matches != record["compositions"][index]:
        return [Mismatch("opened", "does not open the drawn panel's composition")]
    keys = [[q["category"], q["value"]] for q in record["quotas"]]
    if [c[:2] for c in counts] != keys:
        return [Mismatch("opened", "does not count each quota's value in order")]
    for quota, (_, _, n) in zip(record["quotas"], counts, strict=True):
        if not quota["min"] <= n <= quota["max"]:
            return [Mismatch("opened", f"the drawn panel breaks the quota {quota}")]
    return []


def sealed_history(record: dict[str, Any], seed: str, selected: tuple[str, ...]) -> list[Mismatch]:
    """Replay the vacancies: each replacement comes from the reserve order; with
    the full record, each is exactly the one the committed rule gives."""
    history = record.get("history") or []
    if not isinstance(history, list):
        return [Mismatch("history", "is not a list")]
    features = features_of(record)
    reserves = reserve_order(record, seed)
    standing, invited = set(selected), set(selected)
    for number, event in enumerate(history):
        if not isinstance(event, dict) or event.get("event") not in VACANCIES:
            continue
        gone, chosen = event.get("id"), event.get("replacement")
        skipped = set(event.get("skipped") or [])
        if gone not in standing:
            return [Mismatch("history", f"event {number}: {gone!r} held no place")]
        standing.discard(gone)
        if features is not None:
            due = next_replacement(record, seed, standing, invited, skipped, features)
        else:
            due = chosen if chosen is None or chosen in reserves else "?"
        if chosen is not None and (chosen not in reserves or chosen in invited):
            return [Mismatch("history", f"event {number}: {chosen!r} is not a reserve left")]
        if due != chosen:
            return [
                Mismatch(
                    "history", f"event {number}: the committed rule gives {due!r}, not {chosen!r}"
                )
            ]
        if chosen is not None:
            standing.add(chosen)
            invited.add(chosen)
    return []


def _safe_digest(value: Any) -> str:
    try:
        return digest(value)
    except (TypeError, ValueError):
        return ""


def check_hashes(record: dict[str, Any], published_hash: str | None) -> list[Mismatch]:
    found: list[Mismatch] = []
    claimed = record["record_hash"]
    if published_hash is not None and claimed != published_hash:
        found.append(Mismatch("record_hash", "differs from the published record hash"))
    committed = record["field_hashes"]
    computed = {name: _safe_digest(record[name]) for name in COMMITTED}
    if not isinstance(committed, dict) or set(committed) != set(COMMITTED):
        found.append(Mismatch("field_hashes", "does not list exactly the committed fields"))
        return found
    if _safe_digest(committed) == claimed:
        for name in COMMITTED:
            if computed[name] != committed[name]:
                found.append(Mismatch(name, "does not match its committed hash"))
        trusted = {
            "pool": committed["pool_hash"] == _safe_digest(_safe_digest(record["pool"])),
            "panels": committed["panels_hash"] == _safe_digest(_safe_digest(record["panels"])),
        }
    else:
        if computed == committed:
            found.append(Mismatch("record_hash", "is not the hash of field_hashes"))
        elif _safe_digest(computed) == claimed:
            changed = sorted(n for n in COMMITTED if committed.get(n) != computed[n])
            found.append(Mismatch("field_hashes", "changed: " + ", ".join(changed)))
        else:
            changed = sorted(n for n in COMMITTED if committed.get(n) != computed[n])
            found.extend(Mismatch(n, "does not match its committed hash") for n in changed)
            found.append(Mismatch("record_hash", "is not the hash of field_hashes"))
        trusted = {
            "pool": record["pool_hash"] == _safe_digest(record["pool"]),
            "panels": record["panels_hash"] == _safe_digest(record["panels"]),
        }
    for name in ("pool", "panels"):
        if not trusted[name]:
            found.append(Mismatch(name, f"does not hash to {name}_hash"))
    return found


def check_contents(record: dict[str, Any]) -> list[Mismatch]:
    """The checks that need no hashes: the lottery is what the record says it is."""
    found: list[Mismatch] = []
    if record["format"] != FORMAT:
        found.append(Mismatch("format", f"unknown format {record['format']!r}"))
    problem = seed_source_problem(record["seed_source"])
    if problem:
        found.append(Mismatch("seed_source", problem))
    k, m = record["k"], record["m"]
    for name, value in (("k", k), ("m", m)):
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            found.append(Mismatch(name, "is not a positive whole number"))
    try:
        quotas = [
            Quota(q["category"], q["value"], int(q["min"]), int(q["max"])) for q in record["quotas"]
        ]
    except (KeyError, TypeError, ValueError):
        found.append(Mismatch("quotas", "each quota needs category, value, min and max"))
        return found
    categories = record["categories"]
    if categories != sorted({q.category for q in quotas}):
        found.append(Mismatch("categories", "are not the sorted categories of the quotas"))
    features: dict[str, dict[str, str]] = {}
    pool = record["pool"]
    try:
        for entry in pool:
            if entry["id"] in features:
                found.append(Mismatch("pool", f"id {entry['id']!r} appears twice"))
            if sorted(entry["features"]) != categories:
                found.append(Mismatch("pool", f"{entry['id']!r} does not have every category"))
            features[entry["id"]] = entry["features"]
    except (KeyError, TypeError):
        found.append(Mismatch("pool", "each entry needs an id and features"))
        return found
    if [entry["id"] for entry in pool] != sorted(features):
        found.append(Mismatch("pool", "is not sorted by id"))
    excluded = record["excluded"]
    if not isinstance(excluded, list) or not set(excluded) <= set(features):
        found.append(Mismatch("excluded", "lists ids that are not in the pool"))
        excluded = []
    if found:
        return found
    panels = record["panels"]
    if len(panels) != m:
        found.append(Mismatch("panels", f"there are {len(panels)} panels, m is {m}"))
    barred = set(excluded)
    for number, panel in enumerate(panels):
        problem = _panel_problem(panel, k, features, barred, quotas)
        if problem:
            found.append(Mismatch("panels", f"panel {number} {problem}"))
            if len(found) >= 10:
                break
    return found


def _panel_problem(
    panel: Any,
    k: int,
    features: dict[str, dict[str, str]],
    barred: set[str],
    quotas: list[Quota],
) -> str | None:
    if not isinstance(panel, list) or len(panel) != k:
        return f"does not have {k} people"
    if len(set(panel)) != k:
        return "names someone twice"
    strangers = [i for i in panel if i not in features]
    if strangers:
        return f"names {strangers[0]!r}, who is not in the pool"
    excluded = [i for i in panel if i in barred]
    if excluded:
        return f"names {excluded[0]!r}, who is excluded"
    for quota in quotas:
        count = sum(1 for i in panel if features[i][quota.category] == quota.value)
        if not quota.min <= count <= quota.max:
            return f"has {count} of {quota.label()} (quota {quota.min}..{quota.max})"
    return None
