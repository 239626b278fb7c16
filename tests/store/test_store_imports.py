"""Import keys in the store: kept with the queued creates of their entries in ONE
transaction (a process killed at any point leaves both or neither), looked up in
chunks, skipped when another import took them meanwhile, and usable unpooled."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from store_helpers import ACCOUNT, OTHER, at, db_rows, op, provisional

from pymesync.store import Store


def entry(uuid: str, seconds: int = 3600) -> tuple[object, object]:
    payload = {"duration": seconds, "project": "gwm", "user": "alice", "date_worked": "2026-11-30"}
    return op("create", uuid, payload), provisional(uuid, {**payload, "uuid": uuid})


def test_keys_are_kept_with_their_entries(store: Store) -> None:
    assert store.imported_keys(ACCOUNT, ["csv:a:1", "csv:b:1"]) == {}
    results = store.enqueue_imports(
        ACCOUNT,
        [entry("t1"), entry("t2")],
        keys=[("csv:a:1", "t1"), ("csv:b:1", "t2")],
        now=at(0),
    )
    assert [r.outcome for r in results] == ["appended", "appended"]
    assert [o.target for o in store.operations(ACCOUNT)] == ["t1", "t2"]
    assert store.imported_keys(ACCOUNT, ["csv:a:1", "csv:b:1", "csv:c:1"]) == {
        "csv:a:1": "t1",
        "csv:b:1": "t2",
    }
    assert store.imported_keys(OTHER, ["csv:a:1"]) == {}  # keys are per account
    (when,) = db_rows(store, "SELECT DISTINCT imported_at FROM import_keys")
    assert str(when[0]).startswith("2026-11-30T12:00:00")


def test_many_keys_are_looked_up_in_chunks(store: Store) -> None:
    count = 1234  # more than one statement's worth of parameters
    store.enqueue_imports(
        ACCOUNT,
        [entry(f"t{i}") for i in range(count)],
        keys=[(f"k{i}", f"t{i}") for i in range(count)],
    )
    found = store.imported_keys(ACCOUNT, (f"k{i}" for i in range(count + 10)))
    assert len(found) == count and found["k1000"] == "t1000"


def test_a_key_taken_meanwhile_skips_its_entry_and_keeps_the_first(store: Store) -> None:
    store.enqueue_imports(ACCOUNT, [entry("first")], keys=[("w:x:1", "first")])
    taken: dict[str, str] = {}
    store.enqueue_imports(
        ACCOUNT,
        [entry("again"), entry("other")],
        keys=[("w:x:1", "again"), ("w:y:1", "other")],
        taken=taken,
    )
    assert taken == {"w:x:1": "first"}
    assert [o.target for o in store.operations(ACCOUNT)] == ["first", "other"]
    assert store.imported_keys(ACCOUNT, ["w:x:1", "w:y:1"]) == {
        "w:x:1": "first",
        "w:y:1": "other",
    }
    assert store.get_object(ACCOUNT, "time", "again") is None  # not even in the cache


def test_a_key_without_its_entry_stores_nothing(store: Store) -> None:
    with pytest.raises(ValueError, match="not in this batch"):
        store.enqueue_imports(
            ACCOUNT, [entry("t1")], keys=[("csv:a:1", "t1"), ("csv:b:1", "nowhere")]
        )
    assert store.operations(ACCOUNT) == []
    assert store.imported_keys(ACCOUNT, ["csv:a:1", "csv:b:1"]) == {}


def test_an_error_while_keeping_the_keys_rolls_the_entries_back(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pymesync.store import imports

    def broken(*args: object) -> None:
        raise sqlite3.OperationalError("disk I/O error")

    monkeypatch.setattr(imports, "record", broken)
    with pytest.raises(Exception, match="disk I/O error"):
        store.enqueue_imports(ACCOUNT, [entry("t1")], keys=[("csv:a:1", "t1")])
    assert store.operations(ACCOUNT) == []
    assert db_rows(store, "SELECT COUNT(*) FROM import_keys") == [(0,)]


def test_the_unpooled_store_keeps_keys_too(db_path: Path) -> None:
    with Store.open(db_path, pooled=False) as store:
        store.enqueue_imports(ACCOUNT, [entry("t1")], keys=[("toggl:h:1", "t1")])
        assert store.imported_keys(ACCOUNT, ["toggl:h:1"]) == {"toggl:h:1": "t1"}
    assert "sqlalchemy" not in loaded_modules(db_path)


def loaded_modules(db_path: Path) -> str:
    """The modules a fresh process loads to look up a key with the unpooled store."""
    code = (
        "import sys; from pymesync.store import Store;"
        f"s = Store.open({str(db_path)!r}, pooled=False);"
        "s.imported_keys('a', ['k']); print(' '.join(sys.modules))"
    )
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout


# --------------------------------------------------------------------------- SIGKILL

KILLED = textwrap.dedent(
    """
    import os, signal, sys
    from pymesync.store import Store, NewOperation
    from pymesync.store import imports
    where = sys.argv[2]
    if where == "inside":  # after the entries were written, before the keys and the commit
        def record(*args):
            os.kill(os.getpid(), signal.SIGKILL)
        imports.record = record
    store = Store.open(sys.argv[1])
    account = "http://host/v0|alice"
    payload = {"duration": 60, "project": "gwm", "user": "alice", "date_worked": "2026-11-30"}
    items = [(NewOperation(account, "create", "time", f"t{i}", payload), None) for i in range(300)]
    store.enqueue_imports(account, items, keys=[(f"k{i}", f"t{i}") for i in range(300)])
    os.kill(os.getpid(), signal.SIGKILL)  # just after the commit
    """
)


@pytest.mark.parametrize("where", ["inside", "after"])
def test_an_import_killed_at_any_point_leaves_all_or_nothing(db_path: Path, where: str) -> None:
    Store.open(db_path).close()
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
        targets = [o.target for o in store.operations(ACCOUNT)]
        keys = store.imported_keys(ACCOUNT, [f"k{i}" for i in range(300)])
    if where == "inside":
        assert targets == [] and keys == {}
    else:
        assert targets == [f"t{i}" for i in range(300)]
        assert keys == {f"k{i}": f"t{i}" for i in range(300)}
