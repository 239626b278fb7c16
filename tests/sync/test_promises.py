"""The sync engine's promises under real faults (emulator over loopback HTTP): nothing
lost, nothing sent twice, one bad operation never holds up the others, stopping is
prompt, and status tells the truth. Each test here failed on the engine before
issue 11."""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

import pymesync
from pymesync.store import NewOperation, Store
from pymesync.sync import SyncWorker
from pymesync.testing import run_emulator

YESTERDAY = (dt.datetime.now(dt.timezone.utc).date() - dt.timedelta(days=1)).isoformat()


@pytest.fixture
def emu() -> Iterator[Any]:
    with run_emulator(seed_data=True) as emulator:
        yield emulator


def client(emu: Any, user: str = "alice", **options: Any) -> pymesync.TimeSync:
    options.setdefault("mode", "queue")
    ts = pymesync.TimeSync(emu.base_url, **options)
    assert "token" in ts.authenticate(user, user, "password")
    return ts


def standup(**changes: Any) -> dict[str, Any]:
    """The entry people log every day: identical payloads."""
    return {
        "duration": 3600,
        "project": "gwm",
        "user": "alice",
        "date_worked": YESTERDAY,
        "activities": ["dev"],
        "notes": "standup",
        **changes,
    }


def on_server(emu: Any, notes: str) -> list[dict[str, Any]]:
    admin = client(emu, "admin", mode="direct")
    return [t for t in admin.get_times({"user": "alice"}) if t.get("notes") == notes]


def drain(ts: pymesync.TimeSync, seconds: float = 30.0) -> None:
    """Sync until nothing is pending or in flight (what a user, or the daemon, does)."""
    ends = time.monotonic() + seconds
    while time.monotonic() < ends:
        ts.sync()
        status = ts.status()
        if not status["pending"] and not status["inflight"]:
            return
        time.sleep(0.1)
    raise AssertionError(f"still queued: {ts.status()}")


OpenStore = Callable[[pymesync.TimeSync], tuple[Store, str]]


@pytest.fixture
def store_of() -> Iterator[OpenStore]:
    """Opens a client's store a second time (its public API, on the same file), with
    the client's account; closed after the test."""
    opened: list[Store] = []

    def open_for(ts: pymesync.TimeSync) -> tuple[Store, str]:
        assert ts.account is not None and ts.store_location is not None
        opened.append(Store.open(ts.store_path))
        return opened[-1], ts.account

    yield open_for
    for store in opened:
        store.close()


def resolved(ts: pymesync.TimeSync, ident: str) -> str:
    """The id ``ident`` names now (the server's, once synced)."""
    assert ts.account is not None and ts.store_location is not None
    with Store.open(ts.store_path) as store:
        return store.resolve_id(ts.account, "time", ident)


def worker(ts: pymesync.TimeSync, **options: Any) -> SyncWorker:
    made = ts.sync_worker()
    for name, value in options.items():
        setattr(made, name, value)
    return made


# ---------------------------------------------------------------- 1. identical entries


@pytest.mark.parametrize("concurrency", [1, 4])
def test_identical_entries_with_lost_answers_are_all_kept(
    emu: Any, concurrency: int, store_of: OpenStore
) -> None:
    """Ten "1h standup" entries, answers lost or dropped: ten on the server, each local
    entry mapped to its own server time."""
    ts = client(emu, sync_concurrency=concurrency)
    local = [ts.create_time(standup())["uuid"] for _ in range(10)]
    emu.lose_response_next(5, route="POST /times")
    emu.drop_before_commit_next(2, route="POST /times")
    drain(ts)
    assert len(on_server(emu, "standup")) == 10
    store, account = store_of(ts)
    mapped = {store.resolve_id(account, "time", uuid) for uuid in local}
    assert len(mapped) == 10 and not mapped & set(local)
    assert mapped == {t["uuid"] for t in on_server(emu, "standup")}


def test_a_server_time_is_reserved_for_one_local_create_only(tmp_path: Any) -> None:
    from pymesync.store import Store

    with Store.open(tmp_path / "s.sqlite3") as store:
        assert store.reserve_id("a", "time", "local-1", "server-1")
        assert store.reserve_id("a", "time", "local-1", "server-1")  # again: still ours
        assert not store.reserve_id("a", "time", "local-2", "server-1")
        assert store.resolve_id("a", "time", "local-2") == "local-2"
        assert store.reserve_id("a", "time", "local-2", "server-2")


