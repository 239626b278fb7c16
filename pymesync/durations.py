"""The command line's friendly grammar for durations and days.

The library keeps the old strict duration grammar (``<H>h<M>m``, or whole seconds); the
command line accepts what people type and says what it understood:

* plain seconds: ``5400``;
* hours and minutes with a colon: ``1:30`` (minutes 00-59);
* units, each at most once and in the order hours, minutes, seconds, with or without
  spaces, decimals allowed: ``1h30m``, ``90m``, ``2h``, ``1.5h``, ``1h 30m``, ``45s``,
  ``2 hours``, ``30 min``.

A duration must come to a whole, positive number of seconds. Days, periods and times of
day are :mod:`pymesync.when`'s; :func:`local_today` is the local date they start from.
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal, InvalidOperation

__all__ = [
    "DurationError",
    "explain",
    "format_hm",
    "local_today",
    "parse_duration",
    "query_start",
]

_UNITS: dict[str, int] = {
    "h": 3600,
    "hr": 3600,
    "hrs": 3600,
    "hour": 3600,
    "hours": 3600,
    "m": 60,
    "min": 60,
    "mins": 60,
    "minute": 60,
    "minutes": 60,
    "s": 1,
    "sec": 1,
    "secs": 1,
    "second": 1,
    "seconds": 1,
}
_NUMBER = r"[0-9]+(?:\.[0-9]*)?|\.[0-9]+"
_PART = re.compile(rf"\s*({_NUMBER})\s*([a-z]+)\s*")
_COLON = re.compile(r"([0-9]+):([0-5][0-9])")
_SECONDS = re.compile(r"[0-9]+")
_HELP = "use e.g. 1h30m, 90m, 2h, 1.5h, 1:30 or seconds"


class DurationError(ValueError):
    """A duration or day the grammar does not accept; the message is one clear line."""


def parse_duration(text: str) -> int:
    """The number of seconds ``text`` stands for (see the module docstring).

    Raises :class:`DurationError` for anything else, for zero, and for amounts that are
    not a whole number of seconds.
    """
    raw = text.strip().lower()
    if not raw:
        raise DurationError(f"empty duration: {_HELP}")
    if _SECONDS.fullmatch(raw):
        seconds = int(raw)
    elif match := _COLON.fullmatch(raw):
        seconds = int(match.group(1)) * 3600 + int(match.group(2)) * 60
    else:
        seconds = _parse_units(text, raw)
    if seconds <= 0:
        raise DurationError(f"duration must be more than zero: {text.strip()!r}")
    return seconds


def _parse_units(text: str, raw: str) -> int:
    total = Decimal(0)
    position = 0
    last_size = None
    while position < len(raw):
        match = _PART.match(raw, position)
        if match is None or match.end() == position:
            raise DurationError(f"not a duration: {text.strip()!r} ({_HELP})")
        number, unit = match.groups()
        size = _UNITS.get(unit)
        if size is None:
            raise DurationError(f"unknown unit {unit!r} in {text.strip()!r} ({_HELP})")
        if last_size is not None and size >= last_size:
            raise DurationError(
                f"not a duration: {text.strip()!r} (give hours, minutes, seconds once each,"
                " in that order)"
            )
        try:
            total += Decimal(number) * size
        except InvalidOperation:  # pragma: no cover - the regex only lets numbers through
            raise DurationError(f"not a duration: {text.strip()!r} ({_HELP})") from None
        last_size = size
        position = match.end()
    if total != total.to_integral_value():
        raise DurationError(
            f"{text.strip()!r} is {total.normalize():f} seconds: not a whole number of seconds"
        )
    return int(total)


def format_hm(seconds: int) -> str:
    """``seconds`` as ``H:MM`` (rounded down to the minute; ``5400`` gives ``1:30``)."""
    sign = "-" if seconds < 0 else ""
    minutes = abs(int(seconds)) // 60
    return f"{sign}{minutes // 60}:{minutes % 60:02d}"


def explain(text: str, seconds: int) -> str:
    """What the command line understood, e.g. ``1h30m = 5400 s``, or ``90m = 5400 s
    (1:30)`` when the reading is not obvious from the text."""
    shown = text.strip()
    if _SECONDS.fullmatch(shown):
        return f"{seconds} s = {format_hm(seconds)}"
    line = f"{shown} = {seconds} s"
    hm = format_hm(seconds)
    if seconds % 60 == 0 and shown.lower() not in {hm, _hm_words(seconds)}:
        line += f" ({hm})"
    return line


def _hm_words(seconds: int) -> str:
    hours, minutes = divmod(seconds // 60, 60)
    if hours and minutes:
        return f"{hours}h{minutes}m"
    return f"{hours}h" if hours else f"{minutes}m"


def local_today(now: dt.datetime | None = None) -> dt.date:
    """The local date (in the time zone of the machine, ``$TZ``) at ``now`` (default:
    the current time). Every day a user types is a local date."""
    moment = now or dt.datetime.now(dt.timezone.utc)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.timezone.utc)
    return moment.astimezone().date()


def query_start(first: dt.date, now: dt.datetime | None = None) -> dt.date:
    """The ``start`` to send for a query whose first day is ``first``.

    TimeSync refuses a ``start`` after its own today, a UTC date: a local date east of
    UTC (``today`` in Kiritimati, UTC+14) is often "in the future" for it. The server
    is asked from the day before the UTC date at the latest (one day of slack for a
    clock that differs from the server's), and the caller drops the entries dated
    before ``first`` itself.
    """
    moment = now or dt.datetime.now(dt.timezone.utc)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.timezone.utc)
    latest = moment.astimezone(dt.timezone.utc).date() - dt.timedelta(days=1)
    return min(first, latest)
