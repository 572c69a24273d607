"""Sortition: fair, verifiable selection of a panel from a pool (no platform, no I/O).

    problem = Problem.build(people, quotas, k, exclude)    # checks the input
    record, lottery = commit(problem, seed_source, m=1000)  # LEXIMIN, lottery, record
    ... publish record["record_hash"]; later the seed is announced ...
    result = verify(record, seed)                          # result.selected or result.mismatches

``InfeasibleQuotas`` (raised by ``commit``) carries ``relaxation``: the
conflicting quotas and the smallest change that makes them feasible.
See ``leximin`` (the optimisation), ``lottery`` (rounding to ``m`` panels) and
the record: ``encoding`` (its format, canonical JSON and hashing), ``building``,
``drawing`` (the draw, reserves and replacements), ``verification`` and
``checks`` for the details.

The names below are imported from their modules when first used, so that
checking a record (``verification``, numpy) does not load the solver (``leximin``,
``panels``: HiGHS), and ``import bot.lib.sortition.seeds`` loads neither.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bot.lib.sortition.building import commit, make_record
    from bot.lib.sortition.checks import Mismatch
    from bot.lib.sortition.drawing import draw_index, replacement_seed, selected_after
    from bot.lib.sortition.encoding import (
        canonical,
        code_version,
        digest,
        parse_seed_source,
        pool_hash,
    )
    from bot.lib.sortition.files import read_ids, read_people, read_quotas
    from bot.lib.sortition.leximin import Distribution, leximin_distribution
    from bot.lib.sortition.lottery import DEFAULT_M, Lottery, build_lottery, leximin_probabilities
    from bot.lib.sortition.model import Person, Problem, Quota, SortitionError, TypeTable
    from bot.lib.sortition.panels import InfeasibleQuotas, QuotaChange, Relaxation, find_relaxation
    from bot.lib.sortition.verification import Verification, problem_of, verify

_HOME = {
    **dict.fromkeys(("read_ids", "read_people", "read_quotas"), "files"),
    **dict.fromkeys(("Distribution", "leximin_distribution"), "leximin"),
    **dict.fromkeys(("DEFAULT_M", "Lottery", "build_lottery", "leximin_probabilities"), "lottery"),
    **dict.fromkeys(("Person", "Problem", "Quota", "SortitionError", "TypeTable"), "model"),
    **dict.fromkeys(("InfeasibleQuotas", "QuotaChange", "Relaxation", "find_relaxation"), "panels"),
    **dict.fromkeys(("commit", "make_record"), "building"),
    **dict.fromkeys(("Mismatch",), "checks"),
    **dict.fromkeys(("draw_index", "replacement_seed", "selected_after"), "drawing"),
    **dict.fromkeys(
        ("canonical", "code_version", "digest", "parse_seed_source", "pool_hash"), "encoding"
    ),
    **dict.fromkeys(("Verification", "problem_of", "verify"), "verification"),
}

__all__ = [
    "DEFAULT_M",
    "Distribution",
    "InfeasibleQuotas",
    "Lottery",
    "Mismatch",
    "Person",
    "Problem",
    "Quota",
    "QuotaChange",
    "Relaxation",
    "SortitionError",
    "TypeTable",
    "Verification",
    "build_lottery",
    "canonical",
    "code_version",
    "commit",
    "digest",
    "draw_index",
    "find_relaxation",
    "leximin_distribution",
    "leximin_probabilities",
    "make_record",
    "parse_seed_source",
    "pool_hash",
    "problem_of",
    "read_ids",
    "read_people",
    "read_quotas",
    "relaxation_for",
    "replacement_seed",
    "selected_after",
    "verify",
]


def __getattr__(name: str) -> Any:
    """``bot.lib.sortition.X``: imported from its module on first use (PEP 562)."""
    home = _HOME.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{home}"), name)
    globals()[name] = value
    return value


def relaxation_for(problem: Problem) -> Relaxation | None:
    """None when the quotas of ``problem`` can all be met, else the smallest relaxation."""
    from bot.lib.sortition.model import TypeTable
    from bot.lib.sortition.panels import find_relaxation

    return find_relaxation(TypeTable.from_problem(problem))
