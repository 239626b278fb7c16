"""The sync engine against the emulator over loopback: lost responses, retries,
re-login, failures that don't block, conflicts, and the daemon."""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

import pymesync
from pymesync.sync import RetryPolicy, SyncWorker
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


def server(emu: Any, user: str = "admin") -> pymesync.TimeSync:
    return client(emu, user, mode="direct")


def a_time(**changes: Any) -> dict[str, Any]:
    return {
        "duration": 600,
        "project": "gwm",
        "user": "alice",
        "date_worked": YESTERDAY,
        "activities": ["dev"],
        "notes": "engine",
        **changes,
    }


def alices_times(emu: Any, notes: str) -> list[dict[str, Any]]:
    return [t for t in server(emu).get_times({"user": "alice"}) if t["notes"] == notes]


class Sleeps:
    """An injected sleep that records instead of waiting."""

    def __init__(self) -> None:
        self.calls: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)


def worker(ts: pymesync.TimeSync, sleep: Sleeps, **options: Any) -> SyncWorker:
    made = ts.sync_worker()
    made.sleep = sleep
    for name, value in options.items():
        setattr(made, name, value)
    return made


# ---------------------------------------------------------------- lost responses


def test_lost_response_on_create_time_leaves_exactly_one_copy(emu: Any) -> None:
    ts = client(emu)
    local = ts.create_time(a_time(notes="lost create"))["uuid"]
    emu.lose_response_next(1, route="POST /times")
    report = ts.sync()
    assert report.synced == 1 and report.failed == 0
    assert emu.request_count("POST /times") == 1  # reconciled, not sent again
    [only] = alices_times(emu, "lost create")
    assert ts.get_times({"uuid": local})[0]["uuid"] == only["uuid"]


def test_lost_response_on_update_does_not_add_a_second_revision(emu: Any) -> None:
    ts = client(emu)
    seeded = ts.get_times({"user": "alice"})[0]
    ts.update_time({"notes": "lost update"}, seeded["uuid"])
    emu.lose_response_next(1, route="POST /times/{uuid}")
    assert ts.sync().synced == 1
    assert emu.request_count("POST /times/{uuid}") == 1
    [now] = server(emu).get_times({"uuid": seeded["uuid"]})
    assert now["notes"] == "lost update" and now["revision"] == seeded["revision"] + 1


def test_lost_response_on_delete_counts_as_done(emu: Any) -> None:
    ts = client(emu)
    seeded = ts.get_times({"user": "alice"})[0]
    ts.delete_time(seeded["uuid"])
    emu.lose_response_next(1, route="DELETE /times/{uuid}")
    report = ts.sync()
    assert report.synced == 1 and report.failed == 0
    [gone] = server(emu).get_times({"uuid": seeded["uuid"], "include_deleted": True})
    assert gone["deleted_at"] is not None


@pytest.mark.parametrize(
    ("method", "args", "route"),
    [
        ("create_project", ({"name": "Lost", "slugs": ["lost"]},), "POST /projects"),
        ("update_project", ({"name": "GWM renamed"}, "gwm"), "POST /projects/{slug}"),
        ("delete_project", ("ps",), "DELETE /projects/{slug}"),
        ("create_activity", ({"name": "Lost", "slug": "lost"},), "POST /activities"),
        ("update_activity", ({"name": "Planning 2"}, "plan"), "POST /activities/{slug}"),
        ("create_user", ({"username": "lost", "password": "pw"},), "POST /users"),
        ("update_user", ({"display_name": "Bobby"}, "bob"), "POST /users/{username}"),
        ("delete_user", ("dave",), "DELETE /users/{username}"),
    ],
)
def test_lost_response_for_every_other_kind(
    emu: Any, method: str, args: tuple[Any, ...], route: str
) -> None:
    admin = client(emu, "admin")
    admin.get_projects()
    admin.get_activities()
    before = emu.request_count(route)
    getattr(admin, method)(*args)
    emu.lose_response_next(1, route=route)
    report = admin.sync()
    assert report.failed == 0 and report.synced == 1, report.as_dict()
    assert emu.request_count(route) - before >= 1
    direct = server(emu)
    if method == "create_project":
        assert [p["name"] for p in direct.get_projects()].count("Lost") == 1
    elif method == "update_project":
        [project] = direct.get_projects({"slug": "gwm"})
        assert project["name"] == "GWM renamed" and project["revision"] == 2
    elif method == "create_activity":
        assert [a["slug"] for a in direct.get_activities()].count("lost") == 1
    elif method == "update_activity":
        [activity] = direct.get_activities({"slug": "plan"})
        assert activity["name"] == "Planning 2" and activity["revision"] == 2
    elif method == "create_user":
        assert [u["username"] for u in direct.get_users()].count("lost") == 1
    elif method == "update_user":
        assert direct.get_users("bob")[0]["display_name"] == "Bobby"
    elif method.startswith("delete"):
        assert admin.status()["failed"] == 0


