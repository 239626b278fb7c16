"""The running timer of the offline-first modes: what ``TimeSync.start_timer()``,
``stop_timer()``, ``restart_timer()`` and ``cancel_timer()`` do.

A timer is a row of the local store (:mod:`pymesync.store.timers`), so it survives a
reboot and every process on the machine sees it; starting, stopping and cancelling one
needs no network. Stopping it turns it into time entries through the same queue as
``create_time()``: one entry per local day it ran on (:func:`split`: a timer from 22:00
to 01:00 gives 2 h on the first day and 1 h on the next, each with its own
``date_worked``), queued together with the timer's stop in ONE transaction. Durations
are whole seconds of real time (a daylight-saving change in between counts as what it
is: 01:00 to 04:00 on the night the clocks go forward is 2 h).
"""

from __future__ import annotations

import datetime as dt
import functools
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from pymesync import validation
from pymesync.errors import TimerStateError, ValidationError
from pymesync.status import timer_record
from pymesync.store.timers import Timer

if TYPE_CHECKING:
    from pymesync.offline import OfflineBackend

__all__ = ["as_dict", "cancel", "current", "restart", "split", "start", "stop"]

_UTC = dt.timezone.utc


def aware(moment: dt.datetime, what: str) -> dt.datetime:
    """``moment`` as UTC (a naive datetime is a local time), whole seconds."""
    if not isinstance(moment, dt.datetime):
        raise ValidationError(f"{what} must be a datetime")
    return moment.astimezone(_UTC).replace(microsecond=0)


def _shown(moment: dt.datetime) -> str:
    return f"{moment.astimezone():%Y-%m-%d %H:%M:%S}"


def _next_midnight(day: dt.date) -> dt.datetime:
    """The first instant of the local day after ``day`` (where a daylight-saving change
    skips midnight, the instant the clocks jump)."""
    wall = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(0))
    # (in a gap, fold=0 reads the wall time with the offset after the change: an
    # instant still on ``day``; fold=1 gives the instant the clocks jump)
    moments = [wall.replace(fold=fold).astimezone() for fold in (0, 1)]
    after = [m.astimezone(_UTC) for m in moments if m.date() > day]
    return min(after) if after else moments[-1].astimezone(_UTC)


def split(start: dt.datetime, stop: dt.datetime) -> list[tuple[dt.date, int]]:
    """The local days from ``start`` to ``stop`` (aware datetimes; the machine's time
    zone, ``$TZ``) with the whole seconds of real time spent in each, in order. Days
    with no whole second are left out; ``stop`` before ``start`` gives nothing."""
    cursor, end = aware(start, "start"), aware(stop, "stop")
    pieces: list[tuple[dt.date, int]] = []
    while cursor < end:
        day = cursor.astimezone().date()
        boundary = _next_midnight(day)
        if boundary <= cursor:  # (cannot happen in a sane zone: never loop forever)
            boundary = end
        piece_end = min(boundary, end)
        seconds = int((piece_end - cursor).total_seconds())
        if seconds > 0:
            pieces.append((day, seconds))
        cursor = piece_end
    return pieces


def as_dict(timer: Timer, now: dt.datetime | None = None) -> dict[str, Any]:
    """A timer as JSON-ready data (:func:`pymesync.status.timer_record`), ``elapsed``
    until ``now`` (default: the current time)."""
    return timer_record(timer, now or dt.datetime.now(_UTC))


def current(backend: OfflineBackend, account: str, slot: str = "running") -> dict[str, Any] | None:
    """The account's running timer (``slot="last"``: the last one stopped or
    cancelled) as :func:`as_dict` data, or None."""
    found = backend.store.timer(account, "last" if slot == "last" else "running")
    return None if found is None else as_dict(found, backend.clock())


def _entry(timer: Timer, user: str, day: dt.date, seconds: int) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "duration": seconds,
        "project": timer.project,
        "user": user,
        "date_worked": day.isoformat(),
    }
    if timer.activities:
        entry["activities"] = list(timer.activities)
    if timer.notes is not None:
        entry["notes"] = timer.notes
    if timer.issue_uri is not None:
        entry["issue_uri"] = timer.issue_uri
    return entry


def _not_future(moment: dt.datetime, now: dt.datetime, what: str) -> None:
    if moment > now:
        raise TimerStateError(f"{what} {_shown(moment)} is in the future (it is {_shown(now)} now)")


