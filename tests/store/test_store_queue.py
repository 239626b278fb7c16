"""The operation queue: enqueue and coalescing, pending, claim, ack, fail, release, ..."""

from __future__ import annotations

import threading
from datetime import datetime

import pytest
from store_helpers import ACCOUNT, OTHER, T0, at, op, provisional, time_obj

from pymesync.store import (
    DuplicateOperationError,
    NewOperation,
    OperationStateError,
    Store,
    UnknownOperationError,
)

# ---------------------------------------------------------------- enqueue


def test_enqueue_appends_and_stores_provisional(store: Store) -> None:
    body = {"user": "alice", "duration": 60, "project": "gwm", "date_worked": "2026-11-01"}
    new = op("create", "L1", body)
    result = store.enqueue(new, provisional("L1", body), now=T0)
    assert result.outcome == "appended" and result.removed == ()
    queued = result.operation
    assert queued is not None
    assert queued.op_id == new.op_id and queued.kind == "create" and queued.target == "L1"
    assert queued.payload == body and queued.state == "pending" and queued.attempts == 0
    assert queued.created_at == T0 == queued.updated_at
    assert queued.first_sent_at is None and queued.lease_owner is None
    assert queued.unsent and not queued.outcome_unknown
    cached = store.get_object(ACCOUNT, "time", "L1")
    assert cached is not None and cached.local and cached.payload == body
    assert cached.fetched_at == T0
    assert store.operations() == [queued]


def test_enqueue_provisional_is_always_local(store: Store) -> None:
    obj = provisional("L1", {"duration": 1})
    obj = type(obj)(**{**obj.__dict__, "local": False})
    store.enqueue(op("create", "L1", {"duration": 1}), obj, now=T0)
    cached = store.get_object(ACCOUNT, "time", "L1")
    assert cached is not None and cached.local


@pytest.mark.parametrize(
    "bad",
    [
        NewOperation(ACCOUNT, "delete", "time", "x", {"a": 1}),
        NewOperation(ACCOUNT, "update", "time", "x", None),
        NewOperation(ACCOUNT, "create", "time", "x", None),
        NewOperation(ACCOUNT, "frob", "time", "x", {}),  # type: ignore[arg-type]
        NewOperation(ACCOUNT, "update", "thing", "x", {}),  # type: ignore[arg-type]
        NewOperation("", "update", "time", "x", {}),
        NewOperation(ACCOUNT, "update", "time", "", {}),
    ],
)
def test_enqueue_rejects_malformed_operations(store: Store, bad: NewOperation) -> None:
    with pytest.raises(ValueError):
        store.enqueue(bad, now=T0)
    assert store.operations() == []


def test_enqueue_rejects_duplicate_op_id(store: Store) -> None:
    first = op("update", "t1", {"a": 1})
    store.enqueue(first, now=T0)
    with pytest.raises(DuplicateOperationError):
        store.enqueue(op("update", "t2", {"a": 2}, op_id=first.op_id), now=T0)
    assert len(store.operations()) == 1


def test_enqueue_rejects_naive_now(store: Store) -> None:
    with pytest.raises(ValueError, match="naive"):
        store.enqueue(op("update", "t1", {"a": 1}), now=datetime(2026, 1, 1))


def test_enqueue_provisional_of_other_account_is_rejected(store: Store) -> None:
    obj = provisional("t1", {"a": 1})
    with pytest.raises(ValueError):
        store.enqueue(op("update", "t1", {"a": 1}, account=OTHER), obj, now=T0)
    assert store.operations() == []  # the whole transaction rolled back


# ---------------------------------------------------------------- coalescing


def test_create_then_update_merges_into_the_create(store: Store) -> None:
    create = op("create", "L1", {"duration": 60, "notes": "a"})
    store.enqueue(create, provisional("L1", {"duration": 60, "notes": "a"}), now=T0)
    update = op("update", "L1", {"notes": "b", "issue_uri": "http://x"}, base_revision=None)
    result = store.enqueue(update, provisional("L1", {"duration": 60, "notes": "b"}), now=at(5))
    assert result.outcome == "merged"
    merged = result.operation
    assert merged is not None
    assert merged.op_id == create.op_id and merged.kind == "create"
    assert merged.payload == {"duration": 60, "notes": "b", "issue_uri": "http://x"}
    assert merged.base_revision is None and merged.updated_at == at(5)
    assert merged.created_at == T0
    assert [o.op_id for o in store.operations()] == [create.op_id]
    cached = store.get_object(ACCOUNT, "time", "L1")
    assert cached is not None and cached.payload["notes"] == "b"