# ---------------------------------------------------------------- failures sorted


def test_bad_operation_at_the_head_does_not_block_the_rest(emu: Any) -> None:
    ts = client(emu)
    bad = ts.create_time(a_time(project="no-such-project", notes="bad"))
    for i in range(3):
        ts.create_time(a_time(notes=f"good {i}"))
    report = ts.sync()
    assert (report.synced, report.failed) == (3, 1)
    status = ts.status()
    assert status["failed"] == 1 and status["pending"] == 0
    [failed] = ts.failed()
    [refused] = [r for r in report.results if r.outcome == "failed"]
    assert failed["op_id"] == refused.op_id and failed["payload"]["notes"] == "bad"
    assert failed["last_error"]["body"]["error"] == "Invalid foreign key"
    assert ts.sync_status("time", bad["uuid"])["state"] == "failed"
    # never retried by itself, never dropped silently
    assert ts.sync().results == ()
    assert ts.status()["failed"] == 1
    assert ts.discard(failed["op_id"])["op_id"] == failed["op_id"]
    assert ts.status()["failed"] == 0 and ts.failed() == []


def test_time_waits_for_its_queued_project(emu: Any) -> None:
    admin = client(emu, "admin")
    admin.create_project(
        {
            "name": "New",
            "slugs": ["brand-new"],
            "default_activity": "dev",
            "users": {"admin": {"member": True, "spectator": False, "manager": True}},
        }
    )
    admin.create_time(a_time(user="admin", project="brand-new", notes="after project"))
    emu.fail_next(1, status=500, route="POST /projects")
    emu.fail_next(10, status=503, route="POST /projects")
    sleeps = Sleeps()
    slow = RetryPolicy(base=30.0)  # so that the project is surely not due in the next pass
    first = worker(admin, sleeps, policy=slow).run_once()
    outcomes = {r.entity: r.outcome for r in first.results}
    # the time went back to the queue while its project was in flight, or was held
    assert outcomes["project"] == "deferred" and outcomes.get("time", "held") == "held"
    assert emu.request_count("POST /times") == 0
    # the project is backing off: the time is held, not sent
    held = worker(admin, sleeps, policy=slow).run_once()
    assert emu.request_count("POST /times") == 0
    assert all(r.outcome in ("held",) for r in held.results), held.as_dict()
    emu.clear_faults()
    assert admin.sync().failed == 0
    assert [t["notes"] for t in server(emu).get_times({"project": "brand-new"})] == [
        "after project"
    ]


def test_time_whose_project_failed_is_held_not_sent(emu: Any) -> None:
    admin = client(emu, "admin")
    admin.create_project({"name": "Ganeti Web Manager", "slugs": ["dup-name"]})  # name taken
    admin.create_time(a_time(user="admin", project="dup-name"))
    report = admin.sync()
    assert [r.outcome for r in report.results] == ["failed", "held"]
    assert emu.request_count("POST /times") == 0


def test_transient_errors_are_retried_with_backoff_and_no_busy_loop(emu: Any) -> None:
    ts = client(emu)
    ts.create_time(a_time(notes="retried"))
    emu.fail_next(1, status=500)
    emu.fail_next(1, status=502)
    sleeps = Sleeps()
    report = worker(ts, sleeps).run_once()
    assert report.synced == 1 and len(sleeps.calls) == 2
    assert 0 <= sleeps.calls[0] <= 0.2 and 0 <= sleeps.calls[1] <= 0.4
    assert len(alices_times(emu, "retried")) == 1


