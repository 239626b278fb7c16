"""Files and permissions: every folder pymesync creates is 0700 and every file it writes
0600 whatever the umask; ``status`` reads a read-only store; a damaged store, one whose
``alembic_version`` is empty, and a file size limit each give one clear line."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import resource
import shutil
import signal
import sqlite3
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pymesync.daemon import store_lock
from pymesync.store import NewOperation, Store
from pymesync.store.errors import CorruptDatabaseError
from pymesync.store.peek import StorePeek

from .conftest import Run
from .helpers import one_error_line, pymesync_executable, subprocess_env

URL = "http://127.0.0.1:9/v0"
ACCOUNT = f"{URL}|alice"


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture(params=[0o000, 0o022], ids=["umask000", "umask022"])
def umask(request: pytest.FixtureRequest) -> Iterator[int]:
    """The process's umask set for the test, restored afterwards."""
    previous = os.umask(request.param)
    try:
        yield request.param
    finally:
        os.umask(previous)


def fingerprint(folder: Path) -> dict[str, tuple[str, int, int]]:
    """Every file of ``folder``: content hash, mtime (ns) and mode."""
    return {p.name: print_of(p) for p in sorted(folder.iterdir())}


def print_of(path: Path) -> tuple[str, int, int]:
    """A file's content hash, mtime (ns) and mode."""
    return hashlib.sha256(path.read_bytes()).hexdigest(), path.stat().st_mtime_ns, mode(path)


def queue_three(db: Path) -> None:
    """A store with three operations queued for alice."""
    now = dt.datetime.now(dt.timezone.utc)
    with Store.open(db) as store:
        for i in range(3):
            store.enqueue(NewOperation(ACCOUNT, "update", "time", f"t{i}", {"n": i}), now=now)


def settings_env(monkeypatch: pytest.MonkeyPatch, db: Path) -> None:
    monkeypatch.setenv("PYMESYNC_DB", str(db))
    monkeypatch.setenv("PYMESYNC_URL", URL)
    monkeypatch.setenv("PYMESYNC_USERNAME", "alice")


# --------------------------------------------------------------------------- modes


