"""The sortition engine: LEXIMIN, the transparent lottery, the record and its verification."""

from __future__ import annotations

import copy
import hashlib
import json
import random
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.lib.sortition import (
    InfeasibleQuotas,
    Person,
    Problem,
    Quota,
    SortitionError,
    TypeTable,
    canonical,
    commit,
    digest,
    draw_index,
    leximin_distribution,
    parse_seed_source,
    read_people,
    read_quotas,
    relaxation_for,
    replacement_seed,
    selected_after,
    verify,
)
from bot.lib.sortition.encoding import COMMITTED, FIELDS
from bot.lib.sortition.lottery import round_to_lottery, type_deviation
from bot.lib.sortition.synthetic import CATEGORIES, proportional_quotas, skewed_pool

DATA = Path(__file__).resolve().parent / "data" / "sortition"
SEED_SOURCE = {"kind": "lottery", "name": "National Lottery", "date": "2026-12-05"}


def public_instance(name: str, k: int) -> Problem:
    folder = DATA / name
    quotas = read_quotas((folder / "categories.csv").read_text(encoding="utf-8"))
    people = read_people(
        (folder / "respondents.csv").read_text(encoding="utf-8"), {q.category for q in quotas}
    )
    return Problem.build(people, quotas, k)


def panel_meets_quotas(panel: tuple[str, ...], problem: Problem) -> bool:
    features = {p.id: p.features for p in problem.people}
    for quota in problem.quotas:
        count = sum(1 for i in panel if features[i][quota.category] == quota.value)
        if not quota.min <= count <= quota.max:
            return False
    return True


@pytest.fixture(scope="module")
def generated() -> tuple[Problem, dict[str, Any], Any]:
    """1,000 people, 6 categories, skewed self-selection, k = 30, three people excluded."""
    people = skewed_pool(1000, seed=20261126)
    problem = Problem.build(people, proportional_quotas(30), 30, exclude=["p007", "p100", "p999"])
    record, lottery = commit(problem, SEED_SOURCE)
    return problem, record, lottery


# --- the public instances of Flanigan et al. ------------------------------------------------


@pytest.mark.parametrize(("name", "k"), [("example_small_20", 20), ("example_large_200", 200)])
def test_public_instance_reaches_the_papers_leximin_minimum(name: str, k: int) -> None:
    problem = public_instance(name, k)
    started = time.perf_counter()
    record, lottery = commit(problem, SEED_SOURCE)
    assert time.perf_counter() - started < 20
    assert lottery.min_probability == pytest.approx(0.100, abs=1e-3)  # the paper: 10.0%
    assert sum(lottery.probability.values()) == pytest.approx(k, abs=1e-6)
    assert all(len(panel) == k and panel_meets_quotas(panel, problem) for panel in lottery.panels)
    assert verify(record, "any seed").ok


# --- generated pools ------------------------------------------------------------------------


def test_every_lottery_panel_has_k_people_within_every_quota(generated: Any) -> None:
    problem, _, lottery = generated
    assert len(lottery.panels) == 1000
    for panel in lottery.panels:
        assert len(panel) == len(set(panel)) == problem.k
        assert panel_meets_quotas(panel, problem)


def test_probabilities_sum_to_k_and_lottery_follows_them(generated: Any) -> None:
    problem, _, lottery = generated
    assert sum(lottery.probability.values()) == pytest.approx(problem.k, abs=1e-6)
    assert sum(lottery.lottery_probability.values()) == pytest.approx(problem.k)
    # per type, the lottery is within 3/m of LEXIMIN; per person, within 4/m
    copies = round_to_lottery(lottery.distribution, lottery.m)
    assert np.abs(type_deviation(lottery.distribution, copies)).max() <= 3 / lottery.m
    assert lottery.max_deviation <= 4 / lottery.m
    assert 0 < lottery.min_probability < problem.k / 997 < lottery.max_probability <= 1


def test_excluded_people_are_never_selected(generated: Any) -> None:
    problem, _, lottery = generated
    assert problem.exclude == {"p007", "p100", "p999"}
    chosen = {person for panel in lottery.panels for person in panel}
    assert chosen.isdisjoint(problem.exclude)
    assert problem.exclude.isdisjoint(lottery.probability)