def test_retry_after_is_honoured(emu: Any) -> None:
    ts = client(emu)
    ts.create_time(a_time(notes="rate limited"))
    emu.rate_limit_next(1, retry_after=3)
    sleeps = Sleeps()
    assert worker(ts, sleeps).run_once().synced == 1
    assert sleeps.calls and sleeps.calls[0] >= 3


def test_long_outage_defers_with_persisted_backoff(emu: Any) -> None:
    ts = client(emu)
    ts.create_time(a_time(notes="outage"))
    emu.fail_next(1000, status=503)
    sleeps = Sleeps()
    w = worker(ts, sleeps, policy=RetryPolicy(base=1000.0, cap=1000.0))
    report = w.run_once()
    assert report.stopped == "offline" and len(sleeps.calls) == 2
    [op] = w.store.operations(w.account)
    assert op.attempts == 1 and op.next_attempt_at is not None
    assert op.last_error is not None and "503" in op.last_error["message"]
    # not due yet: a second pass sends nothing at all
    count = emu.request_count()
    assert w.run_once().results == () and emu.request_count() == count
    status = ts.status()
    assert status["pending"] == 1 and status["next_retry"] is not None
    assert status["last_error"]["message"].endswith("response status was 503")


# ---------------------------------------------------------------- authentication


def test_token_invalidated_mid_queue_logs_in_again(emu: Any) -> None:
    ts = client(emu)
    for i in range(4):
        ts.create_time(a_time(notes=f"relogin {i}"))
    first = ts.token
    emu.restart()
    report = ts.sync()
    assert report.synced == 4 and ts.token != first
    assert all(len(alices_times(emu, f"relogin {i}")) == 1 for i in range(4))


