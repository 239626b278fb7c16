"""pymesync: an offline-first client for the TimeSync time-tracking API.

``pymesync.TimeSync`` keeps the old library's API; ``pymesync.errors`` holds the
exception tree (rooted at :class:`PymesyncError`) for callers who opt in to exceptions.

``TimeSync`` is imported when first used (``from pymesync import TimeSync`` works as
always), so that ``pymesync.launch`` (the ``pymesync`` command's entry point) can start
without it and turn a Ctrl-C during the start-up imports into one line.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pymesync import errors
from pymesync.errors import PymesyncError

if TYPE_CHECKING:
    from pymesync.client import TimeSync

__all__ = ["PymesyncError", "TimeSync", "errors"]
__version__ = "1.0.0.dev0"


def __getattr__(name: str) -> Any:
    """``TimeSync``, imported on first use."""
    if name == "TimeSync":
        from pymesync.client import TimeSync

        globals()["TimeSync"] = TimeSync
        return TimeSync
    raise AttributeError(f"module 'pymesync' has no attribute {name!r}")
