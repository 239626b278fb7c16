"""Child processes for tests/sync/test_postgres_many_daemons.py.

``many_daemons_proc.py daemon BASE_URL``: the daemon's loop (``pymesync.daemon.run_daemon``,
what ``pymesync daemon`` runs) with short leases and request deadlines, so that a
SIGKILLed daemon's operations come back within seconds (the command's lease is 120 s,
and not an option: its killed daemons would hold their operations for two minutes),
and short passes (each logs what it synced before the next kill is likely); it logs to
stderr as the command does, until SIGTERM.
``many_daemons_proc.py write BASE_URL WRITER COUNT SEED``: queue a project of its own,
then COUNT time entries (identical "standups" among them, the first ones on that
project), editing and deleting some of its earlier ones as it goes; prints what the
server must hold at the end as one JSON line.
The store is ``$PYMESYNC_DB``; credentials for a re-login come from the environment.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import random
import sys
import time
from typing import Any

import pymesync
from pymesync.daemon import run_daemon

TODAY = dt.datetime.now(dt.timezone.utc).date()
DAYS = [(TODAY - dt.timedelta(days=n)).isoformat() for n in (1, 2)]
STANDUP = "pgp standup"


def daemon(base: str) -> None:
    # (a few requests at a time each: several daemons share a backlog between them)
    ts = pymesync.TimeSync.resume(
        base, "alice", mode="queue", timeout=1.5, lease_seconds=3.0, sync_concurrency=2
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    logger = logging.getLogger("pymesync.daemon")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    run_daemon(ts, interval=0.25, logger=logger, pass_budget=1.0)


def _checked(answer: Any) -> dict[str, Any]:
    assert isinstance(answer, dict) and "pymesync error" not in answer, answer
    return answer


def write(base: str, writer: int, count: int, seed: int) -> None:
    rng = random.Random(seed)
    ts = pymesync.TimeSync.resume(base, "alice", mode="queue")
    project = f"pgp{writer}"
    _checked(
        ts.create_project(
            {
                "name": f"pgprocs writer {writer}",
                "slugs": [project],
                "default_activity": "dev",
                "users": {"alice": {"member": True, "spectator": False, "manager": True}},
            }
        )
    )
    live: dict[str, dict[str, Any]] = {}  # local uuid -> what the server must show
    edited: set[str] = set()
    updates = deletes = 0
    for i in range(count):
        if i % 4 == 3:  # "1h standup", several a day, identical in every writer
            entry = {"duration": 3600, "project": "gwm", "date_worked": DAYS[i % 2]}
            entry["notes"] = STANDUP
        else:
            entry = {
                "duration": 60 + 1000 * writer + i,
                "project": project if i < count // 2 else "gwm",
                "date_worked": DAYS[i % 2],
                "notes": f"pgp-{writer}-{i}",
            }
        made = _checked(ts.create_time({**entry, "user": "alice"}))
        live[made["uuid"]] = entry
        roll = rng.random()
        # mostly one of the last few: its create is likely still queued or in flight
        # (being sent by a daemon, or held by a killed one), so the edit must go after it
        recent = list(live)[-3:] if rng.random() < 0.7 else list(live)
        candidates = [uuid for uuid in recent if uuid not in edited]
        if roll < 0.3 and candidates:
            target = rng.choice(candidates)
            change = {"duration": live[target]["duration"] + 7, "notes": f"pgp-{writer}-e{i}"}
            _checked(ts.update_time(change, uuid=target))
            live[target] = {**live[target], **change}
            edited.add(target)
            updates += 1
        elif roll < 0.45 and len(live) > 1:
            target = rng.choice(recent)
            _checked(ts.delete_time(uuid=target))
            del live[target]
            edited.discard(target)
            deletes += 1
        time.sleep(rng.uniform(0.05, 0.35))
    print(
        json.dumps(
            {
                "live": list(live.values()),
                "updates": updates,
                "deletes": deletes,
                "project": project,
            }
        ),
        flush=True,
    )


if __name__ == "__main__":
    if sys.argv[1] == "daemon":
        daemon(sys.argv[2])
    else:
        write(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]))