def test_leximin_over_types_is_certified_and_matches_column_generation() -> None:
    """The relaxation's LEXIMIN, once decomposed, equals plain column generation's."""
    problem = Problem.build(skewed_pool(120, seed=4), proportional_quotas(10), 10)
    types = TypeTable.from_problem(problem)
    fast = leximin_distribution(types)
    slow = leximin_distribution(types, method="column generation")
    assert fast.method == "relaxation"
    assert slow.method == "column generation"
    assert np.sort(fast.type_probabilities) == pytest.approx(
        np.sort(slow.type_probabilities), abs=1e-5
    )
    for distribution in (fast, slow):
        assert distribution.weights.sum() == pytest.approx(1.0)
        assert all(types.panel_ok(panel) for panel in distribution.panels)


def test_people_of_one_type_share_a_probability(generated: Any) -> None:
    problem, _, lottery = generated
    by_type: dict[tuple[str, ...], set[float]] = {}
    for person in problem.eligible():
        key = tuple(person.features[c] for c in problem.categories)
        by_type.setdefault(key, set()).add(lottery.probability[person.id])
    assert all(len(values) == 1 for values in by_type.values())
    # and the lottery spreads a type's seats evenly over its members
    appearances = Counter(person for panel in lottery.panels for person in panel)
    for person in problem.eligible():
        assert abs(appearances[person.id] / 1000 - lottery.probability[person.id]) <= 4 / 1000


# --- infeasible quotas ----------------------------------------------------------------------


def test_infeasible_quotas_name_the_conflict_and_the_relaxation_works() -> None:
    people = skewed_pool(300, seed=3)
    quotas = [
        Quota(q.category, q.value, 20, 30) if q.key == ("age", "16-29") else q
        for q in proportional_quotas(30)
    ]
    quotas = [
        Quota(q.category, q.value, 12, 30) if q.key == ("age", "60-74") else q for q in quotas
    ]
    problem = Problem.build(people, quotas, 30)
    with pytest.raises(InfeasibleQuotas) as caught:
        commit(problem, SEED_SOURCE)
    relaxation = caught.value.relaxation
    assert ("age", "16-29") in {q.key for q in relaxation.conflicting}
    assert "age=16-29 min 20" in str(caught.value)
    # the named bounds cannot hold together, and each of them is needed for the conflict
    conflict = relaxation.conflict

    def only(bounds: tuple[tuple[Quota, str], ...]) -> Problem:
        kept = [
            Quota(
                q.category,
                q.value,
                q.min if (q, "min") in bounds else 0,
                q.max if (q, "max") in bounds else 30,
            )
            for q in quotas
        ]
        return Problem.build(people, kept, 30)

    assert relaxation_for(only(conflict)) is not None
    for bound in conflict:
        assert relaxation_for(only(tuple(b for b in conflict if b != bound))) is None
    assert relaxation.total > 0
    relaxed = Problem.build(people, relaxation.relaxed, 30)
    assert relaxation_for(relaxed) is None
    _, lottery = commit(relaxed, SEED_SOURCE, m=50)
    assert all(panel_meets_quotas(p, relaxed) for p in lottery.panels)


def test_a_quota_larger_than_its_group_is_reported() -> None:
    people = [Person(f"x{i}", {"g": "a" if i < 3 else "b"}) for i in range(10)]
    quotas = [Quota("g", "a", 4, 5), Quota("g", "b", 0, 5)]
    with pytest.raises(InfeasibleQuotas) as caught:
        commit(Problem.build(people, quotas, 5), SEED_SOURCE)
    assert "g=a needs 4 but the pool has 3" in str(caught.value)
    changes = {c.quota.key: (c.new_min, c.new_max) for c in caught.value.relaxation.changes}
    assert changes == {("g", "a"): (3, 5)}


@pytest.mark.parametrize(
    ("people", "quotas", "k", "message"),
    [
        ([Person("a", {"g": "x"})], [Quota("g", "x", 0, 1)], 2, "larger than the 1 people"),
        ([Person("a", {"g": "y"})], [Quota("g", "x", 0, 1)], 1, "which has no quota"),
        ([Person("a", {})], [Quota("g", "x", 0, 1)], 1, "has no value for"),
        ([Person("a", {"g": "x"})] * 2, [Quota("g", "x", 0, 1)], 1, "appears twice"),
        ([Person("a", {"g": "x"})], [Quota("g", "x", 2, 1)], 1, "need 0 <= min <= max"),
    ],
)
def test_bad_input_is_refused_in_one_line(
    people: list[Person], quotas: list[Quota], k: int, message: str
) -> None:
    with pytest.raises(SortitionError, match=message):
        Problem.build(people, quotas, k)


