"""The object cache: bulk puts and their protection, lookups, indexed time queries."""

from __future__ import annotations

import sqlite3
from datetime import date, timedelta
from typing import Any

import pytest
from store_helpers import (
    ACCOUNT,
    OTHER,
    T0,
    at,
    db_rows,
    on_postgres,
    op,
    provisional,
    query_plan,
    raw_connection,
    tags_match_payloads,
    time_obj,
    traced,
)

from pymesync.store import Store, cache
from pymesync.store.cache import TimesFilter, times_query


def project(uuid: str, slugs: list[str], **fields: Any) -> dict[str, Any]:
    """A server-shaped project."""
    obj: dict[str, Any] = {
        "uuid": uuid,
        "revision": 1,
        "name": uuid.upper(),
        "slugs": slugs,
        "uri": None,
        "default_activity": None,
        "users": {},
        "deleted_at": None,
    }
    obj.update(fields)
    return obj


def test_put_objects_bulk(store: Store) -> None:
    objs = [time_obj(f"u{i:04d}", revision=i % 3 + 1) for i in range(1500)]
    objs[7]["deleted_at"] = "2026-11-02"
    result = store.put_objects(ACCOUNT, "time", objs, now=T0)
    assert result.written == 1500 and result.skipped == ()
    listed = store.list_objects(ACCOUNT, "time")
    assert len(listed) == 1499 and listed[0].key == "u0000"
    assert len(store.list_objects(ACCOUNT, "time", include_deleted=True)) == 1500
    got = store.get_object(ACCOUNT, "time", "u0007")
    assert got is not None and got.deleted and got.revision == 2 and not got.local
    assert got.payload == objs[7] and got.fetched_at == T0 and got.account == ACCOUNT
    assert got.entity == "time"
    assert len(store.query_times(ACCOUNT, projects=["gwm"])) == 1499


def test_put_objects_keys(store: Store) -> None:
    store.put_objects(ACCOUNT, "user", [{"username": "alice", "email": "a@x.io"}], now=T0)
    assert store.get_object(ACCOUNT, "user", "alice") is not None
    with pytest.raises(ValueError):
        store.put_objects(ACCOUNT, "user", [{"email": "x"}], now=T0)
    with pytest.raises(ValueError):
        store.put_objects(ACCOUNT, "time", [{"duration": 1}], now=T0)
    with pytest.raises(ValueError):
        store.put_objects(ACCOUNT, "thing", [{"uuid": "x"}], now=T0)
    assert store.put_objects(ACCOUNT, "time", [], now=T0).written == 0


def test_put_replaces_and_retags(store: Store) -> None:
    store.put_objects(ACCOUNT, "time", [time_obj("S1", project=["a"])], now=T0)
    store.put_objects(ACCOUNT, "time", [time_obj("S1", project=["b"], revision=2)], now=at(1))
    assert store.query_times(ACCOUNT, projects=["a"]) == []
    (got,) = store.query_times(ACCOUNT, projects=["b"])
    assert got.revision == 2 and got.fetched_at == at(1)


def test_put_skips_objects_with_queued_ops(store: Store) -> None:
    store.put_objects(ACCOUNT, "time", [time_obj("S1"), time_obj("S2")], now=T0)
    store.enqueue(op("update", "S1", {"duration": 5}), provisional("S1", {"duration": 5}), now=T0)
    result = store.put_objects(
        ACCOUNT, "time", [time_obj("S1", revision=9), time_obj("S2", revision=9)], now=at(1)
    )
    assert result.written == 1 and result.skipped == ("S1",)
    s1 = store.get_object(ACCOUNT, "time", "S1")
    assert s1 is not None and s1.local and s1.payload == {"duration": 5}
    forced = store.put_objects(ACCOUNT, "time", [time_obj("S1", revision=9)], now=at(2), force=True)
    assert forced.written == 1
    s1 = store.get_object(ACCOUNT, "time", "S1")
    assert s1 is not None and s1.revision == 9 and not s1.local


