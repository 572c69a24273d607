"""Reading /poll's words: the question, the options and the switches
(--multi, --ranked, --times, --secret, --live, --everyone, --closes, --scope,
--branch) into a draft, refusing with a friendly reply what cannot be a poll."""

from __future__ import annotations

import shlex

from bot.kernel.context import Context
from bot.polls.rules import MAX_OPTIONS
from storage.vocabulary import (
    MULTI,
    RANKED,
    SCOPE_BRANCH,
    SCOPE_NATIONAL,
    SCOPE_REGION,
    SINGLE,
    TIMES,
)

MAX_QUESTION = 300
MAX_OPTION = 100
KINDS = {"--multi": MULTI, "--ranked": RANKED, "--times": TIMES}
SWITCHES = {"--secret", "--live", "--everyone"}
VALUED = {"--closes", "--scope", "--branch"}


class Draft:
    def __init__(self) -> None:
        self.question = ""
        self.options: list[str] = []
        self.kind = SINGLE
        self.flags: set[str] = set()
        self.closes = ""
        self.scope = SCOPE_BRANCH
        self.branch = ""


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
                    raise ctx.refuse(ctx.t("Choose one of --multi, --ranked and --times."))
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
    if len(plain) < 3 or not all(plain):
        raise ctx.refuse(
            ctx.t(
                "A poll needs a question and at least two options, each in quotes: "
                '/poll "Question?" "Option A" "Option B"'
            )
        )
    draft.question, draft.options = plain[0], plain[1:]
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
    if "--secret" in draft.flags and "--live" in draft.flags:
        raise ctx.refuse(
            ctx.t("A secret ballot's results stay hidden until it closes, so it cannot be --live.")
        )
    return draft
