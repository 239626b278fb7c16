"""Store.ack_many: many acks in one durable transaction, exactly as ack one by one
(id mapping, re-targeting, provisional objects), skipping op_ids no longer queued."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from store_helpers import (
    ACCOUNT,
    OTHER,
    T0,
    at,
    op,
    provisional,
    store_state,
    tags_match_payloads,
    time_obj,
    traced,
    write_begin,
)

from pymesync.store import Store, UnknownOperationError

AckItem = tuple[str, dict[str, Any] | None, str | None]


@pytest.fixture(autouse=True, params=["delete-returning", "select-then-delete"])
def sqlite_dialect(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test here runs with DELETE ... RETURNING (SQLite 3.35+) and without."""
    from pymesync.store import queue

    if request.param == "delete-returning" and not queue.RETURNING:
        pytest.skip("this SQLite has no RETURNING")
    monkeypatch.setattr(queue, "RETURNING", request.param == "delete-returning")


def _seed(store: Store) -> None:
    """Two creates on local ids (sent, with later updates queued on the local ids), an
    update and a delete on cached objects, and an operation of another account."""
    store.put_objects(ACCOUNT, "time", [time_obj("S1"), time_obj("S2")], now=T0)
    body = {"user": "alice", "duration": 60, "project": ["gwm"], "date_worked": "2026-11-01"}
    store.enqueue(op("create", "L1", body, op_id="c1"), provisional("L1", body), now=T0)
    store.enqueue(op("create", "L2", body, op_id="c2"), provisional("L2", body), now=T0)
    store.claim(ACCOUNT, "w", 30, now=T0, limit=2)  # the creates are sent...
    # ...so these are queued after them, on the local ids
    store.enqueue(op("update", "L1", {"duration": 90}, op_id="u1"), now=at(1))
    store.enqueue(
        op("update", "L2", {"notes": "n"}, op_id="u2"),
        provisional("L2", {**body, "notes": "n"}),
        now=at(1),
    )
    store.enqueue(op("delete", "S2", base_revision=1, op_id="d1"), now=at(1))
    store.enqueue(
        op("update", "S1", {"duration": 7}, base_revision=1, op_id="u3"),
        provisional("S1", time_obj("S1", duration=7)),
        now=at(1),
    )
    store.enqueue(op("update", "S1", {"duration": 8}, op_id="o1", account=OTHER), now=at(1))


OP_IDS = ["c1", "c2", "u1", "u2", "d1", "u3", "o1", "gone"]
SERVER_OBJECTS: list[dict[str, Any] | None] = [
    None,
    time_obj("SX1"),
    time_obj("SX2", duration=60, project=["ts"]),
    time_obj("S1", duration=7, revision=2),
    time_obj("S2", deleted_at="2026-11-30", revision=2),
]
SERVER_KEYS: list[str | None] = [None, None, "K1", "SX1"]


@st.composite
def ack_items(draw: st.DrawFn) -> list[AckItem]:
    """Acks of seeded operations (some twice, some unknown), in any order."""
    return [
        (
            draw(st.sampled_from(OP_IDS)),
            draw(st.sampled_from(SERVER_OBJECTS)),
            draw(st.sampled_from(SERVER_KEYS)),
        )
        for _ in range(draw(st.integers(0, 9)))
    ]


def _ack_one_by_one(store: Store, items: list[AckItem]) -> list[str]:
    acked = []
    for op_id, server_object, server_key in items:
        try:
            store.ack(op_id, server_object=server_object, server_key=server_key, now=at(9))
        except UnknownOperationError:
            continue
        acked.append(op_id)
    return acked


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(items=ack_items())
def test_ack_many_is_ack_one_by_one(
    tmp_path_factory: pytest.TempPathFactory, items: list[AckItem]
) -> None:
    folder = tmp_path_factory.mktemp("acks")
    with Store.open(folder / "one.sqlite3") as one, Store.open(folder / "many.sqlite3") as many:
        _seed(one)
        _seed(many)
        expected = _ack_one_by_one(one, items)
        assert many.ack_many(iter(items), now=at(9)) == expected
        assert store_state(many.path) == store_state(one.path)
        for entity_key in ("L1", "L2"):
            assert many.resolve_id(ACCOUNT, "time", entity_key) == one.resolve_id(
                ACCOUNT, "time", entity_key
            )
        assert tags_match_payloads(many.path)


def test_ack_many_maps_ids_retargets_and_drops_provisional_objects(store: Store) -> None:
    _seed(store)
    acked = store.ack_many(
        [
            ("c1", time_obj("SX1"), None),
            ("u1", time_obj("SX1", duration=90, revision=2), None),  # now on SX1
            ("c2", None, "K2"),  # no object: the key alone maps the id
            ("d1", None, None),
        ],
        now=at(2),
    )
    assert acked == ["c1", "u1", "c2", "d1"]
    assert store.resolve_id(ACCOUNT, "time", "L1") == "SX1"
    assert store.resolve_id(ACCOUNT, "time", "L2") == "K2"
    assert store.get_object(ACCOUNT, "time", "SX1") == store.get_object(ACCOUNT, "time", "L1")
    cached = store.get_object(ACCOUNT, "time", "SX1")
    assert cached is not None and not cached.local and cached.revision == 2
    assert cached.fetched_at == at(2)
    assert store.get_object(ACCOUNT, "time", "L2") is None  # provisional dropped, not fetched
    (u2,) = store.ops_for(ACCOUNT, "time", "K2")
    assert u2.op_id == "u2" and u2.target == "K2"  # re-targeted
    gone = store.get_object(ACCOUNT, "time", "S2")
    assert gone is not None and gone.deleted
    assert [o.op_id for o in store.operations()] == ["u2", "u3", "o1"]


