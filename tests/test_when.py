"""Reading the dates members type, in their branch's time zone, and repeating them."""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Iterator
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.lib.when import (
    ENGLISH,
    REASONS,
    When,
    WhenError,
    Word,
    local_moment,
    parse_when,
    read_date,
    read_time_of_day,
    read_wall_text,
    read_weekday,
    read_weekly,
    read_when,
    recurrences,
    series,
    wall_text,
    weekly,
)

LONDON = ZoneInfo("Europe/London")
NEW_YORK = ZoneInfo("America/New_York")
UTC = dt.UTC
NOW = dt.datetime(2026, 12, 1, 12, 0, tzinfo=UTC)  # a Tuesday, noon in London


def local(text: str, now: dt.datetime = NOW, tz: ZoneInfo = LONDON) -> dt.datetime:
    """What was read, as a naive local time (checking it is an aware UTC instant first)."""
    at = parse_when(text, now, tz)
    assert at.tzinfo is UTC
    return at.astimezone(tz).replace(tzinfo=None)


def refusal(text: str, now: dt.datetime = NOW, tz: ZoneInfo = LONDON) -> WhenError:
    with pytest.raises(WhenError) as caught:
        parse_when(text, now, tz)
    return caught.value


def at(*parts: int) -> dt.datetime:
    return dt.datetime(*parts)  # type: ignore[arg-type]


# -- the forms ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-12-03 19:00", at(2026, 12, 3, 19, 0)),
        ("2026-12-03 7pm", at(2026, 12, 3, 19, 0)),
        ("2026-12-03T19:00", at(2026, 12, 3, 19, 0)),
        ("2026/12/3 19:00", at(2026, 12, 3, 19, 0)),
        ("19:00 2026-12-03", at(2026, 12, 3, 19, 0)),
        ("tomorrow 19:00", at(2026, 12, 2, 19, 0)),
        ("Tomorrow at 7pm.", at(2026, 12, 2, 19, 0)),
        ("today 19:30", at(2026, 12, 1, 19, 30)),
        ("TODAY, 19:30", at(2026, 12, 1, 19, 30)),
        ("19:00", at(2026, 12, 1, 19, 0)),
        ("7pm", at(2026, 12, 1, 19, 0)),
        ("7 pm", at(2026, 12, 1, 19, 0)),
        ("7:30pm", at(2026, 12, 1, 19, 30)),
        ("19.00", at(2026, 12, 1, 19, 0)),
        ("tomorrow 12am", at(2026, 12, 2, 0, 0)),
        ("tomorrow 12pm", at(2026, 12, 2, 12, 0)),
        ("noon tomorrow", at(2026, 12, 2, 12, 0)),
        ("in 3 days 18:00", at(2026, 12, 4, 18, 0)),
        ("in 2 weeks 19:00", at(2026, 12, 15, 19, 0)),
        ("3 dec 19:00", at(2026, 12, 3, 19, 0)),
        ("dec 3 19:00", at(2026, 12, 3, 19, 0)),
        ("on the 3rd of December 2026 at 7pm", at(2026, 12, 3, 19, 0)),
        ("december 3rd 2027 19:00", at(2027, 12, 3, 19, 0)),
        ("1 dec 19:00", at(2026, 12, 1, 19, 0)),
        ("1 dec 11:00", at(2027, 12, 1, 11, 0)),  # this year's has passed: next year's
        ("29 feb 19:00", at(2028, 2, 29, 19, 0)),
    ],
)
def test_reads(text: str, expected: dt.datetime) -> None:
    assert local(text) == expected


def test_the_coming_weekday() -> None:
    # NOW is Tuesday 12:00.
    assert local("tue 19:00") == at(2026, 12, 1, 19, 0)  # later today
    assert local("tue 11:00") == at(2026, 12, 8, 11, 0)  # earlier today: next week
    assert local("tuesday 12:00") == at(2026, 12, 8, 12, 0)  # now is not later than now
    assert local("wed 19:00") == at(2026, 12, 2, 19, 0)
    assert local("mon 19:00") == at(2026, 12, 7, 19, 0)


def test_next_weekday_is_strictly_after_today() -> None:
    assert local("next tue 19:00") == at(2026, 12, 8, 19, 0)
    assert local("next tuesday 19:00") == at(2026, 12, 8, 19, 0)
    assert local("next wed 19:00") == at(2026, 12, 2, 19, 0)
    monday = dt.datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
    assert local("next tue 19:00", monday) == at(2026, 12, 1, 19, 0)


