"""The decision rules of bot.lib.voting, directly: reading shares and
thresholds, the quorum, the threshold, abstentions."""

from __future__ import annotations

from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.lib.voting import (
    MAJORITY,
    Outcome,
    Threshold,
    decide,
    quorum_needed,
    read_share,
    read_threshold,
)

TWO_THIRDS = Threshold(Fraction(2, 3))


@pytest.mark.parametrize(
    ("text", "share"),
    [
        ("50%", Fraction(1, 2)),
        ("2/3", Fraction(2, 3)),
        ("33.3%", Fraction(333, 1000)),
        ("100%", Fraction(1)),
        (" 1 / 4 ", Fraction(1, 4)),
    ],
)
def test_shares_people_type(text: str, share: Fraction) -> None:
    assert read_share(text) == share


@pytest.mark.parametrize(
    "text", ["0%", "150%", "5/4", "0/3", "3/0", "%", "half-ish", "", "-5%", "1e3%"]
)
def test_shares_that_are_no_share(text: str) -> None:
    assert read_share(text) is None


def test_thresholds() -> None:
    assert read_threshold("Majority") is MAJORITY
    assert read_threshold("2/3") == TWO_THIRDS
    assert read_threshold("60%") == Threshold(Fraction(3, 5))
    assert read_threshold("40%") is None  # below half: two options could carry
    assert MAJORITY.text == "majority" and TWO_THIRDS.text == "2/3"


def test_majority_is_more_than_half_and_a_share_is_at_least_it() -> None:
    assert MAJORITY.needed(4) == 3 and MAJORITY.needed(3) == 2 and MAJORITY.needed(0) == 1
    assert TWO_THIRDS.needed(3) == 2 and TWO_THIRDS.needed(4) == 3 and TWO_THIRDS.needed(5) == 4
    assert Threshold(Fraction(1, 2)).needed(4) == 2


def test_quorum_is_rounded_up() -> None:
    assert quorum_needed(Fraction(1, 2), 5) == 3
    assert quorum_needed(Fraction(1, 2), 4) == 2
    assert quorum_needed(None, 100) == 0


def test_a_motion_carries_misses_its_quorum_or_its_threshold() -> None:
    assert decide([2, 1], roll=4, quorum=Fraction(1, 2)).outcome == Outcome.CARRIED
    assert decide([2, 0], roll=4, quorum=Fraction(3, 4)).outcome == Outcome.NO_QUORUM
    missed = decide([3, 2], roll=5, threshold=TWO_THIRDS)
    assert missed.outcome == Outcome.THRESHOLD_MISSED and (missed.support, missed.needed) == (3, 4)
    assert decide([2, 2], roll=4).motion is None  # a tie carries nothing
    assert decide([0, 0], roll=4).outcome == Outcome.THRESHOLD_MISSED


def test_abstaining_counts_toward_quorum_not_threshold() -> None:
    found = decide([1, 0, 2], roll=4, quorum=Fraction(3, 4), abstain=2)
    assert found.outcome == Outcome.CARRIED
    assert (found.ballots, found.counted, found.support) == (3, 1, 1)


def test_a_proposal_is_decided_on_its_agree() -> None:
    # Agree, Abstain, Disagree, Block: Disagree leads, but the motion is Agree.
    found = decide([1, 0, 2, 0], roll=3, abstain=1, motion=0)
    assert found.motion == 0 and found.outcome == Outcome.THRESHOLD_MISSED


counts = st.lists(st.integers(0, 40), min_size=2, max_size=6)
thresholds = st.sampled_from(
    [MAJORITY, TWO_THIRDS, Threshold(Fraction(1, 2)), Threshold(Fraction(3, 5))]
)
quorums = st.none() | st.fractions(min_value=Fraction(1, 100), max_value=1)


@given(counts, st.integers(0, 300), quorums, thresholds, st.data())
def test_decide_agrees_with_its_definition(
    votes: list[int], extra: int, quorum: Fraction | None, threshold: Threshold, data: st.DataObject
) -> None:
    abstain = data.draw(st.none() | st.integers(0, len(votes) - 1))
    roll = sum(votes) + extra
    found = decide(votes, roll=roll, quorum=quorum, threshold=threshold, abstain=abstain)
    ballots = sum(votes)
    counted = ballots - (votes[abstain] if abstain is not None else 0)
    assert (found.ballots, found.counted) == (ballots, counted)
    if quorum is not None and ballots < quorum * roll:
        assert found.outcome == Outcome.NO_QUORUM
    elif found.outcome == Outcome.CARRIED:
        assert found.motion is not None and found.motion != abstain
        support = Fraction(votes[found.motion], counted)
        assert support > threshold.share if threshold.strict else support >= threshold.share
        # Carried: no other option has as many votes.
        assert all(
            n < votes[found.motion] for i, n in enumerate(votes) if i not in (found.motion, abstain)
        )
    else:
        assert found.outcome == Outcome.THRESHOLD_MISSED


@given(counts, st.integers(0, 300), thresholds, st.integers(1, 20))
def test_more_abstentions_never_change_the_threshold_only_help_the_quorum(
    votes: list[int], extra: int, threshold: Threshold, more: int
) -> None:
    roll = sum(votes) + extra + more
    before = decide(votes, roll=roll, quorum=Fraction(1, 2), threshold=threshold, abstain=0)
    after = decide(
        [votes[0] + more, *votes[1:]],
        roll=roll,
        quorum=Fraction(1, 2),
        threshold=threshold,
        abstain=0,
    )
    assert (after.counted, after.support, after.motion) == (
        before.counted,
        before.support,
        before.motion,
    )
    if before.outcome != Outcome.NO_QUORUM:
        assert after.outcome == before.outcome
    if before.outcome == Outcome.CARRIED:
        assert after.carried
