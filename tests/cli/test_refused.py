"""An entry the server refused for good stays in `times`, marked failed with the reason,
and `edit` (queued again) or `rm` (dropped) deal with it. Project ``ts`` has no default
activity: a time logged offline for it without ``-a`` is refused once it reaches the
server."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import pymesync
from pymesync import cli

from .conftest import Run
from .helpers import offline, one_error_line

REASON = "400 Bad object: The time is missing a activities"


@pytest.fixture
def alice(emu: Any, run: Run, private_store: Path) -> Any:
    """Configured for alice and logged in by the library, which reads no project list
    (as an older pymesync did): the cache cannot tell that ``ts`` needs an activity,
    so the entry is queued and the server refuses it at the sync. (`pymesync login`
    reads the lists, and `log` then refuses such an entry up front.)"""
    assert run("config", "set", "base_url", emu.base_url).exit_code == 0
    assert run("config", "set", "username", "alice").exit_code == 0
    with pymesync.TimeSync(emu.base_url, db=private_store) as ts:
        assert "token" in ts.authenticate("alice", "alice", "password")
    return emu


def refused(run: Run, emu: Any, notes: str = "no activity") -> str:
    """Log an entry offline that the server refuses at the sync; its local uuid."""
    assert run("times").exit_code == 0  # (the cache knows the projects' times)
    offline(emu)
    logged = run("log", "15m", "-p", "ts", "-n", notes)
    assert logged.exit_code == 0, logged.output
    uuid = logged.stdout.split(" as ")[1].split(":")[0]
    emu.clear_faults()
    synced = run("sync")
    assert synced.exit_code == cli.EXIT_FAILED, synced.output
    return uuid


def entries(run: Run, notes: str) -> list[dict[str, Any]]:
    result = run("times", "--json")
    assert result.exit_code == 0, result.output
    return [t for t in json.loads(result.stdout)["times"] if t["notes"] == notes]


def test_times_shows_a_refused_entry_as_failed_with_the_reason(run: Run, alice: Any) -> None:
    uuid = refused(run, alice)

    result = run("times")
    assert result.exit_code == 0, result.output
    (row,) = [line for line in result.stdout.splitlines() if line.startswith(uuid[:8])]
    assert row.split()[-3:] == ["no", "activity", "failed"]
    notes = result.stderr.splitlines()
    assert f"{uuid[:8]} failed: {REASON}" in notes
    assert any("pymesync edit" in line and "pymesync rm" in line for line in notes)

    (entry,) = entries(run, "no activity")
    assert entry["uuid"] == uuid and entry["sync_state"] == "failed"
    assert entry["sync_error"] == REASON

    listed = run("failed", "list")
    assert "create time" in listed.stdout and uuid[:8] in listed.stdout
    assert "missing a activities" in listed.stdout


def test_edit_by_prefix_queues_it_again_and_it_syncs_once(run: Run, alice: Any) -> None:
    uuid = refused(run, alice)
    posts = alice.request_count("POST /times")

    result = run("edit", uuid[:8], "-a", "docs")

    assert result.exit_code == 0, result.output
    assert result.stdout.startswith(
        f"updated {uuid} (activities; the server had refused it): queued\nsynced as "
    )
    assert alice.request_count("POST /times") == posts + 1
    (entry,) = entries(run, "no activity")
    assert entry["activities"] == ["docs"] and entry["sync_state"] == "synced"
    assert entry["uuid"] != uuid and "sync_error" not in entry  # the server's uuid now
    assert run("failed", "list").stdout == "no failed operations\n"
    assert run("sync").exit_code == 0


def test_edit_offline_queues_it_again(run: Run, alice: Any) -> None:
    uuid = refused(run, alice)
    offline(alice)
    result = run("edit", uuid, "-a", "docs", "-a", "dev")
    assert result.exit_code == 0, result.output
    assert result.stdout == (
        f"updated {uuid} (activities; the server had refused it): queued\n"
        "not sent (server unreachable): stays queued, will sync later\n"
    )
    alice.clear_faults()
    assert run("sync").exit_code == 0
    (entry,) = entries(run, "no activity")
    assert entry["activities"] == ["dev", "docs"] and entry["sync_state"] == "synced"


def test_an_edit_the_server_refuses_again_is_the_error_and_stays_failed(
    run: Run, alice: Any
) -> None:
    uuid = refused(run, alice)
    message = one_error_line(run("edit", uuid[:8], "--notes", "still none"))
    assert "missing a activities" in message
    (entry,) = entries(run, "still none")
    assert entry["uuid"] == uuid and entry["sync_state"] == "failed"


def test_rm_by_prefix_drops_it_and_sends_nothing(run: Run, alice: Any) -> None:
    uuid = refused(run, alice)
    posts = alice.request_count("POST /times")

    result = run("rm", "--yes", uuid[:8])

    assert result.exit_code == 0, result.output
    assert result.stdout == f"removed {uuid}: it had not reached the server, nothing to sync\n"
    assert entries(run, "no activity") == []
    assert run("failed", "list").stdout == "no failed operations\n"
    assert run("sync").exit_code == 0
    assert alice.request_count("POST /times") == posts
    assert alice.request_count("DELETE /times/:uuid") == 0