def test_put_protects_through_id_map_and_slugs(store: Store) -> None:
    store.map_id(ACCOUNT, "time", "L1", "S1")
    store.enqueue(op("update", "L1", {"duration": 5}), now=T0)  # stored as target S1
    store.enqueue(op("create", "L2", {"duration": 5}), now=T0)
    store.map_id(ACCOUNT, "time", "L2", "S2")  # op still says L2
    result = store.put_objects(ACCOUNT, "time", [time_obj("S1"), time_obj("S2")], now=T0)
    assert set(result.skipped) == {"S1", "S2"}
    # A project update queued by slug protects the project with that slug...
    store.put_objects(ACCOUNT, "project", [project("P1", ["gwm", "web"])], now=T0)
    store.enqueue(op("update", "web", {"name": "X"}, entity="project"), now=T0)
    result = store.put_objects(ACCOUNT, "project", [project("P1", ["gwm"], revision=2)], now=T0)
    assert result.skipped == ("P1",)  # ...even when the new version lost that slug
    result = store.put_objects(ACCOUNT, "project", [project("P2", ["web"])], now=T0)
    assert result.skipped == ("P2",)


def test_put_never_goes_back_in_revisions(store: Store) -> None:
    store.put_objects(ACCOUNT, "time", [time_obj("S1", revision=3)], now=T0)
    stale = store.put_objects(ACCOUNT, "time", [time_obj("S1", revision=2)], now=at(1))
    assert stale.skipped == ("S1",)
    same = store.put_objects(ACCOUNT, "time", [time_obj("S1", revision=3)], now=at(2))
    assert same.written == 1
    got = store.get_object(ACCOUNT, "time", "S1")
    assert got is not None and got.fetched_at == at(2)
    assert store.put_objects(ACCOUNT, "time", [time_obj("S1", revision=1)], force=True).written


def test_put_overwrites_orphan_local_objects(store: Store) -> None:
    store.put_objects(ACCOUNT, "time", [time_obj("S1", revision=5)], now=T0, local=True)
    got = store.get_object(ACCOUNT, "time", "S1")
    assert got is not None and got.local
    assert store.put_objects(ACCOUNT, "time", [time_obj("S1", revision=1)], now=T0).written


def test_get_object_and_accounts(store: Store) -> None:
    store.put_objects(ACCOUNT, "time", [time_obj("S1")], now=T0)
    assert store.get_object(OTHER, "time", "S1") is None
    assert store.get_object(ACCOUNT, "project", "S1") is None
    assert store.get_object(ACCOUNT, "time", "nope") is None


def test_find_by_slug(store: Store) -> None:
    store.put_objects(
        ACCOUNT,
        "project",
        [project("P1", ["gwm", "web"]), project("P2", [], deleted_at="2026-01-01")],
        now=T0,
    )
    store.put_objects(ACCOUNT, "activity", [{"uuid": "A1", "slug": "dev", "name": "D"}], now=T0)
    for slug in ("gwm", "web"):
        found = store.find_by_slug(ACCOUNT, "project", slug)
        assert found is not None and found.key == "P1"
    assert store.find_by_slug(ACCOUNT, "project", "nope") is None
    assert store.find_by_slug(ACCOUNT, "activity", "gwm") is None
    assert store.find_by_slug(OTHER, "project", "gwm") is None
    act = store.find_by_slug(ACCOUNT, "activity", "dev")
    assert act is not None and act.key == "A1"
    store.put_objects(
        ACCOUNT, "activity", [{"uuid": "A1", "slug": "dev", "deleted_at": "2026-02-02"}]
    )
    assert store.find_by_slug(ACCOUNT, "activity", "dev") is None
    dead = store.find_by_slug(ACCOUNT, "activity", "dev", include_deleted=True)
    assert dead is not None and dead.deleted


