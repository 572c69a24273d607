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
    the selected panel is ``panels[index]``. The n-th replacement draw of a format 1
    record used the seed ``SHA-256(seed_utf8 + b"replacement" + str(n).encode()).hexdigest()``.

Format 2 (``"assembly-organiser/sortition-record/2"``, what the bot commits): nobody
without the full record learns who declared which features.
    ``entrants``      sorted by id: ``{"id": pseudonym, "commitment": H({"features":
                      {category: value}, "salt": salt})}``, one random salt per entrant
    ``entrants_hash`` ``H(entrants)`` (it tests no guess: every commitment is salted)
    ``panels``        the ``m`` panels, each sorted, the list sorted; ``panels_hash``
    ``compositions``  per panel ``H({"counts": counts, "salt": salt})``, one salt per
                      panel; ``counts`` is ``[[category, value, n], ...]`` in quota order;
                      ``compositions_hash`` ``H(compositions)``
    ``replacement``   the committed rule for every vacancy (``REPLACEMENT_RULE``):
                      the reserve order is the pool outside the drawn panel, not excluded,
                      sorted by ``SHA-256(seed_utf8 + bytes.fromhex(record_hash) +
                      b"reserve" + id_utf8)``; a vacancy goes to the first reserve never
                      invited, not skipped as no longer eligible, with whom no quota's
                      maximum is exceeded and every minimum can still be met by the seats
                      left (if none, the first that exceeds no maximum; else nobody)
    ``field_hashes`` and ``record_hash`` as in format 1, over ``COMMITTED``.
  After the seed (not hashed): ``opened`` ``{"index", "salt", "counts"}`` opens the drawn
  panel's composition, so anyone checks its quotas; ``history`` lists events
  (``cancelled``; ``declined``, ``expired``, ``vacated`` with ``id``, ``replacement`` and
  ``skipped``). Held by the organisers only (``full``): ``openings`` ``{id: {"salt",
  "features"}}`` and ``composition_salts``; ``public_view`` drops them. Each entrant's
  receipt is their pseudonym and salt: with their own answers they recompute their
  commitment.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from bot.lib.sortition.lottery import DEFAULT_M, Lottery, build_lottery, leximin_probabilities
from bot.lib.sortition.model import Person, Problem, Quota, SortitionError

FORMAT = "assembly-organiser/sortition-record/1"
SEALED = "assembly-organiser/sortition-record/2"
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
SEALED_COMMITTED = (
    "format",
    "code_version",
    "categories",
    "entrants_hash",
    "excluded",
    "quotas",
    "k",
    "m",
    "panels_hash",
    "compositions_hash",
    "seed_source",
    "replacement",
    "summary",
)
SEALED_FIELDS = (
    *SEALED_COMMITTED,
    "entrants",
    "panels",
    "compositions",
    "field_hashes",
    "record_hash",
)
PRIVATE = ("openings", "composition_salts")  # the organisers' full record only
VACANCIES = ("declined", "expired", "vacated")
REPLACEMENT_RULE = (
    "reserve-order/1: the pool outside the drawn panel, not excluded, sorted by "
    "SHA-256(seed + record hash + 'reserve' + id); each vacancy goes to the first reserve "
    "never invited and still eligible with whom no quota maximum is exceeded and every "
    "minimum can still be met; failing that, the first who exceeds no maximum"
)
SEED_KINDS = {"lottery": ("name", "date"), "beacon": ("url", "round"), "string": ()}


def code_version() -> str:
    from importlib import metadata  # here: it takes a noticeable time to import

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


def _summary(lottery: Lottery) -> dict[str, Any]:
    """The lottery's figures, as both record formats commit them."""
    return {
        "min_probability": _decimal(lottery.min_probability),
        "max_probability": _decimal(lottery.max_probability),
        "max_deviation": _decimal(lottery.max_deviation),
        "distinct_panels": lottery.distinct_panels,
        "method": lottery.distribution.method,
    }


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
        "summary": _summary(lottery),
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


def new_salt() -> str:
    return secrets.token_hex(16)


def entry_commitment(salt: str, features: Mapping[str, str]) -> str:
    """What the record shows for an entrant: their answers, hidden by their salt."""
    return digest({"features": dict(features), "salt": salt})


def composition(
    panel: Iterable[str], features: Mapping[str, Mapping[str, str]], quotas: Sequence[Any]
) -> list[list[Any]]:
    """``[[category, value, n], ...]``: how many of ``panel`` hold each quota's value."""
    members = list(panel)
    out = []
    for q in quotas:
        category, value = (q["category"], q["value"]) if isinstance(q, dict) else q.key
        out.append([category, value, sum(1 for i in members if features[i][category] == value)])
    return out


def composition_commitment(salt: str, counts: list[list[Any]]) -> str:
    return digest({"counts": counts, "salt": salt})


