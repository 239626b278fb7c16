"""The offline-first facade against the emulator over loopback, with a real store file.

"Offline" is the emulator answering every request with an HTML 503 (as a proxy does when
the server is down); "back online" is clearing that fault.
"""

from __future__ import annotations

import datetime as dt
import os
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import pymesync
from pymesync.testing import run_emulator

TODAY = dt.datetime.now(dt.timezone.utc).date()
D1 = (TODAY - dt.timedelta(days=3)).isoformat()
D2 = (TODAY - dt.timedelta(days=2)).isoformat()
D3 = (TODAY - dt.timedelta(days=1)).isoformat()


@pytest.fixture
def emu() -> Iterator[Any]:
    with run_emulator(seed_data=True) as emulator:
        yield emulator


def offline(emu: Any) -> None:
    emu.fail_next(1_000_000, status=503)


def online(emu: Any) -> None:
    emu.clear_faults()


def client(emu: Any, user: str = "alice", **options: Any) -> pymesync.TimeSync:
    ts = pymesync.TimeSync(emu.base_url, **options)
    assert "token" in ts.authenticate(user, user, "password")
    return ts


def a_time(**changes: Any) -> dict[str, Any]:
    return {
        "duration": 1800,
        "project": "gwm",
        "user": "alice",
        "date_worked": D2,
        "activities": ["dev"],
        "notes": "offline entry",
        **changes,
    }


def pending(ts: pymesync.TimeSync) -> dict[str, int]:
    from pymesync.store import Store

    assert ts.account is not None and ts.store_location is not None
    with Store.open(ts.store_path) as store:
        return store.counts(ts.account)


COMPARED = (
    "user",
    "duration",
    "project",
    "activities",
    "notes",
    "issue_uri",
    "date_worked",
    "revision",
    "deleted_at",
)