def new_timer(
    project: object,
    activities: object,
    notes: object,
    issue_uri: object,
    started_at: dt.datetime,
    user: str,
) -> Timer:
    """A timer, its fields checked as those of a time entry would be (a slug, text that
    can be sent, an issue URI): what it will log is refused now, not at its stop."""
    listed = [] if activities is None else activities
    if not isinstance(listed, (list, tuple)):
        raise ValidationError("time object: activities must be a list")
    probe: dict[str, Any] = {
        "duration": 1,
        "project": project,
        "user": user,
        "date_worked": started_at.astimezone().date().isoformat(),
    }
    if listed:
        probe["activities"] = list(listed)
    if notes is not None:
        probe["notes"] = notes
    if issue_uri is not None:
        probe["issue_uri"] = issue_uri
    checked = validation.validate_write("time", probe, create=True, authenticated=True)
    return Timer(
        str(checked["project"]),
        tuple(str(a) for a in checked.get("activities") or ()),
        checked.get("notes"),
        checked.get("issue_uri"),
        started_at,
    )


def _stop(
    backend: OfflineBackend,
    account: str,
    token: str,
    user: str,
    running: Timer,
    at: dt.datetime,
    notes: str | None,
    then: Timer | None,
) -> dict[str, Any]:
    """Queue the time entries of ``running`` stopped ``at`` and retire it (and start
    ``then``), in one transaction."""
    if at < running.started_at:
        raise TimerStateError(
            f"the stop, {_shown(at)}, is before the timer's start, {_shown(running.started_at)}"
        )
    kept = running if notes is None else replace(running, notes=notes)
    pieces = split(running.started_at, at)
    if not pieces:
        raise TimerStateError("the timer ran less than a second: nothing to log")
    checked = [
        validation.validate_write(
            "time", _entry(kept, user, day, seconds), create=True, authenticated=True
        )
        for day, seconds in pieces
    ]
    commit = functools.partial(
        backend.store.stop_timer, account, started_at=running.started_at, kept=kept, then=then
    )
    created: list[Any] = []
    with backend.batch(lambda: token or None, commit=commit):
        for payload in checked:
            created.append(backend.write("time", None, payload, token))
    return {"timer": as_dict(kept, at), "stopped_at": at.isoformat(), "times": created}


def start(
    backend: OfflineBackend,
    account: str,
    token: str,
    user: str,
    timer: Timer,
    *,
    stop_running: bool,
) -> dict[str, Any]:
    """Start ``timer``; a running one is stopped at its start first (``stop_running``)
    or refused. Returns ``{"timer": ..., "stopped": None or what stop returns}``."""
    now = backend.clock()
    _not_future(timer.started_at, now, "the start")
    running = backend.store.timer(account)
    if running is None:
        backend.store.start_timer(account, timer, now=now)
        return {"timer": as_dict(timer, now), "stopped": None}
    if not stop_running:
        raise TimerStateError(
            f"a timer is running already (on {running.project}, since {_shown(running.started_at)})"
        )
    if timer.started_at < running.started_at:
        raise TimerStateError(
            f"the start, {_shown(timer.started_at)}, is before the running timer's start,"
            f" {_shown(running.started_at)}"
        )
    if not split(running.started_at, timer.started_at):  # (replaced within its second)
        backend.store.stop_timer(account, [], started_at=running.started_at, then=timer, now=now)
        stopped = {
            "timer": as_dict(running, timer.started_at),
            "stopped_at": timer.started_at.isoformat(),
            "times": [],
        }
    else:
        stopped = _stop(backend, account, token, user, running, timer.started_at, None, timer)
    return {"timer": as_dict(timer, now), "stopped": stopped}


def stop(
    backend: OfflineBackend,
    account: str,
    token: str,
    user: str,
    *,
    at: dt.datetime | None,
    notes: str | None,
) -> dict[str, Any]:
    """Stop the running timer ``at`` (default: now): its time entries are queued and it
    becomes the last timer. Returns ``{"timer", "stopped_at", "times"}``."""
    now = backend.clock()
    moment = aware(now if at is None else at, "at")
    _not_future(moment, now, "the stop")
    running = backend.store.timer(account)
    if running is None:
        raise TimerStateError("no timer is running")
    if notes is not None:
        notes = validation.validate_write(
            "time", {"notes": notes}, create=False, authenticated=True
        )["notes"]
    return _stop(backend, account, token, user, running, moment, notes, None)


def restart(
    backend: OfflineBackend,
    account: str,
    token: str,
    user: str,
    *,
    at: dt.datetime | None,
    stop_running: bool,
) -> dict[str, Any]:
    """Start again the last timer stopped or cancelled (its project, activities, notes
    and issue), ``at`` (default: now)."""
    last = backend.store.timer(account, "last")
    if last is None:
        raise TimerStateError("no timer to restart: none was stopped or cancelled yet")
    moment = aware(backend.clock() if at is None else at, "at")
    return start(
        backend, account, token, user, replace(last, started_at=moment), stop_running=stop_running
    )


def cancel(backend: OfflineBackend, account: str) -> dict[str, Any]:
    """Drop the running timer (it becomes the last one; nothing is logged)."""
    now = backend.clock()
    return as_dict(backend.store.cancel_timer(account, now=now), now)