def test_an_adoption_whose_reservation_was_taken_is_not_acked(tmp_path: Any) -> None:
    from pymesync.store import Store

    with Store.open(tmp_path / "s.sqlite3") as store:
        op = NewOperation("a", "create", "time", "local-2", {"notes": "x"})
        store.enqueue(op)
        assert len(store.claim("a", "me", 60)) == 1
        store.map_id("a", "time", "local-1", "server-1")  # another create holds it
        obj = {"uuid": "server-1", "notes": "x", "revision": 1}
        assert store.ack_many([(op.op_id, obj, "server-1")], adopted={op.op_id}) == []
        assert store.get_operation(op.op_id) is not None
        assert store.resolve_id("a", "time", "local-1") == "server-1"


def test_an_identical_create_waits_while_its_twin_is_being_sent(
    emu: Any, store_of: OpenStore
) -> None:
    """A create being reconciled must not adopt the entry its identical twin is making
    at that very moment (the twin's answer would then take it back)."""
    ts = client(emu, sync_concurrency=4)
    local = [ts.create_time(standup())["uuid"] for _ in range(4)]
    emu.lose_response_next(2, route="POST /times")
    emu.add_latency(0.2, route="POST /times")
    drain(ts)
    emu.clear_faults()
    store, account = store_of(ts)
    mapped = {store.resolve_id(account, "time", uuid) for uuid in local}
    assert mapped == {t["uuid"] for t in on_server(emu, "standup")} and len(mapped) == 4


# ---------------------------------------------------------------- 2. poison operations


def queue_raw(ts: pymesync.TimeSync, payload: dict[str, Any]) -> str:
    """Put a create straight into the store (as an older client or a bug could)."""
    assert ts.account is not None and ts.store_location is not None
    op = NewOperation(ts.account, "create", "time", f"raw-{id(payload)}", payload)
    with Store.open(ts.store_path) as store:
        store.enqueue(op)
    return op.op_id


def test_a_payload_the_engine_cannot_handle_fails_alone(emu: Any) -> None:
    ts = client(emu, sync_concurrency=4)
    ts.create_time(standup(notes="before"))
    bad = queue_raw(ts, standup(project=["gwm", "ts"], notes="poison"))
    for i in range(5):
        ts.create_time(standup(notes=f"after {i}"))
    report = ts.sync()
    assert report.synced == 6 and report.failed == 1
    status = ts.status()
    assert status["pending"] == status["inflight"] == 0 and status["failed"] == 1
    [failed] = ts.failed()
    assert failed["op_id"] == bad and failed["last_error"]["message"]


