"""The text catalogue: every sentence a person reads goes through here.

Sentences are written in English in the code, marked ``t("...")`` (or ``N_``
where they are defined ahead of use), extracted to ``bot/locale/messages.pot``
by ``python3 tasks.py i18n``, and translated in
``bot/locale/<lang>/LC_MESSAGES/messages.po``: a new language is a file, not a
code change. Catalogues are compiled in memory when first used.
"""

from __future__ import annotations

import gettext
import io
from functools import lru_cache
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

LOCALE_DIR = Path(__file__).parent / "locale"
DOMAIN = "messages"
DEFAULT_LOCALE = "en"


def N_(message: str) -> str:
    """Mark a sentence for the catalogue without translating it yet."""
    return message


class Translator:
    """Translates and formats sentences for one locale."""

    def __init__(self, locale: str, translations: gettext.NullTranslations) -> None:
        self.locale = locale
        self._translations = translations

    def __call__(self, message: str, /, **params: object) -> str:
        text = self._translations.gettext(message)
        return text.format(**params) if params else text

    def plural(self, singular: str, plural: str, n: int, /, **params: object) -> str:
        text = self._translations.ngettext(singular, plural, n)
        return text.format(n=n, **params)


def available_locales() -> list[str]:
    """The languages with a catalogue (English, the source language, needs none)."""
    return _available(LOCALE_DIR)


@lru_cache(maxsize=4)
def _available(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if (p / "LC_MESSAGES").is_dir())


def language(locale: str | None) -> str:
    """The language part of a locale (``en-GB`` -> ``en``): what people's records keep."""
    if not locale:
        return DEFAULT_LOCALE
    return locale.replace("-", "_").split("_", 1)[0].lower()


@lru_cache(maxsize=64)
def _load(language: str) -> gettext.NullTranslations:
    po_path = LOCALE_DIR / language / "LC_MESSAGES" / f"{DOMAIN}.po"
    if not po_path.is_file():
        return gettext.NullTranslations()
    with po_path.open("rb") as fh:
        catalog = read_po(fh, locale=language)
    buffer = io.BytesIO()
    write_mo(buffer, catalog)
    buffer.seek(0)
    return gettext.GNUTranslations(buffer)


def translator(locale: str | None) -> Translator:
    """The translator for a person's locale (English where no catalogue exists)."""
    lang = language(locale)
    return Translator(lang, _load(lang))
