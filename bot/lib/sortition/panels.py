"""Panels over types: find one, price one, and relax quotas that cannot all be met.

A panel is a vector ``x`` of seats per type with ``0 <= x[t] <= size[t]``,
``sum(x) == k`` and every quota ``min <= sum(x[t] for t with the value) <= max``.
"""

from __future__ import annotations

from dataclasses import dataclass

import highspy
import numpy as np

from bot.lib.sortition._highs import INF, INFEASIBLE, INTEGER, OPTIMAL, flt, idx, new_highs
from bot.lib.sortition.model import FloatArray, IntArray, Quota, SortitionError, TypeTable


class PanelModel:
    """The panel polytope of a type table in HiGHS, as an LP and as an integer program.

    ``price(weights)`` finds a panel of largest total weight: first by the LP
    relaxation (whose value is an upper bound, and whose vertex is often integral),
    then, only if needed, by the integer program.
    """

    def __init__(self, types: TypeTable) -> None:
        self.types = types
        self.t = len(types.keys)
        self.lp = self._build(integer=False)
        self.ip = self._build(integer=True)
        self.cols = idx(np.arange(self.t))
        self.ip_solves = 0
        self.lp_solves = 0

    def _build(self, *, integer: bool) -> highspy.Highs:
        types = self.types
        h = new_highs()
        upper = np.minimum(types.sizes, types.k).astype(np.float64)
        h.addVars(self.t, flt(np.zeros(self.t)), flt(upper))
        all_cols = idx(np.arange(self.t))
        h.addRow(float(types.k), float(types.k), self.t, all_cols, flt(np.ones(self.t)))
        for qi in range(len(types.quotas)):
            (cols,) = np.nonzero(types.incidence[qi])
            h.addRow(
                float(types.qmin[qi]),
                float(types.qmax[qi]),
                len(cols),
                idx(cols),
                flt(np.ones(len(cols))),
            )
        if integer:
            h.changeColsIntegrality(self.t, all_cols, np.array([INTEGER] * self.t))
            h.setOptionValue("mip_rel_gap", 1e-9)
            h.setOptionValue("mip_abs_gap", 1e-12)
            # small models solved many times: presolve and feasibility jump cost more than they save
            h.setOptionValue("presolve", "off")
            h.setOptionValue("mip_heuristic_run_feasibility_jump", False)
        h.changeObjectiveSense(highspy.ObjSense.kMaximize)
        return h

    def _solve(self, h: highspy.Highs, weights: FloatArray) -> tuple[float, FloatArray] | None:
        h.changeColsCost(self.t, self.cols, flt(weights))
        h.run()
        if h.getModelStatus() != OPTIMAL:
            return None
        x = np.array(h.getSolution().col_value, dtype=np.float64)
        return float(weights @ x), x

    def any_panel(self) -> IntArray | None:
        """Some panel, or None when the quotas cannot all be met."""
        found = self._solve(self.ip, np.zeros(self.t))
        if found is None:
            return None
        return _integral(found[1])

    def price(self, weights: FloatArray, threshold: float) -> tuple[float, IntArray | None]:
        """An upper bound on the best panel's weight, and a panel above ``threshold`` if
        there is one (then the bound is that panel's exact value)."""
        self.lp_solves += 1
        found = self._solve(self.lp, weights)
        if found is None:  # pragma: no cover - the LP is feasible when the IP is
            raise SortitionError("the quotas cannot be met")
        bound, x = found
        if bound <= threshold:
            return bound, None
        if np.abs(x - np.round(x)).max() < 1e-9:
            panel = _integral(x)
            return float(weights @ panel), panel
        self.ip_solves += 1
        found = self._solve(self.ip, weights)
        if found is None:  # pragma: no cover
            raise SortitionError("the quotas cannot be met")
        panel = _integral(found[1])
        value = float(weights @ panel)
        return value, (panel if value > threshold else None)


def _integral(x: FloatArray) -> IntArray:
    return np.round(x).astype(np.int64)


@dataclass(frozen=True, slots=True)
class QuotaChange:
    """One quota the smallest relaxation has to loosen."""

    quota: Quota
    new_min: int
    new_max: int

    def describe(self) -> str:
        parts = []
        if self.new_min != self.quota.min:
            parts.append(f"min {self.quota.min} -> {self.new_min}")
        if self.new_max != self.quota.max:
            parts.append(f"max {self.quota.max} -> {self.new_max}")
        return f"{self.quota.label()}: " + ", ".join(parts)


@dataclass(frozen=True, slots=True)
class Relaxation:
    """Why the quotas conflict and the smallest change (in total seats) that resolves it."""

    changes: tuple[QuotaChange, ...]
    relaxed: tuple[Quota, ...]
    reasons: tuple[str, ...]
    #: a smallest set of quota bounds that cannot all hold, e.g. ``(quota, "min")``
    conflict: tuple[tuple[Quota, str], ...] = ()

    @property
    def conflicting(self) -> tuple[Quota, ...]:
        """The quotas in the conflict and those the relaxation changes, each once."""
        quotas = [q for q, _ in self.conflict] + [c.quota for c in self.changes]
        return tuple(dict.fromkeys(quotas))

    def conflict_text(self) -> str:
        return ", ".join(
            f"{q.label()} {side} {q.min if side == 'min' else q.max}" for q, side in self.conflict
        )

    @property
    def total(self) -> int:
        return sum(
            abs(c.new_min - c.quota.min) + abs(c.new_max - c.quota.max) for c in self.changes
        )

    def describe(self) -> str:
        conflict = self.conflict_text() or ", ".join(q.label() for q in self.conflicting)
        fix = "; ".join(c.describe() for c in self.changes)
        why = f" ({'; '.join(self.reasons)})" if self.reasons else ""
        return (
            f"the quotas cannot all be met: {conflict} cannot hold together{why}; "
            f"smallest relaxation: {fix}"
        )


