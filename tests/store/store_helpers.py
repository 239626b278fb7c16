"""Helpers shared by the store tests (imported as ``store_helpers``; fixtures are in conftest)."""

from __future__ import annotations

import contextlib
import os
import sqlite3
import subprocess
import sys
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from sqlalchemy import event

from pymesync.store import CacheObject, NewOperation, Store

ACCOUNT = "http://host/v0|alice"
OTHER = "http://host/v0|bob"
T0 = datetime(2026, 11, 30, 12, 0, 0, tzinfo=timezone.utc)
HERE = Path(__file__).resolve().parent
WORKER = HERE / "store_worker.py"
REPO = HERE.parents[1]


def at(seconds: float) -> datetime:
    """T0 plus some seconds."""
    return T0 + timedelta(seconds=seconds)


def time_obj(uuid: str, **fields: Any) -> dict[str, Any]:
    """A server-shaped time."""
    obj: dict[str, Any] = {
        "uuid": uuid,
        "revision": 1,
        "user": "alice",
        "duration": 600,
        "project": ["gwm"],
        "activities": ["dev"],
        "notes": "",
        "issue_uri": None,
        "date_worked": "2026-11-01",
        "created_at": "2026-11-01",
        "updated_at": None,
        "deleted_at": None,
    }
    obj.update(fields)
    return obj


def op(kind: str, target: str, payload: dict[str, Any] | None = None, **kw: Any) -> NewOperation:
    """A NewOperation on a time of ACCOUNT."""
    kw.setdefault("account", ACCOUNT)
    kw.setdefault("entity", "time")
    return NewOperation(kind=kind, target=target, payload=payload, **kw)  # type: ignore[arg-type]


def provisional(key: str, payload: dict[str, Any], entity: str = "time") -> CacheObject:
    """A provisional cache object of ACCOUNT."""
    return CacheObject(
        account=ACCOUNT,
        entity=entity,  # type: ignore[arg-type]
        key=key,
        payload=payload,
        revision=payload.get("revision"),
        deleted=False,
        fetched_at=T0,
        local=True,
    )


