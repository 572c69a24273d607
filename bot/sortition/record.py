"""The commitment record: published before the seed is known, checkable by anyone after.

Everything here can be recomputed on any machine with a JSON library and SHA-256.

Canonical JSON
    ``json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)``
    encoded as UTF-8: keys sorted, no spaces, non-ASCII characters as themselves.
    No hashed value contains a float (probabilities are decimal strings), so this
    is the same text in every language. ``H(value)`` below is the lower-case hex
    SHA-256 of the canonical JSON of ``value``.

The record (a JSON object)
    ``format``        "assembly-organiser/sortition-record/1"
    ``code_version``  the software that built it
    ``categories``    the quota categories, sorted
    ``pool``          every person given, sorted by id: ``{"id": ..., "features": {category: value}}``
    ``pool_hash``     ``H(pool)``
    ``excluded``      ids in the pool who may not be selected, sorted
    ``quotas``        ``{"category", "value", "min", "max"}``, sorted by category and value
    ``k``, ``m``      panel size, number of panels in the lottery
    ``panels``        the ``m`` panels, each a sorted list of ``k`` ids
    ``panels_hash``   ``H(panels)``
    ``seed_source``   where the seed will come from, e.g. ``{"kind": "lottery", "name":
                      ..., "date": ...}``, ``{"kind": "beacon", "url": ..., "round": ...}`` or
                      ``{"kind": "string", "description": ...}``
    ``summary``       ``min_probability``, ``max_probability`` (LEXIMIN), ``max_deviation``
                      (largest |lottery - LEXIMIN| probability of a person), all decimal
                      strings; ``distinct_panels``; ``method`` ("relaxation": the LP
                      relaxation's LEXIMIN, decomposed into panels, hence optimal; or
                      "column generation"). For reading; committed like the rest.
    ``field_hashes``  ``{name: H(record[name])}`` for each field above except ``pool`` and
                      ``panels`` (which enter through their hashes)
    ``record_hash``   ``H(field_hashes)``

The draw
    ``index = int.from_bytes(SHA-256(seed_utf8 + bytes.fromhex(record_hash)), "big") % m``;
    the selected panel is ``panels[index]``. The n-th replacement draw uses the seed
    ``SHA-256(seed_utf8 + b"replacement" + str(n).encode()).hexdigest()``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from importlib import metadata
from typing import Any

from bot.sortition.lottery import DEFAULT_M, Lottery, build_lottery, leximin_probabilities
from bot.sortition.model import Person, Problem, Quota, SortitionError

FORMAT = "assembly-organiser/sortition-record/1"
ENGINE = "sortition-engine/1"
COMMITTED = (
    "format",
    "code_version",
    "categories",
    "pool_hash",
    "excluded",
    "quotas",
    "k",
    "m",
    "panels_hash",
    "seed_source",
    "summary",
)
FIELDS = (*COMMITTED, "pool", "panels", "field_hashes", "record_hash")
SEED_KINDS = {"lottery": ("name", "date"), "beacon": ("url", "round"), "string": ()}


def code_version() -> str:
    try:
        version = metadata.version("assembly-organiser")
    except metadata.PackageNotFoundError:  # pragma: no cover - running from a bare checkout
        version = "unknown"
    return f"assembly-organiser {version}; {ENGINE}"


def canonical(value: Any) -> bytes:
    """The canonical JSON of ``value`` (see the module doc)."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode(
        "utf-8"
    )


def digest(value: Any) -> str:
    """``H(value)``: hex SHA-256 of the canonical JSON."""
    return hashlib.sha256(canonical(value)).hexdigest()


def pool_entries(people: Iterable[Person], categories: Sequence[str]) -> list[dict[str, Any]]:
    return [
        {"id": p.id, "features": {c: p.features[c] for c in categories}}
        for p in sorted(people, key=lambda p: p.id)
    ]


def pool_hash(problem: Problem) -> str:
    return digest(pool_entries(problem.people, problem.categories))


def quota_entries(quotas: Iterable[Quota]) -> list[dict[str, Any]]:
    return [
        {"category": q.category, "value": q.value, "min": q.min, "max": q.max}
        for q in sorted(quotas, key=lambda q: q.key)
    ]