def test_update_then_update_merges_keeping_first_base_revision(store: Store) -> None:
    first = op("update", "S1", {"duration": 60, "notes": "a"}, base_revision=3)
    store.enqueue(first, now=T0)
    result = store.enqueue(op("update", "S1", {"notes": "b"}, base_revision=4), now=at(1))
    assert result.outcome == "merged" and result.operation is not None
    assert result.operation.op_id == first.op_id
    assert result.operation.payload == {"duration": 60, "notes": "b"}
    assert result.operation.base_revision == 3
    assert len(store.operations()) == 1


def test_create_then_delete_cancels_both(store: Store) -> None:
    create = op("create", "L1", {"duration": 60})
    store.enqueue(create, provisional("L1", {"duration": 60}), now=T0)
    result = store.enqueue(op("delete", "L1"), provisional("L1", {"gone": True}), now=at(1))
    assert result.outcome == "cancelled"
    assert result.operation is None and result.removed == (create.op_id,)
    assert store.operations() == []
    assert store.get_object(ACCOUNT, "time", "L1") is None


def test_create_then_update_then_delete_cancels_everything(store: Store) -> None:
    create = op("create", "L1", {"duration": 60})
    store.enqueue(create, provisional("L1", {"duration": 60}), now=T0)
    store.enqueue(op("update", "L1", {"duration": 90}), now=at(1))
    result = store.enqueue(op("delete", "L1"), now=at(2))
    assert result.outcome == "cancelled" and result.removed == (create.op_id,)
    assert store.operations() == []


def test_create_once_handed_to_a_sender_is_not_cancelled(store: Store) -> None:
    create = op("create", "L1", {"duration": 60})
    store.enqueue(create, provisional("L1", {"duration": 60}), now=T0)
    (claimed,) = store.claim(ACCOUNT, "w", 30, now=at(1))
    store.fail(claimed.op_id, error={"e": "timeout"}, permanent=False, now=at(2))
    result = store.enqueue(op("delete", "L1"), now=at(3))
    assert result.outcome == "appended"
    assert [o.kind for o in store.operations()] == ["create", "delete"]


def test_released_untried_create_can_still_be_cancelled(store: Store) -> None:
    create = op("create", "L1", {"duration": 60})
    store.enqueue(create, now=T0)
    store.claim(ACCOUNT, "w", 30, now=at(1))
    store.release(create.op_id, now=at(2))
    result = store.enqueue(op("delete", "L1"), now=at(3))
    assert result.outcome == "cancelled"


def test_update_then_delete_becomes_the_delete(store: Store) -> None:
    update = op("update", "S1", {"notes": "x"}, base_revision=2)
    store.enqueue(update, now=T0)
    result = store.enqueue(op("delete", "S1", base_revision=5), now=at(1))
    assert result.outcome == "merged" and result.operation is not None
    assert result.operation.op_id == update.op_id
    assert result.operation.kind == "delete" and result.operation.payload is None
    assert result.operation.base_revision == 2
    assert len(store.operations()) == 1


def test_inflight_operation_is_never_changed(store: Store) -> None:
    first = op("update", "S1", {"notes": "a"}, base_revision=1)
    store.enqueue(first, now=T0)
    assert len(store.claim(ACCOUNT, "w", 30, now=at(1))) == 1
    for new in (op("update", "S1", {"notes": "b"}), op("delete", "S1")):
        assert store.enqueue(new, now=at(2)).outcome in ("appended", "merged")
    ops = store.operations()
    assert ops[0].op_id == first.op_id and ops[0].payload == {"notes": "a"}
    assert ops[0].state == "inflight"
    # the update and the delete after it coalesce with each other, not with the inflight one
    assert [(o.kind, o.state) for o in ops] == [("update", "inflight"), ("delete", "pending")]


def _refused(store: Store, kind: str, target: str, payload: dict[str, object] | None) -> str:
    """Queue one operation, send it, and have the server refuse it for good."""
    first = op(kind, target, payload)
    shown = None if payload is None else provisional(target, dict(payload))
    store.enqueue(first, shown, now=T0)
    store.claim(ACCOUNT, "w", 30, now=at(1))
    store.fail(first.op_id, error={"status": 400, "text": "bad"}, permanent=True, now=at(2))
    return first.op_id


