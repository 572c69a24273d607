"""LEXIMIN selection probabilities over types (Flanigan et al., Nature 596, 2021).

Why types are enough
--------------------
The achievable selection-probability vectors form a convex set that is
symmetric under swapping two people of the same type, and the LEXIMIN vector
is unique; so in it everyone of one type has the same probability
``p[t] = E[seats of t] / size[t]``. LEXIMIN over people is LEXIMIN over the
type probabilities in which type ``t`` counts ``size[t]`` times, and the
stage-wise algorithm (maximise the smallest, fix those that are necessarily at
that value, repeat with the rest) never looks at how often a value counts, so
it runs over types unchanged. All values below are *relative*:
``z = p * n / k``, where 1 is the average probability, and ``c[t] = size[t] * k / n``
is a type's expected seats at the average.

How it is computed
------------------
1. **Relaxation.** The stages are first solved over the LP relaxation of the
   panel polytope (seats per type between 0 and the type's size, ``k`` seats,
   quotas): a short sequence of small LPs. Its LEXIMIN vector is an upper bound
   (in the LEXIMIN order) on what real panels can achieve.
2. **Decomposition.** That vector ``y`` (expected seats per type) is written as
   a convex combination of integer panels, Carathéodory-style: find an integer
   panel ``x`` on the smallest face of {relaxation, ``floor(y) <= x <= ceil(y)``}
   holding ``y`` (an LP whose vertex is often integral, else a swap local search
   from it, else an integer program in HiGHS), move ``y`` away from ``x`` until
   one more bound or quota is tight, and repeat. If it succeeds the bound is
   attained, so the distribution is exactly LEXIMIN (method "relaxation"; exact
   up to the solver's tolerances and a leftover below 1e-5 of the probability
   mass, spread over the panels found). The greedy steps can reach a dead end
   (the relaxation is not integral); then an LP over all panels found so far,
   with the pricing problem below adding panels, re-weighs them to hit the
   point exactly if it can.
3. **Column generation** (the general method of the paper), only if the
   relaxation's optimum is not a mixture of panels at all: each stage
   is an LP over the panels found so far (``max z`` s.t. ``sum_j lam_j x_j[t] >=
   c[t] z`` for free types, ``>= c[t] f[t]`` for fixed ones, ``sum lam = 1``); the
   pricing problem ``max_x sum_t y[t] x[t]`` over panels, with ``y`` the LP's
   duals, is solved as an LP and, when its vertex is fractional, as an integer
   program; a panel that beats the convexity dual joins the LP, and when none
   does the stage is optimal. Free types with a positive dual are then fixed.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from functools import cached_property

import highspy
import numpy as np

from bot.lib.sortition._highs import (
    FEASIBLE,
    INF,
    INFEASIBLE,
    INTEGER,
    OPTIMAL,
    flt,
    idx,
    new_highs,
)
from bot.lib.sortition.model import FloatArray, IntArray, SortitionError, TypeTable
from bot.lib.sortition.panels import InfeasibleQuotas, PanelModel, find_relaxation

#: Column generation stops when no panel improves a stage by more than this (relative units).
GAP = 1e-9
#: A free type whose share of the dual weight exceeds this is fixed at the stage value.
FIX = 1e-7
#: Fixed values are lowered by this much (relative units) to keep later stages feasible;
#: if a stage still comes out infeasible (rounding in the solver), tenfold, at most 3 times.
SLACK = 1e-8
#: Values this close to an integer are that integer; quotas this close to a bound are tight.
SNAP = 1e-9
TIGHT = 1e-7
#: The decomposition stops when the mass still to place is below this, and accepts a
#: dead end below ``LEFTOVER`` (the remaining point is then known only to ~1e-16 / mass).
MASS = 1e-7
LEFTOVER = 1e-5


@dataclass(frozen=True)
class Distribution:
    """A probability distribution over panels of types."""

    types: TypeTable
    panels: IntArray  # (P, T): seats per type in each panel
    weights: FloatArray  # (P,): probabilities, summing to 1
    method: str  # "relaxation" (decomposed, certified optimal) or "column generation"
    stages: int
    seconds: float

    @cached_property
    def expected_seats(self) -> FloatArray:
        return np.asarray(self.weights @ self.panels, dtype=np.float64)

    @cached_property
    def type_probabilities(self) -> FloatArray:
        """The selection probability of each person of each type."""
        # exact in theory; clipped so that float rounding never shows 1.0000000000000002
        return np.clip(self.expected_seats / self.types.sizes, 0.0, 1.0)

    def min_probability(self) -> float:
        return float(self.type_probabilities.min())

    def max_probability(self) -> float:
        return float(self.type_probabilities.max())


def leximin_distribution(types: TypeTable, *, method: str = "auto") -> Distribution:
    """The LEXIMIN distribution over panels of ``types``.

    ``method`` is "auto" (relaxation and decomposition, column generation if that
    fails) or "column generation" (only that, for checking). Raises
    InfeasibleQuotas, carrying the smallest relaxation, when no panel exists."""
    started = time.perf_counter()
    model = PanelModel(types)
    first = model.any_panel()
    if first is None:
        relaxation = find_relaxation(types)
        assert relaxation is not None
        raise InfeasibleQuotas(relaxation)
    seed = [first]
    if method == "auto":
        seats, stages = relaxation_leximin(types)
        try:
            panels, weights = decompose(types, seats)
        except NotDecomposable as exc:
            seed.extend(exc.panels)
            found = complete_decomposition(types, seats, model, seed)
            if found is not None:
                panels, weights = found
                return Distribution(
                    types, panels, weights, "relaxation", stages, time.perf_counter() - started
                )
        else:
            return Distribution(
                types, panels, weights, "relaxation", stages, time.perf_counter() - started
            )
    elif method != "column generation":
        raise ValueError(f"unknown method {method!r}")
    panels, weights, stages = column_generation(types, model, seed)
    return Distribution(
        types, panels, weights, "column generation", stages, time.perf_counter() - started
    )


def _relative(types: TypeTable) -> FloatArray:
    sizes = types.sizes.astype(np.float64)
    return np.asarray(sizes * types.k / sizes.sum(), dtype=np.float64)


def relaxation_leximin(types: TypeTable) -> tuple[FloatArray, int]:
    """LEXIMIN expected seats per type over the LP relaxation, and the number of stages."""
    t = len(types.keys)
    c = _relative(types)
    upper = np.minimum(types.sizes, types.k).astype(np.float64)
    h = new_highs()
    h.addVars(t, flt(np.zeros(t)), flt(upper))
    h.addVar(-INF, INF)  # z, column t
    h.changeColCost(t, 1.0)
    h.changeObjectiveSense(highspy.ObjSense.kMaximize)
    # type rows: y[t] - c[t] z >= 0
    starts = idx(np.arange(t) * 2)
    columns = idx(np.column_stack([np.arange(t), np.full(t, t)]).ravel())
    values = flt(np.column_stack([np.ones(t), -c]).ravel())
    h.addRows(t, flt(np.zeros(t)), flt(np.full(t, INF)), 2 * t, starts, columns, values)
    _add_panel_rows(h, types, t)
    free = np.ones(t, dtype=bool)
    fixed = np.zeros(t)
    slack = SLACK
    stages = 0
    while free.any():
        stages += 1
        h.run()
        while h.getModelStatus() == INFEASIBLE and slack < 1000 * SLACK:
            slack *= 10  # the fixed values were a hair too high for the solver: lower them
            for ti in np.nonzero(~free)[0]:
                h.changeRowBounds(int(ti), float(c[ti] * (fixed[ti] - slack)), INF)
            h.run()
        if h.getModelStatus() != OPTIMAL:  # pragma: no cover - numerical trouble
            raise SortitionError(f"the LP solver failed: {h.getModelStatus()}")
        value = float(h.getInfo().objective_function_value)
        shares = c * np.maximum(-np.array(h.getSolution().row_dual[:t]), 0.0)
        newly = np.nonzero(free & (shares > FIX))[0]
        if len(newly) == 0:  # pragma: no cover - degenerate duals: fix the heaviest
            newly = np.nonzero(free)[0][[int(np.argmax(np.where(free, shares, -1.0)[free]))]]
        for ti in newly:
            h.changeCoeff(int(ti), t, 0.0)
            h.changeRowBounds(int(ti), float(c[ti] * (value - slack)), INF)
        fixed[newly] = value
        free[newly] = False
    seats = np.array(h.getSolution().col_value[:t], dtype=np.float64)
    return polish(types, seats), stages


def polish(
    types: TypeTable, seats: FloatArray, snap: float = 1e-7, tight: float = 1e-6
) -> FloatArray:
    """Remove rounding errors from a point of the relaxation.

    Values within ``snap`` of an integer become that integer; the rest move by the
    smallest amount (least squares) that makes ``sum = k`` and every quota within
    ``tight`` of a bound exact. The decomposition divides by the mass still to
    place, so errors left here would grow as it proceeds."""
    y = seats.copy()
    upper = np.minimum(types.sizes, types.k).astype(np.float64)
    incidence = types.incidence.astype(np.float64)
    for _ in range(3):
        y = np.clip(y, 0.0, upper)
        rounded = np.round(y)
        loose = np.abs(y - rounded) >= snap
        y[~loose] = rounded[~loose]
        counts = incidence @ y
        at_min = np.abs(counts - types.qmin) < tight
        at_max = np.abs(counts - types.qmax) < tight
        exact = at_min | at_max
        target = np.concatenate([[types.k], np.where(at_min, types.qmin, types.qmax)[exact]])
        rows = np.vstack([np.ones((1, len(y))), incidence[exact]])[:, loose]
        error = target - np.concatenate([[y.sum()], counts[exact]])
        if not loose.any() or np.abs(error).max() < 1e-13:
            break
        correction, *_ = np.linalg.lstsq(rows, error, rcond=None)
        y[loose] += correction
    return np.clip(y, 0.0, upper)


def _add_panel_rows(h: highspy.Highs, types: TypeTable, t: int) -> None:
    """``sum x = k`` and one row per quota, over the first ``t`` columns."""
    h.addRow(float(types.k), float(types.k), t, idx(np.arange(t)), flt(np.ones(t)))
    for qi in range(len(types.quotas)):
        (cols,) = np.nonzero(types.incidence[qi])
        h.addRow(
            float(types.qmin[qi]),
            float(types.qmax[qi]),
            len(cols),
            idx(cols),
            flt(np.ones(len(cols))),
        )


class NotDecomposable(SortitionError):
    """The relaxation's LEXIMIN point is not a mixture of real panels."""

    def __init__(self, panels: list[IntArray]) -> None:
        super().__init__("the relaxation's optimum is not a mixture of panels")
        self.panels = panels


