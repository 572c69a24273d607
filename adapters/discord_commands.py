"""The slash commands' descriptions in every language the catalogue has.

A command's and each option's description is given to discord.py as a
``locale_str``: the text in the party's language, with the catalogue's sentence
(its English msgid) kept beside it. When the commands are synced, discord.py asks
:class:`CatalogueTranslator` for each of Discord's locales, and Discord shows each
person the description in their client's language (``description_localizations``).

Names are not localised: a command is typed by the same name in every language, as
/help shows it. A language Discord has no locale for (Welsh) is shown the party's
default; a sentence the catalogue has not translated yet is left to the default too.
"""

from __future__ import annotations

from discord import Locale, app_commands

from bot.kernel.i18n import DEFAULT_LOCALE, Translator, available_locales, language, translator

MAX_DESCRIPTION = 100  # Discord's limit for a description, in every language


def described(t: Translator, msgid: str) -> app_commands.locale_str:
    """A description: ``msgid`` (a sentence of the catalogue) as ``t`` reads it,
    to be localised by :class:`CatalogueTranslator`."""
    return app_commands.locale_str(t(msgid)[:MAX_DESCRIPTION], msgid=msgid)


def localized(msgid: str, locale: str, default_locale: str) -> str | None:
    """``msgid`` for people whose Discord speaks ``locale`` (``es-ES``), or None
    where they read the default: their language is the party's, or has no
    catalogue, or the catalogue has not translated this sentence."""
    lang = language(locale)
    if lang == language(default_locale):
        return None
    if lang == DEFAULT_LOCALE:
        return msgid[:MAX_DESCRIPTION]
    if lang not in available_locales():
        return None
    text = translator(lang)(msgid)
    return text[:MAX_DESCRIPTION] if text and text != msgid else None


class CatalogueTranslator(app_commands.Translator):
    """discord.py's translator for the slash commands, from the catalogue."""

    def __init__(self, default_locale: str) -> None:
        self.default_locale = default_locale

    async def translate(
        self,
        string: app_commands.locale_str,
        locale: Locale,
        context: app_commands.TranslationContextTypes,
    ) -> str | None:
        msgid = string.extras.get("msgid")
        if not isinstance(msgid, str):
            return None  # a name, or a choice: the same in every language
        return localized(msgid, locale.value, self.default_locale)
