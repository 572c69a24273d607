"""The sortition engine with census quotas and one person a household: every
panel of the lottery, and every replacement, keeps to both; the record (with the
organisers' openings) verifies offline, and a record that breaks the household
rule does not."""

from __future__ import annotations

import json
import random

import pytest

from bot.assemblies.rules import Category, census_quotas, coverage, read_targets, seat_targets
from bot.lib.sortition.building import commit_sealed, make_sealed_record
from bot.lib.sortition.drawing import next_replacement, open_drawn, selected_after, standing_after
from bot.lib.sortition.lottery import build_lottery
from bot.lib.sortition.model import Person, Problem, Quota, SortitionError
from bot.lib.sortition.verification import verify

AGES = ("18-29", "30-44", "45-64", "65+")
TENURE = ("owner", "renter", "social")
SOURCE = {"kind": "lottery", "name": "UK Lotto", "date": "2026-12-02"}
SEED = "4 11 23 35 42 58 + 7"


def pool(n: int = 120) -> tuple[list[Person], dict[str, str]]:
    rng = random.Random(5)
    people = [
        Person(f"R{i:04d}", {"age": rng.choice(AGES), "tenure": rng.choice(TENURE)})
        for i in range(n)
    ]
    # Households of two or three: every third household shares an address.
    households = {p.id: f"h{i // 3 if i % 2 else i}" for i, p in enumerate(people)}
    return people, households


def targets() -> dict[str, dict[str, float]]:
    categories = [Category("age", AGES), Category("tenure", TENURE)]
    text = "age,18-29,20%\nage,30-44,25%\nage,45-64,33%\nage,65+,22%\n"
    text += "tenure,owner,60\ntenure,renter,25\ntenure,social,15\n"
    return read_targets(text, categories)


def test_census_quotas_round_to_the_seats_within_the_tolerance() -> None:
    shares = targets()
    assert sum(seat_targets(30, shares["age"]).values()) == 30
    assert seat_targets(30, shares["tenure"]) == {"owner": 18, "renter": 8, "social": 4}
    quotas = {q.key: (q.min, q.max) for q in census_quotas(30, shares, 1)}
    assert quotas[("tenure", "owner")] == (17, 19) and quotas[("tenure", "social")] == (3, 5)
    short = [
        c for c in coverage(census_quotas(30, shares, 1), [{"tenure": "social"}] * 2) if c.short
    ]
    assert ("tenure", "social") in {c.quota.key for c in short}


def test_no_panel_and_no_replacement_holds_two_of_one_household() -> None:
    people, households = pool()
    problem = Problem.build(people, census_quotas(12, targets(), 1), 12)
    record, lottery = commit_sealed(problem, SOURCE, 200, households=households)
    for panel in lottery.panels:
        homes = [households[i] for i in panel]
        assert len(set(homes)) == len(homes)
    record = json.loads(json.dumps(record))
    result = verify(record, SEED)
    assert result.ok, result.mismatches
    index, selected = selected_after(record, SEED)
    record["opened"] = open_drawn(record, index)
    # Two places given up in turn: each replacement is from another household.
    features = {pid: o["features"] for pid, o in record["openings"].items()}
    history = []
    for gone in selected[:2]:
        standing, invited = standing_after({**record, "history": history}, SEED)
        standing.discard(gone)
        chosen = next_replacement(record, SEED, standing, invited, set(), features)
        assert chosen is not None
        assert households[chosen] not in {households[i] for i in standing}
        history.append({"event": "declined", "id": gone, "replacement": chosen, "skipped": []})
    assert verify({**record, "history": history}, SEED).ok


def test_a_lottery_that_ignores_households_is_caught() -> None:
    """Attack: the organiser builds the lottery without the household rule and
    commits the rule anyway; the full record does not verify."""
    people, households = pool()
    problem = Problem.build(people, census_quotas(12, targets(), 1), 12)
    lottery = build_lottery(problem, 200, pool_hash="00")
    assert any(len({households[i] for i in p}) < len(p) for p in lottery.panels)
    record = make_sealed_record(problem, lottery, SOURCE, households=households)
    result = verify(json.loads(json.dumps(record)), SEED)
    assert not result.ok and "household" in str(result.mismatches)


def test_a_household_changed_after_the_commitment_is_caught() -> None:
    people, households = pool(60)
    problem = Problem.build(people, census_quotas(6, targets(), 1), 6)
    record, _ = commit_sealed(problem, SOURCE, 50, households=households)
    record = json.loads(json.dumps(record))
    first = next(iter(record["openings"]))
    record["openings"][first]["household"] = "0" * 16
    result = verify(record, SEED)
    assert not result.ok and result.fields == ("openings",)


def test_two_housemates_who_are_each_alone_of_their_kind_never_sit_together() -> None:
    """Two registrants each the only one of their type, living together: a panel of
    the LEXIMIN distribution holding both is replaced, and when the quotas need
    both the draw is refused rather than seat two of one household."""
    rng = random.Random(3)
    people = [Person(f"R{i:03d}", {"tenure": rng.choice(("owner", "renter"))}) for i in range(30)]
    people += [Person("R900", {"tenure": "boat"}), Person("R901", {"tenure": "caravan"})]
    households = {p.id: p.id for p in people} | {"R900": "home", "R901": "home"}
    quotas = [
        Quota("tenure", "owner", 0, 6),
        Quota("tenure", "renter", 0, 6),
        Quota("tenure", "boat", 0, 1),
        Quota("tenure", "caravan", 0, 1),
    ]
    problem = Problem.build(people, quotas, 6)
    plain = build_lottery(problem, 300, pool_hash="00")
    assert any({"R900", "R901"} <= set(p) for p in plain.panels)  # what the rule prevents
    record, lottery = commit_sealed(problem, SOURCE, 300, households=households)
    assert not any({"R900", "R901"} <= set(p) for p in lottery.panels)
    # Each keeps their turns: they sit as often as each other, never together.
    sits = [sum(1 for p in lottery.panels if i in p) for i in ("R900", "R901")]
    assert sits[0] > 0 and abs(sits[0] - sits[1]) <= 1, sits
    assert verify(json.loads(json.dumps(record)), SEED).ok
    both = [*quotas[:2], Quota("tenure", "boat", 1, 1), Quota("tenure", "caravan", 1, 1)]
    with pytest.raises(SortitionError, match="household"):
        commit_sealed(Problem.build(people, both, 6), SOURCE, 50, households=households)