def test_update_of_a_refused_create_merges_into_it_and_requeues_it(store: Store) -> None:
    created = _refused(store, "create", "L1", {"duration": 60, "notes": "a"})
    result = store.enqueue(
        op("update", "L1", {"activities": ["dev"]}),
        provisional("L1", {"duration": 60, "notes": "a", "activities": ["dev"]}),
        now=at(3),
    )
    assert result.outcome == "merged" and result.removed == ()
    (queued,) = store.operations()
    assert result.operation == queued and queued.op_id == created and queued.kind == "create"
    assert queued.payload == {"duration": 60, "notes": "a", "activities": ["dev"]}
    # a fresh try: nothing of the refused attempt is left
    assert queued.state == "pending" and queued.attempts == 0 and queued.last_error is None
    assert queued.first_sent_at is None and queued.next_attempt_at is None
    assert [o.op_id for o in store.claim(ACCOUNT, "w", 30, now=at(4))] == [created]
    cached = store.get_object(ACCOUNT, "time", "L1")
    assert cached is not None and cached.local and cached.payload["activities"] == ["dev"]


def test_delete_of_a_refused_create_cancels_it(store: Store) -> None:
    created = _refused(store, "create", "L1", {"duration": 60})
    result = store.enqueue(op("delete", "L1"), now=at(3))
    assert result.outcome == "cancelled" and result.operation is None
    assert result.removed == (created,)
    assert store.operations() == []
    assert store.get_object(ACCOUNT, "time", "L1") is None


def test_update_of_a_refused_update_merges_into_it_and_requeues_it(store: Store) -> None:
    first = op("update", "S1", {"notes": "a"}, base_revision=3)
    store.enqueue(first, now=T0)
    store.claim(ACCOUNT, "w", 30, now=at(1))
    store.fail(first.op_id, error={"status": 400}, permanent=True, now=at(2))
    result = store.enqueue(op("update", "S1", {"duration": 5}, base_revision=4), now=at(3))
    assert result.outcome == "merged"
    (queued,) = store.operations()
    assert queued.op_id == first.op_id and queued.state == "pending" and queued.attempts == 0
    assert queued.payload == {"notes": "a", "duration": 5} and queued.base_revision == 3
    # a delete of it becomes the delete, sent (the object exists on the server)
    store.claim(ACCOUNT, "w", 30, now=at(4))
    store.fail(first.op_id, error={"status": 400}, permanent=True, now=at(5))
    deleted = store.enqueue(op("delete", "S1"), now=at(6))
    assert deleted.outcome == "merged" and deleted.operation is not None
    assert (deleted.operation.kind, deleted.operation.state) == ("delete", "pending")


def test_a_batch_folds_into_a_refused_create_too(store: Store) -> None:
    created = _refused(store, "create", "L1", {"duration": 60})
    other = op("update", "S9", {"notes": "x"})
    results = store.enqueue_many(
        [(other, None), (op("update", "L1", {"notes": "fixed"}), None), (op("delete", "L2"), None)],
        now=at(3),
    )
    assert [r.outcome for r in results] == ["appended", "merged", "appended"]
    queued = {o.target: o for o in store.operations()}
    assert queued["L1"].op_id == created and queued["L1"].state == "pending"
    assert queued["L1"].payload == {"duration": 60, "notes": "fixed"}
    assert queued["L1"].attempts == 0


def test_later_blocked_operations_are_folded_into_the_refused_create(store: Store) -> None:
    """An edit made while the create was being sent waits behind it; once the create is
    refused, the next edit folds all of them into the create, sent as one."""
    create = op("create", "L1", {"duration": 60})
    store.enqueue(create, now=T0)
    store.claim(ACCOUNT, "w", 30, now=at(1))
    blocked = op("update", "L1", {"notes": "while sending"})
    store.enqueue(blocked, now=at(2))
    store.fail(create.op_id, error={"status": 400}, permanent=True, now=at(3))
    result = store.enqueue(op("update", "L1", {"activities": ["dev"]}), now=at(4))
    assert result.outcome == "merged" and result.removed == (blocked.op_id,)
    (queued,) = store.operations()
    assert queued.op_id == create.op_id and queued.state == "pending"
    assert queued.payload == {"duration": 60, "notes": "while sending", "activities": ["dev"]}


