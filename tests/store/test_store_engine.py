"""Opening a store: location, permissions, pragmas, schema checks and their errors."""

from __future__ import annotations

import hashlib
import os
import shutil
import sqlite3
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import platformdirs
import pytest
from store_helpers import (
    ACCOUNT,
    REPO,
    WORKER,
    on_postgres,
    op,
    provisional,
    run_worker,
    traced,
    write_begin,
)

from pymesync.store import (
    SCHEMA_HEAD,
    CorruptDatabaseError,
    SchemaTooNewError,
    Store,
    StoreError,
    StoreLocationError,
    default_path,
    migrate,
    resolve_path,
)


def digest(path: Path) -> str:
    """SHA-256 of a file's bytes."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def umask0() -> Iterator[None]:
    """Run with a fully permissive umask."""
    old = os.umask(0)
    try:
        yield
    finally:
        os.umask(old)


# ---------------------------------------------------------------- location


def test_default_path_comes_from_platformdirs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("PYMESYNC_DB", raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    expected = Path(platformdirs.user_data_dir("pymesync")) / "pymesync.sqlite3"
    assert expected == tmp_path / "xdg" / "pymesync" / "pymesync.sqlite3"
    assert default_path() == expected
    assert resolve_path() == expected
    with Store.open() as store:
        assert store.path == expected
    assert expected.is_file()


def test_env_var_overrides_default_and_argument_overrides_env(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    monkeypatch.setenv("PYMESYNC_DB", str(tmp_path / "env" / "env.sqlite3"))
    assert resolve_path() == tmp_path / "env" / "env.sqlite3"
    with Store.open() as store:
        assert store.path == tmp_path / "env" / "env.sqlite3"
    with Store.open(tmp_path / "arg.sqlite3") as store:
        assert store.path == tmp_path / "arg.sqlite3"
    assert not (tmp_path / "xdg").exists()


def test_path_expands_user_and_is_absolute(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    assert resolve_path("~/x/db.sqlite3") == tmp_path / "x" / "db.sqlite3"
    monkeypatch.chdir(tmp_path)
    assert resolve_path("rel.sqlite3") == tmp_path / "rel.sqlite3"


def test_new_folder_0700_and_file_0600_under_umask_0(tmp_path: Path, umask0: None) -> None:
    path = tmp_path / "new" / "db.sqlite3"
    with Store.open(path) as store:
        store.enqueue(op("update", "t1", {"duration": 1}))
        assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        for extra in (path.with_name("db.sqlite3-wal"), path.with_name("db.sqlite3-shm")):
            if extra.exists():
                assert stat.S_IMODE(extra.stat().st_mode) == 0o600


def test_missing_parents_are_created_0700_too(tmp_path: Path, umask0: None) -> None:
    path = tmp_path / "a" / "b" / "db.sqlite3"
    Store.open(path).close()
    for folder in (tmp_path / "a", tmp_path / "a" / "b"):
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert stat.S_IMODE(tmp_path.stat().st_mode) != 0o777


def test_existing_folder_is_not_chmodded(tmp_path: Path, umask0: None) -> None:
    folder = tmp_path / "mine"
    folder.mkdir(mode=0o755)
    os.chmod(folder, 0o755)
    with Store.open(folder / "db.sqlite3"):
        pass
    assert stat.S_IMODE(folder.stat().st_mode) == 0o755
    assert stat.S_IMODE((folder / "db.sqlite3").stat().st_mode) == 0o600


@pytest.mark.sqlite_only(reason="SQLite's pragmas (journal mode, synchronous, busy timeout)")
def test_pragmas(store: Store) -> None:
    conn = sqlite3.connect(store.path)
    try:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    finally:
        conn.close()
    raw = store._engine.raw_connection()
    try:
        cur = raw.cursor()
        assert cur.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
        assert cur.execute("PRAGMA foreign_keys").fetchone()[0] == 1
        assert cur.execute("PRAGMA busy_timeout").fetchone()[0] == 30000
    finally:
        raw.close()


def test_write_transactions_begin_immediate(store: Store) -> None:
    """SQLite: a write takes the write lock up front (BEGIN IMMEDIATE). PostgreSQL: a
    write of an account's queue takes that account's lock first; a read is one
    snapshot (REPEATABLE READ READ ONLY)."""
    begin = write_begin(store)
    with traced(store) as statements:
        store.save_token(ACCOUNT, "tok")
        assert statements[0] == begin and statements[-1] == "COMMIT"
        statements.clear()
        store.enqueue(op("create", "L1", {"duration": 1}), provisional("L1", {"duration": 1}))
        assert statements[0] == begin and statements[-1] == "COMMIT"
        assert statements.count(begin) == 1  # one transaction per enqueue
        if on_postgres(store):
            assert statements[1].startswith("SELECT pg_advisory_xact_lock(")
        statements.clear()
        store.load_token(ACCOUNT)
        read = "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY" if on_postgres(store) else "BEGIN"
        assert statements[0] == read


def test_failed_write_rolls_back_and_leaves_the_connection_clean(store: Store) -> None:
    with traced(store) as statements:
        with pytest.raises(ValueError):
            store.enqueue(op("update", "t1", {"a": 1}), provisional("other", {}, entity="project"))
        assert statements[0] == write_begin(store) and statements[-1] == "ROLLBACK"
    assert store.operations() == []
    store.enqueue(op("update", "t1", {"a": 1}))  # the pooled connection is usable again
    assert len(store.operations()) == 1


def test_connections_are_kept_between_transactions(store: Store) -> None:
    from sqlalchemy import event

    opened: list[object] = []
    event.listen(store._engine, "connect", lambda conn, record: opened.append(conn))
    store._engine.dispose()  # nothing pooled: every connection from now on is counted
    for i in range(50):
        store.enqueue(op("update", f"t{i}", {"a": i}))
        store.operations()
    with pytest.raises(ValueError):  # a failed transaction gives a clean one back
        store.enqueue(op("update", "t1", {"a": 1}), provisional("other", {}, entity="project"))
    assert len(store.operations()) == 50
    assert len(opened) == 1


def test_the_engine_pool_is_the_only_pool(store: Store) -> None:
    """Between transactions every connection is checked in to SQLAlchemy's pool (none
    kept aside by the store), and a transaction checks one out."""
    pool = store._engine.pool
    store.enqueue(op("update", "t1", {"a": 1}))
    assert pool.checkedout() == 0 and pool.checkedin() == 1
    with store._read():
        assert pool.checkedout() == 1
    assert pool.checkedout() == 0


def test_enough_pooled_connections_for_a_sync_pass(store: Store) -> None:
    """Sixteen sending threads and the coordinating one each keep a pooled connection
    (none opened and closed again for every transaction)."""
    import threading

    from sqlalchemy import event

    opened: list[object] = []
    event.listen(store._engine, "connect", lambda conn, record: opened.append(conn))
    store._engine.dispose()
    barrier = threading.Barrier(17)

    def work() -> None:
        for _ in range(5):
            with store._read():
                barrier.wait()

    threads = [threading.Thread(target=work) for _ in range(17)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(opened) == 17
    assert store._engine.pool.checkedin() == 17


def test_close_closes_the_pooled_connections(store: Store) -> None:
    kept: list[sqlite3.Connection] = []
    with store._read() as db:
        kept.append(db)
    store.close()
    closed: type[Exception] = sqlite3.ProgrammingError
    if on_postgres(store):
        import psycopg

        closed = psycopg.OperationalError  # ("the connection is closed")
    for conn in kept:
        with pytest.raises(closed, match="closed"):
            conn.execute("SELECT 1")


def test_store_repr_and_close(store: Store) -> None:
    assert repr(store) == f"Store({store.location!r})"
    assert store.location == (store.url if on_postgres(store) else str(store.path))
    store.close()
    with pytest.raises(StoreError, match="closed"):
        store.counts(ACCOUNT)


def test_reopen_is_fast_path_without_alembic(db_path: Path) -> None:
    Store.open(db_path).close()
    out = subprocess.run(
        [sys.executable, str(WORKER), "open_check", str(db_path)],
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout.strip() == "False", out.stderr
    # A fresh file does need Alembic (sanity check of the probe itself).
    out = subprocess.run(
        [sys.executable, str(WORKER), "open_check", str(db_path.with_name("fresh.sqlite3"))],
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout.strip() == "True", out.stderr


def test_migrate_reports(db_path: Path) -> None:
    assert migrate(db_path) == (
        f"Created the pymesync database {db_path} at schema revision {SCHEMA_HEAD}."
    )
    assert migrate(db_path) == (
        f"The pymesync database {db_path} is up to date (schema revision {SCHEMA_HEAD})."
    )


def test_concurrent_first_open_of_a_fresh_file(db_path: Path) -> None:
    workers = [run_worker("open_check", str(db_path)) for _ in range(3)]
    for worker in workers:
        _out, err = worker.communicate(timeout=60)
        assert worker.returncode == 0, err
    with Store.open(db_path) as store:
        assert store.counts(ACCOUNT)["pending"] == 0


# ---------------------------------------------------------------- errors leave the file alone


def make_newer(db_path: Path) -> None:
    """A store whose alembic_version names a revision this code does not know."""
    Store.open(db_path).close()
    conn = sqlite3.connect(db_path)
    conn.execute("UPDATE alembic_version SET version_num = '9999'")
    conn.commit()
    conn.close()


def test_newer_schema_is_refused_untouched(db_path: Path) -> None:
    make_newer(db_path)
    before = digest(db_path)
    with pytest.raises(SchemaTooNewError) as info:
        Store.open(db_path)
    message = str(info.value)
    assert str(db_path) in message and "'9999'" in message and f"'{SCHEMA_HEAD}'" in message
    assert info.value.found == "9999" and info.value.expected == SCHEMA_HEAD
    with pytest.raises(SchemaTooNewError):
        migrate(db_path)
    assert digest(db_path) == before


def test_newer_schema_is_refused_by_another_process(db_path: Path) -> None:
    make_newer(db_path)
    proc = run_worker("open_check", str(db_path))
    _, err = proc.communicate(timeout=60)
    assert proc.returncode != 0 and "SchemaTooNewError" in err


def test_not_a_database_is_refused_untouched(db_path: Path) -> None:
    db_path.write_bytes(b"hello, this is not sqlite at all\n" * 100)
    before = digest(db_path)
    with pytest.raises(CorruptDatabaseError, match="not a SQLite database"):
        Store.open(db_path)
    assert digest(db_path) == before
    assert sorted(p.name for p in db_path.parent.iterdir()) == ["db.sqlite3"]


def test_foreign_sqlite_database_is_refused_untouched(db_path: Path) -> None:
    conn = sqlite3.connect(db_path)
    conn.execute("CREATE TABLE other (x)")
    conn.commit()
    conn.close()
    before = digest(db_path)
    with pytest.raises(CorruptDatabaseError, match="not a pymesync store"):
        Store.open(db_path)
    assert digest(db_path) == before


def test_damaged_database_is_refused_untouched(db_path: Path) -> None:
    with Store.open(db_path) as store:
        store.put_objects(
            ACCOUNT,
            "time",
            [{"uuid": f"u{i}", "notes": "n" * 200, "deleted_at": None} for i in range(200)],
        )
    conn = sqlite3.connect(db_path)
    page_size = conn.execute("PRAGMA page_size").fetchone()[0]
    conn.close()
    data = bytearray(db_path.read_bytes())
    assert len(data) > 6 * page_size
    # Scribble over the b-tree pages after the schema page.
    for page in range(2, len(data) // page_size):
        start = page * page_size
        data[start : start + 64] = b"\xa5" * 64
    db_path.write_bytes(bytes(data))
    before = digest(db_path)
    with pytest.raises(CorruptDatabaseError):
        Store.open(db_path)
    assert digest(db_path) == before


def _scribble_last_page(path: Path) -> None:
    """Damage the file's last page (a page of the cache, never read by opening)."""
    conn = sqlite3.connect(path)
    page_size = conn.execute("PRAGMA page_size").fetchone()[0]
    conn.close()
    data = bytearray(path.read_bytes())
    start = len(data) - page_size
    data[start : start + 64] = b"\xa5" * 64
    path.write_bytes(bytes(data))


