"""Writes the server refuses for good stay visible, marked failed, and can be fixed.

Against the emulator over loopback with a real store file: project ``timesync`` has no
default activity, so a time logged for it without activities is refused (400) once it
reaches the server.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest

import pymesync
from pymesync.testing import run_emulator

DAY = (dt.datetime.now(dt.timezone.utc).date() - dt.timedelta(days=1)).isoformat()


@pytest.fixture
def emu() -> Iterator[Any]:
    with run_emulator(seed_data=True) as emulator:
        yield emulator


def client(emu: Any, **options: Any) -> pymesync.TimeSync:
    ts = pymesync.TimeSync(emu.base_url, **options)
    assert "token" in ts.authenticate("alice", "alice", "password")
    return ts


def server_times(emu: Any, notes: str) -> list[dict[str, Any]]:
    """What the server holds, asked by another client (no store)."""
    direct = client(emu, mode="direct")
    return [t for t in direct.get_times({"user": "alice"}) if t.get("notes") == notes]


def refused_entry(emu: Any, ts: pymesync.TimeSync, notes: str = "no activity") -> str:
    """Log a time offline that the server will refuse, sync it; its local uuid."""
    ts.get_projects()
    ts.get_times({"user": "alice"})
    emu.fail_next(1_000_000, status=503)
    entry = {"duration": 900, "project": "timesync", "user": "alice", "date_worked": DAY}
    created = ts.create_time({**entry, "notes": notes})
    emu.clear_faults()
    report = ts.sync()
    assert [r.outcome for r in report.results] == ["failed"]
    return str(created["uuid"])


def mine(ts: pymesync.TimeSync, uuid: str, **query: Any) -> list[dict[str, Any]]:
    return [t for t in ts.get_times({"user": "alice", **query}) if t["uuid"] == uuid]


def test_a_refused_create_stays_in_times_marked_failed(emu: Any) -> None:
    ts = client(emu)
    uuid = refused_entry(emu, ts)

    (shown,) = mine(ts, uuid)
    assert ts.last_read is not None and ts.last_read.source == "server"
    assert shown["notes"] == "no activity" and shown["duration"] == 900
    assert shown["activities"] == [] and shown["project"] == ["timesync", "ts"]
    (alone,) = mine(ts, uuid, project="timesync")  # the server's filters apply to it too
    assert alone == shown
    assert mine(ts, uuid, project="gwm") == []

    status = ts.sync_status("time", uuid)
    assert status["state"] == "failed" and status["server_id"] is None
    (op,) = status["operations"]
    assert op["kind"] == "create" and op["state"] == "failed"
    assert op["last_error"]["status"] == 400 and "activities" in op["last_error"]["message"]
    assert [o["op_id"] for o in ts.failed()] == [op["op_id"]]

    emu.fail_next(1_000_000, status=503)  # from the cache it is the same entry
    assert mine(ts, uuid) == [shown]
    assert ts.last_read is not None and ts.last_read.source == "cache"


def test_editing_a_refused_create_sends_one_corrected_create(emu: Any) -> None:
    ts = client(emu)
    uuid = refused_entry(emu, ts)
    posts = emu.request_count("POST /times")

    answer = ts.update_time({"activities": ["docs"]}, uuid)

    assert answer["activities"] == ["docs"] and answer["notes"] == "no activity"
    assert emu.request_count("POST /times") == posts + 1
    (on_server,) = server_times(emu, "no activity")
    assert on_server["activities"] == ["docs"] and on_server["duration"] == 900
    assert ts.failed() == [] and ts.status()["failed"] == 0
    status = ts.sync_status("time", uuid)
    assert status["state"] == "synced" and status["server_id"] == on_server["uuid"]
    assert [t["uuid"] for t in ts.get_times({"user": "alice"}) if t["notes"] == "no activity"] == [
        on_server["uuid"]
    ]


def test_in_queue_mode_the_edit_requeues_the_create_as_a_fresh_try(emu: Any) -> None:
    ts = client(emu, mode="queue")
    uuid = refused_entry(emu, ts)

    ts.update_time({"activities": ["docs", "dev"], "duration": 1200}, uuid)

    (op,) = ts.sync_status("time", uuid)["operations"]
    assert (op["kind"], op["state"], op["attempts"], op["last_error"]) == (
        "create",
        "pending",
        0,
        None,
    )
    (shown,) = mine(ts, uuid)
    assert shown["activities"] == ["dev", "docs"] and shown["duration"] == 1200
    report = ts.sync()
    assert [(r.kind, r.outcome) for r in report.results] == [("create", "synced")]
    (on_server,) = server_times(emu, "no activity")
    assert on_server["activities"] == ["dev", "docs"] and on_server["duration"] == 1200


def test_a_refused_again_edit_stays_failed_with_the_new_reason(emu: Any) -> None:
    ts = client(emu, mode="queue")
    uuid = refused_entry(emu, ts)
    ts.update_time({"duration": 1000}, uuid)  # still no activity
    assert [r.outcome for r in ts.sync().results] == ["failed"]
    (shown,) = mine(ts, uuid)
    assert shown["duration"] == 1000
    (op,) = ts.sync_status("time", uuid)["operations"]
    assert op["state"] == "failed" and op["attempts"] == 1
    assert server_times(emu, "no activity") == []


def test_deleting_a_refused_create_drops_it_and_sends_nothing(emu: Any) -> None:
    ts = client(emu)
    uuid = refused_entry(emu, ts)
    before = writes(emu)

    assert ts.delete_time(uuid) == {"status": 200}

    assert mine(ts, uuid) == [] and ts.failed() == []
    assert ts.sync_status("time", uuid)["state"] == "unknown"
    assert ts.sync().results == ()
    assert writes(emu) == before  # nothing was sent
    assert server_times(emu, "no activity") == []


def writes(emu: Any) -> dict[str, int]:
    """The emulator's counts of requests other than reads and logins."""
    routes: dict[str, int] = emu.stats()["routes"]
    return {k: n for k, n in routes.items() if not k.startswith(("GET", "POST /login"))}


def test_a_refused_update_shows_the_users_version_marked_failed(emu: Any) -> None:
    ts = client(emu, mode="queue")
    seeded = ts.get_times({"user": "alice"})[0]
    ts.update_time({"activities": ["no-such-activity"], "notes": "mine"}, seeded["uuid"])
    assert [r.outcome for r in ts.sync().results] == ["failed"]

    (shown,) = mine(ts, seeded["uuid"])
    assert ts.last_read is not None and ts.last_read.source == "server"
    assert shown["activities"] == ["no-such-activity"] and shown["notes"] == "mine"
    assert ts.sync_status("time", seeded["uuid"])["state"] == "failed"

    ts.update_time({"activities": ["docs"]}, seeded["uuid"])
    assert [(r.kind, r.outcome) for r in ts.sync().results] == [("update", "synced")]
    (fixed,) = mine(ts, seeded["uuid"])
    assert fixed["activities"] == ["docs"] and fixed["notes"] == "mine"
    assert ts.sync_status("time", seeded["uuid"])["state"] == "synced"