@pytest.mark.parametrize("how", ["maybe_sent", "conflict", "delete then update"])
def test_failed_operations_that_cannot_be_requeued_are_not_coalesced(
    store: Store, how: str
) -> None:
    """One that may have reached the server, a conflict (the user decides), and an
    update of an object whose delete was refused stay as they are."""
    first = op("delete", "S1") if how == "delete then update" else op("update", "S1", {"a": 1})
    store.enqueue(first, now=T0)
    store.claim(ACCOUNT, "w", 30, now=at(1))
    error: dict[str, object] = {"status": 400}
    if how == "maybe_sent":
        error = {"status": None, "message": "could not be sent", "maybe_sent": True}
    store.fail(first.op_id, error=error, permanent=True, conflict=how == "conflict", now=at(2))
    assert store.enqueue(op("update", "S1", {"notes": "b"}), now=at(3)).outcome == "appended"
    (kept, _) = store.operations()
    assert kept.op_id == first.op_id and kept.state in ("failed", "conflict")
    assert kept.last_error == error


def test_backing_off_pending_operation_is_coalesced(store: Store) -> None:
    first = op("update", "S1", {"notes": "a"})
    store.enqueue(first, now=T0)
    store.claim(ACCOUNT, "w", 30, now=at(1))
    store.fail(first.op_id, error={}, permanent=False, next_attempt_at=at(60), now=at(2))
    result = store.enqueue(op("update", "S1", {"notes": "b"}), now=at(3))
    assert result.outcome == "merged"


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("delete", "update"),
        ("delete", "delete"),
        ("create", "create"),
        ("update", "create"),
    ],
)
def test_other_pairs_append(store: Store, first: str, second: str) -> None:
    payload = None if first == "delete" else {"a": 1}
    store.enqueue(op(first, "S1", payload), now=T0)
    payload2 = None if second == "delete" else {"b": 2}
    assert store.enqueue(op(second, "S1", payload2), now=at(1)).outcome == "appended"
    assert len(store.operations()) == 2


def test_coalescing_is_per_account_entity_and_target(store: Store) -> None:
    store.enqueue(op("update", "S1", {"a": 1}), now=T0)
    assert store.enqueue(op("update", "S2", {"a": 1}), now=T0).outcome == "appended"
    assert store.enqueue(op("update", "S1", {"a": 1}, account=OTHER), now=T0).outcome == (
        "appended"
    )
    assert store.enqueue(op("update", "S1", {"a": 1}, entity="project"), now=T0).outcome == (
        "appended"
    )
    assert len(store.operations()) == 4


def test_enqueue_resolves_mapped_local_ids(store: Store) -> None:
    store.map_id(ACCOUNT, "time", "L1", "S1")
    store.enqueue(op("update", "S1", {"a": 1}), now=T0)
    result = store.enqueue(op("update", "L1", {"b": 2}), provisional("L1", {"x": 1}), now=at(1))
    assert result.outcome == "merged" and result.operation is not None
    assert result.operation.target == "S1"
    assert store.get_object(ACCOUNT, "time", "S1") is not None  # provisional keyed S1 too


# ---------------------------------------------------------------- pending


def test_pending_streams_in_queue_order_and_filters_due(store: Store) -> None:
    ids = [store.enqueue(op("update", f"t{i}", {"i": i}), now=T0).operation for i in range(450)]
    assert all(o is not None for o in ids)
    stream = store.pending(ACCOUNT)
    first = next(stream)
    assert first.payload == {"i": 0}
    # Writers are not blocked while a reader streams.
    store.enqueue(op("update", "late", {"late": True}), now=T0)
    rest = list(stream)
    assert [o.payload for o in [first, *rest]][:450] == [{"i": i} for i in range(450)]
    assert len(rest) in (449, 450)  # the snapshot may or may not include the late one
    (claimed,) = store.claim(ACCOUNT, "w", 30, now=T0)
    store.fail(claimed.op_id, error={}, permanent=False, next_attempt_at=at(100), now=T0)
    due_now = list(store.pending(ACCOUNT, now=at(10)))
    assert claimed.op_id not in {o.op_id for o in due_now}
    assert claimed.op_id in {o.op_id for o in store.pending(ACCOUNT, now=at(100))}
    assert claimed.op_id in {o.op_id for o in store.pending(ACCOUNT)}
    assert list(store.pending(OTHER)) == []


