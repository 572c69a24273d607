"""The reader's language: every sentence, date, time and number a person reads.

Sentences are written in English in the code, marked ``t("...")`` (or ``N_``
where they are defined ahead of use), extracted to ``bot/locale/messages.pot``
by ``python3 tasks.py i18n``, and translated in
``bot/locale/<lang>/LC_MESSAGES/messages.po``: a new language is a file, not a
code change. Catalogues are compiled in memory when first used.

Dates, times, weekdays, months and decimals that people read go through
``format_local(value, style, t, tz=...)`` (Babel, CLDR data), never ``strftime``;
given the reader's translator ``t`` (not only ``t.locale``), a moment is shown in
their own time zone (/timezone), named, where it differs from ``tz``. The same
named style reads "Thu 3 Dec 2026, 19:00" in English and "jue, 3 dic 2026, 19:00"
in Spanish. A translator whose language has no catalogue
is English, so a sentence and its dates are always in one language. Dates in
machine output (CSV, JSON, records, the audit log) stay ISO 8601.
"""

from __future__ import annotations

import datetime as dt
import gettext
import io
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo, available_timezones

from babel import Locale
from babel.dates import format_datetime, format_skeleton, get_datetime_format, get_day_names
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_decimal

LOCALE_DIR = Path(__file__).parent.parent / "locale"  # bot/locale: the whole bot's catalogue
DOMAIN = "messages"
DEFAULT_LOCALE = "en"


def N_(message: str) -> str:
    """Mark a sentence for the catalogue without translating it yet."""
    return message


class Translator:
    """Translates and formats sentences for one locale; ``zone``: the reader's own
    time zone (None: they read times in the zone each caller gives, their branch's)."""

    def __init__(
        self, locale: str, translations: gettext.NullTranslations, zone: str | None = None
    ) -> None:
        self.locale = locale
        self.zone = zone
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


def shipped_languages() -> list[str]:
    """Every language the bot speaks: English first, then each catalogue's."""
    return [DEFAULT_LOCALE, *(lang for lang in available_locales() if lang != DEFAULT_LOCALE)]


def is_shipped(locale: str | None) -> bool:
    """Whether ``locale`` (``es``, ``es-ES``) is a language the bot speaks."""
    return bool(locale) and language(locale) in shipped_languages()


def pick_language(*candidates: str | None) -> str:
    """The first of ``candidates`` (most wanted first: what the person chose, their
    platform's language, their branch's, the party's) that the bot speaks, as a
    language code; English if none is."""
    for candidate in candidates:
        if is_shipped(candidate):
            return language(candidate)
    return DEFAULT_LOCALE


def find_language(text: str) -> str | None:
    """The shipped language ``text`` names: its code (``cy``, ``es-ES``), its name
    in itself ("Cymraeg") or in English ("Welsh"), any case; None if none."""
    wanted = " ".join(text.split()).casefold()
    if not wanted:
        return None
    for lang in shipped_languages():
        where = _locale(lang)
        names = {lang, (where.get_display_name() or "").casefold()}
        names.add((where.get_display_name("en") or "").casefold())
        if wanted in names or language(wanted) == lang:
            return lang
    return None


def language_name(lang: str, *, title: bool = False) -> str:
    """A language's name in itself, as a sentence of it writes it ("Cymraeg",
    "español"); ``title``: capitalised, as a button offers it ("Español")."""
    name = _locale(language(lang)).get_display_name() or lang
    return name[:1].upper() + name[1:] if title else name


@lru_cache(maxsize=4)
def _available(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if (p / "LC_MESSAGES").is_dir())


def language(locale: str | None) -> str:
    """The language part of a locale (``en-GB`` -> ``en``): what people's records keep."""
    if not locale:
        return DEFAULT_LOCALE
    return locale.replace("-", "_").split("_", 1)[0].lower()


@lru_cache(maxsize=64)
def _load(language: str) -> gettext.GNUTranslations | None:
    """The compiled catalogue of ``language``, None if it has none."""
    po_path = LOCALE_DIR / language / "LC_MESSAGES" / f"{DOMAIN}.po"
    if not po_path.is_file():
        return None
    with po_path.open("rb") as fh:
        catalog = read_po(fh, locale=language)
    buffer = io.BytesIO()
    write_mo(buffer, catalog)
    buffer.seek(0)
    return gettext.GNUTranslations(buffer)


def translator(locale: str | None, zone: str | None = None) -> Translator:
    """The translator for a person's locale (English where no catalogue exists: its
    ``locale`` is then ``en``, so dates are in the language of the sentences) and
    their own time zone ``zone`` (None, or a zone no longer known: none)."""
    lang = language(locale)
    catalogue = _load(lang) if lang != DEFAULT_LOCALE else None
    own = zone if zone and zone in _zones() else None
    if catalogue is None:
        return Translator(DEFAULT_LOCALE, gettext.NullTranslations(), own)
    return Translator(lang, catalogue, own)


@lru_cache(maxsize=1)
def _zones() -> frozenset[str]:
    return frozenset(available_timezones())


# --- dates, times and numbers ------------------------------------------------------

