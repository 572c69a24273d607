"""Polls' texts: an option as people read it, the result (text, chart, CSV),
the buttons that go with them."""

from __future__ import annotations

import datetime as dt
import io
from fractions import Fraction
from typing import Any

from bot.kernel.actions import Action
from bot.kernel.i18n import N_, Translator, format_local, translator
from bot.kernel.messages import Button
from bot.lib import spreadsheet
from bot.lib.voting import Outcome, read_share
from bot.lib.when import read_wall_text
from bot.polls.draft import Draft
from bot.polls.rules import BLOCK, ONE_CHOICE, abstain_index, chart_series, threshold_line
from storage.models import Poll
from storage.vocabulary import (
    MULTI,
    PROPOSAL,
    RANKED,
    SCOPE_BRANCH,
    SCOPE_NATIONAL,
    SINGLE,
    TIMES,
)

# Why an option left a ranked count (bot.lib.voting.Elimination), for translators.
REASONS = {
    "fewest votes": N_("fewest votes"),
    "tie broken by earlier round": N_("tie broken by earlier round"),
    "tie broken by option order": N_("tie broken by option order"),
}


# A proposal's choices (bot.polls.rules.PROPOSAL_OPTIONS), and --abstain's.
PROPOSAL_LABELS = (N_("Agree"), N_("Abstain"), N_("Disagree"), N_("Block"))
ABSTAIN_LABEL = N_("Abstain")


def choice_label(t: Translator, kind: str, abstain: bool, options: list[str], index: int) -> str:
    """A proposal's choice or the abstain option in the reader's words; any
    other option as written."""
    if kind == PROPOSAL and index < len(PROPOSAL_LABELS):
        return t(PROPOSAL_LABELS[index])
    if abstain and index == len(options) - 1:
        return t(ABSTAIN_LABEL)
    return options[index]


def preview_text(
    t: Translator,
    draft: Draft,
    options: list[str],
    *,
    voters: int,
    scope: str,
    closes: dt.datetime,
    tz: str,
) -> str:
    """What an organiser reads before posting a poll: the question, the options, how
    it is voted, who votes and when it closes, and its decision rules."""
    abstain = "--abstain" in draft.flags
    who = (
        t("members with current dues")
        if "--everyone" not in draft.flags
        else t("members and supporters")
    )
    kind = {
        SINGLE: t("one choice"),
        MULTI: t("any number of choices"),
        RANKED: t("ranked choices, counted by instant runoff"),
        TIMES: t("the times people can make"),
        PROPOSAL: t("a proposal: agree, abstain, disagree or block"),
    }[draft.kind]
    rules = rules_text(t, draft.kind, draft.quorum, draft.threshold)
    lines = [
        t("Preview of your poll:"),
        draft.question,
        *(
            f"{i + 1}. {choice_label(t, draft.kind, abstain, options, i)}"
            for i in range(len(options))
        ),
        t(
            "Voting: {kind}; {secrecy}.",
            kind=kind,
            secrecy=t("secret ballot") if "--secret" in draft.flags else t("open ballot"),
        ),
        t("Who votes: the {n} {who} of {scope}, as of now.", n=voters, who=who, scope=scope),
        t("Closes: {when}.", when=format_local(closes, "day_time_year_zone", t, tz=tz)),
        *([rules] if rules else []),
    ]
    return "\n".join(lines)


def option_label(poll: Poll, index: int, locale: str) -> str:
    """Option ``index`` as a person reading ``locale`` reads it: the time of a poll
    about times in words ("Fri 04 Dec 19:00"), a proposal's choice or an
    abstention in their language, any other option as written."""
    text = poll.options[index]
    if poll.kind == TIMES:
        try:
            local = read_wall_text(text)
        except ValueError:
            return text
        return format_local(local, "day_time", locale)
    if poll.kind == PROPOSAL or poll.abstain:
        return choice_label(translator(locale), poll.kind, poll.abstain, poll.options, index)
    return text


def share_words(t: Translator, stored: str) -> str:
    """A quorum's or threshold's share as people read it: two thirds, 60%."""
    if stored == "majority":
        return t("a simple majority (more than half)")
    share = read_share(stored)
    if share is None:
        return stored
    if share == Fraction(2, 3):
        return t("two thirds")
    if share == Fraction(3, 4):
        return t("three quarters")
    percent = share * 100
    if percent.denominator == 1:
        return f"{percent.numerator}%"
    return f"{share.numerator}/{share.denominator}"


def rules_text(t: Translator, kind: str, quorum: str | None, threshold: str | None) -> str:
    """What a one-choice poll or proposal needs to carry ("" without rules)."""
    if kind != PROPOSAL and not quorum and not threshold:
        return ""
    if threshold in (None, "majority"):
        text = t("To carry: more than half of the votes cast, abstentions aside.")
    else:
        text = t(
            "To carry: at least {share} of the votes cast, abstentions aside.",
            share=share_words(t, threshold),
        )
    if quorum:
        text += " " + t("Quorum: {share} of the roll must vote.", share=share_words(t, quorum))
    return text