def make_sealed_record(
    problem: Problem,
    lottery: Lottery,
    seed_source: Mapping[str, Any],
    *,
    version: str | None = None,
    salt: Callable[[], str] = new_salt,
) -> dict[str, Any]:
    """The format 2 record of ``lottery``, with the organisers' openings (see the
    module doc; ``public_view`` is what anyone else gets)."""
    problem_text = seed_source_problem(dict(seed_source))
    if problem_text:
        raise SortitionError(f"seed source: {problem_text}")
    categories = list(problem.categories)
    features = {p.id: {c: p.features[c] for c in categories} for p in problem.people}
    openings: dict[str, dict[str, Any]] = {
        pid: {"salt": salt(), "features": features[pid]} for pid in sorted(features)
    }
    entrants = [
        {"id": pid, "commitment": entry_commitment(o["salt"], o["features"])}
        for pid, o in openings.items()
    ]
    quotas = quota_entries(problem.quotas)
    panels = sorted(sorted(panel) for panel in lottery.panels)
    salts = [salt() for _ in panels]
    compositions = [
        composition_commitment(s, composition(panel, features, quotas))
        for s, panel in zip(salts, panels, strict=True)
    ]
    record: dict[str, Any] = {
        "format": SEALED,
        "code_version": version or code_version(),
        "categories": categories,
        "entrants": entrants,
        "entrants_hash": digest(entrants),
        "excluded": sorted(problem.exclude),
        "quotas": quotas,
        "k": problem.k,
        "m": lottery.m,
        "panels": panels,
        "panels_hash": digest(panels),
        "compositions": compositions,
        "compositions_hash": digest(compositions),
        "seed_source": dict(seed_source),
        "replacement": REPLACEMENT_RULE,
        "summary": _summary(lottery),
    }
    record["field_hashes"] = {name: digest(record[name]) for name in SEALED_COMMITTED}
    record["record_hash"] = digest(record["field_hashes"])
    record["openings"] = openings
    record["composition_salts"] = salts
    return record


def commit_sealed(
    problem: Problem,
    seed_source: Mapping[str, Any],
    m: int = DEFAULT_M,
    *,
    method: str = "auto",
) -> tuple[dict[str, Any], Lottery]:
    """Like ``commit``, in format 2: features only as salted commitments."""
    order = digest([*sorted(p.id for p in problem.people), new_salt()])
    lottery = build_lottery(problem, m, pool_hash=order, method=method)
    return make_sealed_record(problem, lottery, seed_source), lottery


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


def entrant_ids(record: Mapping[str, Any]) -> list[str]:
    if record.get("format") == SEALED:
        return [e["id"] for e in record["entrants"]]
    return [e["id"] for e in record["pool"]]


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
    eligible."""
    quotas = [
        Quota(q["category"], q["value"], int(q["min"]), int(q["max"])) for q in record["quotas"]
    ]
    k = int(record["k"])
    candidates = [r for r in reserve_order(record, seed) if r not in invited and r not in skipped]

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
    if record.get("format") == SEALED:
        return _verify_sealed(record, seed, published_hash, deep, tolerance)
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


def _verify_sealed(
    record: dict[str, Any],
    seed: str,
    published_hash: str | None,
    deep: bool,
    tolerance: float | None,
) -> Verification:
    """Format 2: the public view checks that the panel is the seeded one, that
    the drawn panel's opened composition meets every quota, and that each
    replacement comes from the reserve order; the full record (with openings)
    also checks every entrant's commitment, every panel's quotas and composition,
    and recomputes every replacement."""
    missing = [name for name in SEALED_FIELDS if name not in record]
    if missing:
        return Verification(tuple(Mismatch(name, "is missing") for name in missing))
    claimed = str(record["record_hash"])
    found = _sealed_hashes(record, published_hash)
    if found:
        return Verification(tuple(found), record_hash=claimed)
    found = _sealed_contents(record)
    if found:
        return Verification(tuple(found), record_hash=claimed)
    m = record["m"]
    index = draw_index(claimed, seed, m)
    selected = tuple(record["panels"][index])
    found = _sealed_opened(record, index) + _sealed_history(record, seed, selected)
    if not found and deep:
        features = features_of(record)
        if features is None:
            found = [Mismatch("openings", "--deep needs the organisers' full record")]
        else:
            pool = [{"id": i, "features": f} for i, f in sorted(features.items())]
            tolerance = tolerance if tolerance is not None else 5.0 / m
            found = _deep_check({**record, "pool": pool}, tolerance)
    return Verification(tuple(found), index, selected, claimed)


def _sealed_hashes(record: dict[str, Any], published_hash: str | None) -> list[Mismatch]:
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


def _sealed_contents(record: dict[str, Any]) -> list[Mismatch]:
    found: list[Mismatch] = []
    problem = seed_source_problem(record["seed_source"])
    if problem:
        found.append(Mismatch("seed_source", problem))
    if record["replacement"] != REPLACEMENT_RULE:
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
    for pid in ids:
        opening = openings.get(pid)
        if (
            not isinstance(opening, dict)
            or entry_commitment(str(opening.get("salt")), opening.get("features") or {})
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
        if bad:
            found.append(Mismatch("panels", f"panel {number} {bad}"))
            if len(found) >= 10:
                break
    return found


def _sealed_opened(record: dict[str, Any], index: int) -> list[Mismatch]:
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


def _sealed_history(record: dict[str, Any], seed: str, selected: tuple[str, ...]) -> list[Mismatch]:
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
    "SEALED",
    "Mismatch",
    "Verification",
    "canonical",
    "code_version",
    "commit",
    "commit_sealed",
    "digest",
    "draw_index",
    "entry_commitment",
    "make_record",
    "next_replacement",
    "open_drawn",
    "parse_seed_source",
    "pool_hash",
    "problem_of",
    "public_view",
    "replacement_seed",
    "reserve_order",
    "selected_after",
    "standing_after",
    "verify",
]
