"""Four daemons and four writers on ONE PostgreSQL store (issue 15): the emulator loses a
quarter of the answers to writes (after carrying them out), and daemons are SIGKILLed
and restarted at random moments. Every operation reaches the server exactly once, in
order, and all four daemons take part.

PostgreSQL only (several daemons per store is what PostgreSQL is for; on SQLite a
second daemon exits), so the module runs once, not once per backend.
"""

from __future__ import annotations

import collections
import datetime as dt
import json
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
from pymesync.testing.faults import Fault, FaultPlan, make_fault

pytestmark = pytest.mark.slow

PROC = str(Path(__file__).with_name("many_daemons_proc.py"))
DAEMONS = 4
WRITERS = 4
ENTRIES = 40  # per writer
LOST_SHARE = 0.25
MIN_LIFE = 2.0  # seconds a daemon runs at least before it may be killed
PROJECTS = {"gwm"} | {f"pgp{w}" for w in range(WRITERS)}
YESTERDAY = (dt.datetime.now(dt.timezone.utc).date() - dt.timedelta(days=1)).isoformat()


@pytest.fixture
def _both_backends() -> None:
    """(Overrides tests/sync/conftest.py's: this module is PostgreSQL only, run once.)"""


class LoseSomeAnswers(FaultPlan):
    """The emulator's fault rules, plus: the answer to a share of the writes (POST and
    DELETE, not logins) is lost after the write was carried out (a ``lose_response``)."""

    def __init__(self, share: float, seed: int) -> None:
        super().__init__()
        self.share = share
        self._rng = random.Random(seed)

    def take(self, method: str, template: str | None) -> Fault | None:
        """A rule added by the test first, else a lost answer for ``share`` of writes."""
        fault = super().take(method, template)
        if fault is None and method in ("POST", "DELETE") and template != "/login":
            with self._lock:
                lose = self._rng.random() < self.share
            if lose:
                fault = make_fault("lose_response", {})
        return fault


@pytest.fixture
def emu() -> Iterator[Any]:
    with run_emulator(seed_data=True) as emulator:
        yield emulator


def record_requests(emu: Any) -> list[dict[str, Any]]:
    """Every API request the emulator answers from now on (``route``, ``path``,
    ``status``; the emulator's own log keeps only the last 1000)."""
    seen: list[dict[str, Any]] = []
    count = emu.request_stats.count

    def counting(key: str, path: str) -> dict[str, Any]:
        entry: dict[str, Any] = count(key, path)
        seen.append(entry)  # (the handler fills in the status later)
        return entry

    emu.request_stats.count = counting
    return seen