def test_pending_excludes_inflight_and_failed(store: Store) -> None:
    a, b, c = (op("update", t, {"x": 1}) for t in ("a", "b", "c"))
    for new in (a, b, c):
        store.enqueue(new, now=T0)
    store.claim(ACCOUNT, "w", 30, now=T0, limit=2)
    store.fail(b.op_id, error={}, permanent=True, now=T0)
    assert [o.op_id for o in store.pending(ACCOUNT)] == [c.op_id]


# ---------------------------------------------------------------- claim


def test_claim_takes_oldest_sets_lease(store: Store) -> None:
    a, b, c = (op("update", t, {"x": 1}) for t in ("a", "b", "c"))
    for new in (a, b, c):
        store.enqueue(new, now=T0)
    claimed = store.claim(ACCOUNT, "w1", 30, now=at(1), limit=2)
    assert [o.op_id for o in claimed] == [a.op_id, b.op_id]
    for o in claimed:
        assert o.state == "inflight" and o.lease_owner == "w1"
        assert o.lease_expires_at == at(31) and o.first_sent_at == at(1)
        assert not o.outcome_unknown and o.attempts == 0
    assert [o.op_id for o in store.claim(ACCOUNT, "w2", 30, now=at(2), limit=5)] == [c.op_id]
    assert store.claim(ACCOUNT, "w2", 30, now=at(3)) == []
    assert store.counts(ACCOUNT) == {"pending": 0, "inflight": 3, "failed": 0, "conflict": 0}


def test_claim_limit_and_lease_validation(store: Store) -> None:
    store.enqueue(op("update", "a", {"x": 1}), now=T0)
    assert store.claim(ACCOUNT, "w", 30, now=T0, limit=0) == []
    with pytest.raises(ValueError):
        store.claim(ACCOUNT, "w", 0, now=T0)


def test_claim_keeps_per_object_order(store: Store) -> None:
    store.map_id(ACCOUNT, "time", "L9", "S9")
    first = op("update", "S1", {"x": 1})
    store.enqueue(first, now=T0)
    store.claim(ACCOUNT, "w", 30, now=T0)
    second = op("update", "S1", {"x": 2})
    other = op("update", "S2", {"y": 1})
    store.enqueue(second, now=at(1))
    store.enqueue(other, now=at(1))
    # S1's second op waits for the inflight first one; S2 goes ahead.
    assert [o.op_id for o in store.claim(ACCOUNT, "w", 30, now=at(2), limit=5)] == [other.op_id]
    store.fail(first.op_id, error={"status": 400}, permanent=True, now=at(3))
    # A failed op still blocks the later one on the same object.
    assert store.claim(ACCOUNT, "w", 30, now=at(4), limit=5) == []
    store.discard(first.op_id, now=at(5))
    assert [o.op_id for o in store.claim(ACCOUNT, "w", 30, now=at(6))] == [second.op_id]


def test_claim_never_returns_two_ops_on_one_object(store: Store) -> None:
    create = op("create", "L1", {"x": 1})
    store.enqueue(create, now=T0)
    store.claim(ACCOUNT, "w", 30, now=T0)
    store.enqueue(op("update", "L1", {"x": 2}), now=T0)
    store.enqueue(op("update", "L2", {"x": 2}), now=T0)
    store.release(create.op_id, now=T0)
    claimed = store.claim(ACCOUNT, "w", 30, now=T0, limit=10)
    assert [o.target for o in claimed] == ["L1", "L2"]
    assert claimed[0].op_id == create.op_id


def test_claim_respects_next_attempt_at(store: Store) -> None:
    new = op("update", "a", {"x": 1})
    store.enqueue(new, now=T0)
    store.claim(ACCOUNT, "w", 30, now=T0)
    store.fail(new.op_id, error={}, permanent=False, next_attempt_at=at(60), now=at(1))
    assert store.claim(ACCOUNT, "w", 30, now=at(59)) == []
    (again,) = store.claim(ACCOUNT, "w", 30, now=at(60))
    assert again.attempts == 1 and again.first_sent_at == T0 and not again.outcome_unknown


