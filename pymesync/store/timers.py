"""The running timer of each account, and the last one stopped or cancelled (the
``timers`` table of migration 0003).

An account has at most one ``running`` timer and one ``last`` one (what a restart
starts again). Stopping a timer queues its time entries and moves it to ``last`` in ONE
transaction (:meth:`Store.stop_timer <pymesync.store.Store.stop_timer>`): a process
killed at any moment leaves either the timer running and nothing queued, or the entries
queued and the timer stopped, never both or neither.

Functions work inside a transaction the caller opened on a DB-API connection (plain SQL,
no SQLAlchemy: the command line's short commands and the read-only
:class:`~pymesync.store.StorePeek` use them too).
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from pymesync.errors import TimerStateError

from .codec import dump_json, format_utc, load_json, parse_utc

__all__ = ["LAST", "RUNNING", "Slot", "Timer", "TimerStateError", "get", "put", "retire", "take"]

Slot = Literal["running", "last"]
RUNNING: Slot = "running"
LAST: Slot = "last"

_COLUMNS = "project, activities, notes, issue_uri, started_at"
_PUT = (
    "INSERT INTO timers (account, slot, project, activities, notes, issue_uri, started_at,"
    " updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (account, slot) DO UPDATE SET"
    " project = excluded.project, activities = excluded.activities, notes = excluded.notes,"
    " issue_uri = excluded.issue_uri, started_at = excluded.started_at,"
    " updated_at = excluded.updated_at"
)


@dataclass(frozen=True)
class Timer:
    """A timer: what its time entries will say (``project`` slug, ``activities`` slugs,
    ``notes``, ``issue_uri``) and when it started (an aware UTC datetime)."""

    project: str
    activities: tuple[str, ...]
    notes: str | None
    issue_uri: str | None
    started_at: datetime


def get(db: sqlite3.Connection, account: str, slot: Slot = RUNNING) -> Timer | None:
    """The account's timer in ``slot``, or None."""
    row = db.execute(
        f"SELECT {_COLUMNS} FROM timers WHERE account = ? AND slot = ?", (account, slot)
    ).fetchone()
    if row is None:
        return None
    project, activities, notes, issue_uri, started_at = row
    listed = load_json(activities)
    return Timer(
        str(project),
        tuple(str(a) for a in listed) if isinstance(listed, list) else (),
        notes,
        issue_uri,
        parse_utc(started_at),
    )


def put(db: sqlite3.Connection, account: str, slot: Slot, timer: Timer, now: datetime) -> None:
    """Store ``timer`` in ``slot`` (replacing what was there)."""
    db.execute(
        _PUT,
        (
            account,
            slot,
            timer.project,
            dump_json(list(timer.activities)),
            timer.notes,
            timer.issue_uri,
            format_utc(timer.started_at),
            format_utc(now),
        ),
    )


def take(db: sqlite3.Connection, account: str, started_at: datetime | None = None) -> Timer:
    """The running timer, checked: :class:`~pymesync.errors.TimerStateError` when none
    runs, or (``started_at`` given) when the one running is not the one that started
    then (another process stopped it, or stopped it and started another)."""
    running = get(db, account)
    if running is None:
        if started_at is None:
            raise TimerStateError("no timer is running")
        raise TimerStateError("the timer was stopped meanwhile (by another process)")
    if started_at is not None and running.started_at != started_at:
        raise TimerStateError("the timer was stopped and another started meanwhile")
    return running


def retire(db: sqlite3.Connection, account: str, timer: Timer, now: datetime) -> None:
    """Remove the running timer and keep ``timer`` as the ``last`` one."""
    db.execute("DELETE FROM timers WHERE account = ? AND slot = ?", (account, RUNNING))
    put(db, account, LAST, timer, now)
