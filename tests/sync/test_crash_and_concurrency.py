"""Crashes and concurrent processes: nothing lost, nothing doubled (emulator over loopback)."""

from __future__ import annotations

import collections
import datetime as dt
import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import pymesync
from pymesync.testing import run_emulator

PROC = str(Path(__file__).with_name("proc.py"))
YESTERDAY = (dt.datetime.now(dt.timezone.utc).date() - dt.timedelta(days=1)).isoformat()


@pytest.fixture
def emu() -> Iterator[Any]:
    with run_emulator(seed_data=True) as emulator:
        yield emulator


@pytest.fixture
def child_env(store_backend: str) -> dict[str, str]:
    return {
        **os.environ,  # (PYMESYNC_DB: the test's store, a file or a PostgreSQL database)
        "PYMESYNC_USERNAME": "alice",
        "PYMESYNC_PASSWORD": "alice",
    }


def notes_on_server(emu: Any, prefix: str) -> collections.Counter[str]:
    admin = pymesync.TimeSync(emu.base_url, mode="direct")
    admin.authenticate("admin", "admin", "password")
    return collections.Counter(
        t["notes"]
        for t in admin.get_times({"user": "alice"})
        if str(t.get("notes", "")).startswith(prefix)
    )


def queue_poison(ts: pymesync.TimeSync) -> str:
    """A create the engine cannot send (a list where a slug belongs), put straight into
    the store as an older client or a bug could have: it must fail alone."""
    from pymesync.store import NewOperation, Store

    assert ts.account is not None and ts.store_location is not None
    op = NewOperation(
        account=ts.account,
        kind="create",
        entity="time",
        target="poison-local-id",
        payload={
            "duration": 60,
            "project": ["gwm", "ts"],
            "user": "alice",
            "date_worked": YESTERDAY,
            "notes": "crash-poison",
        },
    )
    with Store.open(ts.store_path) as store:
        store.enqueue(op)
    return op.op_id


@pytest.mark.slow
@pytest.mark.parametrize(
    ("concurrency", "distinct", "projects_cached"),
    [(1, 24, False), (4, 120, False), (8, 200, True)],
    ids=["one-at-a-time", "concurrency-4", "concurrency-8-projects-cached"],
)
def test_crash_loop_loses_nothing_and_doubles_nothing(
    emu: Any, child_env: dict[str, str], concurrency: int, distinct: int, projects_cached: bool
) -> None:
    """SIGKILL of the syncing process at random moments, with a slow server (every
    write committed 0.8 s after it arrives, so a killed sender's request is still
    being carried out while the next sender starts), identical entries ("1h standup"
    three times a day) and one poison operation: every entry ends up on the server
    exactly as often as it was logged, and the poison operation alone is failed."""
    child_env = {**child_env, "SYNC_CONCURRENCY": str(concurrency)}
    ts = pymesync.TimeSync(emu.base_url, mode="queue")
    ts.authenticate("alice", "alice", "password")
    if projects_cached:
        assert ts.get_projects()
    expected: collections.Counter[str] = collections.Counter()
    entries = [(60 + i, f"crash-{i}") for i in range(distinct)]
    entries += [(3600, f"crash-standup-{i // 3}") for i in range(distinct // 4)]
    random.Random(7).shuffle(entries)
    poison = queue_poison(ts)
    with ts.batch():
        for duration, notes in entries:
            expected[notes] += 1
            ts.create_time(
                {
                    "duration": duration,
                    "project": "gwm",
                    "user": "alice",
                    "date_worked": YESTERDAY,
                    "notes": notes,
                }
            )
    # slow commits (the child's timeout is 1.5 s), so that the kills land while
    # requests are out and are still committed after the kill
    emu.add_latency(0.8, route="POST /times")
    rng = random.Random(1234)
    mid_work, before = 0, len(entries) + 1
    for _ in range(20):
        child = subprocess.Popen(
            [sys.executable, PROC, "sync", emu.base_url],
            env=child_env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        time.sleep(rng.uniform(0.8, 2.5))
        child.send_signal(signal.SIGKILL)
        child.wait()
        left = ts.status()
        waiting = left["pending"] + left["inflight"]
        mid_work += 0 < waiting < before  # progress was made and work was left
        before = waiting
    assert mid_work >= 6, mid_work
    final = subprocess.run(
        [sys.executable, PROC, "sync", emu.base_url],
        env=child_env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert final.returncode == 0, final.stderr
    emu.clear_faults()
    assert notes_on_server(emu, "crash-") == expected
    status = ts.status()
    assert status["pending"] == status["inflight"] == 0
    [failed] = ts.failed()
    assert failed["op_id"] == poison and failed["state"] == "failed"
    assert "project" in failed["last_error"]["message"]  # the reason is kept


@pytest.mark.slow
def test_two_workers_and_four_writers_at_once(
    emu: Any, child_env: dict[str, str], tmp_path: Path
) -> None:
    ts = pymesync.TimeSync(emu.base_url, mode="queue")
    ts.authenticate("alice", "alice", "password")
    assert ts.get_projects()  # cached, as after any use: creates take the fast lane
    done = tmp_path / "writers-done"
    workers = [
        subprocess.Popen(
            [sys.executable, PROC, "sync", emu.base_url, str(done)],
            env=child_env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        for _ in range(2)
    ]
    writers = [
        subprocess.Popen(
            [sys.executable, PROC, "write", emu.base_url, "50", f"w{n}"],
            env=child_env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for n in range(4)
    ]
    for writer in writers:
        _, err = writer.communicate(timeout=120)
        assert writer.returncode == 0, err
        assert b"locked" not in err
    done.touch()
    for w in workers:
        _, err = w.communicate(timeout=180)
        assert w.returncode == 0, err
        assert b"locked" not in err
    counts = notes_on_server(emu, "w")
    expected = {f"w{n}-{i}" for n in range(4) for i in range(50)}
    assert set(counts) == expected and set(counts.values()) == {1}
