"""What only a store on PostgreSQL does: its statements, its locks, a lost server.

The rest of the store suite runs on both backends (``store_backend``); these tests
start from an empty database of their own (``postgres_url``), PostgreSQL only.
"""

from __future__ import annotations

import multiprocessing
import threading
import time
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from pymesync.store import NewOperation, Store, StoreError, StoreUnavailableError
from pymesync.store.postgres import LOCK_NAMESPACE, pg_sql

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=timezone.utc)
ACCOUNT = "http://h/v0|alice"


@pytest.fixture(autouse=True)
def _both_backends() -> None:
    """(PostgreSQL only: the suite's two-backend parametrisation does not apply.)"""


@pytest.fixture
def pg(postgres_url: str) -> Iterator[Store]:
    store = Store.open(postgres_url)
    try:
        yield store
    finally:
        store.close()


def conninfo(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


def create(i: int, account: str = ACCOUNT, target: str | None = None) -> NewOperation:
    return NewOperation(
        account, "create", "time", target or f"L{i}", {"duration": 60 + i}, op_id=f"op-{i}"
    )


def test_statements_are_translated_once_for_psycopg() -> None:
    assert pg_sql("SELECT a FROM t WHERE b = ? AND c LIKE 'x%'") == (
        "SELECT a FROM t WHERE b = %s AND c LIKE 'x%%'"
    )
    # a ? inside a quoted literal or name is not a parameter
    assert (
        pg_sql("SELECT '?', \"a?\" FROM t WHERE x = ?") == "SELECT '?', \"a?\" FROM t WHERE x = %s"
    )


def test_a_claim_skips_rows_another_transaction_holds(pg: Store, postgres_url: str) -> None:
    """SKIP LOCKED: an operation whose row another transaction has locked (a claimer
    of another daemon, a writer coalescing into it) is skipped at once, not waited for,
    and the next ones on other objects are claimed."""
    import psycopg

    for i in range(3):
        pg.enqueue(create(i), now=T0)
    with psycopg.connect(conninfo(postgres_url)) as other:
        other.execute("SELECT 1 FROM operations WHERE op_id = 'op-0' FOR UPDATE")
        started = time.monotonic()
        claimed = pg.claim(ACCOUNT, "d1", 30, now=T0, limit=3)
        assert time.monotonic() - started < 2
        assert [op.op_id for op in claimed] == ["op-1", "op-2"]
        other.rollback()
    assert [op.op_id for op in pg.claim(ACCOUNT, "d2", 30, now=T0, limit=3)] == ["op-0"]


def _claim_all(url: str, owner: str, out: Any, ready: Any) -> None:
    store = Store.open(url)
    got: list[str] = []
    try:
        ready.wait(60)  # (all four start claiming together)
        while True:
            claimed = store.claim(ACCOUNT, owner, 30, limit=2)
            if not claimed:
                break
            got += [op.op_id for op in claimed]
            for op in claimed:
                store.ack(op.op_id)
    finally:
        store.close()
    out.put(got)


def test_processes_claiming_together_never_get_one_operation_twice(
    pg: Store, postgres_url: str
) -> None:
    pg.enqueue_many([(create(i), None) for i in range(300)], now=T0)
    ctx = multiprocessing.get_context("spawn")
    out, ready = ctx.Queue(), ctx.Barrier(4)
    procs = [
        ctx.Process(target=_claim_all, args=(postgres_url, f"d{n}", out, ready)) for n in range(4)
    ]
    for proc in procs:
        proc.start()
    results = [out.get(timeout=120) for _ in procs]
    for proc in procs:
        proc.join(30)
    every = [op_id for got in results for op_id in got]
    assert sorted(every) == sorted(f"op-{i}" for i in range(300))  # each once
    assert sum(1 for got in results if got) >= 2  # (they did claim side by side)
    assert pg.operations() == []


def test_operations_on_one_object_are_claimed_in_order_by_any_claimer(pg: Store) -> None:
    """An update is never claimed while its create is queued, whoever claims."""
    pg.enqueue(create(0), now=T0)
    first = pg.claim(ACCOUNT, "d1", 30, now=T0)
    assert [op.kind for op in first] == ["create"]
    pg.enqueue(NewOperation(ACCOUNT, "update", "time", "L0", {"notes": "x"}, op_id="u"), now=T0)
    assert pg.claim(ACCOUNT, "d2", 30, now=T0) == []  # the create is still in flight
    pg.ack("op-0", server_object={"uuid": "S0", "duration": 60}, now=T0)
    second = pg.claim(ACCOUNT, "d2", 30, now=T0)
    assert [(op.kind, op.target) for op in second] == [("update", "S0")]


def test_writes_of_one_account_wait_for_each_other_and_not_for_another_account(
    pg: Store, postgres_url: str
) -> None:
    import psycopg

    done: list[str] = []

    def write(account: str, i: int) -> None:
        pg.enqueue(create(i, account), now=T0)
        done.append(account)

    with psycopg.connect(conninfo(postgres_url)) as other:
        other.execute("SELECT pg_advisory_xact_lock(%s, hashtext(%s))", (LOCK_NAMESPACE, ACCOUNT))
        same = threading.Thread(target=write, args=(ACCOUNT, 1))
        same.start()
        write("http://h/v0|bob", 2)  # another account: not held up
        time.sleep(0.3)
        assert done == ["http://h/v0|bob"] and same.is_alive()
        other.rollback()  # the lock goes with the transaction
        same.join(10)
    assert done == ["http://h/v0|bob", ACCOUNT]


def test_a_transaction_cut_off_writes_nothing_and_the_store_goes_on(
    pg: Store, postgres_url: str
) -> None:
    """The server loses the connection in the middle of a bulk write: a clear error,
    nothing of the call stored, and the next call works on a fresh connection."""
    import psycopg

    pg.enqueue(create(0), now=T0)

    def items() -> Iterator[tuple[NewOperation, None]]:
        yield create(1), None
        with psycopg.connect(conninfo(postgres_url), autocommit=True) as admin:
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid()"
                " AND state LIKE 'idle in transaction%'"
            )
        for i in range(2, 600):
            yield create(i), None

    with pytest.raises(StoreUnavailableError, match="cannot be reached"):
        pg.enqueue_many(items(), now=T0)
    assert [op.op_id for op in pg.operations()] == ["op-0"]
    pg.enqueue(create(700), now=T0)
    assert [op.op_id for op in pg.operations()] == ["op-0", "op-700"]


