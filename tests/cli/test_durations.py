"""The command line's friendly duration and day grammar."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pymesync.durations import DurationError, explain, format_hm, parse_duration
from pymesync.when import parse_day


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("1h30m", 5400),
        ("1H30M", 5400),
        ("1h 30m", 5400),
        (" 1h30m ", 5400),
        ("90m", 5400),
        ("2h", 7200),
        ("1.5h", 5400),
        (".5h", 1800),
        ("0.75h", 2700),
        ("5400", 5400),
        ("1:30", 5400),
        ("0:05", 300),
        ("25:00", 90000),
        ("45s", 45),
        ("1h0m30s", 3630),
        ("2 hours", 7200),
        ("30 min", 1800),
        ("1 hour 15 minutes", 4500),
        ("1hr 5mins 10secs", 3910),
        ("1.5m", 90),
        ("3h30m", 12600),  # the library's strict grammar still reads the same
        ("23h59m", 86340),
        ("0h30m", 1800),
    ],
)
def test_accepted(text: str, seconds: int) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("", "empty duration"),
        ("   ", "empty duration"),
        ("0", "more than zero"),
        ("0h0m", "more than zero"),
        ("1x", "unknown unit 'x'"),
        ("abc", "not a duration"),
        ("30m1h", "in that order"),
        ("1h1h", "in that order"),
        ("1h30", "not a duration"),
        ("1:60", "not a duration"),
        ("-1h", "not a duration"),
        ("1.0001m", "not a whole number of seconds"),
        ("1..5h", "not a duration"),
        ("1,5h", "not a duration"),
    ],
)
def test_refused_with_one_clear_line(text: str, fragment: str) -> None:
    with pytest.raises(DurationError) as caught:
        parse_duration(text)
    message = str(caught.value)
    assert fragment in message
    assert "\n" not in message


def test_explain_says_what_was_understood() -> None:
    assert explain("1h30m", 5400) == "1h30m = 5400 s"
    assert explain("90m", 5400) == "90m = 5400 s (1:30)"
    assert explain("1.5h", 5400) == "1.5h = 5400 s (1:30)"
    assert explain("5400", 5400) == "5400 s = 1:30"
    assert explain("2h", 7200) == "2h = 7200 s"
    assert explain("45s", 45) == "45s = 45 s"
    assert explain("1:30", 5400) == "1:30 = 5400 s"


def test_format_hm() -> None:
    assert format_hm(0) == "0:00"
    assert format_hm(59) == "0:00"
    assert format_hm(5400) == "1:30"
    assert format_hm(90000) == "25:00"
    assert format_hm(-600) == "-0:10"


@given(st.integers(min_value=1, max_value=10**7))
def test_seconds_round_trip(seconds: int) -> None:
    assert parse_duration(str(seconds)) == seconds


@given(st.integers(min_value=0, max_value=500), st.integers(min_value=0, max_value=59))
def test_units_and_colon_agree(hours: int, minutes: int) -> None:
    total = hours * 3600 + minutes * 60
    if total == 0:
        with pytest.raises(DurationError):
            parse_duration(f"{hours}h{minutes}m")
        return
    assert parse_duration(f"{hours}h{minutes}m") == total
    assert parse_duration(f"{hours}:{minutes:02d}") == total
    assert parse_duration(f"{hours * 60 + minutes}m") == total
    assert parse_duration(format_hm(total)) == total


@given(st.text(max_size=12))
def test_anything_parses_or_raises_duration_error(text: str) -> None:
    try:
        seconds = parse_duration(text)
    except DurationError as error:
        assert "\n" not in str(error).replace(repr(text.strip()), "")
    else:
        assert isinstance(seconds, int) and seconds > 0


def test_days() -> None:
    today = dt.date(2026, 3, 1)
    assert parse_day("today", today) == today
    assert parse_day("TODAY", today) == today
    assert parse_day("yesterday", today) == dt.date(2026, 2, 28)
    assert parse_day("2016-05-02", today) == dt.date(2016, 5, 2)
    assert parse_day("today") == dt.date.today()
    for bad in ("2016-02-30", "2016-5-2", "", "02/05/2016", "05/02/2016"):
        with pytest.raises(DurationError, match="not a date"):
            parse_day(bad, today)