def parse_seed_source(text: str | None) -> dict[str, Any]:
    """A ``seed_source`` from a JSON object, ``lottery:NAME:DATE``, ``beacon:URL:ROUND``,
    or any other text (a plain description)."""
    if text is None or not text.strip():
        return {"kind": "string", "description": "a seed published after this record"}
    text = text.strip()
    if text.startswith("{"):
        try:
            value = json.loads(text)
        except json.JSONDecodeError as exc:
            raise SortitionError(f"seed source: not valid JSON ({exc.msg})") from None
        problem = seed_source_problem(value)
        if problem:
            raise SortitionError(f"seed source: {problem}")
        return dict(value)
    kind, _, rest = text.partition(":")
    if kind == "lottery" and rest.count(":") >= 1:
        name, _, date = rest.rpartition(":")
        return {"kind": "lottery", "name": name, "date": date}
    if kind == "beacon" and rest.count(":") >= 1:
        url, _, round_ = rest.rpartition(":")
        return {"kind": "beacon", "url": url, "round": int(round_) if round_.isdigit() else round_}
    return {"kind": "string", "description": text}


def seed_source_problem(value: Any) -> str | None:
    if not isinstance(value, dict) or value.get("kind") not in SEED_KINDS:
        return "needs a kind: " + ", ".join(SEED_KINDS)
    for key in SEED_KINDS[value["kind"]]:
        if key not in value:
            return f"a {value['kind']} seed source needs {key!r}"
    if not all(isinstance(v, str | int) and not isinstance(v, bool) for v in value.values()):
        return "values must be text or whole numbers"
    return None


def _decimal(value: float) -> str:
    return f"{value:.9f}"


def make_record(
    problem: Problem,
    lottery: Lottery,
    seed_source: Mapping[str, Any],
    *,
    version: str | None = None,
) -> dict[str, Any]:
    """The commitment record of ``lottery`` (see the module doc)."""
    problem_text = seed_source_problem(dict(seed_source))
    if problem_text:
        raise SortitionError(f"seed source: {problem_text}")
    categories = list(problem.categories)
    pool = pool_entries(problem.people, categories)
    panels = [list(panel) for panel in lottery.panels]
    record: dict[str, Any] = {
        "format": FORMAT,
        "code_version": version or code_version(),
        "categories": categories,
        "pool": pool,
        "pool_hash": digest(pool),
        "excluded": sorted(problem.exclude),
        "quotas": quota_entries(problem.quotas),
        "k": problem.k,
        "m": lottery.m,
        "panels": panels,
        "panels_hash": digest(panels),
        "seed_source": dict(seed_source),
        "summary": {
            "min_probability": _decimal(lottery.min_probability),
            "max_probability": _decimal(lottery.max_probability),
            "max_deviation": _decimal(lottery.max_deviation),
            "distinct_panels": lottery.distinct_panels,
            "method": lottery.distribution.method,
        },
    }
    record["field_hashes"] = {name: digest(record[name]) for name in COMMITTED}
    record["record_hash"] = digest(record["field_hashes"])
    return record


def commit(
    problem: Problem,
    seed_source: Mapping[str, Any],
    m: int = DEFAULT_M,
    *,
    method: str = "auto",
) -> tuple[dict[str, Any], Lottery]:
    """Build the lottery for ``problem`` and its commitment record."""
    lottery = build_lottery(problem, m, pool_hash=pool_hash(problem), method=method)
    return make_record(problem, lottery, seed_source), lottery


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


@dataclass(frozen=True, slots=True)
class Mismatch:
    field: str
    detail: str

    def __str__(self) -> str:
        return f"{self.field}: {self.detail}"


@dataclass(frozen=True)
class Verification:
    """What ``verify`` found: the selected panel, or what does not match."""

    mismatches: tuple[Mismatch, ...]
    index: int | None = None
    selected: tuple[str, ...] = ()
    record_hash: str = ""

    @property
    def ok(self) -> bool:
        return not self.mismatches

    @property
    def fields(self) -> tuple[str, ...]:
        """The names of the fields that do not match, each once."""
        return tuple(dict.fromkeys(m.field for m in self.mismatches))