def test_an_unreachable_server_is_a_clear_error_without_the_password() -> None:
    import socket

    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"postgresql+psycopg://alice:s3cr3t-pw@127.0.0.1:{port}/pymesync"
    with pytest.raises(StoreUnavailableError) as caught:
        Store.open(url)
    message = str(caught.value)
    assert "s3cr3t-pw" not in message and "alice:***@127.0.0.1" in message
    assert message.startswith("The store postgresql+psycopg://alice:***@")


def test_an_open_store_whose_server_stops_answers_with_the_same_error(
    postgres_server: Any,
) -> None:
    """The server goes away under an open store (every connection cut): the pool's
    ping finds each one dead, and a write that cannot get a new one raises the
    store's error (nothing half-done); once the server is back, it works again."""
    import psycopg

    url = postgres_server.new_database()
    name = url.rsplit("/", 1)[1]
    store = Store.open(url)
    try:
        store.enqueue(create(0), now=T0)
        admin = psycopg.connect(conninfo(postgres_server.url("postgres")), autocommit=True)
        with admin:
            admin.execute(f"ALTER DATABASE {name} ALLOW_CONNECTIONS false")
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s",
                (name,),
            )
            with pytest.raises(StoreError) as caught:
                store.enqueue(create(1), now=T0)
            assert isinstance(caught.value, StoreUnavailableError), caught.value
            admin.execute(f"ALTER DATABASE {name} ALLOW_CONNECTIONS true")
        store.enqueue(create(2), now=T0)
        assert [op.op_id for op in store.operations()] == ["op-0", "op-2"]
    finally:
        store.close()
        postgres_server.drop_database(name)


def _open_and_count(url: str, out: Any) -> None:
    store = Store.open(url)
    try:
        out.put(len(store.operations()))
    finally:
        store.close()


def test_processes_opening_a_new_database_together_create_it_once(postgres_url: str) -> None:
    ctx = multiprocessing.get_context("spawn")
    out = ctx.Queue()
    procs = [ctx.Process(target=_open_and_count, args=(postgres_url, out)) for _ in range(4)]
    for proc in procs:
        proc.start()
    assert [out.get(timeout=120) for _ in procs] == [0, 0, 0, 0]
    for proc in procs:
        proc.join(30)
        assert proc.exitcode == 0