def start(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as err:
        return subprocess.Popen(
            [sys.executable, PROC, *args], env=env, stdout=subprocess.PIPE, stderr=err
        )


def synced_by(log: Path) -> int:
    """Operations a daemon's log says it synced (``pass: N synced, ...`` lines)."""
    total = 0
    for line in log.read_text(errors="replace").splitlines():
        if " pass: " in line:
            total += int(line.split(" pass: ", 1)[1].split()[0])
    return total


def key(time_entry: dict[str, Any]) -> tuple[str, int, str, str]:
    """What identifies a time entry here: notes, duration, date, project."""
    project = time_entry["project"]
    if isinstance(project, list):  # (the server's form: every slug of the project)
        [project] = [slug for slug in project if slug in PROJECTS]
    return (
        str(time_entry["notes"]),
        int(time_entry["duration"]),
        str(time_entry["date_worked"]),
        project,
    )


def test_four_daemons_four_writers_lost_answers_and_kills(
    emu: Any, postgres_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seed = random.randrange(1 << 30)
    rng = random.Random(seed)
    why = f"(seed {seed})"
    monkeypatch.setenv("PYMESYNC_DB", postgres_url)
    env = {**os.environ, "PYMESYNC_USERNAME": "alice", "PYMESYNC_PASSWORD": "alice"}
    admin = pymesync.TimeSync(emu.base_url, mode="direct")
    admin.authenticate("admin", "admin", "password")
    # alice may create projects (a writer queues its project, then times on it)
    assert "error" not in admin.update_user({"site_manager": True}, "alice")
    ts = pymesync.TimeSync(emu.base_url, mode="queue")
    ts.authenticate("alice", "alice", "password")  # the token the children resume with
    # what the test knows must fail: alice is not a member of project pymesync
    poison = ts.create_time(
        {
            "duration": 60,
            "project": "pymesync",
            "user": "alice",
            "date_worked": YESTERDAY,
            "notes": "pgp poison",
        }
    )
    assert "uuid" in poison, poison
    emu.fault_plan = LoseSomeAnswers(LOST_SHARE, seed)
    requests = record_requests(emu)
    emu.add_latency(0.05, method="POST")  # (one daemon alone falls behind the writers)
    emu.add_latency(0.05, method="DELETE")

    logs = [tmp_path / f"daemon{n}.log" for n in range(DAEMONS)]
    daemons = [start(["daemon", emu.base_url], env, log) for log in logs]
    writers = [
        start(
            ["write", emu.base_url, str(w), str(ENTRIES), str(seed + w)],
            env,
            tmp_path / f"writer{w}.log",
        )
        for w in range(WRITERS)
    ]
    born = [time.monotonic()] * DAEMONS
    kills = mid_work = 0
    began = time.monotonic()
    try:
        while any(w.poll() is None for w in writers) or kills < 16:
            assert time.monotonic() - began < 120, f"writers still running {why}"
            time.sleep(rng.uniform(0.3, 1.0))
            # (one that has had time to start and claim: a daemon takes a second to start)
            old = [n for n in range(DAEMONS) if time.monotonic() - born[n] > MIN_LIFE]
            if not old:
                continue
            slot = rng.choice(old)
            daemons[slot].send_signal(signal.SIGKILL)
            daemons[slot].wait()
            status = ts.status()
            mid_work += status["pending"] + status["inflight"] > 0
            kills += 1
            daemons[slot] = start(["daemon", emu.base_url], env, logs[slot])
            born[slot] = time.monotonic()
        expected: collections.Counter[tuple[str, int, str, str]] = collections.Counter()
        updates = deletes = 0
        for w, writer in enumerate(writers):
            out, _ = writer.communicate(timeout=30)
            assert writer.returncode == 0, (tmp_path / f"writer{w}.log").read_text()
            written = json.loads(out)
            expected.update(key(entry) for entry in written["live"])
            updates += written["updates"]
            deletes += written["deletes"]
        # the daemons drain what is left (leases of killed ones run out after 3 s)
        deadline = time.monotonic() + 60
        while (left := ts.status())["pending"] + left["inflight"] and time.monotonic() < deadline:
            time.sleep(0.25)
    finally:
        for daemon in daemons:
            daemon.send_signal(signal.SIGTERM)
        for daemon in daemons:
            try:
                daemon.wait(timeout=15)
            except subprocess.TimeoutExpired:
                daemon.kill()
                daemon.wait()
    for daemon, log in zip(daemons, logs, strict=True):
        assert daemon.returncode == 0, log.read_text()[-3000:]
    elapsed = time.monotonic() - began
    print(f"{kills} kills ({mid_work} with work queued), {elapsed:.1f} s {why}")

    # nothing left queued but the operation that must fail, failed with the server's reason
    status = ts.status()
    assert status["pending"] == status["inflight"] == 0, f"{status} {why}"
    problems = ts.failed()
    assert [f["target"] for f in problems] == [poison["uuid"]], [
        (f["kind"], f["entity"], f["last_error"]) for f in problems
    ]
    [failed] = problems
    assert failed["state"] == "failed" and failed["last_error"]["status"] == 401, failed

    # the server: every entry exactly as logged, edited and deleted (creates before their
    # updates: an update sent first would have failed, or its values been lost)
    everything = [
        t
        for t in admin.get_times({"user": "alice", "include_deleted": True})
        if str(t.get("notes", "")).startswith("pgp")
    ]
    alive = [t for t in everything if not t.get("deleted_at")]
    found = collections.Counter(key(t) for t in alive)
    assert found == expected, f"extra {found - expected}, missing {expected - found} {why}"
    gone = len(everything) - len(alive)
    assert gone <= deletes, why
    # no write went out twice where the server can see it
    answered = [r for r in requests if r["status"] is not None and r["status"] < 300]
    posts = collections.Counter(r["route"] for r in answered)
    assert posts["POST /times"] == len(everything), f"{posts} {why}"  # one create, one entry
    assert posts["POST /projects"] == WRITERS, f"{posts} {why}"
    for route in ("POST /times/{uuid}", "DELETE /times/{uuid}"):
        per_entry = collections.Counter(r["path"] for r in answered if r["route"] == route)
        assert set(per_entry.values()) <= {1}, f"{route} sent twice: {per_entry} {why}"
    assert posts["POST /times/{uuid}"] <= updates and posts["DELETE /times/{uuid}"] <= deletes
    assert all(t["revision"] <= 2 for t in alive), why  # one update at most per entry
    assert {slug for p in admin.get_projects() for slug in p["slugs"]} >= PROJECTS, why

    # the faults really happened, and every daemon did its share
    lost = emu.stats()["faults_fired"].get("lose_response", 0)
    writes = sum(1 for r in requests if r["route"].split()[0] in ("POST", "DELETE"))
    assert lost >= writes * LOST_SHARE / 2, (lost, writes)
    assert kills >= 16 and mid_work >= 8, (kills, mid_work)
    shares = [synced_by(log) for log in logs]
    print(f"synced per daemon slot: {shares}; {lost} of {writes} answers lost")
    assert all(shares), f"a daemon never synced anything: {shares} {why}"