# --- the record, the draw, verification -----------------------------------------------------


def test_verify_accepts_the_honest_record(generated: Any) -> None:
    _, record, lottery = generated
    result = verify(record, "7 14 21 28 35 42", published_hash=record["record_hash"])
    assert result.ok, result.mismatches
    assert result.index == draw_index(record["record_hash"], "7 14 21 28 35 42", 1000)
    assert result.selected == lottery.panels[result.index]
    assert selected_after(record, "7 14 21 28 35 42") == (result.index, result.selected)


def _first_free(record: dict[str, Any], panel: list[str]) -> str:
    return next(e["id"] for e in record["pool"] if e["id"] not in panel)


TAMPERING: dict[str, Callable[[dict[str, Any]], None]] = {
    "format": lambda r: r.update(format="assembly-organiser/sortition-record/9"),
    "code_version": lambda r: r.update(code_version="something else"),
    "categories": lambda r: r["categories"].reverse(),
    "pool": lambda r: r["pool"][5]["features"].update(
        gender="male" if r["pool"][5]["features"]["gender"] != "male" else "female"
    ),
    "pool_hash": lambda r: r.update(pool_hash="0" * 64),
    "excluded": lambda r: r["excluded"].remove(r["excluded"][0]),
    "quotas": lambda r: r["quotas"][0].update(min=r["quotas"][0]["min"] + 1),
    "k": lambda r: r.update(k=r["k"] + 1),
    "m": lambda r: r.update(m=r["m"] - 1),
    "panels": lambda r: r["panels"][0].__setitem__(0, _first_free(r, r["panels"][0])),
    "panels_hash": lambda r: r.update(panels_hash="f" * 64),
    "seed_source": lambda r: r["seed_source"].update(date="2026-12-06"),
    "summary": lambda r: r["summary"].update(min_probability="0.5"),
    "field_hashes": lambda r: r["field_hashes"].update(k="0" * 64),
    "record_hash": lambda r: r.update(record_hash="a" * 64),
}


def test_every_field_has_a_tampering_case() -> None:
    assert set(TAMPERING) == set(FIELDS)
    assert set(COMMITTED) < set(FIELDS)


@pytest.mark.parametrize("field", sorted(TAMPERING))
def test_tampering_with_one_field_is_detected_and_named(generated: Any, field: str) -> None:
    _, record, _ = generated
    tampered = copy.deepcopy(record)
    TAMPERING[field](tampered)
    assert tampered != record
    result = verify(tampered, "7 14 21 28 35 42")
    assert not result.ok
    assert result.fields == (field,), result.mismatches
    assert result.selected == ()


def test_a_rebuilt_record_is_caught_by_the_published_hash_and_its_contents(generated: Any) -> None:
    problem, record, _ = generated
    forged = copy.deepcopy(record)
    forged["panels"][0][0] = sorted(problem.exclude)[0]  # an excluded person, then rehash all
    forged["panels"][0].sort()
    forged["panels_hash"] = digest(forged["panels"])
    forged["field_hashes"] = {name: digest(forged[name]) for name in COMMITTED}
    forged["record_hash"] = digest(forged["field_hashes"])
    assert verify(forged, "s", published_hash=record["record_hash"]).fields == ("record_hash",)
    result = verify(forged, "s")
    assert result.fields == ("panels",)
    assert "excluded" in str(result.mismatches[0])


def test_deep_verification_solves_again(generated: Any) -> None:
    _, record, _ = generated
    assert verify(record, "seed", deep=True).ok
    skewed = copy.deepcopy(record)
    skewed["panels"] = [skewed["panels"][0]] * skewed["m"]  # valid panels, wrong lottery
    skewed["panels_hash"] = digest(skewed["panels"])
    skewed["field_hashes"]["panels_hash"] = digest(skewed["panels_hash"])
    skewed["record_hash"] = digest(skewed["field_hashes"])
    assert verify(skewed, "seed").ok
    assert verify(skewed, "seed", deep=True).fields == ("panels",)


def test_the_record_is_plain_json_with_canonical_hashes(generated: Any) -> None:
    _, record, _ = generated
    again = json.loads(json.dumps(record))
    assert verify(again, "x").ok
    assert (
        record["pool_hash"]
        == hashlib.sha256(
            json.dumps(
                record["pool"], sort_keys=True, separators=(",", ":"), ensure_ascii=False
            ).encode()
        ).hexdigest()
    )
    assert canonical({"b": 1, "a": ["é", 2]}) == '{"a":["é",2],"b":1}'.encode()
    assert record["record_hash"] == digest(record["field_hashes"])
    assert not any(isinstance(v, float) for v in record["summary"].values())