def test_keys_sort_and_match_by_their_bytes_whatever_the_databases_locale(
    postgres_server: Any,
) -> None:
    """In a database whose own collation is a language's (ICU en-US: "apple" before
    "Banana"), the store's keys still sort and match by code point, as on SQLite."""
    import psycopg

    name = "pymesync_icu"
    with psycopg.connect(conninfo(postgres_server.url("postgres")), autocommit=True) as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {name}")
        admin.execute(
            f"CREATE DATABASE {name} TEMPLATE template0 LOCALE_PROVIDER icu ICU_LOCALE 'en-US'"
            " LOCALE 'C.UTF-8'"
        )
    store = Store.open(postgres_server.url(name))
    try:
        keys = ["apple", "Banana", "a-b", "ab", "a_c", "Zed"]
        store.put_objects(ACCOUNT, "time", [{"uuid": k, "duration": 1} for k in keys], now=T0)
        listed = [obj.key for obj in store.list_objects(ACCOUNT, "time")]
        assert listed == sorted(keys)  # Banana, Zed, a-b, a_c, ab, apple
        assert set(store.ids_starting(ACCOUNT, "time", "a-")) == {"a-b"}
        assert set(store.ids_starting(ACCOUNT, "time", "B")) == {"Banana"}
    finally:
        store.close()
        postgres_server.drop_database(name)


def test_a_lease_passes_to_another_claimer_once_it_runs_out(pg: Store) -> None:
    """A daemon that died mid-pass: its lease runs out and another one takes the
    operation over, told that it may have been sent."""
    pg.enqueue(create(0), now=T0)
    assert pg.claim(ACCOUNT, "dead", 30, now=T0)
    assert pg.claim(ACCOUNT, "alive", 30, now=T0 + timedelta(seconds=10)) == []
    taken = pg.claim(ACCOUNT, "alive", 30, now=T0 + timedelta(seconds=31))
    assert [(op.op_id, op.lease_owner, op.outcome_unknown) for op in taken] == [
        ("op-0", "alive", True)
    ]


def test_connections_the_server_dropped_are_replaced_without_an_error(
    pg: Store, postgres_url: str
) -> None:
    """A server restart (or a firewall) drops every connection the pool keeps: the
    next transaction finds out at BEGIN, where nothing has run yet, and goes on with a
    new connection instead of failing (the pool does not ping each one before use)."""
    import psycopg

    barrier = threading.Barrier(4)

    def read() -> None:  # (several pooled connections, then idle)
        barrier.wait(10)
        pg.counts(ACCOUNT)

    readers = [threading.Thread(target=read) for _ in range(4)]
    for thread in readers:
        thread.start()
    for thread in readers:
        thread.join(10)
    with psycopg.connect(conninfo(postgres_url), autocommit=True) as admin:
        killed = admin.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        ).fetchone()
    assert killed is not None and killed[0] >= 1
    time.sleep(0.2)
    pg.enqueue(create(1), now=T0)  # no error
    assert [op.op_id for op in pg.operations()] == ["op-1"]


def test_acks_take_their_accounts_lock(pg: Store, postgres_url: str) -> None:
    """An ack maps ids, re-targets later operations and moves cache rows: it waits
    for the account's other writes (an enqueue coalescing on the same object)."""
    import psycopg

    for i in range(2):
        pg.enqueue(create(i), now=T0)
    assert len(pg.claim(ACCOUNT, "d1", 30, now=T0, limit=2)) == 2
    done: list[list[str]] = []
    items = [(f"op-{i}", {"uuid": f"S{i}", "duration": 60}, None) for i in range(2)]
    acking = threading.Thread(target=lambda: done.append(pg.ack_many(items, now=T0)))
    with psycopg.connect(conninfo(postgres_url)) as other:
        other.execute("SELECT pg_advisory_xact_lock(%s, hashtext(%s))", (LOCK_NAMESPACE, ACCOUNT))
        acking.start()
        time.sleep(0.3)
        assert done == [] and acking.is_alive()
        other.rollback()
    acking.join(10)
    assert done == [["op-0", "op-1"]]


