"""From the LEXIMIN distribution to a transparent lottery: ``m`` equally likely panels.

Flanigan, Kehne and Procaccia ("Fair Sortition Made Transparent", NeurIPS 2021)
round the optimal distribution to a uniform lottery over ``m`` panels, so that
the final draw is one number in ``0..m-1``. What is used here:

1. **Counts per panel.** Each panel ``j`` of the distribution (probability
   ``w[j]``) gets ``round`` of ``m * w[j]`` copies by largest remainder (the counts
   add up to ``m``); then a local search moves one copy from one panel to another
   (any two panels of the distribution) while that lowers the sum over types of
   the squared error of the lottery's per-person probability, ``sum_t
   ((copies @ seats)[t] / m - E[seats of t]) ** 2 / size[t] ** 2``. Every panel
   of the lottery is a panel of the distribution, so each meets every quota.
2. **People.** Within a type, seats are handed out by rotating through its
   members (in the order of SHA-256 of the pool hash and the id, so that no one
   is favoured by their id) across the ``m`` panels in order: each member
   appears ``floor`` or ``ceil`` of ``seats / size`` times. With households (a
   citizens' assembly: one person a household), a member whose household already
   sits on the panel is passed over and keeps their place at the front of the line.

The difference between a person's lottery probability (appearances / ``m``) and
their LEXIMIN probability is reported as ``max_deviation``; it is at most the
type's rounding error plus ``1 / m`` from the rotation. (With ``n`` much larger than
``m * k``, probabilities below ``1 / m`` cannot be met person by person; the
type's total still is.)
"""

from __future__ import annotations

import hashlib
import time
from collections import deque
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from bot.lib.sortition.model import FloatArray, IntArray, Problem, SortitionError, TypeTable

if TYPE_CHECKING:  # the solver is loaded by what solves: checking a record does not
    from bot.lib.sortition.leximin import Distribution

DEFAULT_M = 1000


@dataclass(frozen=True)
class Lottery:
    """``m`` panels of person ids, each drawn with probability ``1 / m``."""

    problem: Problem
    m: int
    panels: tuple[tuple[str, ...], ...]
    probability: dict[str, float]  # LEXIMIN selection probability of each eligible person
    lottery_probability: dict[str, float]  # appearances / m
    distribution: Distribution
    seconds: float

    @property
    def min_probability(self) -> float:
        return min(self.probability.values())

    @property
    def max_probability(self) -> float:
        return max(self.probability.values())

    @property
    def distinct_panels(self) -> int:
        return len(set(self.panels))

    @property
    def max_deviation(self) -> float:
        """The largest difference, over people, between lottery and LEXIMIN probability."""
        return max(abs(self.lottery_probability[i] - p) for i, p in self.probability.items())


def build_lottery(
    problem: Problem,
    m: int = DEFAULT_M,
    *,
    pool_hash: str = "",
    method: str = "auto",
    households: Mapping[str, str] | None = None,
) -> Lottery:
    """The transparent lottery for ``problem``: LEXIMIN, then rounded to ``m`` panels.

    ``pool_hash`` (hex) seeds the order of people within a type. ``households``
    (id -> household token): no panel holds two people of one household (see
    ``assign_people``). Raises InfeasibleQuotas when the quotas cannot all be met."""
    if m < 1:
        raise ValueError("m must be at least 1")
    started = time.perf_counter()
    types = TypeTable.from_problem(problem)
    from bot.lib.sortition.leximin import leximin_distribution

    distribution = leximin_distribution(types, method=method)
    copies = round_to_lottery(distribution, m)
    order = np.repeat(np.arange(len(copies)), copies)
    type_panels = distribution.panels[order]
    panels = assign_people(types, type_panels, pool_hash, households)
    probability = _per_person(types, distribution)
    appearances = dict.fromkeys(probability, 0)
    for panel in panels:
        for person in panel:
            appearances[person] += 1
    return Lottery(
        problem=problem,
        m=m,
        panels=panels,
        probability=probability,
        lottery_probability={i: c / m for i, c in appearances.items()},
        distribution=distribution,
        seconds=time.perf_counter() - started,
    )


def leximin_probabilities(problem: Problem) -> dict[str, float]:
    """Each eligible person's LEXIMIN selection probability."""
    from bot.lib.sortition.leximin import leximin_distribution

    types = TypeTable.from_problem(problem)
    return _per_person(types, leximin_distribution(types))


def _per_person(types: TypeTable, distribution: Distribution) -> dict[str, float]:
    probability: dict[str, float] = {}
    values = distribution.type_probabilities.tolist()
    for t, members in enumerate(types.members):
        value = values[t]
        for person in members:
            probability[person] = value
    return probability


def round_to_lottery(distribution: Distribution, m: int, *, rounds: int | None = None) -> IntArray:
    """Copies of each panel of ``distribution`` (adding up to ``m``); see the module doc."""
    weights = distribution.weights
    panels = distribution.panels.astype(np.float64)
    scale = 1.0 / distribution.types.sizes.astype(np.float64)
    exact = m * weights
    copies = np.floor(exact).astype(np.int64)
    short = m - int(copies.sum())
    if short > 0:
        copies[np.argsort(-(exact - copies), kind="stable")[:short]] += 1
    z = panels * scale  # each panel's contribution to each type's per-person probability
    error = copies @ z - m * (weights @ z)
    norms = (z * z).sum(axis=1)
    gram = z @ z.T
    limit = rounds if rounds is not None else 10 * m
    for _ in range(limit):
        along = z @ error
        (held,) = np.nonzero(copies)
        gain = (
            -2.0 * along[held][:, None]
            + 2.0 * along[None, :]
            + norms[held][:, None]
            + norms[None, :]
            - 2.0 * gram[held, :]
        )
        i, j = np.unravel_index(int(np.argmin(gain)), gain.shape)
        if gain[i, j] > -1e-12:
            break
        source, target = int(held[i]), int(j)
        copies[source] -= 1
        copies[target] += 1
        error += z[target] - z[source]
    return copies


