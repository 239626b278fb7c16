"""Bulk and long-queue paths: enqueue_many, expedite, pending_targets, and the cost of the
worker's calls not growing with the length of the queue."""

from __future__ import annotations

import contextlib
import os
import sqlite3
import uuid
from collections.abc import Iterator
from dataclasses import fields
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from store_helpers import (
    ACCOUNT,
    OTHER,
    T0,
    at,
    fresh_creates,
    on_connections,
    on_postgres,
    op,
    provisional,
    query_plan,
    store_state,
    tags_match_payloads,
    time_obj,
    traced,
    write_begin,
)

from pymesync.store import (
    CacheObject,
    DuplicateOperationError,
    EnqueueResult,
    NewOperation,
    Operation,
    Store,
    queue,
    values,
)
from pymesync.store.records import new_uuid4

# ---------------------------------------------------------------- enqueue_many


def _seed(store: Store) -> None:
    """Queued operations in every state, an id map entry and cached objects."""
    store.put_objects(ACCOUNT, "time", [time_obj("S1"), time_obj("S2")], now=T0)
    store.map_id(ACCOUNT, "time", "L9", "S2")
    store.enqueue(op("update", "S1", {"notes": "a"}, op_id="seed-1"), now=T0)
    store.enqueue(op("create", "L5", {"duration": 5}, op_id="seed-2"), now=T0)
    store.enqueue(op("update", "S3", {"notes": "c"}, op_id="seed-3"), now=T0)
    store.enqueue(op("create", "L6", {"duration": 6}, op_id="seed-4"), now=T0)
    store.claim(ACCOUNT, "w", 30, now=T0, limit=1)  # seed-1 inflight
    (claimed,) = store.claim(ACCOUNT, "w", 30, now=T0, limit=1)  # seed-2
    store.fail(claimed.op_id, error={"maybe_sent": True}, permanent=False, now=T0)
    (claimed,) = store.claim(ACCOUNT, "w", 30, now=T0, limit=1)  # seed-3
    store.fail(claimed.op_id, error={"status": 400}, permanent=True, now=T0)


TARGETS = ["S1", "S2", "S3", "L5", "L6", "L9", "N1", "N2"]
#: Ids no seeded store knows: they may be promised new to enqueue_many.
NEW_IDS = frozenset({"N1", "N2", *(f"op-{n}" for n in range(15))})
PAYLOADS = st.fixed_dictionaries(
    {"notes": st.sampled_from(["x", "y"])}, optional={"duration": st.integers(1, 9)}
)


@st.composite
def items(draw: st.DrawFn) -> list[tuple[NewOperation, CacheObject | None]]:
    """A sequence of operations on a few objects (some queued, some mapped), with
    provisional objects; rarely an op_id used twice or a provisional object of another
    entity (errors: nothing at all is stored)."""
    result: list[tuple[NewOperation, CacheObject | None]] = []
    rare = st.integers(0, 39).map(lambda n: n == 0)
    for n in range(draw(st.integers(0, 14))):
        kind = draw(st.sampled_from(["create", "update", "update", "delete"]))
        target = draw(st.sampled_from(TARGETS))
        payload = None if kind == "delete" else draw(PAYLOADS)
        op_id = draw(st.sampled_from(["op-0", "seed-1"])) if draw(rare) else f"op-{n}"
        account = draw(st.sampled_from([ACCOUNT] * 5 + [OTHER]))
        new = op(kind, target, payload, op_id=op_id, account=account, base_revision=n)
        shown: CacheObject | None = None
        choice = draw(st.sampled_from(["none", "same", "same", "other-key"]))
        if choice != "none":
            key = target if choice != "other-key" else draw(st.sampled_from(TARGETS))
            entity = "project" if draw(rare) else "time"
            obj = provisional(key, {"duration": n, "project": ["gwm"]}, entity)
            shown = CacheObject(account, obj.entity, key, obj.payload, n, kind == "delete", T0)
        result.append((new, shown))
    return result