def test_expired_lease_comes_back_outcome_unknown(store: Store) -> None:
    new = op("update", "a", {"x": 1})
    store.enqueue(new, now=T0)
    store.claim(ACCOUNT, "w1", 30, now=T0)
    assert store.claim(ACCOUNT, "w2", 30, now=at(29)) == []
    (again,) = store.claim(ACCOUNT, "w2", 30, now=at(30))
    assert again.op_id == new.op_id and again.outcome_unknown
    assert again.lease_owner == "w2" and again.attempts == 1 and again.first_sent_at == T0
    stored = store.get_operation(new.op_id)
    assert stored is not None and not stored.outcome_unknown and stored.state == "inflight"


def test_claim_is_per_account(store: Store) -> None:
    store.enqueue(op("update", "a", {"x": 1}, account=OTHER), now=T0)
    assert store.claim(ACCOUNT, "w", 30, now=T0) == []
    assert len(store.claim(OTHER, "w", 30, now=T0)) == 1


def test_concurrent_claimers_in_threads_never_share(store: Store) -> None:
    for i in range(120):
        store.enqueue(op("update", f"t{i}", {"i": i}), now=T0)
    got: dict[str, list[str]] = {"a": [], "b": [], "c": []}

    def run(owner: str) -> None:
        while True:
            claimed = store.claim(ACCOUNT, owner, 600, now=at(1), limit=2)
            if not claimed:
                return
            got[owner].extend(o.op_id for o in claimed)

    threads = [threading.Thread(target=run, args=(owner,)) for owner in got]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    everything = [i for ids in got.values() for i in ids]
    assert len(everything) == len(set(everything)) == 120


# ---------------------------------------------------------------- ack


def test_ack_create_maps_ids_and_replaces_provisional(store: Store) -> None:
    body = {"user": "alice", "duration": 60, "project": "gwm", "date_worked": "2026-11-01"}
    create = op("create", "L1", body)
    store.enqueue(create, provisional("L1", body), now=T0)
    (claimed,) = store.claim(ACCOUNT, "w", 30, now=T0)
    later = op("update", "L1", {"duration": 90})
    store.enqueue(later, now=at(1))
    server = time_obj("S1", duration=60)
    store.ack(claimed.op_id, server_object=server, now=at(2))
    assert store.get_operation(create.op_id) is None
    assert store.resolve_id(ACCOUNT, "time", "L1") == "S1"
    assert store.local_id_for(ACCOUNT, "time", "S1") == "L1"
    cached = store.get_object(ACCOUNT, "time", "S1")
    assert cached is not None and not cached.local and cached.payload == server
    assert cached.revision == 1 and cached.fetched_at == at(2)
    assert store.get_object(ACCOUNT, "time", "L1") == cached  # old name still works
    assert [o.key for o in store.list_objects(ACCOUNT, "time")] == ["S1"]
    (rest,) = store.operations()
    assert rest.op_id == later.op_id and rest.target == "S1"  # re-targeted
    assert [o.op_id for o in store.ops_for(ACCOUNT, "time", "L1")] == [later.op_id]


def test_ack_uses_server_key_when_given(store: Store) -> None:
    create = op("create", "L1", {"name": "P"}, entity="project")
    store.enqueue(create, now=T0)
    store.claim(ACCOUNT, "w", 30, now=T0)
    store.ack(create.op_id, server_object={"name": "P", "slugs": ["p"]}, server_key="P1", now=T0)
    assert store.resolve_id(ACCOUNT, "project", "L1") == "P1"
    found = store.find_by_slug(ACCOUNT, "project", "p")
    assert found is not None and found.key == "P1"


def test_ack_update_caches_canonical_object(store: Store) -> None:
    store.put_objects(ACCOUNT, "time", [time_obj("S1")], now=T0)
    update = op("update", "S1", {"duration": 99}, base_revision=1)
    store.enqueue(update, provisional("S1", time_obj("S1", duration=99)), now=T0)
    assert store.get_object(ACCOUNT, "time", "S1").local  # type: ignore[union-attr]
    store.claim(ACCOUNT, "w", 30, now=T0)
    store.ack(update.op_id, server_object=time_obj("S1", duration=99, revision=2), now=at(1))
    cached = store.get_object(ACCOUNT, "time", "S1")
    assert cached is not None and not cached.local and cached.revision == 2


