"""The date grammar (pymesync.when): every form, every refusal, local time zones."""

from __future__ import annotations

import datetime as dt

import pytest
from freezegun import freeze_time

from pymesync import when
from pymesync.durations import DurationError

WEDNESDAY = dt.date(2026, 12, 9)
D = dt.date


@pytest.mark.parametrize(
    ("text", "first", "last"),
    [
        ("2026-12-07", D(2026, 12, 7), D(2026, 12, 7)),
        ("today", WEDNESDAY, WEDNESDAY),
        ("  Today ", WEDNESDAY, WEDNESDAY),
        ("yesterday", D(2026, 12, 8), D(2026, 12, 8)),
        ("tomorrow", D(2026, 12, 10), D(2026, 12, 10)),
        ("monday", D(2026, 12, 7), D(2026, 12, 7)),
        ("mon", D(2026, 12, 7), D(2026, 12, 7)),
        ("wednesday", WEDNESDAY, WEDNESDAY),  # the most recent one: today
        ("last wednesday", D(2026, 12, 2), D(2026, 12, 2)),
        ("last   Monday", D(2026, 12, 7), D(2026, 12, 7)),
        ("thursday", D(2026, 12, 3), D(2026, 12, 3)),
        ("thurs", D(2026, 12, 3), D(2026, 12, 3)),
        ("sun", D(2026, 12, 6), D(2026, 12, 6)),
        ("-3d", D(2026, 12, 6), D(2026, 12, 6)),
        ("- 3d", None, None),
        ("3 days ago", D(2026, 12, 6), D(2026, 12, 6)),
        ("1 day ago", D(2026, 12, 8), D(2026, 12, 8)),
        ("-2w", D(2026, 11, 25), D(2026, 11, 25)),
        ("2 weeks ago", D(2026, 11, 25), D(2026, 11, 25)),
        ("-0d", WEDNESDAY, WEDNESDAY),
        ("this week", D(2026, 12, 7), D(2026, 12, 13)),
        ("week", D(2026, 12, 7), D(2026, 12, 13)),
        ("last week", D(2026, 11, 30), D(2026, 12, 6)),
        ("this month", D(2026, 12, 1), D(2026, 12, 31)),
        ("month", D(2026, 12, 1), D(2026, 12, 31)),
        ("last month", D(2026, 11, 1), D(2026, 11, 30)),
        ("2026-02", D(2026, 2, 1), D(2026, 2, 28)),
        ("2024-02", D(2024, 2, 1), D(2024, 2, 29)),
        ("2026-12", D(2026, 12, 1), D(2026, 12, 31)),
        ("november", D(2026, 11, 1), D(2026, 11, 30)),
        ("dec", D(2026, 12, 1), D(2026, 12, 31)),  # this month included
        ("january", D(2026, 1, 1), D(2026, 1, 31)),
        ("this year", D(2026, 1, 1), D(2026, 12, 31)),
        ("last year", D(2025, 1, 1), D(2025, 12, 31)),
        ("last 7 days", D(2026, 12, 3), WEDNESDAY),
        ("last 1 day", WEDNESDAY, WEDNESDAY),
    ],
)
def test_periods(text: str, first: dt.date | None, last: dt.date | None) -> None:
    if first is None:
        with pytest.raises(when.DateError):
            when.parse_period(text, WEDNESDAY)
        return
    period = when.parse_period(text, WEDNESDAY)
    assert (period.first, period.last) == (first, last)
    assert period.days == (last - first).days + 1  # type: ignore[operator]
    assert first in period and last in period
    assert first - dt.timedelta(days=1) not in period  # type: ignore[operator]


def test_last_month_in_january_and_last_week_across_a_year() -> None:
    assert when.parse_period("last month", D(2027, 1, 15)) == when.Period(
        D(2026, 12, 1), D(2026, 12, 31)
    )
    assert when.parse_period("last week", D(2027, 1, 4)) == when.Period(
        D(2026, 12, 28), D(2027, 1, 3)
    )
    assert when.parse_period("december", D(2027, 1, 4)) == when.Period(
        D(2026, 12, 1), D(2026, 12, 31)
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "not a date: ''"),
        ("blah", "not a date: 'blah' (use YYYY-MM-DD, today"),
        ("2026-02-30", "not a date: '2026-02-30' (no such day)"),
        ("0000-01-01", "no such day"),
        ("2026-13", "not a month: '2026-13' (no such month)"),
        ("2026-00", "no such month"),
        ("last 0 days", "not a period: 'last 0 days' (give 1 to"),
        ("last 99999999 days", "give 1 to"),
        ("-99999999d", "more than 100 years ago"),
        ("next week", "not a date"),
        ("last", "not a date"),
        ("monday monday", "not a date"),
        ("\x00", "not a date"),
        ("\udcff", "not a date"),
        ("١٢-١٢-٢٠٢٦", "not a date"),  # Arabic-Indic digits are not ISO dates
    ],
)
def test_refused_with_one_line(text: str, message: str) -> None:
    with pytest.raises(when.DateError) as caught:
        when.parse_period(text, WEDNESDAY)
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)
    assert isinstance(caught.value, DurationError)  # the command line's one grammar error


def test_a_day_is_one_day() -> None:
    assert when.parse_day("last friday", WEDNESDAY) == D(2026, 12, 4)
    one_day = r"'last week' is 7 days \(2026-11-30 to 2026-12-06\): give one day"
    with pytest.raises(when.DateError, match=one_day):
        when.parse_day("last week", WEDNESDAY)
    assert when.parse_day("last 1 day", WEDNESDAY) == WEDNESDAY