def test_open_does_not_read_the_whole_file_damage_is_found_where_read(db_path: Path) -> None:
    """Opening a current, cleanly closed store checks no more than the schema; damage
    elsewhere is the same one-line error where SQLite reads it, and ``check`` finds it."""
    with Store.open(db_path) as store:
        store.put_objects(ACCOUNT, "time", [{"uuid": f"u{i}", "n": "n" * 200} for i in range(200)])
    assert not Path(f"{db_path}-wal").exists()  # a clean close leaves no log behind
    _scribble_last_page(db_path)
    with Store.open(db_path) as store:
        with pytest.raises(CorruptDatabaseError, match=f"^The database {db_path} is damaged"):
            store.query_times(ACCOUNT)
        with pytest.raises(CorruptDatabaseError, match=f"^The database {db_path} is damaged"):
            store.check()
    with pytest.raises(CorruptDatabaseError, match=f"^The database {db_path} is damaged"):
        Store.open(db_path, quick_check=True)


def test_a_log_left_behind_makes_open_check_the_file(
    db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pymesync.store import location

    with Store.open(db_path) as store:
        store.check()  # a sound file passes
    checks: list[bool] = []
    inspect = location._inspect

    def spy(path: Path, *, read_only: bool, quick_check: bool) -> object:
        checks.append(quick_check)
        return inspect(path, read_only=read_only, quick_check=quick_check)

    monkeypatch.setattr(location, "_inspect", spy)
    Store.open(db_path).close()
    assert checks == [False]
    # A process that wrote and ended without closing its store leaves its log behind.
    code = (
        "import os, sys\n"
        "from pymesync.store import Store\n"
        "store = Store.open(sys.argv[1])\n"
        f"store.put_objects({ACCOUNT!r}, 'time', [{{'uuid': 'x'}}])\n"
        "os._exit(0)\n"
    )
    subprocess.run([sys.executable, "-c", code, str(db_path)], check=True, timeout=60)
    assert Path(f"{db_path}-wal").stat().st_size > 0
    checks.clear()
    Store.open(db_path).close()
    assert checks == [True]


def test_truncated_database_is_refused_untouched(db_path: Path) -> None:
    with Store.open(db_path) as store:
        store.put_objects(ACCOUNT, "time", [{"uuid": f"u{i}", "n": "x" * 500} for i in range(100)])
    data = db_path.read_bytes()
    db_path.write_bytes(data[: len(data) // 2])
    before = digest(db_path)
    with pytest.raises(CorruptDatabaseError):
        Store.open(db_path)
    assert digest(db_path) == before


def test_folder_path_is_a_file(tmp_path: Path) -> None:
    blocker = tmp_path / "blocker"
    blocker.write_text("I am a file")
    with pytest.raises(StoreLocationError):
        Store.open(blocker / "db.sqlite3")
    assert blocker.read_text() == "I am a file"


def test_database_path_is_a_folder(tmp_path: Path) -> None:
    (tmp_path / "db.sqlite3").mkdir()
    with pytest.raises(StoreLocationError, match="not a regular file"):
        Store.open(tmp_path / "db.sqlite3")


_UNWRITABLE_PROBE = r"""
import sys
from pymesync.store import Store, StoreLocationError
try:
    Store.open(sys.argv[1])
except StoreLocationError as exc:
    print("StoreLocationError", exc)
else:
    print("opened")
"""


def _run_unprivileged(path: Path) -> str:
    """Open ``path`` in a subprocess that file modes apply to.

    Root ignores file modes; as root the subprocess runs without the capabilities that
    let it (CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH), through ``capsh``.
    """
    command = [sys.executable, "-c", _UNWRITABLE_PROBE, str(path)]
    if os.geteuid() == 0:
        capsh = shutil.which("capsh") or "/usr/sbin/capsh"
        if not Path(capsh).exists():
            pytest.skip("running as root without capsh: cannot make a folder unwritable")
        command = [
            capsh,
            "--drop=cap_dac_override,cap_dac_read_search",
            "--",
            "-c",
            'exec "$0" "$@"',
            *command,
        ]
    out = subprocess.run(command, capture_output=True, text=True, check=False)
    assert out.returncode == 0, out.stderr
    return out.stdout


def test_unwritable_folder(tmp_path: Path) -> None:
    folder = tmp_path / "ro"
    folder.mkdir()
    os.chmod(folder, 0o555)
    out = _run_unprivileged(folder / "db.sqlite3")
    assert out.startswith("StoreLocationError"), out
    assert "not writable" in out
    assert list(folder.iterdir()) == []


def test_unwritable_existing_file_is_untouched(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite3"
    Store.open(path).close()
    os.chmod(path, 0o444)
    before = digest(path)
    out = _run_unprivileged(path)
    assert out.startswith("StoreLocationError"), out
    assert digest(path) == before


def test_unwritable_parent_of_new_folder(tmp_path: Path) -> None:
    parent = tmp_path / "locked"
    parent.mkdir()
    os.chmod(parent, 0o555)
    out = _run_unprivileged(parent / "sub" / "db.sqlite3")
    assert out.startswith("StoreLocationError"), out
    assert not (parent / "sub").exists()


_CRASH_MID_TRANSACTION = r"""
import os, sqlite3, sys
conn = sqlite3.connect(sys.argv[1], isolation_level=None)
conn.execute("PRAGMA journal_mode = DELETE")
conn.execute("PRAGMA cache_size = 1")
conn.execute("BEGIN")
for i in range(3000):
    conn.execute(
        "INSERT INTO sync_state (account, key, value, updated_at) VALUES ('x', ?, ?, 'now')",
        (str(i), "v" * 200),
    )
os._exit(0)  # die inside the transaction, leaving a hot rollback journal
"""


def test_hot_rollback_journal_is_recovered(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite3"
    shutil.copyfile(REPO / "tests" / "data" / "store_v0001.sqlite3", path)
    subprocess.run([sys.executable, "-c", _CRASH_MID_TRANSACTION, str(path)], check=True)
    assert path.with_name("db.sqlite3-journal").exists()
    with Store.open(path) as store:
        assert store.all_states("x") == {}
        assert store.load_token(ACCOUNT) == "sample-token"
