"""Reading: ``times`` (with totals and sync states), ``projects``, ``activities``
and ``users``; from the local cache when the server cannot answer, saying so."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

import click

from pymesync import durations, tables
from pymesync.cli import complete
from pymesync.cli.app import App, CliError, pass_app
from pymesync.cli.ids import short
from pymesync.cli.outcome import failure, op_error
from pymesync.cli.output import emit_json, first_slug, json_option, read_info, read_note
from pymesync.cli.params import FIRST_DAY, LAST_DAY
from pymesync.errors import (
    TokenRejectedError,
)

if TYPE_CHECKING:
    from pymesync.client import TimeSync


_STATE_COLOURS = {
    "synced": "green",
    "pending": "yellow",
    "inflight": "yellow",
    "failed": "red",
    "conflict": "red",
    "unknown": "dim",
}


def read_times(app: App, ts: TimeSync, query: dict[str, Any]) -> tuple[list[Any], str]:
    """The times for ``query``, and why they came from the cache if they did: a login
    the server refused is no reason to show nothing (the cache answers, saying so)."""
    try:
        return ts.get_times(query), "offline"
    except TokenRejectedError:
        return ts.cached_times(query), "the server refused the login (run `pymesync login`)"


_C = TypeVar("_C", bound="Callable[..., Any]")

_FILTERS = (
    click.option(
        "--user",
        "-u",
        "users",
        multiple=True,
        metavar="NAME",
        help="Whose (default: you).",
        shell_complete=complete.user,
    ),
    click.option("--all-users", is_flag=True, help="Everyone's times that you may see."),
    click.option(
        "--project",
        "-p",
        "projects",
        multiple=True,
        metavar="SLUG",
        help="Project.",
        shell_complete=complete.project,
    ),
    click.option(
        "--activity",
        "-a",
        "activities",
        multiple=True,
        metavar="SLUG",
        help="Activity.",
        shell_complete=complete.activity,
    ),
)


def filter_options(command: _C) -> _C:
    """The options ``times``, ``report`` and ``export`` share to pick whose and which
    times (``--user``, ``--all-users``, ``--project``, ``--activity``; see
    :func:`times_query`)."""
    for option in reversed(_FILTERS):
        command = option(command)
    return command


def times_query(
    app: App,
    users: Sequence[str],
    all_users: bool,
    projects: Sequence[str],
    activities: Sequence[str],
    start: dt.date | None,
    end: dt.date | None,
    deleted: bool = False,
) -> dict[str, Any]:
    """The ``get_times`` query of the filters that ``times``, ``report`` and ``export``
    share (your own times unless ``--user``/``--all-users``). ``start`` is asked from
    :func:`~pymesync.durations.query_start` on (a local date may be "in the future" for
    the server): the caller drops the entries dated before it. A ``start`` after
    ``end`` is refused."""
    if start and end and start > end:
        raise CliError(
            f"--from {start.isoformat()} is after --to {end.isoformat()}: nothing could match"
        )
    query: dict[str, Any] = {}
    if not all_users:
        query["user"] = list(users) or [app.settings.require("username")]
    if projects:
        query["project"] = list(projects)
    if activities:
        query["activity"] = list(activities)
    if start:
        query["start"] = durations.query_start(start).isoformat()
    if end:
        query["end"] = end.isoformat()
    if deleted:
        query["include_deleted"] = True
    return query


def show_times(
    app: App,
    *,
    users: Sequence[str] = (),
    all_users: bool = False,
    projects: Sequence[str] = (),
    activities: Sequence[str] = (),
    start: dt.date | None = None,
    end: dt.date | None = None,
    deleted: bool = False,
    as_json: bool = False,
) -> None:
    """The times table (or JSON) with totals and sync states."""
    ts = app.client()
    query = times_query(app, users, all_users, projects, activities, start, end, deleted)
    first = start.isoformat() if start else ""
    answer, why = read_times(app, ts, query)
    found = [t for t in answer if isinstance(t, dict) and str(t.get("date_worked") or "") >= first]
    info = read_info(ts)
    found.sort(key=lambda t: (str(t.get("date_worked")), str(t.get("created_at"))))
    states = time_states(ts, found)
    reasons = refusals(ts, states)
    # (deleted entries, shown with --deleted, are not time worked)
    total = sum(int(t.get("duration") or 0) for t in found if not t.get("deleted_at"))
    gone = sum(1 for t in found if t.get("deleted_at"))
    if as_json:
        emit_json(
            {
                **info,
                "total_seconds": total,
                "times": [with_state(t, states, reasons) for t in found],
            }
        )
        return
    read_note(app, ts, why)
    if not found:
        app.out("no time entries")
        return
    several = len({t.get("user") for t in found}) > 1
    columns = [
        tables.Column("ID"),
        tables.Column("DATE"),
        tables.Column("TIME", align="right"),
        *([tables.Column("USER")] if several else []),
        tables.Column("PROJECT"),
        tables.Column("ACTIVITIES"),
        tables.Column("NOTES", limit=40),
        tables.Column("SYNC"),
    ]
    rows: list[list[str]] = []
    colours: list[list[str | None]] = []
    for t in found:
        state = states[str(t.get("uuid"))]
        shown = f"{state}, deleted" if t.get("deleted_at") else state
        rows.append(
            [
                short(t.get("uuid")),
                str(t.get("date_worked") or ""),
                durations.format_hm(int(t.get("duration") or 0)),
                *([str(t.get("user") or "")] if several else []),
                first_slug(t.get("project")),
                ", ".join(str(a) for a in t.get("activities") or []),
                str(t.get("notes") or ""),
                shown,
            ]
        )
        shades: list[str | None] = [None] * (len(columns) - 1)
        colours.append([*shades, _STATE_COLOURS.get(state)])
    count = f"{len(found)} entr{'y' if len(found) == 1 else 'ies'}"
    if gone:
        count += f" ({gone} deleted, not counted)"
    footer = ["total", count, durations.format_hm(total)]
    app.table(columns, rows, footer=footer + [""] * (len(columns) - len(footer)), colours=colours)
    for uuid, reason in reasons.items():
        app.note(f"{short(uuid)} {states[uuid]}: {reason}", "red")
    if reasons:
        app.note(
            "fix an entry with `pymesync edit ID ...` (it is queued again) or drop it with"
            " `pymesync rm ID`; see `pymesync failed list`",
            None,
        )


def with_state(
    time: dict[str, Any], states: dict[str, str], reasons: dict[str, str]
) -> dict[str, Any]:
    """A time for ``times --json``: its ``sync_state``, and ``sync_error`` when failed."""
    uuid = str(time.get("uuid"))
    shown = {**time, "sync_state": states[uuid]}
    if uuid in reasons:
        shown["sync_error"] = reasons[uuid]
    return shown


def refusals(ts: TimeSync, states: dict[str, str]) -> dict[str, str]:
    """Why each failed (or conflicting) time is: the error of its first operation in
    that state, on one line. One read of the failed operations and one of the id map
    for the whole table, not queries per row."""
    wanted = {uuid: state for uuid, state in states.items() if state in ("failed", "conflict")}
    if not wanted:
        return {}
    # (an operation queued before its entry reached the server names the local uuid)
    owner = {uuid: uuid for uuid in wanted}
    owner.update({local: uuid for uuid, local in ts.local_ids("time", list(wanted)).items()})
    errors: dict[str, str] = {}
    for op in ts.failed():  # (oldest first, as sync_status lists them)
        uuid = owner.get(str(op.get("target"))) if op.get("entity") == "time" else None
        if uuid is not None and uuid not in errors and op.get("state") == wanted[uuid]:
            errors[uuid] = op_error(op)
    reasons: dict[str, str] = {}
    for uuid, state in wanted.items():
        # (an entry its operations name otherwise: asked about on its own)
        found = errors[uuid] if uuid in errors else failure(ts, uuid, state)
        if found:
            reason = " ".join(found.split())
            reasons[uuid] = reason if len(reason) <= 100 else reason[:99] + "…"
    return reasons


def time_states(ts: TimeSync, times: Sequence[dict[str, Any]]) -> dict[str, str]:
    """Each time's sync state (one status query when nothing at all is queued)."""
    status = ts.status()
    busy = sum(int(status.get(k, 0)) for k in ("pending", "inflight", "failed", "conflicts"))
    if not busy:
        return {str(t.get("uuid")): "synced" for t in times}
    return ts.sync_states("time", [str(t.get("uuid")) for t in times])


