"""Made-up pools with skewed self-selection, for tests and benchmarks.

Six categories; the population shares set the quotas (proportional to the
panel size, one seat either way), while who answers the invitation is skewed:
older, degree-holding, very concerned people answer far more often. All
randomness comes from an explicit ``random.Random(seed)``.
"""

from __future__ import annotations

import math
import random

from bot.lib.sortition.model import Person, Quota

#: category -> [(value, population share, relative propensity to answer)]
CATEGORIES: dict[str, list[tuple[str, float, float]]] = {
    "gender": [("female", 0.50, 0.9), ("male", 0.48, 1.1), ("prefer not to say", 0.02, 0.6)],
    "age": [
        ("16-29", 0.22, 0.4),
        ("30-44", 0.25, 0.8),
        ("45-59", 0.24, 1.1),
        ("60-74", 0.19, 1.6),
        ("75+", 0.10, 0.9),
    ],
    "area": [("city", 0.35, 1.2), ("suburb", 0.30, 1.0), ("town", 0.20, 0.9), ("rural", 0.15, 0.8)],
    "education": [("school", 0.40, 0.5), ("further", 0.30, 1.0), ("degree", 0.30, 2.2)],
    "ethnicity": [
        ("white", 0.80, 1.1),
        ("asian", 0.09, 0.7),
        ("black", 0.04, 0.6),
        ("mixed or other", 0.07, 0.8),
    ],
    "concern": [("low", 0.30, 0.4), ("medium", 0.45, 1.0), ("high", 0.25, 2.5)],
}


def skewed_pool(n: int, seed: int, *, prefix: str = "p") -> list[Person]:
    """``n`` people whose feature values follow population share x propensity."""
    rng = random.Random(seed)
    width = len(str(n - 1)) if n > 1 else 1
    tables = []
    for category, rows in CATEGORIES.items():
        values = [v for v, _, _ in rows]
        weights = [share * propensity for _, share, propensity in rows]
        tables.append((category, values, weights))
    draws = {
        category: rng.choices(values, weights=weights, k=n) for category, values, weights in tables
    }
    return [
        Person(f"{prefix}{i:0{width}d}", {category: draws[category][i] for category in CATEGORIES})
        for i in range(n)
    ]


def proportional_quotas(k: int, *, slack: int = 1) -> list[Quota]:
    """Quotas at the population share of ``k`` seats, ``slack`` seats either way."""
    quotas = []
    for category, rows in CATEGORIES.items():
        for value, share, _ in rows:
            target = share * k
            quotas.append(
                Quota(
                    category,
                    value,
                    max(0, math.floor(target) - slack),
                    min(k, math.ceil(target) + slack),
                )
            )
    return quotas
