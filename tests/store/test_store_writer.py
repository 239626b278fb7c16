"""The writer thread of enqueue_many: order, errors, all-or-nothing, and the connection
used by one thread at a time."""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from store_helpers import ACCOUNT, T0, fresh_creates, op, store_state, tags_match_payloads

from pymesync.store import NewOperation, Store, StoreError, queue
from pymesync.store.records import new_uuid4
from pymesync.store.writer import Writer, worth_a_thread

# ---------------------------------------------------------------- Writer


def test_writer_runs_in_order_in_another_thread() -> None:
    writer = Writer("test-writer")
    done: list[tuple[int, str]] = []
    for n in range(20):
        writer.submit(lambda n=n: done.append((n, threading.current_thread().name)))
    writer.settle()
    assert done == [(n, "test-writer") for n in range(20)]
    assert writer.close() is None


def test_writer_error_skips_the_rest_and_is_raised_once() -> None:
    writer = Writer()
    done: list[int] = []
    writer.submit(done.append, 1)
    writer.submit(lambda: 1 / 0)
    writer.submit(done.append, 2)  # after the failure: skipped
    with pytest.raises(ZeroDivisionError):
        writer.settle()
    writer.settle()  # raised once
    assert done == [1]
    assert writer.close() is None


def test_writer_close_returns_an_error_not_raised_yet() -> None:
    writer = Writer()
    writer.submit(lambda: 1 / 0)
    error = writer.close()
    assert isinstance(error, ZeroDivisionError)


def test_worth_a_thread_is_a_bool() -> None:
    assert isinstance(worth_a_thread(), bool)


# ---------------------------------------------------------------- enqueue_many


def _spy_writes(
    monkeypatch: pytest.MonkeyPatch, fail_at: int | None = None
) -> list[tuple[str, int]]:
    """Record each buffered write (thread, rows); optionally fail the ``fail_at``-th."""
    seen: list[tuple[str, int]] = []
    real: Callable[..., None] = queue._write

    def spy(db: sqlite3.Connection, ops: list[Any], *rest: Any) -> None:
        seen.append((threading.current_thread().name, len(ops)))
        if fail_at is not None and len(seen) == fail_at:
            raise sqlite3.OperationalError("disk I/O error (injected)")
        real(db, ops, *rest)

    monkeypatch.setattr(queue, "_write", spy)
    return seen


