"""Dates typed in the person's language ("martes 19:00", "yfory am 19:00"), read by the
one parser with the words CLDR gives each language, English always understood too."""

from __future__ import annotations

import datetime as dt
import unicodedata
from collections.abc import Mapping
from zoneinfo import ZoneInfo

import pytest
from babel.dates import get_day_names, get_month_names
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.kernel.i18n import translator
from bot.lib.when import (
    ENGLISH,
    REASONS,
    WhenError,
    Word,
    parse_when,
    read_date,
    read_weekday,
    read_weekly,
)
from bot.lib.when_words import FILLERS, words_for, words_of

LONDON = ZoneInfo("Europe/London")
NOW = dt.datetime(2026, 12, 1, 12, 0, tzinfo=dt.UTC)  # a Tuesday, noon in London
SPANISH = words_for("es", "a las el la los")
WELSH = words_for("cy", "ar y bob")


def local(text: str, words: object) -> str:
    at = parse_when(text, NOW, LONDON, words=words)  # type: ignore[arg-type]
    return at.astimezone(LONDON).strftime("%Y-%m-%d %H:%M")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("martes 19:00", "2026-12-01 19:00"),
        ("Miércoles 19:00", "2026-12-02 19:00"),
        ("MIERCOLES 19:00", "2026-12-02 19:00"),  # no accent, any case
        ("mañana 19:00", "2026-12-02 19:00"),
        ("Mañana a las 19:00", "2026-12-02 19:00"),
        ("pasado mañana 19:00", "2026-12-03 19:00"),
        ("el próximo martes a las 19:00", "2026-12-08 19:00"),
        ("próximo martes 19:00", "2026-12-08 19:00"),
        ("este jueves 18:30", "2026-12-03 18:30"),
        ("el 5 de dic. a las 19:00", "2026-12-05 19:00"),
        ("3 de marzo de 2027 19:00", "2027-03-03 19:00"),
        ("sáb. 10:30", "2026-12-05 10:30"),
        ("dentro de 3 días 19:00", "2026-12-04 19:00"),
        ("dentro de 2 semanas 19:00", "2026-12-15 19:00"),
        # "mar" is Tuesday (martes) and March (marzo): a day number makes it the month.
        ("mar 19:00", "2026-12-01 19:00"),
        ("3 mar 19:00", "2027-03-03 19:00"),
        ("mar 3 19:00", "2027-03-03 19:00"),
        ("3 de mar a las 19:00", "2027-03-03 19:00"),  # a word to skip between
        ("mar 7 pm", "2026-12-01 19:00"),
        # English is always understood.
        ("tomorrow 7pm", "2026-12-02 19:00"),
        ("next tue 19:00", "2026-12-08 19:00"),
    ],
)
def test_spanish(text: str, expected: str) -> None:
    assert local(text, SPANISH) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("dydd Mawrth 19:00", "2026-12-01 19:00"),
        ("Dydd Mercher am 19:00", "2026-12-02 19:00"),
        ("yfory 19:00", "2026-12-02 19:00"),
        ("yfory am 7pm", "2026-12-02 19:00"),
        ("heddiw am 19:30", "2026-12-01 19:30"),
        ("drennydd am 18:00", "2026-12-03 18:00"),
        ("dydd Mawrth nesaf am 19:00", "2026-12-08 19:00"),
        ("ar ddydd Iau am 19:00", "2026-12-03 19:00"),  # "dydd" mutated after "ar"
        ("ddydd Mawrth nesaf am 19:00", "2026-12-08 19:00"),
        ("dydd Sadwrn yma am 10:30", "2026-12-05 10:30"),
        ("ymhen 3 diwrnod am 19:00", "2026-12-04 19:00"),
        ("ymhen deuddydd am 19:00", "2026-12-03 19:00"),
        ("ymhen pythefnos am 19:00", "2026-12-15 19:00"),
        ("3 Mawrth 19:00", "2027-03-03 19:00"),  # Mawrth alone is March
        ("Maw 19:00", "2026-12-01 19:00"),  # Tuesday, abbreviated ...
        ("3 Maw am 19:00", "2027-03-03 19:00"),  # ... and March
        ("Maw am 7 pm", "2026-12-01 19:00"),  # Tuesday: "am" is skipped, 7 is an hour
        ("5 Rhagfyr am 19:00", "2026-12-05 19:00"),
        # "am" is Welsh "at", and English's "a.m." after an hour.
        ("yfory am 7 am", "2026-12-02 07:00"),
        ("tomorrow at 7pm", "2026-12-02 19:00"),
    ],
)
def test_welsh(text: str, expected: str) -> None:
    assert local(text, WELSH) == expected


