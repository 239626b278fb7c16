"""Write tests/data/store_v0002.sqlite3: a store at schema revision 0002, with data.

Run from the repository root (the file is committed; rerun only to rebuild it):

    .venv/bin/python tests/data/make_store_v0002.py

It migrates a new file to revision 0002 exactly (not "head") with the packaged
migrations, then inserts rows with plain SQL written for the 0002 tables, so it keeps
producing a revision-0002 database however the schema grows later. Compared with the
0001 sample: an operation backing off (``next_attempt_at`` set), and ``cache_tags`` in
its 0002 shape (columns ``account, entity, tag_kind, value, key``).
"""

from __future__ import annotations

import json
import sqlite3
import sys
from pathlib import Path

from alembic import command

from pymesync.store.engine import create_store_engine, prepare_location, set_wal
from pymesync.store.migrator import alembic_config, migration_connection

OUT = Path(__file__).resolve().parent / "store_v0002.sqlite3"
ACCOUNT = "http://host/v0|alice"
T = "2026-11-30T12:00:00.000000Z"
LATER = "2026-11-30T12:05:00.000000Z"

TIME_S1 = {
    "uuid": "11111111-1111-4111-8111-111111111111",
    "revision": 2,
    "user": "alice",
    "duration": 5400,
    "project": ["gwm", "web"],
    "activities": ["dev"],
    "notes": "",
    "issue_uri": None,
    "date_worked": "2026-11-02",
    "created_at": "2026-11-02",
    "updated_at": "2026-11-03",
    "deleted_at": None,
}
TIME_S2 = {
    **TIME_S1,
    "uuid": "44444444-4444-4444-8444-444444444444",
    "revision": 1,
    "user": "bob",
    "project": ["pgd"],
    "date_worked": "2026-11-20",
}
TIME_L1 = {
    "user": "alice",
    "duration": 600,
    "project": "gwm",
    "activities": ["docs"],
    "date_worked": "2026-11-29",
}
PROJECT = {
    "uuid": "22222222-2222-4222-8222-222222222222",
    "revision": 1,
    "name": "GWM",
    "slugs": ["gwm", "web"],
    "uri": None,
    "default_activity": "dev",
    "users": {"alice": {"member": True, "spectator": False, "manager": False}},
    "created_at": "2026-01-01",
    "updated_at": None,
    "deleted_at": None,
}
ACTIVITY = {
    "uuid": "33333333-3333-4333-8333-333333333333",
    "revision": 1,
    "name": "Development",
    "slug": "dev",
    "created_at": "2026-01-01",
    "updated_at": None,
    "deleted_at": None,
}
USER = {
    "username": "alice",
    "display_name": "Alice",
    "email": "alice@example.com",
    "site_spectator": False,
    "site_manager": False,
    "site_admin": False,
    "active": True,
    "created_at": "2026-01-01",
    "updated_at": None,
    "deleted_at": None,
}


def _j(value: object) -> str:
    return json.dumps(value, separators=(",", ":"))


def build(out: Path) -> None:
    """Create ``out`` (which must not exist) as a populated revision-0002 store."""
    prepare_location(out)
    set_wal(out)
    config = alembic_config()
    engine = create_store_engine(out)
    try:
        with migration_connection(engine) as conn:
            config.attributes["connection"] = conn
            command.upgrade(config, "0002")
    finally:
        engine.dispose()

    db = sqlite3.connect(out)
    ops = [
        # id, op_id, kind, entity, target, payload, base_revision, state, attempts,
        # next_attempt_at, last_error, first_sent_at, lease_owner, lease_expires_at
        (
            1,
            "op-create-l1",
            "create",
            "time",
            "L1",
            _j(TIME_L1),
            None,
            "pending",
            0,
            None,
            None,
            None,
            None,
            None,
        ),
        (
            2,
            "op-update-proj",
            "update",
            "project",
            "gwm",
            _j({"name": "GWM 2"}),
            1,
            "failed",
            3,
            None,
            _j({"status": 400, "error": "Bad object"}),
            T,
            None,
            None,
        ),
        (
            3,
            "op-delete-s1",
            "delete",
            "time",
            TIME_S1["uuid"],
            None,
            2,
            "inflight",
            1,
            None,
            None,
            T,
            "daemon-1",
            LATER,
        ),
        (
            4,
            "op-update-s2",
            "update",
            "time",
            TIME_S2["uuid"],
            _j({"notes": "later"}),
            1,
            "pending",
            2,
            LATER,
            _j({"status": 503, "error": "Service Unavailable"}),
            T,
            None,
            None,
        ),
    ]
    db.executemany(
        "INSERT INTO operations (id, op_id, account, kind, entity, target, payload,"
        " base_revision, state, attempts, next_attempt_at, last_error, created_at,"
        " updated_at, first_sent_at, lease_owner, lease_expires_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [(o[0], o[1], ACCOUNT, *o[2:11], T, T, *o[11:]) for o in ops],
    )
    cache = [
        ("time", TIME_S1["uuid"], TIME_S1, 2, 0, 0, "alice", "2026-11-02"),
        ("time", TIME_S2["uuid"], TIME_S2, 1, 0, 0, "bob", "2026-11-20"),
        ("time", "L1", TIME_L1, None, 0, 1, "alice", "2026-11-29"),
        ("project", PROJECT["uuid"], PROJECT, 1, 0, 0, None, None),
        ("activity", ACTIVITY["uuid"], ACTIVITY, 1, 0, 0, None, None),
        ("user", "alice", USER, None, 0, 0, None, None),
    ]
    db.executemany(
        "INSERT INTO cache (account, entity, key, payload, revision, deleted, fetched_at,"
        " local, user, date_worked) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [(ACCOUNT, e, k, _j(p), r, d, T, loc, u, dw) for e, k, p, r, d, loc, u, dw in cache],
    )
    tags = [
        ("time", "project", "gwm", TIME_S1["uuid"]),
        ("time", "project", "web", TIME_S1["uuid"]),
        ("time", "activity", "dev", TIME_S1["uuid"]),
        ("time", "project", "pgd", TIME_S2["uuid"]),
        ("time", "activity", "dev", TIME_S2["uuid"]),
        ("time", "project", "gwm", "L1"),
        ("time", "activity", "docs", "L1"),
        ("project", "slug", "gwm", PROJECT["uuid"]),
        ("project", "slug", "web", PROJECT["uuid"]),
        ("activity", "slug", "dev", ACTIVITY["uuid"]),
    ]
    db.executemany(
        "INSERT INTO cache_tags (account, entity, tag_kind, value, key) VALUES (?, ?, ?, ?, ?)",
        [(ACCOUNT, *t) for t in tags],
    )
    db.execute(
        "INSERT INTO id_map (account, entity, local_id, server_id) VALUES (?, ?, ?, ?)",
        (ACCOUNT, "time", "L0", TIME_S1["uuid"]),
    )
    db.execute(
        "INSERT INTO credentials (account, token, updated_at) VALUES (?, ?, ?)",
        (ACCOUNT, "sample-token", T),
    )
    db.execute(
        "INSERT INTO sync_state (account, key, value, updated_at) VALUES (?, ?, ?, ?)",
        (ACCOUNT, "last_success", _j({"at": T, "pushed": 7}), T),
    )
    db.commit()
    db.execute("PRAGMA journal_mode = DELETE")
    db.execute("VACUUM")
    db.close()


def main() -> int:
    """Rebuild the committed sample."""
    if OUT.exists():
        OUT.unlink()
    build(OUT)
    print(f"wrote {OUT} ({OUT.stat().st_size} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