def test_without_credentials_the_queue_waits_for_a_login(
    emu: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    token = client(emu).token
    ts = pymesync.TimeSync(emu.base_url, token=token, mode="queue")
    ts.create_time(a_time(notes="needs login"))
    emu.restart()
    report = ts.sync()
    assert report.stopped == "needs_login" and report.synced == 0
    status = ts.status()
    assert status["needs_login"] is True and status["pending"] == 1
    assert token is not None and token not in repr(status)
    monkeypatch.setenv("PYMESYNC_USERNAME", "alice")
    monkeypatch.setenv("PYMESYNC_PASSWORD", "alice")
    assert ts.sync().synced == 1
    assert ts.status()["needs_login"] is False
    assert len(alices_times(emu, "needs login")) == 1


def test_password_command_is_a_way_to_log_in(emu: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    token = client(emu).token
    ts = pymesync.TimeSync(emu.base_url, token=token, mode="queue")
    ts.create_time(a_time(notes="password command"))
    emu.restart()
    monkeypatch.setenv("PYMESYNC_PASSWORD_COMMAND", "echo alice")
    assert ts.sync().synced == 1


# ---------------------------------------------------------------- conflicts


@pytest.mark.parametrize(
    ("policy", "expected_notes", "state"),
    [("local", "mine", "synced"), ("server", "theirs", "synced"), ("hold", "theirs", "conflict")],
)
def test_conflicting_update_follows_the_policy(
    emu: Any, policy: str, expected_notes: str, state: str
) -> None:
    ts = client(emu, conflict_policy=policy)
    seeded = ts.get_times({"user": "alice"})[0]
    ts.update_time({"notes": "mine", "duration": 42}, seeded["uuid"])
    other = client(emu, mode="direct")
    other.update_time({"notes": "theirs"}, seeded["uuid"])
    report = ts.sync()
    [now] = server(emu).get_times({"uuid": seeded["uuid"]})
    assert now["notes"] == expected_notes
    if state == "conflict":
        assert report.failed == 1 and ts.status()["conflicts"] == 1
        assert now["duration"] == seeded["duration"]
    else:
        assert report.synced == 1 and now["duration"] == 42  # changed only here: sent
    log = ts.status()["conflict_log"]
    assert log and log[-1]["fields"] == ["notes"] and log[-1]["policy"] == policy


# ---------------------------------------------------------------- the daemon


def test_daemon_syncs_and_stops_cleanly(emu: Any, store_backend: str) -> None:
    """One daemon per SQLite file (a second is refused); on PostgreSQL a second one
    runs beside the first (several daemons share one queue there)."""
    from pymesync.daemon import DaemonAlreadyRunning, run_daemon

    ts = client(emu)
    for i in range(3):
        ts.create_time(a_time(notes=f"daemon {i}"))
    stop = threading.Event()
    thread = threading.Thread(
        target=run_daemon, args=(ts,), kwargs={"interval": 0.05, "stop": stop}
    )
    thread.start()
    try:
        deadline = time.monotonic() + 10
        while ts.status()["pending"] and time.monotonic() < deadline:
            time.sleep(0.05)
        assert ts.status()["pending"] == 0
        second = client(emu)
        if store_backend == "sqlite":
            with pytest.raises(DaemonAlreadyRunning):
                run_daemon(second, interval=0.05, stop=threading.Event())
        else:
            stop_second = threading.Event()
            failed: list[BaseException] = []

            def run_second() -> None:
                try:
                    run_daemon(second, interval=0.05, stop=stop_second)
                except BaseException as exc:  # (reported below)
                    failed.append(exc)

            beside = threading.Thread(target=run_second)
            beside.start()
            second.create_time(a_time(notes="daemon 3"))
            deadline = time.monotonic() + 10
            while ts.status()["pending"] and time.monotonic() < deadline:
                time.sleep(0.05)
            stop_second.set()
            beside.join(10)
            assert not beside.is_alive() and failed == []
            assert len(alices_times(emu, "daemon 3")) == 1
    finally:
        stop.set()
        thread.join(10)
    assert not thread.is_alive()
    assert all(len(alices_times(emu, f"daemon {i}")) == 1 for i in range(3))


def test_update_after_a_lost_create_response_is_not_merged_into_it(emu: Any) -> None:
    """Found by the state machine: the create may already be on the server, so a later
    update must not change what reconciliation looks for."""
    ts = client(emu, mode="auto", offline_retry=0)
    emu.lose_response_next(1)
    emu.fail_next(2, status=503)
    local = ts.create_time(a_time(notes="first"))["uuid"]
    ts.update_time({"notes": "second"}, local)
    emu.clear_faults()
    assert ts.wait_synced(timeout=10)
    assert [t["notes"] for t in alices_times(emu, "second")] == ["second"]
    assert alices_times(emu, "first") == []


def test_inline_write_held_behind_its_project_answers_provisionally(emu: Any) -> None:
    admin = client(emu, "admin", mode="queue")
    admin.create_project(
        {
            "name": "Held",
            "slugs": ["held-p"],
            "default_activity": "dev",
            "users": {"admin": {"member": True, "spectator": False, "manager": True}},
        }
    )
    emu.fail_next(100, status=503, route="POST /projects")
    admin.sync()  # the project now backs off
    auto = pymesync.TimeSync(emu.base_url, mode="auto", token=admin.token)
    made = auto.create_time(a_time(user="admin", project="held-p", notes="held inline"))
    assert made["notes"] == "held inline" and made["project"] == "held-p"
    assert auto.sync_status("time", made["uuid"])["state"] == "pending"


def test_identical_entries_stay_two_when_the_second_response_is_lost(emu: Any) -> None:
    """Reconciliation never adopts the user's earlier identical entry."""
    ts = client(emu)
    ts.create_time(a_time(notes="twin"))
    assert ts.sync().synced == 1
    ts.create_time(a_time(notes="twin"))
    emu.lose_response_next(1, route="POST /times")
    assert ts.sync().synced == 1
    assert len(alices_times(emu, "twin")) == 2


def test_long_pass_counts_everything_but_keeps_few_results(
    emu: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("pymesync.sync.KEEP_RESULTS", 2)
    ts = client(emu)
    for i in range(5):
        ts.create_time(a_time(notes=f"kept {i}"))
    ts.create_time(a_time(project="no-such-project", notes="refused"))
    report = ts.sync()
    assert (report.synced, report.failed) == (5, 1)
    assert report.totals == {"synced": 5, "failed": 1}
    assert len([r for r in report.results if r.outcome == "synced"]) == 2
    assert [r.outcome for r in report.results if r.outcome != "synced"] == ["failed"]
