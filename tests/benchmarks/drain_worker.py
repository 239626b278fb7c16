"""One sync daemon of the ``pg_drain`` benchmark (``run.py --only pg_drain``), a process.

``python drain_worker.py BASE_URL USER DB CONCURRENCY INTERVAL``: resumes ``USER``'s
account on the store ``DB`` (a SQLite path or a ``postgresql+psycopg://`` URL) with the
token the benchmark's login stored there, opens the store's connections, prints
``ready`` and waits for a line on stdin; then runs :func:`pymesync.daemon.run_daemon`
(what ``pymesync daemon`` runs) with ``INTERVAL`` seconds between passes until SIGTERM.
"""

from __future__ import annotations

import sys
from concurrent.futures import ThreadPoolExecutor

from pymesync import TimeSync
from pymesync.daemon import run_daemon


def main() -> int:
    url, user, db, concurrency, interval = sys.argv[1:6]
    ts = TimeSync.resume(
        url, user, mode="queue", db=db, sync_concurrency=int(concurrency), raise_errors=True
    )
    # Open the pool's connections before the start (a long-running daemon has them):
    # the sending threads and the coordinating one each use one.
    with ThreadPoolExecutor(int(concurrency) + 1) as pool:
        list(pool.map(lambda _: ts.status(), range(3 * (int(concurrency) + 1))))
    print("ready", flush=True)
    sys.stdin.readline()
    try:
        run_daemon(ts, interval=float(interval))
    finally:
        ts.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