def test_today_is_the_branch_s_today() -> None:
    # 02:00 UTC on 2 December is still 1 December, 21:00, in New York.
    late = dt.datetime(2026, 12, 2, 2, 0, tzinfo=UTC)
    assert local("today 22:00", late, NEW_YORK) == at(2026, 12, 1, 22, 0)
    assert parse_when("today 22:00", late, NEW_YORK) == dt.datetime(2026, 12, 2, 3, 0, tzinfo=UTC)
    assert local("tomorrow 9am", late, NEW_YORK) == at(2026, 12, 2, 9, 0)


def test_read_when_gives_the_local_reading() -> None:
    when = read_when("2026-12-03 19:00", NOW, NEW_YORK)
    assert when == When(
        at=dt.datetime(2026, 12, 4, 0, 0, tzinfo=UTC),
        local=dt.datetime(2026, 12, 3, 19, 0, tzinfo=NEW_YORK),
        ambiguous=False,
    )


def test_words_of_another_language_can_be_added() -> None:
    french = {**ENGLISH, "demain": Word("day", 1), "mardi": Word("weekday", 1)}
    assert parse_when("demain 19:00", NOW, LONDON, words=french) == dt.datetime(
        2026, 12, 2, 19, 0, tzinfo=UTC
    )
    assert parse_when("mardi 19:00", NOW, LONDON, words=french).day == 1
    assert refusal("demain 19:00").reason == "unreadable"


# -- refusals ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text", ["today 11:00", "today 12:00", "2026-11-30 19:00", "2020-01-01 10:00", "1 jan 2026 9am"]
)
def test_past(text: str) -> None:
    error = refusal(text)
    assert error.reason == "past"
    assert isinstance(error.params["local"], dt.datetime)


def test_very_long_ago_and_very_far_ahead_do_not_overflow() -> None:
    assert refusal("0001-01-01 00:00", tz=ZoneInfo("Asia/Tokyo")).reason == "past"
    assert refusal("9999-12-31 23:59", tz=NEW_YORK).reason == "too_far"
    assert refusal("in 9999 weeks 19:00").reason == "too_far"


def test_too_far() -> None:
    assert local("2028-12-01 12:00") == at(2028, 12, 1, 12, 0)  # exactly two years
    error = refusal("2028-12-01 12:01")
    assert (error.reason, error.params) == (
        "too_far",
        {"local": at(2028, 12, 1, 12, 1), "years": 2},
    )
    assert refusal("2030-01-01 10:00").reason == "too_far"


@pytest.mark.parametrize(
    ("text", "params"),
    [
        ("2026-02-30 19:00", {"year": 2026, "month": 2, "day": 30}),
        ("2027-02-29 19:00", {"year": 2027, "month": 2, "day": 29}),
        ("2027-13-01 19:00", {"year": 2027, "month": 13, "day": 1}),
        ("2027-04-31 19:00", {"year": 2027, "month": 4, "day": 31}),
        ("30 feb 19:00", {"year": None, "month": 2, "day": 30}),
        ("apr 31 19:00", {"year": None, "month": 4, "day": 31}),
        ("0 dec 19:00", {"year": None, "month": 12, "day": 0}),
    ],
)
def test_no_such_date(text: str, params: dict[str, object]) -> None:
    error = refusal(text)
    assert (error.reason, error.params) == ("no_such_date", params)


@pytest.mark.parametrize("text", ["25:00", "24:00", "19:60", "13pm", "0am", "tomorrow 0:75"])
def test_no_such_time(text: str) -> None:
    assert refusal(text).reason == "no_such_time"


@pytest.mark.parametrize(
    "text",
    ["3/12/2026 19:00", "03.12.2026 19:00", "12/3 19:00", "25/12/2026 19:00", "3-12-26 7pm"],
)
def test_day_month_order_is_refused_as_ambiguous(text: str) -> None:
    error = refusal(text)
    assert error.reason == "ambiguous"
    assert error.params["text"] == text.split()[0]


@pytest.mark.parametrize("text", ["2026-12-03", "tomorrow", "next tue", "3 dec 2026"])
def test_a_day_needs_a_time(text: str) -> None:
    assert refusal(text).reason == "no_time"


