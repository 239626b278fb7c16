"""Pushing the queue from the offline backend: sync workers, a sync pass now, and
waiting until what was queued is on the server.

The sync engine (:mod:`pymesync.sync`) is imported only when a push starts: a write
that is only queued never needs it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from pymesync.offline.session import Session
from pymesync.status import NEEDS_LOGIN

if TYPE_CHECKING:
    # (imported when a push starts: a write that is only queued never needs the engine)
    from pymesync.sync import OpResult, SyncReport, SyncWorker

PENDING_STATES = ("pending", "inflight")


class Syncing(Session):
    """Sync passes over the account's queue."""

    def worker(self, token: str) -> SyncWorker:
        """A sync worker for the account of ``token``."""
        return self.worker_for(self.account(token))

    def worker_for(self, account: str) -> SyncWorker:
        """A sync worker for ``account`` (its token: the facade's or the stored one)."""
        from pymesync.sync import SyncWorker

        return SyncWorker(
            self.store,
            self.transport,
            account,
            lambda: self.token_for(account),
            relogin=lambda: self.relogin(account),
            conflict_policy=self.conflict_policy,
            lease_seconds=self.lease_seconds,
            clock=self.clock,
            concurrency=self.concurrency,
            requests_per_second=self.requests_per_second,
        )

    def sync(
        self,
        token: str,
        *,
        stop_after: str | None = None,
        progress: Callable[[OpResult], None] | None = None,
        budget: float | None = None,
        should_stop: Callable[[], bool] | None = None,
    ) -> SyncReport:
        """Push the account's queue now: operations backing off after a transient
        failure are tried at once too (failed ones wait for an explicit retry).
        ``budget``: seconds the whole pass may take; ``should_stop``: asked while the
        pass runs, True ends it early (see :meth:`SyncWorker.run_once`)."""
        worker = self.worker(token)
        worker.expedite()
        report = worker.run_once(
            self.clock(),
            stop_after=stop_after,
            progress=progress,
            budget=budget,
            should_stop=should_stop,
        )
        now = self.clock()
        if report.stopped == "offline":
            self._went_offline(now)
        else:
            self._offline_until = None
        return report

    def wait_synced(self, token: str, timeout: float, sleep: Callable[[float], None]) -> bool:
        """Push until every operation queued so far is synced; False on timeout or when
        one of them failed for good."""
        account = self.account(token)
        watched = {op.op_id for op in self.store.operations(account, states=PENDING_STATES)}
        deadline = time.monotonic() + timeout
        while True:
            report = self.sync(token)
            left = [op for op in self.store.operations(account) if op.op_id in watched]
            if not left:
                return True
            if any(op.state in ("failed", "conflict") for op in left):
                return False
            remaining = deadline - time.monotonic()
            if remaining <= 0 or report.stopped == NEEDS_LOGIN:
                return False
            sleep(min(1.0, remaining))