def test_the_draw_is_sha256_of_seed_and_record_hash_mod_m() -> None:
    record_hash = "ab" * 32
    expected = (
        int.from_bytes(
            hashlib.sha256(b"12 17 23 31 40 44" + bytes.fromhex(record_hash)).digest(), "big"
        )
        % 1000
    )
    assert draw_index(record_hash, "12 17 23 31 40 44", 1000) == expected
    spread = Counter(draw_index(record_hash, str(i), 10) for i in range(2000))
    assert set(spread) == set(range(10)) and min(spread.values()) > 150


def test_replacement_seeds_are_deterministic_and_distinct() -> None:
    seeds = [replacement_seed("12 17 23", n) for n in range(1, 6)]
    assert seeds == [replacement_seed("12 17 23", n) for n in range(1, 6)]
    assert len(set(seeds)) == 5
    assert seeds[0] == hashlib.sha256(b"12 17 23replacement1").hexdigest()
    assert replacement_seed("12 17 24", 1) != seeds[0]
    with pytest.raises(ValueError):
        replacement_seed("x", 0)


def test_seed_sources() -> None:
    assert parse_seed_source("lottery:EuroMillions:2026-12-05") == {
        "kind": "lottery",
        "name": "EuroMillions",
        "date": "2026-12-05",
    }
    assert parse_seed_source("beacon:https://beacon.nist.gov/beacon/2.0/pulse:4242") == {
        "kind": "beacon",
        "url": "https://beacon.nist.gov/beacon/2.0/pulse",
        "round": 4242,
    }
    assert parse_seed_source("the first five numbers read out at the meeting")["kind"] == "string"
    assert parse_seed_source('{"kind": "string", "description": "dice"}')["description"] == "dice"
    with pytest.raises(SortitionError):
        parse_seed_source('{"kind": "lottery"}')


def test_same_input_same_record() -> None:
    problem = Problem.build(skewed_pool(200, seed=9), proportional_quotas(12), 12)
    first, _ = commit(problem, SEED_SOURCE, m=100)
    second, _ = commit(problem, SEED_SOURCE, m=100)
    assert first["record_hash"] == second["record_hash"]


# --- a small property test ------------------------------------------------------------------


@st.composite
def small_problems(draw: st.DrawFn) -> Problem:
    seed = draw(st.integers(0, 10_000))
    rng = random.Random(seed)
    n = draw(st.integers(8, 40))
    k = draw(st.integers(1, min(8, n)))
    categories = {"a": ["x", "y"], "b": ["u", "v", "w"], "c": ["p", "q"]}
    people = [
        Person(f"id{i}", {c: rng.choice(values) for c, values in categories.items()})
        for i in range(n)
    ]
    quotas = []
    for category, values in categories.items():
        for value in values:
            low = draw(st.integers(0, 2))
            quotas.append(Quota(category, value, low, low + draw(st.integers(0, k))))
    exclude = [f"id{i}" for i in range(n) if rng.random() < 0.1][: n - k]
    return Problem.build(people, quotas, k, exclude)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(small_problems())
def test_any_small_problem_gives_a_valid_lottery_or_a_working_relaxation(
    problem: Problem,
) -> None:
    try:
        record, lottery = commit(problem, SEED_SOURCE, m=20)
    except InfeasibleQuotas as exc:
        relaxed = Problem.build(problem.people, exc.relaxation.relaxed, problem.k, problem.exclude)
        assert relaxation_for(relaxed) is None
        assert exc.relaxation.conflict
        return
    assert sum(lottery.probability.values()) == pytest.approx(problem.k, abs=1e-6)
    for panel in lottery.panels:
        assert len(set(panel)) == problem.k
        assert panel_meets_quotas(panel, problem)
        assert problem.exclude.isdisjoint(panel)
    assert verify(record, "seed").ok


def test_generated_pools_are_reproducible() -> None:
    assert skewed_pool(50, seed=1) == skewed_pool(50, seed=1)
    assert skewed_pool(50, seed=1) != skewed_pool(50, seed=2)
    assert set(skewed_pool(1, seed=1)[0].features) == set(CATEGORIES)
