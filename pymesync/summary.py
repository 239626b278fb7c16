"""Reports of time worked: totals grouped by project, activity, day or user, nested, and
horizontal bar charts in plain Unicode blocks. Pure: rows in, groups and lines of text
out (the command line's ``pymesync report`` prints them).

**Entries with several activities** count once, under the combination of their
activities (``dev, docs``), never once under each: every group's time is time worked,
the groups add up to their subtotal and the subtotals to the total. (Filtering with
``--activity dev`` still finds every entry that has ``dev`` among others.)
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from .durations import format_hm
from .tables import width

__all__ = [
    "BLOCKS",
    "KEYS",
    "NOT_SYNCED",
    "NO_ACTIVITY",
    "REFUSED",
    "Group",
    "Row",
    "bar",
    "chart",
    "day_label",
    "days",
    "group",
    "mark",
]

#: What a report can be grouped by (``--by``).
KEYS = ("project", "activity", "day", "user")

#: Sync states of entries the server does not have as they are yet (marked ``*``).
NOT_SYNCED = ("pending", "inflight", "unknown")
#: Sync states of entries the server refused or that are in conflict (marked ``!``).
REFUSED = ("failed", "conflict")

#: The eighths of a character cell, from one eighth to a full block.
BLOCKS = "▏▎▍▌▋▊▉█"

#: How an entry without activities is shown.
NO_ACTIVITY = "(none)"


@dataclass(frozen=True)
class Row:
    """Time worked: ``entries`` entries of ``seconds`` in total, on ``day`` (a local
    date, ISO), by ``user``, on ``project`` (one slug), with ``activities`` (in the
    entry's order), in sync state ``state`` (``synced``, or one of
    :data:`NOT_SYNCED` and :data:`REFUSED`)."""

    day: str
    user: str
    project: str
    activities: tuple[str, ...]
    seconds: int
    entries: int = 1
    state: str = "synced"

    def value(self, key: str) -> str:
        """What the row is grouped under for ``key`` (one of :data:`KEYS`)."""
        if key == "project":
            return self.project
        if key == "activity":
            return ", ".join(self.activities) or NO_ACTIVITY
        if key == "day":
            return self.day
        if key == "user":
            return self.user
        raise ValueError(f"unknown grouping {key!r} (use {', '.join(KEYS)})")


@dataclass
class Group:
    """A group of rows: its ``key`` (what it groups by; ``total`` for the root) and
    ``name``, the sum of their ``seconds`` and ``entries``, the number of entries in
    each state other than ``synced`` (``states``), and the groups within it."""

    key: str
    name: str
    seconds: int = 0
    entries: int = 0
    states: Counter[str] = field(default_factory=Counter)
    children: list[Group] = field(default_factory=list)

    def add(self, row: Row) -> None:
        """Count ``row`` in this group (not in its children)."""
        self.seconds += row.seconds
        self.entries += row.entries
        if row.state != "synced":
            self.states[row.state] += row.entries

    @property
    def mark(self) -> str:
        """``*`` when entries are not synced yet, ``!`` when some were refused, both
        when both (see :func:`mark`)."""
        return mark(self.states)

    def unsynced(self) -> str:
        """The entries not synced, in words: ``1 pending, 2 failed`` (empty when none)."""
        return ", ".join(f"{count} {state}" for state, count in sorted(self.states.items()))


def mark(states: Counter[str]) -> str:
    """The mark of a group whose entries are in ``states``: ``*`` when some are not
    synced yet, ``!`` when some were refused (or conflict), ``*!`` for both."""
    pending = any(states[s] for s in NOT_SYNCED)
    refused = any(states[s] for s in REFUSED)
    return ("*" if pending else "") + ("!" if refused else "")


def _order(key: str, group: Group) -> tuple[int, str]:
    # days in order; names alphabetically, "(none)" last
    return (1 if group.name == NO_ACTIVITY else 0, group.name.casefold() + "\0" + group.name)


def group(rows: Iterable[Row], by: Sequence[str]) -> Group:
    """The rows summed into nested groups, one level per key of ``by`` (days in date
    order, other names alphabetically). The root is the total."""
    for key in by:
        if key not in KEYS:
            raise ValueError(f"unknown grouping {key!r} (use {', '.join(KEYS)})")
    root = Group("total", "total")
    index: dict[tuple[str, ...], Group] = {}
    for row in rows:
        root.add(row)
        parent: Group = root
        path: tuple[str, ...] = ()
        for key in by:
            path = (*path, row.value(key))
            found = index.get(path)
            if found is None:
                found = index[path] = Group(key, path[-1])
                parent.children.append(found)
            found.add(row)
            parent = found
    _sort(root)
    return root


def _sort(node: Group) -> None:
    node.children.sort(key=lambda g: _order(g.key, g))
    for child in node.children:
        _sort(child)


def bar(seconds: int, most: int, cells: int) -> str:
    """A bar of ``seconds`` on a scale where ``most`` fills ``cells`` character cells:
    full blocks, then one partial block in eighths. Any time more than zero shows at
    least one eighth; zero is empty."""
    if seconds <= 0 or most <= 0 or cells <= 0:
        return ""
    eighths = max(1, round(min(seconds, most) * cells * 8 / most))
    full, part = divmod(eighths, 8)
    return BLOCKS[-1] * full + (BLOCKS[part - 1] if part else "")


def chart(items: Sequence[tuple[str, int, str]], columns: int, *, minimum: int = 10) -> list[str]:
    """A horizontal bar chart, one line per ``(label, seconds, mark)``: the label, the
    bar, the time as ``H:MM`` and the mark, fitted to ``columns`` character cells (the
    longest bar takes what is left; at least ``minimum`` cells). Lines carry no
    trailing spaces."""
    if not items:
        return []
    label_width = max(width(label) for label, _, _ in items)
    times = [format_hm(seconds) for _, seconds, _ in items]
    time_width = max(len(t) for t in times)
    mark_width = max(len(m) for _, _, m in items)
    # label, two spaces, bar, two spaces, time, a space and the mark; the last column
    # of the terminal stays free (a line that fills it wraps on some terminals)
    cells = columns - 1 - label_width - 2 - 2 - time_width - (mark_width + 1 if mark_width else 0)
    cells = max(minimum, cells)
    most = max(seconds for _, seconds, _ in items)
    lines = []
    for (label, seconds, flag), shown in zip(items, times, strict=True):
        drawn = bar(seconds, most, cells)
        pad_label = label + " " * (label_width - width(label))
        line = f"{pad_label}  {drawn}{' ' * (cells - len(drawn))}  {shown:>{time_width}}"
        lines.append(f"{line} {flag}".rstrip())
    return lines


def days(first: dt.date, last: dt.date) -> list[str]:
    """Every day from ``first`` to ``last`` (ISO), for a chart by day that shows the
    days without time too."""
    count = (last - first).days + 1
    return [(first + dt.timedelta(days=n)).isoformat() for n in range(max(0, count))]


def day_label(day: str) -> str:
    """A day as ``Mon 2026-12-07`` (English weekday names, whatever the locale)."""
    try:
        weekday = dt.date.fromisoformat(day).weekday()
    except ValueError:
        return day
    return f"{('Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat', 'Sun')[weekday]} {day}"