@click.command()
@filter_options
@click.option(
    "--from",
    "start",
    type=FIRST_DAY,
    metavar="DAY",
    help="First day: 2026-12-07, yesterday, monday, -3d; a period's first (last week).",
)
@click.option(
    "--to", "end", type=LAST_DAY, metavar="DAY", help="Last day, inclusive; a period's last."
)
@click.option("--deleted", is_flag=True, help="Include deleted entries.")
@json_option()
@pass_app
def times(
    app: App,
    users: tuple[str, ...],
    all_users: bool,
    projects: tuple[str, ...],
    activities: tuple[str, ...],
    start: dt.date | None,
    end: dt.date | None,
    deleted: bool,
    as_json: bool,
) -> None:
    """Your time entries, with totals and sync states.

    From the local cache when the server cannot be reached (and it says so).
    """
    show_times(
        app,
        users=users,
        all_users=all_users,
        projects=projects,
        activities=activities,
        start=start,
        end=end,
        deleted=deleted,
        as_json=as_json,
    )


def show_objects(
    app: App,
    as_json: bool,
    name: str,
    fetch: Callable[[TimeSync], list[Any]],
    sort_key: Callable[[dict[str, Any]], str],
    columns: list[tables.Column],
    row: Callable[[dict[str, Any]], list[str]],
) -> None:
    """A table (or JSON under ``name``) of the objects ``fetch`` returns (from the cache
    when not logged in, saying so)."""
    ts = app.client()
    found = [o for o in fetch(ts) if isinstance(o, dict)]
    if as_json:
        emit_json({**read_info(ts), name: found})
        return
    read_note(app, ts)
    found.sort(key=sort_key)
    app.table(columns, [row(o) for o in found])


