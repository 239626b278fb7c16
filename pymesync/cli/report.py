"""``pymesync report``: time worked over a period, grouped (nested) by project,
activity, day or user, with subtotals and a total, as a table, a bar chart or JSON.

The numbers come from :meth:`pymesync.TimeSync.time_totals`: the server's times when it
answers (one row a time), else the local cache summed in SQL (fast over tens of
thousands of entries). Entries not synced yet and entries the server refused count,
and are marked; the grouping and the chart are :mod:`pymesync.summary`'s.
"""

from __future__ import annotations

import datetime as dt
import shutil
from typing import TYPE_CHECKING, Any

import click

from pymesync import durations, summary, tables, when
from pymesync.cli.app import App, CliError, pass_app
from pymesync.cli.output import emit_json, first_slug, json_option, read_info, read_note
from pymesync.cli.params import DAY, FIRST_DAY, LAST_DAY, PERIOD
from pymesync.cli.reads import filter_options, times_query
from pymesync.errors import TokenRejectedError

if TYPE_CHECKING:
    from pymesync.client import TimeSync

#: What ``--by`` is when it is not given (Watson's report: activities within projects).
DEFAULT_BY = ("project", "activity")
#: The longest period a chart by day draws every day of (days without time included).
_CHART_DAYS = 366
_HEADERS = {"project": "PROJECT", "activity": "ACTIVITY", "day": "DAY", "user": "USER"}


def choose_period(
    words: tuple[str, ...],
    day: dt.date | None,
    week: when.Period | None,
    month: when.Period | None,
    start: dt.date | None,
    end: dt.date | None,
    today: dt.date | None = None,
) -> tuple[when.Period, str]:
    """The period asked for, and how it was asked (for the heading); one way only."""
    given = [
        name
        for name, value in (
            ("PERIOD", words),
            ("--day", day),
            ("--week", week),
            ("--month", month),
            ("--from/--to", start or end),
        )
        if value
    ]
    if len(given) > 1:
        raise CliError(f"give one period, not {' and '.join(given)}")
    base = today or durations.local_today()
    if words:
        text = " ".join(words)
        return PERIOD.convert(text, None, None), text
    if day is not None:
        return when.Period(day, day), ""
    if week is not None:
        monday = week.first - dt.timedelta(days=week.first.weekday())
        return when.Period(monday, monday + dt.timedelta(days=6)), ""
    if month is not None:
        first = month.first.replace(day=1)
        after = (first + dt.timedelta(days=32)).replace(day=1)
        return when.Period(first, after - dt.timedelta(days=1)), ""
    if start is not None or end is not None:
        last = end or (base if start is None or start <= base else start)
        first = start or last - dt.timedelta(days=6)
        if first > last:
            raise CliError(
                f"--from {first.isoformat()} is after --to {last.isoformat()}: nothing could match"
            )
        return when.Period(first, last), ""
    return when.parse_period("this week", base), "this week"


def fetch_rows(
    app: App,
    ts: TimeSync,
    period: when.Period,
    *,
    users: tuple[str, ...],
    all_users: bool,
    projects: tuple[str, ...],
    activities: tuple[str, ...],
) -> tuple[list[summary.Row], str]:
    """The report's rows for ``period`` (local dates), and what kept the server from
    answering when the cache did."""
    query = times_query(app, users, all_users, projects, activities, period.first, period.last)
    why = "offline"
    try:
        found = ts.time_totals(query)
    except TokenRejectedError:
        found = ts.time_totals(query, cached_only=True)
        why = "the server refused the login (run `pymesync login`)"
    first, last = period.first.isoformat(), period.last.isoformat()
    rows = [
        summary.Row(
            day=str(r.get("date_worked") or ""),
            user=str(r.get("user") or ""),
            project=first_slug(r.get("project")),
            activities=tuple(str(a) for a in r.get("activities") or []),
            seconds=int(r.get("duration") or 0),
            entries=int(r.get("entries") or 1),
            state=str(r.get("sync_state") or "synced"),
        )
        for r in found
        if first <= str(r.get("date_worked") or "") <= last
    ]
    return rows, why


def heading(period: when.Period, said: str) -> str:
    """``Mon 2026-12-07 to Sun 2026-12-13 (this week)``."""
    span = summary.day_label(period.first.isoformat())
    if period.days > 1:
        span += f" to {summary.day_label(period.last.isoformat())}"
    return f"{span} ({said})" if said and said.lower() not in span.lower() else span


def _name(node: summary.Group) -> str:
    return summary.day_label(node.name) if node.key == "day" else node.name


def _as_json(node: summary.Group) -> dict[str, Any]:
    shown: dict[str, Any] = {}
    if node.key == "activity":
        shown["activities"] = [] if node.name == summary.NO_ACTIVITY else node.name.split(", ")
    elif node.key != "total":
        shown[node.key] = node.name
    shown["total_seconds"] = node.seconds
    shown["entries"] = node.entries
    shown["not_synced"] = dict(sorted(node.states.items()))
    if node.children:
        shown["groups"] = [_as_json(child) for child in node.children]
    return shown


