#!/usr/bin/env python3
"""A citizens' assembly's draw at scale: 10,000 generated registrants, 8
categories, census quotas, one person a household.

The pool: the six categories of ``bot.lib.sortition.synthetic`` (skewed
self-selection: older, degree-holding, very concerned people register far more
often) plus housing tenure and attitude to the topic, each with its census
share and its own propensity; about one registrant in six shares an address
with another. The quotas are the assembly's own rule
(``bot.assemblies.rules.census_quotas``): each value's census share of the seats,
rounded to sum to the seats, within a tolerance of one seat. The draw is what
/assembly draw runs: ``commit_sealed`` with the households (LEXIMIN, the
1,000-panel lottery with one person a household, the sealed record), timed,
then the record verified as ``organiser sortition verify`` does.

    python bench/assembly.py [--n 10000] [--seats 30] [--seed 1]

Prints the solve time, the min and max selection probability, the lottery's
largest deviation from LEXIMIN and the verification time; the last line is one
JSON object: ``{"n", "k", "categories", "households_shared", "seconds", "min_p",
"max_p", "max_deviation", "distinct_panels", "verify_seconds", "relaxed"}``.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.assemblies.rules import census_quotas, coverage  # noqa: E402
from bot.lib.sortition.building import commit_sealed  # noqa: E402
from bot.lib.sortition.drawing import selected_after  # noqa: E402
from bot.lib.sortition.model import Person, Problem  # noqa: E402
from bot.lib.sortition.panels import InfeasibleQuotas  # noqa: E402
from bot.lib.sortition.synthetic import CATEGORIES as SIX  # noqa: E402
from bot.lib.sortition.verification import verify  # noqa: E402

#: category -> [(value, census share, relative propensity to register)]
CATEGORIES = {
    **SIX,
    "tenure": [("owner", 0.62, 1.3), ("private renter", 0.20, 0.7), ("social renter", 0.18, 0.6)],
    "attitude": [("worried", 0.40, 1.6), ("unsure", 0.35, 0.8), ("unconcerned", 0.25, 0.5)],
}
SEED_SOURCE = {"kind": "lottery", "name": "UK Lotto", "date": "2027-01-02"}
SEED = "4 11 23 35 42 58 + 7"


def pool(n: int, seed: int) -> tuple[list[Person], dict[str, str], int]:
    """``n`` registrants, their households, and how many share one."""
    rng = random.Random(seed)
    draws = {
        category: rng.choices([v for v, _, _ in rows], weights=[s * p for _, s, p in rows], k=n)
        for category, rows in CATEGORIES.items()
    }
    people = [
        Person(f"R{i:05d}", {category: draws[category][i] for category in CATEGORIES})
        for i in range(n)
    ]
    households: dict[str, str] = {}
    shared = 0
    for i, person in enumerate(people):
        if i and rng.random() < 1 / 6:  # lives with an earlier registrant
            households[person.id] = households[people[rng.randrange(i)].id]
            shared += 1
        else:
            households[person.id] = f"h{i}"
    return people, households, shared


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=10_000)
    parser.add_argument("--seats", type=int, default=30)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    people, households, shared = pool(args.n, args.seed)
    targets = {c: {v: s for v, s, _ in rows} for c, rows in CATEGORIES.items()}
    quotas = census_quotas(args.seats, targets, 1)
    short = [c for c in coverage(quotas, [p.features for p in people]) if c.short]
    print(f"pool: {args.n} registrants, {len(CATEGORIES)} categories, {shared} share a household")
    for c in short:
        print(f"  short: {c.quota.label()} has {c.registered} for {c.quota.min} seats")
    problem = Problem.build(people, quotas, args.seats)
    relaxed = None
    started = time.perf_counter()
    try:
        record, lottery = commit_sealed(problem, SEED_SOURCE, households=households)
    except InfeasibleQuotas as exc:
        relaxed = exc.relaxation.describe()
        problem = Problem.build(people, exc.relaxation.relaxed, args.seats)
        record, lottery = commit_sealed(problem, SEED_SOURCE, households=households)
    seconds = time.perf_counter() - started
    started = time.perf_counter()
    result = verify(json.loads(json.dumps(record)), SEED)
    verify_seconds = time.perf_counter() - started
    assert result.ok, result.mismatches
    _, panel = selected_after(record, SEED)
    assert len({households[i] for i in panel}) == args.seats
    print(f"solve and commit: {seconds:.2f} s ({lottery.distribution.method})")
    print(
        f"selection probability: min {lottery.min_probability:.6f}, max {lottery.max_probability:.6f}"
    )
    print(f"lottery's largest deviation from LEXIMIN: {lottery.max_deviation:.6f}")
    print(f"distinct panels: {lottery.distinct_panels} of {lottery.m}")
    print(f"verify (full record, offline): {verify_seconds:.2f} s")
    if relaxed:
        print(f"relaxed: {relaxed}")
    print(
        json.dumps(
            {
                "n": args.n,
                "k": args.seats,
                "categories": len(CATEGORIES),
                "households_shared": shared,
                "seconds": round(seconds, 3),
                "min_p": round(lottery.min_probability, 6),
                "max_p": round(lottery.max_probability, 6),
                "max_deviation": round(lottery.max_deviation, 6),
                "distinct_panels": lottery.distinct_panels,
                "verify_seconds": round(verify_seconds, 3),
                "relaxed": relaxed,
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