def show_projects(app: App, as_json: bool = False) -> None:
    """The projects table (or JSON)."""
    show_objects(
        app,
        as_json,
        "projects",
        lambda ts: ts.get_projects(),
        first_slug,
        [
            tables.Column("SLUGS"),
            tables.Column("NAME"),
            tables.Column("DEFAULT ACTIVITY"),
            tables.Column("URI", limit=50),
        ],
        lambda p: [
            ", ".join(sorted(str(s) for s in p.get("slugs") or [])),
            str(p.get("name") or ""),
            str(p.get("default_activity") or ""),
            str(p.get("uri") or ""),
        ],
    )


@click.command()
@json_option()
@pass_app
def projects(app: App, as_json: bool) -> None:
    """The projects you can see."""
    show_projects(app, as_json)


@click.command()
@json_option()
@pass_app
def activities(app: App, as_json: bool) -> None:
    """The activities."""
    show_objects(
        app,
        as_json,
        "activities",
        lambda ts: ts.get_activities(),
        lambda a: str(a.get("slug")),
        [tables.Column("SLUG"), tables.Column("NAME")],
        lambda a: [str(a.get("slug") or ""), str(a.get("name") or "")],
    )


def _user_row(user: dict[str, Any]) -> list[str]:
    roles = [r for r in ("admin", "manager", "spectator") if user.get(f"site_{r}") is True]
    if user.get("active") is False:
        roles.append("inactive")
    return [
        str(user.get("username") or ""),
        str(user.get("display_name") or ""),
        str(user.get("email") or ""),
        ", ".join(roles),
    ]


@click.command()
@json_option()
@pass_app
def users(app: App, as_json: bool) -> None:
    """The users."""
    show_objects(
        app,
        as_json,
        "users",
        lambda ts: ts.get_users(),
        lambda u: str(u.get("username")),
        [
            tables.Column("USERNAME"),
            tables.Column("NAME"),
            tables.Column("EMAIL"),
            tables.Column("SITE ROLES"),
        ],
        _user_row,
    )