@pytest.fixture
def times(store: Store) -> Store:
    """A store with a handful of times of two users."""
    store.put_objects(
        ACCOUNT,
        "time",
        [
            time_obj("T1", user="alice", project=["gwm", "web"], activities=["dev"],
                     date_worked="2026-11-01"),
            time_obj("T2", user="bob", project=["gwm", "web"], activities=["docs"],
                     date_worked="2026-11-02"),
            time_obj("T3", user="carol", project=["pgd"], activities=["dev", "docs"],
                     date_worked="2026-11-03"),
            time_obj("T4", user="alice", project=["pgd"], activities=[],
                     date_worked="2026-11-04", deleted_at="2026-11-05"),
        ],
        now=T0,
    )  # fmt: skip
    store.put_objects(OTHER, "time", [time_obj("X1", user="alice")], now=T0)
    return store


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ({}, ["T1", "T2", "T3"]),
        ({"include_deleted": True}, ["T1", "T2", "T3", "T4"]),
        ({"users": ["alice"]}, ["T1"]),
        ({"users": ["alice", "bob"]}, ["T1", "T2"]),
        ({"users": ["alice"], "include_deleted": True}, ["T1", "T4"]),
        ({"users": ["nobody"]}, []),
        ({"projects": ["web"]}, ["T1", "T2"]),
        ({"projects": ["gwm"]}, ["T1", "T2"]),
        ({"projects": ["web", "pgd"]}, ["T1", "T2", "T3"]),
        ({"activities": ["docs"]}, ["T2", "T3"]),
        ({"activities": ["dev"], "projects": ["pgd"]}, ["T3"]),
        ({"start": "2026-11-02"}, ["T2", "T3"]),
        ({"end": "2026-11-02"}, ["T1", "T2"]),
        ({"start": "2026-11-02", "end": "2026-11-02"}, ["T2"]),
        ({"start": date(2026, 11, 2), "end": date(2026, 11, 3)}, ["T2", "T3"]),
        ({"start": "2026-11-03", "end": "2026-11-01"}, []),
        ({"users": ["alice", "carol"], "activities": ["dev"], "end": "2026-11-03"}, ["T1", "T3"]),
    ],
)
def test_query_times(times: Store, filters: dict[str, Any], expected: list[str]) -> None:
    assert [t.key for t in times.query_times(ACCOUNT, **filters)] == expected


def test_query_times_sees_provisional_times(store: Store) -> None:
    body = {"user": "alice", "project": "gwm", "activities": ["dev"], "date_worked": "2026-11-09"}
    store.enqueue(op("create", "L1", body), provisional("L1", body), now=T0)
    (found,) = store.query_times(ACCOUNT, users=["alice"], projects=["gwm"], start="2026-11-09")
    assert found.key == "L1" and found.local


@pytest.mark.sqlite_only(reason="SQLite's EXPLAIN QUERY PLAN")
def test_query_times_uses_indexes(times: Store) -> None:
    with traced(times) as statements:
        times.query_times(ACCOUNT, users=["alice", "bob"], projects=["web"], start="2026-11-01")
    (statement,) = [s for s in statements if s.startswith("SELECT")]  # one query, no probe
    plan = query_plan(times, statement)
    assert "SCAN" not in plan, plan


def _spread(count: int = 2000) -> list[dict[str, Any]]:
    """Times of 100 users (20 each), 10 projects (200 each), 2 activities (1,000 each)
    and 200 days (10 each)."""
    return [
        time_obj(
            f"K{i:05d}",
            user=f"u{i % 100}",
            project=[f"p{i % 10}"],
            activities=[f"a{i % 2}"],
            date_worked=(date(2026, 1, 1) + timedelta(days=i % 200)).isoformat(),
        )
        for i in range(count)
    ]


#: How a tag filter leads: a range of the tags' primary key (for one slug).
TAG_LEADS = "USING PRIMARY KEY (account=? AND entity=? AND tag_kind=? AND value=?)"
USERS = "ix_cache_account_entity_user_date_worked"
DATES = "ix_cache_account_entity_date_worked"