@pytest.mark.parametrize(
    ("text", "word"),
    [
        ("asdf", "asdf"),
        ("tomorrow at 7 o'clock", "7"),
        ("19:00 19:30", "19:30"),
        ("tue wed 19:00", "wed"),
        ("next 19:00", "next"),
        ("next week 19:00", "next"),
        ("in days 19:00", "in"),
        ("in 3 19:00", "in"),
        ("pm", "pm"),
        ("7:30th", "7:30th"),
        ("3rd 19:00", "3rd"),
        ("7xm", "7xm"),
        ("🙂 19:00", "🙂"),
        ("tomorrow\x00 19:00", "tomorrow\x00"),
        ("¹⁹:⁰⁰", "¹⁹:⁰⁰"),  # superscripts are digits, but not decimal digits
        ("1900", "1900"),
    ],
)
def test_unreadable(text: str, word: str) -> None:
    error = refusal(text)
    assert (error.reason, error.params) == ("unreadable", {"word": word})


@pytest.mark.parametrize("text", ["", "   ", ",,", "at the", "1" * 10_000, "tomorrow " * 30])
def test_empty_or_huge_is_unreadable(text: str) -> None:
    assert refusal(text).reason == "unreadable"


@pytest.mark.parametrize(
    "text",
    [
        "٢٠٢٦-١٢-٠٣ ١٩:٠٠",  # Arabic-Indic
        "۲۰۲۶-۱۲-۰۳ ۱۹:۰۰",  # Extended Arabic-Indic (Persian)
        "२०२६-१२-०३ १९:००",  # Devanagari
        "２０２６-１２-０３ １９:００",  # fullwidth
        "2026-12-03 ١٩:٠٠",  # mixed
    ],
)
def test_digits_of_any_script(text: str) -> None:
    assert local(text) == at(2026, 12, 3, 19, 0)


# -- clock changes -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("tz", "text", "wall"),
    [
        (LONDON, "2027-03-28 01:30", at(2027, 3, 28, 1, 30)),
        (LONDON, "2027-03-28 1am", at(2027, 3, 28, 1, 0)),
        (NEW_YORK, "2027-03-14 02:30", at(2027, 3, 14, 2, 30)),
    ],
)
def test_a_time_skipped_by_the_clocks_is_refused(
    tz: ZoneInfo, text: str, wall: dt.datetime
) -> None:
    error = refusal(text, tz=tz)
    assert (error.reason, error.params) == ("gap", {"local": wall, "tz": tz.key})


def test_either_side_of_the_gap_is_fine() -> None:
    assert parse_when("2027-03-28 00:59", NOW, LONDON) == dt.datetime(
        2027, 3, 28, 0, 59, tzinfo=UTC
    )
    assert parse_when("2027-03-28 02:00", NOW, LONDON) == dt.datetime(2027, 3, 28, 1, 0, tzinfo=UTC)
    assert parse_when("2027-03-14 03:00", NOW, NEW_YORK) == dt.datetime(
        2027, 3, 14, 7, 0, tzinfo=UTC
    )


@pytest.mark.parametrize(
    ("tz", "text", "first_utc"),
    [
        (LONDON, "2026-10-25 01:30", dt.datetime(2026, 10, 25, 0, 30, tzinfo=UTC)),  # BST
        (NEW_YORK, "2026-11-01 01:30", dt.datetime(2026, 11, 1, 5, 30, tzinfo=UTC)),  # EDT
    ],
)
def test_a_time_that_happens_twice_is_its_first_occurrence(
    tz: ZoneInfo, text: str, first_utc: dt.datetime
) -> None:
    october = dt.datetime(2026, 10, 1, tzinfo=UTC)
    when = read_when(text, october, tz)
    assert when.at == first_utc
    assert when.ambiguous
    assert when.local.fold == 0
    assert when.local.replace(tzinfo=None) == dt.datetime.fromisoformat(text)
    assert not read_when(text.replace("01:30", "02:30"), october, tz).ambiguous


# -- recurrences -------------------------------------------------------------------------


def walls(times: list[dt.datetime], tz: ZoneInfo) -> list[str]:
    return [t.astimezone(tz).strftime("%a %Y-%m-%d %H:%M") for t in times]