class _FaceFinder:
    """Integer panels on a face of the relaxation, within a box around a point."""

    def __init__(self, types: TypeTable) -> None:
        self.types = types
        self.t = len(types.keys)
        self.q = len(types.quotas)
        self.cols = idx(np.arange(self.t))
        self.upper = np.minimum(types.sizes, types.k).astype(np.float64)
        self.lp = self._build(integer=False)
        self.ip: highspy.Highs | None = None
        # value_of[c, t]: the quota row of type t's value in category c
        by_category: dict[str, list[int]] = {}
        for qi, quota in enumerate(types.quotas):
            by_category.setdefault(quota.category, []).append(qi)
        self.value_of = np.array(
            [np.array(rows)[types.incidence[rows].argmax(axis=0)] for rows in by_category.values()]
        )
        self.found = {"lp": 0, "search": 0, "ip": 0, "face ip": 0}

    def _build(self, *, integer: bool) -> highspy.Highs:
        h = new_highs()
        h.addVars(self.t, flt(np.zeros(self.t)), flt(self.upper))
        _add_panel_rows(h, self.types, self.t)
        h.changeObjectiveSense(highspy.ObjSense.kMaximize)
        if integer:
            h.changeColsIntegrality(self.t, self.cols, np.array([INTEGER] * self.t))
            h.setOptionValue("presolve", "off")
            h.setOptionValue("mip_heuristic_run_feasibility_jump", False)
            h.setOptionValue("mip_max_improving_sols", 1)  # any panel on the face will do
            h.setOptionValue("time_limit", 60.0)
        return h

    def _load(
        self,
        h: highspy.Highs,
        lo: FloatArray,
        hi: FloatArray,
        rows: tuple[FloatArray, FloatArray],
        cost: FloatArray,
    ) -> FloatArray | None:
        h.changeColsBounds(self.t, self.cols, flt(lo), flt(hi))
        for qi in range(self.q):
            h.changeRowBounds(qi + 1, float(rows[0][qi]), float(rows[1][qi]))
        h.changeColsCost(self.t, self.cols, flt(cost))
        h.run()
        if h.getModelStatus() != OPTIMAL and h.getInfo().primal_solution_status != FEASIBLE:
            return None
        return np.array(h.getSolution().col_value, dtype=np.float64)

    def find(
        self, y: FloatArray, lo: FloatArray, hi: FloatArray, rows: tuple[FloatArray, FloatArray]
    ) -> IntArray | None:
        """An integer panel with ``lo <= x <= hi``, quotas within ``rows``, else None."""
        cost = y - lo
        x = self._load(self.lp, lo, hi, rows, cost)
        if x is None:
            return None
        rounded = np.round(x)
        if np.abs(x - rounded).max() < SNAP:
            self.found["lp"] += 1
            return rounded.astype(np.int64)
        panel = self._search(x, lo, hi, rows, cost)
        if panel is not None:
            self.found["search"] += 1
            return panel
        if self.ip is None:
            self.ip = self._build(integer=True)
        x = self._load(self.ip, lo, hi, rows, cost)
        if x is None:
            return None
        self.found["ip"] += 1
        return np.round(x).astype(np.int64)

    def _search(
        self,
        x: FloatArray,
        lo: FloatArray,
        hi: FloatArray,
        rows: tuple[FloatArray, FloatArray],
        preference: FloatArray,
        rounds: int = 400,
    ) -> IntArray | None:
        """Round the LP vertex ``x`` and repair the quotas by swaps (one type in, one out)."""
        (movable,) = np.nonzero(hi > lo)
        base = lo.copy()
        need = round(self.types.k - base.sum())
        offset = self.types.incidence @ base
        low = np.round(rows[0] - offset).astype(np.int64)
        high = np.round(rows[1] - offset).astype(np.int64)
        share = x[movable] - lo[movable]
        order = np.argsort(-share, kind="stable")
        chosen = np.zeros(len(movable), dtype=bool)
        chosen[order[:need]] = True
        values = self.value_of[:, movable]  # (categories, movable)
        count = np.zeros(self.q, dtype=np.int64)
        for row in values:
            count += np.bincount(row[chosen], minlength=self.q)
        pref = preference[movable]
        for _ in range(rounds):
            excess = np.maximum(low - count, 0) + np.maximum(count - high, 0)
            if not excess.any():
                panel = base.copy()
                panel[movable[chosen]] += 1
                return np.round(panel).astype(np.int64)
            minus = np.maximum(low - count + 1, 0) + np.maximum(count - 1 - high, 0) - excess
            plus = np.maximum(low - count - 1, 0) + np.maximum(count + 1 - high, 0) - excess
            ins = np.nonzero(chosen)[0]
            outs = np.nonzero(~chosen)[0]
            if len(ins) == 0 or len(outs) == 0:
                return None
            delta = np.zeros((len(ins), len(outs)))
            for row in values:
                a, b = row[ins], row[outs]
                delta += (minus[a][:, None] + plus[b][None, :]) * (a[:, None] != b[None, :])
            score = delta - 1e-3 * (pref[outs][None, :] - pref[ins][:, None])
            i, j = np.unravel_index(int(np.argmin(score)), score.shape)
            if delta[i, j] >= 0:
                return None
            chosen[ins[i]] = False
            chosen[outs[j]] = True
            for row in values:
                count[row[ins[i]]] -= 1
                count[row[outs[j]]] += 1
        return None

    def find_on_face(self, y: FloatArray, rows: tuple[FloatArray, FloatArray]) -> IntArray | None:
        """Any integer panel on the smallest face of the relaxation holding ``y``."""
        lo = np.where(y >= self.upper - SNAP, self.upper, 0.0)
        hi = np.where(y <= SNAP, 0.0, self.upper)
        if self.ip is None:
            self.ip = self._build(integer=True)
        x = self._load(self.ip, lo, hi, rows, y)
        if x is None:
            return None
        self.found["face ip"] += 1
        return np.round(x).astype(np.int64)


