"""A child process for the crash and concurrency tests.

``proc.py sync BASE_URL [STOP_FILE]``: sync alice's queue until it is empty (and, with
STOP_FILE, until that file exists too).
``proc.py write BASE_URL COUNT PREFIX``: queue COUNT time entries (queue mode).
The store is ``$PYMESYNC_DB``; credentials for a re-login come from the environment.
"""

from __future__ import annotations

import datetime as dt
import os
import sys
import time

import pymesync

YESTERDAY = (dt.datetime.now(dt.timezone.utc).date() - dt.timedelta(days=1)).isoformat()


def sync(base: str, stop_file: str | None) -> None:
    concurrency = int(os.environ.get("SYNC_CONCURRENCY", "8"))
    ts = pymesync.TimeSync.resume(
        base, "alice", mode="queue", sync_concurrency=concurrency, timeout=1.5, lease_seconds=3.0
    )
    while True:
        report = ts.sync()
        status = ts.status()
        print(f"synced {report.synced} pending {status['pending']}", flush=True)
        waiting = status["pending"] + status["inflight"]
        if not waiting and (stop_file is None or os.path.exists(stop_file)):
            return
        if not report.results:
            time.sleep(0.05)


def write(base: str, count: int, prefix: str) -> None:
    ts = pymesync.TimeSync.resume(base, "alice", mode="queue")
    for i in range(count):
        made = ts.create_time(
            {
                "duration": 60,
                "project": "gwm",
                "user": "alice",
                "date_worked": YESTERDAY,
                "notes": f"{prefix}-{i}",
            }
        )
        assert "uuid" in made, made
    print("written", flush=True)


if __name__ == "__main__":
    if sys.argv[1] == "sync":
        sync(sys.argv[2], sys.argv[3] if len(sys.argv) > 3 else None)
    else:
        write(sys.argv[2], int(sys.argv[3]), sys.argv[4])
