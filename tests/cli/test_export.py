"""`pymesync export` (CSV and JSON, every field, read back by the generic CSV import) and
`--json` on `log`, `edit` and `rm` (what happened, without scraping text); end to end
against the emulator, online and offline."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import pymesync
from pymesync import importers

from .conftest import Run
from .helpers import offline, one_error_line

DAY = "2025-03-03"
NOTES = 'design, "review" of café ☕\nsecond line'


def logged(run: Run, *args: str) -> dict[str, Any]:
    result = run("log", *args, "--json")
    assert result.exit_code == 0, result.output
    data: dict[str, Any] = json.loads(result.stdout)
    return data


def some_entries(run: Run) -> None:
    logged(run, "1h30m", "-p", "gwm", "-a", "dev", "-a", "docs", "-d", DAY, "-n", NOTES,
           "--issue", "https://example.com/issues/7")  # fmt: skip
    logged(run, "45m", "-p", "ts", "-a", "plan", "-d", "2025-03-04")


# --------------------------------------------------------------------------- export


def test_csv_has_every_field_rfc4180_quoting_and_crlf(run: Run, alice: Any) -> None:
    some_entries(run)
    result = run("export", "--from", DAY, "--to", "2025-03-09")
    assert result.exit_code == 0, result.output
    raw = result.stdout_bytes
    assert not raw.startswith(b"\xef\xbb\xbf")  # no BOM on stdout (pipes, scripts)
    text = raw.decode("utf-8")
    assert text.startswith(
        "uuid,date,duration,project,activities,notes,issue_uri,user,sync_state,"
        "revision,created_at,updated_at,deleted_at\r\n"
    )
    assert '"design, ""review"" of café ☕\nsecond line"' in text  # quoted, quotes doubled
    rows = list(csv.DictReader(io.StringIO(text, newline="")))
    assert [(r["date"], r["duration"], r["project"], r["activities"]) for r in rows] == [
        (DAY, "5400", "gwm", "dev;docs"),
        ("2025-03-04", "2700", "ts", "plan"),
    ]
    first = rows[0]
    assert first["notes"] == NOTES and first["issue_uri"] == "https://example.com/issues/7"
    assert first["user"] == "alice" and first["sync_state"] == "synced"
    assert len(first["uuid"]) == 36 and first["revision"] == "1" and first["deleted_at"] == ""


def test_csv_reads_back_with_the_generic_import(run: Run, alice: Any) -> None:
    some_entries(run)
    exported = run("export").stdout_bytes  # (the seed's entries of 2016 too)
    read = importers.read_csv(exported)
    assert read.problems == ()
    got = [
        (e.date_worked.isoformat(), e.duration, e.project, e.activities, e.notes,
         e.issue_uri, e.user)
        for e in read.entries
    ]  # fmt: skip
    mine = json.loads(run("times", "--json").stdout)["times"]
    want = [
        (t["date_worked"], t["duration"], min(t["project"], key=len), tuple(t["activities"]),
         t["notes"], t["issue_uri"], t["user"])
        for t in mine
    ]  # fmt: skip
    assert got == want and len(got) == 4
    # with the byte order mark a spreadsheet wants, too
    assert importers.read_csv(run("export", "--bom").stdout_bytes).entries == read.entries


def test_json_is_a_list_of_objects_with_the_sync_state(run: Run, alice: Any) -> None:
    some_entries(run)
    result = run("export", "--format", "json", "-p", "ts", "--from", DAY)
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert isinstance(data, list) and len(data) == 1
    (entry,) = data
    assert entry["project"] == ["timesync", "ts"] or sorted(entry["project"]) == ["timesync", "ts"]
    assert entry["duration"] == 2700 and entry["activities"] == ["plan"]
    assert entry["sync_state"] == "synced" and entry["user"] == "alice"
    assert {"uuid", "date_worked", "notes", "issue_uri", "revision", "created_at"} <= set(entry)


def test_to_a_file_whole_with_a_bom_and_bad_input_changes_nothing(
    run: Run, alice: Any, tmp_path: Path
) -> None:
    some_entries(run)
    folder = tmp_path / "out"
    folder.mkdir()
    target = folder / "times.csv"
    result = run("export", "-o", str(target), "--from", DAY)
    assert result.exit_code == 0, result.output
    assert result.stdout == "" and "wrote 2 entries to" in result.stderr
    data = target.read_bytes()
    assert data.startswith(b"\xef\xbb\xbfuuid,date,")  # Excel reads UTF-8 with the BOM
    assert [p.name for p in folder.iterdir()] == ["times.csv"]  # no temporary left
    message = one_error_line(run("export", "-o", str(target), "--from", "today", "--to", "-3d"))
    assert "is after --to" in message
    assert target.read_bytes() == data
    assert run("export", "-o", str(target), "--no-bom", "--from", DAY).exit_code == 0
    assert target.read_bytes() == data[3:]
    message = one_error_line(run("export", "-o", str(tmp_path / "nope" / "x.csv")))
    assert message.startswith("cannot write") and "no folder" in message
    message = one_error_line(run("export", "--format", "json", "--bom"))
    assert message == "--bom is for --format csv"


def test_offline_pending_and_failed_entries_are_exported_marked(
    run: Run, emu: Any, private_store: Path
) -> None:
    run("config", "set", "base_url", emu.base_url)
    run("config", "set", "username", "alice")
    with pymesync.TimeSync(emu.base_url, db=private_store) as ts:  # (no project list read)
        assert "token" in ts.authenticate("alice", "alice", "password")
    logged(run, "1h", "-p", "gwm", "-a", "dev", "-d", DAY)
    offline(emu)
    refused = logged(run, "15m", "-p", "ts", "-d", DAY, "-n", "no activity")["uuid"]
    emu.clear_faults()
    assert run("sync").exit_code == 4
    offline(emu)
    waiting = logged(run, "20m", "-p", "gwm", "-d", DAY, "-n", "waiting")["uuid"]
    result = run("export", "--format", "json")
    assert result.exit_code == 0, result.output
    assert "offline: from the local cache" in result.stderr
    states = {t["uuid"]: t["sync_state"] for t in json.loads(result.stdout)}
    assert states[refused] == "failed" and states[waiting] == "pending"
    assert sorted(states.values()) == ["failed", "pending", "synced"]
    rows = list(csv.DictReader(io.StringIO(run("export").stdout, newline="")))
    assert {r["uuid"]: r["sync_state"] for r in rows} == states


# --------------------------------------------------------------------------- --json writes


def test_log_json_online_synced(run: Run, alice: Any) -> None:
    result = run("log", "1h30m", "-p", "gwm", "-a", "dev", "-d", DAY, "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)  # stdout is the JSON object alone
    assert data["action"] == "logged" and data["outcome"] == "synced"
    assert data["state"] == "synced" and data["message"].startswith("synced")
    assert data["server_id"] and data["uuid"]
    assert data["entry"] == {
        "duration": 5400, "project": "gwm", "user": "alice", "date_worked": DAY,
        "activities": ["dev"],
    }  # fmt: skip
    assert "1h30m = 5400 s" in result.stderr and "logged 1:30 on gwm" in result.stderr
    times = json.loads(run("times", "--json").stdout)["times"]
    assert data["server_id"] in {t["uuid"] for t in times}


def test_log_json_offline_and_not_logged_in_say_why_not_sent(run: Run, alice: Any) -> None:
    offline(alice)
    data = logged(run, "1h", "-p", "gwm", "-d", DAY)
    assert (data["outcome"], data["state"], data["server_id"]) == ("queued", "pending", None)
    assert data["message"] == "not sent (server unreachable): stays queued, will sync later"
    assert run("logout").exit_code == 0
    data = logged(run, "1h", "-p", "gwm", "-d", DAY)
    assert data["outcome"] == "queued"
    assert "(not logged in)" in data["message"]


def test_edit_and_rm_json(run: Run, alice: Any) -> None:
    uuid = logged(run, "1h", "-p", "gwm", "-a", "dev", "-d", DAY)["server_id"]
    result = run("edit", uuid[:8], "--duration", "2h", "-n", "longer", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["action"] == "updated" and data["uuid"] == uuid and data["outcome"] == "synced"
    assert data["changes"] == {"duration": 7200, "notes": "longer"}
    assert "updated" in result.stderr
    result = run("rm", uuid, "--yes", "--json")
    data = json.loads(result.stdout)
    assert (data["action"], data["uuid"], data["outcome"]) == ("removed", uuid, "synced")
    # an entry that never reached the server (logged out: never sent) is dropped
    assert run("logout").exit_code == 0
    local = logged(run, "1h", "-p", "gwm", "-d", DAY)["uuid"]
    data = json.loads(run("rm", local, "--yes", "--json").stdout)
    assert (data["uuid"], data["outcome"], data["state"]) == (local, "dropped", "unknown")


def test_a_refused_log_prints_its_json_then_the_error(
    run: Run, emu: Any, private_store: Path
) -> None:
    run("config", "set", "base_url", emu.base_url)
    run("config", "set", "username", "alice")
    with pymesync.TimeSync(emu.base_url, db=private_store) as ts:
        assert "token" in ts.authenticate("alice", "alice", "password")
    result = run("log", "15m", "-p", "ts", "-d", DAY, "--json")
    assert result.exit_code == 4
    data = json.loads(result.stdout)
    assert (data["outcome"], data["state"], data["server_id"]) == ("failed", "failed", None)
    assert "the server refused it" in one_error_line(result, 4)


def test_a_link_is_followed_and_what_is_not_a_file_is_written_not_replaced(
    run: Run, alice: Any, tmp_path: Path
) -> None:
    """`-o` naming a symbolic link updates the file it names (the link stays), and one
    naming a named pipe (as `/dev/stdout` or a device) writes into it: replacing it by a
    regular file (as root, `export -o /dev/full` replaced the device node) is wrong."""
    import os
    import stat
    import threading

    some_entries(run)
    target = tmp_path / "times.csv"
    target.write_text("old\n")
    link = tmp_path / "link.csv"
    link.symlink_to(target)
    assert run("export", "-o", str(link), "--from", DAY).exit_code == 0
    assert link.is_symlink() and target.read_bytes().startswith(b"\xef\xbb\xbfuuid,date,")

    pipe = tmp_path / "pipe"
    os.mkfifo(pipe)
    got: list[bytes] = []
    reader = threading.Thread(target=lambda: got.append(pipe.read_bytes()), daemon=True)
    reader.start()
    result = run("export", "-o", str(pipe), "--from", DAY)
    reader.join(5)
    assert result.exit_code == 0, result.output
    assert stat.S_ISFIFO(os.lstat(pipe).st_mode)
    assert got and got[0].startswith(b"\xef\xbb\xbfuuid,date,")