def test_ack_many_skips_op_ids_no_longer_queued(store: Store) -> None:
    _seed(store)
    store.discard("u3", now=at(1))
    items: list[AckItem] = [
        ("nope", None, None),
        ("u3", time_obj("S1", revision=9), None),  # discarded: skipped, object not cached
        ("d1", None, None),
        ("d1", time_obj("S2", revision=9), None),  # given twice: the second is skipped
    ]
    assert store.ack_many(items, now=at(2)) == ["d1"]
    # (discarding u3 dropped the provisional S1; the skipped ack did not cache it again)
    assert store.get_object(ACCOUNT, "time", "S1") is None
    s2 = store.get_object(ACCOUNT, "time", "S2")
    assert s2 is not None and s2.deleted and s2.revision == 1
    assert store.ack_many([], now=at(3)) == []
    assert store.ack_many([("nope", None, None)], now=at(3)) == []


def test_ack_many_is_one_transaction(store: Store) -> None:
    for i in range(50):
        store.enqueue(op("create", f"L{i}", {"i": i}, op_id=f"c{i}"), now=T0)
    items: list[AckItem] = [(f"c{i}", time_obj(f"S{i}"), None) for i in range(50)]
    with traced(store) as statements:
        acked = store.ack_many(items, now=at(1))
    assert acked == [f"c{i}" for i in range(50)]
    begin = write_begin(store)
    assert statements.count(begin) == 1 and statements[-1] == "COMMIT"
    assert not any(s.startswith("BEGIN") for s in statements if s != begin)
    assert store.operations() == []
    assert len(store.query_times(ACCOUNT)) == 50


def test_ack_many_stores_nothing_when_an_item_fails(store: Store) -> None:
    _seed(store)
    before = store_state(store)
    bad = time_obj("SX9", notes=object())  # not JSON: caching it fails
    with pytest.raises(TypeError):
        store.ack_many([("c1", time_obj("SX1"), None), ("c2", bad, None)], now=at(2))
    assert store_state(store) == before
    with pytest.raises(ValueError, match="naive"):
        store.ack_many([("c1", None, None)], now=at(2).replace(tzinfo=None))
    assert store_state(store) == before


# ---------------------------------------------------------------- a create's provisional object

REPLACE_CASES = {
    "same tags": (["ts"], ["plan"], None),
    "project renamed, activity added": (["gwm"], ["plan", "docs"], None),
    "server key already cached": (["gwm"], ["dev"], time_obj("SNEW", project=["old"])),
    "no provisional object": None,
}


@pytest.mark.parametrize("case", list(REPLACE_CASES))
def test_acked_create_replaces_its_provisional_object_like_remove_then_put(
    tmp_path: Any, case: str
) -> None:
    """The in-place move of a provisional row to the server key ends exactly where
    removing it and putting the server object does."""
    from pymesync.store import cache
    from pymesync.store.codec import format_utc

    ends = []
    for way in ("ack", "reference"):
        path = tmp_path / f"{way}.sqlite3"
        with Store.open(path) as s:
            body = {"user": "alice", "duration": 60, "project": ["ts"], "activities": ["plan"]}
            setup = REPLACE_CASES[case]
            if setup is not None and setup[2] is not None:
                s.put_objects(ACCOUNT, "time", [setup[2]], now=T0)
            s.enqueue(
                op("create", "L1", body, op_id="c1"),
                provisional("L1", body) if setup is not None else None,
                now=T0,
            )
            s.claim(ACCOUNT, "w", 30, now=T0, limit=1)
            project, activities = (["gwm"], ["dev"]) if setup is None else setup[:2]
            server = time_obj("SNEW", project=project, activities=activities, revision=1)
            if way == "ack":
                assert s.ack_many([("c1", server, "SNEW")], now=at(1)) == ["c1"]
            else:
                with s._write() as db:
                    db.execute("DELETE FROM operations WHERE op_id = 'c1'")
                    db.execute("INSERT INTO id_map VALUES (?, 'time', 'L1', 'SNEW')", (ACCOUNT,))
                    cache.remove_object(db, ACCOUNT, "time", "L1", only_local=True)
                    entry = cache.CacheEntry("SNEW", server, 1, False, False)
                    cache.put_entries(db, ACCOUNT, "time", (entry,), format_utc(at(1)))
        ends.append(store_state(path))
        assert tags_match_payloads(path)
    assert ends[0] == ends[1]
    assert [row[2] for row in ends[0]["cache"]] == ["SNEW"]


def test_a_server_id_mapped_before_moves_to_the_new_local_id(store: Store) -> None:
    body = {"user": "alice", "duration": 60, "project": ["gwm"]}
    for local, op_id in (("L1", "c1"), ("L2", "c2")):
        store.enqueue(op("create", local, body, op_id=op_id), provisional(local, body), now=T0)
    store.claim(ACCOUNT, "w", 30, now=T0, limit=2)
    store.ack_many([("c1", time_obj("S9"), "S9")], now=at(1))
    # the server says the second create made the same object (e.g. adopted on
    # reconciliation): the id belongs to the newer local id from now on
    store.ack_many([("c2", time_obj("S9"), "S9")], now=at(2))
    assert store.local_ids(ACCOUNT, "time", ["S9"]) == {"S9": "L2"}
    assert store.resolve_id(ACCOUNT, "time", "L2") == "S9"