@pytest.mark.parametrize(
    ("tz", "first", "changes_on"),
    [
        (LONDON, "2027-03-18 19:00", dt.date(2027, 3, 28)),
        (LONDON, "2026-10-15 19:00", dt.date(2026, 10, 25)),
        (NEW_YORK, "2027-03-04 19:00", dt.date(2027, 3, 14)),
        (NEW_YORK, "2026-10-22 19:00", dt.date(2026, 11, 1)),
    ],
)
def test_weekly_keeps_the_local_time_across_the_clock_change(
    tz: ZoneInfo, first: str, changes_on: dt.date
) -> None:
    start = dt.datetime.fromisoformat(first).replace(tzinfo=tz).astimezone(UTC)
    times = recurrences(start, tz, "weekly", 4)
    assert times[0] == start
    assert all(t.tzinfo is UTC for t in times)
    assert [t.astimezone(tz).strftime("%H:%M") for t in times] == ["19:00"] * 4
    assert [t - s for s, t in itertools.pairwise(times)] != [dt.timedelta(weeks=1)] * 3
    before = {t.utcoffset() for t in (x.astimezone(tz) for x in times) if t.date() < changes_on}
    after = {t.utcoffset() for t in (x.astimezone(tz) for x in times) if t.date() > changes_on}
    assert len(before) == len(after) == 1
    assert before != after


def test_monthly_skips_months_without_the_day() -> None:
    start = dt.datetime(2027, 1, 31, 19, 0, tzinfo=UTC)
    assert walls(recurrences(start, LONDON, "monthly", 5), LONDON) == [
        "Sun 2027-01-31 19:00",
        "Wed 2027-03-31 19:00",
        "Mon 2027-05-31 19:00",
        "Sat 2027-07-31 19:00",
        "Tue 2027-08-31 19:00",
    ]


def test_monthly_across_the_year_and_the_clocks() -> None:
    start = dt.datetime(2026, 11, 15, 0, 0, tzinfo=UTC)  # 19:00 the evening before in New York
    assert walls(recurrences(start, NEW_YORK, "monthly", 6), NEW_YORK) == [
        "Sat 2026-11-14 19:00",
        "Mon 2026-12-14 19:00",
        "Thu 2027-01-14 19:00",
        "Sun 2027-02-14 19:00",
        "Sun 2027-03-14 19:00",
        "Wed 2027-04-14 19:00",
    ]


def test_an_occurrence_in_a_gap_moves_forward_and_one_that_happens_twice_is_the_first() -> None:
    spring = dt.datetime(2027, 3, 21, 1, 30, tzinfo=UTC)  # 01:30 GMT
    assert walls(recurrences(spring, LONDON, "weekly", 3), LONDON) == [
        "Sun 2027-03-21 01:30",
        "Sun 2027-03-28 02:30",  # 01:30 does not exist that night
        "Sun 2027-04-04 01:30",
    ]
    autumn = dt.datetime(2026, 10, 18, 0, 30, tzinfo=UTC)  # 01:30 BST
    times = recurrences(autumn, LONDON, "weekly", 2)
    assert times[1] == dt.datetime(2026, 10, 25, 0, 30, tzinfo=UTC)  # the first 01:30


def test_recurrences_edges() -> None:
    start = dt.datetime(2027, 1, 1, 19, 0, tzinfo=UTC)
    assert recurrences(start, LONDON, "weekly", 0) == []
    assert recurrences(start, LONDON, "monthly", 1) == [start]
    with pytest.raises(ValueError):
        recurrences(start, LONDON, "daily", 2)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        recurrences(start, LONDON, "weekly", -1)
    with pytest.raises(ValueError):
        recurrences(start.replace(tzinfo=None), LONDON, "weekly", 2)


def first(n: int, moments: Iterator[dt.datetime]) -> list[dt.datetime]:
    return list(itertools.islice(moments, n))


def test_a_weekly_slot_keeps_its_local_time_across_both_clock_changes() -> None:
    saturday_1030 = (5, dt.time(10, 30))
    spring = first(3, weekly(*saturday_1030, LONDON, dt.datetime(2027, 3, 18, 12, 0, tzinfo=UTC)))
    assert walls(spring, LONDON) == [
        "Sat 2027-03-20 10:30",
        "Sat 2027-03-27 10:30",
        "Sat 2027-04-03 10:30",
    ]
    assert spring[2] - spring[1] == dt.timedelta(weeks=1, hours=-1)
    autumn = first(2, weekly(*saturday_1030, LONDON, dt.datetime(2026, 10, 19, 12, 0, tzinfo=UTC)))
    assert autumn == [
        dt.datetime(2026, 10, 24, 9, 30, tzinfo=UTC),  # 10:30 BST
        dt.datetime(2026, 10, 31, 10, 30, tzinfo=UTC),  # 10:30 GMT
    ]


