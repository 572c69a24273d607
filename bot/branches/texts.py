"""How branches read: a status and a role in the reader's language, the next
step on a branch's founding path and what affiliation still needs, and the
organisers' guide at each step."""

from __future__ import annotations

from collections.abc import Callable

from bot.branches.rules import Progress
from bot.kernel.config import Settings
from bot.kernel.i18n import Translator
from storage.models import Branch
from storage.vocabulary import ACTIVE, ADMIN, AFFILIATED, FORMING, ORGANISER, PROPOSED, TREASURER


def status_label(t: Translator, status: str) -> str:
    labels = {
        PROPOSED: t("proposed"),
        FORMING: t("forming"),
        ACTIVE: t("active"),
        AFFILIATED: t("affiliated"),
    }
    return labels.get(status, status)


def role_label(t: Translator, role: str) -> str:
    labels = {
        ORGANISER: t("organiser"),
        TREASURER: t("treasurer"),
        ADMIN: t("admin"),
    }
    return labels.get(role, role)


def next_step(t: Translator, settings: Settings, branch: Branch, at: Progress) -> str:
    """What the organisers do next, and what is missing for it, in plain words."""
    if at.status == PROPOSED:
        needs = []
        if at.interested < settings.forming_threshold:
            needs.append(
                t.plural(
                    "{n} more interested person",
                    "{n} more interested people",
                    settings.forming_threshold - at.interested,
                )
            )
        if not at.organisers:
            needs.append(t("an organiser"))
        return t("Next step: it starts forming with {needs}.", needs=t(" and ").join(needs))
    if at.status == FORMING and branch.first_call_at is None:
        return t(
            "Next step: a first online call. Arrange it with /meeting online <when> <link>; "
            "once it has taken place, record it with /meeting held <id>."
        )
    if at.status == FORMING:
        return t.plural(
            "Next step: a first face-to-face meeting that at least {n} person comes to. "
            'Arrange it with /meeting in-person <when> "<place>"; afterwards record it '
            "with /meeting held <id> and mark who came.",
            "Next step: a first face-to-face meeting that at least {n} people come to. "
            'Arrange it with /meeting in-person <when> "<place>"; afterwards record it '
            "with /meeting held <id> and mark who came.",
            settings.first_meeting_attendees,
        )
    if at.status == ACTIVE and at.paid < settings.members_to_affiliate:
        return t.plural(
            "Next step: affiliation. {n} more member with paid dues before you can "
            "affiliate (the treasurer records dues with /dues).",
            "Next step: affiliation. {n} more members with paid dues before you can "
            "affiliate (the treasurer records dues with /dues).",
            settings.members_to_affiliate - at.paid,
        )
    if at.status == ACTIVE:
        return t(
            "Next step: a region or national admin affiliates it: /affiliate {branch}",
            branch=branch.name,
        )
    return t("It is affiliated to the party: nothing more to do.")


def affiliation_missing(
    t: Translator, settings: Settings, branch: Branch, at: Progress
) -> str | None:
    """Why the branch cannot be affiliated yet, or None."""
    if at.status != ACTIVE:
        return t(
            "The {branch} branch is {status}: it can be affiliated once its first "
            "face-to-face meeting has been held.",
            branch=branch.name,
            status=status_label(t, at.status),
        )
    need = settings.members_to_affiliate
    if at.paid < need:
        return t(
            "The {branch} branch has {paid}; it needs {need} to be affiliated. An admin "
            "who has a good reason can override this: /branch override {branch}: <reason>",
            branch=branch.name,
            paid=t.plural("{n} member with paid dues", "{n} members with paid dues", at.paid),
            need=t.plural("{n} member with paid dues", "{n} members with paid dues", need),
        )
    return None


GUIDES: dict[str, Callable[[Translator, Branch, Settings], str]] = {
    "forming": lambda t, b, settings: t(
        "Guide for the {branch} branch's organisers: your first online call.\n"
        "• Pick a time most can make: /poll --times offers a few.\n"
        "• Arrange it with /meeting online <when> <link>; everyone in the branch is told.\n"
        "• On the call: introductions, why each of you came, what the area needs, and who "
        "can find a room for a first face-to-face meeting. Keep it to an hour.\n"
        "• Afterwards record it with /meeting held <id>.",
        branch=b.name,
    ),
    "call": lambda t, b, settings: t.plural(
        "Guide for the {branch} branch's organisers: your first face-to-face meeting.\n"
        "• Book a free, accessible room and arrange it with /meeting in-person <when> "
        '"<place>".\n'
        "• Decide together: who organises and who keeps the money (treasurer), a weekly "
        "canvassing slot (/canvass schedule), and how members pay their dues.\n"
        "• At the door, note who came: afterwards /meeting held <id> and press their names. "
        "The branch becomes active once {n} person has come.",
        "Guide for the {branch} branch's organisers: your first face-to-face meeting.\n"
        "• Book a free, accessible room and arrange it with /meeting in-person <when> "
        '"<place>".\n'
        "• Decide together: who organises and who keeps the money (treasurer), a weekly "
        "canvassing slot (/canvass schedule), and how members pay their dues.\n"
        "• At the door, note who came: afterwards /meeting held <id> and press their names. "
        "The branch becomes active once {n} people have come.",
        settings.first_meeting_attendees,
        branch=b.name,
    ),
    "active": lambda t, b, settings: t.plural(
        "Guide for the {branch} branch's organisers: affiliation.\n"
        "• Only members with paid dues vote and sit on councils; the treasurer records dues "
        "with /dues.\n"
        "• Once {n} member has paid, a region or national admin affiliates the branch: "
        "/branch shows what is still missing.",
        "Guide for the {branch} branch's organisers: affiliation.\n"
        "• Only members with paid dues vote and sit on councils; the treasurer records dues "
        "with /dues.\n"
        "• Once {n} members have paid, a region or national admin affiliates the branch: "
        "/branch shows what is still missing.",
        settings.members_to_affiliate,
        branch=b.name,
    ),
    "affiliated": lambda t, b, settings: t(
        "Guide for the {branch} branch's organisers: you are part of the party now.\n"
        "• Canvass every week: /canvass schedule sets the weekly session, and members sign "
        "up with /canvass.\n"
        "• Decide together with /poll; councils and delegations are drawn by lot (/draw).",
        branch=b.name,
    ),
}
