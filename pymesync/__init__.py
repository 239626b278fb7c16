"""pymesync: an offline-first client for the TimeSync time-tracking API.

``pymesync.TimeSync`` keeps the old library's API; ``pymesync.errors`` holds the
exception tree (rooted at :class:`PymesyncError`) for callers who opt in to exceptions.
"""

from pymesync import errors
from pymesync.client import TimeSync
from pymesync.errors import PymesyncError

__all__ = ["PymesyncError", "TimeSync", "errors"]
__version__ = "1.0.0.dev0"