def test_refusals_keep_their_reasons_in_another_language() -> None:
    with pytest.raises(WhenError) as caught:
        parse_when("martes", NOW, LONDON, words=SPANISH)
    assert caught.value.reason == "no_time"
    with pytest.raises(WhenError) as caught:
        parse_when("ayer 19:00", NOW, LONDON, words=SPANISH)
    assert caught.value.reason == "past"
    with pytest.raises(WhenError) as caught:
        parse_when("martes 19:00", NOW, LONDON)  # English alone does not read Spanish
    assert caught.value.reason == "unreadable"
    with pytest.raises(WhenError) as caught:
        parse_when("30 de febrero 19:00", NOW, LONDON, words=SPANISH)
    assert caught.value.reason == "no_such_date"


def test_a_weekly_slot_and_a_date_alone() -> None:
    assert read_weekly("dydd Sadwrn 10:30 Sgwâr y Farchnad".split(), words=WELSH) == (
        5,
        dt.time(10, 30),
        3,
    )
    assert read_weekly("bob dydd Sadwrn 10:30 Sgwâr".split(), words=WELSH)[2] == 4
    assert read_weekly("los sábados 10:30 Plaza Mayor".split(), words=SPANISH) == (
        5,
        dt.time(10, 30),
        3,
    )
    assert read_weekly("sábados 7 pm Plaza".split(), words=SPANISH) == (5, dt.time(19), 3)
    assert read_weekday("domingos", words=SPANISH) == 6
    assert read_date("3 de diciembre de 2026", NOW.date(), words=SPANISH) == dt.date(2026, 12, 3)


def test_an_unknown_locale_reads_english() -> None:
    assert words_for("zz") is ENGLISH
    assert words_for("not a locale") is ENGLISH
    assert local("tomorrow 19:00", words_for("zz")) == "2026-12-02 19:00"


def test_the_translators_words_to_ignore_are_what_follows_the_colon() -> None:
    t = translator("en")
    assert t(FILLERS).rpartition(":")[2].split() == ["at", "on", "of", "the"]
    assert local("on tuesday at 19:00", words_of(t)) == "2026-12-01 19:00"


def _strip_accents(text: str) -> str:
    decomposed = unicodedata.normalize("NFD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c))


@st.composite
def _spelt(draw: st.DrawFn, name: str) -> str:
    """``name`` as someone might type it: any case, accents kept or left out."""
    if draw(st.booleans()):
        name = _strip_accents(name)
    return "".join(c.upper() if draw(st.booleans()) else c.lower() for c in name)


@given(
    locale=st.sampled_from(["cy", "es", "en"]),
    weekday=st.integers(0, 6),
    width=st.sampled_from(["wide", "abbreviated"]),
    data=st.data(),
)
def test_every_weekday_name_is_that_weekday(
    locale: str, weekday: int, width: str, data: st.DataObject
) -> None:
    name = str(get_day_names(width, locale=locale)[weekday])  # type: ignore[arg-type]
    typed = data.draw(_spelt(name))
    at = parse_when(f"{typed} 19:00", NOW, LONDON, words=words_for(locale))
    assert at.astimezone(LONDON).weekday() == weekday
    assert dt.timedelta(0) < at - NOW <= dt.timedelta(days=7)


@given(
    locale=st.sampled_from(["cy", "es", "en"]),
    month=st.integers(1, 12),
    day=st.integers(1, 28),
    width=st.sampled_from(["wide", "abbreviated"]),
    day_first=st.booleans(),
    data=st.data(),
)
def test_every_month_name_with_a_day_is_that_date(
    locale: str, month: int, day: int, width: str, day_first: bool, data: st.DataObject
) -> None:
    name = data.draw(_spelt(str(get_month_names(width, locale=locale)[month])))  # type: ignore[arg-type]
    typed = f"{day} {name} 2027 19:00" if day_first else f"{name} {day} 2027 19:00"
    at = parse_when(typed, NOW, LONDON, words=words_for(locale))
    assert at.astimezone(LONDON).date() == dt.date(2027, month, day)


_PIECES = sorted({*SPANISH, *WELSH, "19:00", "7", "pm", "3", "31", "2027", "3rd", "7am", ""})


@settings(max_examples=800, deadline=None)
@given(
    words=st.sampled_from([SPANISH, WELSH]),
    typed=st.lists(st.sampled_from(_PIECES), max_size=7).map(" ".join),
)
def test_any_words_of_another_language_are_read_or_refused_with_a_reason(
    words: Mapping[str, Word], typed: str
) -> None:
    """Phrases, words with two meanings and words to skip, in any order: a moment
    ahead, or a refusal with its reason, never anything else."""
    try:
        at = parse_when(typed, NOW, LONDON, words=words)
    except WhenError as error:
        assert error.reason in REASONS
        return
    assert NOW < at <= NOW + dt.timedelta(days=731)
