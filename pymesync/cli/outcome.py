"""What happened to a write: it is queued (on disk) at once, then pushed in a short
bounded pass, and the command says truthfully how that ended."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pymesync import tables
from pymesync.cli.app import EXIT_FAILED, EXIT_INTERRUPTED, App, CliError, translate
from pymesync.cli.ids import short
from pymesync.errors import (
    PymesyncError,
)

if TYPE_CHECKING:
    from pymesync.client import TimeSync
    from pymesync.push import BoundedPush
    from pymesync.sync import SyncReport


#: The bound on the push after a write command (seconds); what is not sent by then
#: stays queued for `pymesync sync` or the daemon.
PUSH_BUDGET = 1.5


def state_of(ts: TimeSync, uuid: str) -> str:
    return str(ts.sync_status("time", uuid).get("state", "unknown"))


def saved(call: Callable[[], Any], what: str) -> Any:
    """Run the write ``call`` (queueing it; no network); a Ctrl-C before it returns
    gives one line saying that ``what`` was not done (the store rolled back)."""
    try:
        return call()
    except KeyboardInterrupt:
        raise CliError(f"interrupted: {what}", EXIT_INTERRUPTED) from None


def outcome_phrase(app: App, ts: TimeSync, state: str) -> tuple[str, str | None]:
    """What happened to a write, truthfully: ``synced``, or queued and why."""
    if state == "synced":
        return "synced", "green"
    if state in ("pending", "inflight"):
        if not ts.token:
            return "queued, will sync after `pymesync login` (not logged in)", "yellow"
        status = ts.status()
        if status.get("needs_login"):
            return "queued, will sync after `pymesync login` (the server refused the login)", (
                "yellow"
            )
        return "queued, will sync (server unreachable)", "yellow"
    if state in ("failed", "conflict"):
        return f"{state}: see `pymesync failed list`", "red"
    return state, None


@dataclass(frozen=True)
class WriteOutcome:
    """How a write ended, for ``--json``: the ``uuid`` it was written under, its sync
    ``state`` (``synced``, ``pending``, ``inflight``, ``failed``, ``conflict``,
    ``unknown``), the server's uuid once synced, and the line the command printed."""

    uuid: str
    state: str
    server_id: str | None
    message: str

    @property
    def outcome(self) -> str:
        """``synced``, ``queued`` (pending or in flight), ``failed``, ``conflict``, or
        ``dropped`` (an entry removed before it reached the server)."""
        if self.state in ("pending", "inflight"):
            return "queued"
        return "dropped" if self.state == "unknown" else self.state

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready form."""
        return {
            "uuid": self.uuid,
            "server_id": self.server_id,
            "state": self.state,
            "outcome": self.outcome,
            "message": self.message,
        }


def finish_write(
    app: App,
    ts: TimeSync,
    uuid: str,
    head: str,
    *,
    done: Callable[[WriteOutcome], None] | None = None,
) -> WriteOutcome:
    """Print ``head: queued`` for the time ``uuid`` just written (it is on disk), then
    push it in a short bounded pass and print a second line that says how that ended.

    The answer never waits on the network, and the push ends within about
    :data:`PUSH_BUDGET` seconds; what it did not send stays queued for `pymesync sync`
    or the daemon. Ctrl-C stops the push and leaves the entry queued. A write the
    server refuses stays in the queue as failed (exit status 4), to be fixed with
    `pymesync edit` or dropped with `pymesync rm`. ``done``, if given, is called with
    the outcome before the command ends (before the error of a refused write).
    """

    def ended(state: str, phrase: str, server_id: str | None = None) -> WriteOutcome:
        result = WriteOutcome(uuid, state, server_id, phrase)
        if done is not None:
            done(result)
        return result

    from pymesync.push import STOP_GRACE, BoundedPush

    if not ts.token:
        state = state_of(ts, uuid)
        phrase, colour = outcome_phrase(app, ts, state)
        app.out(f"{head}: " + tables.paint(phrase, colour, app.out_colour))
        return ended(state, phrase)
    app.out(f"{head}: " + tables.paint("queued", "yellow", app.out_colour))
    push = BoundedPush(ts, PUSH_BUDGET).start()
    try:
        if not push.wait(PUSH_BUDGET + STOP_GRACE):
            push.stop()
    except KeyboardInterrupt:
        _stop_firmly(push, STOP_GRACE)
        raise CliError(
            "interrupted: the entry is queued, will sync later (`pymesync sync` or the daemon)",
            EXIT_INTERRUPTED,
        ) from None
    if not push.done:  # (the pass did not hand back in time: its lease runs out)
        phrase = "not sent (no answer from the server): stays queued, will sync later"
        app.out(tables.paint(phrase, "yellow", app.out_colour))
        return ended(state_of(ts, uuid), phrase)
    if push.error is not None:  # (a store or login error: the queue is untouched)
        if not isinstance(push.error, PymesyncError):
            raise push.error
        why = translate(push.error, app).message
        phrase = f"not sent ({why}): stays queued"
        app.out(tables.paint(phrase, "yellow", app.out_colour))
        return ended(state_of(ts, uuid), phrase)
    found = ts.sync_status("time", uuid)
    state = str(found.get("state", "unknown"))
    server_id = str(found.get("server_id") or uuid)
    if state == "synced":
        phrase, colour = ("synced" if server_id == uuid else f"synced as {server_id}"), "green"
    elif state in ("pending", "inflight"):
        phrase, colour = _not_sent(ts, push.report), "yellow"
    else:
        phrase, colour = outcome_phrase(app, ts, state)
    app.out(tables.paint(phrase, colour, app.out_colour))
    result = ended(state, phrase, server_id if state == "synced" else None)
    if state in ("failed", "conflict"):
        reason = failure(ts, uuid, state)
        raise CliError(
            f"the server refused it{f' ({reason})' if reason else ''}; it is kept as {state}:"
            " fix it with "
            f"`pymesync edit {short(uuid)}` or remove it with `pymesync rm {short(uuid)}`",
            EXIT_FAILED,
        )
    return result


def _stop_firmly(push: BoundedPush, grace: float) -> None:
    """Stop the push and wait up to ``grace`` seconds for it to give its operations
    back, whatever Ctrl-C presses come meanwhile: people press it twice, and a second
    press must not leave the entry leased to a process that has gone."""
    deadline = time.monotonic() + grace
    while True:
        try:
            push.stop(max(0.0, deadline - time.monotonic()))
            return
        except KeyboardInterrupt:
            if time.monotonic() >= deadline:
                return


def _not_sent(ts: TimeSync, report: SyncReport | None) -> str:
    """Why a push left a write queued, and what happens to it next."""
    stopped = None if report is None else report.stopped
    if stopped == "needs_login" or ts.status().get("needs_login"):
        return "not sent (the server refused the login): stays queued until `pymesync login`"
    if stopped in ("budget", "stopped"):
        why = f"no answer from the server within {PUSH_BUDGET:g} s"
    elif stopped == "offline":
        why = "server unreachable"
    else:  # nothing could be sent now: it waits behind an earlier change
        why = "it waits for an earlier change that is being sent or checked"
    return f"not sent ({why}): stays queued, will sync later"


def failure(ts: TimeSync, uuid: str, state: str) -> str | None:
    """Why the time ``uuid`` is ``state`` (failed, or in conflict): the error of its
    first operation in that state, or None."""
    for op in ts.sync_status("time", uuid).get("operations") or []:
        if isinstance(op, dict) and op.get("state") == state:
            return op_error(op) or None
    return None


def op_error(op: dict[str, Any]) -> str:
    error = op.get("last_error")
    if isinstance(error, dict):
        return str(error.get("message") or error)
    return str(error or "")