def test_a_weekly_slot_starts_strictly_after_the_moment_given() -> None:
    tuesday_1900 = (1, dt.time(19, 0))  # NOW is Tuesday 1 December, noon
    assert walls(first(1, weekly(*tuesday_1900, LONDON, NOW)), LONDON) == ["Tue 2026-12-01 19:00"]
    at_it = dt.datetime(2026, 12, 1, 19, 0, tzinfo=UTC)
    assert walls(first(1, weekly(*tuesday_1900, LONDON, at_it)), LONDON) == ["Tue 2026-12-08 19:00"]
    monday = first(1, weekly(0, dt.time(9, 0), LONDON, NOW))
    assert walls(monday, LONDON) == ["Mon 2026-12-07 09:00"]
    with pytest.raises(ValueError):
        weekly(0, dt.time(9, 0), LONDON, NOW.replace(tzinfo=None))


def test_a_weekly_slot_in_the_gap_moves_forward_and_in_the_overlap_is_the_first() -> None:
    sunday_0130 = (6, dt.time(1, 30))
    spring = first(2, weekly(*sunday_0130, LONDON, dt.datetime(2027, 3, 22, tzinfo=UTC)))
    assert walls(spring, LONDON) == ["Sun 2027-03-28 02:30", "Sun 2027-04-04 01:30"]
    autumn = first(1, weekly(*sunday_0130, LONDON, dt.datetime(2026, 10, 19, tzinfo=UTC)))
    assert autumn == [dt.datetime(2026, 10, 25, 0, 30, tzinfo=UTC)]  # the first 01:30 (BST)
    assert local_moment(dt.date(2026, 10, 25), dt.time(1, 30), LONDON) == autumn[0]


def test_a_series_of_either_rule_agrees_with_recurrences() -> None:
    start = dt.datetime(2027, 1, 31, 19, 0, tzinfo=UTC)
    for rule in ("weekly", "monthly"):
        assert first(6, series(start.date(), dt.time(19, 0), LONDON, rule)) == recurrences(
            start, LONDON, rule, 6
        )
    with pytest.raises(ValueError):
        series(start.date(), dt.time(19, 0), LONDON, "yearly")  # type: ignore[arg-type]


@settings(max_examples=150, deadline=None)
@given(
    tz=st.sampled_from([LONDON, NEW_YORK, ZoneInfo("Australia/Lord_Howe"), ZoneInfo("UTC")]),
    weekday=st.integers(0, 6),
    hour=st.integers(0, 23),
    minute=st.sampled_from([0, 1, 15, 30, 59]),
    after=st.datetimes(dt.datetime(2026, 1, 1), dt.datetime(2030, 12, 31), timezones=st.just(UTC)),
)
def test_weekly_occurrences_are_on_the_day_at_the_time_and_a_week_apart(
    tz: ZoneInfo, weekday: int, hour: int, minute: int, after: dt.datetime
) -> None:
    moments = first(5, weekly(weekday, dt.time(hour, minute), tz, after))
    assert after < moments[0] <= after + dt.timedelta(weeks=1, hours=3)
    for earlier, later in itertools.pairwise(moments):
        assert abs(later - earlier - dt.timedelta(weeks=1)) <= dt.timedelta(hours=3)
    for moment in moments:
        assert moment.tzinfo is UTC
        shown = moment.astimezone(tz)
        assert shown.weekday() == weekday
        wall = dt.datetime.combine(shown.date(), dt.time(hour, minute))
        in_gap = wall.replace(tzinfo=tz).astimezone(UTC).astimezone(tz).replace(tzinfo=None) != wall
        assert in_gap or shown.time() == dt.time(hour, minute)


def test_now_must_be_aware() -> None:
    with pytest.raises(ValueError):
        parse_when("19:00", NOW.replace(tzinfo=None), LONDON)


# -- properties -------------------------------------------------------------------------

