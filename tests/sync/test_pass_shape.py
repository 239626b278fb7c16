"""How a concurrent pass spends its commits and threads: claims in chunks, successes
acked together, never more requests at once than the concurrency, every operation sent
once; and when finished operations are recorded (decisions as data)."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Iterator
from typing import Any

import pytest

import pymesync
from pymesync import sync
from pymesync.sync import OpResult, SyncWorker
from pymesync.testing import run_emulator

YESTERDAY = (dt.datetime.now(dt.timezone.utc).date() - dt.timedelta(days=1)).isoformat()


@pytest.fixture
def emu() -> Iterator[Any]:
    with run_emulator(seed_data=True) as emulator:
        yield emulator


def a_time(notes: str) -> dict[str, Any]:
    return {
        "duration": 600,
        "project": "gwm",
        "user": "alice",
        "date_worked": YESTERDAY,
        "activities": ["dev"],
        "notes": notes,
    }


class Spy:
    """Counts store claims and acks, and the most requests in flight at once."""

    def __init__(self, worker: SyncWorker) -> None:
        self.claims: list[int] = []
        self.acks: list[int] = []
        self.in_flight = 0
        self.most_in_flight = 0
        self._lock = threading.Lock()
        store, transport = worker.store, worker.sender.transport
        claim, ack_many, send = store.claim, store.ack_many, transport.send

        def counted_claim(*args: Any, **kwargs: Any) -> Any:
            claimed = claim(*args, **kwargs)
            self.claims.append(len(claimed))
            return claimed

        def counted_ack(items: Any, **kwargs: Any) -> Any:
            items = list(items)
            self.acks.append(len(items))
            return ack_many(items, **kwargs)

        def counted_send(*args: Any) -> Any:
            with self._lock:
                self.in_flight += 1
                self.most_in_flight = max(self.most_in_flight, self.in_flight)
            try:
                return send(*args)
            finally:
                with self._lock:
                    self.in_flight -= 1

        store.claim = counted_claim  # type: ignore[method-assign]
        store.ack_many = counted_ack  # type: ignore[method-assign]
        worker.sender.transport.send = counted_send  # type: ignore[method-assign]


@pytest.mark.parametrize("concurrency", [1, 4, 8])
def test_a_concurrent_pass_claims_in_chunks_and_acks_together(emu: Any, concurrency: int) -> None:
    count = 48
    ts = pymesync.TimeSync(emu.base_url, mode="queue")
    assert "token" in ts.authenticate("alice", "alice", "password")
    with ts.batch() as batch:
        for i in range(count):
            batch.create_time(a_time(f"shape {concurrency} {i}"))
    emu.add_latency(0.01)
    worker = ts.sync_worker()
    worker.concurrency = concurrency
    spy = Spy(worker)
    emu.reset_stats()
    report = worker.run_once()
    assert report.synced == count and report.totals == {"synced": count}
    at_once = emu.stats()["most_at_once"]
    assert at_once <= concurrency and spy.most_in_flight <= concurrency
    assert sum(spy.claims) == count
    assert sum(spy.acks) == count
    if concurrency == 1:
        assert spy.acks == [1] * count  # one at a time: each recorded at once
    else:
        assert at_once == concurrency
        chunk = concurrency // 2
        full = [claimed for claimed in spy.claims if claimed]
        assert all(claimed >= chunk for claimed in full[:-1]), repr(spy.claims)
        # an empty claim finds the queue drained, and one more when all is done
        assert spy.claims.count(0) <= 2, repr(spy.claims)
        # group commit: far fewer ack transactions than operations
        assert len(spy.acks) <= count // 2, spy.acks
    emu.clear_faults()
    on_server = [
        t
        for t in ts.get_times({"user": "alice"})
        if (t.get("notes") or "").startswith(f"shape {concurrency} ")
    ]
    assert sorted(t["notes"] for t in on_server) == sorted(
        f"shape {concurrency} {i}" for i in range(count)
    )
    status = ts.status()
    assert (status["pending"], status["inflight"], status["failed"]) == (0, 0, 0)


def result(outcome: str) -> tuple[Any, OpResult]:
    return (None, OpResult("op", "time", "create", "t", outcome))  # type: ignore[arg-type]


def test_when_finished_operations_are_recorded(monkeypatch: pytest.MonkeyPatch) -> None:
    decide = SyncWorker._time_to_ack
    clock = [100.0]
    monkeypatch.setattr(sync.time, "monotonic", lambda: clock[0])
    synced = result("synced")
    assert not decide([], True, None)
    assert not decide([], False, None)
    # a success waits for others while operations are still in flight...
    assert not decide([synced], True, 100.05)
    # ...unless nothing else is in flight, enough are waiting, or it waited long enough
    assert decide([synced], False, 100.05)
    assert decide([synced] * sync.ACK_BATCH, True, 100.05)
    clock[0] = 100.05
    assert decide([synced], True, 100.05)
    clock[0] = 100.0
    # anything but a success is recorded at once (with the successes before it)
    for outcome in ("failed", "deferred", "held", "waiting", "lost", "needs_login"):
        assert decide([synced, result(outcome)], True, 100.05), outcome
