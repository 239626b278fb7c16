"""``pymesync undo`` end to end against the emulator: the last local change not synced
yet is taken back (a log removed, an edit reverted, a removal brought back, a timer's
stop removed whole), and nothing is sent for it; a change already synced, or leased
by a running sync, is refused with one line and nothing changed."""

from __future__ import annotations

import datetime as dt
import json
import os
from typing import Any

import pymesync
from pymesync.store import Store

from .conftest import Run
from .helpers import offline, one_error_line


def logged_uuid(result: Any) -> str:
    assert result.exit_code == 0, result.output
    return str(result.stdout.split(" as ")[1].split(":")[0])


def cached(run: Run, uuid: str) -> dict[str, Any] | None:
    """The entry ``uuid`` (local or server uuid) as `times --json` shows it, or None."""
    result = run("times", "--json", "--from", "-7d")
    assert result.exit_code == 0, result.output
    for entry in json.loads(result.stdout)["times"]:
        if uuid in (entry.get("uuid"), entry.get("local_uuid")):
            return dict(entry)
    return None


def server_notes(emu: Any) -> dict[str, Any]:
    admin = pymesync.TimeSync(emu.base_url, mode="direct", raise_errors=True)
    admin.authenticate("admin", "admin", "password")
    return {t["uuid"]: t for t in admin.get_times({"user": "alice", "include_deleted": True})}


def queued(run: Run) -> int:
    status = json.loads(run("status", "--json").stdout)
    return int(status["pending"]) + int(status["inflight"])


def test_undo_removes_an_offline_log_and_nothing_is_sent(run: Run, alice: Any) -> None:
    before = server_notes(alice)
    offline(alice)
    uuid = logged_uuid(run("log", "1h30m", "-p", "gwm", "-a", "dev", "-n", "design review"))
    undone = run("undo")
    assert undone.exit_code == 0, undone.output
    assert "undid the log: removed 1h30m gwm dev 'design review'" in undone.stdout
    assert uuid[:8] in undone.stdout
    assert queued(run) == 0
    alice.clear_faults()
    assert cached(run, uuid) is None
    assert run("sync").exit_code == 0
    assert server_notes(alice).keys() == before.keys()
    again = one_error_line(run("undo"), 1)
    assert again == "nothing to undo: no local change waits to be synced"


def test_undo_walks_back_folded_edits_one_at_a_time(run: Run, alice: Any) -> None:
    """Two edits of an unsent entry fold into its one create in the queue; each undo
    takes back one of them (the journal keeps the state before each)."""
    offline(alice)
    uuid = logged_uuid(run("log", "1h", "-p", "gwm", "-a", "dev", "-n", "first"))
    assert run("edit", uuid[:8], "-n", "second").exit_code == 0
    assert run("edit", uuid[:8], "--duration", "2h").exit_code == 0
    assert queued(run) == 1  # one create, the edits folded in
    first = run("undo")
    assert first.exit_code == 0, first.output
    assert "undid the edit: 1h gwm dev 'second'" in first.stdout
    entry = cached(run, uuid)
    assert entry is not None and (entry["duration"], entry["notes"]) == (3600, "second")
    assert "'first'" in run("undo").stdout
    entry = cached(run, uuid)
    assert entry is not None and (entry["duration"], entry["notes"]) == (3600, "first")
    alice.clear_faults()
    assert run("sync").exit_code == 0
    synced = [t for t in server_notes(alice).values() if t.get("notes") == "first"]
    assert len(synced) == 1 and synced[0]["duration"] == 3600


