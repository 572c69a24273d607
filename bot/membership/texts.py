"""How membership reads: the place a role is held, in the reader's language."""

from __future__ import annotations

from bot.kernel.i18n import Translator
from storage.vocabulary import SCOPE_BRANCH, SCOPE_REGION


def scope_phrase(t: Translator, scope: str, name: str) -> str:
    """ "the Frome branch", "the South West region", "the national party", in ``t``'s language."""
    if scope == SCOPE_BRANCH:
        return t("the {branch} branch", branch=name)
    if scope == SCOPE_REGION:
        return t("the {region} region", region=name)
    return t("the national party")