def test_an_exception_while_handling_one_operation_fails_it_not_the_pass(
    emu: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    ts = client(emu, sync_concurrency=4)
    for i in range(6):
        ts.create_time(standup(notes=f"entry {i}"))
    made = worker(ts)
    create = made.sender.create

    def exploding(op: Any, attempt: Any, token: str) -> Any:
        if op.payload.get("notes") == "entry 2":
            raise RuntimeError("boom")
        return create(op, attempt, token)

    monkeypatch.setattr(made.sender, "create", exploding)
    report = made.run_once()
    assert report.synced == 5 and report.failed == 1
    [failed] = ts.failed()
    assert "RuntimeError: boom" in failed["last_error"]["message"]
    assert ts.status()["inflight"] == 0


# ---------------------------------------------------------------- 5. malformed successes


@pytest.mark.parametrize("mode", ["null", "list", "html", "no_uuid", "garbage"])
def test_a_success_answer_that_is_not_the_object_is_not_taken_as_success(
    emu: Any, mode: str
) -> None:
    ts = client(emu)
    local = ts.create_time(standup(notes=f"answer {mode}"))["uuid"]
    emu.garble_next(1, mode=mode, route="POST /times")
    report = ts.sync()
    drain(ts)
    [only] = on_server(emu, f"answer {mode}")
    assert emu.request_count("POST /times") == 1  # found by reconciliation, not resent
    assert resolved(ts, local) == only["uuid"]
    assert report.synced in (0, 1)


# ---------------------------------------------------------------- 8. after an outage


def test_while_the_server_is_down_a_pass_sends_one_probe(emu: Any) -> None:
    ts = client(emu, sync_concurrency=4)
    for i in range(7):
        ts.create_time(standup(notes=f"outage {i}"))
    made = worker(ts, sleep=lambda seconds: None)
    emu.fail_next(1000, status=503)
    assert made.run_once().stopped == "offline"
    made.expedite()  # the daemon's own backoff is over
    before = emu.request_count("POST /times")
    assert made.run_once().stopped == "offline"
    assert emu.request_count("POST /times") - before <= made.policy.pass_attempts
    emu.clear_faults()
    made.expedite()
    third = made.run_once()
    assert third.synced == 7, third.as_dict()


def test_after_an_outage_the_daemon_drains_the_whole_queue_at_once(emu: Any) -> None:
    """Seven operations, an outage long enough for several passes: once the server is
    back, the queue goes in the next pass, not one operation per pass."""
    from pymesync.daemon import run_daemon

    ts = client(emu, sync_concurrency=4)
    for i in range(7):
        ts.create_time(standup(notes=f"outage {i}"))
    emu.fail_next(10**6, status=503)
    stop = threading.Event()
    daemon = threading.Thread(
        target=run_daemon, args=(ts,), kwargs={"interval": 0.2, "stop": stop, "max_backoff": 0.5}
    )
    daemon.start()
    try:
        time.sleep(3.0)  # passes against a server that is down
        status = ts.status()
        assert status["pending"] + status["inflight"] == 7
        during = emu.request_count("POST /times")
        assert during <= 7 * 3 + 3 * 8, during  # one probe per pass after the first
        emu.clear_faults()
        back = time.monotonic()
        while time.monotonic() - back < 10:
            status = ts.status()
            if not status["pending"] and not status["inflight"]:
                break
            time.sleep(0.05)
        assert time.monotonic() - back < 3
    finally:
        stop.set()
        daemon.join(10)
    assert not daemon.is_alive()
    counts = [len(on_server(emu, f"outage {i}")) for i in range(7)]
    assert counts == [1] * 7, (counts, ts.status(), emu.stats()["routes"])


# ---------------------------------------------------------------- 9. status


def test_an_operation_whose_lease_ran_out_is_not_in_flight(emu: Any, store_of: OpenStore) -> None:
    ts = client(emu)
    ts.create_time(standup())
    store, account = store_of(ts)
    past = dt.datetime.now(dt.timezone.utc) - dt.timedelta(minutes=5)
    store.claim(account, "vanished", 60, now=past)
    status = ts.status()
    assert status["inflight"] == 0 and status["pending"] == 1


def test_needs_login_clears_after_an_automatic_login_and_a_401_is_the_last_error(
    emu: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    client(emu)  # logs in and keeps the token in the store
    ts = pymesync.TimeSync.resume(emu.base_url, "alice", mode="queue")  # no password
    ts.create_time(standup())
    emu.invalidate_tokens()
    report = ts.sync()
    assert report.stopped == "needs_login"
    status = ts.status()
    assert status["needs_login"]
    assert status["last_error"]["status"] == 401
    monkeypatch.setenv("PYMESYNC_USERNAME", "alice")
    monkeypatch.setenv("PYMESYNC_PASSWORD", "alice")
    assert ts.sync().synced == 1
    assert not ts.status()["needs_login"]


# ---------------------------------------------------------------- 7. stopping


def test_a_stopping_pass_abandons_hanging_requests_promptly(emu: Any) -> None:
    ts = client(emu, sync_concurrency=4, timeout=30)
    for i in range(6):
        ts.create_time(standup(notes=f"hang {i}"))
    emu.add_latency(20.0, route="POST /times")
    stop = threading.Event()
    made = worker(ts)
    reports: list[Any] = []
    thread = threading.Thread(target=lambda: reports.append(made.run_once(should_stop=stop.is_set)))
    thread.start()
    time.sleep(1.0)  # requests are out and hanging
    started = time.monotonic()
    stop.set()
    thread.join(10)
    assert not thread.is_alive()
    assert time.monotonic() - started < 5
    assert reports[0].stopped == "stopped"
    status = ts.status()
    assert status["inflight"] == 0 and status["pending"] == 6
    emu.clear_faults()


def test_a_pass_keeps_its_time_budget(emu: Any) -> None:
    ts = client(emu, sync_concurrency=2, timeout=30)
    for i in range(3):
        ts.create_time(standup(notes=f"budget {i}"))
    emu.add_latency(20.0, route="POST /times")
    started = time.monotonic()
    report = ts.sync(budget=1.0)
    assert time.monotonic() - started < 4
    assert report.stopped == "budget"
    emu.clear_faults()
    assert ts.status()["inflight"] == 0


# ---------------------------------------------------------------- 3. slow answers


def test_a_write_answered_after_the_timeout_is_sent_once(emu: Any) -> None:
    """The server commits the POST but answers after the client's timeout: not retried
    within the pass, not looked for before a request's deadline has passed again, then
    found on the server (adopted), never sent a second time."""
    ts = client(emu, timeout=0.5)  # deadline 1 s
    local = ts.create_time(standup(notes="slow"))["uuid"]
    emu.add_fault("slow_answer", route="POST /times", seconds=1.5)
    first = ts.sync()
    assert first.count("deferred") == 1
    assert emu.request_count("POST /times") == 1
    second = ts.sync()  # at once: the server may still be committing it
    assert second.synced == 0
    assert emu.request_count("POST /times") == 1
    time.sleep(1.2)
    drain(ts)
    assert emu.request_count("POST /times") == 1
    [only] = on_server(emu, "slow")
    assert resolved(ts, local) == only["uuid"]


def test_a_server_slow_to_commit_gets_each_write_once(emu: Any) -> None:
    """The server takes longer to commit than the client waits (latency before the
    commit): a reconciliation right after the timeout finds nothing yet; looking only a
    deadline later finds it."""
    ts = client(emu, timeout=0.5, sync_concurrency=4)
    for i in range(6):
        ts.create_time(standup(notes=f"slow commit {i % 3}"))  # pairs of identical entries
    emu.add_latency(1.2, route="POST /times", n=6)
    drain(ts, seconds=60)
    # (a resend commits at once, before the slow original: counted, it is never missed)
    assert emu.request_count("POST /times") == 6
    for i in range(3):
        assert len(on_server(emu, f"slow commit {i}")) == 2


def test_slow_answers_everywhere_still_give_each_entry_once(emu: Any) -> None:
    ts = client(emu, timeout=0.5, sync_concurrency=4)
    for i in range(6):
        ts.create_time(standup(notes=f"slow {i % 3}"))  # pairs of identical entries
    emu.add_fault("slow_answer", route="POST /times", seconds=1.2, n=4)
    drain(ts, seconds=60)
    for i in range(3):
        assert len(on_server(emu, f"slow {i}")) == 2


def test_a_look_the_server_fails_is_not_taken_for_nothing_found(emu: Any) -> None:
    """The POST was committed but its answer lost; the look for it gets a 500: that is
    no answer (looked for again), not "not there" (which would send it a second time)."""
    ts = client(emu)
    ts.create_time(standup(notes="look failed"))
    emu.lose_response_next(1, route="POST /times")
    emu.fail_next(1, route="GET /times")
    drain(ts)
    assert len(on_server(emu, "look failed")) == 1
    assert emu.request_count("POST /times") == 1


def test_a_timed_out_write_is_looked_for_a_deadline_after_its_own_timeout(emu: Any) -> None:
    """Three writes, two threads: the third goes out only once the first two timed out.
    None is looked for before a request's deadline has passed since its own timeout
    (it was measured from the moment the pass claimed it: the third was due the moment
    it timed out, the first two half a deadline after theirs)."""
    ts = client(emu, timeout=1.0, sync_concurrency=2)  # deadline 2 s
    for i in range(3):
        ts.create_time(standup(notes=f"hung {i}"))
    emu.add_fault("hang", route="POST /times", n=3, seconds=30)
    assert ts.sync().count("deferred") == 3
    emu.clear_faults()
    emu.reset_stats()
    ts.sync()  # at once: each timed out less than a deadline ago
    assert emu.request_count("GET /times") == 0
    assert emu.request_count("POST /times") == 0


def test_a_write_committed_after_the_first_look_is_sent_once(emu: Any) -> None:
    """The server commits the POST only after the client's first look for it (a server
    slower to commit than a deadline): not found then, it is looked for once more
    before being sent again, found, adopted, never sent a second time."""
    ts = client(emu, timeout=0.5)  # deadline 1 s
    local = ts.create_time(standup(notes="late commit"))["uuid"]
    emu.add_fault("commit_after_look", route="POST /times", seconds=1)
    drain(ts)
    assert len(on_server(emu, "late commit")) == 1
    assert emu.request_count("POST /times") == 1
    assert emu.request_count("GET /times") >= 2  # (looked for twice)
    [only] = on_server(emu, "late commit")
    assert resolved(ts, local) == only["uuid"]


def test_a_timed_out_write_that_never_arrived_is_sent_after_the_settle_window(
    emu: Any,
) -> None:
    """A POST that timed out and never reached the database (nothing to find): sent
    again, once, but only after the settle window (3 deadlines after its timeout)."""
    ts = client(emu, timeout=0.5)  # deadline 1 s: timed out after 0.5 s
    local = ts.create_time(standup(notes="never arrived"))["uuid"]
    emu.add_fault("hang", route="POST /times", seconds=30)
    started = time.monotonic()
    drain(ts)
    assert time.monotonic() - started >= 3.5
    assert emu.request_count("POST /times") == 2
    [only] = on_server(emu, "never arrived")
    assert resolved(ts, local) == only["uuid"]


# ---------------------------------------------------------------- 6. deadlines


def test_a_trickling_answer_ends_at_the_deadline(emu: Any) -> None:
    """One byte every 0.1 s never trips a 1 s read timeout, but the request's deadline
    (2 s at timeout=1) ends it; the write is then reconciled, not sent twice."""
    ts = client(emu, timeout=1.0)
    ts.create_time(standup(notes="trickled"))
    emu.add_fault("trickle", route="POST /times", seconds=0.1)
    started = time.monotonic()
    report = ts.sync()
    assert time.monotonic() - started < 5
    assert report.count("deferred") == 1
    time.sleep(2.2)
    drain(ts)
    assert len(on_server(emu, "trickled")) == 1
    assert emu.request_count("POST /times") == 1


def test_a_black_holed_server_costs_one_deadline_per_pass(emu: Any) -> None:
    ts = client(emu, timeout=0.5, sync_concurrency=4)
    for i in range(5):
        ts.create_time(standup(notes=f"hole {i}"))
    emu.add_fault("hang", route="POST /times", n=100, seconds=30)
    started = time.monotonic()
    report = ts.sync()
    assert time.monotonic() - started < 2.5  # one deadline (1 s), not one per retry
    assert report.stopped == "offline"
    assert emu.request_count("POST /times") <= 5  # one attempt each: never resent blind
    emu.clear_faults()


# ---------------------------------------------------------------- found in review


def test_a_reconciling_create_never_adopts_what_its_fresh_twin_is_making(
    emu: Any, store_of: OpenStore
) -> None:
    """B (older, "may have been sent", nothing on the server) and A (fresh, identical)
    in one pass: B must not adopt A's entry while A's answer is on its way."""
    ts = client(emu, sync_concurrency=2, timeout=5)
    b = ts.create_time(standup())["uuid"]
    emu.drop_before_commit_next(3, route="POST /times")
    ts.sync()
    emu.clear_faults()
    a = ts.create_time(standup())["uuid"]
    emu.add_latency(0.5, route="GET /times", n=1)
    emu.add_fault("slow_answer", route="POST /times", seconds=1.5, n=1)
    drain(ts)
    store, account = store_of(ts)
    mapped = {store.resolve_id(account, "time", b), store.resolve_id(account, "time", a)}
    assert mapped == {t["uuid"] for t in on_server(emu, "standup")} and len(mapped) == 2


def test_a_fresh_create_takes_back_its_entry_and_the_adopter_looks_again(
    tmp_path: Any,
) -> None:
    """Across processes no pass sees the twin: B adopted (and acked) the entry A's own
    request made. A's ack takes it back, and B is queued again to look for its own
    entry or be sent: two local entries never share one server entry."""
    from pymesync.store import Store

    payload = {"duration": 60, "project": "gwm", "user": "alice", "notes": "n"}
    obj = {"uuid": "S", "revision": 1, **payload}
    with Store.open(tmp_path / "s.sqlite3") as store:
        a = NewOperation("acct", "create", "time", "A", payload)
        b = NewOperation("acct", "create", "time", "B", payload)
        store.enqueue(a)
        store.enqueue(b)
        store.claim("acct", "me", 60, limit=2)
        assert store.reserve_id("acct", "time", "B", "S")
        assert store.ack_many([(b.op_id, obj, "S")], adopted={b.op_id}) == [b.op_id]
        assert store.ack_many([(a.op_id, obj, "S")]) == [a.op_id]
        assert store.resolve_id("acct", "time", "A") == "S"
        assert store.resolve_id("acct", "time", "B") == "B"
        [again] = store.operations("acct")
        assert (again.kind, again.target, again.payload) == ("create", "B", payload)
        assert again.last_error is not None and again.last_error["maybe_sent"]
        assert store.get_object("acct", "time", "B") is not None  # still shown, pending


def test_an_answer_lost_then_a_stop_keeps_when_it_was_first_sent(emu: Any) -> None:
    """The pass stops during the backoff after a lost answer; the user then reads their
    times (the entry is now in the cache). It must still be adopted, not sent again."""
    from pymesync.sync import RetryPolicy

    ts = client(emu, sync_concurrency=1, timeout=0.5)
    ts.create_time(standup(notes="stopped"))
    made = worker(ts, policy=RetryPolicy(pass_base=1000, pass_cap=1000))
    emu.lose_response_next(1, route="POST /times")
    made.run_once(budget=0.5)
    [op] = made.store.operations(made.account)
    assert op.first_sent_at is not None and op.last_error["maybe_sent"]
    ts.get_times({"user": "alice"})
    time.sleep(1.2)
    drain(ts)
    assert len(on_server(emu, "stopped")) == 1


def test_an_old_look_after_does_not_hide_a_vanished_senders_request(
    emu: Any, store_of: OpenStore
) -> None:
    """An op that timed out once (its look_after long past) is sent again by a sender
    that vanishes while the server is slow: the next sender waits a deadline after the
    lease ran out before looking, and finds it rather than sending it a third time."""
    ts = client(emu, timeout=1.0)  # deadline 2 s
    ts.create_time(standup(notes="vanished"))
    store, account = store_of(ts)
    past = dt.datetime.now(dt.timezone.utc) - dt.timedelta(minutes=1)
    [op] = store.claim(account, "earlier", 60, now=past)
    store.fail(
        op.op_id,
        error={"message": "timed out", "maybe_sent": True, "look_after": past.isoformat()},
        permanent=False,
        count_attempt=True,
        now=past,
    )
    # a sender claims it, sends it to a slow server and vanishes (lease 1 s)
    [op] = store.claim(account, "vanishing", 1.0)
    emu.add_fault("slow_answer", route="POST /times", seconds=1.5)
    threading.Thread(
        target=lambda: client(emu, mode="direct").create_time(standup(notes="vanished")),
        daemon=True,
    ).start()
    time.sleep(1.1)  # the lease ran out; the POST is committed only at 1.5 s
    assert ts.sync().synced == 0  # held: looked for only a deadline after the lease
    time.sleep(2.5)
    drain(ts)
    assert len(on_server(emu, "vanished")) == 1


def test_a_pass_longer_than_a_lease_drains_everything(emu: Any) -> None:
    """Found by the 100,000-operation benchmark: claims late in a long pass must lease
    from the time they are made, not from when the pass began."""
    # effective lease 0.65 s; the pass takes longer
    ts = client(emu, timeout=0.2, sync_concurrency=2, lease_seconds=0.5)
    for i in range(40):
        ts.create_time(standup(notes=f"long pass {i}"))
    emu.add_latency(0.05, route="POST /times")
    report = ts.sync()
    assert report.synced == 40, report.as_dict()