def decompose(types: TypeTable, seats: FloatArray) -> tuple[IntArray, FloatArray]:
    """Write ``seats`` (a point of the relaxation) as a mixture of integer panels.

    Raises NotDecomposable (with the panels found so far) when it is not one."""
    finder = _FaceFinder(types)
    incidence = types.incidence.astype(np.float64)
    qmin = types.qmin.astype(np.float64)
    qmax = types.qmax.astype(np.float64)
    upper = finder.upper
    y = seats.copy()
    panels: list[IntArray] = []
    weights: list[float] = []
    mass = 1.0
    limit = 4 * (len(y) + len(qmin)) + 10
    while True:
        y = polish(types, y, SNAP, TIGHT)
        lo = np.floor(y)
        hi = np.ceil(y)
        counts = incidence @ y
        at_min = counts <= qmin + TIGHT
        at_max = counts >= qmax - TIGHT
        rows = (np.where(at_max, qmax, qmin), np.where(at_min, qmin, qmax))
        panel = finder.find(y, lo, hi, rows)
        boxed = panel is not None
        if panel is None:
            panel = finder.find_on_face(y, rows)
        if panel is None and mass < LEFTOVER and panels:
            break
        if panel is None or len(panels) >= limit:
            raise NotDecomposable(panels)
        direction = y - panel
        if np.abs(direction).max() < SNAP:
            panels.append(panel)
            weights.append(mass)
            break
        low_bound, high_bound = (lo, hi) if boxed else (np.zeros_like(y), upper)
        step = _longest_step(y, direction, low_bound, high_bound, counts, incidence, qmin, qmax)
        theta = step / (1.0 + step)
        panels.append(panel)
        weights.append(mass * theta)
        mass *= 1.0 - theta
        y = y + step * direction
        if mass < MASS:
            break
    total = float(sum(weights))
    return np.array(panels, dtype=np.int64), np.array(weights, dtype=np.float64) / total