def member_order(members: tuple[str, ...], pool_hash: str) -> list[str]:
    """A type's members in the order seats rotate through them."""
    return sorted(
        members,
        key=lambda person: hashlib.sha256(f"{pool_hash}\x00{person}".encode()).hexdigest(),
    )


def assign_people(
    types: TypeTable,
    type_panels: IntArray,
    pool_hash: str,
    households: Mapping[str, str] | None = None,
) -> tuple[tuple[str, ...], ...]:
    """Turn panels of seats per type into panels of people, rotating within each type.

    With ``households`` (id -> household token), the smallest types choose first;
    a member whose household already has someone on the panel is passed over and
    stays first in line for the next panel, so that seats still go round evenly.
    A panel that cannot be filled without two of one household (two types of one
    member each, living together) is replaced by the nearest panel that can: one
    seat moved to another type within the quotas (which type gives it up taken in
    turn), else the lottery's nearest other panel; if none can, SortitionError."""
    if not households:
        return _rotate(types, type_panels, pool_hash)
    lines = [deque(member_order(members, pool_hash)) for members in types.members]
    rows = [tuple(int(x) for x in seats) for seats in type_panels]
    frequency: dict[tuple[int, ...], int] = {}
    for row in rows:
        frequency[row] = frequency.get(row, 0) + 1
    replaced: dict[tuple[int, ...], int] = {}  # how often each row has been replaced
    panels = []
    for row in rows:
        chosen = _fill(row, lines, households)
        if chosen is None:
            turn = replaced.get(row, 0)
            replaced[row] = turn + 1
            for other in _repairs(types, row, frequency, turn):
                chosen = _fill(other, lines, households)
                if chosen is not None:
                    break
        if chosen is None:
            raise SortitionError(
                "one person a household: no panel can be filled without two people of one household"
            )
        for t, picked in chosen.items():
            for person in picked:  # to the back of the line, in the order taken
                lines[t].remove(person)
                lines[t].append(person)
        panels.append(tuple(sorted(p for picked in chosen.values() for p in picked)))
    return tuple(panels)


def _repairs(
    types: TypeTable, row: tuple[int, ...], frequency: dict[tuple[int, ...], int], turn: int
) -> Iterator[tuple[int, ...]]:
    """Panels to try instead of ``row``, nearest first: one seat moved from one of
    its types to another (the type giving it up taken in turn, so that each of
    two housemates keeps their turns), then the lottery's other panels by the
    seats they move."""
    # Types all of whose members sit (the housemates' among them) give up a seat
    # in turn; the others after.
    tight = [t for t, n in enumerate(row) if n and n >= int(types.sizes[t])]
    tight = tight[turn % len(tight) :] + tight[: turn % len(tight)] if tight else []
    held = tight + [t for t, n in enumerate(row) if n and t not in tight]
    takers = sorted(range(len(row)), key=lambda u: -int(types.sizes[u]))
    for t in held:
        for u in takers:
            if u == t or row[u] >= int(types.sizes[u]):
                continue
            moved = list(row)
            moved[t] -= 1
            moved[u] += 1
            if types.panel_ok(np.array(moved, dtype=np.int64)):
                yield tuple(moved)
    yield from sorted(
        (other for other in frequency if other != row),
        key=lambda other: (
            sum(abs(a - b) for a, b in zip(row, other, strict=True)),
            -frequency[other],
        ),
    )


def _fill(
    row: tuple[int, ...], lines: list[deque[str]], households: Mapping[str, str]
) -> dict[int, list[str]] | None:
    """Who of each type's line takes its seats in ``row`` (smallest types first),
    one a household; None if the seats cannot all be filled so."""
    taken: set[str] = set()
    chosen: dict[int, list[str]] = {}
    for t in sorted((t for t, n in enumerate(row) if n), key=lambda t: (len(lines[t]), t)):
        picked: list[str] = []
        for person in lines[t]:
            if len(picked) == row[t]:
                break
            home = households.get(person, person)
            if home not in taken:
                picked.append(person)
                taken.add(home)
        if len(picked) < row[t]:
            return None
        chosen[t] = picked
    return chosen


def _rotate(types: TypeTable, type_panels: IntArray, pool_hash: str) -> tuple[tuple[str, ...], ...]:
    orders = [member_order(members, pool_hash) for members in types.members]
    pointer = np.zeros(len(orders), dtype=np.int64)
    panels = []
    for seats in type_panels:
        chosen: list[str] = []
        for t in np.nonzero(seats)[0]:
            members = orders[t]
            size = len(members)
            start = int(pointer[t])
            chosen.extend(members[(start + r) % size] for r in range(int(seats[t])))
            pointer[t] = (start + int(seats[t])) % size
        panels.append(tuple(sorted(chosen)))
    return tuple(panels)


def type_deviation(distribution: Distribution, copies: IntArray) -> FloatArray:
    """Per type: lottery probability minus LEXIMIN probability."""
    m = int(copies.sum())
    seats = copies @ distribution.panels / m
    return np.asarray(
        (seats - distribution.expected_seats) / distribution.types.sizes, dtype=np.float64
    )
