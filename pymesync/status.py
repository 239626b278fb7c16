"""The truth about an account's queue, as JSON-ready dicts (for ``status``, ``failed``).

Read-only views over the store; the token never appears in them. :func:`account_status`
reads from a :class:`~pymesync.store.Store` or from a read-only
:class:`~pymesync.store.StorePeek` (``pymesync status``, without SQLAlchemy): anything
with the two methods of :class:`StatusSource`.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any, Protocol

from pymesync.accounts import split

if TYPE_CHECKING:
    from pymesync.store import Operation, QueueSummary, Store
    from pymesync.store.timers import Timer

NEEDS_LOGIN = "needs_login"


def utcnow() -> dt.datetime:
    """The current time, timezone-aware UTC."""
    return dt.datetime.now(dt.timezone.utc)


class StatusSource(Protocol):
    """What :func:`account_status` reads (a ``Store`` or a ``StorePeek``)."""

    def queue_summary(self, account: str, *, now: dt.datetime | None = None) -> QueueSummary:
        """The account's counts per state, oldest waiting operation, earliest retry
        (an inflight operation whose lease ran out by ``now`` counts as pending)."""
        ...

    def all_states(self, account: str) -> dict[str, Any]:
        """Every sync-state key and value of the account."""
        ...

    def timer(self, account: str) -> Timer | None:
        """The account's running timer, or None."""
        ...


def iso(value: dt.datetime | None) -> str | None:
    """ISO-8601 text of a datetime, or None."""
    return None if value is None else value.isoformat()


def op_record(op: Operation) -> dict[str, Any]:
    """One queued operation as a JSON-ready dict (passwords are already bcrypt hashes)."""
    return {
        "op_id": op.op_id,
        "entity": op.entity,
        "kind": op.kind,
        "target": op.target,
        "state": op.state,
        "payload": op.payload,
        "attempts": op.attempts,
        "created_at": iso(op.created_at),
        "next_attempt_at": iso(op.next_attempt_at),
        "last_error": op.last_error,
    }


def timer_record(timer: Timer, now: dt.datetime) -> dict[str, Any]:
    """A timer as a JSON-ready dict: ``project``, ``activities``, ``notes``,
    ``issue_uri``, ``started_at`` (ISO 8601, UTC) and ``elapsed`` (whole seconds from
    its start to ``now``)."""
    return {
        "project": timer.project,
        "activities": list(timer.activities),
        "notes": timer.notes,
        "issue_uri": timer.issue_uri,
        "started_at": timer.started_at.astimezone(dt.timezone.utc).isoformat(),
        "elapsed": max(0, int((now - timer.started_at).total_seconds())),
    }


def account_status(store: StatusSource, account: str, now: dt.datetime) -> dict[str, Any]:
    """Counts per state, the oldest pending operation's age, last success and error,
    the next retry time, whether the account waits for a login, and its running
    ``timer`` (None: none runs)."""
    summary = store.queue_summary(account, now=now)
    counts = summary.counts
    oldest = summary.oldest_created_at
    states = store.all_states(account)
    timer = store.timer(account)
    base_url, username = split(account)
    return {
        "account": {"base_url": base_url, "username": username},
        "pending": counts.get("pending", 0),
        "inflight": counts.get("inflight", 0),
        "failed": counts.get("failed", 0),
        "conflicts": counts.get("conflict", 0),
        "oldest_pending_age": None if oldest is None else (now - oldest).total_seconds(),
        "last_success": states.get("last_success"),
        "last_error": states.get("last_error"),
        "next_retry": iso(summary.next_attempt_at),
        "needs_login": bool(states.get(NEEDS_LOGIN)) and summary.waiting > 0,
        "conflict_log": states.get("conflicts") or [],
        "timer": None if timer is None else timer_record(timer, now),
    }


def problem_ops(store: Store, account: str) -> list[dict[str, Any]]:
    """The failed and conflicting operations, oldest first."""
    return [op_record(op) for op in store.operations(account, states=("failed", "conflict"))]
