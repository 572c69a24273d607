"""Verifying a record: recompute everything in it and draw with the seed
(:func:`verify`); ``deep`` also solves the LEXIMIN problem again.

The record's format is described in ``bot.lib.sortition.encoding``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from bot.lib.sortition.checks import (
    Mismatch,
    check_contents,
    check_hashes,
    sealed_contents,
    sealed_hashes,
    sealed_history,
    sealed_opened,
)
from bot.lib.sortition.drawing import (
    draw_index,
    features_of,
)
from bot.lib.sortition.encoding import (
    FIELDS,
    SEALED,
    SEALED_FIELDS,
)
from bot.lib.sortition.lottery import leximin_probabilities
from bot.lib.sortition.model import Person, Problem, Quota


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
    found = check_hashes(record, published_hash)
    if found:
        return Verification(tuple(found), record_hash=str(record["record_hash"]))
    found = check_contents(record)
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
    found = sealed_hashes(record, published_hash)
    if found:
        return Verification(tuple(found), record_hash=claimed)
    found = sealed_contents(record)
    if found:
        return Verification(tuple(found), record_hash=claimed)
    m = record["m"]
    index = draw_index(claimed, seed, m)
    selected = tuple(record["panels"][index])
    found = sealed_opened(record, index) + sealed_history(record, seed, selected)
    if not found and deep:
        features = features_of(record)
        if features is None:
            found = [Mismatch("openings", "--deep needs the organisers' full record")]
        else:
            pool = [{"id": i, "features": f} for i, f in sorted(features.items())]
            tolerance = tolerance if tolerance is not None else 5.0 / m
            found = _deep_check({**record, "pool": pool}, tolerance)
    return Verification(tuple(found), index, selected, claimed)


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
