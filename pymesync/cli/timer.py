"""The running timer: ``start``, ``stop``, ``cancel`` and ``restart``.

The timer lives in the local store (it survives a reboot; every shell sees it). ``stop``
turns it into time entries through the same queue as ``log``: one entry per local day
it ran on, queued together with the timer's stop in one transaction, then the same short
bounded push and second line (:func:`~pymesync.cli.outcome.finish_write`).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import sys
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import click

from pymesync import durations
from pymesync.cli.app import EXIT_FAILED, App, CliError, pass_app
from pymesync.cli.entries import (
    MAX_ENTRY_SECONDS,
    activities_option,
    check_known,
    chosen_project,
    project_option,
    text_option,
)
from pymesync.cli.ids import short
from pymesync.cli.outcome import failure, finish_write, saved
from pymesync.cli.output import emit_json, json_option, parse_when
from pymesync.cli.params import MOMENT

if TYPE_CHECKING:
    from pymesync.client import TimeSync


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def when_shown(value: Any, now: dt.datetime | None = None) -> str:
    """A timer's start (ISO text or datetime) as local time: ``09:05`` today, else
    ``2026-12-06 09:05``."""
    moment = value if isinstance(value, dt.datetime) else parse_when(value)
    if moment is None:
        return str(value)
    local = moment.astimezone()
    today = durations.local_today(now)
    return f"{local:%H:%M}" if local.date() == today else f"{local:%Y-%m-%d %H:%M}"


def describe(timer: dict[str, Any]) -> str:
    """``gwm (dev, review) "notes"``: what a timer is on."""
    acts = timer.get("activities") or []
    text = str(timer.get("project"))
    if acts:
        text += f" ({', '.join(acts)})"
    if timer.get("notes"):
        text += f' "{timer["notes"]}"'
    return text


def timer_line(timer: dict[str, Any], now: dt.datetime | None = None) -> str:
    """The running timer in one line (for ``status``): what it is on, since when, for
    how long (``H:MM``)."""
    elapsed = durations.format_hm(int(timer.get("elapsed") or 0))
    return f"{describe(timer)}, since {when_shown(timer.get('started_at'), now)} ({elapsed})"


def _seconds_between(start: Any, stop: dt.datetime) -> int:
    begun = parse_when(start)
    return 0 if begun is None else int((stop - begun).total_seconds())


def _check_long(running: dict[str, Any], stop: dt.datetime, allow_long: bool, how: str) -> None:
    """Refuse a timer that ran more than 24 hours (probably forgotten) unless
    ``allow_long``, saying how to stop it when the work ended."""
    seconds = _seconds_between(running.get("started_at"), stop)
    if seconds <= MAX_ENTRY_SECONDS or allow_long:
        return
    raise CliError(
        f"the timer on {running.get('project')} has run {durations.format_hm(seconds)}"
        f" (since {when_shown(running.get('started_at'))}): more than 24 hours, probably"
        ' forgotten; stop it when the work ended, e.g. `pymesync stop --at "yesterday 17:30"`,'
        f" drop it with `pymesync cancel`, or {how}"
    )


def _check_start(running: dict[str, Any] | None, at: dt.datetime | None, no_stop: bool) -> None:
    """What a start refuses before anything is stored (the library checks again)."""
    moment = at or _utc_now()
    if at is not None and at > _utc_now():
        raise CliError(
            f"--at {when_shown(at)} is in the future: start the timer when you start"
            " (or log the work afterwards with `pymesync log`)"
        )
    if running is None:
        return
    if no_stop:
        raise CliError(
            f"a timer is running: {timer_line(running)}; stop it first (`pymesync stop`)"
            " or start without --no-stop"
        )
    begun = parse_when(running.get("started_at"))
    if begun is not None and moment < begun:
        raise CliError(
            f"--at {when_shown(at)} is before the running timer's start"
            f" ({when_shown(begun)}): stop or cancel that one first"
        )
    _check_long(running, moment, False, "stop it with `pymesync stop --allow-long` first")


def _entry_head(time: dict[str, Any]) -> str:
    acts = time.get("activities") or []
    what = f" ({', '.join(acts)})" if acts else ""
    return (
        f"logged {durations.format_hm(int(time['duration']))} on {time.get('project')}{what}"
        f" for {time.get('date_worked')} as {time.get('uuid')}"
    )


@contextlib.contextmanager
def _lines_to_stderr(as_json: bool) -> Iterator[None]:
    """With ``--json``, the human lines go to stderr (stdout holds only the JSON)."""
    if not as_json:
        yield
        return
    with contextlib.redirect_stdout(sys.stderr):
        yield


def _push(app: App, ts: TimeSync, stopped: dict[str, Any], as_json: bool) -> None:
    """The lines and the bounded push after a stop (as ``log`` does): every entry made,
    then how the push ended. A refused entry: exit status 4."""
    times = [t for t in stopped.get("times") or [] if isinstance(t, dict)]
    if not times:
        return
    if len(times) > 1:
        first = parse_when(stopped["timer"].get("started_at"))
        since = "" if first is None else f" (since {when_shown(first)})"
        app.out(f"the timer ran past midnight{since}: one entry per local day")
    for time in times[:-1]:
        app.out(_entry_head(time))
    finish_write(app, ts, str(times[-1]["uuid"]), _entry_head(times[-1]))
    for time in times[:-1]:  # (pushed in the same pass: refused together, if at all)
        uuid = str(time["uuid"])
        state = str(ts.sync_status("time", uuid).get("state", "unknown"))
        if state in ("failed", "conflict"):
            reason = failure(ts, uuid, state)
            raise CliError(
                f"the server refused {short(uuid)}{f' ({reason})' if reason else ''}; it is"
                f" kept as {state}: fix it with `pymesync edit {short(uuid)}` or remove it"
                f" with `pymesync rm {short(uuid)}`",
                EXIT_FAILED,
            )


def _states(ts: TimeSync, stopped: dict[str, Any] | None) -> dict[str, Any] | None:
    """``stopped`` for ``--json``: every entry with its ``state`` and ``server_id``."""
    if stopped is None:
        return None
    times = []
    for time in stopped.get("times") or []:
        found = ts.sync_status("time", str(time["uuid"]))
        times.append(
            {
                **time,
                "state": found.get("state", "unknown"),
                "server_id": found.get("server_id"),
            }
        )
    return {**stopped, "times": times}


def _after_stop(
    app: App,
    ts: TimeSync,
    answer: dict[str, Any],
    stopped: dict[str, Any] | None,
    as_json: bool,
    head: str | None = None,
) -> None:
    """Say what was done (``head``, then the stopped timer's entries and their push),
    then with ``--json`` print ``answer`` with the entries' sync states (also when the
    server refused one: exit status 4 after the JSON)."""
    refused: CliError | None = None
    with _lines_to_stderr(as_json):
        if head is not None:
            app.out(head)
        if stopped is not None:
            try:
                _push(app, ts, stopped, as_json)
            except CliError as error:
                if not as_json or error.exit_code != EXIT_FAILED:
                    raise
                refused = error
    if as_json:
        key = "stopped" if "stopped" in answer else None
        emit_json({**answer, key: _states(ts, stopped)} if key else _states(ts, stopped))
    if refused is not None:
        raise refused


_AT_HELP = "When: 9:00, 5pm, -15m, yesterday 17:30 (default: now)."


@click.command("start")
@project_option
@activities_option
@click.option("--notes", "-n", metavar="TEXT", help="What you are doing.")
@click.option("--issue", metavar="URI", help="An issue URI.")
@click.option(
    "--at",
    "--from",
    "at",
    type=MOMENT,
    metavar="TIME",
    help="When you started: 9:00, -15m, yesterday 17:30 (default: now).",
)
@click.option("--no-stop", is_flag=True, help="Refuse when a timer runs (else it is stopped).")
@json_option("The new timer and the entries of a stopped one (uuids, sync state) as JSON.")
@pass_app
def start(
    app: App,
    project: str | None,
    activities: tuple[str, ...],
    notes: str | None,
    issue: str | None,
    at: dt.datetime | None,
    no_stop: bool,
    as_json: bool,
) -> None:
    """Start a timer (offline: it is kept in the local store).

    A running timer is stopped first, at the new start time, as `pymesync stop` would
    (or, with --no-stop, the start is refused). `pymesync stop` turns the timer into a
    time entry.
    """
    slug, chosen = chosen_project(app, project, activities)
    text_option(notes, "--notes")
    text_option(issue, "--issue")
    ts = app.client()
    check_known(app, ts, slug, chosen, need_activity=True)
    running = ts.timer()
    _check_start(running, at, no_stop)
    answer = saved(
        lambda: ts.start_timer(slug, chosen, notes, issue, at=at, stop_running=not no_stop),
        "no timer was started",
    )
    _report_start(app, ts, answer, "started", as_json)


def _report_start(app: App, ts: TimeSync, answer: dict[str, Any], verb: str, as_json: bool) -> None:
    timer, stopped = answer["timer"], answer.get("stopped")
    head = f"{verb} {describe(timer)} at {when_shown(timer['started_at'])}"
    if stopped is not None:
        head += f"; stopped the timer on {describe(stopped['timer'])} first"
    _after_stop(app, ts, answer, stopped, as_json, head)


@click.command("stop")
@click.option("--at", "at", type=MOMENT, metavar="TIME", help=f"When you stopped. {_AT_HELP}")
@click.option("--notes", "-n", metavar="TEXT", help="Notes of the entry, replacing the timer's.")
@click.option("--allow-long", is_flag=True, help="Log a timer that ran more than 24 hours.")
@json_option("The new entries (uuids, sync state) as JSON.")
@pass_app
def stop(
    app: App, at: dt.datetime | None, notes: str | None, allow_long: bool, as_json: bool
) -> None:
    """Stop the running timer and log its time (queued, synced like `pymesync log`).

    A timer that ran past local midnight gives one entry per day (each with its own
    date). Durations are whole seconds.
    """
    text_option(notes, "--notes")
    ts = app.client()
    running = ts.timer()
    if running is None:
        raise CliError("no timer is running (start one with `pymesync start`)")
    now = _utc_now()
    moment = at or now
    if moment > now:
        raise CliError(f"--at {when_shown(moment)} is in the future: stop the timer when you stop")
    begun = parse_when(running.get("started_at"))
    if begun is not None and moment < begun:
        raise CliError(
            f"--at {when_shown(moment)} is before the timer's start ({when_shown(begun)});"
            " `pymesync cancel` drops the timer"
        )
    _check_long(running, moment, allow_long, "give --allow-long to log it all")
    if _seconds_between(running.get("started_at"), moment) < 1:
        raise CliError("the timer ran less than a second: nothing to log (`pymesync cancel`)")
    stopped = saved(
        lambda: ts.stop_timer(at=moment, notes=notes),
        "the timer still runs, nothing was logged",
    )
    _after_stop(app, ts, stopped, stopped, as_json)


@click.command("cancel")
@pass_app
def cancel(app: App) -> None:
    """Drop the running timer, logging nothing (`pymesync restart` brings it back)."""
    ts = app.client()
    if ts.timer() is None:
        raise CliError("no timer is running: nothing to cancel")
    dropped = saved(lambda: ts.cancel_timer(), "the timer still runs")
    app.out(
        f"cancelled the timer on {timer_line(dropped)}: nothing logged"
        " (`pymesync restart` starts it again)"
    )


@click.command("restart")
@click.option("--at", "at", type=MOMENT, metavar="TIME", help=f"When you started. {_AT_HELP}")
@click.option("--no-stop", is_flag=True, help="Refuse when a timer runs (else it is stopped).")
@pass_app
def restart(app: App, at: dt.datetime | None, no_stop: bool) -> None:
    """Start the last timer again: same project, activities, notes and issue.

    The last timer is the one stopped or cancelled most recently; a running timer is
    stopped first, as with `pymesync start`.
    """
    ts = app.client()
    last = ts.last_timer()
    if last is None:
        raise CliError("no timer to restart: none was stopped or cancelled yet (`pymesync start`)")
    _check_start(ts.timer(), at, no_stop)
    answer = saved(
        lambda: ts.restart_timer(at=at, stop_running=not no_stop), "no timer was started"
    )
    _report_start(app, ts, answer, "restarted", False)