def test_undo_never_reverts_what_a_claimer_took_meanwhile(pg: Store, postgres_url: str) -> None:
    """A daemon claims the change while undo runs (claims do not wait for the account's
    lock): undo waits for the claim and then refuses, instead of deleting (or writing
    back as pending) an operation that is being sent."""
    import psycopg

    from pymesync.errors import NothingToUndoError

    pg.enqueue(create(0), now=T0)
    outcome: list[Any] = []

    def undo() -> None:
        try:
            outcome.append(pg.undo(ACCOUNT))
        except NothingToUndoError as exc:
            outcome.append(exc)

    with psycopg.connect(conninfo(postgres_url)) as daemon:  # a claim, mid-transaction
        daemon.execute(
            "UPDATE operations SET state = 'inflight', lease_owner = 'd9',"
            " lease_expires_at = '2099-01-01T00:00:00.000000Z' WHERE op_id = 'op-0'"
        )
        undoing = threading.Thread(target=undo)
        undoing.start()
        time.sleep(0.3)
        daemon.commit()
    undoing.join(10)
    assert len(outcome) == 1 and isinstance(outcome[0], NothingToUndoError), outcome
    assert "being sent" in str(outcome[0])
    assert [(op.op_id, op.lease_owner) for op in pg.operations()] == [("op-0", "d9")]


def test_migrate_takes_a_url(postgres_url: str) -> None:
    from pymesync.store import migrate

    said = migrate(postgres_url)
    assert said.startswith("Created the pymesync database postgresql+psycopg://")
    assert "schema revision 0003" in said
    assert "is up to date" in migrate(postgres_url)


def test_a_password_never_shows_in_the_url_as_shown() -> None:
    from pymesync.store.postgres import display_url, from_pg_error

    url = "postgresql+psycopg://alice:pw-in-url@db.example/ts?password=pw-in-query&sslmode=require"
    shown = display_url(url)
    assert "pw-in-url" not in shown and "pw-in-query" not in shown
    assert shown == "postgresql+psycopg://alice:***@db.example/ts?password=***&sslmode=require"
    error = from_pg_error(RuntimeError("auth failed for pw-in-query / pw-in-url"), url)
    assert "pw-in" not in str(error)


def test_unusable_urls_are_one_clear_error() -> None:
    for url, expected in (
        ("postgresql+psycopg://alice:pw@host:notaport/ts", "Not a database URL"),
        ("mysql://alice:pw@host/ts", "Unsupported database"),
        ("postgresql+asyncpg://alice:pw@host/ts", "Unsupported driver"),
    ):
        with pytest.raises(StoreError, match=expected) as caught:
            Store.open(url)
        assert "pw" not in str(caught.value).replace("psycopg", ""), caught.value


def test_file_paths_and_urls_are_told_apart(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from pymesync.store import StoreLocationError
    from pymesync.store.location import resolve_path, resolve_target

    url = "postgresql+psycopg://alice@db/ts"
    assert resolve_target(url) == url
    monkeypatch.setenv("PYMESYNC_DB", url)
    assert resolve_target() == url
    with pytest.raises(StoreLocationError, match="names no SQLite file"):
        resolve_path()  # (what reads files only refuses a server's URL)
    assert resolve_target(f"sqlite:///{tmp_path}/a.sqlite3") == tmp_path / "a.sqlite3"
    assert resolve_path(f"sqlite:///{tmp_path}/b.sqlite3") == tmp_path / "b.sqlite3"
    assert resolve_target(tmp_path / "c.sqlite3") == tmp_path / "c.sqlite3"


def test_open_existing_creates_nothing(postgres_url: str) -> None:
    import psycopg

    assert Store.open_existing(postgres_url) is None
    with psycopg.connect(conninfo(postgres_url)) as conn:
        tables = conn.execute(
            "SELECT count(*) FROM pg_tables WHERE schemaname = current_schema()"
        ).fetchone()
    assert tables == (0,)
    Store.open(postgres_url).close()
    found = Store.open_existing(postgres_url)
    assert found is not None
    with found:
        assert found.operations() == []


def test_long_in_lists_are_not_prepared_on_the_server(postgres_url: str) -> None:
    """psycopg prepares a statement run often; PostgreSQL then plans it once for any
    values, and for an IN list of hundreds of keys that plan read the whole cache. A
    statement of many parameters is never prepared; a short one still is."""
    import psycopg

    from pymesync.store.postgres import PgConnection

    with psycopg.connect(conninfo(postgres_url), autocommit=True) as raw:
        db = PgConnection(raw)
        many = ", ".join("?" * 60)
        for _ in range(10):
            db.execute(f"SELECT 1 WHERE 'k' IN ({many})", [f"k{i}" for i in range(60)])
        prepared = raw.execute("SELECT statement FROM pg_prepared_statements").fetchall()
        assert prepared == []
        for _ in range(10):
            db.execute("SELECT 1 WHERE ? = ?", ("a", "a"))
        prepared = raw.execute("SELECT statement FROM pg_prepared_statements").fetchall()
        assert len(prepared) == 1 and "$1" in prepared[0][0]