def _table(app: App, root: summary.Group, by: tuple[str, ...]) -> None:
    unsynced = bool(root.states)
    columns = [
        *(tables.Column(_HEADERS[key]) for key in by),
        tables.Column("ENTRIES", align="right"),
        tables.Column("TIME", align="right"),
        *([tables.Column("NOT SYNCED")] if unsynced else []),
    ]
    rows: list[list[str]] = []
    colours: list[list[str | None]] = []

    def walk(node: summary.Group, depth: int) -> None:
        for child in node.children:
            names = [""] * len(by)
            names[depth] = _name(child)
            note = child.unsynced()
            rows.append(
                [
                    *names,
                    str(child.entries),
                    durations.format_hm(child.seconds),
                    *([note] if unsynced else []),
                ]
            )
            shade = "bold" if child.children else None
            state = "red" if "!" in child.mark else "yellow"
            colours.append([*([shade] * (len(by) + 2)), *([state] if unsynced else [])])
            walk(child, depth + 1)

    walk(root, 0)
    footer = [
        "total",
        *[""] * (len(by) - 1),
        str(root.entries),
        durations.format_hm(root.seconds),
        *([root.unsynced()] if unsynced else []),
    ]
    app.table(columns, rows, footer=footer, colours=colours)


def _chart(app: App, root: summary.Group, key: str, period: when.Period) -> None:
    nodes = {child.name: child for child in root.children}
    names = list(nodes)
    if key == "day" and period.days <= _CHART_DAYS:
        names = summary.days(period.first, period.last)  # (the days without time too)
    items = []
    for name in names:
        node = nodes.get(name)
        label = summary.day_label(name) if key == "day" else name
        items.append((label, node.seconds if node else 0, node.mark if node else ""))
    columns = shutil.get_terminal_size((80, 24)).columns
    for line in summary.chart(items, columns):
        bars = line.translate(str.maketrans("", "", summary.BLOCKS))
        if app.out_colour and bars != line:  # (the bar in colour; the text as it is)
            start = next(i for i, c in enumerate(line) if c in summary.BLOCKS)
            end = max(i for i, c in enumerate(line) if c in summary.BLOCKS) + 1
            line = line[:start] + tables.paint(line[start:end], "cyan", True) + line[end:]
        app.out(line)
    total = f"total {durations.format_hm(root.seconds)} in {root.entries} entr"
    app.out(total + ("y" if root.entries == 1 else "ies"))
    if root.mark:
        app.out(_legend(root))


def _legend(root: summary.Group) -> str:
    parts = []
    if "*" in root.mark:
        parts.append("* includes entries not synced yet")
    if "!" in root.mark:
        parts.append("! includes entries the server refused (see `pymesync times`)")
    return "; ".join(parts)


@click.command()
@click.argument("words", nargs=-1, metavar="[PERIOD]")
@click.option("--day", "day", type=DAY, metavar="DAY", help="One day: today, yesterday, monday...")
@click.option(
    "--week",
    type=PERIOD,
    is_flag=False,
    flag_value="today",
    metavar="[DAY]",
    help="The week (Monday to Sunday) of DAY; alone, this week (the default).",
)
@click.option(
    "--month",
    type=PERIOD,
    is_flag=False,
    flag_value="today",
    metavar="[DAY]",
    help="The month of DAY (november, 2026-11, last month); alone, this month.",
)
@click.option("--from", "start", type=FIRST_DAY, metavar="DAY", help="First day (inclusive).")
@click.option("--to", "end", type=LAST_DAY, metavar="DAY", help="Last day (inclusive).")
@click.option(
    "--by",
    "by",
    multiple=True,
    type=click.Choice(summary.KEYS),
    help="Group by project, activity, day or user; repeat to nest (default: project, activity).",
)
@filter_options
@click.option("--chart", is_flag=True, help="A bar chart of the first --by instead of a table.")
@json_option("The same numbers as JSON.")
@pass_app
def report(
    app: App,
    words: tuple[str, ...],
    day: dt.date | None,
    week: when.Period | None,
    month: when.Period | None,
    start: dt.date | None,
    end: dt.date | None,
    by: tuple[str, ...],
    users: tuple[str, ...],
    all_users: bool,
    projects: tuple[str, ...],
    activities: tuple[str, ...],
    chart: bool,
    as_json: bool,
) -> None:
    """Time worked over a period, with subtotals and a total.

    PERIOD is any day or period (today, yesterday, monday, last week, this month,
    november, 2026-11, last 7 days); the default is this week. Entries not synced yet
    and entries the server refused count, and are marked. From the local cache when
    the server cannot be reached (and it says so).
    """
    period, said = choose_period(words, day, week, month, start, end)
    doubled = sorted({key for key in by if by.count(key) > 1})
    if doubled:
        raise CliError(f"--by {doubled[0]} given twice")
    by = by or (("project",) if chart else DEFAULT_BY)
    if chart and len(by) > 1 and not as_json:
        raise CliError("--chart draws one grouping: give one --by (day, project, activity, user)")
    ts = app.client()
    rows, why = fetch_rows(
        app, ts, period, users=users, all_users=all_users, projects=projects, activities=activities
    )
    root = summary.group(rows, by)
    if as_json:
        emit_json(
            {
                **read_info(ts),
                "from": period.first.isoformat(),
                "to": period.last.isoformat(),
                "by": list(by),
                **_as_json(root),
            }
        )
        return
    read_note(app, ts, why)
    app.out(heading(period, said))
    if not rows:
        app.out("no time entries")
        return
    if chart:
        _chart(app, root, by[0], period)
    else:
        _table(app, root, by)
    if root.states.get("failed") or root.states.get("conflict"):
        app.note(
            "entries the server refused are counted as you wrote them: fix one with"
            " `pymesync edit ID ...` or drop it with `pymesync rm ID` (see `pymesync times`)",
            "red",
        )
