"""Click parameter types for the command line's grammar of durations and days
(:mod:`pymesync.durations`): a value is checked while click parses the command line,
before the command runs, and a value the grammar refuses is one clear line with exit
status 1 (the grammar's own message, as for any other bad input)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NoReturn

import click

from pymesync import durations

__all__ = ["DAY", "DURATION", "Day", "Duration", "DurationType", "GrammarError", "joined"]


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
    """``YYYY-MM-DD``, ``today`` or ``yesterday`` (the local date) as a ``date``."""

    name = "day"

    def convert(
        self, value: Any, param: click.Parameter | None, ctx: click.Context | None
    ) -> dt.date:
        """The day ``value`` names."""
        if isinstance(value, dt.date):
            return value
        try:
            return durations.parse_day(str(value))
        except durations.DurationError as error:
            self.fail(str(error), param, ctx)


#: The type of a ``--duration`` option.
DURATION = DurationType()
#: The type of the ``--date``, ``--from`` and ``--to`` options.
DAY = Day()


def joined(ctx: click.Context, param: click.Parameter, words: tuple[str, ...]) -> Duration:
    """The callback of an argument of several words read as one duration
    (``pymesync log 8 hours``)."""
    return DURATION.convert(" ".join(words), param, ctx)