def verify(
    record: Any,
    seed: str,
    *,
    published_hash: str | None = None,
    deep: bool = False,
    tolerance: float | None = None,
) -> Verification:
    """Recompute everything in ``record`` and draw with ``seed``.

    Checks every field against its committed hash (naming the field that was
    changed), the pool and panels against their hashes, the record hash against
    ``published_hash`` when given, then that every panel has ``k`` distinct people
    of the pool, none excluded, within every quota. ``deep`` also solves the
    LEXIMIN problem again and compares each person's lottery probability with it
    (within ``tolerance``, by default ``5 / m``)."""
    if not isinstance(record, dict):
        return Verification((Mismatch("record", "is not a JSON object"),))
    missing = [name for name in FIELDS if name not in record]
    if missing:
        return Verification(tuple(Mismatch(name, "is missing") for name in missing))
    found = _check_hashes(record, published_hash)
    if found:
        return Verification(tuple(found), record_hash=str(record["record_hash"]))
    found = _check_contents(record)
    if found:
        return Verification(tuple(found), record_hash=record["record_hash"])
    m = record["m"]
    index = draw_index(record["record_hash"], seed, m)
    selected = tuple(record["panels"][index])
    if deep:
        found = _deep_check(record, tolerance if tolerance is not None else 5.0 / m)
        if found:
            return Verification(tuple(found), index, selected, record["record_hash"])
    return Verification((), index, selected, record["record_hash"])


def _safe_digest(value: Any) -> str:
    try:
        return digest(value)
    except (TypeError, ValueError):
        return ""


def _check_hashes(record: dict[str, Any], published_hash: str | None) -> list[Mismatch]:
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


def _check_contents(record: dict[str, Any]) -> list[Mismatch]:
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


def problem_of(record: Mapping[str, Any]) -> Problem:
    """The selection problem a record was built for."""
    people = [Person(e["id"], e["features"]) for e in record["pool"]]
    quotas = [Quota(q["category"], q["value"], q["min"], q["max"]) for q in record["quotas"]]
    return Problem.build(people, quotas, record["k"], record["excluded"])


def _deep_check(record: dict[str, Any], tolerance: float) -> list[Mismatch]:
    probability = leximin_probabilities(problem_of(record))
    m = record["m"]
    appearances = dict.fromkeys(probability, 0)
    for panel in record["panels"]:
        for person in panel:
            appearances[person] += 1
    found: list[Mismatch] = []
    worst, who = 0.0, ""
    for person, value in probability.items():
        gap = abs(appearances[person] / m - value)
        if gap > worst:
            worst, who = gap, person
    if worst > tolerance:
        found.append(
            Mismatch(
                "panels",
                f"{who!r} is in {appearances[who]} of {m} panels, but LEXIMIN gives "
                f"{probability[who]:.6f} (tolerance {tolerance:.6f})",
            )
        )
    summary = record["summary"]
    for key, value in (
        ("min_probability", min(probability.values())),
        ("max_probability", max(probability.values())),
    ):
        try:
            stated = float(summary[key])
        except (KeyError, TypeError, ValueError):
            found.append(Mismatch("summary", f"{key} is missing"))
            continue
        if abs(stated - value) > 1e-6:
            found.append(Mismatch("summary", f"{key} is {stated}, solving again gives {value:.9f}"))
    return found


def selected_after(record: Mapping[str, Any], seed: str) -> tuple[int, tuple[str, ...]]:
    """The index and panel ``seed`` selects (no checks: see ``verify``)."""
    index = draw_index(record["record_hash"], seed, record["m"])
    return index, tuple(record["panels"][index])


__all__ = [
    "COMMITTED",
    "DEFAULT_M",
    "FORMAT",
    "Mismatch",
    "Verification",
    "canonical",
    "code_version",
    "commit",
    "digest",
    "draw_index",
    "make_record",
    "parse_seed_source",
    "pool_hash",
    "problem_of",
    "replacement_seed",
    "selected_after",
    "verify",
]
