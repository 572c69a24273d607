"""The inputs of a selection: people, quotas, panel size; and their grouping into types.

A *type* is one combination of feature values (one value per quota category).
People of the same type are interchangeable for every quota, so the optimiser
works with seats per type, never with individual people; the individual
lottery is built from the type lottery at the very end.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]


class SortitionError(ValueError):
    """The input cannot be used as it is; the message says why, in one line."""


@dataclass(frozen=True, slots=True)
class Person:
    """One pool member: a pseudonymous id and one value per category."""

    id: str
    features: Mapping[str, str]


@dataclass(frozen=True, slots=True, order=True)
class Quota:
    """Between ``min`` and ``max`` seats (inclusive) go to people with ``category`` = ``value``."""

    category: str
    value: str
    min: int
    max: int

    @property
    def key(self) -> tuple[str, str]:
        return (self.category, self.value)

    def label(self) -> str:
        return f"{self.category}={self.value}"


@dataclass(frozen=True, slots=True)
class Problem:
    """A selection problem: choose ``k`` of ``people`` (minus ``exclude``) within ``quotas``."""

    people: tuple[Person, ...]
    quotas: tuple[Quota, ...]
    k: int
    exclude: frozenset[str] = field(default_factory=frozenset)

    @classmethod
    def build(
        cls,
        people: Iterable[Person],
        quotas: Iterable[Quota],
        k: int,
        exclude: Iterable[str] = (),
    ) -> Problem:
        """Check the input and put it in canonical order (people by id, quotas by key).

        Only the quota categories of each person are kept. Excluded ids that are not
        in the pool are dropped (there is nobody to exclude)."""
        quota_list = sorted(quotas, key=lambda q: q.key)
        if not quota_list:
            raise SortitionError("there are no quotas")
        seen_quotas: set[tuple[str, str]] = set()
        for q in quota_list:
            if q.key in seen_quotas:
                raise SortitionError(f"quota {q.label()} is given twice")
            seen_quotas.add(q.key)
            if q.min < 0 or q.max < q.min:
                raise SortitionError(
                    f"quota {q.label()}: need 0 <= min <= max, got {q.min}..{q.max}"
                )
        categories = sorted({q.category for q in quota_list})
        values: dict[str, set[str]] = {c: set() for c in categories}
        for q in quota_list:
            values[q.category].add(q.value)
        kept: list[Person] = []
        ids: set[str] = set()
        for person in people:
            if not person.id:
                raise SortitionError("a person has an empty id")
            if person.id in ids:
                raise SortitionError(f"id {person.id!r} appears twice in the pool")
            ids.add(person.id)
            features: dict[str, str] = {}
            for category in categories:
                value = person.features.get(category)
                if value is None:
                    raise SortitionError(f"person {person.id!r} has no value for {category!r}")
                if value not in values[category]:
                    raise SortitionError(
                        f"person {person.id!r} has {category}={value!r}, which has no quota"
                    )
                features[category] = value
            kept.append(Person(person.id, features))
        kept.sort(key=lambda p: p.id)
        if k < 1:
            raise SortitionError(f"the panel size must be at least 1, got {k}")
        excluded = frozenset(exclude) & ids
        eligible = len(kept) - len(excluded)
        if k > eligible:
            raise SortitionError(
                f"the panel size {k} is larger than the {eligible} people who can be selected"
            )
        return cls(tuple(kept), tuple(quota_list), k, excluded)

    @property
    def categories(self) -> tuple[str, ...]:
        return tuple(sorted({q.category for q in self.quotas}))

    def eligible(self) -> list[Person]:
        return [p for p in self.people if p.id not in self.exclude]


@dataclass(frozen=True)
class TypeTable:
    """The eligible pool grouped by feature vector.

    ``keys[t]`` is the feature vector of type ``t`` (in ``categories`` order),
    ``members[t]`` its people's ids (sorted), ``sizes[t]`` their number;
    ``incidence[q, t]`` is 1 when type ``t`` counts towards quota ``q``.
    """

    categories: tuple[str, ...]
    quotas: tuple[Quota, ...]
    k: int
    keys: tuple[tuple[str, ...], ...]
    members: tuple[tuple[str, ...], ...]
    sizes: IntArray
    incidence: IntArray
    qmin: IntArray
    qmax: IntArray

    @classmethod
    def from_problem(cls, problem: Problem) -> TypeTable:
        categories = problem.categories
        groups: dict[tuple[str, ...], list[str]] = {}
        for person in problem.eligible():
            key = tuple(person.features[c] for c in categories)
            groups.setdefault(key, []).append(person.id)
        keys = tuple(sorted(groups))
        members = tuple(tuple(sorted(groups[key])) for key in keys)
        return cls.from_groups(categories, problem.quotas, problem.k, keys, members)

    @classmethod
    def from_groups(
        cls,
        categories: Sequence[str],
        quotas: Sequence[Quota],
        k: int,
        keys: Sequence[tuple[str, ...]],
        members: Sequence[tuple[str, ...]],
    ) -> TypeTable:
        position = {c: i for i, c in enumerate(categories)}
        incidence = np.zeros((len(quotas), len(keys)), dtype=np.int64)
        for qi, q in enumerate(quotas):
            column = position[q.category]
            for t, key in enumerate(keys):
                if key[column] == q.value:
                    incidence[qi, t] = 1
        return cls(
            categories=tuple(categories),
            quotas=tuple(quotas),
            k=k,
            keys=tuple(keys),
            members=tuple(members),
            sizes=np.array([len(m) for m in members], dtype=np.int64),
            incidence=incidence,
            qmin=np.array([q.min for q in quotas], dtype=np.int64),
            qmax=np.array([q.max for q in quotas], dtype=np.int64),
        )

    @property
    def n(self) -> int:
        return int(self.sizes.sum())

    def with_quotas(self, quotas: Sequence[Quota]) -> TypeTable:
        """The same pool under other bounds (same quota keys, same order)."""
        assert [q.key for q in quotas] == [q.key for q in self.quotas]
        return TypeTable.from_groups(self.categories, quotas, self.k, self.keys, self.members)

    def panel_ok(self, seats: IntArray) -> bool:
        """Whether seats per type form a valid panel: k seats, within sizes and quotas."""
        counts = self.incidence @ seats
        return bool(
            int(seats.sum()) == self.k
            and (seats >= 0).all()
            and (seats <= self.sizes).all()
            and (counts >= self.qmin).all()
            and (counts <= self.qmax).all()
        )
