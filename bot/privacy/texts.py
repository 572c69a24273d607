"""How privacy reads: the privacy notice."""

from __future__ import annotations

from bot.kernel.i18n import Translator


def privacy_notice(t: Translator, party: str) -> str:
    return t(
        "Privacy: {party} keeps only what it needs to organise with you: your name and "
        "account id on this platform, your branch, your membership and dues dates, any "
        "roles you take on, and when you agreed to this notice. Party membership reveals "
        "political opinion, so this is special-category data: other members never see it; "
        "only the organisers and treasurers of your branch see what their role needs. It is "
        "never sold or shared. /mydata shows everything held about you and /forget deletes "
        "it, at any time. If you do not agree, nothing is stored.",
        party=party,
    )
