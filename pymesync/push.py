"""A short, bounded push in a background thread (what the command line does after a
write): the caller answers as soon as the write is durable and waits for the push only
as long as it chooses, and a Ctrl-C in the caller's thread can stop it cleanly.

The push is one :meth:`TimeSync.sync` pass with a time budget; stopping it (the budget,
or :meth:`BoundedPush.stop`) abandons the requests still out, and their operations go
back to the queue at once (marked "may have been sent", so a later pass looks for them
on the server before sending anything again): nothing stays leased to a process that
has gone.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pymesync.client import TimeSync
    from pymesync.sync import SyncReport

#: How long a stopped pass may take to give its operations back: the sync abandons
#: requests in flight within about a second (see ``pymesync.sync.ABANDON_GRACE``).
STOP_GRACE = 1.5


class BoundedPush:
    """One sync pass of ``ts`` limited to ``budget`` seconds, run in a daemon thread.

    ``report`` is the pass's :class:`~pymesync.sync.SyncReport` once it is done, and
    ``error`` what it raised instead (a store or login error: the queue is untouched).
    The client must not be used by the caller while the push runs.
    """

    def __init__(self, ts: TimeSync, budget: float) -> None:
        self._ts = ts
        self._budget = budget
        self._stopping = threading.Event()
        # (an Event, not Thread.join/is_alive: a join interrupted by Ctrl-C can leave
        # the thread looking finished while it still runs)
        self._finished = threading.Event()
        self.report: SyncReport | None = None
        self.error: Exception | None = None
        self._thread = threading.Thread(target=self._run, name="pymesync-push", daemon=True)

    def start(self) -> BoundedPush:
        """Start pushing; returns self."""
        self._thread.start()
        return self

    def _run(self) -> None:
        try:
            self.report = self._ts.sync(budget=self._budget, should_stop=self._stopping.is_set)
        except Exception as error:  # reported by the caller, never a traceback here
            self.error = error
        finally:
            self._finished.set()

    @property
    def done(self) -> bool:
        """Whether the pass has ended."""
        return self._finished.is_set()

    def wait(self, timeout: float | None) -> bool:
        """Wait up to ``timeout`` seconds for the pass; True when it has ended."""
        return self._finished.wait(timeout)

    def stop(self, grace: float = STOP_GRACE) -> bool:
        """Ask the pass to end now and wait up to ``grace`` seconds for it to hand its
        operations back; True when it has ended."""
        self._stopping.set()
        return self.wait(grace)