def test_pipeline_writes_in_a_second_thread_with_the_same_result(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(queue, "_BATCH", 10)
    items, new_ids = fresh_creates(45)
    # an update on a new object of an earlier chunk: looked up after the writer is done
    items.insert(30, (op("update", items[3][0].target, {"notes": "late"}), None))
    with Store.open(tmp_path / "a.sqlite3") as one, Store.open(tmp_path / "b.sqlite3") as two:
        monkeypatch.setattr(queue, "PIPELINE", False)
        expected = one.enqueue_many(items, now=T0, new_ids=new_ids)
        monkeypatch.setattr(queue, "PIPELINE", True)
        seen = _spy_writes(monkeypatch)
        assert two.enqueue_many(items, now=T0, new_ids=new_ids) == expected
        assert store_state(two.path) == store_state(one.path)
        assert tags_match_payloads(two.path)
    assert [r.outcome for r in expected].count("merged") == 1
    threads = {name for name, _ in seen}
    assert threads == {"pymesync-enqueue-many"}  # every chunk was a full one (10)
    assert sum(rows for _, rows in seen) == 45
    assert not [t for t in threading.enumerate() if t.name == "pymesync-enqueue-many"]


def test_pipeline_starts_only_when_a_chunk_is_full(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(queue, "PIPELINE", True)
    items, new_ids = fresh_creates(9)
    seen = _spy_writes(monkeypatch)
    with Store.open(tmp_path / "a.sqlite3") as store:
        store.enqueue_many(items, now=T0, new_ids=new_ids)
    assert seen == [(threading.current_thread().name, 9)]


@pytest.mark.parametrize("fail_at", [1, 3, 5])
def test_a_failed_write_in_the_thread_stores_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fail_at: int
) -> None:
    monkeypatch.setattr(queue, "_BATCH", 10)
    monkeypatch.setattr(queue, "PIPELINE", True)
    items, new_ids = fresh_creates(50)
    with Store.open(tmp_path / "a.sqlite3") as store:
        store.enqueue(op("create", "before", {"duration": 1}), now=T0)
        before = store_state(store.path)
        seen = _spy_writes(monkeypatch, fail_at=fail_at)
        with pytest.raises(StoreError, match="injected"):
            store.enqueue_many(items, now=T0, new_ids=new_ids)
        assert store_state(store.path) == before
        assert len(seen) == fail_at  # the writes after it are skipped
        # the store (and its connection) is usable afterwards
        monkeypatch.undo()
        store.enqueue_many(items[:3], now=T0, new_ids=new_ids)
        assert store.counts(ACCOUNT)["pending"] == 4


def test_the_caller_error_rolls_back_what_the_thread_wrote(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(queue, "_BATCH", 10)
    monkeypatch.setattr(queue, "PIPELINE", True)
    items, new_ids = fresh_creates(50)
    items[35] = (NewOperation(ACCOUNT, "create", "time", "x", None), None)  # no payload
    with Store.open(tmp_path / "a.sqlite3") as store:
        before = store_state(store.path)
        seen = _spy_writes(monkeypatch)
        with pytest.raises(ValueError):
            store.enqueue_many(items, now=T0, new_ids=new_ids)
        assert store_state(store.path) == before
        assert seen and all(name == "pymesync-enqueue-many" for name, _ in seen)


def test_the_thread_error_comes_before_a_later_caller_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As without the thread: the write of chunk 1 fails before chunk 2 is looked at."""
    monkeypatch.setattr(queue, "_BATCH", 10)
    monkeypatch.setattr(queue, "PIPELINE", True)
    items, new_ids = fresh_creates(20)
    bad = NewOperation(ACCOUNT, "create", "time", "x", None)  # no payload
    items[15] = (bad, None)
    new_ids |= {"x", bad.op_id}  # nothing to look up: chunk 2 does not wait for the thread
    gate = threading.Event()

    def slow_failure(db: sqlite3.Connection, *rest: Any) -> None:
        gate.wait(5)  # the caller meets the bad item of chunk 2 meanwhile
        raise sqlite3.OperationalError("disk I/O error (injected)")

    monkeypatch.setattr(queue, "_write", slow_failure)
    real_validate = queue._validate

    def validate(new: NewOperation) -> None:
        try:
            real_validate(new)
        finally:
            if new is items[15][0]:
                gate.set()

    monkeypatch.setattr(queue, "_validate", validate)
    with Store.open(tmp_path / "a.sqlite3") as store:
        with pytest.raises(StoreError, match="injected") as caught:
            store.enqueue_many(items, now=T0, new_ids=new_ids)
        assert isinstance(caught.value.__cause__.__context__, ValueError)  # type: ignore[union-attr]
        assert store.counts(ACCOUNT)["pending"] == 0


def test_the_connection_is_used_by_one_thread_at_a_time(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Whatever needs the database here (a lookup, an item that may coalesce) waits until
    every write handed to the thread is done."""
    monkeypatch.setattr(queue, "_BATCH", 10)
    monkeypatch.setattr(queue, "PIPELINE", True)
    items, new_ids = fresh_creates(60)
    creates = [new for new, _ in items]
    for n in (12, 25, 38, 51):
        # on an object of the chunk before (looked up, then coalesced one by one),
        # and on one of the same chunk (one by one, nothing looked up)
        items.insert(n, (op("update", creates[n - 8].target, {"n": n}), None))
        new_ids.add(items[n][0].op_id)
        items.insert(n + 2, (op("update", creates[n - 1].target, {"n": n}), None))
        new_ids.add(items[n + 2][0].op_id)
    # an op_id not promised new (looked up), on a new object
    late = op("create", new_uuid4(), {"duration": 1})
    items.insert(44, (late, None))
    new_ids.add(late.target)
    unfinished: list[int] = [0]
    overlaps: list[str] = []
    real_submit = Writer.submit

    def submit(self: Writer, call: Callable[..., Any], *args: Any) -> None:
        def slow_write(*args: Any) -> None:
            time.sleep(0.01)
            call(*args)
            unfinished[0] -= 1

        unfinished[0] += 1
        real_submit(self, slow_write, *args)

    monkeypatch.setattr(Writer, "submit", submit)

    class Guarded:
        """The connection, noting the statements run here while a write is unfinished."""

        def __init__(self, db: sqlite3.Connection) -> None:
            self.db = db

        def __getattr__(self, name: str) -> Any:
            attr = getattr(self.db, name)
            if name not in ("execute", "executemany"):
                return attr

            def guarded(*args: Any) -> Any:
                if unfinished[0] and threading.current_thread() is threading.main_thread():
                    overlaps.append(str(args[0])[:40])
                return attr(*args)

            return guarded

    real_many = queue.enqueue_many
    monkeypatch.setattr(queue, "enqueue_many", lambda db, *a, **k: real_many(Guarded(db), *a, **k))
    with Store.open(tmp_path / "a.sqlite3") as one, Store.open(tmp_path / "b.sqlite3") as two:
        got = two.enqueue_many(items, now=T0, new_ids=new_ids)
        monkeypatch.setattr(queue, "PIPELINE", False)
        assert one.enqueue_many(items, now=T0, new_ids=new_ids) == got
        assert store_state(one.path) == store_state(two.path)
    assert overlaps == []
    assert [r.outcome for r in got].count("merged") >= 4