Style = Literal[
    "datetime",
    "datetime_zone",
    "date",
    "day_time",
    "day_time_year_zone",
    "time",
    "weekday",
    "day_month",
    "iso_date",
    "iso_datetime",
    "decimal1",
]
"""The ways a value is shown; English (its exact house pattern) and any other language:

    datetime            Thu 3 Dec 2026, 19:00                   jue, 3 dic 2026, 19:00
    datetime_zone       Thu 3 Dec 2026, 19:00 (Europe/London)   ... (Europe/London)
    date                Thu 3 Dec 2026                          jue, 3 dic 2026
    day_time            Sat 05 Dec 10:30 (a moment in the next weeks)  sáb, 5 dic, 10:30
    day_time_year_zone  Tue 01 Dec 2026 20:00 (Europe/London) (polls)  as datetime_zone
    time                19:00                                   19:00
    weekday             Saturday (from 0 = Monday .. 6, or a date)     sábado
    day_month           05 Dec (a chart's axis)                 5 dic
    iso_date            2026-12-03 (a date people may type back: the same everywhere)
    iso_datetime        2026-12-03 19:00 (likewise)
    decimal1            12.5 (one decimal: a percentage's number)      12,5
"""


@dataclass(frozen=True, slots=True)
class _Form:
    english: str  # a CLDR pattern giving the bot's English text
    date: str | None = None  # CLDR skeletons for other languages
    time: str | None = None
    zone: bool = False  # followed by " (Europe/London)"
    same_everywhere: bool = False  # the English pattern in every language (ISO)


_FORMS: dict[str, _Form] = {
    "datetime": _Form("EEE d MMM y, HH:mm", "yMMMEd", "Hm"),
    "datetime_zone": _Form("EEE d MMM y, HH:mm", "yMMMEd", "Hm", zone=True),
    "date": _Form("EEE d MMM y", "yMMMEd"),
    "day_time": _Form("EEE dd MMM HH:mm", "MMMEd", "Hm"),
    "day_time_year_zone": _Form("EEE dd MMM y HH:mm", "yMMMEd", "Hm", zone=True),
    "time": _Form("HH:mm", time="Hm"),
    "day_month": _Form("dd MMM", "MMMd"),
    "iso_date": _Form("yyyy-MM-dd", same_everywhere=True),
    "iso_datetime": _Form("yyyy-MM-dd HH:mm", same_everywhere=True),
}


@lru_cache(maxsize=32)
def _locale(lang: str) -> Locale:
    return Locale.parse(lang)


def format_local(
    value: dt.datetime | dt.date | dt.time | float,
    style: Style,
    locale: str | Translator,
    *,
    tz: str | None = None,
) -> str:
    """``value`` as a person reading ``locale`` (a translator, or its ``t.locale``) reads it.

    An aware datetime is shown in the time zone ``tz`` (a branch's, by name), which
    the ``*_zone`` styles name; a naive one is taken as a wall time already in ``tz``.
    Given a translator whose reader keeps another time zone (``t.zone``, set with
    /timezone), a moment with its time of day is shown in theirs, always named.
    ``weekday`` takes 0 (Monday) to 6, or a date; ``decimal1`` a number."""
    if isinstance(locale, Translator):
        own, locale = locale.zone, locale.locale
    else:
        own = None
    lang = language(locale)
    where = _locale(lang)
    if style == "decimal1":
        if not isinstance(value, int | float):
            raise TypeError(f"{style} formats a number, not {type(value).__name__}")
        return format_decimal(value, format="0.0", locale=where)
    if style == "weekday":
        if isinstance(value, dt.date):
            value = value.weekday()
        if not isinstance(value, int) or not 0 <= value <= 6:
            raise ValueError("weekday formats 0 (Monday) to 6 (Sunday), or a date")
        return str(get_day_names("wide", locale=where)[value])
    form = _FORMS[style]
    named = form.zone
    if (
        own is not None
        and tz is not None
        and own != tz
        and isinstance(value, dt.datetime)
        and form.time is not None
        and not form.same_everywhere
    ):
        # The reader's own zone: the moment moves to it, and the zone is named.
        if value.tzinfo is None:
            value = value.replace(tzinfo=ZoneInfo(tz))
        tz, named = own, True
    if isinstance(value, dt.datetime):
        if value.tzinfo is not None:
            if tz is None:
                raise ValueError("an aware datetime needs the time zone it is shown in")
            value = value.astimezone(ZoneInfo(tz))
    elif not isinstance(value, dt.date | dt.time):
        raise TypeError(f"{style} formats a date or time, not {type(value).__name__}")
    if lang == DEFAULT_LOCALE or form.same_everywhere:
        text = format_datetime(value, form.english, locale=where)
    else:
        parts = [format_skeleton(s, value, locale=where) for s in (form.date, form.time) if s]
        if len(parts) == 2:
            glue = str(get_datetime_format("medium", locale=where)).replace("'", "")
            text = glue.replace("{1}", parts[0]).replace("{0}", parts[1])
        else:
            text = parts[0]
    if named:
        if tz is None:
            raise ValueError(f"{style} names the time zone: give tz")
        text += f" ({tz})"
    return text