def _longest_step(
    y: FloatArray,
    d: FloatArray,
    low: FloatArray,
    high: FloatArray,
    counts: FloatArray,
    incidence: FloatArray,
    qmin: FloatArray,
    qmax: FloatArray,
) -> float:
    """The largest ``a`` with ``y + a d`` within the bounds and the non-tight quotas."""
    step = INF
    up = d > SNAP
    down = d < -SNAP
    if up.any():
        step = min(step, float(np.min((high[up] - y[up]) / d[up])))
    if down.any():
        step = min(step, float(np.min((low[down] - y[down]) / d[down])))
    move = incidence @ d
    rising = (move > SNAP) & (qmax - counts > TIGHT)
    falling = (move < -SNAP) & (counts - qmin > TIGHT)
    if rising.any():
        step = min(step, float(np.min((qmax[rising] - counts[rising]) / move[rising])))
    if falling.any():
        step = min(step, float(np.min((qmin[falling] - counts[falling]) / move[falling])))
    if not np.isfinite(step):  # pragma: no cover - y is a panel: handled by the caller
        return 0.0
    return max(step, 0.0)


def complete_decomposition(
    types: TypeTable, seats: FloatArray, model: PanelModel, seed: list[IntArray]
) -> tuple[IntArray, FloatArray] | None:
    """Write ``seats`` as a mixture of panels by column generation, or None if it is not one.

    Used when the greedy decomposition reaches a dead end (it can, as the relaxation
    is not integral): the LP re-weighs all panels found so far and asks the pricing
    problem for more, minimising the total deviation from ``seats``."""
    t = len(seats)
    h = new_highs()
    h.setOptionValue("presolve", "off")
    h.setOptionValue("simplex_strategy", 4)
    # deviation columns: +1 and -1 on each type row, cost 1
    h.addRows(t, flt(seats), flt(seats), 0, idx([]), idx([]), flt([]))
    h.addRow(1.0, 1.0, 0, idx([]), flt([]))
    rows = idx(np.arange(t))
    for sign in (1.0, -1.0):
        h.addCols(
            t,
            flt(np.ones(t)),
            flt(np.zeros(t)),
            flt(np.full(t, INF)),
            t,
            idx(np.arange(t)),
            rows,
            flt(np.full(t, sign)),
        )
    panels: list[IntArray] = []
    seen: set[bytes] = set()
    for panel in seed:
        if panel.tobytes() not in seen:
            seen.add(panel.tobytes())
            panels.append(panel)
            (nz,) = np.nonzero(panel)
            h.addCol(0.0, 0.0, INF, len(nz) + 1, idx([*nz, t]), flt([*panel[nz], 1.0]))
    while True:
        _run(h)
        deviation = float(h.getInfo().objective_function_value)
        if deviation < 1e-9:
            break
        duals = np.array(h.getSolution().row_dual, dtype=np.float64)
        _, priced = model.price(duals[:t], -duals[t] + 1e-9)
        if priced is None or priced.tobytes() in seen:
            return None
        seen.add(priced.tobytes())
        panels.append(priced)
        (nz,) = np.nonzero(priced)
        h.addCol(0.0, 0.0, INF, len(nz) + 1, idx([*nz, t]), flt([*priced[nz], 1.0]))
    weights = np.maximum(np.array(h.getSolution().col_value[2 * t :], dtype=np.float64), 0.0)
    keep = weights > 1e-12
    return np.array(panels, dtype=np.int64)[keep], weights[keep] / weights[keep].sum()


