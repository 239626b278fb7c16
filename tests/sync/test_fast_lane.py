"""The fast lane (simple creates sent from the pass's own thread) against the emulator:
it is taken when it should be, and every way its attempt can fail ends exactly as it
would in a sending thread: retried, reconciled, or recorded, never sent twice."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest

import pymesync
from pymesync import fastlane
from pymesync.sync import RateLimiter, SyncWorker
from pymesync.testing import run_emulator

YESTERDAY = (dt.datetime.now(dt.timezone.utc).date() - dt.timedelta(days=1)).isoformat()


@pytest.fixture
def emu() -> Iterator[Any]:
    with run_emulator(seed_data=True) as emulator:
        yield emulator


@pytest.fixture
def lane_log(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """What each FastLane.start returned in the test."""
    log: list[object] = []
    start = fastlane.FastLane.start

    def logged(self: fastlane.FastLane, op: Any, token: str) -> Any:
        outcome = start(self, op, token)
        log.append(outcome)
        return outcome

    monkeypatch.setattr(fastlane.FastLane, "start", logged)
    return log


def a_time(notes: str, **changes: Any) -> dict[str, Any]:
    return {
        "duration": 600,
        "project": "gwm",
        "user": "alice",
        "date_worked": YESTERDAY,
        "activities": ["dev"],
        "notes": notes,
        **changes,
    }


class Sleeps:
    def __init__(self) -> None:
        self.calls: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)


def queued(
    emu: Any, *notes: str, user: str = "alice", timeout: float = 10.0, **changes: Any
) -> pymesync.TimeSync:
    ts = pymesync.TimeSync(emu.base_url, mode="queue", timeout=timeout)
    assert "token" in ts.authenticate(user, user, "password")
    ts.get_projects()  # the projects are cached: their times can take the fast lane
    for note in notes:
        ts.create_time(a_time(note, user=user, **changes))
    return ts


def worker(ts: pymesync.TimeSync, concurrency: int = 4) -> tuple[SyncWorker, Sleeps]:
    made = ts._queue().worker_for(ts._account())
    made.sleep = sleeps = Sleeps()
    made.concurrency = concurrency
    return made, sleeps


def on_server(emu: Any, note: str) -> list[dict[str, Any]]:
    admin = pymesync.TimeSync(emu.base_url, mode="direct")
    admin.authenticate("admin", "admin", "password")
    return [t for t in admin.get_times({"user": "alice"}) if t.get("notes") == note]


def test_simple_creates_take_the_lane_and_are_cached_as_the_server_has_them(
    emu: Any, lane_log: list[object]
) -> None:
    ts = queued(emu, *(f"lane {i}" for i in range(6)))
    sync_worker, _ = worker(ts)
    report = sync_worker.run_once()
    assert report.synced == 6 and lane_log == [True] * 6
    assert emu.request_count("POST /times") == 6
    assert emu.request_count("GET /times/{uuid}") == 0  # canonical form built locally
    for i in range(6):
        [server_copy] = on_server(emu, f"lane {i}")
        [cached] = ts.get_times({"uuid": server_copy["uuid"]})
        assert cached == server_copy


def test_not_for_the_lane(emu: Any, lane_log: list[object]) -> None:
    ts = pymesync.TimeSync(emu.base_url, mode="queue")
    ts.authenticate("alice", "alice", "password")
    ts.create_time(a_time("project not cached"))  # no get_projects(): not in the cache
    seeded = ts.get_times({"user": "alice"})[0]
    ts.update_time({"notes": "an update"}, seeded["uuid"])
    sync_worker, _ = worker(ts)
    assert sync_worker.run_once().synced == 2
    assert lane_log == []  # neither went the fast way
    assert len(on_server(emu, "project not cached")) == 1


def test_concurrency_one_and_a_rate_limit_do_not_use_the_lane(
    emu: Any, lane_log: list[object]
) -> None:
    ts = queued(emu, "one", "two")
    one, _ = worker(ts, concurrency=1)
    assert one.run_once().synced == 2
    ts.create_time(a_time("three"))
    limited = ts._queue().worker_for(ts._account())
    limited.concurrency = 4
    limited.limiter = RateLimiter(1000.0)
    limited.sender.before_request = limited.limiter.acquire
    assert limited.run_once().synced == 1
    assert lane_log == []


def test_a_transient_error_is_retried_by_a_thread_after_the_same_backoff(
    emu: Any, lane_log: list[object]
) -> None:
    ts = queued(emu, "retried")
    emu.fail_next(1, status=500, route="POST /times")
    emu.fail_next(1, status=503, route="POST /times")
    sync_worker, sleeps = worker(ts)
    assert sync_worker.run_once().synced == 1
    assert lane_log == [True]
    assert len(sleeps.calls) == 2  # after the lane's attempt, then after the thread's
    assert 0 <= sleeps.calls[0] <= 0.2 and 0 <= sleeps.calls[1] <= 0.4
    assert emu.request_count("POST /times") == 3 and len(on_server(emu, "retried")) == 1


def test_retry_after_from_the_lane_is_honoured(emu: Any, lane_log: list[object]) -> None:
    ts = queued(emu, "rate limited")
    emu.rate_limit_next(1, retry_after=3, route="POST /times")
    sync_worker, sleeps = worker(ts)
    assert sync_worker.run_once().synced == 1
    assert lane_log == [True] and sleeps.calls and sleeps.calls[0] >= 3


def test_transient_errors_all_through_the_pass_defer_with_the_same_attempts(
    emu: Any, lane_log: list[object]
) -> None:
    ts = queued(emu, "down")
    emu.fail_next(10, status=502, route="POST /times")
    sync_worker, _ = worker(ts)
    report = sync_worker.run_once()
    assert report.stopped == "offline" and report.synced == 0
    assert emu.request_count("POST /times") == sync_worker.policy.pass_attempts
    [op] = ts._queue().store.operations(ts._account())
    assert op.state == "pending" and op.attempts == 1 and op.next_attempt_at is not None


@pytest.mark.parametrize("fault", ["lose_response", "short body"])
def test_a_lost_answer_is_reconciled_not_sent_again(
    emu: Any, lane_log: list[object], fault: str
) -> None:
    ts = queued(emu, f"lost {fault}")
    if fault == "lose_response":
        emu.lose_response_next(1, route="POST /times")
    else:
        emu.garble_next(1, mode="short", route="POST /times")
    sync_worker, _ = worker(ts)
    assert sync_worker.run_once().synced == 1
    assert lane_log == [True]
    assert emu.request_count("POST /times") == 1  # found on the server, not re-sent
    assert len(on_server(emu, f"lost {fault}")) == 1


def test_a_read_timeout_on_the_lane_is_reconciled(emu: Any, lane_log: list[object]) -> None:
    ts = queued(emu, "slow answer", timeout=0.3)
    emu.add_latency(1.0, route="POST /times", n=1)
    sync_worker, _ = worker(ts)
    assert sync_worker.run_once().synced == 1
    assert lane_log == [True]
    assert len(on_server(emu, "slow answer")) == 1


def test_a_permanent_error_is_recorded_without_sending_again(
    emu: Any, lane_log: list[object]
) -> None:
    ts = queued(emu, "for bob", user="alice")
    # alice may not log time for bob: the server refuses it for good
    ts.create_time(a_time("not mine", user="bob"))
    sync_worker, _ = worker(ts)
    report = sync_worker.run_once()
    assert (report.synced, report.failed) == (1, 1)
    assert emu.request_count("POST /times") == 2  # the refused one was not re-sent
    [failed] = ts.failed()
    assert failed["payload"]["notes"] == "not mine"
    assert failed["last_error"]["status"] == 401


def test_a_refused_token_logs_in_again(emu: Any, lane_log: list[object]) -> None:
    ts = queued(emu, "token gone")
    ts._queue()._credentials = lambda: _Creds()  # the process still knows the password
    emu.invalidate_tokens()
    sync_worker, _ = worker(ts)
    report = sync_worker.run_once()
    assert report.synced == 1 and lane_log == [True]
    assert len(on_server(emu, "token gone")) == 1


class _Creds:
    username = "alice"
    password = "alice"
    auth_type = "password"


def test_an_unreachable_server_closes_the_lane_for_the_pass(
    emu: Any, lane_log: list[object]
) -> None:
    ts = queued(emu, "a", "b", "c")
    emu.stop()
    sync_worker, _ = worker(ts)
    report = sync_worker.run_once()
    assert report.stopped == "offline" and report.synced == 0
    assert len([x for x in lane_log if x is not True and x is not False]) == 1
    assert all(op.state == "pending" for op in ts._queue().store.operations(ts._account()))