PLANNER_CASES = [
    ({"users": ["u1"]}, USERS, 20),
    ({"users": ["u1", "u2"], "start": "2026-01-01", "end": "2026-03-01"}, USERS, 20),
    ({"start": "2026-02-01", "end": "2026-02-02"}, DATES, 20),
    ({"projects": ["p3"]}, f"SEARCH project {TAG_LEADS}", 200),
    ({"activities": ["a1"], "start": "2026-02-01", "end": "2026-02-05"}, DATES, 30),
    ({"users": ["u3"], "projects": ["p3"]}, USERS, 20),
    ({"users": ["u3"], "activities": ["a1"]}, USERS, 20),
    ({"projects": ["p3"], "activities": ["a1"]}, f"SEARCH project {TAG_LEADS}", 200),
    ({"projects": ["p1"], "start": "2026-02-01", "end": "2026-02-01"}, DATES, 10),
    ({"projects": ["p2", "p3"], "users": ["u2", "u3", "u12"]}, USERS, 60),
]


@pytest.mark.sqlite_only(reason="SQLite's EXPLAIN QUERY PLAN")
@pytest.mark.parametrize(("filters", "leads", "count"), PLANNER_CASES)
def test_the_planner_leads_with_the_most_selective_index(
    store: Store, filters: dict[str, Any], leads: str, count: int
) -> None:
    """With the statistics of the bulk put (ANALYZE), SQLite's planner starts from the
    filter that selects fewest times, on its index, and reads no table or index whole;
    the other filters are checked per row (no list of a tag's keys is built)."""
    store.put_objects(ACCOUNT, "time", _spread(), now=T0)
    sql, params = times_query(ACCOUNT, TimesFilter.of(**filters))
    plan = query_plan(store, sql, params)
    first = plan.split(" | ")[0]
    assert leads in first, plan
    assert "SCAN" not in plan and "LIST SUBQUERY" not in plan, plan
    _check_found(store, filters, count)


@pytest.mark.parametrize(("filters", "leads", "count"), PLANNER_CASES)
def test_the_planned_queries_find_what_filtering_in_python_finds(
    store: Store, filters: dict[str, Any], leads: str, count: int
) -> None:
    """Whatever plan the database chooses (on either backend), the query finds the
    times that filtering every cached time in Python finds."""
    store.put_objects(ACCOUNT, "time", _spread(), now=T0)
    _check_found(store, filters, count)


def _check_found(store: Store, filters: dict[str, Any], count: int) -> None:
    """``query_times`` with ``filters`` finds ``count`` times, those Python finds."""
    found = store.query_times(ACCOUNT, **filters)
    assert len(found) == count
    # the same as filtering every time in Python
    expected = [
        t.key
        for t in sorted(
            store.list_objects(ACCOUNT, "time"), key=lambda t: (t.payload["date_worked"], t.key)
        )
        if (not filters.get("users") or t.payload["user"] in filters["users"])
        and (not filters.get("projects") or set(t.payload["project"]) & set(filters["projects"]))
        and (
            not filters.get("activities")
            or set(t.payload["activities"]) & set(filters["activities"])
        )
        and filters.get("start", "") <= t.payload["date_worked"] <= filters.get("end", "9999")
    ]
    assert [t.key for t in found] == expected