class InfeasibleQuotas(SortitionError):
    """The quotas cannot all be met; ``relaxation`` says which conflict and how to fix it."""

    def __init__(self, relaxation: Relaxation) -> None:
        super().__init__(relaxation.describe())
        self.relaxation = relaxation


def find_relaxation(types: TypeTable) -> Relaxation | None:
    """None when the quotas can be met; otherwise the smallest relaxation.

    An integer program over seats per type plus, per quota, how far its min is
    lowered and its max raised; it minimises the total of those, so the quotas
    it touches are the ones in conflict."""
    t = len(types.keys)
    nq = len(types.quotas)
    h = new_highs()
    upper = np.minimum(types.sizes, types.k).astype(np.float64)
    # columns: x (t), lower (nq), raise (nq)
    lo_upper = types.qmin.astype(np.float64)
    hi_upper = np.maximum(types.k - types.qmax, 0).astype(np.float64)
    h.addVars(
        t + 2 * nq, flt(np.zeros(t + 2 * nq)), flt(np.concatenate([upper, lo_upper, hi_upper]))
    )
    all_cols = idx(np.arange(t + 2 * nq))
    h.changeColsIntegrality(t + 2 * nq, all_cols, np.array([INTEGER] * (t + 2 * nq)))
    cost = np.concatenate([np.zeros(t), np.ones(2 * nq)])
    h.changeColsCost(t + 2 * nq, all_cols, flt(cost))
    h.addRow(float(types.k), float(types.k), t, idx(np.arange(t)), flt(np.ones(t)))
    for qi in range(nq):
        (cols,) = np.nonzero(types.incidence[qi])
        ones = np.ones(len(cols) + 1)
        h.addRow(float(types.qmin[qi]), INF, len(cols) + 1, idx([*cols, t + qi]), flt(ones))
        h.addRow(
            -INF,
            float(types.qmax[qi]),
            len(cols) + 1,
            idx([*cols, t + nq + qi]),
            flt([*ones[:-1], -1.0]),
        )
    h.run()
    if h.getModelStatus() == INFEASIBLE:  # pragma: no cover - k <= pool size is checked before
        raise SortitionError("the quotas cannot be met even relaxed")
    values = np.round(np.array(h.getSolution().col_value)).astype(np.int64)
    lower, raise_ = values[t : t + nq], values[t + nq :]
    if int(lower.sum() + raise_.sum()) == 0:
        return None
    changes = []
    relaxed = []
    for qi, q in enumerate(types.quotas):
        new = Quota(q.category, q.value, q.min - int(lower[qi]), q.max + int(raise_[qi]))
        relaxed.append(new)
        if new != q:
            changes.append(QuotaChange(q, new.min, new.max))
    return Relaxation(
        tuple(changes), tuple(relaxed), tuple(_reasons(types)), _conflict(types, changes)
    )


def _conflict(types: TypeTable, changes: list[QuotaChange]) -> tuple[tuple[Quota, str], ...]:
    """A minimal set of quota bounds that cannot all hold (a deletion filter).

    Starting from every bound, drop each one whose absence leaves the rest still
    infeasible; what remains is irreducible. Bounds the relaxation changes are
    tried last, so that they stay in the set when there is a choice."""
    changed = {
        (c.quota.key, side)
        for c in changes
        for side in ("min", "max")
        if (c.new_min != c.quota.min if side == "min" else c.new_max != c.quota.max)
    }
    bounds = [(qi, side) for qi in range(len(types.quotas)) for side in ("min", "max")]
    bounds = [b for b in bounds if (types.quotas[b[0]].key, b[1]) not in changed] + [
        b for b in bounds if (types.quotas[b[0]].key, b[1]) in changed
    ]
    model = PanelModel(types)
    active = set(bounds)

    def feasible(keep: set[tuple[int, str]]) -> bool:
        for qi in range(len(types.quotas)):
            low = float(types.qmin[qi]) if (qi, "min") in keep else 0.0
            high = float(types.qmax[qi]) if (qi, "max") in keep else float(types.k)
            model.ip.changeRowBounds(qi + 1, low, high)
        return model.any_panel() is not None

    for bound in bounds:
        if not feasible(active - {bound}):
            active.discard(bound)
    return tuple((types.quotas[qi], side) for qi, side in bounds if (qi, side) in active)


def _reasons(types: TypeTable) -> list[str]:
    """Plain conflicts that can be seen without solving anything."""
    reasons = []
    available = types.incidence @ np.minimum(types.sizes, types.k)
    for qi, q in enumerate(types.quotas):
        if available[qi] < q.min:
            reasons.append(f"{q.label()} needs {q.min} but the pool has {int(available[qi])}")
    for category in types.categories:
        rows = [qi for qi, q in enumerate(types.quotas) if q.category == category]
        low = int(types.qmin[rows].sum())
        high = int(types.qmax[rows].sum())
        if low > types.k:
            reasons.append(f"the {category} minimums add up to {low} > {types.k} seats")
        if high < types.k:
            reasons.append(f"the {category} maximums add up to {high} < {types.k} seats")
    return reasons


__all__ = [
    "InfeasibleQuotas",
    "PanelModel",
    "QuotaChange",
    "Relaxation",
    "find_relaxation",
]
