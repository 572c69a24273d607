"""The settings screen: each setting's state, and a button to turn it the other way."""

from __future__ import annotations

from bot.kernel.actions import Action
from bot.kernel.i18n import Translator
from bot.kernel.messages import Button
from bot.settings.rules import CANVASSING, MEETINGS, button_id
from storage.vocabulary import SCOPE_BRANCH, SCOPE_NATIONAL, SCOPE_REGION


def _state(t: Translator, on: bool) -> str:
    return t("on") if on else t("off")


def screen(t: Translator, on: dict[str, bool]) -> str:
    return "\n".join(
        (
            t(
                "Your reminders are {state}. Send /reminders on or /reminders off.",
                state=_state(t, on[CANVASSING]),
            ),
            t(
                "Reminders before the meetings you are going to: {state}.",
                state=_state(t, on[MEETINGS]),
            ),
            t(
                "Announcements from your branch: {branch} · your region: {region} · the "
                "party: {party}.",
                branch=_state(t, on[SCOPE_BRANCH]),
                region=_state(t, on[SCOPE_REGION]),
                party=_state(t, on[SCOPE_NATIONAL]),
            ),
            t("Invitations to a council and ballots always reach you."),
        )
    )


def _label(t: Translator, setting: str, on: bool) -> str:
    """The button that turns ``setting`` to ``not on``."""
    if setting == CANVASSING:
        return t("Turn canvassing reminders off") if on else t("Turn canvassing reminders on")
    if setting == MEETINGS:
        return t("Meeting reminders off") if on else t("Meeting reminders on")
    if setting == SCOPE_BRANCH:
        return t("Branch announcements off") if on else t("Branch announcements on")
    if setting == SCOPE_REGION:
        return t("Region announcements off") if on else t("Region announcements on")
    return t("Party announcements off") if on else t("Party announcements on")


def buttons(t: Translator, on: dict[str, bool]) -> tuple[tuple[Button, ...], ...]:
    row = tuple(
        Button(_label(t, setting, on[setting]), Action.SETTING, button_id(setting, not on[setting]))
        for setting in on
    )
    return row[:2], row[2:]  # the reminders, then the announcements