def decision_lines(t: Translator, poll: Poll, result: dict[str, Any]) -> list[str]:
    """Whether the motion carried and why not, the abstentions and blocks, and
    (an open proposal's) the reasons given."""
    found = result["decision"]
    counts: list[int] = result["counts"]
    motion = found["motion"]
    option = option_label(poll, int(motion), t.locale) if motion is not None else ""
    numbers = {
        "support": found["support"],
        "counted": found["counted"],
        "needed": found["needed"],
        "threshold": share_words(t, found["threshold"]),
    }
    if found["outcome"] == Outcome.CARRIED:
        line = (
            t(
                "The proposal carried: {support} of the {counted} votes cast agree "
                "({needed} needed: {threshold}).",
                **numbers,
            )
            if poll.kind == PROPOSAL
            else t(
                "Carried: {option}, with {support} of the {counted} votes cast "
                "({needed} needed: {threshold}).",
                option=option,
                **numbers,
            )
        )
    elif found["outcome"] == Outcome.NO_QUORUM:
        line = t(
            "Not carried: the quorum was not met ({ballots} of {roll} on the roll voted; "
            "{needed} needed).",
            ballots=found["ballots"],
            roll=found["roll"],
            needed=found["quorum_needed"],
        )
    elif motion is None:
        line = t("Not carried: no option led (a tie, or no votes).")
    elif poll.kind == PROPOSAL:
        line = t(
            "Not carried: the threshold was missed ({support} of the {counted} votes cast "
            "agree; {needed} needed: {threshold}).",
            **numbers,
        )
    else:
        line = t(
            "Not carried: the threshold was missed ({option} has {support} of the {counted} "
            "votes cast; {needed} needed: {threshold}).",
            option=option,
            **numbers,
        )
    lines = [line]
    abstain = abstain_index(poll)
    if abstain is not None and counts[abstain]:
        lines.append(
            t.plural(
                "{n} abstention counts toward the quorum, not the threshold.",
                "{n} abstentions count toward the quorum, not the threshold.",
                counts[abstain],
            )
        )
    if poll.kind == PROPOSAL and counts[BLOCK]:
        lines.append(t.plural("{n} member blocks it.", "{n} members block it.", counts[BLOCK]))
    reasons = [] if poll.secret else result.get("reasons") or []
    if reasons:
        lines.append(t("Reasons given:"))
        lines += [f"• {option_label(poll, int(i), t.locale)}: {r}" for i, r in reasons]
    return lines


def result_text(t: Translator, poll: Poll, result: dict[str, Any], tz: str) -> str:
    counts: list[int] = result["counts"]
    lines = [t("Results: {question}", question=poll.question)]
    if poll.kind == RANKED:
        lines.append(t("First preferences:"))
    for i, n in enumerate(counts):
        lines.append(f"• {option_label(poll, i, t.locale)}: {n}")
    winners = [option_label(poll, i, t.locale) for i in result["winners"]]
    if poll.kind == RANKED and result.get("rounds"):
        for number, r in enumerate(result["rounds"], start=1):
            if r["eliminated"] is not None:
                lines.append(
                    t(
                        "Round {n}: {option} eliminated ({reason}).",
                        n=number,
                        option=option_label(poll, int(r["eliminated"]), t.locale),
                        reason=t(REASONS.get(r["reason"] or "", N_("fewest votes"))),
                    )
                )
    if result.get("decision"):
        if not result["ballots"]:
            lines.append(t("No votes were cast."))
        lines += decision_lines(t, poll, result)
    elif not winners:
        lines.append(t("No votes were cast."))
    elif len(winners) == 1:
        lines.append(t("Decided: {option}.", option=winners[0]))
    else:
        lines.append(t("A tie between: {options}.", options=", ".join(winners)))
    lines.append(t("Ballots: {n}.", n=result["ballots"]))
    return "\n".join(lines)


def chart(poll: Poll, result: dict[str, Any], locale: str, title: str) -> bytes:
    """A bar chart (PNG) of the counts; for a ranked poll, one bar per round."""
    from matplotlib.figure import Figure

    t = translator(locale)
    labels = [option_label(poll, i, locale)[:40] for i in range(len(poll.options))]
    series = chart_series(poll, result)
    figure = Figure(figsize=(7, 1.2 + 0.45 * len(labels) * max(1, len(series) * 0.6)))
    axes = figure.subplots()
    height = 0.8 / len(series)
    positions = range(len(labels))[::-1]
    highest = 1
    for k, (number, counts) in enumerate(series):
        offsets = [p + 0.4 - height * (k + 0.5) for p in positions]
        bars = axes.barh(
            offsets, counts, height=height, label=f"{number}" if len(series) > 1 else None
        )
        axes.bar_label(bars, padding=3)
        highest = max(highest, *counts)
    line = threshold_line(result)
    if line is not None:
        axes.axvline(line, color="black", linestyle="--", label=t("needed to carry"))
        highest = max(highest, line)
        axes.legend(loc="lower right")
    axes.set_yticks(list(positions), labels)
    if len(series) > 1:
        axes.legend(title=t("round"), loc="lower right")
    axes.set_title(title[:80])
    axes.set_xlim(0, highest * 1.15)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100)
    return buffer.getvalue()


