"""Counting ballots: single choice, approval and instant-runoff (ranked) polls.

Pure data in, data out: the bot words the results in each member's language.
Options are the indices ``0 .. options - 1`` in the order the poll lists them.
Ballots are checked strictly here (an index out of range, an option ranked or
approved twice, a non-integer): any of these raises ``ValueError``, because the
bot validates what members send long before it counts.

Single choice and approval
    Each ballot adds one to each option it names. The winners are every option
    with the highest count (several on a tie); nobody wins if no option has a
    vote.

Instant-runoff voting (``count_ranked``)
    Each round counts every ballot for its highest-ranked option that is still
    in the count. A ballot whose ranked options have all been eliminated is
    *exhausted* and no longer counts (an empty ballot is exhausted from the
    first round). An option with more than half of the ballots still counting
    in that round wins. Otherwise one option is eliminated and its ballots move
    on to their next choice. With no ballot counting at all, nobody wins.

    Which option is eliminated -- the tie-break, in the order applied:

    1. the option with the fewest votes this round ("fewest votes");
    2. if several are tied for fewest, the one of them with fewer votes in the
       previous round; if still tied, the round before that, and so on back to
       the first round, whose counts are the first preferences ("tie broken by
       earlier round");
    3. if they are tied in every round so far, the one listed later in the
       poll (the highest index) ("tie broken by option order").

    The same rule eliminates one of the last options when all of them are tied
    (for example two left with equal votes), so a count always ends with a
    single winner once any ballot ranks anything. Every round is kept, so the
    bot can show members how the count went.

Decision rules (``decide``)
    A one-choice poll (or a proposal) may carry a *quorum* and a *threshold*.

    * The quorum is a share of the roll that must cast a ballot: with a roll of
      ``r`` and a quorum ``q``, at least ``ceil(q * r)`` ballots. Every ballot
      counts toward it, abstentions included.
    * The threshold is the share of the votes counted that the motion needs:
      *majority* is more than half; any other share (two thirds, 60%) is at
      least that share. Abstentions are not counted: they neither support nor
      oppose.
    * The motion is the option with the most votes counted (a proposal's motion
      is always its Agree). A tie for the most votes carries nothing.

    The outcome is *carried*, *quorum not met* (checked first) or *threshold
    missed*; a decision keeps the numbers that say why.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from fractions import Fraction

__all__ = [
    "MAJORITY",
    "Decision",
    "Elimination",
    "Outcome",
    "RankedResult",
    "Round",
    "Tally",
    "Threshold",
    "count_approval",
    "count_ranked",
    "count_single",
    "decide",
    "quorum_needed",
    "read_share",
    "read_threshold",
    "share_text",
]


@dataclass(frozen=True)
class Tally:
    """The count of a single-choice or approval poll."""

    counts: list[int]
    """Votes per option, indexed like the poll's options."""
    total_ballots: int
    winners: list[int]
    """The options with the most votes, in option order; empty if no option has a vote."""


class Elimination(StrEnum):
    """Why an option left an instant-runoff count."""

    FEWEST_VOTES = "fewest votes"
    EARLIER_ROUND = "tie broken by earlier round"
    OPTION_ORDER = "tie broken by option order"


@dataclass(frozen=True)
class Round:
    """One round of an instant-runoff count."""

    number: int
    """1 for the first round (the first preferences)."""
    votes: Mapping[int, int]
    """Votes for each option still in the count, in option order."""
    counting: int
    """Ballots that count this round (all ballots minus the exhausted ones)."""
    exhausted: int
    """Ballots that no longer count (all their options eliminated, or empty), so far."""
    eliminated: int | None = None
    """The option eliminated at the end of this round; None in the last round."""
    reason: Elimination | None = None
    tied: tuple[int, ...] = ()
    """When several options had the fewest votes: all of them, in option order."""
    decided_by_round: int | None = None
    """With ``Elimination.EARLIER_ROUND``: the number of the round that separated them."""


@dataclass(frozen=True)
class RankedResult:
    """The whole instant-runoff count."""

    options: int
    total_ballots: int
    rounds: list[Round]
    winner: int | None
    """None only when no ballot ranks anything (no ballots, or all empty)."""

    @property
    def exhausted(self) -> list[int]:
        """Exhausted ballots, per round."""
        return [r.exhausted for r in self.rounds]

    @property
    def eliminated(self) -> list[int]:
        """The options in the order they were eliminated."""
        return [r.eliminated for r in self.rounds if r.eliminated is not None]


