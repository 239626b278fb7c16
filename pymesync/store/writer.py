"""A thread that runs a transaction's bulk writes while the caller prepares the next ones.

``sqlite3`` releases the GIL while SQLite executes a statement, so with two CPUs the
b-tree work of one chunk's multi-row INSERTs (:mod:`~pymesync.store.values`) can run in
this thread while the calling thread builds the rows of the next chunk in Python.

Only one thread uses the connection at a time: the caller hands writes over with
:meth:`Writer.submit` and must call :meth:`Writer.settle` (which waits until every
write handed over is done) before it uses the connection itself, and
:meth:`Writer.close` before the transaction ends (commit or rollback). Writes run in
the order they were handed over. After a write fails, the later ones are skipped, and
the error is raised by the next :meth:`~Writer.settle` (or returned by
:meth:`~Writer.close`): the caller sees it where it would have seen it had it run the
writes itself, before anything it did later.
"""

from __future__ import annotations

import os
import queue
import threading
from collections.abc import Callable
from typing import Any

__all__ = ["Writer", "worth_a_thread"]

#: Writes waiting for the thread at most (the caller waits when it is that far ahead:
#: a stream of items is not read faster than it is written).
_WAITING = 2

_Job = tuple[Callable[..., Any], tuple[Any, ...]]


def worth_a_thread() -> bool:
    """Whether this process may run on two CPUs at once (else the thread would only
    take turns with the caller)."""
    try:
        return len(os.sched_getaffinity(0)) > 1
    except (AttributeError, OSError):  # pragma: no cover - not Linux
        return (os.cpu_count() or 1) > 1


class Writer:
    """One thread running the writes handed to it, in order (see the module)."""

    def __init__(self, name: str = "pymesync-writer") -> None:
        """Start the thread."""
        self._jobs: queue.Queue[_Job | None] = queue.Queue(maxsize=_WAITING)
        self._error: BaseException | None = None
        self._delivered = False
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while True:
            job = self._jobs.get()
            try:
                if job is None:
                    return
                if self._error is None:
                    call, args = job
                    call(*args)
            except BaseException as exc:  # handed to the caller (settle, close)
                self._error = exc
            finally:
                self._jobs.task_done()

    def submit(self, call: Callable[..., Any], *args: Any) -> None:
        """Run ``call(*args)`` in the thread after the writes handed over before (waits
        while :data:`_WAITING` writes are waiting already)."""
        self._jobs.put((call, args))

    def settle(self) -> None:
        """Wait until every write handed over is done; raise the first one's error."""
        self._jobs.join()
        self._raise()

    def _raise(self) -> None:
        if self._error is not None and not self._delivered:
            self._delivered = True
            raise self._error

    def close(self) -> BaseException | None:
        """Let the thread finish the writes handed over (after an error: the one
        running) and end. Returns the error of a write not raised yet by
        :meth:`settle`; None when there was none."""
        self._jobs.put(None)
        self._thread.join()
        if self._error is not None and not self._delivered:
            self._delivered = True
            return self._error
        return None
