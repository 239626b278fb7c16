"""Injectable clocks: the emulator reads "now" (token times, dates) from one of these."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta, timezone

Clock = Callable[[], datetime]
"""A callable returning the current time; naive datetimes are taken as UTC."""


def utc_now() -> datetime:
    """Return the real current time, timezone-aware in UTC."""
    return datetime.now(timezone.utc)


def as_utc(moment: datetime) -> datetime:
    """Return ``moment`` as an aware UTC datetime (naive values are taken as UTC)."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc)


def today_of(moment: datetime) -> str:
    """Return the ``YYYY-MM-DD`` UTC date of ``moment``."""
    return as_utc(moment).date().isoformat()


def epoch_ms(moment: datetime) -> int:
    """Return ``moment`` as integer milliseconds since the Unix epoch."""
    return int(as_utc(moment).timestamp() * 1000)


class FrozenClock:
    """A clock that always returns the same instant until it is advanced."""

    def __init__(self, now: datetime) -> None:
        """Freeze the clock at ``now``."""
        self.now = as_utc(now)

    def __call__(self) -> datetime:
        """Return the frozen instant."""
        return self.now

    def advance(self, seconds: float) -> None:
        """Move the frozen instant forward by ``seconds`` (negative moves it back)."""
        self.now = self.now + timedelta(seconds=seconds)


class OffsetClock:
    """A clock that runs with real time but shifted by a fixed offset."""

    def __init__(self, base: Clock, seconds: float) -> None:
        """Shift ``base`` by ``seconds``."""
        self.base = base
        self.offset = timedelta(seconds=seconds)

    def __call__(self) -> datetime:
        """Return the shifted current time."""
        return as_utc(self.base()) + self.offset

    def advance(self, seconds: float) -> None:
        """Add ``seconds`` to the offset."""
        self.offset += timedelta(seconds=seconds)
