"""Polls' rules, as plain functions over plain data: the limits, which choices a
poll's kind accepts, how a choice travels in a button (a mask, a ranking), and
the count (the result as plain data, stored at close), and the decision rules a
one-choice poll or a proposal may carry (quorum, threshold, abstain)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from fractions import Fraction
from typing import Any

from bot.lib.voting import (
    MAJORITY,
    Threshold,
    count_approval,
    count_ranked,
    count_single,
    decide,
    read_share,
    read_threshold,
)
from storage.models import Poll
from storage.vocabulary import MULTI, PROPOSAL, RANKED, SINGLE, TIMES

MAX_OPTIONS = 20
RANK_DIGITS = "0123456789ABCDEFGHIJ"  # option i is RANK_DIGITS[i] in a ranking
REMIND_BEFORE = dt.timedelta(hours=24)
DEFAULT_OPEN_FOR = dt.timedelta(days=7)
MAX_REASON = 200  # a proposal vote's reason: one line
REASON_QUESTION = "pollreason"  # the prompt that waits for a proposal vote's reason

# A proposal's options, stored as written (texts.py words them for the reader).
PROPOSAL_OPTIONS = ("Agree", "Abstain", "Disagree", "Block")
AGREE, PROPOSAL_ABSTAIN, DISAGREE, BLOCK = range(4)
ABSTAIN_OPTION = "Abstain"  # the option --abstain adds, last
# Kinds where a ballot names one option (and so the decision rules apply).
ONE_CHOICE = (SINGLE, PROPOSAL)


def abstain_index(poll: Poll) -> int | None:
    """The option that abstains: a proposal's Abstain, a --abstain poll's last."""
    if poll.kind == PROPOSAL:
        return PROPOSAL_ABSTAIN
    if poll.abstain:
        return len(poll.options) - 1
    return None


def has_rules(poll: Poll) -> bool:
    """Does the result say whether the motion carried? (A proposal always does.)"""
    return poll.kind == PROPOSAL or bool(poll.quorum or poll.threshold)


def threshold_of(poll: Poll) -> Threshold:
    found = read_threshold(poll.threshold) if poll.threshold else None
    return found or MAJORITY


def quorum_of(poll: Poll) -> Fraction | None:
    return read_share(poll.quorum) if poll.quorum else None


def clean_reason(text: str) -> str | None:
    """A reason as kept: one line, spaces tidied; None if empty or too long."""
    line = " ".join(text.split())
    return line if 0 < len(line) <= MAX_REASON else None


def check_choice(poll: Poll, choice: Sequence[int]) -> list[int] | None:
    """The choice if valid for this poll's kind, else None."""
    n = len(poll.options)
    picked = list(choice)
    if any(not 0 <= i < n for i in picked) or len(set(picked)) != len(picked):
        return None
    if poll.kind in ONE_CHOICE:
        return picked if len(picked) == 1 else None
    if poll.kind in (MULTI, TIMES):
        return sorted(picked) if picked else None
    return picked if picked else None  # ranked: in order of preference


def decode_mask(text: str, options: int) -> list[int] | None:
    """Approval choices carried in a button as a bitmask (decimal)."""
    if not (text.isascii() and text.isdigit()) or len(text) > 7:
        return None
    mask = int(text)
    if mask >= 1 << options:
        return None
    return [i for i in range(options) if mask >> i & 1]


def encode_mask(choice: Sequence[int]) -> str:
    return str(sum(1 << i for i in set(choice)))


def decode_ranking(text: str, options: int) -> list[int] | None:
    """A ranking carried in a button: one character an option, best first."""
    if len(text) > options or any(ch not in RANK_DIGITS[:options] for ch in text):
        return None
    ranking = [RANK_DIGITS.index(ch) for ch in text]
    return ranking if len(set(ranking)) == len(ranking) else None


def encode_ranking(ranking: Sequence[int]) -> str:
    return "".join(RANK_DIGITS[i] for i in ranking)


def count(
    poll: Poll,
    ballots: list[list[int]],
    *,
    roll: int = 0,
    reasons: Sequence[tuple[int, str]] = (),
) -> dict[str, Any]:
    """The result as plain data (stored at close). ``roll``: the number on the
    roll (for a quorum); ``reasons``: an open proposal's (option, reason), kept
    with the result without a name (a secret one has none)."""
    n = len(poll.options)
    if poll.kind in ONE_CHOICE:
        tally = count_single(n, [b[0] for b in ballots])
        plain: dict[str, Any] = {
            "counts": tally.counts,
            "ballots": tally.total_ballots,
            "winners": tally.winners,
        }
        if has_rules(poll):
            plain["decision"] = decision(poll, tally.counts, roll)
        if poll.kind == PROPOSAL and not poll.secret:
            plain["reasons"] = [[int(i), str(r)] for i, r in sorted(reasons)]
        return plain
    if poll.kind in (MULTI, TIMES):
        tally = count_approval(n, ballots)
        return {"counts": tally.counts, "ballots": tally.total_ballots, "winners": tally.winners}
    result = count_ranked(n, ballots)
    rounds = [
        {
            "votes": {str(k): v for k, v in r.votes.items()},
            "exhausted": r.exhausted,
            "eliminated": r.eliminated,
            "reason": str(r.reason) if r.reason else None,
        }
        for r in result.rounds
    ]
    first = [0] * n
    if result.rounds:
        for k, v in result.rounds[0].votes.items():
            first[k] = v
    return {
        "counts": first,
        "ballots": result.total_ballots,
        "winners": [result.winner] if result.winner is not None else [],
        "rounds": rounds,
    }


def decision(poll: Poll, counts: Sequence[int], roll: int) -> dict[str, Any]:
    """Whether the motion carried (:func:`bot.lib.voting.decide`), as plain data."""
    quorum = quorum_of(poll)
    threshold = threshold_of(poll)
    found = decide(
        counts,
        roll=roll,
        quorum=quorum,
        threshold=threshold,
        abstain=abstain_index(poll),
        motion=AGREE if poll.kind == PROPOSAL else None,
    )
    return {
        "outcome": str(found.outcome),
        "motion": found.motion,
        "roll": roll,
        "ballots": found.ballots,
        "quorum": poll.quorum,
        "quorum_needed": found.quorum_needed,
        "threshold": threshold.text,
        "counted": found.counted,
        "support": found.support,
        "needed": found.needed,
    }


def threshold_line(result: dict[str, Any]) -> int | None:
    """Where a chart draws the threshold: the votes the motion needed (None
    without decision rules, or with nothing counted)."""
    found = result.get("decision")
    if not found or not found.get("counted"):
        return None
    return int(found["needed"])


def chart_series(poll: Poll, result: dict[str, Any]) -> list[tuple[int, list[int]]]:
    """The bars a result chart shows: (round number, counts by option). A ranked
    poll shows every round, so the chart ends where the text does (an option out
    of the count has no bar); other polls have one round, their counts."""
    rounds = result.get("rounds") or []
    if poll.kind != RANKED or not rounds:
        return [(1, list(result["counts"]))]
    n = len(poll.options)
    return [
        (number, [int(r["votes"].get(str(i), 0)) for i in range(n)])
        for number, r in enumerate(rounds, start=1)
    ]
