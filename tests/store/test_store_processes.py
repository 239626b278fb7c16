"""Several processes on one file: SIGKILL at random moments, concurrent writers/claimers."""

from __future__ import annotations

import json
import random
import signal
import sqlite3
import subprocess
import time
from pathlib import Path

import pytest
from store_helpers import ACCOUNT, run_worker
from store_worker import payload_for

from pymesync.store import NewOperation, Store

pytestmark = pytest.mark.slow


def integrity_ok(path: Path) -> bool:
    """PRAGMA integrity_check says ok."""
    conn = sqlite3.connect(path)
    try:
        return [r[0] for r in conn.execute("PRAGMA integrity_check")] == ["ok"]
    finally:
        conn.close()


def stored_payloads(path: Path) -> dict[str, object]:
    """op_id -> decoded payload of every queued operation."""
    conn = sqlite3.connect(path)
    try:
        return {
            op_id: json.loads(payload)
            for op_id, payload in conn.execute("SELECT op_id, payload FROM operations")
        }
    finally:
        conn.close()


def test_sigkill_never_loses_a_returned_enqueue(tmp_path: Path) -> None:
    seed = random.randrange(1 << 30)
    rng = random.Random(seed)
    db = tmp_path / "kill.sqlite3"
    Store.open(db).close()
    printed: dict[str, int] = {}
    fresh_opens = 0
    for run in range(30):
        if run % 6 == 5:
            # Kill a process at any moment of its life, opening (migrating) a new file too.
            fresh = tmp_path / f"fresh{run}.sqlite3"
            proc = run_worker("enqueue_loop", str(fresh))
            time.sleep(rng.uniform(0.0, 0.8))
            proc.send_signal(signal.SIGKILL)
            proc.communicate(timeout=30)
            with Store.open(fresh) as store:  # whatever state it was left in, it opens
                store.counts(ACCOUNT)
            assert integrity_ok(fresh), f"seed {seed}"
            fresh_opens += 1
            continue
        proc = run_worker("enqueue_loop", str(db))
        assert proc.stdout is not None
        assert proc.stdout.readline() == "ready\n"
        time.sleep(rng.uniform(0.05, 0.3))
        proc.send_signal(signal.SIGKILL)
        out, _ = proc.communicate(timeout=30)
        assert proc.returncode == -signal.SIGKILL
        for line in out.splitlines(keepends=True):
            if line.endswith("\n"):  # a line cut by the kill was never fully printed
                op_id, seq = line.split()
                printed[op_id] = int(seq)
        assert integrity_ok(db), f"run {run}, seed {seed}"
        stored = stored_payloads(db)
        missing = [op_id for op_id in printed if op_id not in stored]
        assert not missing, f"run {run}, seed {seed}: lost {missing[:3]}"
        for op_id, number in printed.items():
            assert stored[op_id] == payload_for(op_id, number), f"seed {seed}"
    assert fresh_opens == 5
    assert len(printed) > 30  # the runs did enqueue something
    with Store.open(db) as store:
        assert len(store.operations(ACCOUNT)) >= len(printed)


def start_together(procs: list[subprocess.Popen[str]], go: Path) -> None:
    """Wait until every worker printed "ready", then let them all go at once."""
    for proc in procs:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line == "ready\n", proc.communicate(timeout=30)[1]
    go.touch()


def test_four_processes_enqueue_concurrently(tmp_path: Path) -> None:
    db = tmp_path / "busy.sqlite3"  # not created yet: the four race to create it too
    go = tmp_path / "go"
    procs = [run_worker("enqueue_n", str(db), "250", f"p{i}", str(go)) for i in range(4)]
    start_together(procs, go)
    for proc in procs:
        out, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err
        assert "locked" not in err
        assert out.strip() == "250"
    with Store.open(db) as store:
        ops = store.operations(ACCOUNT)
    assert len(ops) == 1000
    assert len({o.target for o in ops}) == 1000
    assert len({o.op_id for o in ops}) == 1000
    for i in range(4):  # each process's own ops are in its order
        mine = [int(o.target.split("-")[1]) for o in ops if o.target.startswith(f"p{i}-")]
        assert mine == list(range(250))
    assert integrity_ok(db)


def test_two_processes_claim_without_sharing(tmp_path: Path) -> None:
    db = tmp_path / "claim.sqlite3"
    with Store.open(db) as store:
        for i in range(300):
            store.enqueue(NewOperation(ACCOUNT, "update", "time", f"t{i}", {"i": i}))
    go = tmp_path / "go"
    procs = [run_worker("claim_loop", str(db), owner, str(go)) for owner in ("a", "b")]
    start_together(procs, go)
    claimed: list[list[str]] = []
    for proc in procs:
        out, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err
        claimed.append(out.split())
    a, b = (set(c) for c in claimed)
    assert len(claimed[0]) == len(a) and len(claimed[1]) == len(b)
    assert not a & b
    assert len(a | b) == 300
    assert a and b  # both really took part