def test_a_bulk_put_keeps_statistics_for_the_planner(store: Store) -> None:
    """ANALYZE of the cache's tables after a bulk put, again only when the cache grew by
    a quarter or more; never of the queue."""

    if on_postgres(store):
        _check_pg_statistics(store)
        return

    def statistics() -> dict[str, str]:
        with sqlite3.connect(store.path) as conn:
            return {
                f"{table}.{index}": stat
                for table, index, stat in conn.execute("SELECT tbl, idx, stat FROM sqlite_stat1")
            }

    store.put_objects(ACCOUNT, "time", _spread(cache.ANALYZE_AFTER - 1), now=T0)
    with sqlite3.connect(store.path) as conn:  # (too few: no statistics yet)
        assert (
            conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'sqlite_stat1'").fetchone()
            is None
        )
    store.put_objects(ACCOUNT, "time", _spread(3000), now=T0)
    first = statistics()
    assert first["cache.ix_cache_account_entity_user_date_worked"] == "3000 3000 3000 30 15"
    assert first["cache_tags.cache_tags"].startswith("6000 6000 6000 ")
    assert not any(name.startswith("operations.") for name in first)
    more = [time_obj(f"M{i:04d}", user="new") for i in range(cache.ANALYZE_AFTER)]
    store.put_objects(ACCOUNT, "time", more, now=T0)
    assert statistics() == first  # 500 more than 3,000: the proportions hold
    most = [time_obj(f"N{i:04d}", user="new") for i in range(1000)]
    store.put_objects(ACCOUNT, "time", most, now=T0)
    assert statistics()["cache.ix_cache_account_entity_user_date_worked"].startswith("4500 ")


def _check_pg_statistics(store: Store) -> None:
    """The same on PostgreSQL, whose ANALYZE keeps the rows it counted in pg_class
    (reltuples, -1 before any) and each column's distinct values in pg_stats."""
    with raw_connection(store) as conn:  # (only the store analyses the test's tables)
        for table in ("cache", "cache_tags", "operations"):
            conn.execute(f"ALTER TABLE {table} SET (autovacuum_enabled = false)")

    def statistics() -> dict[str, float]:
        rows = db_rows(
            store,
            "SELECT relname, reltuples FROM pg_class"
            " WHERE relname IN ('cache', 'cache_tags', 'operations') AND relkind = 'r'",
        )
        return {str(name): float(count) for name, count in rows}

    def distinct_users() -> float:
        ((n,),) = db_rows(
            store,
            "SELECT n_distinct FROM pg_stats WHERE tablename = 'cache' AND attname = 'user'",
        )
        return float(n)

    store.put_objects(ACCOUNT, "time", _spread(cache.ANALYZE_AFTER - 1), now=T0)
    assert statistics() == {"cache": -1, "cache_tags": -1, "operations": -1}  # (too few)
    store.put_objects(ACCOUNT, "time", _spread(3000), now=T0)
    first = statistics()
    assert first == {"cache": 3000, "cache_tags": 6000, "operations": -1}  # never the queue
    assert distinct_users() == 100
    more = [time_obj(f"M{i:04d}", user="new") for i in range(cache.ANALYZE_AFTER)]
    store.put_objects(ACCOUNT, "time", more, now=T0)
    assert statistics() == first  # 500 more than 3,000: the proportions hold
    most = [time_obj(f"N{i:04d}", user="new") for i in range(1000)]
    store.put_objects(ACCOUNT, "time", most, now=T0)
    assert statistics()["cache"] == 4500 and distinct_users() == 101


def test_query_times_with_skewed_filters(store: Store) -> None:
    many = [time_obj(f"A{i:03d}", user="alice", project=["gwm"]) for i in range(300)]
    few = [
        time_obj(f"B{i}", user="alice", project=["pgd"], date_worked="2026-11-20") for i in range(3)
    ]
    others = [time_obj(f"C{i:03d}", user=f"u{i}", project=["gwm"]) for i in range(300)]
    store.put_objects(ACCOUNT, "time", many + few + others, now=T0)
    found = store.query_times(ACCOUNT, users=["alice"], projects=["pgd"], start="2026-11-15")
    assert [t.key for t in found] == ["B0", "B1", "B2"]
    assert len(store.query_times(ACCOUNT, users=["alice"], projects=["gwm"])) == 300
    assert len(store.query_times(ACCOUNT, users=["u7"], projects=["gwm"])) == 1
    assert len(store.query_times(ACCOUNT, projects=["gwm"], start="2026-11-15")) == 0