def _run(h: highspy.Highs) -> None:
    """Solve an LP; when simplex stalls on a warm start, start again from scratch."""
    h.run()
    if h.getModelStatus() != OPTIMAL:
        h.clearSolver()
        h.setOptionValue("simplex_strategy", 1)  # dual simplex from a fresh basis
        h.run()
        h.setOptionValue("simplex_strategy", 4)
    if h.getModelStatus() != OPTIMAL:  # pragma: no cover - numerical trouble
        raise SortitionError(f"the LP solver failed: {h.getModelStatus()}")


class _Master:
    """A stage's restricted LP over the panels found so far, in one HiGHS instance.

    Rows: one per type (``sum_j x_j[t] lam_j - a[t] z >= b[t]``: ``a = c``, ``b = 0``
    while the type is free; ``a = 0``, ``b = c f`` once fixed) and the convexity row
    ``sum_j lam_j = 1``. Columns: ``z`` (column 0) and one per panel.
    """

    def __init__(self, c: FloatArray) -> None:
        self.t = len(c)
        self.c = c
        h = new_highs()
        h.setOptionValue("presolve", "off")
        h.setOptionValue("simplex_strategy", 4)  # primal: new columns keep the basis feasible
        h.addVar(-INF, INF)
        h.changeColCost(0, 1.0)
        h.changeObjectiveSense(highspy.ObjSense.kMaximize)
        h.addRows(
            self.t,
            flt(np.zeros(self.t)),
            flt(np.full(self.t, INF)),
            self.t,
            idx(np.arange(self.t)),
            idx(np.zeros(self.t)),
            flt(-c),
        )
        h.addRow(1.0, 1.0, 0, idx([]), flt([]))
        self.h = h

    def add_panel(self, panel: IntArray) -> None:
        (rows,) = np.nonzero(panel)
        self.h.addCol(0.0, 0.0, INF, len(rows) + 1, idx([*rows, self.t]), flt([*panel[rows], 1.0]))

    def fix(self, types: IntArray, value: float) -> None:
        for t in types:
            self.h.changeCoeff(int(t), 0, 0.0)
            self.h.changeRowBounds(int(t), float(self.c[t]) * value, INF)

    def solve(self) -> tuple[float, FloatArray, float]:
        """The stage value, the type duals ``y >= 0`` and the convexity dual ``mu``."""
        _run(self.h)
        duals = np.array(self.h.getSolution().row_dual, dtype=np.float64)
        objective = float(self.h.getInfo().objective_function_value)
        return objective, np.maximum(-duals[: self.t], 0.0), float(-duals[self.t])

    def weights(self) -> FloatArray:
        return np.array(self.h.getSolution().col_value[1:], dtype=np.float64)


