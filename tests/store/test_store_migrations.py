"""Migrations: models vs scripts, upgrading old samples, the developer CLI, the wheel."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine
from store_helpers import (
    ACCOUNT,
    REPO,
    at,
    db_rows,
    on_postgres,
    op,
    store_state,
    tags_match_payloads,
)

from pymesync.store import SCHEMA_HEAD, Store
from pymesync.store.engine import create_store_engine
from pymesync.store.migrator import alembic_config, migration_connection, migrations_dir
from pymesync.store.schema import metadata

DATA = REPO / "tests" / "data"


def test_schema_head_is_the_scripts_head() -> None:
    script = ScriptDirectory.from_config(alembic_config())
    assert script.get_heads() == [SCHEMA_HEAD]


def test_packaged_migrations_are_the_repo_migrations() -> None:
    assert (migrations_dir() / "env.py").is_file()
    assert (migrations_dir() / "script.py.mako").is_file()
    assert (migrations_dir() / "versions" / "0001_initial.py").is_file()
    assert (migrations_dir() / "versions" / "0002_faster_writes_and_indexes.py").is_file()
    if (REPO / "migrations").is_dir():
        shipped = sorted(p.name for p in (migrations_dir() / "versions").glob("*.py"))
        source = sorted(p.name for p in (REPO / "migrations" / "versions").glob("*.py"))
        assert shipped == source


def _engine_url(store: Store) -> str:
    """A plain SQLAlchemy URL of the store's database (with its password, if any)."""
    return os.environ["PYMESYNC_DB"] if on_postgres(store) else f"sqlite:///{store.path}"


def _downgrade_file(path: Path, revision: str) -> None:
    """Downgrade the SQLite file ``path`` to ``revision`` as the store upgrades it (one
    exclusive transaction)."""
    config = alembic_config()
    engine = create_store_engine(path)
    try:
        with migration_connection(engine) as conn:
            config.attributes["connection"] = conn
            command.downgrade(config, revision)
    finally:
        engine.dispose()


def test_models_and_migrations_do_not_drift(store: Store) -> None:
    engine = create_engine(_engine_url(store))
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            diff = compare_metadata(context, metadata)
    finally:
        engine.dispose()
    assert diff == []


def test_downgrade_to_base_and_upgrade_again(store: Store, store_target: str | Path) -> None:
    store.save_token(ACCOUNT, "t")
    store.close()
    if on_postgres(store):  # (one transaction, as the store upgrades)
        config = alembic_config()
        engine = create_engine(_engine_url(store))
        try:
            with engine.begin() as conn:
                config.attributes["connection"] = conn
                command.downgrade(config, "base")
        finally:
            engine.dispose()
        tables_sql = "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()"
    else:
        assert store.path is not None
        _downgrade_file(store.path, "base")
        tables_sql = "SELECT name FROM sqlite_master WHERE type='table'"
    tables = {row[0] for row in db_rows(store, tables_sql)}
    assert "operations" not in tables and "cache" not in tables
    with Store.open(store_target) as again:
        assert again.load_token(ACCOUNT) is None
        assert again.counts(ACCOUNT)["pending"] == 0