def test_ack_delete_marks_cached_object_deleted(store: Store) -> None:
    store.put_objects(ACCOUNT, "time", [time_obj("S1")], now=T0)
    delete = op("delete", "S1", base_revision=1)
    store.enqueue(delete, now=T0)
    store.claim(ACCOUNT, "w", 30, now=T0)
    store.ack(delete.op_id, now=at(1))
    assert store.query_times(ACCOUNT) == []
    (gone,) = store.query_times(ACCOUNT, include_deleted=True)
    assert gone.deleted and gone.payload["deleted_at"] == "2026-11-30"


def test_ack_unknown_op(store: Store) -> None:
    with pytest.raises(UnknownOperationError):
        store.ack("nope", now=T0)
    with pytest.raises(KeyError):
        store.ack("nope", now=T0)


# ---------------------------------------------------------------- fail / release / retry


def test_fail_permanent(store: Store) -> None:
    new = op("update", "a", {"x": 1})
    store.enqueue(new, now=T0)
    store.claim(ACCOUNT, "w", 30, now=T0)
    failed = store.fail(new.op_id, error={"status": 400, "text": "bad"}, permanent=True, now=at(1))
    assert failed.state == "failed" and failed.attempts == 1
    assert failed.last_error == {"status": 400, "text": "bad"}
    assert failed.lease_owner is None and failed.lease_expires_at is None
    assert failed.updated_at == at(1) and failed.first_sent_at == T0
    assert store.counts(ACCOUNT)["failed"] == 1


def test_fail_conflict(store: Store) -> None:
    new = op("update", "a", {"x": 1})
    store.enqueue(new, now=T0)
    store.claim(ACCOUNT, "w", 30, now=T0)
    got = store.fail(new.op_id, error={"status": 409}, permanent=True, conflict=True, now=at(1))
    assert got.state == "conflict"
    assert [o.op_id for o in store.operations(states=["conflict"])] == [new.op_id]


def test_fail_without_counting_an_attempt(store: Store) -> None:
    new = op("update", "a", {"x": 1})
    store.enqueue(new, now=T0)
    store.claim(ACCOUNT, "w", 30, now=T0)
    got = store.fail(new.op_id, error={"offline": True}, permanent=False, count_attempt=False)
    assert got.state == "pending" and got.attempts == 0 and got.first_sent_at is None
    assert got.next_attempt_at is None


def test_fail_unknown(store: Store) -> None:
    with pytest.raises(UnknownOperationError):
        store.fail("nope", error={}, permanent=True)


def test_release(store: Store) -> None:
    new = op("update", "a", {"x": 1})
    store.enqueue(new, now=T0)
    store.claim(ACCOUNT, "w", 30, now=T0)
    released = store.release(new.op_id, now=at(1))
    assert released.state == "pending" and released.lease_owner is None
    assert released.first_sent_at is None and released.attempts == 0
    # an op that was attempted before keeps its first_sent_at
    store.claim(ACCOUNT, "w", 30, now=at(2))
    store.fail(new.op_id, error={}, permanent=False, now=at(3))
    store.claim(ACCOUNT, "w", 30, now=at(4))
    assert store.release(new.op_id, now=at(5)).first_sent_at == at(2)
    # releasing a non-inflight op changes nothing
    assert store.release(new.op_id, now=at(9)).updated_at == at(5)


def test_retry(store: Store) -> None:
    new = op("update", "a", {"x": 1})
    store.enqueue(new, now=T0)
    store.claim(ACCOUNT, "w", 30, now=T0)
    with pytest.raises(OperationStateError):
        store.retry(new.op_id, now=at(1))
    store.fail(new.op_id, error={"s": 500}, permanent=True, now=at(1))
    assert store.claim(ACCOUNT, "w", 30, now=at(2)) == []
    retried = store.retry(new.op_id, now=at(3))
    assert retried.state == "pending" and retried.next_attempt_at is None
    assert retried.last_error == {"s": 500} and retried.attempts == 1
    assert [o.op_id for o in store.claim(ACCOUNT, "w", 30, now=at(4))] == [new.op_id]


# ---------------------------------------------------------------- discard


def test_discard_create_removes_later_ops_and_provisional(store: Store) -> None:
    create = op("create", "L1", {"x": 1})
    store.enqueue(create, provisional("L1", {"x": 1}), now=T0)
    store.claim(ACCOUNT, "w", 30, now=T0)
    store.enqueue(op("update", "L1", {"x": 2}), now=at(1))  # (behind the create being sent)
    store.fail(create.op_id, error={"status": 400}, permanent=True, now=T0)
    keep = op("update", "L2", {"y": 1})
    store.enqueue(keep, now=at(1))
    gone = store.discard(create.op_id, now=at(2))
    assert gone.op_id == create.op_id and gone.state == "failed"
    assert [o.op_id for o in store.operations()] == [keep.op_id]
    assert store.get_object(ACCOUNT, "time", "L1") is None


