"""Dates, times and numbers as people read them: one function, the reader's language and
time zone, the zone named, and the English text the bot has always written."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

import bot.kernel.i18n
from bot.kernel.i18n import format_local, translator
from bot.lib.when import recurrences

UTC = dt.UTC
LONDON = "Europe/London"
NEW_YORK = "America/New_York"


def at(*parts: int) -> dt.datetime:
    return dt.datetime(*parts, tzinfo=UTC)


def test_english_keeps_the_bots_own_forms() -> None:
    moment = at(2026, 12, 3, 19, 0)  # GMT: London's wall clock is UTC
    shown = {
        style: format_local(moment, style, "en", tz=LONDON)  # type: ignore[arg-type]
        for style in (
            "datetime",
            "datetime_zone",
            "date",
            "day_time",
            "day_time_year_zone",
            "time",
            "day_month",
            "iso_date",
            "iso_datetime",
        )
    }
    assert shown == {
        "datetime": "Thu 3 Dec 2026, 19:00",
        "datetime_zone": "Thu 3 Dec 2026, 19:00 (Europe/London)",
        "date": "Thu 3 Dec 2026",
        "day_time": "Thu 03 Dec 19:00",
        "day_time_year_zone": "Thu 03 Dec 2026 19:00 (Europe/London)",
        "time": "19:00",
        "day_month": "03 Dec",
        "iso_date": "2026-12-03",
        "iso_datetime": "2026-12-03 19:00",
    }
    assert format_local(5, "weekday", "en") == "Saturday"
    assert format_local(dt.date(2026, 9, 1), "weekday", "en-GB") == "Tuesday"
    assert format_local(dt.date(2026, 9, 1), "date", "en") == "Tue 1 Sep 2026"
    assert format_local(dt.time(7, 5), "time", "en") == "07:05"
    assert format_local(12.5, "decimal1", "en") == "12.5"
    assert format_local(100, "decimal1", "en") == "100.0"


def test_the_autumn_clock_change_in_london() -> None:
    """01:30 happens twice on 25 October 2026: once in summer time, once in GMT."""
    shown = [
        format_local(moment, "datetime_zone", "en", tz=LONDON)
        for moment in (at(2026, 10, 24, 23, 59), at(2026, 10, 25, 0, 30), at(2026, 10, 25, 1, 30))
    ]
    assert shown == [
        "Sun 25 Oct 2026, 00:59 (Europe/London)",
        "Sun 25 Oct 2026, 01:30 (Europe/London)",
        "Sun 25 Oct 2026, 01:30 (Europe/London)",
    ]


def test_the_spring_clock_change_in_london_skips_an_hour() -> None:
    before, after = at(2027, 3, 28, 0, 59), at(2027, 3, 28, 1, 0)
    assert format_local(before, "time", "en", tz=LONDON) == "00:59"
    assert format_local(after, "time", "en", tz=LONDON) == "02:00"
    assert format_local(after, "day_time", "en", tz=LONDON) == "Sun 28 Mar 02:00"


def test_the_clock_changes_in_new_york() -> None:
    assert [
        format_local(moment, "datetime", "en", tz=NEW_YORK)
        for moment in (
            at(2026, 11, 1, 5, 30),  # 01:30 summer time (UTC-4)
            at(2026, 11, 1, 6, 30),  # 01:30 again, standard time (UTC-5)
            at(2027, 3, 14, 6, 59),  # 01:59 standard time
            at(2027, 3, 14, 7, 0),  # 03:00 summer time: 02:00-02:59 never happens
        )
    ] == [
        "Sun 1 Nov 2026, 01:30",
        "Sun 1 Nov 2026, 01:30",
        "Sun 14 Mar 2027, 01:59",
        "Sun 14 Mar 2027, 03:00",
    ]


def test_a_weekly_meeting_reads_at_the_same_hour_across_the_change() -> None:
    first = at(2026, 10, 15, 18, 0)  # Thursday 19:00 summer time
    series = recurrences(first, ZoneInfo(LONDON), "weekly", 3)
    assert [format_local(m, "datetime", "en", tz=LONDON) for m in series] == [
        "Thu 15 Oct 2026, 19:00",
        "Thu 22 Oct 2026, 19:00",
        "Thu 29 Oct 2026, 19:00",
    ]


def test_a_wall_time_is_shown_as_it_was_typed() -> None:
    """A naive datetime (a local time read from a person) is already in the zone."""
    wall = dt.datetime(2027, 3, 28, 1, 30)  # in London's spring gap
    assert format_local(wall, "datetime", "en", tz=LONDON) == "Sun 28 Mar 2027, 01:30"


def test_spanish_and_welsh_readers_get_their_own_names() -> None:
    moment = at(2026, 12, 3, 19, 0)
    spanish = format_local(moment, "datetime_zone", "es", tz=LONDON)
    assert "jue" in spanish and "dic" in spanish and "Thu" not in spanish
    assert spanish.endswith("19:00 (Europe/London)")
    assert format_local(moment, "weekday", "es") == "jueves"
    assert format_local(5, "weekday", "es-ES") == "sábado"
    assert format_local(12.5, "decimal1", "es") == "12,5"
    welsh = format_local(moment, "date", "cy", tz=LONDON)
    assert "Rhag" in welsh and "Dec" not in welsh
    assert format_local(5, "weekday", "cy") == "Dydd Sadwrn"
    # Dates people may type back read the same in every language.
    assert format_local(moment, "iso_datetime", "es", tz=LONDON) == "2026-12-03 19:00"


def test_spanish_across_the_autumn_clock_change() -> None:
    summer, winter = at(2026, 10, 24, 18, 0), at(2026, 10, 31, 19, 0)
    assert format_local(summer, "time", "es", tz="Europe/Madrid") == "20:00"
    assert format_local(winter, "time", "es", tz="Europe/Madrid") == "20:00"
    assert "sáb" in format_local(summer, "day_time", "es", tz="Europe/Madrid")


def test_an_aware_time_without_a_zone_to_show_it_in_is_refused() -> None:
    with pytest.raises(ValueError):
        format_local(at(2026, 12, 3, 19, 0), "datetime", "en")
    with pytest.raises(ValueError):
        format_local(7, "weekday", "en")


@pytest.fixture
def welsh_catalogue(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    po = tmp_path / "cy" / "LC_MESSAGES" / "messages.po"
    po.parent.mkdir(parents=True)
    po.write_text(
        'msgid ""\nmsgstr ""\n"Content-Type: text/plain; charset=UTF-8\\n"\n\n'
        'msgid "Hello"\nmsgstr "Helo"\n',
        encoding="utf-8",
    )
    monkeypatch.setattr(bot.kernel.i18n, "LOCALE_DIR", tmp_path)
    bot.kernel.i18n._load.cache_clear()
    yield
    bot.kernel.i18n._load.cache_clear()


def test_dates_are_in_the_language_of_the_sentences(welsh_catalogue: None) -> None:
    """A language with a catalogue gets its own dates; one without reads English
    sentences, and English dates in them, not a mixture."""
    welsh, german = translator("cy-GB"), translator("de")
    assert (welsh("Hello"), welsh.locale) == ("Helo", "cy")
    assert (german("Hello"), german.locale) == ("Hello", "en")
    moment = at(2026, 12, 3, 19, 0)
    assert format_local(moment, "date", german.locale, tz=LONDON) == "Thu 3 Dec 2026"
    assert "Rhag" in format_local(moment, "date", welsh.locale, tz=LONDON)