def test_v0001_sample_upgrades_with_its_data(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite3"
    shutil.copyfile(DATA / "store_v0001.sqlite3", path)
    with Store.open(path) as store:
        ops = store.operations(ACCOUNT)
        assert [(o.op_id, o.kind, o.entity, o.state) for o in ops] == [
            ("op-create-l1", "create", "time", "pending"),
            ("op-update-proj", "update", "project", "failed"),
            ("op-delete-s1", "delete", "time", "inflight"),
        ]
        assert ops[0].payload == {
            "user": "alice",
            "duration": 600,
            "project": "gwm",
            "activities": ["docs"],
            "date_worked": "2026-11-29",
        }
        assert ops[1].base_revision == 1 and ops[1].attempts == 3
        assert ops[1].last_error == {"status": 400, "error": "Bad object"}
        assert ops[2].lease_owner == "daemon-1"
        s1 = "11111111-1111-4111-8111-111111111111"
        time = store.get_object(ACCOUNT, "time", s1)
        assert time is not None and time.revision == 2 and time.payload["duration"] == 5400
        assert store.get_object(ACCOUNT, "time", "L0") == time  # through the id map
        assert store.resolve_id(ACCOUNT, "time", "L0") == s1
        assert store.local_id_for(ACCOUNT, "time", s1) == "L0"
        assert [t.key for t in store.query_times(ACCOUNT, projects=["web"])] == [s1]
        assert [t.key for t in store.query_times(ACCOUNT, activities=["docs"])] == ["L1"]
        assert [t.key for t in store.query_times(ACCOUNT, start="2026-11-10")] == ["L1"]
        project = store.find_by_slug(ACCOUNT, "project", "web")
        assert project is not None and project.payload["name"] == "GWM"
        activity = store.find_by_slug(ACCOUNT, "activity", "dev")
        assert activity is not None and activity.payload["name"] == "Development"
        user = store.get_object(ACCOUNT, "user", "alice")
        assert user is not None and user.payload["email"] == "alice@example.com"
        assert store.load_token(ACCOUNT) == "sample-token"
        assert store.get_state(ACCOUNT, "last_success") == {
            "at": "2026-11-30T12:00:00.000000Z",
            "pushed": 7,
        }
        # And the upgraded store keeps working.
        claimed = store.claim(ACCOUNT, "w", 30, limit=5, now=at(3600))
        assert [c.op_id for c in claimed] == ["op-create-l1", "op-delete-s1"]
        assert claimed[1].outcome_unknown  # its lease ended at 12:05
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert conn.execute("SELECT version_num FROM alembic_version").fetchone()[0] == SCHEMA_HEAD
    conn.close()


def test_v0002_sample_opens_with_its_data(tmp_path: Path) -> None:
    path = tmp_path / "v2.sqlite3"
    shutil.copyfile(DATA / "store_v0002.sqlite3", path)
    with Store.open(path) as store:
        ops = store.operations(ACCOUNT)
        assert [(o.op_id, o.state) for o in ops] == [
            ("op-create-l1", "pending"),
            ("op-update-proj", "failed"),
            ("op-delete-s1", "inflight"),
            ("op-update-s2", "pending"),
        ]
        s2 = "44444444-4444-4444-8444-444444444444"
        assert ops[3].next_attempt_at == at(300) and ops[3].attempts == 2
        assert ops[3].last_error == {"status": 503, "error": "Service Unavailable"}
        assert [t.key for t in store.query_times(ACCOUNT, projects=["web"])] == [
            "11111111-1111-4111-8111-111111111111"
        ]
        assert [t.key for t in store.query_times(ACCOUNT, users=["bob"])] == [s2]
        assert [t.key for t in store.query_times(ACCOUNT, activities=["dev"])] == [
            "11111111-1111-4111-8111-111111111111",
            s2,
        ]
        project = store.find_by_slug(ACCOUNT, "project", "web")
        assert project is not None and project.payload["name"] == "GWM"
        assert store.resolve_id(ACCOUNT, "time", "L0") == "11111111-1111-4111-8111-111111111111"
        assert store.load_token(ACCOUNT) == "sample-token"
        assert store.pending_targets(ACCOUNT, "time") == {
            "L1",
            "11111111-1111-4111-8111-111111111111",
            s2,
        }
        assert store.expedite(ACCOUNT, now=at(0)) == 1
        claimed = store.claim(ACCOUNT, "w", 30, limit=5, now=at(3600))
        assert [c.op_id for c in claimed] == ["op-create-l1", "op-delete-s1", "op-update-s2"]
        new = store.enqueue(op("update", "t9", {"x": 1}), now=at(0)).operation
        assert new is not None and new.id == 5
    assert tags_match_payloads(path)


def _schema(path: Path) -> dict[str, str]:
    conn = sqlite3.connect(path)
    try:
        return {
            name: sql or ""
            for name, sql in conn.execute(
                "SELECT name, sql FROM sqlite_master WHERE sql IS NOT NULL"
            )
        }
    finally:
        conn.close()


def test_an_upgrade_checks_the_whole_file_first(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Opening a current store reads no more than the schema, but before an upgrade
    rewrites tables the whole file is checked (``PRAGMA quick_check``)."""
    from pymesync.store import location

    checks: list[bool] = []
    inspect = location._inspect

    def spy(path: Path, *, read_only: bool, quick_check: bool) -> object:
        checks.append(quick_check)
        return inspect(path, read_only=read_only, quick_check=quick_check)

    monkeypatch.setattr(location, "_inspect", spy)
    path = tmp_path / "old.sqlite3"
    shutil.copyfile(DATA / "store_v0001.sqlite3", path)
    Store.open(path).close()
    assert checks[:2] == [False, True]  # the revision read, then the check, then upgrade
    checks.clear()
    Store.open(path).close()
    assert checks == [False]  # current now: no full read


def test_v0001_sample_upgrade_rebuilds_tables_keeping_ids(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite3"
    shutil.copyfile(DATA / "store_v0001.sqlite3", path)
    conn = sqlite3.connect(path)
    with conn:  # the newest operation is gone: its id (3) must never be given again
        conn.execute("DELETE FROM operations WHERE op_id = 'op-delete-s1'")
    assert conn.execute("SELECT seq FROM sqlite_sequence WHERE name = 'operations'").fetchone() == (
        3,
    )
    conn.close()
    with Store.open(path) as store:
        new = store.enqueue(op("update", "t9", {"x": 1}), now=at(0)).operation
        assert new is not None and new.id == 4
        assert [o.op_id for o in store.operations(ACCOUNT)][:2] == [
            "op-create-l1",
            "op-update-proj",
        ]
    schema = _schema(path)
    assert "WITHOUT ROWID" in schema["cache_tags"]
    for table in ("operations", "cache", "cache_tags"):
        assert " IN (" not in schema[table], schema[table]
    assert "CONSTRAINT ck_operations_kind CHECK (kind = 'create' OR" in schema["operations"]
    assert "ix_operations_account_next_attempt_at" in schema
    assert "ix_cache_account_entity_user_date_worked" in schema
    assert "ix_cache_account_entity_user" not in schema
    conn = sqlite3.connect(path)
    try:
        assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    finally:
        conn.close()


def test_downgrade_to_0001_keeps_the_data(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite3"
    shutil.copyfile(DATA / "store_v0001.sqlite3", path)
    original = _schema(path)
    Store.open(path).close()
    before = store_state(path)
    _downgrade_file(path, "0001")
    assert store_state(path) == before
    back = _schema(path)
    for name in ("operations", "cache", "cache_tags"):  # the 0001 tables, as created
        assert back[name].replace('"', "") == original[name].replace('"', ""), name
    assert set(back) == set(original)
    with Store.open(path) as store:  # and up again
        assert len(store.operations(ACCOUNT)) == 3
        assert [t.key for t in store.query_times(ACCOUNT, projects=["web"])]
    assert store_state(path) == before


def test_alembic_cli_from_repo_root(tmp_path: Path) -> None:
    if not (REPO / "alembic.ini").is_file():
        pytest.skip("not running from a source checkout")
    path = tmp_path / "dev.sqlite3"
    env = {k: v for k, v in os.environ.items() if k != "PYMESYNC_DB"}
    out = subprocess.run(
        [sys.executable, "-m", "alembic", "-x", f"db={path}", "upgrade", "head"],
        cwd=REPO,
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert out.returncode == 0, out.stderr
    out = subprocess.run(
        [sys.executable, "-m", "alembic", "-x", f"db={path}", "current"],
        cwd=REPO,
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    assert f"{SCHEMA_HEAD} (head)" in out.stdout
    with Store.open(path) as store:
        assert store.counts(ACCOUNT) == {"pending": 0, "inflight": 0, "failed": 0, "conflict": 0}


@pytest.mark.slow
def test_wheel_ships_the_migrations(tmp_path: Path) -> None:
    if not (REPO / "pyproject.toml").is_file():
        pytest.skip("not running from a source checkout")
    # Build from a clean copy: no stale build/ leftovers, nothing written into the checkout.
    source = tmp_path / "src"
    shutil.copytree(
        REPO,
        source,
        symlinks=True,
        ignore=shutil.ignore_patterns(
            ".git", ".venv", "venv", "build", "dist", "*.egg-info", "__pycache__", ".*_cache"
        ),
    )
    out = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", str(source), "--no-deps", "-q", "-w", str(tmp_path)],
        capture_output=True,
        text=True,
        check=False,
        timeout=540,
    )
    assert out.returncode == 0, out.stderr
    (wheel,) = tmp_path.glob("pymesync-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    base = "pymesync/store/_migrations/"
    assert base + "env.py" in names
    assert base + "script.py.mako" in names
    for version in (REPO / "migrations" / "versions").glob("*.py"):
        assert base + "versions/" + version.name in names
    assert "pymesync/store/__init__.py" in names


def test_0003_adds_timers_and_import_keys_to_a_0002_store(tmp_path: Path) -> None:
    path = tmp_path / "v2.sqlite3"
    shutil.copyfile(DATA / "store_v0002.sqlite3", path)
    before = sqlite3.connect(path)
    counts = {
        name: before.execute(f"SELECT count(*) FROM {name}").fetchone()[0]
        for name in ("operations", "cache", "cache_tags", "id_map")
    }
    before.close()
    Store.open(path).close()
    conn = sqlite3.connect(path)
    try:
        for name, count in counts.items():
            assert conn.execute(f"SELECT count(*) FROM {name}").fetchone()[0] == count
        pk = {
            table: [row[1] for row in conn.execute(f"PRAGMA table_info({table})") if row[5]]
            for table in ("timers", "import_keys")
        }
        assert pk == {"timers": ["account", "slot"], "import_keys": ["account", "import_key"]}
        with pytest.raises(sqlite3.IntegrityError):  # only "running" and "last"
            conn.execute(
                "INSERT INTO timers VALUES ('a', 'paused', 'p', '[]', NULL, NULL, 'x', 'x')"
            )
    finally:
        conn.close()