def run_worker(*args: str, env: dict[str, str] | None = None, **kw: Any) -> subprocess.Popen[str]:
    """Start tests/store/store_worker.py in a fresh interpreter."""
    full_env = dict(os.environ)
    if env:
        full_env.update(env)
    return subprocess.Popen(
        [sys.executable, str(WORKER), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=full_env,
        **kw,
    )


def on_postgres(store: Store) -> bool:
    """Whether ``store`` is the test's PostgreSQL database (else a SQLite file)."""
    return store.url is not None


def write_begin(store: Store) -> str:
    """The statement a write transaction of ``store`` begins with: ``BEGIN IMMEDIATE``
    on SQLite, ``BEGIN`` (and then the account's lock) on PostgreSQL."""
    return "BEGIN" if on_postgres(store) else "BEGIN IMMEDIATE"


def pg_connect() -> Any:
    """A psycopg connection (autocommit) to the test's PostgreSQL database: the URL in
    ``$PYMESYNC_DB`` (the store shows its URL without the password)."""
    import psycopg
    from sqlalchemy.engine import make_url

    url = make_url(os.environ["PYMESYNC_DB"]).set(drivername="postgresql")
    return psycopg.connect(url.render_as_string(hide_password=False), autocommit=True)


@contextlib.contextmanager
def raw_connection(target: Store | Path) -> Iterator[Any]:
    """A DB-API connection of its own to the database of ``target`` (a store, or the
    path of a SQLite file), closed afterwards. Statements without parameters run on
    either backend."""
    if isinstance(target, Store) and on_postgres(target):
        conn = pg_connect()
    else:
        path = target.path if isinstance(target, Store) else target
        assert path is not None
        conn = sqlite3.connect(path)
    try:
        yield conn
    finally:
        conn.close()


def db_rows(target: Store | Path, sql: str) -> list[tuple[Any, ...]]:
    """The rows of ``sql`` (no parameters) read from the database of ``target``."""
    with raw_connection(target) as conn:
        return [tuple(row) for row in conn.execute(sql)]


@contextlib.contextmanager
def traced(store: Store) -> Iterator[list[str]]:
    """Collect every SQL statement ``store`` runs meanwhile, on each connection it
    takes from its pool: SQLite's trace callback, or on PostgreSQL a psycopg cursor
    class that notes each statement it executes (as the store sends it: ``%s``
    parameters)."""
    statements: list[str] = []
    if on_postgres(store):
        import psycopg

        class Noting(psycopg.Cursor[Any]):
            def execute(self, query: Any, params: Any = None, **kw: Any) -> Any:
                statements.append(str(query))
                return super().execute(query, params, **kw)

            def executemany(self, query: Any, params_seq: Any, **kw: Any) -> None:
                statements.append(str(query))
                super().executemany(query, params_seq, **kw)

        def attach(conn: Any) -> None:
            conn.cursor_factory = Noting

        def detach(conn: Any) -> None:
            conn.cursor_factory = psycopg.Cursor

        with on_connections(store, attach, detach):
            yield statements
        return
    with on_connections(
        store,
        lambda conn: conn.set_trace_callback(statements.append),
        lambda conn: conn.set_trace_callback(None),
    ):
        yield statements


@contextlib.contextmanager
def on_connections(
    store: Store,
    attach: Callable[[Any], None],
    detach: Callable[[Any], None],
) -> Iterator[None]:
    """``attach`` to every connection the store uses meanwhile, ``detach`` after (a
    ``sqlite3.Connection``, or a psycopg one)."""

    def on_checkout(dbapi_conn: Any, record: Any, proxy: Any) -> None:
        attach(dbapi_conn)

    def on_checkin(dbapi_conn: Any, record: Any) -> None:
        if dbapi_conn is not None:
            detach(dbapi_conn)

    engine = store._engine
    # every transaction checks a connection out of the engine's pool and back in
    event.listen(engine, "checkout", on_checkout)
    event.listen(engine, "checkin", on_checkin)
    try:
        yield
    finally:
        event.remove(engine, "checkout", on_checkout)
        event.remove(engine, "checkin", on_checkin)


def query_plan(store: Store, sql: str, params: Any = ()) -> str:
    """SQLite's EXPLAIN QUERY PLAN of a statement, its steps joined by " | "."""
    assert store.path is not None, "SQLite's query plans: mark the test sqlite_only"
    conn = sqlite3.connect(store.path)
    try:
        return " | ".join(str(row[-1]) for row in conn.execute(f"EXPLAIN QUERY PLAN {sql}", params))
    finally:
        conn.close()


def store_state(target: Store | Path) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of the store's data tables (and the queue's id counter), sorted; of a
    store (on either backend) or of a SQLite file."""
    columns = {"cache_tags": "account, entity, key, tag_kind, value"}  # (order varies)
    with raw_connection(target) as conn:
        state = {
            table: sorted(
                map(tuple, conn.execute(f"SELECT {columns.get(table, '*')} FROM {table}")), key=repr
            )
            for table in ("operations", "cache", "cache_tags", "id_map")
        }
        if isinstance(conn, sqlite3.Connection):
            counter = "SELECT * FROM sqlite_sequence"
        else:
            counter = "SELECT last_value, is_called FROM operations_id_seq"
        state["sequence"] = sorted((tuple(row) for row in conn.execute(counter)), key=repr)
    return state


def tags_match_payloads(target: Store | Path) -> bool:
    """Whether cache_tags holds exactly the tags of the cached payloads (no orphan, none
    missing), in a store (on either backend) or a SQLite file."""
    import json

    from pymesync.store.cache import tag_rows

    with raw_connection(target) as conn:
        stored = {
            tuple(row)
            for row in conn.execute("SELECT account, entity, tag_kind, value, key FROM cache_tags")
        }
        derived = {
            row
            for account, entity, key, payload in conn.execute(
                "SELECT account, entity, key, payload FROM cache"
            )
            for row in tag_rows(account, entity, key, json.loads(payload))
        }
    return stored == derived


def fresh_creates(n: int) -> tuple[list[tuple[NewOperation, CacheObject | None]], set[str]]:
    """``n`` creates of times on fresh local ids with their provisional objects, and
    the ids drawn for them (what ``batch()`` hands to ``enqueue_many`` as ``new_ids``)."""
    from pymesync.store.records import new_uuid4

    items: list[tuple[NewOperation, CacheObject | None]] = []
    new_ids: set[str] = set()
    for i in range(n):
        key = new_uuid4()
        new = op("create", key, {"duration": i, "project": "gwm", "activities": ["dev"]})
        items.append((new, provisional(key, {"duration": i, "project": ["gwm"]})))
        new_ids.update((key, new.op_id))
    return items, new_ids