ZONES = [
    ZoneInfo(name)
    for name in (
        "UTC",
        "Europe/London",
        "America/New_York",
        "Asia/Kolkata",
        "Australia/Lord_Howe",  # a half-hour clock change
        "Pacific/Chatham",
        "America/St_Johns",
    )
]
nows = st.datetimes(
    min_value=dt.datetime(2000, 1, 1), max_value=dt.datetime(2090, 1, 1), timezones=st.just(UTC)
)
pieces = st.sampled_from(
    [
        *ENGLISH,
        "19:00",
        "7pm",
        "7:30pm",
        "19.00",
        "2026-12-03",
        "2027-02-29",
        "3/12",
        "3rd",
        "31",
        "2027",
        "0",
        "12:60",
        "٣",
        ".",
        "t",
        "-",
    ]
)
day_texts = st.one_of(
    st.sampled_from(["", "today", "tomorrow", "tue", "next sun", "sat", "in 3 days", "in 1 week"]),
    st.builds("in {} {}".format, st.integers(0, 1000), st.sampled_from(["days", "weeks"])),
    st.builds(
        "{} {}".format, st.integers(0, 40), st.sampled_from(["jan", "feb", "mar", "oct", "nov"])
    ),
    st.dates(min_value=dt.date(1999, 1, 1), max_value=dt.date(2093, 1, 1)).map(str),
)
time_texts = st.one_of(
    st.builds("{}:{:02}".format, st.integers(0, 25), st.integers(0, 61)),
    st.builds("{}{}".format, st.integers(0, 13), st.sampled_from(["am", "pm", " pm", ""])),
    st.sampled_from(["noon", "1:30", "2:30", "01:59"]),
)
texts = st.one_of(
    st.text(max_size=60),
    st.builds("{} {}".format, day_texts, time_texts),
    st.builds("{} at {}".format, time_texts, day_texts),
    st.lists(st.one_of(pieces, st.text(max_size=4)), max_size=8).map(" ".join),
    st.lists(pieces, max_size=6).map("".join),
)


@pytest.mark.slow  # 1,500 examples
@settings(max_examples=1500, deadline=None)
@given(texts, nows, st.sampled_from(ZONES))
def test_any_text_is_read_or_refused_with_a_reason(
    text: str, now: dt.datetime, tz: ZoneInfo
) -> None:
    try:
        when = read_when(text, now, tz)
    except WhenError as error:
        assert error.reason in REASONS
        return
    assert when.at.tzinfo is UTC
    assert now < when.at <= now + dt.timedelta(days=731)
    assert when.local == when.at.astimezone(tz)


@settings(max_examples=500, deadline=None)
@given(
    nows,
    st.sampled_from(ZONES),
    st.dates(min_value=dt.date(1999, 1, 1), max_value=dt.date(2093, 1, 1)),
    st.times().map(lambda t: t.replace(second=0, microsecond=0)),
)
def test_an_iso_date_keeps_its_wall_time(
    now: dt.datetime, tz: ZoneInfo, day: dt.date, wall: dt.time
) -> None:
    typed = dt.datetime.combine(day, wall)
    try:
        when = read_when(typed.strftime("%Y-%m-%d %H:%M"), now, tz)
    except WhenError as error:
        assert error.reason in {"past", "too_far", "gap"}
        assert error.params["local"] == typed
        return
    assert when.local.replace(tzinfo=None) == typed
    assert when.ambiguous == (
        typed.replace(tzinfo=tz, fold=0).utcoffset() != typed.replace(tzinfo=tz, fold=1).utcoffset()
    )


@settings(max_examples=300, deadline=None)
@given(nows, st.sampled_from(ZONES), st.sampled_from(["weekly", "monthly"]))
def test_recurrences_keep_the_wall_time(now: dt.datetime, tz: ZoneInfo, rule: str) -> None:
    times = recurrences(now, tz, rule, 14)  # type: ignore[arg-type]
    assert len(times) == 14
    assert times == sorted(set(times))
    start = now.astimezone(tz)
    for t in times:
        wall = t.astimezone(tz)
        if rule == "monthly":
            assert wall.day == start.day
        naive = dt.datetime.combine(wall.date(), start.time())
        in_gap = (
            naive.replace(tzinfo=tz).astimezone(UTC).astimezone(tz).replace(tzinfo=None) != naive
        )
        assert in_gap or wall.time() == start.time()


