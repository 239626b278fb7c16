"""The running timer in the store: one per account, kept as ``last`` when stopped or
cancelled, and a stop that queues its entries and retires the timer in ONE transaction
(a process killed at any point leaves all of it or none of it)."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import textwrap
from datetime import timedelta
from pathlib import Path

import pytest
from store_helpers import ACCOUNT, OTHER, T0, at, op, provisional

from pymesync.errors import TimerStateError
from pymesync.store import DuplicateOperationError, Store, StorePeek
from pymesync.store import timers as store_timers
from pymesync.store.timers import Timer

DATA = Path(__file__).resolve().parents[1] / "data"


def timer(notes: str | None = "review", started: float = 0, project: str = "gwm") -> Timer:
    return Timer(project, ("dev", "docs"), notes, "https://x/1", at(started))


def entry(uuid: str, seconds: int = 3600) -> tuple[object, object]:
    payload = {"duration": seconds, "project": "gwm", "user": "alice", "date_worked": "2026-11-30"}
    return op("create", uuid, payload), provisional(uuid, {**payload, "uuid": uuid})


def test_a_started_timer_is_read_back_as_it_was_given(store: Store) -> None:
    assert store.timer(ACCOUNT) is None and store.timer(ACCOUNT, "last") is None
    given = Timer("gwm", ("dev", "docs"), "naïve → notes", None, at(0.25))
    store.start_timer(ACCOUNT, given, now=at(1))
    assert store.timer(ACCOUNT) == given
    assert store.timer(ACCOUNT, "last") is None
    assert store.timer(OTHER) is None  # one account's timer is its own


def test_a_second_start_is_refused_and_changes_nothing(store: Store) -> None:
    store.start_timer(ACCOUNT, timer(), now=at(1))
    with pytest.raises(TimerStateError, match="running already"):
        store.start_timer(ACCOUNT, timer("other", started=60), now=at(61))
    assert store.timer(ACCOUNT) == timer()
    store.start_timer(OTHER, timer("bob's"), now=at(2))  # another account may
    assert store.timer(OTHER) == timer("bob's")


def test_a_stop_queues_the_entries_and_keeps_the_timer_as_last(store: Store) -> None:
    store.start_timer(ACCOUNT, timer(), now=at(1))
    results = store.stop_timer(
        ACCOUNT, [entry("t1"), entry("t2", 60)], started_at=at(0), now=at(3600)
    )
    assert [r.outcome for r in results] == ["appended", "appended"]
    assert [o.target for o in store.operations(ACCOUNT)] == ["t1", "t2"]
    assert store.get_object(ACCOUNT, "time", "t2") is not None
    assert store.timer(ACCOUNT) is None
    assert store.timer(ACCOUNT, "last") == timer()


def test_a_stop_keeps_what_it_is_given_and_may_start_the_next(store: Store) -> None:
    store.start_timer(ACCOUNT, timer(), now=at(1))
    kept = timer("done")
    store.stop_timer(ACCOUNT, [entry("t1")], started_at=at(0), kept=kept, then=timer("next", 3600))
    assert store.timer(ACCOUNT, "last") == kept
    assert store.timer(ACCOUNT) == timer("next", 3600)


@pytest.mark.parametrize("started", [None, 30.0])
def test_a_stop_of_a_timer_no_longer_running_changes_nothing(
    store: Store, started: float | None
) -> None:
    """Another process stopped it (nothing runs) or stopped it and started another."""
    if started is not None:
        store.start_timer(ACCOUNT, timer(started=started), now=at(31))
    consumed: list[str] = []

    def items() -> object:
        consumed.append("yes")
        yield entry("t1")

    with pytest.raises(TimerStateError, match="meanwhile"):
        store.stop_timer(ACCOUNT, items(), started_at=at(0))  # type: ignore[arg-type]
    assert store.operations(ACCOUNT) == [] and not consumed
    assert store.timer(ACCOUNT) == (None if started is None else timer(started=started))
    assert store.timer(ACCOUNT, "last") is None


def test_a_stop_whose_entries_fail_leaves_the_timer_running(store: Store) -> None:
    store.start_timer(ACCOUNT, timer(), now=at(1))
    first, _ = entry("t1")
    store.enqueue(first)  # type: ignore[arg-type]
    with pytest.raises(DuplicateOperationError):
        store.stop_timer(ACCOUNT, [entry("t2"), (first, None)], started_at=at(0))
    assert [o.target for o in store.operations(ACCOUNT)] == ["t1"]
    assert store.timer(ACCOUNT) == timer() and store.timer(ACCOUNT, "last") is None


def test_the_timer_moves_in_the_same_transaction_as_the_entries(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The timer's move fails after the entries were written: the entries go too."""
    store.start_timer(ACCOUNT, timer(), now=at(1))

    def broken(*args: object) -> None:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(store_timers, "retire", broken)
    with pytest.raises(RuntimeError, match="disk on fire"):
        store.stop_timer(ACCOUNT, [entry("t1")], started_at=at(0))
    assert store.operations(ACCOUNT) == [] and store.get_object(ACCOUNT, "time", "t1") is None
    assert store.timer(ACCOUNT) == timer()


