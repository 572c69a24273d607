"""Polls' rules, as plain functions over plain data: the limits, which choices a
poll's kind accepts, how a choice travels in a button (a mask, a ranking), and
the count (the result as plain data, stored at close)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from bot.lib.voting import count_approval, count_ranked, count_single
from storage.models import Poll
from storage.vocabulary import MULTI, RANKED, SINGLE, TIMES

MAX_OPTIONS = 20
RANK_DIGITS = "0123456789ABCDEFGHIJ"  # option i is RANK_DIGITS[i] in a ranking
REMIND_BEFORE = dt.timedelta(hours=24)
DEFAULT_OPEN_FOR = dt.timedelta(days=7)


def check_choice(poll: Poll, choice: Sequence[int]) -> list[int] | None:
    """The choice if valid for this poll's kind, else None."""
    n = len(poll.options)
    picked = list(choice)
    if any(not 0 <= i < n for i in picked) or len(set(picked)) != len(picked):
        return None
    if poll.kind == SINGLE:
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


def count(poll: Poll, ballots: list[list[int]]) -> dict[str, Any]:
    """The result as plain data (stored at close)."""
    n = len(poll.options)
    if poll.kind == SINGLE:
        tally = count_single(n, [b[0] for b in ballots])
        return {"counts": tally.counts, "ballots": tally.total_ballots, "winners": tally.winners}
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