def export_csv(
    t: Translator, poll: Poll, result: dict[str, Any], turnout_: tuple[int, int, int]
) -> bytes:
    """Totals (and, for a ranked poll, every round) as CSV; no names, no formulas.
    The labels in the reader's language; the options as written: a poll's times as
    ``2026-12-04 19:00``, which sorts."""
    out = io.StringIO()
    writer = spreadsheet.writer(out)
    writer.writerow([t("poll"), poll.id, poll.question])
    writer.writerow(
        [t("on the roll"), turnout_[0], t("voted"), turnout_[1], t("ballots"), turnout_[2]]
    )
    writer.writerow([t("option"), t("votes")])
    for i, n in enumerate(result["counts"]):
        writer.writerow([poll.options[i], n])
    found = result.get("decision")
    if found:
        outcome = {
            Outcome.CARRIED: t("carried"),
            Outcome.NO_QUORUM: t("quorum not met"),
            Outcome.THRESHOLD_MISSED: t("threshold missed"),
        }.get(found["outcome"], found["outcome"])
        writer.writerow([])
        threshold = share_words(t, found["threshold"])
        writer.writerow([t("outcome"), outcome, t("threshold"), threshold])
        writer.writerow([t("quorum"), found["quorum"] or "", t("needed"), found["quorum_needed"]])
        writer.writerow([t("counted"), found["counted"], t("support"), found["support"]])
    for number, r in enumerate(result.get("rounds") or [], start=1):
        writer.writerow([])
        writer.writerow([t("round {n}", n=number), t("votes"), t("exhausted"), r["exhausted"]])
        for k, v in r["votes"].items():
            writer.writerow([poll.options[int(k)], v])
    return out.getvalue().encode("utf-8")


def meeting_buttons(
    t: Translator, poll: Poll, result: dict[str, Any]
) -> tuple[tuple[Button, ...], ...]:
    """For a branch's meeting-time poll with a winner: schedule the meeting."""
    if poll.kind != TIMES or poll.scope != SCOPE_BRANCH or not result.get("winners"):
        return ()
    return (
        (
            Button(t("Schedule an online call"), Action.POLL_MEET, f"{poll.id}.online"),
            Button(t("Schedule a meeting"), Action.POLL_MEET, f"{poll.id}.in_person"),
        ),
    )


def ballot_button(t: Translator, poll: Poll) -> tuple[tuple[Button, ...], ...]:
    return ((Button(t("Vote"), Action.POLL_OPEN, str(poll.id)),),)


def scope_label(t: Translator, poll_scope: str, name: str) -> str:
    if poll_scope == SCOPE_NATIONAL:
        return t("the whole party")
    return name


def poll_text(t: Translator, poll: Poll, tz: str) -> str:
    lines = [t("Poll: {question}", question=poll.question)]
    lines += [f"{i + 1}. {option_label(poll, i, t.locale)}" for i in range(len(poll.options))]
    how = {
        SINGLE: t("Choose one."),
        MULTI: t("Choose all you support."),
        RANKED: t("Rank the options in order of preference."),
        TIMES: t("Choose every time you can make."),
        PROPOSAL: t("Agree, abstain, disagree or block."),
    }[poll.kind]
    lines.append(how)
    rules = rules_text(t, poll.kind, poll.quorum, poll.threshold)
    if rules:
        lines.append(rules)
    if poll.kind == PROPOSAL and not poll.secret:
        lines.append(t("After voting you may give a one-line reason, shown with the result."))
    if poll.secret:
        lines.append(
            t("Secret ballot: nobody can see how you voted, and a vote cannot be changed.")
        )
    if poll.closes_at is not None:
        lines.append(
            t(
                "Closes {when}.",
                when=format_local(poll.closes_at, "day_time_year_zone", t, tz=tz),
            )
        )
    return "\n".join(lines)


def poll_buttons(t: Translator, poll: Poll, tz: str) -> tuple[tuple[Button, ...], ...]:
    if poll.kind in ONE_CHOICE and not poll.secret:
        rows = [
            (Button(option_label(poll, i, t.locale)[:60], Action.POLL_VOTE, f"{poll.id}.{i}"),)
            for i in range(len(poll.options))
        ]
        if poll.live:
            rows.append((Button(t("Results so far"), Action.POLL_RESULTS, str(poll.id)),))
        return tuple(rows)
    return ((Button(t("Vote"), Action.POLL_OPEN, str(poll.id)),),)
