"""Reading /poll's words: the question, the options and the switches
(--multi, --ranked, --times, --proposal, --secret, --live, --everyone, --abstain,
--closes, --quorum, --threshold, --scope, --branch) into a draft, refusing with a friendly reply what cannot be a poll."""

from __future__ import annotations

import shlex

from bot.kernel.context import Context
from bot.lib.voting import read_share, read_threshold, share_text
from bot.polls.rules import ABSTAIN_OPTION, MAX_OPTIONS, ONE_CHOICE
from storage.vocabulary import (
    MULTI,
    PROPOSAL,
    RANKED,
    SCOPE_BRANCH,
    SCOPE_NATIONAL,
    SCOPE_REGION,
    SINGLE,
    TIMES,
)

MAX_QUESTION = 300
MAX_OPTION = 100
KINDS = {"--multi": MULTI, "--ranked": RANKED, "--times": TIMES, "--proposal": PROPOSAL}
SWITCHES = {"--secret", "--live", "--everyone", "--abstain"}
VALUED = {"--closes", "--scope", "--branch", "--quorum", "--threshold"}


class Draft:
    def __init__(self) -> None:
        self.question = ""
        self.options: list[str] = []
        self.kind = SINGLE
        self.flags: set[str] = set()
        self.closes = ""
        self.scope = SCOPE_BRANCH
        self.branch = ""
        self.quorum: str | None = None  # a share as stored ("1/2")
        self.threshold: str | None = None  # "majority" or a share ("2/3")


def parse_draft(ctx: Context, text: str) -> Draft:
    cleaned = text.replace("“", '"').replace("”", '"').replace("‘", "'").replace("’", "'")
    try:
        words = shlex.split(cleaned)
    except ValueError:
        raise ctx.refuse(
            ctx.t("A quotation mark is missing. Put the question and each option in quotes.")
        ) from None
    draft = Draft()
    plain: list[str] = []
    i = 0
    while i < len(words):
        word = words[i]
        if word.startswith("--"):
            flag = word.lower()
            if flag in KINDS:
                if draft.kind != SINGLE:
                    raise ctx.refuse(
                        ctx.t("Choose one of --multi, --ranked, --times and --proposal.")
                    )
                draft.kind = KINDS[flag]
            elif flag in SWITCHES:
                draft.flags.add(flag)
            elif flag in VALUED:
                values = []
                while i + 1 < len(words) and not words[i + 1].startswith("--"):
                    i += 1
                    values.append(words[i])
                if not values:
                    raise ctx.refuse(ctx.t("{flag} needs a value.", flag=flag))
                if flag == "--closes":
                    draft.closes = " ".join(values)
                elif flag == "--scope":
                    draft.scope = values[0].lower()
                elif flag == "--quorum":
                    draft.quorum = _quorum(ctx, " ".join(values))
                elif flag == "--threshold":
                    draft.threshold = _threshold(ctx, " ".join(values))
                else:
                    draft.branch = " ".join(values)
            else:
                raise ctx.refuse(
                    ctx.t(
                        "I don't know the option {flag}. Send /help to see the others.",
                        flag=word[:30],
                    )
                )
        else:
            plain.append(word.strip())
        i += 1
    if draft.scope not in (SCOPE_BRANCH, SCOPE_REGION, SCOPE_NATIONAL):
        raise ctx.refuse(ctx.t("--scope is one of branch, region and national."))
    if draft.kind == PROPOSAL:
        if len(plain) != 1 or not plain[0]:
            raise ctx.refuse(
                ctx.t(
                    "A proposal has its own choices (Agree, Abstain, Disagree, Block): "
                    'give only the proposal, in quotes: /poll "We hire the hall" --proposal'
                )
            )
        plain.append("")  # checked below as a question with options (set in preview)
    elif len(plain) < 3 or not all(plain):
        raise ctx.refuse(
            ctx.t(
                "A poll needs a question and at least two options, each in quotes: "
                '/poll "Question?" "Option A" "Option B"'
            )
        )
    draft.question, draft.options = plain[0], [o for o in plain[1:] if o]
    if len(draft.question) > MAX_QUESTION:
        raise ctx.refuse(
            ctx.t("The question is too long (at most {n} characters).", n=MAX_QUESTION)
        )
    if len(draft.options) > MAX_OPTIONS:
        raise ctx.refuse(ctx.t("At most {n} options, please.", n=MAX_OPTIONS))
    if any(len(o) > MAX_OPTION for o in draft.options):
        raise ctx.refuse(ctx.t("Each option can be at most {n} characters.", n=MAX_OPTION))
    if len({o.casefold() for o in draft.options}) != len(draft.options):
        raise ctx.refuse(ctx.t("Two options are the same."))
    if (draft.quorum or draft.threshold) and draft.kind not in ONE_CHOICE:
        raise ctx.refuse(ctx.t("--quorum and --threshold apply to one-choice polls and proposals."))
    if "--abstain" in draft.flags:
        if draft.kind != SINGLE:
            raise ctx.refuse(
                ctx.t("--abstain adds an Abstain choice to a one-choice poll (a proposal has one).")
            )
        if ABSTAIN_OPTION.casefold() in {o.casefold() for o in draft.options}:
            raise ctx.refuse(ctx.t("Two options are the same."))
        if len(draft.options) + 1 > MAX_OPTIONS:
            raise ctx.refuse(ctx.t("At most {n} options, please.", n=MAX_OPTIONS))
    if "--secret" in draft.flags and "--live" in draft.flags:
        raise ctx.refuse(
            ctx.t("A secret ballot's results stay hidden until it closes, so it cannot be --live.")
        )
    return draft


def _quorum(ctx: Context, value: str) -> str:
    share = read_share(value)
    if share is None:
        raise ctx.refuse(
            ctx.t(
                "--quorum is the share of the roll that must vote, such as 50% or 1/3 "
                "(more than 0, at most 100%)."
            )
        )
    return share_text(share)


def _threshold(ctx: Context, value: str) -> str:
    threshold = read_threshold(value)
    if threshold is None:
        raise ctx.refuse(
            ctx.t(
                "--threshold is majority (more than half), 2/3, or a share of at least "
                "half such as 60%."
            )
        )
    return threshold.text