def test_cancel_keeps_the_timer_as_last_and_queues_nothing(store: Store) -> None:
    with pytest.raises(TimerStateError, match="no timer is running"):
        store.cancel_timer(ACCOUNT)
    store.start_timer(ACCOUNT, timer(), now=at(1))
    assert store.cancel_timer(ACCOUNT, now=at(5)) == timer()
    assert store.timer(ACCOUNT) is None and store.timer(ACCOUNT, "last") == timer()
    assert store.operations(ACCOUNT) == []
    store.start_timer(ACCOUNT, timer("again", 10), now=at(11))
    store.cancel_timer(ACCOUNT, now=at(12))
    assert store.timer(ACCOUNT, "last") == timer("again", 10)  # the last one only


def test_an_unpooled_store_and_another_process_see_the_same_timer(db_path: Path) -> None:
    with Store.open(db_path, pooled=False) as store:
        store.start_timer(ACCOUNT, timer(), now=at(1))
    with Store.open(db_path) as again:
        assert again.timer(ACCOUNT) == timer()
    with StorePeek.open(db_path) as peek:
        assert peek.timer(ACCOUNT) == timer() and peek.timer(OTHER) is None


def test_a_peek_of_a_0002_store_has_no_timer_and_no_timers_table(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite3"
    shutil.copyfile(DATA / "store_v0002.sqlite3", path)
    before = path.read_bytes()
    with StorePeek.open(path) as peek:
        assert peek.revision == "0002" and peek.timer(ACCOUNT) is None
    assert path.read_bytes() == before
    with Store.open(path) as store:  # upgraded to 0003: timers work
        store.start_timer(ACCOUNT, timer(), now=at(1))
    with StorePeek.open(path) as peek:
        assert peek.timer(ACCOUNT) == timer()


# --------------------------------------------------------------------------- SIGKILL

KILLED = textwrap.dedent(
    """
    import os, signal, sys
    from datetime import datetime, timezone
    from pymesync.store import Store, NewOperation
    from pymesync.store import timers
    where = sys.argv[2]
    if where == "inside":  # after the entries were written, before the commit
        def retire(*args):
            os.kill(os.getpid(), signal.SIGKILL)
        timers.retire = retire
    store = Store.open(sys.argv[1])
    payload = {"duration": 60, "project": "gwm", "user": "alice", "date_worked": "2026-11-30"}
    new = NewOperation("http://host/v0|alice", "create", "time", "t1", payload)
    store.stop_timer(
        "http://host/v0|alice", [(new, None)],
        started_at=datetime(2026, 11, 30, 12, tzinfo=timezone.utc),
    )
    os.kill(os.getpid(), signal.SIGKILL)  # just after the commit
    """
)


@pytest.mark.parametrize("where", ["inside", "after"])
def test_a_stop_killed_at_any_point_leaves_all_or_nothing(db_path: Path, where: str) -> None:
    with Store.open(db_path) as store:
        store.start_timer(ACCOUNT, timer(), now=at(1))
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    done = subprocess.run(
        [sys.executable, "-c", KILLED, str(db_path), where],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert done.returncode == -signal.SIGKILL, done.stderr
    with Store.open(db_path) as store:
        ops = store.operations(ACCOUNT)
        if where == "inside":
            assert ops == [] and store.timer(ACCOUNT) == timer()
            assert store.timer(ACCOUNT, "last") is None
        else:
            assert [o.target for o in ops] == ["t1"] and store.timer(ACCOUNT) is None
            assert store.timer(ACCOUNT, "last") == timer()


def test_timers_are_kept_to_the_second_they_were_given(store: Store) -> None:
    exact = Timer("gwm", (), None, None, T0 + timedelta(microseconds=123456))
    store.start_timer(ACCOUNT, exact, now=at(1))
    assert store.timer(ACCOUNT) == exact