def test_every_file_is_private_whatever_the_umask(
    umask: int, tmp_path: Path, run: Run, alice: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    os.chmod(shared, 0o777)
    config = shared / "cfg" / "deeper" / "config.toml"
    db = shared / "data" / "store.sqlite3"
    monkeypatch.setenv("PYMESYNC_CONFIG", str(config))
    monkeypatch.setenv("PYMESYNC_DB", str(db))
    for key, value in (("base_url", alice.base_url), ("username", "alice")):
        assert run("config", "set", key, value).exit_code == 0
    assert run("login", "--password-stdin", input="alice\n").exit_code == 0
    result = run("log", "1h", "-p", "gwm", "-a", "dev")
    assert result.exit_code == 0, result.output
    for folder in (config.parent.parent, config.parent, db.parent):
        assert mode(folder) == 0o700, folder
    assert mode(config) == 0o600
    assert mode(db) == 0o600
    assert mode(shared) == 0o777  # a folder pymesync did not make is not its to change
    with store_lock(db) as lock:
        assert mode(lock) == 0o600
    # SQLite's own files take the database file's mode
    with Store.open(db) as store:
        store.put_objects(ACCOUNT, "time", [{"uuid": "u1", "deleted_at": None}])
        for suffix in ("-wal", "-shm"):
            sidecar = db.with_name(db.name + suffix)
            assert sidecar.exists() and mode(sidecar) == 0o600, suffix
    assert sorted(p.name for p in config.parent.iterdir()) == ["config.toml"]


def test_sqlite_gives_its_journal_the_database_files_mode(umask: int, tmp_path: Path) -> None:
    """What the store relies on: SQLite creates -journal, -wal and -shm files with the
    main file's mode (so a 0600 database keeps them 0600 under any umask)."""
    db = tmp_path / "plain.sqlite3"
    fd = os.open(db, os.O_WRONLY | os.O_CREAT, 0o600)
    os.fchmod(fd, 0o600)
    os.close(fd)
    conn = sqlite3.connect(db, isolation_level=None)
    conn.execute("CREATE TABLE t (x)")
    conn.execute("BEGIN")
    conn.execute("INSERT INTO t VALUES (1)")
    journal = db.with_name(db.name + "-journal")
    assert journal.exists() and mode(journal) == 0o600
    conn.execute("COMMIT")
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("INSERT INTO t VALUES (2)")
    for suffix in ("-wal", "-shm"):
        assert mode(db.with_name(db.name + suffix)) == 0o600, suffix
    conn.close()


def test_loose_files_from_older_versions_are_tightened(
    tmp_path: Path, run: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = tmp_path / "data" / "store.sqlite3"
    queue_three(db)
    conn = sqlite3.connect(db)  # keep a -wal and -shm around, as a crash would
    conn.execute("PRAGMA wal_autocheckpoint = 0")
    conn.execute(
        "INSERT INTO sync_state (account, key, value, updated_at) VALUES ('a','k','1','x')"
    )
    conn.commit()
    wal, shm = db.with_name(db.name + "-wal"), db.with_name(db.name + "-shm")
    for path in (db, wal, shm):
        os.chmod(path, 0o666)
    with Store.open(db):
        for path in (db, wal, shm):
            assert mode(path) == 0o600, path.name
    conn.close()
    # the default config folder and file (XDG_CONFIG_HOME/pymesync/config.toml)
    monkeypatch.delenv("PYMESYNC_CONFIG")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    folder = tmp_path / "xdg" / "pymesync"
    folder.mkdir(parents=True)
    (folder / "config.toml").write_text('username = "alice"\n')
    os.chmod(folder, 0o777)
    os.chmod(folder / "config.toml", 0o666)
    assert run("config", "set", "base_url", URL).exit_code == 0
    assert mode(folder) == 0o700 and mode(folder / "config.toml") == 0o600
    assert 'username = "alice"' in (folder / "config.toml").read_text()


def test_the_daemon_lock_is_tightened(tmp_path: Path) -> None:
    db = tmp_path / "store.sqlite3"
    lock = db.with_name(db.name + ".daemon.lock")
    lock.touch()
    os.chmod(lock, 0o666)
    with store_lock(db):
        assert mode(lock) == 0o600


# --------------------------------------------------------------------------- read-only


def read_only_runner() -> list[str]:
    """A command prefix under which file permissions hold: as root (for whom they do
    not), ``setpriv`` takes away the capabilities that bypass them."""
    if os.geteuid() != 0:
        return []
    found = shutil.which("setpriv")
    if found is None:
        pytest.skip("running as root without setpriv: permissions cannot be enforced")
    prefix = [found, "--bounding-set=-dac_override,-dac_read_search,-fowner"]
    probe = subprocess.run([*prefix, "true"], capture_output=True)
    if probe.returncode != 0:
        pytest.skip(f"setpriv cannot drop capabilities here: {probe.stderr!r}")
    return prefix


def make_read_only(*paths: Path) -> None:
    for path in paths:
        for child in path.iterdir():
            os.chmod(child, 0o400)
        os.chmod(path, 0o500)


@pytest.fixture
def read_only_store(tmp_path: Path) -> Iterator[Path]:
    """A store with three queued operations, its folder 0500 and its files 0400."""
    folder = tmp_path / "ro"
    db = folder / "store.sqlite3"
    queue_three(db)
    assert sorted(p.name for p in folder.iterdir()) == ["store.sqlite3"]
    make_read_only(folder)
    try:
        yield db
    finally:
        os.chmod(folder, 0o700)


def test_status_works_on_a_read_only_folder(tmp_path: Path, read_only_store: Path) -> None:
    db = read_only_store
    config = tmp_path / "cfg" / "config.toml"
    config.parent.mkdir()
    config.write_text(f'base_url = "{URL}"\nusername = "alice"\n')
    make_read_only(config.parent)
    before = fingerprint(db.parent)
    env = subprocess_env(tmp_path, PYMESYNC_DB=str(db), PYMESYNC_CONFIG=str(config))
    prefix = read_only_runner()
    denied = subprocess.run([*prefix, "sh", "-c", f"echo x >> {db}"], capture_output=True)
    assert denied.returncode != 0  # the folder and file really are read-only for it
    done = subprocess.run(
        [*prefix, pymesync_executable(), "status", "--json"],
        capture_output=True,
        text=True,
        env=env,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["pending"] == 3
    assert fingerprint(db.parent) == before  # nothing written, no -wal or -shm made
    # the other commands need to write, and say so in one line
    done = subprocess.run(
        [*prefix, pymesync_executable(), "times"], capture_output=True, text=True, env=env
    )
    assert done.returncode != 0 and "not writable" in done.stderr
    assert "Traceback" not in done.stderr and len(done.stderr.strip().splitlines()) == 1


def test_status_works_on_a_read_only_mount(tmp_path: Path, read_only_store: Path) -> None:
    db = read_only_store
    os.chmod(db.parent, 0o700)
    os.chmod(db, 0o600)
    before = fingerprint(db.parent)
    env = subprocess_env(tmp_path, PYMESYNC_DB=str(db), PYMESYNC_URL=URL, PYMESYNC_USERNAME="alice")
    unshare, mount = shutil.which("unshare"), shutil.which("mount")
    if os.geteuid() != 0 or unshare is None or mount is None:
        pytest.skip("needs root with unshare and mount for a read-only bind mount")
    script = f'{mount} --bind -o ro "$1" "$1" && exec "$2" status --json'
    done = subprocess.run(
        [unshare, "-m", "sh", "-c", script, "sh", str(db.parent), pymesync_executable()],
        capture_output=True,
        text=True,
        env=env,
    )
    if "mount" in done.stderr and done.returncode != 0 and "{" not in done.stdout:
        pytest.skip(f"cannot make a read-only mount here: {done.stderr.strip()}")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["pending"] == 3
    assert fingerprint(db.parent) == before


# --------------------------------------------------------------------------- damaged


def damage(db: Path) -> None:
    """Scribble over the b-tree pages after the schema page."""
    with Store.open(db) as store:
        store.put_objects(
            ACCOUNT, "time", [{"uuid": f"u{i}", "notes": "n" * 200} for i in range(200)]
        )
    page_size = sqlite3.connect(db).execute("PRAGMA page_size").fetchone()[0]
    data = bytearray(db.read_bytes())
    for page in range(2, len(data) // page_size):
        data[page * page_size : page * page_size + 64] = b"\xa5" * 64
    db.write_bytes(bytes(data))


def test_status_refuses_a_damaged_store_as_the_other_commands_do(
    tmp_path: Path, run: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = tmp_path / "data" / "store.sqlite3"
    damage(db)
    settings_env(monkeypatch, db)
    before = print_of(db)  # (SQLite may leave an empty -wal/-shm)
    for args in (("status",), ("status", "--json"), ("times",), ("sync",)):
        message = one_error_line(run(*args), 1)
        assert message.startswith(f"local store: The database {db} is damaged"), (args, message)
    assert print_of(db) == before


def test_doctor_reads_the_whole_store(
    tmp_path: Path, run: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = tmp_path / "data" / "store.sqlite3"
    settings_env(monkeypatch, db)
    done = run("doctor")
    assert done.exit_code == 0 and "no local store" in done.stdout and not db.exists()
    queue_three(db)
    done = run("doctor")
    assert done.exit_code == 0, done.output
    assert done.stdout == f"The local store {db} is sound (PRAGMA integrity_check: ok).\n"
    # Damage on a page that opening the store never reads: doctor finds it.
    page_size = sqlite3.connect(db).execute("PRAGMA page_size").fetchone()[0]
    data = bytearray(db.read_bytes())
    data[len(data) - page_size : len(data) - page_size + 64] = b"\xa5" * 64
    db.write_bytes(bytes(data))
    before = print_of(db)
    message = one_error_line(run("doctor"), 1)
    assert message.startswith(f"local store: The database {db} is damaged"), message
    assert print_of(db) == before


def empty_versions(db: Path) -> None:
    queue_three(db)
    conn = sqlite3.connect(db)
    conn.execute("DELETE FROM alembic_version")
    conn.commit()
    conn.close()


def test_an_empty_alembic_version_is_one_line_everywhere(
    tmp_path: Path, run: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = tmp_path / "data" / "store.sqlite3"
    empty_versions(db)
    settings_env(monkeypatch, db)
    before = print_of(db)  # (SQLite may leave an empty -wal/-shm)
    for args in (("status",), ("status", "--json"), ("times",), ("sync",), ("migrate",)):
        message = one_error_line(run(*args), 1)
        assert "alembic_version table is empty" in message, (args, message)
    assert print_of(db) == before
    with pytest.raises(CorruptDatabaseError, match="alembic_version table is empty"):
        Store.open(db)
    with pytest.raises(CorruptDatabaseError, match="alembic_version table is empty"):
        StorePeek.open(db)
    assert print_of(db) == before


# --------------------------------------------------------------------------- size limit


def limited(size: int) -> None:
    """(In the child, before exec) a file size limit of ``size`` bytes; SIGXFSZ
    ignored, so that a write past it fails with EFBIG instead of killing the process."""
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (size, resource.getrlimit(resource.RLIMIT_FSIZE)[1]))


@pytest.mark.parametrize(
    ("args", "limit", "existing"),
    [
        (("migrate",), 60_000, False),
        (("status",), 4096, True),
        (("times",), 4096, True),
    ],
    ids=["migrate-new-store", "status", "times"],
)
def test_a_file_size_limit_is_reported_as_such(
    tmp_path: Path, args: tuple[str, ...], limit: int, existing: bool
) -> None:
    db = tmp_path / "data" / "store.sqlite3"
    if existing:
        queue_three(db)
    env = subprocess_env(tmp_path, PYMESYNC_DB=str(db), PYMESYNC_URL=URL, PYMESYNC_USERNAME="alice")
    done = subprocess.run(
        [pymesync_executable(), *args],
        capture_output=True,
        text=True,
        env=env,
        preexec_fn=lambda: limited(limit),
    )
    assert done.returncode == 1, (done.stdout, done.stderr)
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert "file size limit" in lines[0] and f"{limit} bytes" in lines[0]
    assert "cannot be read" not in lines[0]


def test_the_store_reports_a_file_size_limit_while_writing(tmp_path: Path) -> None:
    db = tmp_path / "store.sqlite3"
    queue_three(db)
    code = (
        "import resource, signal, sys\n"
        "from pymesync.store import Store\n"
        "from pymesync.store.errors import StoreLocationError\n"
        "signal.signal(signal.SIGXFSZ, signal.SIG_IGN)\n"
        "store = Store.open(sys.argv[1])\n"
        "resource.setrlimit(resource.RLIMIT_FSIZE, (400_000, resource.RLIM_INFINITY))\n"
        "try:\n"
        "    for i in range(100):\n"
        "        store.put_objects('a', 'time', [{'uuid': f'u{i}-{j}', 'n': 'x' * 2000}"
        " for j in range(50)])\n"
        "except StoreLocationError as error:\n"
        "    print(error)\n"
    )
    done = subprocess.run([sys.executable, "-c", code, str(db)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "file size limit (400000 bytes" in done.stdout, done.stdout
