"""Building a commitment record: the lottery for a problem, and its record in
format 1 (the pool in the open) or format 2 (salted commitments).

The record's format is described in ``bot.lib.sortition.encoding``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from typing import Any

from bot.lib.sortition.encoding import (
    COMMITTED,
    FORMAT,
    HOUSEHOLD_RULE,
    REPLACEMENT_RULE,
    SEALED,
    SEALED_COMMITTED,
    code_version,
    composition,
    composition_commitment,
    digest,
    entry_commitment,
    new_salt,
    pool_entries,
    pool_hash,
    quota_entries,
    seed_source_problem,
)
from bot.lib.sortition.lottery import DEFAULT_M, Lottery, build_lottery
from bot.lib.sortition.model import Problem, SortitionError


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


def make_sealed_record(
    problem: Problem,
    lottery: Lottery,
    seed_source: Mapping[str, Any],
    *,
    version: str | None = None,
    salt: Callable[[], str] = new_salt,
    households: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """The format 2 record of ``lottery``, with the organisers' openings (see the
    module doc; ``public_view`` is what anyone else gets). ``households`` (id ->
    household key): drawn one person a household, each opening holds a token of
    its household (the same within this record only) and the record commits the
    household rule."""
    problem_text = seed_source_problem(dict(seed_source))
    if problem_text:
        raise SortitionError(f"seed source: {problem_text}")
    categories = list(problem.categories)
    features = {p.id: {c: p.features[c] for c in categories} for p in problem.people}
    openings: dict[str, dict[str, Any]] = {
        pid: {"salt": salt(), "features": features[pid]} for pid in sorted(features)
    }
    if households is not None:
        tokens = household_tokens({p: households.get(p, p) for p in openings}, salt())
        for pid, opening in openings.items():
            opening["household"] = tokens[pid]
    entrants = [
        {
            "id": pid,
            "commitment": entry_commitment(o["salt"], o["features"], o.get("household")),
        }
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
        "replacement": REPLACEMENT_RULE if households is None else HOUSEHOLD_RULE,
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
    households: Mapping[str, str] | None = None,
) -> tuple[dict[str, Any], Lottery]:
    """Like ``commit``, in format 2: features only as salted commitments.
    ``households`` (id -> household key): at most one person a household on any
    panel, and in any replacement."""
    order = digest([*sorted(p.id for p in problem.people), new_salt()])
    lottery = build_lottery(problem, m, pool_hash=order, method=method, households=households)
    record = make_sealed_record(problem, lottery, seed_source, households=households)
    return record, lottery


def household_tokens(households: Mapping[str, str], salt: str) -> dict[str, str]:
    """Each id's household as a short token of this record only (a salted hash of
    its key), so the full record links no two records and shows no key."""
    return {
        pid: hashlib.sha256(f"{salt}\x00{key}".encode()).hexdigest()[:16]
        for pid, key in households.items()
    }