def test_undo_reverts_an_edit_and_a_removal_of_a_synced_entry(run: Run, alice: Any) -> None:
    uuid = logged_uuid(run("log", "45m", "-p", "gwm", "-a", "dev", "-n", "kept"))
    server = next(t for t in server_notes(alice).values() if t.get("notes") == "kept")
    offline(alice)
    assert run("edit", uuid[:8], "-n", "changed", "--duration", "2h").exit_code == 0
    reverted = run("undo")
    assert reverted.exit_code == 0, reverted.output
    assert "is as it was before" in reverted.stdout and "'kept'" in reverted.stdout
    entry = cached(run, server["uuid"])
    assert entry is not None and (entry["notes"], entry["duration"]) == ("kept", 2700)
    assert queued(run) == 0
    assert run("rm", "--yes", uuid[:8]).exit_code == 0
    assert cached(run, server["uuid"]) is None
    back = run("undo")
    assert back.exit_code == 0, back.output
    assert "undid the removal: 45m gwm dev 'kept'" in back.stdout and "is back" in back.stdout
    assert cached(run, server["uuid"]) is not None
    assert queued(run) == 0
    alice.clear_faults()
    assert run("sync").exit_code == 0
    now = server_notes(alice)[server["uuid"]]
    assert now.get("deleted_at") is None and now["notes"] == "kept"
    assert now.get("revision") == server.get("revision")


def test_undo_refuses_a_change_already_synced(run: Run, alice: Any) -> None:
    uuid = logged_uuid(run("log", "30m", "-p", "gwm", "-a", "dev", "-n", "online"))
    message = one_error_line(run("undo"), 1)
    assert message == f"nothing to undo: the last change (the create of time {uuid[:8]})" + (
        " has already been synced"
    )
    assert any(t.get("notes") == "online" for t in server_notes(alice).values())


def test_undo_never_takes_an_operation_leased_by_a_running_sync(run: Run, alice: Any) -> None:
    offline(alice)
    uuid = logged_uuid(run("log", "20m", "-p", "gwm", "-a", "dev", "-n", "leased"))
    with Store.open(os.environ["PYMESYNC_DB"], pooled=False) as store:
        account = next(op.account for op in store.operations())
        # (as a sync in another process does, once the push's back-off is over)
        later = dt.datetime.now(dt.timezone.utc) + dt.timedelta(hours=1)
        claimed = store.claim(account, "another-sync", 60.0, now=later)
        assert [op.target for op in claimed] == [uuid]
    message = one_error_line(run("undo"), 1)
    assert message.endswith("is being sent right now by a sync")
    assert cached(run, uuid) is not None
    assert queued(run) == 1


def test_undo_of_a_stop_removes_every_entry_it_made(run: Run, alice: Any) -> None:
    assert run("times").exit_code == 0  # (the cache knows the times: `times` offline)
    offline(alice)
    assert (
        run("start", "-p", "gwm", "-a", "dev", "-n", "late", "--at", "yesterday 23:00").exit_code
        == 0
    )
    stopped = run("stop", "--allow-long")
    assert stopped.exit_code == 0, stopped.output
    assert queued(run) == 2  # one entry per local day
    undone = run("undo", "--json")
    assert undone.exit_code == 0, undone.output
    answer = json.loads(undone.stdout)
    assert answer["kind"] == "stop" and len(answer["ids"]) == 2
    assert all(value is None for value in answer["restored"].values())
    assert queued(run) == 0
    assert all(cached(run, key) is None for key in answer["ids"])
    shown = run("undo")
    assert shown.exit_code == 1


def test_undo_never_reaches_past_an_import(run: Run, alice: Any, tmp_path: Any) -> None:
    """An import is a batch: undo neither takes it back nor skips over it to the log
    made before it (it would undo an older change in the last one's place)."""
    offline(alice)
    uuid = logged_uuid(run("log", "45m", "-p", "gwm", "-a", "dev", "-n", "before the import"))
    day = (dt.date.today() - dt.timedelta(days=1)).isoformat()
    source = tmp_path / "few.csv"
    source.write_text(f"date,duration,project,activities,notes\n{day},1h,gwm,dev,imported\n")
    done = run("import", str(source))
    assert done.exit_code == 0, done.output
    assert queued(run) == 2
    refused = one_error_line(run("undo"), 1)
    assert refused.startswith("nothing to undo"), refused
    assert queued(run) == 2
    assert cached(run, uuid) is not None