# -- the same words for a weekly time, a time alone and a calendar date -----------------


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("saturday 10:30 Market Cross", (5, dt.time(10, 30), 2)),
        ("Sat. 10:30 Market Cross", (5, dt.time(10, 30), 2)),
        ("saturdays 7pm Market Cross", (5, dt.time(19, 0), 2)),
        ("sat 7 pm Market Cross", (5, dt.time(19, 0), 3)),  # "7 pm" is one time in two words
        ("tues 10:30 pm Library", (1, dt.time(22, 30), 3)),
        ("thurs noon the Cross", (3, dt.time(12, 0), 2)),  # "the" changes nothing: kept
        ("sun 10.30am Cross", (6, dt.time(10, 30), 2)),
        ("sunday ١٠:٣٠ Cross", (6, dt.time(10, 30), 2)),
    ],
)
def test_a_weekly_time_is_read_as_every_other_time(
    typed: str, expected: tuple[int, dt.time, int]
) -> None:
    assert read_weekly(typed.split()) == expected


@pytest.mark.parametrize(
    "typed", ["", "funday 10:30 X", "saturday", "saturday 25:00 X", "sat 7 X", "tomorrow 10:30 X"]
)
def test_a_weekly_time_that_is_not_one_is_refused(typed: str) -> None:
    with pytest.raises(WhenError):
        read_weekly(typed.split())


def test_a_weekday_alone() -> None:
    assert [read_weekday(w) for w in ("mon", "Tuesday", "weds", "THU", "fridays", "sat.")] == [
        0,
        1,
        2,
        3,
        4,
        5,
    ]
    for text in ("", "sat sun", "next sat", "tomorrow", "7pm", "x" * 500):
        with pytest.raises(WhenError):
            read_weekday(text)
    # "saturdays" is not a day to meet on once.
    assert refusal("saturdays 19:00").reason == "unreadable"


def test_a_weekday_in_another_language() -> None:
    spanish = {**ENGLISH, "sabado": Word("weekday", 5), "sabados": Word("weekdays", 5)}
    assert read_weekly("sábados 10:30 Plaza".split(), words=spanish) == (5, dt.time(10, 30), 2)
    with pytest.raises(WhenError):
        read_weekday("sábado")


def test_a_time_of_day_alone() -> None:
    assert read_time_of_day("7:30 pm") == dt.time(19, 30)
    for text in ("tomorrow 7pm", "", "25:00", "sat"):
        with pytest.raises(WhenError):
            read_time_of_day(text)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-12-03", dt.date(2026, 12, 3)),
        ("2026/12/03", dt.date(2026, 12, 3)),
        ("2027.5.6", dt.date(2027, 5, 6)),
        ("٢٠٢٦-١٢-٠٣", dt.date(2026, 12, 3)),
        ("3 dec 2026", dt.date(2026, 12, 3)),
        ("1 dec", dt.date(2026, 12, 1)),  # today counts
        ("30 nov", dt.date(2027, 11, 30)),  # this year's has passed
        ("2020-01-01", dt.date(2020, 1, 1)),  # the caller judges whether it is too early
    ],
)
def test_a_calendar_date_alone(text: str, expected: dt.date) -> None:
    assert read_date(text, NOW.date()) == expected


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("tomorrow", "unreadable"),  # a day counted from today is no fixed date
        ("sat", "unreadable"),
        ("in 3 days", "unreadable"),
        ("2026-12-03 19:00", "unreadable"),
        ("", "unreadable"),
        ("03/12/2026", "ambiguous"),
        ("2026-02-30", "no_such_date"),
        ("20261203", "unreadable"),
    ],
)
def test_what_is_not_a_calendar_date(text: str, reason: str) -> None:
    with pytest.raises(WhenError) as caught:
        read_date(text, NOW.date())
    assert caught.value.reason == reason


def test_a_wall_time_kept_as_text_reads_back() -> None:
    when = read_when("next tue 7pm", NOW, LONDON)
    assert wall_text(when.local) == "2026-12-08 19:00"
    assert read_wall_text(wall_text(when.local)) == dt.datetime(2026, 12, 8, 19, 0)
    assert read_when(wall_text(when.local), NOW, LONDON) == when
    for text in ("2026-12-08T19:00", "2026-12-08 19:00:00", "Fri 04 Dec 19:00", ""):
        with pytest.raises(ValueError):
            read_wall_text(text)
