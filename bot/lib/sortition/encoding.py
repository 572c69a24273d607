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
    ``replacement``   the committed rule for every vacancy (``REPLACEMENT_RULE``, or
                      ``HOUSEHOLD_RULE`` for a draw of one person a household, whose
                      openings and commitments also hold a per-record household token:
                      ``H({"features", "household", "salt"})``):
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

This module holds the canonical encoding and hashing, the record's fields, seed
sources and commitments. Building a record is ``building``; the draw, reserves
and replacements ``drawing``; verifying a record ``verification`` (its checks
are in ``checks``).
"""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

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
# The rule of a record drawn with one person a household (a citizens' assembly).
HOUSEHOLD_RULE = REPLACEMENT_RULE + (
    "; one person a household: nobody whose household (in their opening) already holds "
    "or is invited to a place"
)
RULES = (REPLACEMENT_RULE, HOUSEHOLD_RULE)
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


def new_salt() -> str:
    return secrets.token_hex(16)


def entry_commitment(salt: str, features: Mapping[str, str], household: str | None = None) -> str:
    """What the record shows for an entrant: their answers (and, drawn one a
    household, their household's token), hidden by their salt."""
    if household is None:
        return digest({"features": dict(features), "salt": salt})
    return digest({"features": dict(features), "household": household, "salt": salt})


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
