"""Opening a client's store a second time, on either backend."""

from __future__ import annotations

import os
from pathlib import Path

import pymesync


def same_store(ts: pymesync.TimeSync) -> str | Path:
    """What ``Store.open`` takes to open ``ts``'s store: its file, or (on PostgreSQL,
    whose URL the client shows only without a password) the test's ``PYMESYNC_DB``."""
    return ts.store_path or os.environ["PYMESYNC_DB"]