def test_a_time_with_two_of_the_wanted_slugs_is_found_once(times: Store) -> None:
    found = times.query_times(ACCOUNT, projects=["gwm", "web"], activities=["dev", "docs"])
    assert [t.key for t in found] == ["T1", "T2"]


def test_remove_object(store: Store) -> None:
    store.put_objects(ACCOUNT, "time", [time_obj("S1")], now=T0)
    assert store.remove_object(ACCOUNT, "time", "S1") is True
    assert store.remove_object(ACCOUNT, "time", "S1") is False
    assert store.query_times(ACCOUNT, projects=["gwm"]) == []
    assert db_rows(store, "SELECT count(*) FROM cache_tags") == [(0,)]


def test_tags_follow_every_change_of_the_cache(store: Store) -> None:
    store.put_objects(ACCOUNT, "project", [project("P1", ["gwm", "web"])], now=T0)
    store.put_objects(ACCOUNT, "project", [project("P1", ["gwm", "w2"], revision=2)], now=T0)
    assert store.find_by_slug(ACCOUNT, "project", "web") is None
    store.put_objects(ACCOUNT, "time", [time_obj(f"S{i}") for i in range(5)], now=T0)
    store.put_objects(ACCOUNT, "time", [time_obj("S1", project=["pgd"], activities=[])], now=T0)
    store.enqueue(op("create", "L1", {"x": 1}), provisional("L1", {"project": "a"}), now=T0)
    store.enqueue(op("update", "L1", {"x": 2}), provisional("L1", {"project": "b"}), now=T0)
    store.enqueue(op("update", "S2", {"x": 2}), provisional("S2", {"project": ["c"]}), now=T0)
    store.enqueue(op("create", "L2", {"x": 1}), provisional("L2", {"project": "d"}), now=T0)
    store.enqueue(op("delete", "L2"), now=T0)  # cancels the create
    (claimed,) = store.claim(ACCOUNT, "w", 30, now=T0)
    store.ack(claimed.op_id, server_object=time_obj("S9", project=["e"]), now=T0)
    delete = op("delete", "S3")
    store.enqueue(delete, now=T0)
    store.claim(ACCOUNT, "w", 30, now=T0, limit=5)
    store.ack(delete.op_id, now=T0)  # marks S3 deleted
    store.remove_object(ACCOUNT, "time", "S4")
    assert tags_match_payloads(store)
    assert [t.key for t in store.query_times(ACCOUNT, projects=["e"])] == ["S9"]
    assert [t.key for t in store.query_times(ACCOUNT, projects=["pgd"])] == ["S1"]
    assert [t.key for t in store.query_times(ACCOUNT, projects=["c"])] == ["S2"]
    assert store.query_times(ACCOUNT, projects=["a", "d"]) == []
    assert store.query_times(ACCOUNT, activities=["dev"], include_deleted=True)


def _tags_reference(payload: dict[str, Any]) -> list[tuple[str, str]]:
    """tags_for of a time as first written (one general path)."""

    def strings(value: Any) -> list[str]:
        if isinstance(value, str):
            return [value]
        if isinstance(value, (list, tuple)):
            return [item for item in value if isinstance(item, str)]
        return []

    pairs = [("project", slug) for slug in strings(payload.get("project"))]
    pairs += [("activity", slug) for slug in strings(payload.get("activities"))]
    return list(dict.fromkeys(pairs))


@pytest.mark.parametrize(
    "project",
    [None, "gwm", ["gwm"], ["gwm", "gw"], ["gwm", "gwm"], ["gwm", 3], [], ("a", "a"), 7],
)
@pytest.mark.parametrize(
    "activities", [None, [], ["dev"], [None], ["dev", "dev"], ["dev", "doc"], ("dev",), "dev"]
)
def test_time_tags_are_the_same_on_every_path(project: Any, activities: Any) -> None:
    payload = {"project": project, "activities": activities}
    assert cache.tags_for("time", payload) == _tags_reference(payload)