def _run_one_by_one(
    store: Store, batch: list[tuple[NewOperation, CacheObject | None]]
) -> list[EnqueueResult] | type[Exception]:
    results = []
    for new, shown in batch:
        try:
            results.append(store.enqueue(new, shown, now=at(9)))
        except (ValueError, DuplicateOperationError) as exc:
            return type(exc)
    return results


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    batch=items(),
    chunk=st.sampled_from([1, 2, 3, 400]),
    statement=st.sampled_from([(4000, 16), (4000, 1), (20, 2)]),
    new=st.booleans(),
    pipeline=st.booleans(),
)
def test_enqueue_many_is_enqueue_one_by_one(
    tmp_path_factory: pytest.TempPathFactory,
    monkeypatch: pytest.MonkeyPatch,
    batch: list[tuple[NewOperation, CacheObject | None]],
    chunk: int,
    statement: tuple[int, int],
    new: bool,
    pipeline: bool,
) -> None:
    """Whatever the chunks, the statement sizes, the ids promised new (those the store
    cannot know: not seeded) and whether a second thread writes."""
    monkeypatch.setattr(queue, "_BATCH", chunk)
    # Rows written many to a statement (values.insert_rows), or a few at a time.
    monkeypatch.setattr(values, "MOST_PARAMETERS", statement[0])
    monkeypatch.setattr(values, "_FEWEST_ROWS", statement[1])
    monkeypatch.setattr(queue, "PIPELINE", pipeline)
    new_ids = NEW_IDS if new else frozenset()
    folder = tmp_path_factory.mktemp("many")
    with Store.open(folder / "one.sqlite3") as one, Store.open(folder / "many.sqlite3") as many:
        _seed(one)
        _seed(many)
        before = store_state(many.path)
        expected = _run_one_by_one(one, batch)
        if isinstance(expected, type):
            with pytest.raises(expected):
                many.enqueue_many(iter(batch), now=at(9), new_ids=new_ids)
            assert store_state(many.path) == before  # all or nothing
            return
        assert many.enqueue_many(iter(batch), now=at(9), new_ids=new_ids) == expected
        assert store_state(many.path) == store_state(one.path)
        assert tags_match_payloads(many.path)


def test_enqueue_many_one_transaction_streamed(store: Store) -> None:
    pulled: list[int] = []

    def produce() -> Iterator[tuple[NewOperation, CacheObject | None]]:
        for i in range(1000):
            pulled.append(i)
            yield op("create", f"L{i}", {"i": i}), provisional(f"L{i}", {"i": i})

    with traced(store) as statements:
        results = store.enqueue_many(produce(), now=T0)
    begin = write_begin(store)
    assert statements.count(begin) == 1 and statements[-1] == "COMMIT"
    assert not any(s.startswith("BEGIN") for s in statements if s != begin)
    assert [r.outcome for r in results] == ["appended"] * 1000
    assert [r.operation.id for r in results if r.operation] == list(range(1, 1001))
    assert store.counts(ACCOUNT)["pending"] == 1000
    assert len(store.query_times(ACCOUNT)) == 1000
    # Read a chunk at a time: a failure half-way leaves nothing behind.

    def broken() -> Iterator[tuple[NewOperation, CacheObject | None]]:
        yield op("create", "X1", {"i": 1}), None
        raise RuntimeError("source failed")

    with pytest.raises(RuntimeError):
        store.enqueue_many(broken(), now=T0)
    assert store.counts(ACCOUNT)["pending"] == 1000
    assert store.enqueue_many([], now=T0) == []