def test_discard_update_drops_local_copy_when_nothing_left(store: Store) -> None:
    store.put_objects(ACCOUNT, "time", [time_obj("S1")], now=T0)
    update = op("update", "S1", {"duration": 1})
    store.enqueue(update, provisional("S1", time_obj("S1", duration=1)), now=T0)
    store.discard(update.op_id, now=T0)
    assert store.get_object(ACCOUNT, "time", "S1") is None  # refetch restores the truth
    server = op("update", "S2", {"duration": 1})
    store.put_objects(ACCOUNT, "time", [time_obj("S2")], now=T0)
    store.enqueue(server, now=T0)
    store.discard(server.op_id, now=T0)
    assert store.get_object(ACCOUNT, "time", "S2") is not None  # a server copy stays


def test_discard_inflight_only_after_lease_expiry(store: Store) -> None:
    new = op("update", "a", {"x": 1})
    store.enqueue(new, now=T0)
    store.claim(ACCOUNT, "w", 30, now=T0)
    with pytest.raises(OperationStateError):
        store.discard(new.op_id, now=at(10))
    assert store.discard(new.op_id, now=at(31)).op_id == new.op_id
    with pytest.raises(UnknownOperationError):
        store.discard(new.op_id, now=at(32))


# ---------------------------------------------------------------- listing


def test_operations_counts_ops_for(store: Store) -> None:
    a = op("update", "S1", {"x": 1})
    b = op("update", "S2", {"x": 1})
    c = op("update", "S1", {"x": 1}, account=OTHER)
    for new in (a, b, c):
        store.enqueue(new, now=T0)
    store.claim(ACCOUNT, "w", 30, now=T0)
    assert [o.op_id for o in store.operations()] == [a.op_id, b.op_id, c.op_id]
    assert [o.op_id for o in store.operations(ACCOUNT)] == [a.op_id, b.op_id]
    assert [o.op_id for o in store.operations(ACCOUNT, ["pending"])] == [b.op_id]
    assert [o.op_id for o in store.operations(None, ["pending"])] == [b.op_id, c.op_id]
    with pytest.raises(ValueError):
        store.operations(states=["bogus"])
    assert store.counts(ACCOUNT) == {"pending": 1, "inflight": 1, "failed": 0, "conflict": 0}
    assert store.counts("nobody") == {"pending": 0, "inflight": 0, "failed": 0, "conflict": 0}
    assert [o.op_id for o in store.ops_for(ACCOUNT, "time", "S1")] == [a.op_id]
    assert store.ops_for(ACCOUNT, "project", "S1") == []
    got = store.get_operation(a.op_id)
    assert got is not None and got.state == "inflight"
    assert store.get_operation("nope") is None


def test_records_are_copies(store: Store) -> None:
    new = op("update", "a", {"x": 1})
    result = store.enqueue(new, now=T0)
    assert result.operation is not None and result.operation.payload is not None
    result.operation.payload["x"] = 999
    (stored,) = store.operations()
    assert stored.payload == {"x": 1}


def test_a_create_failed_by_a_local_error_is_not_taken_for_refused(store: Store) -> None:
    """A create the sync failed for a local reason (no server status: it may have raised
    after the server had carried it out) is never folded into and sent again by a later
    edit; the edit waits behind it as its own operation."""
    first = op("create", "L1", {"duration": 60, "notes": "a"})
    store.enqueue(first, provisional("L1", {"duration": 60, "notes": "a"}), now=T0)
    store.claim(ACCOUNT, "w", 30, now=at(1))
    local = {"status": None, "body": None, "message": "could not be sent: KeyError: 'x'"}
    store.fail(first.op_id, error=local, permanent=True, now=at(2))
    result = store.enqueue(
        op("update", "L1", {"notes": "b"}),
        provisional("L1", {"duration": 60, "notes": "b"}),
        now=at(3),
    )
    assert result.outcome != "merged"
    failed, queued = store.operations()
    assert failed.op_id == first.op_id and failed.state == "failed" and failed.kind == "create"
    assert queued.kind == "update" and queued.state == "pending"
