"""StorePeek: a read-only look at the store with the Store's own functions, and the store
modules that load without SQLAlchemy."""

from __future__ import annotations

import hashlib
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from store_helpers import ACCOUNT, OTHER, REPO, T0, at, op

from pymesync.store import (
    SCHEMA_HEAD,
    CorruptDatabaseError,
    SchemaTooNewError,
    Store,
    StoreError,
    StoreLocationError,
    StorePeek,
)
from pymesync.store.location import SCHEMA_REVISIONS
from pymesync.store.peek import READABLE_REVISIONS

DATA = REPO / "tests" / "data"

#: StorePeek opens SQLite files only (read-only, without SQLAlchemy); the tests here
#: that open no store check module imports, and run with the SQLite ones.
pytestmark = pytest.mark.sqlite_only(reason="StorePeek reads SQLite files only")


def fingerprint(folder: Path) -> dict[str, str]:
    """The name and content hash of every file in ``folder`` but SQLite's own reader
    files: the shared-memory index (``-shm``) and an empty ``-wal``, which SQLite
    creates for any reader of a WAL database (the store's own schema check included)."""
    return {
        p.name: hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.iterdir())
        if not p.name.endswith("-shm") and not (p.name.endswith("-wal") and not p.stat().st_size)
    }


def _fill(store: Store) -> None:
    store.enqueue(op("update", "a", {"x": 1}), now=T0)
    store.enqueue(op("update", "b", {"x": 1}), now=at(1))
    store.enqueue(op("update", "c", {"x": 1}), now=at(2))
    store.enqueue(op("update", "o", {"x": 1}, account=OTHER), now=T0)
    first, second = store.claim(ACCOUNT, "w", 30, now=at(3), limit=2)
    store.fail(first.op_id, error={"e": 1}, permanent=False, next_attempt_at=at(60), now=at(3))
    store.fail(second.op_id, error={"e": 2}, permanent=True, now=at(3))
    store.set_state(ACCOUNT, "last_success", "2026-11-30T12:00:00+00:00", now=T0)
    store.set_state(ACCOUNT, "needs_login", True, now=T0)
    store.set_state(ACCOUNT, "nothing", None, now=T0)
    store.save_token(ACCOUNT, "header.payload.signature", now=T0)


def test_peek_answers_as_the_store(store: Store) -> None:
    _fill(store)
    with StorePeek.open(store.path) as peek:
        assert peek.exists and peek.revision == SCHEMA_HEAD and peek.path == store.path
        for account in (ACCOUNT, OTHER, "http://host/v0|nobody"):
            assert peek.queue_summary(account) == store.queue_summary(account)
            assert peek.all_states(account) == store.all_states(account)
            assert peek.load_token(account) == store.load_token(account)
        assert "signature" not in repr(peek)
    summary = store.queue_summary(ACCOUNT)
    assert summary.counts == {"pending": 2, "inflight": 0, "failed": 1, "conflict": 0}


def test_peek_never_writes(store: Store, db_path: Path) -> None:
    _fill(store)
    store.close()
    before = fingerprint(db_path.parent)
    with StorePeek.open(db_path) as peek:
        assert peek.queue_summary(ACCOUNT).waiting == 2
        with pytest.raises(sqlite3.OperationalError, match="readonly"):
            peek._conn.execute("DELETE FROM operations")  # type: ignore[union-attr]
    assert fingerprint(db_path.parent) == before


def test_peek_reads_one_snapshot(store: Store) -> None:
    with StorePeek.open(store.path) as peek:
        assert peek.queue_summary(ACCOUNT).waiting == 0
        store.enqueue(op("update", "a", {"x": 1}), now=T0)  # a writer is not blocked
        assert peek.queue_summary(ACCOUNT).waiting == 0
    with StorePeek.open(store.path) as peek:
        assert peek.queue_summary(ACCOUNT).waiting == 1


def test_no_store_yet_creates_nothing(tmp_path: Path) -> None:
    path = tmp_path / "missing" / "folder" / "db.sqlite3"
    with StorePeek.open(path) as peek:
        assert not peek.exists and peek.revision is None and peek.path == path
        summary = peek.queue_summary(ACCOUNT)
        assert summary.counts == {"pending": 0, "inflight": 0, "failed": 0, "conflict": 0}
        assert summary.waiting == 0 and summary.oldest_created_at is None
        assert peek.all_states(ACCOUNT) == {} and peek.load_token(ACCOUNT) is None
        assert "no store yet" in repr(peek)
    assert not (tmp_path / "missing").exists()


def test_empty_files_are_no_store_yet(tmp_path: Path) -> None:
    empty = tmp_path / "empty.sqlite3"
    empty.touch()
    assert not StorePeek.open(empty).exists
    blank = tmp_path / "blank.sqlite3"
    sqlite3.connect(blank).execute("PRAGMA user_version = 1").connection.close()
    with StorePeek.open(blank) as peek:
        assert not peek.exists and peek.queue_summary(ACCOUNT).waiting == 0
    assert empty.stat().st_size == 0