def comparable(times: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    return sorted(repr(tuple(t.get(k) for k in COMPARED)) for t in times)  # type: ignore[misc]


TIME_QUERIES: list[dict[str, Any]] = [
    {},
    {"user": "alice"},
    {"user": ["alice", "bob"]},
    {"project": "gwm"},
    {"project": ["ganeti-webmgr"]},
    {"project": ["timesync", "gwm"], "activity": "dev"},
    {"activity": ["docs", "plan"]},
    {"start": D2},
    {"end": D2},
    {"start": D1, "end": D2},
    {"include_deleted": True},
    {"user": "alice", "include_deleted": True, "start": D1},
]


def test_offline_reads_answer_as_the_server_does_after_sync(emu: Any) -> None:
    ts = client(emu)
    seeded = ts.get_times({"user": "alice"})
    ts.get_projects()
    ts.get_activities()
    ts.get_users()
    offline(emu)
    first = ts.create_time(a_time(date_worked=D1))
    assert first["uuid"] and first["revision"] == 1 and ts.last_read is not None
    second = ts.create_time(
        a_time(project="timesync", activities=["docs"], date_worked=D3, notes="second")
    )
    ts.create_time(a_time(activities=None, notes="default activity"))
    ts.update_time({"notes": "edited offline", "duration": 600}, second["uuid"])
    ts.update_time({"notes": "seed edited offline"}, seeded[0]["uuid"])
    ts.delete_time(seeded[1]["uuid"])
    doomed = ts.create_time(a_time(notes="never sent"))
    assert ts.delete_time(doomed["uuid"]) == {"status": 200}

    answers = {}
    for query in TIME_QUERIES:
        answers[repr(query)] = ts.get_times(query)
        assert ts.last_read is not None and ts.last_read.source == "cache", query
    offline_projects = ts.get_projects()
    offline_users = ts.get_users("alice")

    online(emu)
    report = ts.sync()
    assert report.failed == 0 and report.stopped is None and pending(ts)["pending"] == 0
    server = client(emu, mode="direct")
    for query in TIME_QUERIES:
        assert comparable(answers[repr(query)]) == comparable(server.get_times(query)), query
    assert sorted(p["uuid"] for p in offline_projects) == sorted(
        p["uuid"] for p in server.get_projects()
    )
    assert offline_users == server.get_users("alice")
    # nothing was sent for the entry created and deleted while offline
    assert not [
        t for t in server.get_times({"include_deleted": True}) if t["notes"] == "never sent"
    ]


def test_offline_read_with_nothing_cached_returns_the_connection_error(emu: Any) -> None:
    ts = client(emu)
    offline(emu)
    [answer] = ts.get_times()
    assert answer["pymesync error"].startswith(
        f"connection to TimeSync failed at baseurl {emu.base_url} - response status was 503"
    )


def test_local_uuid_keeps_resolving_before_and_after_sync(emu: Any) -> None:
    ts = client(emu)
    offline(emu)
    local = ts.create_time(a_time())["uuid"]
    updated = ts.update_time({"notes": "before sync"}, local)
    assert updated["notes"] == "before sync" and updated["uuid"] == local
    assert ts.get_times({"uuid": local})[0]["notes"] == "before sync"
    online(emu)
    assert ts.sync().synced == 1
    [synced] = ts.get_times({"uuid": local})
    server_id = synced["uuid"]
    assert server_id != local and synced["notes"] == "before sync"
    after = ts.update_time({"notes": "after sync"}, local)
    assert after["uuid"] == server_id and after["revision"] == 2
    assert ts.delete_time(local) == {"status": 200}
    direct = client(emu, mode="direct")
    [gone] = direct.get_times({"uuid": server_id, "include_deleted": True})
    assert gone["deleted_at"] is not None and gone["notes"] == "after sync"


def test_unsent_operations_are_coalesced(emu: Any) -> None:
    ts = client(emu)
    seeded = ts.get_times({"user": "alice"})
    offline(emu)
    created = ts.create_time(a_time(notes="one"))
    ts.update_time({"notes": "two"}, created["uuid"])
    ts.update_time({"duration": 99}, created["uuid"])
    ts.update_time({"notes": "a"}, seeded[0]["uuid"])
    ts.update_time({"duration": 7}, seeded[0]["uuid"])
    ts.update_time({"notes": "b"}, seeded[1]["uuid"])
    ts.delete_time(seeded[1]["uuid"])
    gone = ts.create_time(a_time(notes="gone"))
    ts.delete_time(gone["uuid"])
    assert pending(ts)["pending"] == 3
    online(emu)
    emu.reset_stats()
    assert ts.sync().synced == 3
    assert emu.request_count("POST /times") == 1
    assert emu.request_count("POST /times/{uuid}") == 1
    assert emu.request_count("DELETE /times/{uuid}") == 1
    direct = client(emu, mode="direct")
    [made] = [t for t in direct.get_times({"user": "alice"}) if t["notes"] == "two"]
    assert made["duration"] == 99
    [edited] = direct.get_times({"uuid": seeded[0]["uuid"]})
    assert (edited["notes"], edited["duration"], edited["revision"]) == (
        "a",
        7,
        seeded[0]["revision"] + 1,
    )


def test_permanent_error_inline_is_returned_and_nothing_stays_queued(emu: Any) -> None:
    ts = client(emu)
    answer = ts.create_time(a_time(user="bob"))
    assert answer == {
        "status": 401,
        "error": "Authorization failure",
        "text": "alice is not authorized to create time entries for bob",
    }
    assert sum(pending(ts).values()) == 0
    assert not [t for t in ts.get_times() if t["user"] == "bob" and t["notes"] == "offline entry"]


def test_queue_mode_never_pushes_inline(emu: Any) -> None:
    ts = client(emu, mode="queue")
    emu.reset_stats()
    made = ts.create_time(a_time())
    assert emu.request_count() == 0 and pending(ts)["pending"] == 1
    report = ts.sync()
    assert report.synced == 1 and report.results[0].answer["notes"] == "offline entry"
    assert made["uuid"] != report.results[0].canonical["uuid"]  # type: ignore[index]


def test_server_answer_never_overwrites_pending_changes(emu: Any) -> None:
    ts = client(emu, mode="queue")
    seeded = ts.get_times({"user": "alice"})[0]
    ts.update_time({"notes": "mine, not yet sent"}, seeded["uuid"])
    [shown] = ts.get_times({"uuid": seeded["uuid"]})
    assert ts.last_read is not None and ts.last_read.source == "server"
    assert shown["notes"] == "mine, not yet sent"
    listed = {t["uuid"]: t for t in ts.get_times({"user": "alice"})}
    assert listed[seeded["uuid"]]["notes"] == "mine, not yet sent"


def test_operations_belong_to_their_account(emu: Any, private_store: Path) -> None:
    alice = client(emu)
    offline(emu)
    alice.create_time(a_time(notes="alice's"))
    online(emu)
    bob = client(emu, "bob")
    assert bob.sync().results == ()
    assert pending(alice)["pending"] == 1
    assert alice.sync().synced == 1
    carol = client(emu, "carol", mode="direct")  # a site spectator sees everything
    [entry] = [t for t in carol.get_times() if t["notes"] == "alice's"]
    assert entry["user"] == "alice"


def test_max_age_serves_fresh_cache_without_asking(emu: Any) -> None:
    ts = client(emu, max_age=60)
    ts.get_activities()
    emu.reset_stats()
    assert [a["slug"] for a in ts.get_activities()]
    assert emu.request_count() == 0
    assert ts.last_read is not None and ts.last_read.source == "cache"
    assert ts.last_read.age is not None and ts.last_read.age < 60


def _tables(private_store: Path, store_backend: str) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table of the test's store, on either backend."""
    if store_backend == "sqlite":
        db = sqlite3.connect(private_store)
        try:
            names = [r[0] for r in db.execute("select name from sqlite_master where type='table'")]
            return {name: list(db.execute(f"select * from {name}")) for name in names}
        finally:
            db.close()
    import psycopg

    url = os.environ["PYMESYNC_DB"].replace("postgresql+psycopg://", "postgresql://", 1)
    with psycopg.connect(url) as conn:
        names = [
            r[0]
            for r in conn.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()"
            )
        ]
        return {name: list(conn.execute(f"select * from {name}")) for name in names}


