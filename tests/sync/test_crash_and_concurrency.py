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
def child_env(private_store: Path) -> dict[str, str]:
    return {
        **os.environ,
        "PYMESYNC_DB": str(private_store),
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


@pytest.mark.slow
@pytest.mark.parametrize(
    ("concurrency", "count", "projects_cached"),
    [(1, 300, False), (8, 1200, False), (8, 1200, True)],
    ids=["one-at-a-time", "sending-threads", "fast-lane"],
)
def test_crash_loop_loses_nothing_and_doubles_nothing(
    emu: Any, child_env: dict[str, str], concurrency: int, count: int, projects_cached: bool
) -> None:
    child_env = {**child_env, "SYNC_CONCURRENCY": str(concurrency)}
    ts = pymesync.TimeSync(emu.base_url, mode="queue")
    ts.authenticate("alice", "alice", "password")
    if projects_cached:  # the creates then go over the sync's fast lane
        assert ts.get_projects()
    with ts.batch():
        for i in range(count):
            ts.create_time(
                {
                    "duration": 60 + i,
                    "project": "gwm",
                    "user": "alice",
                    "date_worked": YESTERDAY,
                    "notes": f"crash-{i}",
                }
            )
    # enough work, and slow enough requests, that the kills land while work is in flight
    emu.add_latency(0.03)
    rng = random.Random(1234)
    mid_work, before = 0, count
    for _ in range(30):
        child = subprocess.Popen(
            [sys.executable, PROC, "sync", emu.base_url],
            env=child_env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        time.sleep(rng.uniform(0.5, 1.0))
        child.send_signal(signal.SIGKILL)
        child.wait()
        left = ts.status()
        waiting = left["pending"] + left["inflight"]
        mid_work += 0 < waiting < before  # progress was made and work was left
        before = waiting
    emu.clear_faults()
    assert mid_work >= 10, mid_work
    final = subprocess.run(
        [sys.executable, PROC, "sync", emu.base_url],
        env=child_env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert final.returncode == 0, final.stderr
    counts = notes_on_server(emu, "crash-")
    assert sorted(counts) == sorted(f"crash-{i}" for i in range(count))
    assert set(counts.values()) == {1}
    status = ts.status()
    assert status["pending"] == status["inflight"] == status["failed"] == 0


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