def test_bulk_paths_leave_the_garbage_collector_alone(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A library never changes process-wide state: the cyclic collector of the host
    application stays as it is through bulk writes and bulk reads."""
    import gc

    def refused() -> None:
        raise AssertionError("the store switched the garbage collector off")

    monkeypatch.setattr(gc, "disable", refused)
    items, new_ids = fresh_creates(1000)
    assert len(store.enqueue_many(items, now=T0, new_ids=new_ids)) == 1000
    assert len(store.operations(ACCOUNT)) == 1000
    assert len(store.query_times(ACCOUNT)) == 1000
    assert gc.isenabled()


def test_enqueue_many_ids_follow_the_queue_counter(store: Store) -> None:
    first = store.enqueue(op("update", "a", {"x": 1}), now=T0).operation
    last = store.enqueue(op("update", "b", {"x": 1}), now=T0).operation
    assert first is not None and last is not None
    store.claim(ACCOUNT, "w", 30, now=T0, limit=2)
    store.ack(last.op_id, now=T0)  # the newest id is gone; it is never given again
    (result,) = store.enqueue_many([(op("update", "c", {"x": 1}), None)], now=T0)
    again = store.enqueue(op("update", "d", {"x": 1}), now=T0).operation
    assert result.operation is not None and again is not None
    if on_postgres(store):
        # PostgreSQL's sequence: enqueue_many draws its ids a batch at a time (other
        # accounts' writers append meanwhile), and the ids it did not use are skipped
        assert last.id < result.operation.id < again.id
    else:
        assert result.operation.id == last.id + 1 and again.id == last.id + 2


# ---------------------------------------------------------------- expedite, pending_targets


def test_expedite(store: Store) -> None:
    ops = [op("update", f"t{i}", {"i": i}) for i in range(4)]
    for new in ops:
        store.enqueue(new, now=T0)
    store.enqueue(op("update", "o", {"x": 1}, account=OTHER), now=T0)
    claimed = store.claim(ACCOUNT, "w", 30, now=T0, limit=4)
    assert len(claimed) == 4
    store.fail(ops[0].op_id, error={}, permanent=False, next_attempt_at=at(300), now=T0)
    store.fail(ops[1].op_id, error={}, permanent=False, next_attempt_at=at(5), now=T0)
    store.fail(ops[2].op_id, error={}, permanent=True, now=T0)
    (other,) = store.claim(OTHER, "w", 30, now=T0)
    store.fail(other.op_id, error={}, permanent=False, next_attempt_at=at(300), now=T0)
    assert store.expedite(ACCOUNT, now=at(1)) == 2
    assert store.expedite(ACCOUNT, now=at(1)) == 0
    due = {o.op_id: o for o in store.operations(ACCOUNT)}
    assert due[ops[0].op_id].next_attempt_at is None and due[ops[0].op_id].attempts == 1
    assert due[ops[0].op_id].updated_at == at(1) and due[ops[0].op_id].last_error == {}
    assert due[ops[2].op_id].state == "failed"  # waits for retry
    assert due[ops[3].op_id].state == "inflight"
    other_op = store.get_operation(other.op_id)
    assert other_op is not None and other_op.next_attempt_at == at(300)
    got = store.claim(ACCOUNT, "w", 30, now=at(2), limit=5)
    assert [o.op_id for o in got] == [ops[0].op_id, ops[1].op_id]


@pytest.mark.sqlite_only(reason="SQLite's EXPLAIN QUERY PLAN")
def test_expedite_reads_only_backing_off_rows(store: Store) -> None:
    with traced(store) as statements:
        store.expedite(ACCOUNT, now=T0)
    (update,) = [s for s in statements if s.startswith("UPDATE")]
    plan = query_plan(store, update)
    assert "ix_operations_account_next_attempt_at (account=? AND next_attempt_at>?)" in plan


def test_pending_targets(store: Store) -> None:
    store.map_id(ACCOUNT, "time", "L1", "S1")
    for target in ("S1", "L1", "S2", "S2", "S3"):
        store.enqueue(op("update", target, {"x": 1}), now=T0)
    store.enqueue(op("update", "P", {"x": 1}, entity="project"), now=T0)
    store.enqueue(op("update", "S9", {"x": 1}, account=OTHER), now=T0)
    (first,) = store.claim(ACCOUNT, "w", 30, now=T0)
    store.claim(ACCOUNT, "w", 30, now=T0)  # S2: inflight counts too
    failed = store.enqueue(op("update", "S4", {"x": 1}), now=T0).operation
    assert failed is not None
    (got,) = [o for o in store.claim(ACCOUNT, "w", 30, now=T0, limit=9) if o.target == "S4"]
    store.fail(got.op_id, error={}, permanent=True, now=T0)
    assert first.target == "S1"
    assert store.pending_targets(ACCOUNT, "time") == {"S1", "S2", "S3"}
    assert store.pending_targets(ACCOUNT, "project") == {"P"}
    assert store.pending_targets(OTHER, "time") == {"S9"}
    assert store.pending_targets(ACCOUNT, "time", states=("failed",)) == {"S4"}
    every = ("pending", "inflight", "failed")
    assert store.pending_targets(ACCOUNT, "time", states=every) == {"S1", "S2", "S3", "S4"}
    with pytest.raises(ValueError):
        store.pending_targets(ACCOUNT, "thing")
    with pytest.raises(ValueError):
        store.pending_targets(ACCOUNT, "time", states=("lost",))


# ---------------------------------------------------------------- cost per call


@contextlib.contextmanager
def vm_steps(store: Store) -> Iterator[list[int]]:
    """Count the SQLite virtual machine instructions run meanwhile (a measure of the
    rows visited that does not depend on the machine's speed)."""

    count = [0]

    def tick() -> int:
        count[0] += 1
        return 0

    with on_connections(
        store,
        lambda conn: conn.set_progress_handler(tick, 1),
        lambda conn: conn.set_progress_handler(None, 1),
    ):
        yield count


def _worker_round(store: Store, n: int) -> dict[str, int]:
    """VM instructions of each call a sync worker makes, in a queue of ``n`` ops (plus
    the ops of the round)."""
    cost: dict[str, int] = {}

    def measure(name: str, call: Any) -> Any:
        with vm_steps(store) as steps:
            result = call()
        cost[name] = steps[0]
        return result

    measure("enqueue", lambda: store.enqueue(op("create", "new", {"x": 1}), None, now=at(1)))
    claimed = measure("claim", lambda: store.claim(ACCOUNT, "w", 30, now=at(2), limit=4))
    assert [o.target for o in claimed] == ["t0", "t1", "t2", "t3"]
    measure("ack", lambda: store.ack(claimed[0].op_id, server_object=time_obj("S0"), now=at(3)))
    measure("fail", lambda: store.fail(claimed[1].op_id, error={}, permanent=False, now=at(3)))
    measure("release", lambda: store.release(claimed[2].op_id, now=at(3)))
    measure("get_operation", lambda: store.get_operation(claimed[3].op_id))
    measure("expedite", lambda: store.expedite(ACCOUNT, now=at(4)))
    return cost


def _fill(path: Path, n: int) -> None:
    """``n`` pending updates on distinct times, written straight into the file."""
    conn = sqlite3.connect(path)
    stamp = "2026-11-30T12:00:00.000000Z"
    with conn:
        conn.executemany(
            "INSERT INTO operations (op_id, account, kind, entity, target, payload, state,"
            " attempts, created_at, updated_at) VALUES (?, ?, 'update', 'time', ?, '{}',"
            " 'pending', 0, ?, ?)",
            [(f"fill-{i}", ACCOUNT, f"t{i}", stamp, stamp) for i in range(n)],
        )
    conn.close()


def test_worker_calls_cost_the_same_in_a_long_queue(tmp_path: Path) -> None:
    costs = []
    for n in (50, 20_000):
        path = tmp_path / f"q{n}.sqlite3"
        Store.open(path).close()
        _fill(path, n)
        with Store.open(path) as store:
            costs.append(_worker_round(store, n))
    short, long = costs
    for name in short:
        assert long[name] <= short[name] * 1.5 + 50, (name, short[name], long[name])


# ---------------------------------------------------------------- summaries, batch reads


def test_queue_summary(store: Store) -> None:
    empty = store.queue_summary(ACCOUNT)
    assert empty.counts == {"pending": 0, "inflight": 0, "failed": 0, "conflict": 0}
    assert empty.oldest_created_at is None and empty.next_attempt_at is None
    assert empty.waiting == 0
    ops = [op("update", f"t{i}", {"i": i}) for i in range(4)]
    for i, new in enumerate(ops):
        store.enqueue(new, now=at(10 - i))  # created_at not in id order
    store.enqueue(op("update", "o", {"x": 1}, account=OTHER), now=at(-100))
    claimed = store.claim(ACCOUNT, "w", 30, now=at(20), limit=3)
    store.fail(claimed[0].op_id, error={}, permanent=False, next_attempt_at=at(500), now=at(20))
    store.fail(claimed[1].op_id, error={}, permanent=False, next_attempt_at=at(90), now=at(20))
    store.fail(claimed[2].op_id, error={}, permanent=True, now=at(20))
    summary = store.queue_summary(ACCOUNT)
    assert (
        summary.counts
        == store.counts(ACCOUNT)
        == {
            "pending": 3,
            "inflight": 0,
            "failed": 1,
            "conflict": 0,
        }
    )
    waiting = store.operations(ACCOUNT, states=("pending", "inflight"))
    assert summary.oldest_created_at == min(o.created_at for o in waiting) == at(7)
    assert summary.next_attempt_at == at(90) and summary.waiting == 3


def test_get_objects_has_objects_local_ids(store: Store) -> None:
    assert not store.has_objects(ACCOUNT, "time")
    store.put_objects(ACCOUNT, "time", [time_obj("S1"), time_obj("S2", deleted_at="x")], now=T0)
    assert store.has_objects(ACCOUNT, "time") and not store.has_objects(ACCOUNT, "project")
    assert not store.has_objects(OTHER, "time")
    store.remove_object(ACCOUNT, "time", "S1")
    assert store.has_objects(ACCOUNT, "time")
    assert not store.has_objects(ACCOUNT, "time", include_deleted=False)
    store.put_objects(ACCOUNT, "time", [time_obj(f"K{i:04d}") for i in range(1200)], now=T0)
    wanted = [f"K{i:04d}" for i in range(0, 1200, 2)] + ["S2", "nope", "K0000"]
    got = store.get_objects(ACCOUNT, "time", wanted)
    assert set(got) == {f"K{i:04d}" for i in range(0, 1200, 2)} | {"S2"}
    assert got["S2"].deleted and got["K0002"] == store.get_object(ACCOUNT, "time", "K0002")
    assert store.get_objects(ACCOUNT, "time", []) == {}
    store.map_id(ACCOUNT, "time", "L1", "K0001")
    store.map_id(ACCOUNT, "time", "L2", "K0003")
    assert store.local_ids(ACCOUNT, "time", ["K0001", "K0003", "K0005"]) == {
        "K0001": "L1",
        "K0003": "L2",
    }
    assert store.local_ids(ACCOUNT, "project", ["K0001"]) == {}


# ---------------------------------------------------------------- enqueue_many: new ids


def test_enqueue_many_new_ids_are_not_looked_up(tmp_path: Path) -> None:
    items, new_ids = fresh_creates(30)
    # later items on the same new object (same chunk and next chunk) still coalesce
    first, second = items[0][0].target, items[12][0].target
    items.insert(5, (op("update", first, {"notes": "merged"}), None))
    items.append((op("delete", second), None))
    with (
        Store.open(tmp_path / "plain.sqlite3") as plain,
        Store.open(tmp_path / "new.sqlite3") as new,
    ):
        expected = plain.enqueue_many(items, now=T0)
        with traced(new) as statements:
            got = new.enqueue_many(items, now=T0, new_ids=new_ids)
        assert got == expected
        assert store_state(new.path) == store_state(plain.path)
        assert tags_match_payloads(new.path)
    assert [r.outcome for r in got].count("merged") == 1
    assert [r.outcome for r in got].count("cancelled") == 1
    lookups = [s for s in statements if " IN (" in s]
    # Only the two ids not given as new (those of the update and the delete) are looked up.
    assert lookups and all(first in s or second in s or "op_id IN" in s for s in lookups)
    assert not any(key in s for s in lookups for key in new_ids - {first, second})


def test_enqueue_many_new_ids_still_refuse_duplicates_within_the_call(store: Store) -> None:
    items, new_ids = fresh_creates(3)
    again = op("create", new_uuid4(), {"duration": 1}, op_id=items[0][0].op_id)
    with pytest.raises(DuplicateOperationError):
        store.enqueue_many([*items, (again, None)], now=T0, new_ids=new_ids | {again.target})
    assert store.counts(ACCOUNT)["pending"] == 0


def test_appended_records_equal_records_made_the_usual_way(store: Store) -> None:
    new = op("create", "L1", {"duration": 1})
    (result,) = store.enqueue_many([(new, None)], now=T0)
    assert result.operation is not None
    usual = Operation(**{f.name: getattr(result.operation, f.name) for f in fields(Operation)})
    assert result.operation == usual and repr(result.operation) == repr(usual)
    assert result == EnqueueResult(outcome="appended", operation=usual)
    assert vars(result.operation) == vars(usual) and vars(result) == {
        "outcome": "appended",
        "operation": usual,
        "removed": (),
    }


def test_new_uuid4_is_a_uuid4() -> None:
    made = [new_uuid4() for _ in range(3000)]
    assert len(set(made)) == len(made)
    for text in made:
        parsed = uuid.UUID(text)
        assert str(parsed) == text and parsed.version == 4 and parsed.variant == uuid.RFC_4122
    assert {text[19] for text in made} == set("89ab")


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_new_uuid4_differs_in_a_forked_child() -> None:
    new_uuid4()
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover (the child)
        os.write(write, "".join(new_uuid4() for _ in range(10)).encode())
        os._exit(0)
    os.close(write)
    os.waitpid(pid, 0)
    with os.fdopen(read) as pipe:
        child = pipe.read()
    parent = [new_uuid4() for _ in range(10)]
    assert len(child) == 360 and not any(text in child for text in parent)
