"""Dates and times as people say them: the one grammar of every date the command line takes.

Pure functions of the text and a reference moment (by default the current one); every day
is a local date and every time a local time (the machine's time zone, ``$TZ``), never a
UTC one. Nothing here touches the network or the store.

**Days** (:func:`parse_day`), case-insensitive:

* ``2026-12-07`` (ISO 8601);
* ``today``, ``yesterday``, ``tomorrow``;
* a weekday, ``monday`` or ``mon``: the most recent one, today included (on a Monday,
  ``monday`` is today); ``last monday``: the one before today (on a Monday, a week ago);
* ``-3d`` or ``3 days ago``; ``-2w`` or ``2 weeks ago`` (the same weekday).

**Periods** (:func:`parse_period`): any day (a period of one day), and

* ``this week`` / ``week``, ``last week`` (weeks start on Monday, as in ISO 8601);
* ``this month`` / ``month``, ``last month``, ``2026-11`` (a month), ``november`` or
  ``nov`` (the most recent November, this one included);
* ``this year`` / ``year``, ``last year``;
* ``last 7 days`` (today and the six days before it).

Where a command wants one day from a period (``--from``, ``--to``), it takes the period's
first or last day: ``--from "last week"`` starts on last week's Monday, ``--to "last
week"`` ends on its Sunday. Where it wants exactly one day (``--date``), a longer period
is refused.

**Moments** (:func:`parse_moment`): ``now``; a time of day, ``17:30``, ``9:05``,
``17:30:15``, ``5pm``, ``5:30pm``, ``noon`` (today at that time); a day and a time,
``yesterday 17:30``, ``monday 9am``, ``2026-12-06 09:00`` or ``2026-12-06T09:00``; or a
time ago, ``-15m``, ``-1h30m``, ``15 min ago`` (any duration of
:func:`pymesync.durations.parse_duration`). A local time that a daylight-saving change
skips is refused; one that it repeats is the earlier of the two.

No library is used: dateparser took 224 ms to import and read its first date on the
machine this was written on (``pymesync log`` must answer within 250 ms), and
parsedatetime (last release 2020) reads ``monday`` as the next Monday and gives periods as
single moments. Every form above is tested (``tests/cli/test_when.py``).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from .durations import DurationError, local_today, parse_duration

__all__ = [
    "DAY_FORMS",
    "MOMENT_FORMS",
    "PERIOD_FORMS",
    "DateError",
    "Period",
    "parse_day",
    "parse_moment",
    "parse_period",
]

#: One line each, for error messages and help texts.
DAY_FORMS = "YYYY-MM-DD, today, yesterday, a weekday (monday), last monday, -3d, 3 days ago"
PERIOD_FORMS = (
    f"{DAY_FORMS}, this week, last week, this month, last month, YYYY-MM, november,"
    " this year, last 7 days"
)
MOMENT_FORMS = "now, 17:30, 5pm, 5:30pm, noon, yesterday 17:30, 2026-12-06 09:00, -15m, 15 min ago"

_WEEKDAYS = {
    name: number
    for number, names in enumerate(
        (
            ("monday", "mon"),
            ("tuesday", "tue", "tues"),
            ("wednesday", "wed"),
            ("thursday", "thu", "thur", "thurs"),
            ("friday", "fri"),
            ("saturday", "sat"),
            ("sunday", "sun"),
        )
    )
    for name in names
}
_MONTHS = {
    name: number
    for number, names in enumerate(
        (
            ("january", "jan"),
            ("february", "feb"),
            ("march", "mar"),
            ("april", "apr"),
            ("may",),
            ("june", "jun"),
            ("july", "jul"),
            ("august", "aug"),
            ("september", "sep", "sept"),
            ("october", "oct"),
            ("november", "nov"),
            ("december", "dec"),
        ),
        start=1,
    )
    for name in names
}
_ISO_DAY = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})")
_ISO_MONTH = re.compile(r"([0-9]{4})-([0-9]{2})")
_AGO = re.compile(r"(?:-([0-9]+)\s*([dw])|([0-9]+)\s+(days?|weeks?)\s+ago)")
_LAST_DAYS = re.compile(r"last\s+([0-9]+)\s+days?")
_CLOCK = re.compile(r"([0-9]{1,2}):([0-9]{2})(?::([0-9]{2}))?\s*(am|pm)?")
_HOUR = re.compile(r"([0-9]{1,2})\s*(am|pm)")
_ISO_T = re.compile(r"^([0-9]{4}-[0-9]{2}-[0-9]{2})t")
_MOMENT_AGO = re.compile(r"(?:-(.+)|(.+?)\s+ago)")
#: Days further away than this are refused (a typo such as ``-3000d``, not a date).
_MAX_DAYS_AGO = 100 * 366


class DateError(DurationError):
    """A day, period or time the grammar does not accept; the message is one clear line."""


@dataclass(frozen=True)
class Period:
    """The days from ``first`` to ``last``, both included."""

    first: dt.date
    last: dt.date

    @property
    def days(self) -> int:
        """How many days the period has."""
        return (self.last - self.first).days + 1

    def __contains__(self, day: object) -> bool:
        return isinstance(day, dt.date) and self.first <= day <= self.last


def _words(text: str) -> str:
    return " ".join(text.strip().lower().split())


def _day(raw: str, today: dt.date) -> dt.date | None:
    """The day ``raw`` (already lower-cased, single-spaced) names, or None."""
    fixed = {"today": 0, "yesterday": 1, "tomorrow": -1}
    if raw in fixed:
        return today - dt.timedelta(days=fixed[raw])
    if match := _ISO_DAY.fullmatch(raw):
        try:
            return dt.date(*(int(part) for part in match.groups()))
        except ValueError:
            raise DateError(f"not a date: {raw!r} (no such day)") from None
    last, _, name = raw.rpartition(" ")
    if name in _WEEKDAYS and last in ("", "last"):
        back = (today.weekday() - _WEEKDAYS[name]) % 7
        if last and back == 0:
            back = 7
        return today - dt.timedelta(days=back)
    if match := _AGO.fullmatch(raw):
        count = int(match.group(1) or match.group(3))
        unit = (match.group(2) or match.group(4))[0]
        days = count * (7 if unit == "w" else 1)
        if days > _MAX_DAYS_AGO:
            raise DateError(f"not a date: {raw!r} is more than 100 years ago")
        return today - dt.timedelta(days=days)
    return None


def _month(year: int, month: int) -> Period:
    first = dt.date(year, month, 1)
    after = dt.date(year + month // 12, month % 12 + 1, 1)
    return Period(first, after - dt.timedelta(days=1))


def _period(raw: str, today: dt.date) -> Period | None:
    words = raw.split(" ")
    which = words[0] if len(words) == 2 and words[0] in ("this", "last") else None
    unit = words[-1] if which or len(words) == 1 else None
    if unit == "week":
        monday = today - dt.timedelta(days=today.weekday() + (7 if which == "last" else 0))
        return Period(monday, monday + dt.timedelta(days=6))
    if unit == "month":
        if which == "last":
            before = today.replace(day=1) - dt.timedelta(days=1)
            return _month(before.year, before.month)
        return _month(today.year, today.month)
    if unit == "year":
        year = today.year - (1 if which == "last" else 0)
        return Period(dt.date(year, 1, 1), dt.date(year, 12, 31))
    if raw in _MONTHS:
        month = _MONTHS[raw]
        return _month(today.year - (1 if month > today.month else 0), month)
    if match := _ISO_MONTH.fullmatch(raw):
        year, month = (int(part) for part in match.groups())
        if not 1 <= month <= 12 or year < 1:
            raise DateError(f"not a month: {raw!r} (no such month)")
        return _month(year, month)
    if match := _LAST_DAYS.fullmatch(raw):
        count = int(match.group(1))
        if not 1 <= count <= _MAX_DAYS_AGO:
            raise DateError(f"not a period: {raw!r} (give 1 to {_MAX_DAYS_AGO} days)")
        return Period(today - dt.timedelta(days=count - 1), today)
    return None


def parse_period(text: str, today: dt.date | None = None) -> Period:
    """The days ``text`` names (see the module docstring), relative to ``today`` (by
    default the local date). Raises :class:`DateError` for anything else."""
    raw = _words(text)
    base = today or local_today()
    day = _day(raw, base)
    if day is not None:
        return Period(day, day)
    period = _period(raw, base)
    if period is None:
        raise DateError(f"not a date: {text.strip()!r} (use {PERIOD_FORMS})")
    return period


def parse_day(text: str, today: dt.date | None = None) -> dt.date:
    """The one day ``text`` names (see the module docstring), relative to ``today`` (by
    default the local date). A period of more than one day (``last week``) is refused
    with a :class:`DateError` that says so."""
    period = parse_period(text, today)
    if period.days != 1:
        raise DateError(
            f"{text.strip()!r} is {period.days} days ({period.first} to {period.last}):"
            " give one day"
        )
    return period.first


def _clock(raw: str) -> dt.time | None:
    if raw == "noon":
        return dt.time(12, 0)
    hour: int
    minute = second = 0
    if match := _CLOCK.fullmatch(raw):
        hour, minute = int(match.group(1)), int(match.group(2))
        second = int(match.group(3) or 0)
        half = match.group(4)
    elif match := _HOUR.fullmatch(raw):
        hour, half = int(match.group(1)), match.group(2)
    else:
        return None
    if half:
        if not 1 <= hour <= 12:
            raise DateError(f"not a time: {raw!r} (hours 1-12 with am/pm)")
        hour = hour % 12 + (12 if half == "pm" else 0)
    if hour > 23 or minute > 59 or second > 59:
        raise DateError(f"not a time: {raw!r} (no such time of day)")
    return dt.time(hour, minute, second)


def _local(day: dt.date, clock: dt.time) -> dt.datetime:
    """``day`` at ``clock`` in the machine's time zone, as an aware datetime; a time that
    a daylight-saving change skips is refused (one that it repeats is the earlier)."""
    wall = dt.datetime.combine(day, clock)
    moment = wall.astimezone()
    if moment.replace(tzinfo=None) != wall:
        raise DateError(
            f"{wall:%Y-%m-%d %H:%M} does not exist here: the clocks skip it"
            " (daylight-saving time); give a time before or after"
        )
    return moment


def parse_moment(text: str, now: dt.datetime | None = None) -> dt.datetime:
    """The moment ``text`` names (see the module docstring), as an aware local datetime,
    relative to ``now`` (by default the current time). Raises :class:`DateError`."""
    raw = _ISO_T.sub(r"\1 ", _words(text))
    moment = (now or dt.datetime.now(dt.timezone.utc)).astimezone()
    if raw == "now":
        return moment
    clock = _clock(raw)
    if clock is not None:
        return _local(moment.date(), clock)
    if match := _MOMENT_AGO.fullmatch(raw):
        try:
            return moment - dt.timedelta(seconds=parse_duration(match.group(1) or match.group(2)))
        except DurationError:
            pass  # not a duration ("-3d" is a day): the error below says what is accepted
    # A day and a time: the time is the last word (``5 pm`` counts as one).
    for split in (2, 1):
        words = raw.split(" ")
        if len(words) <= split:
            continue
        day_text, clock_text = " ".join(words[:-split]), " ".join(words[-split:])
        clock = _clock(clock_text)
        if clock is not None:
            day = _day(day_text, moment.date())
            if day is None:
                raise DateError(f"not a day: {day_text!r} in {text.strip()!r} (use {DAY_FORMS})")
            return _local(day, clock)
    raise DateError(f"not a time: {text.strip()!r} (use {MOMENT_FORMS})")
