"""The settings screen: each setting's state, and a button to turn it the other way;
/language's and /timezone's screens and answers."""

from __future__ import annotations

import datetime as dt

from bot.kernel.actions import Action
from bot.kernel.i18n import Translator, format_local, language_name, shipped_languages
from bot.kernel.messages import Button
from bot.kernel.people import BRANCH, CHOSEN, PARTY, PLATFORM
from bot.lib.zones import city
from bot.settings.rules import AUTO, CANVASSING, MEETINGS, button_id
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


def language_screen(t: Translator, name: str, source: str, chosen: bool) -> str:
    """What /language says: the language the person reads, why, and how to change it."""
    why = {
        CHOSEN: t("You chose it."),
        PLATFORM: t("It is your app's language."),
        BRANCH: t("It is your branch's language."),
        PARTY: t("It is the party's language."),
    }[source]
    lines = [t("I write to you in {language}. {why}", language=name, why=why)]
    lines.append(t("Choose another, or send /language followed by its name."))
    if chosen:
        lines.append(t("Send /language auto to follow your app's language again."))
    return "\n".join(lines)


def language_buttons(t: Translator, chosen: bool) -> tuple[tuple[Button, ...], ...]:
    """A button for each language the bot speaks, in that language's own name."""
    rows = [
        tuple(
            Button(language_name(lang, title=True), Action.LANGUAGE, lang)
            for lang in shipped_languages()
        )
    ]
    if chosen:
        rows.append((Button(t("Follow my app's language"), Action.LANGUAGE, AUTO),))
    return tuple(rows)


def language_set(t: Translator, name: str) -> str:
    """Told in the language just chosen."""
    return t("From now on I'll write to you in {language}.", language=name)


def language_auto(t: Translator, name: str) -> str:
    return t("I'll follow your app's language again: for now that is {language}.", language=name)


def language_unknown(t: Translator, typed: str) -> str:
    return t(
        "I don't speak {typed}. I speak: {languages}.",
        typed=typed[:40],
        languages=", ".join(language_name(lang) for lang in shipped_languages()),
    )


def zone_screen(t: Translator, own: str | None, branch_zone: str, now: dt.datetime) -> str:
    """What /timezone says: the zone the person reads times in, and how to change it."""
    if own is None:
        return t(
            "You read times in your branch's time zone, {zone}. Send /timezone and a city "
            "(for example /timezone Madrid) to read them in your own.",
            zone=branch_zone,
        )
    return "\n".join(
        (
            zone_set(t, own, now),
            t(
                "Send /timezone and a city to change it, or /timezone reset to read times "
                "in your branch's ({zone}) again.",
                zone=branch_zone,
            ),
        )
    )


def zone_set(t: Translator, zone: str, now: dt.datetime) -> str:
    return t(
        "Your time zone is {zone}: it is {time} there now.",
        zone=zone,
        time=format_local(now, "time", t.locale, tz=zone),
    )


def zone_reset(t: Translator, branch_zone: str) -> str:
    return t("You read times in your branch's time zone again: {zone}.", zone=branch_zone)


def zone_unknown(t: Translator, typed: str, suggestions: bool) -> str:
    if suggestions:
        return t("Which one do you mean by {typed}?", typed=typed[:40])
    return t(
        "I don't know a place called {typed}. Try the nearest large city, or a zone's "
        "name such as Europe/Madrid.",
        typed=typed[:40],
    )


def zone_buttons(t: Translator, zones: tuple[str, ...]) -> tuple[tuple[Button, ...], ...]:
    """A button for each zone suggested, its city in the reader's language."""
    return tuple(
        (Button(f"{city(zone, t.locale)} ({zone})", Action.TIMEZONE, zone),) for zone in zones
    )
