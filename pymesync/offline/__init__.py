"""The offline-first backend of ``TimeSync`` (the ``auto`` and ``queue`` modes).

:class:`~pymesync.offline.backend.OfflineBackend` is made of one part per module:
:mod:`~pymesync.offline.session` (the store, the token, logins, the offline state),
:mod:`~pymesync.offline.syncing` (sync passes; the engine is imported only when one
starts), :mod:`~pymesync.offline.queue` (status, failed, retry, discard),
:mod:`~pymesync.offline.reads` (reads with the cache) and
:mod:`~pymesync.offline.writes` (queued writes and batches) and
:mod:`~pymesync.offline.totals` (report rows).
"""

from pymesync.offline.backend import OfflineBackend
from pymesync.offline.reads import ReadInfo
from pymesync.offline.session import Mode, unreachable
from pymesync.offline.syncing import PENDING_STATES
from pymesync.offline.totals import report_row

__all__ = ["PENDING_STATES", "Mode", "OfflineBackend", "ReadInfo", "report_row", "unreachable"]