def test_token_is_only_in_the_credentials_table(
    emu: Any, private_store: Path, store_backend: str
) -> None:
    ts = client(emu)
    offline(emu)
    ts.create_time(a_time())
    ts.get_times()
    online(emu)
    ts.sync()
    assert ts.token and ts.token not in repr(ts)
    found = []
    for table, rows in _tables(private_store, store_backend).items():
        for row in rows:
            if any(ts.token in str(value) for value in row):
                found.append(table)
    assert found == ["credentials"]


@pytest.mark.sqlite_only(reason="a damaged SQLite file")
def test_broken_store_is_a_clear_error_and_left_alone(emu: Any, private_store: Path) -> None:
    private_store.parent.mkdir(parents=True, exist_ok=True)
    private_store.write_bytes(b"this is not a database")
    ts = client(emu)
    answer = ts.create_time(a_time())
    assert "not a SQLite database" in answer["pymesync error"]
    assert private_store.read_bytes() == b"this is not a database"


def test_sync_status_tells_pending_synced_failed(emu: Any) -> None:
    ts = client(emu)
    offline(emu)
    local = ts.create_time(a_time())["uuid"]
    status = ts.sync_status("time", local)
    assert status["state"] == "pending" and status["server_id"] is None
    assert [op["kind"] for op in status["operations"]] == ["create"]
    online(emu)
    ts.sync()
    synced = ts.sync_status("time", local)
    assert synced["state"] == "synced" and synced["server_id"] not in (None, local)
    assert synced["operations"] == []
    # a permanent failure while queued (queue mode) is kept and shown
    queued = client(emu, mode="queue")
    bad = queued.create_time(a_time(project="no-such-project"))
    report = queued.sync()
    assert report.failed == 1 and report.results[0].error is not None
    failed = queued.sync_status("time", bad["uuid"])
    assert failed["state"] == "failed"
    assert failed["operations"][0]["last_error"]["body"]["error"] == "Invalid foreign key"
    assert ts.sync_status("nonsense", "x") == {"pymesync error": "unknown entity: nonsense"}


def test_no_plaintext_password_reaches_the_disk(
    emu: Any, private_store: Path, store_backend: str
) -> None:
    admin = pymesync.TimeSync(emu.base_url, mode="queue")
    admin.authenticate("admin", "admin", "password")
    admin.create_user({"username": "frank", "password": "plain-secret-123"})
    if store_backend == "sqlite":  # (the file and its log, byte by byte)
        raw = private_store.read_bytes() + Path(str(private_store) + "-wal").read_bytes()
    else:  # (what the server keeps: every row of every table)
        raw = repr(_tables(private_store, store_backend)).encode()
    assert b"plain-secret-123" not in raw
    assert b"$2a$10$" in raw
    assert admin.sync().synced == 1
    frank = pymesync.TimeSync(emu.base_url, mode="direct")
    assert "token" in frank.authenticate("frank", "plain-secret-123", "password")


