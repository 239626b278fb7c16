"""Click parameter types for the command line's grammar of durations
(:mod:`pymesync.durations`) and of days, periods and times of day (:mod:`pymesync.when`,
the same forms for every command that takes a date): a value is checked while click
parses the command line, before the command runs, and a value the grammar refuses is one
clear line with exit status 1 (the grammar's own message, as for any other bad input)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NoReturn

import click

from pymesync import durations, when

__all__ = [
    "DAY",
    "DURATION",
    "FIRST_DAY",
    "LAST_DAY",
    "MOMENT",
    "PERIOD",
    "Day",
    "Duration",
    "DurationType",
    "GrammarError",
    "Moment",
    "PeriodDay",
    "PeriodType",
    "joined",
]


if TYPE_CHECKING:  # (generic for recent click's type checking; not at run time in click 8.1)
    _ParamType = click.ParamType[Any, Any]
else:
    _ParamType = click.ParamType


class GrammarError(click.BadParameter):
    """A duration or day the grammar refuses (the group shows its message as it is)."""


@dataclass(frozen=True)
class Duration:
    """A duration as given (``text``) and the number of seconds it stands for."""

    text: str
    seconds: int

    @classmethod
    def parse(cls, text: str) -> Duration:
        """``text`` read by :func:`pymesync.durations.parse_duration` (which raises
        :class:`~pymesync.durations.DurationError`)."""
        return cls(text, durations.parse_duration(text))

    def explain(self) -> str:
        """What the command line understood (``1h30m = 5400 s``)."""
        return durations.explain(self.text, self.seconds)


class Grammar(_ParamType):
    """A parameter type whose refusals are :class:`GrammarError`."""

    def fail(
        self, message: str, param: click.Parameter | None = None, ctx: click.Context | None = None
    ) -> NoReturn:
        """Refuse the value with ``message``."""
        raise GrammarError(message, ctx=ctx, param=param)


class DurationType(Grammar):
    """``1h30m``, ``90m``, ``2h``, ``1.5h``, ``1:30``, seconds (see
    :mod:`pymesync.durations`) as a :class:`Duration`."""

    name = "duration"

    def convert(
        self, value: Any, param: click.Parameter | None, ctx: click.Context | None
    ) -> Duration:
        """The :class:`Duration` ``value`` stands for."""
        if isinstance(value, Duration):
            return value
        try:
            return Duration.parse(str(value))
        except durations.DurationError as error:
            self.fail(str(error), param, ctx)


class Day(Grammar):
    """One day as people say it (``2026-12-07``, ``today``, ``yesterday``, ``monday``,
    ``last friday``, ``-3d``: :func:`pymesync.when.parse_day`, local dates) as a
    ``date``; a longer period (``last week``) is refused."""

    name = "day"

    def convert(
        self, value: Any, param: click.Parameter | None, ctx: click.Context | None
    ) -> dt.date:
        """The day ``value`` names."""
        if isinstance(value, dt.date):
            return value
        try:
            return when.parse_day(str(value))
        except durations.DurationError as error:
            self.fail(str(error), param, ctx)


class PeriodType(Grammar):
    """Days as people say them (any day, ``this week``, ``last month``, ``2026-11``,
    ``last 7 days``: :func:`pymesync.when.parse_period`) as a
    :class:`~pymesync.when.Period`."""

    name = "period"

    def convert(
        self, value: Any, param: click.Parameter | None, ctx: click.Context | None
    ) -> when.Period:
        """The period ``value`` names."""
        if isinstance(value, when.Period):
            return value
        try:
            return when.parse_period(str(value))
        except durations.DurationError as error:
            self.fail(str(error), param, ctx)


class PeriodDay(Grammar):
    """The first (``--from``) or last (``--to``) day of a period as people say it:
    ``--from "last week"`` is last week's Monday, ``--to "last week"`` its Sunday."""

    name = "day"

    def __init__(self, last: bool) -> None:
        self.last = last

    def convert(
        self, value: Any, param: click.Parameter | None, ctx: click.Context | None
    ) -> dt.date:
        """The first or last day of the period ``value`` names."""
        if isinstance(value, dt.date):
            return value
        period = PERIOD.convert(value, param, ctx)
        return period.last if self.last else period.first


class Moment(Grammar):
    """A time as people say it (``now``, ``17:30``, ``5pm``, ``yesterday 17:30``,
    ``-15m``: :func:`pymesync.when.parse_moment`, local times) as an aware datetime."""

    name = "time"

    def convert(
        self, value: Any, param: click.Parameter | None, ctx: click.Context | None
    ) -> dt.datetime:
        """The moment ``value`` names."""
        if isinstance(value, dt.datetime):
            return value
        try:
            return when.parse_moment(str(value))
        except durations.DurationError as error:
            self.fail(str(error), param, ctx)


#: The type of a ``--duration`` option.
DURATION = DurationType()
#: The type of a ``--date`` option (one day).
DAY = Day()
#: The type of a period (``report``'s periods).
PERIOD = PeriodType()
#: The types of ``--from`` and ``--to``: a period's first and last day.
FIRST_DAY = PeriodDay(last=False)
LAST_DAY = PeriodDay(last=True)
#: The type of ``--at`` options (a time of day, or a day and a time).
MOMENT = Moment()


def joined(ctx: click.Context, param: click.Parameter, words: tuple[str, ...]) -> Duration:
    """The callback of an argument of several words read as one duration
    (``pymesync log 8 hours``)."""
    return DURATION.convert(" ".join(words), param, ctx)