def _check_options(options: int) -> None:
    if isinstance(options, bool) or not isinstance(options, int) or options < 1:
        raise ValueError(f"a poll needs at least one option, not {options!r}")


def _check_index(options: int, index: object) -> int:
    if isinstance(index, bool) or not isinstance(index, int):
        raise ValueError(f"an option is an integer index, not {index!r}")
    if not 0 <= index < options:
        raise ValueError(f"option {index} is not one of 0..{options - 1}")
    return index


def _check_choices(options: int, ballot: object) -> tuple[int, ...]:
    if isinstance(ballot, str | bytes) or not isinstance(ballot, Iterable):
        raise ValueError(f"a ballot is a collection of option indices, not {ballot!r}")
    choices = tuple(_check_index(options, index) for index in ballot)
    if len(set(choices)) != len(choices):
        raise ValueError(f"a ballot names an option twice: {choices!r}")
    return choices


def _tally(counts: list[int], total: int) -> Tally:
    top = max(counts)
    winners = [i for i, n in enumerate(counts) if n == top] if top > 0 else []
    return Tally(counts=counts, total_ballots=total, winners=winners)


def count_single(options: int, ballots: Iterable[int]) -> Tally:
    """One option per ballot."""
    _check_options(options)
    counts = [0] * options
    total = 0
    for ballot in ballots:
        counts[_check_index(options, ballot)] += 1
        total += 1
    return _tally(counts, total)


def count_approval(options: int, ballots: Iterable[frozenset[int] | Sequence[int]]) -> Tally:
    """Any number of options per ballot (none at all is a valid, blank ballot)."""
    _check_options(options)
    counts = [0] * options
    total = 0
    for ballot in ballots:
        for index in _check_choices(options, ballot):
            counts[index] += 1
        total += 1
    return _tally(counts, total)


def _to_eliminate(
    votes: Mapping[int, int], history: Sequence[Round]
) -> tuple[int, Elimination, tuple[int, ...], int | None]:
    """Apply the tie-break of the module docstring. ``history`` holds the earlier rounds."""
    fewest = min(votes.values())
    tied = tuple(option for option, n in votes.items() if n == fewest)
    if len(tied) == 1:
        return tied[0], Elimination.FEWEST_VOTES, (), None
    pool = tied
    for earlier in reversed(history):
        least = min(earlier.votes[option] for option in pool)
        pool = tuple(option for option in pool if earlier.votes[option] == least)
        if len(pool) == 1:
            return pool[0], Elimination.EARLIER_ROUND, tied, earlier.number
    return max(pool), Elimination.OPTION_ORDER, tied, None


def count_ranked(options: int, ballots: Iterable[Sequence[int]]) -> RankedResult:
    """Instant-runoff voting; each ballot lists options from most to least preferred."""
    _check_options(options)
    # Identical ballots are counted together: a poll has far fewer kinds of ballot than voters.
    kinds = Counter(_check_choices(options, ballot) for ballot in ballots)
    total = sum(kinds.values())
    continuing = set(range(options))
    rounds: list[Round] = []
    while True:
        votes = dict.fromkeys(sorted(continuing), 0)
        exhausted = 0
        for ranking, number in kinds.items():
            choice = next((option for option in ranking if option in continuing), None)
            if choice is None:
                exhausted += number
            else:
                votes[choice] += number
        counting = total - exhausted
        this = Round(len(rounds) + 1, votes, counting, exhausted)
        leader = max(votes, key=votes.__getitem__)
        if counting == 0 or 2 * votes[leader] > counting:
            rounds.append(this)
            return RankedResult(options, total, rounds, leader if counting else None)
        option, reason, tied, decided_by = _to_eliminate(votes, rounds)
        rounds.append(
            Round(this.number, votes, counting, exhausted, option, reason, tied, decided_by)
        )
        continuing.remove(option)


# --- Decision rules ---------------------------------------------------------------