def test_batch_queues_everything_in_one_go(emu: Any) -> None:
    ts = client(emu, mode="queue")
    with ts.batch():
        made = [ts.create_time(a_time(notes=f"batch {i}")) for i in range(20)]
        assert pending(ts)["pending"] == 0  # nothing written before the block ends
        bad = ts.create_time(a_time(duration="3h"))
    assert bad == [{"pymesync error": "time object: invalid duration string"}]
    assert len({m["uuid"] for m in made}) == 20
    assert pending(ts)["pending"] == 20
    try:
        with ts.batch():
            ts.create_time(a_time(notes="never queued"))
            raise RuntimeError("abort the import")
    except RuntimeError:
        pass
    assert pending(ts)["pending"] == 20
    assert ts.sync().synced == 20
    assert len([t for t in ts.get_times() if str(t["notes"]).startswith("batch ")]) == 20


def test_batch_in_auto_mode_pushes_when_the_block_ends(emu: Any) -> None:
    ts = client(emu, mode="auto")
    with ts.batch():
        made = [ts.create_time(a_time(notes=f"auto {i}")) for i in range(3)]
    assert pending(ts)["pending"] == 0  # pushed right after the block
    assert all(ts.sync_status("time", m["uuid"])["state"] == "synced" for m in made)


def test_batch_items_are_handed_over_as_they_are_written(
    emu: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The store gets the block's items as a stream that empties the block's list as it
    goes (each chunk is freed once written); a time created early in a big block and
    updated late is still one create (the update merged into it)."""
    import inspect

    from pymesync.store import Store, queue

    monkeypatch.setattr(queue, "_BATCH", 50)
    ts = client(emu, mode="queue")
    left: list[int] = []
    real = Store.enqueue_many

    def spy(store: Store, items: Any, **kw: Any) -> Any:
        assert not isinstance(items, list)
        block = inspect.getgeneratorlocals(items)["items"]  # the list it hands over

        def watched() -> Any:
            for item in items:
                left.append(len(block))
                yield item

        return real(store, watched(), **kw)

    monkeypatch.setattr(Store, "enqueue_many", spy)
    with ts.batch():
        first = ts.create_time(a_time(notes="first"))
        for i in range(120):
            ts.create_time(a_time(notes=f"more {i}"))
        ts.update_time({"notes": "changed late"}, first["uuid"])
    assert left[0] == 121 and left[-1] == 0  # emptied as handed over
    assert pending(ts)["pending"] == 121  # the update merged into the create
    assert ts.sync().synced == 121
    notes = [t["notes"] for t in ts.get_times()]
    assert notes.count("changed late") == 1 and "first" not in notes


def test_created_gives_the_answer_and_the_object_of_a_create() -> None:
    from pymesync import provisional

    project = {"slugs": ["gwm", "a"], "default_activity": "dev"}
    cases: list[tuple[Any, dict[str, Any]]] = [
        ("time", a_time()),
        ("project", {"name": "P", "slugs": ["z", "b"]}),
        ("activity", {"name": "A", "slug": "act"}),
        ("user", {"username": "u", "password": "secret"}),
    ]
    for entity, payload in cases:
        answer, shown = provisional.created(entity, payload, "k", "2026-11-30", project)
        assert answer == provisional.created_answer(entity, payload, "k", "2026-11-30")
        assert shown == provisional.created_object(entity, payload, "k", "2026-11-30", project)
        assert answer is not shown


def test_batch_gc_and_accounts(emu: Any) -> None:
    import gc

    ts = client(emu, mode="queue")
    alice = ts.account
    with ts.batch():
        assert gc.isenabled()  # a library never switches the collector off
        made = ts.create_time(a_time(notes="in a batch"))
        other = client(emu, user="bob", mode="queue")
        ts.token, alice_token = other.token, ts.token
        assert ts.account == other.account != alice
        bobs = ts.create_time(a_time(user="bob", notes="bob's, in alice's batch"))
        ts.token = alice_token
        assert ts.account == alice
    assert gc.isenabled()
    # each write was queued for the account of the token it was made with
    assert ts.sync_status("time", bobs["uuid"])["state"] == "unknown"
    assert other.sync_status("time", bobs["uuid"])["state"] == "pending"
    assert other.sync_status("time", made["uuid"])["state"] == "unknown"
    with pytest.raises(RuntimeError), ts.batch():
        raise RuntimeError("abort")
    assert gc.isenabled()
    assert ts.sync_status("time", made["uuid"])["state"] == "pending"
    assert ts.sync().synced == 1
