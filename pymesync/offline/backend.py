"""The offline-first backend: every write through the durable queue, reads with a cache.

A write is validated by the facade, then appended to the store's queue together with
its provisional object in ONE transaction (durable when the call returns). In the
default ``"auto"`` mode the queue is then pushed at once, earlier operations first, and
the server's answer returned; when the server cannot be reached the provisional object
is returned instead and the operation waits for the next sync. ``"queue"`` mode never
pushes inline (a daemon does it).

A read asks the server, refreshes the cache and applies the user's pending changes;
when the server cannot be reached it is answered from the cache (:mod:`pymesync.cached`).

The backend is made of parts, one module each, on a shared :class:`.session.Session`:
:mod:`.writes` (and batches), :mod:`.syncing`, :mod:`.reads`, :mod:`.queue` and
:mod:`.totals` (report rows, on the reads and the queue).
"""

from __future__ import annotations

from pymesync.offline.totals import Totals
from pymesync.offline.writes import Writes


class OfflineBackend(Writes, Totals):
    """Backend of ``TimeSync`` in the ``auto`` and ``queue`` modes."""