@dataclass(frozen=True)
class Threshold:
    """The share of the counted votes a motion needs: more than ``share`` when
    ``strict`` (a simple majority), else at least ``share``."""

    share: Fraction
    strict: bool = False

    def needed(self, counted: int) -> int:
        """The fewest votes that meet the threshold out of ``counted``."""
        exact = self.share * counted
        floor = exact.numerator // exact.denominator
        if self.strict:
            return floor + 1
        return floor if floor == exact else floor + 1

    def met(self, support: int, counted: int) -> bool:
        return counted > 0 and support >= self.needed(counted)

    @property
    def text(self) -> str:
        """As stored: ``majority`` or the share (``2/3``)."""
        return "majority" if self == MAJORITY else share_text(self.share)


MAJORITY = Threshold(Fraction(1, 2), strict=True)


def share_text(share: Fraction) -> str:
    return f"{share.numerator}/{share.denominator}"


def read_share(text: str) -> Fraction | None:
    """A share people type: ``50%``, ``33.3%``, ``2/3``; above nothing and at most
    all (None for anything else)."""
    word = text.strip().replace(" ", "")
    try:
        if word.endswith("%"):
            number = word[:-1]
            if not number or len(number) > 6 or not all(c.isdigit() or c == "." for c in number):
                return None
            share = Fraction(number) / 100
        elif "/" in word:
            top, _, bottom = word.partition("/")
            if not (top.isascii() and top.isdigit() and bottom.isascii() and bottom.isdigit()):
                return None
            if len(top) > 3 or len(bottom) > 3:
                return None
            share = Fraction(int(top), int(bottom))
        else:
            return None
    except (ValueError, ZeroDivisionError):
        return None
    return share if 0 < share <= 1 else None


def read_threshold(text: str) -> Threshold | None:
    """``majority`` (more than half), or a share of at least a half (``2/3``,
    ``60%``): below half, two options could both carry."""
    word = text.strip().lower()
    if word in ("majority", "simple", "half"):
        return MAJORITY
    share = read_share(word)
    if share is None or share < Fraction(1, 2):
        return None
    return Threshold(share)


def quorum_needed(quorum: Fraction | None, roll: int) -> int:
    """Ballots the quorum asks of a roll of ``roll``: ``ceil(quorum * roll)``."""
    if quorum is None:
        return 0
    exact = quorum * roll
    return -(-exact.numerator // exact.denominator)


class Outcome(StrEnum):
    CARRIED = "carried"
    NO_QUORUM = "quorum not met"
    THRESHOLD_MISSED = "threshold missed"


@dataclass(frozen=True)
class Decision:
    outcome: Outcome
    motion: int | None
    """The option put to the threshold (the leader; a proposal's Agree); None on a tie."""
    ballots: int
    """Every ballot, abstentions included: what counts toward the quorum."""
    quorum_needed: int
    counted: int
    """The ballots counted for the threshold: all but the abstentions."""
    support: int
    """Votes for the motion."""
    needed: int
    """Votes the motion needed to meet the threshold out of those counted."""

    @property
    def carried(self) -> bool:
        return self.outcome == Outcome.CARRIED


def decide(
    counts: Sequence[int],
    *,
    roll: int,
    quorum: Fraction | None = None,
    threshold: Threshold = MAJORITY,
    abstain: int | None = None,
    motion: int | None = None,
) -> Decision:
    """Whether a one-choice poll's motion carried (the module docstring's rules).

    ``counts``: votes per option, one ballot one vote; ``abstain``: the index of the
    abstain option, if any; ``motion``: the option that must carry (a proposal's
    Agree), else the option with the most votes."""
    if roll < 0 or any(n < 0 for n in counts):
        raise ValueError("counts and the roll are not negative")
    if abstain is not None:
        _check_index(len(counts), abstain)
    ballots = sum(counts)
    counted = ballots - (counts[abstain] if abstain is not None else 0)
    if motion is None:
        voting = {i: n for i, n in enumerate(counts) if i != abstain}
        top = max(voting.values(), default=0)
        leaders = [i for i, n in voting.items() if n == top]
        motion = leaders[0] if len(leaders) == 1 and top > 0 else None
    else:
        _check_index(len(counts), motion)
    support = counts[motion] if motion is not None else 0
    need_ballots = quorum_needed(quorum, roll)
    need_votes = threshold.needed(counted)
    if ballots < need_ballots:
        outcome = Outcome.NO_QUORUM
    elif motion is not None and threshold.met(support, counted):
        outcome = Outcome.CARRIED
    else:
        outcome = Outcome.THRESHOLD_MISSED
    return Decision(outcome, motion, ballots, need_ballots, counted, support, need_votes)