NOON_UTC = dt.datetime(2026, 12, 9, 12, 0, tzinfo=dt.timezone.utc)


@pytest.mark.parametrize("zone", ["UTC"], indirect=True)
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("now", "2026-12-09T12:00:00"),
        ("17:30", "2026-12-09T17:30:00"),
        ("9:05", "2026-12-09T09:05:00"),
        ("17:30:15", "2026-12-09T17:30:15"),
        ("5pm", "2026-12-09T17:00:00"),
        ("5 PM", "2026-12-09T17:00:00"),
        ("5:30pm", "2026-12-09T17:30:00"),
        ("12am", "2026-12-09T00:00:00"),
        ("12pm", "2026-12-09T12:00:00"),
        ("12:15am", "2026-12-09T00:15:00"),
        ("noon", "2026-12-09T12:00:00"),
        ("yesterday 17:30", "2026-12-08T17:30:00"),
        ("monday 9am", "2026-12-07T09:00:00"),
        ("last wed 5 pm", "2026-12-02T17:00:00"),
        ("2026-12-06 09:00", "2026-12-06T09:00:00"),
        ("2026-12-06T09:00", "2026-12-06T09:00:00"),
        ("-15m", "2026-12-09T11:45:00"),
        ("-1h30m", "2026-12-09T10:30:00"),
        ("15 min ago", "2026-12-09T11:45:00"),
        ("2 hours ago", "2026-12-09T10:00:00"),
    ],
)
def test_moments(zone: str, text: str, expected: str) -> None:
    moment = when.parse_moment(text, NOON_UTC)
    assert moment.tzinfo is not None
    assert moment.replace(tzinfo=None).isoformat() == expected


@pytest.mark.parametrize("zone", ["UTC"], indirect=True)
@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "not a time: ''"),
        ("-3d", "not a time: '-3d' (use now, 17:30"),
        ("13:60", "no such time of day"),
        ("24:00", "no such time of day"),
        ("13pm", "hours 1-12 with am/pm"),
        ("0am", "hours 1-12 with am/pm"),
        ("foo 5pm", "not a day: 'foo' in 'foo 5pm'"),
        ("last week 5pm", "not a day: 'last week'"),
        ("yesterday", "not a time"),
        ("-0m", "not a time"),
        ("soon ago", "not a time"),
        ("\x00", "not a time"),
    ],
)
def test_moments_refused(zone: str, text: str, message: str) -> None:
    with pytest.raises(when.DateError, match=None) as caught:
        when.parse_moment(text, NOON_UTC)
    assert message in str(caught.value)


@pytest.mark.parametrize(
    ("zone", "utc_now", "text", "local"),
    [
        # 23:30 UTC on the 9th is 12:30 on the 10th in Kiritimati (UTC+14) ...
        ("Pacific/Kiritimati", "2026-12-09T23:30:00", "9am", "2026-12-10T09:00:00+14:00"),
        ("Pacific/Kiritimati", "2026-12-09T23:30:00", "yesterday 9am", "2026-12-09T09:00:00+14:00"),
        # ... and 12:30 on the 9th in Pago Pago (UTC-11).
        ("Pacific/Pago_Pago", "2026-12-09T23:30:00", "9am", "2026-12-09T09:00:00-11:00"),
        ("Pacific/Pago_Pago", "2026-12-09T23:30:00", "-45m", "2026-12-09T11:45:00-11:00"),
        # Berlin's clocks go forward at 02:00 on 2027-03-28: 03:30 is after the change.
        ("Europe/Berlin", "2027-03-28T12:00:00", "03:30", "2027-03-28T03:30:00+02:00"),
        ("Europe/Berlin", "2027-03-28T12:00:00", "01:30", "2027-03-28T01:30:00+01:00"),
        # ... and back at 03:00 on 2027-10-31: 02:30 happens twice, the first is taken.
        ("Europe/Berlin", "2027-10-31T12:00:00", "02:30", "2027-10-31T02:30:00+02:00"),
    ],
    indirect=["zone"],
)
def test_moments_are_local_times(zone: str, utc_now: str, text: str, local: str) -> None:
    now = dt.datetime.fromisoformat(utc_now).replace(tzinfo=dt.timezone.utc)
    assert when.parse_moment(text, now).isoformat() == local
    with freeze_time(now):  # the default "now" is the current time
        assert when.parse_moment(text).isoformat() == local


@pytest.mark.parametrize(
    ("zone", "utc_now", "today"),
    [
        ("Pacific/Kiritimati", "2026-12-09T10:30:00", "2026-12-10"),
        ("Pacific/Pago_Pago", "2026-12-09T10:30:00", "2026-12-08"),
    ],
    indirect=["zone"],
)
def test_days_default_to_the_local_date(zone: str, utc_now: str, today: str) -> None:
    with freeze_time(utc_now):
        assert when.parse_day("today").isoformat() == today
        assert when.parse_period("this week").first.weekday() == 0


@pytest.mark.parametrize("zone", ["Europe/Berlin"], indirect=True)
def test_a_time_the_clocks_skip_is_refused(zone: str) -> None:
    now = dt.datetime(2027, 3, 28, 12, tzinfo=dt.timezone.utc)
    with pytest.raises(when.DateError, match="2027-03-28 02:30 does not exist here"):
        when.parse_moment("02:30", now)
    assert when.parse_moment("-30m", now).isoformat() == "2027-03-28T13:30:00+02:00"
