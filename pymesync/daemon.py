"""The background sync loop behind ``pymesync daemon``.

One daemon per SQLite store (an exclusive lock file next to the database); several on a
PostgreSQL store, on several hosts, share its queue. Every ``interval``
seconds it pushes the operations that are due. While the server is unreachable the loop
itself backs off (doubling up to ``max_backoff``), and each pass then starts with a
single request; once one succeeds, everything that was backing off is due again and the
whole queue goes at full concurrency in that same pass (the backoff is the server's,
not each operation's). A store on PostgreSQL that cannot be reached is logged and tried
again with the same backoff (nothing is half-written; leases run out and are taken
over). A pass lasts at most ``pass_budget`` seconds. SIGTERM and SIGINT stop the loop
within a few seconds: nothing new is sent, requests in flight are abandoned, and their
operations go back to the queue to be reconciled by the next pass.
It logs through the standard :mod:`logging` module (logger ``pymesync.daemon``); the
token never appears.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pymesync import private
from pymesync.errors import PymesyncError
from pymesync.store.errors import StoreUnavailableError
from pymesync.transport import redact

if TYPE_CHECKING:
    from pymesync.client import TimeSync

LOG = logging.getLogger("pymesync.daemon")


class DaemonAlreadyRunning(PymesyncError):
    """Another daemon already syncs this store."""


class RedactingFilter(logging.Filter):
    """Removes the current token from every log record, whatever its origin."""

    def __init__(self, token: Callable[[], str | None]) -> None:
        super().__init__()
        self._token = token

    def filter(self, record: logging.LogRecord) -> bool:
        """Rewrite the record's message without the token."""
        token = self._token()
        if token:
            record.msg = redact(record.getMessage(), token)
            record.args = None
        return True


@contextlib.contextmanager
def store_lock(db_path: Path) -> Iterator[Path]:
    """Hold ``<db>.daemon.lock`` (mode 0600) exclusively, or raise
    :class:`DaemonAlreadyRunning`."""
    import fcntl

    path = db_path.with_name(db_path.name + ".daemon.lock")
    handle = private.open_private(path, os.O_RDWR)
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise DaemonAlreadyRunning(
                f"another pymesync daemon is already syncing {db_path}"
            ) from None
        yield path
    finally:
        os.close(handle)


@contextlib.contextmanager
def _stop_on_signals(stop: threading.Event) -> Iterator[None]:
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: Any) -> None:
        LOG.info(
            "received %s: abandoning the requests in flight, then stopping",
            signal.Signals(signum).name,
        )
        stop.set()

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def run_daemon(
    ts: TimeSync,
    *,
    interval: float = 30.0,
    stop: threading.Event | None = None,
    logger: logging.Logger | None = None,
    max_backoff: float = 300.0,
    pass_budget: float = 300.0,
) -> None:
    """Sync ``ts``'s account until ``stop`` is set (or SIGTERM/SIGINT arrives).

    ``pass_budget`` bounds one pass in seconds (a longer queue goes on in the next
    pass, started at once).

    ``ts`` must be an offline-first client (mode ``"auto"`` or ``"queue"``) that knows
    its account (a token, or ``TimeSync.resume``). Raises
    :class:`DaemonAlreadyRunning` when another daemon holds the store.
    """
    worker = ts.sync_worker()
    path = worker.store.path
    # One daemon per SQLite file; on PostgreSQL (no path) several daemons, on several
    # hosts, share one queue: their claims lock rows (see docs/deploying.md).
    held = contextlib.nullcontext() if path is None else store_lock(path)
    log = logger or LOG
    guard = RedactingFilter(lambda: ts.token)
    log.addFilter(guard)
    stop = stop or threading.Event()
    try:
        with held, _stop_on_signals(stop):
            log.info(
                "syncing %s every %s s (store %s)", worker.account, interval, worker.store.location
            )
            failures = 0
            store_failures = 0
            warned_login = False
            while not stop.is_set():
                try:
                    if failures:  # after the server-level backoff: everything is due again
                        worker.expedite()
                    report = worker.run_once(should_stop=stop.is_set, budget=pass_budget)
                except StoreUnavailableError as error:
                    # (a store on PostgreSQL whose server is down or cut off: nothing
                    # was half-written; the pass is tried again, backing off)
                    store_failures += 1
                    wait = min(max_backoff, interval * 2 ** (store_failures - 1))
                    log.warning("%s; next try in %.0f s", error.message, wait)
                    stop.wait(wait)
                    continue
                if store_failures:
                    log.info("the store answers again")
                    store_failures = 0
                if report.results:
                    log.info(
                        "pass: %d synced, %d failed, %d sent",
                        report.synced,
                        report.failed,
                        len(report.results),
                    )
                for result in report.results:
                    if result.outcome == "failed" and result.error is not None:
                        log.error(
                            "operation %s (%s %s %s) failed: %s",
                            result.op_id,
                            result.kind,
                            result.entity,
                            result.target,
                            result.error.message,
                        )
                if report.stopped == "offline":
                    failures += 1
                    wait = min(max_backoff, interval * 2 ** (failures - 1))
                    log.warning("server unreachable; next try in %.0f s", wait)
                elif report.stopped == "needs_login":
                    failures = 0
                    wait = interval
                    if not warned_login:
                        warned_login = True
                        log.warning(
                            "the server refused the token and there is no way to log in "
                            "again: run `pymesync login` (queue kept)"
                        )
                else:
                    failures, wait = 0, 0.0 if report.stopped == "budget" else interval
                if report.stopped != "needs_login":
                    warned_login = False
                stop.wait(wait)
            log.info("stopped")
    finally:
        log.removeFilter(guard)