def test_default_path_comes_from_the_environment(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PYMESYNC_DB", str(store.path))
    with StorePeek.open() as peek:
        assert peek.path == store.path and peek.exists


def test_errors_like_the_store(tmp_path: Path) -> None:
    text = tmp_path / "notes.txt"
    text.write_text("not a database at all, but long enough to have a header")
    with pytest.raises(CorruptDatabaseError, match="not a SQLite database"):
        StorePeek.open(text)
    other = tmp_path / "other.sqlite3"
    conn = sqlite3.connect(other)
    conn.execute("CREATE TABLE things (x)")
    conn.close()
    with pytest.raises(CorruptDatabaseError, match="not a pymesync store"):
        StorePeek.open(other)
    with pytest.raises(StoreLocationError, match="not a regular file"):
        StorePeek.open(tmp_path)
    peek = StorePeek.open(tmp_path / "none.sqlite3")
    peek.close()
    with pytest.raises(StoreError, match="closed"):
        peek.queue_summary(ACCOUNT)


@pytest.mark.parametrize("revision", ["0099", "0001,0002"])
def test_unknown_revisions_are_refused_untouched(store: Store, revision: str) -> None:
    store.close()
    conn = sqlite3.connect(store.path)
    conn.execute("DELETE FROM alembic_version")
    for rev in revision.split(","):
        conn.execute("INSERT INTO alembic_version VALUES (?)", (rev,))
    conn.commit()
    conn.close()
    before = fingerprint(store.path.parent)
    with pytest.raises(SchemaTooNewError) as caught:
        StorePeek.open(store.path)
    assert "newer pymesync" in str(caught.value) and caught.value.expected == SCHEMA_HEAD
    assert fingerprint(store.path.parent) == before


@pytest.mark.parametrize("sample", ["store_v0001.sqlite3", "store_v0002.sqlite3"])
def test_old_samples_are_read_without_upgrading(tmp_path: Path, sample: str) -> None:
    path = tmp_path / sample
    shutil.copyfile(DATA / sample, path)
    before = fingerprint(tmp_path)
    with StorePeek.open(path) as peek:
        assert peek.exists and peek.revision == sample[7:11]
        summary = peek.queue_summary(ACCOUNT)
        states = peek.all_states(ACCOUNT)
        token = peek.load_token(ACCOUNT)
    assert fingerprint(tmp_path) == before
    assert summary.counts["pending"] >= 1 and "last_success" in states and token
    with Store.open(path) as store:  # upgraded: the same answers
        assert store.queue_summary(ACCOUNT) == summary
        assert store.all_states(ACCOUNT) == states
        assert store.load_token(ACCOUNT) == token


def test_schema_revisions_are_the_scripts() -> None:
    from alembic.script import ScriptDirectory

    from pymesync.store.migrator import alembic_config

    script = ScriptDirectory.from_config(alembic_config())
    revisions = [rev.revision for rev in script.walk_revisions()]
    assert list(SCHEMA_REVISIONS) == revisions[::-1] and SCHEMA_REVISIONS[-1] == SCHEMA_HEAD
    assert SCHEMA_HEAD in READABLE_REVISIONS and set(SCHEMA_REVISIONS) >= READABLE_REVISIONS


def test_plain_sql_modules_load_no_sqlalchemy(tmp_path: Path) -> None:
    # an unpooled store opens, writes and reads without SQLAlchemy (one command-line
    # write must not pay for its import); the pooled one loads it
    code = (
        "import sys, datetime as dt\n"
        "import pymesync.store\n"
        "from pymesync.store import (\n"
        "    cache, codec, errors, idmap, location, peek, queue, records, state,\n"
        ")\n"
        "from pymesync.store import QueueSummary, StorePeek, StoreError, resolve_path\n"
        "print(sorted(m for m in ('sqlalchemy', 'alembic', 'platformdirs') if m in sys.modules))\n"
        "from pymesync.store import Store, NewOperation\n"
        f"Store.open({str(tmp_path / 'new.sqlite3')!r}).close()  # created (migrated)\n"
        "print('sqlalchemy' in sys.modules)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=REPO
    )
    assert done.stdout.split() == ["[]", "True"], done.stderr
    code = (
        "import sys\n"
        "from pymesync.store import Store, NewOperation\n"
        f"with Store.open({str(tmp_path / 'new.sqlite3')!r}, pooled=False) as store:\n"
        "    op = NewOperation(account='a|b', kind='delete', entity='time', target='t')\n"
        "    store.enqueue(op)\n"
        "    print(len(store.operations('a|b')))\n"
        "print(sorted(m for m in ('sqlalchemy', 'alembic') if m in sys.modules))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=REPO
    )
    assert done.stdout.split() == ["1", "[]"], done.stderr


def test_schema_re_exports_the_codec() -> None:
    from pymesync.store import codec, engine, location, schema

    for name in codec.__all__:
        assert getattr(schema, name) is getattr(codec, name)
    for name in ("SCHEMA_HEAD", "ENV_VAR", "resolve_path", "read_schema_revision", "set_wal"):
        assert getattr(engine, name) is getattr(location, name)
