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


@contextlib.contextmanager
def traced(store: Store) -> Iterator[list[str]]:
    """Collect every SQL statement SQLite runs for ``store`` meanwhile (as the trace
    callback of each connection the store takes from its pool)."""
    statements: list[str] = []
    with on_connections(
        store,
        lambda conn: conn.set_trace_callback(statements.append),
        lambda conn: conn.set_trace_callback(None),
    ):
        yield statements


@contextlib.contextmanager
def on_connections(
    store: Store,
    attach: Callable[[sqlite3.Connection], None],
    detach: Callable[[sqlite3.Connection], None],
) -> Iterator[None]:
    """``attach`` to every connection the store uses meanwhile, ``detach`` after."""

    def on_checkout(dbapi_conn: sqlite3.Connection, record: Any, proxy: Any) -> None:
        attach(dbapi_conn)

    def on_checkin(dbapi_conn: sqlite3.Connection | None, record: Any) -> None:
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
    conn = sqlite3.connect(store.path)
    try:
        return " | ".join(str(row[-1]) for row in conn.execute(f"EXPLAIN QUERY PLAN {sql}", params))
    finally:
        conn.close()


def sqlite_state(path: Path) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of the store's data tables (and the queue's id counter), sorted."""
    conn = sqlite3.connect(path)
    try:
        columns = {"cache_tags": "account, entity, key, tag_kind, value"}  # (order varies)
        return {
            table: sorted(conn.execute(f"SELECT {columns.get(table, '*')} FROM {table}"), key=repr)
            for table in ("operations", "cache", "cache_tags", "id_map", "sqlite_sequence")
        }
    finally:
        conn.close()


def tags_match_payloads(path: Path) -> bool:
    """Whether cache_tags holds exactly the tags of the cached payloads (no orphan, none
    missing)."""
    import json

    from pymesync.store.cache import tag_rows

    conn = sqlite3.connect(path)
    try:
        stored = set(conn.execute("SELECT account, entity, tag_kind, value, key FROM cache_tags"))
        derived = {
            row
            for account, entity, key, payload in conn.execute(
                "SELECT account, entity, key, payload FROM cache"
            )
            for row in tag_rows(account, entity, key, json.loads(payload))
        }
    finally:
        conn.close()
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