def column_generation(
    types: TypeTable, model: PanelModel, seed: list[IntArray]
) -> tuple[IntArray, FloatArray, int]:
    """Stage-wise LEXIMIN by column generation, starting from the ``seed`` panels."""
    t = len(types.keys)
    c = _relative(types)
    master = _Master(c)
    panels: list[IntArray] = []
    seen: set[bytes] = set()

    def add(panel: IntArray) -> bool:
        key = panel.tobytes()
        if key in seen:
            return False
        seen.add(key)
        panels.append(panel)
        master.add_panel(panel)
        return True

    for panel in seed:
        add(panel)
    free = np.ones(t, dtype=bool)
    stages = 0
    while free.any():
        stages += 1
        while True:
            value, y, mu = master.solve()
            _, priced = model.price(y, mu + GAP)
            if priced is None or not add(priced):
                break
        shares = c * y
        newly = np.nonzero(free & (shares > FIX))[0]
        if len(newly) == 0:  # pragma: no cover - the convexity row forces some weight
            newly = np.nonzero(free)[0][[int(np.argmax(shares[free]))]]
        master.fix(newly, value - SLACK)
        free[newly] = False
    master.h.changeColCost(0, 0.0)  # every type is fixed: only feasibility is left
    master.solve()
    weights = np.maximum(master.weights(), 0.0)
    weights[weights < 1e-12] = 0.0
    keep = weights > 0
    matrix = np.array(panels, dtype=np.int64)[keep]
    return matrix, weights[keep] / weights[keep].sum(), stages
