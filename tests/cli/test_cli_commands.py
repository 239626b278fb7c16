"""Every command and its error paths, in-process (CliRunner) against a thread emulator."""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path
from typing import Any

import pytest

import pymesync
from pymesync import cli, tables

from .conftest import Run
from .helpers import offline, one_error_line

TODAY = dt.date.today().isoformat()
YESTERDAY = (dt.date.today() - dt.timedelta(days=1)).isoformat()


def my_times(run: Run, *args: str) -> list[dict[str, Any]]:
    result = run("times", "--json", *args)
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    times: list[dict[str, Any]] = data["times"]
    return times


def stored_token(emu: Any, db: Path) -> str | None:
    with pymesync.TimeSync.resume(emu.base_url, "alice", db=db) as ts:
        return ts.token


def status(run: Run) -> dict[str, Any]:
    result = run("status", "--json")
    assert result.exit_code == 0, result.output
    data: dict[str, Any] = json.loads(result.stdout)
    return data


# --------------------------------------------------------------------------- login


def test_login_prompts_without_echo_and_keeps_only_the_token(
    run: Run, emu: Any, private_store: Path, private_config: Path
) -> None:
    run("config", "set", "base_url", emu.base_url)
    run("config", "set", "username", "alice")
    result = run("login", input="alice\n")
    assert result.exit_code == 0, result.output
    assert f"Password for alice at {emu.base_url}:" in result.output
    assert "logged in as alice" in result.stdout and "valid until" in result.stdout
    assert "alice\n" not in result.output.split(":", 1)[1].split("logged in")[0]
    token = stored_token(emu, private_store)
    assert token
    assert b"alice\n" not in private_config.read_bytes()
    for args in (("status",), ("status", "--json"), ("config", "list"), ("times", "--json")):
        assert token not in run(*args).output


def test_login_asks_for_the_username_and_remembers_it(
    run: Run, emu: Any, private_config: Path
) -> None:
    result = run("--url", emu.base_url, "login", input="bob\nbob\n")
    assert result.exit_code == 0, result.output
    assert "Username:" in result.output
    assert "saved base_url, username" in result.stderr
    text = private_config.read_text()
    assert 'username = "bob"' in text and emu.base_url in text
    assert run("status").exit_code == 0


def test_wrong_password(run: Run, emu: Any) -> None:
    run("config", "set", "base_url", emu.base_url)
    run("config", "set", "username", "alice")
    message = one_error_line(run("login", "--password-stdin", input="nope\n"), cli.EXIT_LOGIN)
    assert message == "login refused by the server: Incorrect username or password"
    assert "no password given" in one_error_line(run("login", "--password-stdin", input="\n"))


def test_login_to_an_unreachable_server(run: Run) -> None:
    run("config", "set", "base_url", "http://127.0.0.1:9/v0")
    run("config", "set", "username", "alice")
    message = one_error_line(run("login", "--password-stdin", input="x\n"), cli.EXIT_OFFLINE)
    assert message.startswith("server unreachable: connection to TimeSync failed")


def test_logout(run: Run, alice: Any, private_store: Path) -> None:
    result = run("logout")
    assert result.stdout == "logged out\n"
    assert stored_token(alice, private_store) is None
    assert run("logout").stdout == "was not logged in\n"
    assert status(run)["logged_in"] is False
    assert "not logged in" in run("status").stdout
    message = one_error_line(run("times"), cli.EXIT_LOGIN)
    assert message == f"not logged in as alice at {alice.base_url}: run `pymesync login`"
    # logging needs no login: the entry waits in the queue for one
    logged = run("log", "1h", "-p", "gwm")
    assert logged.exit_code == 0, logged.output
    assert logged.stdout.endswith(": queued, will sync after `pymesync login` (not logged in)\n")
    assert "not logged in" in one_error_line(run("sync"), cli.EXIT_LOGIN)


# --------------------------------------------------------------------------- log


def test_log_online_is_synced(run: Run, alice: Any) -> None:
    result = run("log", "1h30m", "-p", "gwm", "-a", "dev", "-n", "review", "--issue", "https://i/1")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == "1h30m = 5400 s"
    assert lines[1].startswith(f"logged 1:30 on gwm (dev) for {TODAY} as ")
    assert lines[1].endswith(": queued")  # on disk: the answer does not wait for the push
    local = lines[1].split(" as ")[1].split(":")[0]
    assert lines[2].startswith("synced as ") and len(lines) == 3
    uuid = lines[2].removeprefix("synced as ")
    assert uuid != local
    (entry,) = [t for t in my_times(run) if t["uuid"] == uuid]
    assert entry["duration"] == 5400 and entry["notes"] == "review"
    assert entry["issue_uri"] == "https://i/1" and entry["date_worked"] == TODAY
    assert entry["sync_state"] == "synced"


def test_log_offline_is_queued_then_synced(run: Run, alice: Any) -> None:
    offline(alice)
    result = run("log", "90m", "-p", "gwm", "-n", "offline work", "--date", "yesterday")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[0] == "90m = 5400 s (1:30)"
    assert result.stdout.rstrip().endswith(
        ": queued\nnot sent (server unreachable): stays queued, will sync later"
    )
    local = result.stdout.split(" as ")[1].split(":")[0]

    data = status(run)
    assert data["pending"] == 1 and data["logged_in"] is True

    table = run("times")
    assert table.exit_code == 0
    assert "offline: from the local cache" in table.stderr
    row = next(line for line in table.stdout.splitlines() if line.startswith(local[:8]))
    assert row.split()[1:3] == [YESTERDAY, "1:30"] and row.endswith("pending")

    assert one_error_line(run("sync"), cli.EXIT_OFFLINE).startswith("server unreachable")
    alice.clear_faults()
    synced = run("sync")
    assert synced.exit_code == 0, synced.output
    assert synced.stdout.startswith(f"synced      create time {local[:8]} -> ")
    assert synced.stdout.endswith("synced 1 operation(s)\n")
    assert run("sync").stdout == "nothing to sync\n"
    times = my_times(run)
    assert all(t["sync_state"] == "synced" for t in times)
    assert [t["notes"] for t in times].count("offline work") == 1
    assert status(run)["pending"] == 0


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["log", "ninety", "-p", "gwm"], "not a duration: 'ninety'"),
        (["log", "0", "-p", "gwm"], "duration must be more than zero"),
        (["log", "1h", "-p", "gwm", "--date", "someday"], "not a date: 'someday'"),
        (["log", "1h", "-p", "nope"], "unknown project 'nope' (known: ganeti-webmgr, gwm,"),
        (["log", "1h", "-p", "gwm", "-a", "fun"], "unknown activity 'fun' (known: dev, docs,"),
        (["log", "1h"], "no project: give --project or run `pymesync config set default_project"),
        (["log", "1h", "-p", "gwm", "-n", " "], "--notes cannot be empty"),
    ],
)
def test_log_errors(run: Run, alice: Any, args: list[str], fragment: str) -> None:
    run("projects")  # the lists of projects and activities in the cache: checked up front
    run("activities")
    assert fragment in one_error_line(run(*args), 1)
    assert status(run)["pending"] == 0


def test_log_uses_the_configured_defaults(run: Run, alice: Any) -> None:
    run("config", "set", "default_project", "ts")
    run("config", "set", "default_activity", "docs")
    result = run("log", "2h")
    assert result.exit_code == 0, result.output
    assert f"logged 2:00 on ts (docs) for {TODAY}" in result.stdout
    assert "docs" in [a for t in my_times(run, "-p", "ts") for a in t["activities"]]


def test_log_with_an_unknown_project_offline_is_refused_from_the_cache(
    run: Run, alice: Any
) -> None:
    run("projects")  # fills the cache
    offline(alice)
    message = one_error_line(run("log", "1h", "-p", "brand-new"), 1)
    assert message.startswith("unknown project 'brand-new' (known: ganeti-webmgr, gwm, ps,")
    assert "`pymesync projects` refreshes the list" in message
    assert status(run)["pending"] == 0


def test_log_with_an_expired_login_is_queued(run: Run, alice: Any) -> None:
    alice.restart()  # the server forgets every token
    result = run("log", "1h", "-p", "gwm")
    assert result.exit_code == 0, result.output
    assert result.stdout.endswith(
        "not sent (the server refused the login): stays queued until `pymesync login`\n"
    )
    data = status(run)
    assert data["needs_login"] is True and data["pending"] == 1
    assert "needed: the server refused the stored login" in run("status").stdout
    message = one_error_line(run("sync"), cli.EXIT_LOGIN)
    assert "refused the stored login: run `pymesync login`" in message
    # the times do not fail: the cache answers, saying why and how old it is
    times = run("times")
    assert times.exit_code == 0, times.output
    assert times.stderr.startswith(
        "the server refused the login (run `pymesync login`): from the local cache"
    )
    assert "1:00" in times.stdout and "pending" in times.stdout
    login = run("login", "--password-stdin", input="alice\n")
    assert "1 queued operation(s) waiting: run `pymesync sync`" in login.stderr
    assert run("sync").exit_code == 0
    assert status(run)["needs_login"] is False


# --------------------------------------------------------------------------- edit / rm


def logged(run: Run, *args: str) -> str:
    """The entry's uuid: the server's once it is synced (``synced as ...``), else the
    local one (printed first)."""
    result = run("log", *args)
    assert result.exit_code == 0, result.output
    last = result.stdout.splitlines()[-1]
    if last.startswith("synced as "):
        return last.removeprefix("synced as ")
    return result.stdout.split(" as ")[1].split(":")[0]


def test_edit_by_prefix(run: Run, alice: Any) -> None:
    uuid = logged(run, "1h", "-p", "gwm", "-n", "before")
    result = run("edit", uuid[:8], "--duration", "45m", "--notes", "after", "-a", "docs")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        "45m = 2700 s",
        f"updated {uuid} (activities, duration, notes): queued",
        "synced",
    ]
    (entry,) = [t for t in my_times(run) if t["uuid"] == uuid]
    assert (entry["duration"], entry["notes"], entry["activities"]) == (2700, "after", ["docs"])
    assert run("edit", uuid.upper()[:6], "--date", "yesterday").exit_code == 0
    (entry,) = [t for t in my_times(run) if t["uuid"] == uuid]
    assert entry["date_worked"] == YESTERDAY


def test_edit_errors(run: Run, alice: Any) -> None:
    uuid = logged(run, "1h", "-p", "gwm")
    assert "nothing to change" in one_error_line(run("edit", uuid[:8]), 1)
    assert "--notes cannot be empty" in one_error_line(run("edit", uuid[:8], "--notes", ""), 1)
    assert "no time entry with an id starting with 'zzz'" in one_error_line(
        run("edit", "zzz", "--notes", "x"), 1
    )
    assert "unknown unit 'x'" in one_error_line(run("edit", uuid[:8], "--duration", "1x2"), 1)
    run("projects")
    assert "unknown project 'nope'" in one_error_line(run("edit", uuid[:8], "-p", "nope"), 1)


def test_edit_offline_by_local_uuid(run: Run, alice: Any) -> None:
    offline(alice)
    local = logged(run, "1h", "-p", "gwm")
    result = run("edit", local, "--notes", "edited offline")
    assert result.exit_code == 0, result.output
    assert result.stdout.endswith("not sent (server unreachable): stays queued, will sync later\n")
    assert run("edit", local[:8], "--notes", "again").exit_code == 0
    alice.clear_faults()
    assert run("sync").exit_code == 0
    notes = [t["notes"] for t in my_times(run)]
    assert "again" in notes


def test_rm(run: Run, alice: Any) -> None:
    uuid = logged(run, "1h", "-p", "gwm", "-n", "doomed")
    result = run("rm", "--yes", uuid[:8])
    assert result.exit_code == 0, result.output
    assert result.stdout == f"removed {uuid}: queued\nsynced\n"
    assert uuid not in [t["uuid"] for t in my_times(run)]
    (entry,) = [t for t in my_times(run, "--deleted") if t["uuid"] == uuid]
    assert entry["deleted_at"]
    table = run("times", "--deleted").stdout
    assert "synced, deleted" in table
    assert "no time entry" in one_error_line(run("rm", "--yes", uuid[:8]), 1)


def test_rm_offline(run: Run, alice: Any) -> None:
    uuid = logged(run, "1h", "-p", "gwm")
    offline(alice)
    result = run("rm", "--yes", uuid[:8])
    assert result.exit_code == 0, result.output
    assert result.stdout == (
        f"removed {uuid}: queued\nnot sent (server unreachable): stays queued, will sync later\n"
    )
    alice.clear_faults()
    assert run("sync").exit_code == 0
    assert uuid not in [t["uuid"] for t in my_times(run)]


def test_resolve_prefix() -> None:
    ids = ["abc12345-0000", "abd99999-0000", "ffff0000-0000"]
    assert cli.resolve_prefix("ABC", ids, "time entry") == "abc12345-0000"
    with pytest.raises(cli.CliError, match="'ab' is ambiguous: 2 time entries start with it"):
        cli.resolve_prefix("ab", ids, "time entry", "time entries")
    with pytest.raises(cli.CliError, match=r"2 failed operations start with it \(abc12345, abd9"):
        cli.resolve_prefix("a", ids, "failed operation")
    with pytest.raises(cli.CliError, match="no time entry with an id starting with 'x'"):
        cli.resolve_prefix("x", ids, "time entry")
    with pytest.raises(cli.CliError, match="empty"):
        cli.resolve_prefix(" ", ids, "time entry")
    full = "0b2b8a4e-8f0a-4a4e-9b7e-2b1c3d4e5f60"
    assert cli.resolve_prefix(full.upper(), [], "time entry") == full


# --------------------------------------------------------------------------- reads


def test_times_table_with_totals(run: Run, alice: Any) -> None:
    logged(run, "1h30m", "-p", "gwm", "-n", "one")
    logged(run, "45m", "-p", "ts", "-a", "docs", "-n", "two", "--date", "yesterday")
    result = run("times", "--from", "yesterday")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["ID", "DATE", "TIME", "PROJECT", "ACTIVITIES", "NOTES", "SYNC"]
    assert lines[1].split()[1:] == [YESTERDAY, "0:45", "ts", "docs", "two", "synced"]
    assert lines[2].split()[1:] == [TODAY, "1:30", "gwm", "dev", "one", "synced"]
    assert lines[3].startswith("--------")
    assert lines[4].split() == ["total", "2", "entries", "2:15"]
    assert result.stderr == ""
    assert "\x1b[" not in result.output


def test_times_filters_and_json(run: Run, alice: Any) -> None:
    seeded = my_times(run)
    assert {t["date_worked"] for t in seeded} == {"2016-05-02", "2016-05-04"}
    data = json.loads(run("times", "--json", "-p", "ts").stdout)
    assert data["source"] == "server" and data["total_seconds"] == 5400
    assert [t["duration"] for t in data["times"]] == [5400]
    assert my_times(run, "--to", "2016-05-03")[0]["date_worked"] == "2016-05-02"
    assert my_times(run, "-a", "plan")[0]["activities"] == ["plan"]
    assert {t["user"] for t in my_times(run, "--all-users")} == {"alice"}  # all she may see
    assert run("--user", "admin", "login", "--password-stdin", input="admin\n").exit_code == 0
    everyone = json.loads(run("--user", "admin", "times", "--all-users", "--json").stdout)
    assert {t["user"] for t in everyone["times"]} == {"alice", "bob"}
    bobs = json.loads(run("--user", "admin", "times", "-u", "bob", "--json").stdout)
    assert {t["user"] for t in bobs["times"]} == {"bob"}
    table = run("--user", "admin", "times", "--all-users").stdout
    assert table.splitlines()[0].split()[3] == "USER"
    assert run("times", "--from", "2001-01-01", "--to", "2001-01-02").stdout == "no time entries\n"
    assert "not a date" in one_error_line(run("times", "--from", "soon"), 1)


def test_times_offline_without_any_cache(run: Run, alice: Any) -> None:
    offline(alice)
    message = one_error_line(run("times"), cli.EXIT_OFFLINE)
    assert message.startswith("server unreachable:")


def test_projects_activities_users(run: Run, alice: Any) -> None:
    projects = run("projects")
    assert projects.exit_code == 0
    assert projects.stdout.splitlines()[0].split() == [
        "SLUGS",
        "NAME",
        "DEFAULT",
        "ACTIVITY",
        "URI",
    ]
    assert "ganeti-webmgr, gwm  Ganeti Web Manager  dev" in projects.stdout
    data = json.loads(run("projects", "--json").stdout)
    assert data["source"] == "server"
    assert sorted(p["name"] for p in data["projects"]) == [
        "Ganeti Web Manager",
        "TimeSync",
        "pymesync",
    ]

    activities = run("activities")
    assert activities.stdout.splitlines()[1:] == [
        "dev   Development",
        "docs  Documentation",
        "plan  Planning",
    ]
    assert len(json.loads(run("activities", "--json").stdout)["activities"]) == 3

    users = run("users")
    assert users.exit_code == 0
    admin = next(line for line in users.stdout.splitlines() if line.startswith("admin"))
    assert admin.endswith("admin, manager")
    assert {u["username"] for u in json.loads(run("users", "--json").stdout)["users"]} >= {
        "alice",
        "bob",
    }

    offline(alice)
    cached = run("projects")
    assert cached.exit_code == 0
    assert "offline: from the local cache, last refreshed" in cached.stderr
    assert json.loads(run("projects", "--json").stdout)["source"] == "cache"
    assert run("activities").exit_code == 0
    assert run("users").exit_code == 0


# --------------------------------------------------------------------------- queue


def test_status_text_and_json(run: Run, alice: Any) -> None:
    text = run("status")
    assert text.exit_code == 0
    labels = [line.split("  ")[0] for line in text.stdout.splitlines()]
    assert labels == [
        "account",
        "login",
        "pending",
        "in flight",
        "failed",
        "conflicts",
        "last success",
        "last error",
        "next retry",
        "store",
    ]
    assert f"alice at {alice.base_url}" in text.stdout
    data = status(run)
    for key in (
        "pending", "inflight", "failed", "conflicts", "oldest_pending_age", "last_success",
        "last_error", "next_retry", "needs_login", "logged_in", "token_expires", "store",
    ):  # fmt: skip
        assert key in data
    assert data["account"] == {"base_url": alice.base_url, "username": "alice"}
    assert data["token_expired"] is False
    assert "token" not in json.dumps(data).replace("token_expire", "")


def test_failed_operations_list_retry_discard(run: Run, alice: Any) -> None:
    offline(alice)
    run("log", "1h", "-p", "ps", "-n", "not a member")  # alice has no role in ps
    run("log", "2h", "-p", "ps", "-n", "me neither")
    alice.clear_faults()
    result = run("sync")
    message = one_error_line(result, cli.EXIT_FAILED)
    assert message == "2 operation(s) failed and wait for you: see `pymesync failed list`"
    # one cause, two operations: one line that says so
    [refused] = [line for line in result.stdout.splitlines() if "not authorized" in line]
    assert refused.startswith("2 operations failed: 401 Authorization failure")
    assert one_error_line(run("sync"), cli.EXIT_FAILED).startswith("2 operation(s) failed")
    assert status(run)["failed"] == 2
    assert "see `pymesync failed list`" in run("status").stderr

    ops = json.loads(run("failed", "list", "--json").stdout)
    assert [op["state"] for op in ops] == ["failed", "failed"]
    listed = run("failed", "list")
    assert listed.stdout.splitlines()[0].split()[:4] == ["OP", "STATE", "WHAT", "TARGET"]
    assert "create time" in listed.stdout and "not authorized" in listed.stdout

    first, second = ops[0]["op_id"], ops[1]["op_id"]
    retried = run("failed", "retry", first[:8])
    assert retried.stdout == f"{first} (create time) will be sent at the next `pymesync sync`\n"
    assert one_error_line(run("sync"), cli.EXIT_FAILED)
    discarded = run("failed", "discard", "--yes", second)
    assert discarded.exit_code == 0
    assert discarded.stdout.startswith(f"discarded {second} (create time)")
    assert run("failed", "discard", "--yes", first[:10]).exit_code == 0
    assert run("failed", "list").stdout == "no failed operations\n"
    assert run("sync").exit_code == 0
    assert "no failed operation" in one_error_line(run("failed", "retry", "abc"), 1)


def test_sync_json(run: Run, alice: Any) -> None:
    offline(alice)
    logged(run, "1h", "-p", "gwm")
    alice.clear_faults()
    result = run("sync", "--json")
    assert result.exit_code == 0
    data = json.loads(result.stdout)
    assert data["synced"] == 1 and data["status"]["pending"] == 0
    assert data["results"][0]["outcome"] == "synced"


def test_sync_prints_a_problem_once_and_exits_non_zero(run: Run, alice: Any) -> None:
    """Six operations stopped by one refused token: one line that says so, not six
    identical 401 lines, and the login exit status."""
    offline(alice)
    for n in range(6):
        logged(run, f"{n + 1}h", "-p", "gwm")
    alice.clear_faults()
    alice.invalidate_tokens()
    result = run("sync")
    assert result.exit_code == 5, result.output
    lines = [line for line in result.stdout.splitlines() if "401" in line]
    assert len(lines) == 1, result.stdout
    assert lines[0].startswith("6 operations needs login: 401")


def test_sync_exits_non_zero_when_an_operation_fails(run: Run, alice: Any) -> None:
    """One operation the engine cannot send (put in the store as a bug or an older
    client could) fails alone: the others sync, the exit status says it failed."""
    import pymesync
    from pymesync.store import NewOperation, Store

    logged(run, "1h", "-p", "gwm")
    ts = pymesync.TimeSync.resume(alice.base_url, "alice", mode="queue")
    assert ts.account is not None and ts.store_path is not None
    payload = {
        "duration": 60,
        "project": ["gwm", "ts"],
        "user": "alice",
        "date_worked": "2026-12-01",
    }
    with Store.open(ts.store_path) as store:
        store.enqueue(NewOperation(ts.account, "create", "time", "poison", payload))
    logged(run, "2h", "-p", "gwm")
    result = run("sync")
    assert result.exit_code == 4, result.output
    assert "1 operation(s) failed" in result.stderr
    assert run("status", "--json").exit_code == 0


def test_sync_progress_bar_on_a_terminal(
    run: Run, alice: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    offline(alice)
    for n in range(4):
        logged(run, f"{n + 1}h", "-p", "gwm")
    alice.clear_faults()
    monkeypatch.setattr(tables, "is_terminal", lambda stream: True)
    result = run("sync")
    assert result.exit_code == 0, result.output
    assert "syncing" in result.stderr  # click draws the bar itself on a real terminal
    assert result.stdout == "synced 4 operation(s)\n"


def test_colour_on_a_terminal_never_with_no_color(
    run: Run, alice: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TERM", "xterm")
    monkeypatch.setattr(tables, "is_terminal", lambda stream: True)
    assert "\x1b[32mlogged in until" in run("status", color=True).stdout
    assert "\x1b[1mID\x1b[0m" in run("times", color=True).stdout
    monkeypatch.setenv("NO_COLOR", "1")
    assert "\x1b[" not in run("status", color=True).output
    assert "\x1b[" not in run("times", color=True).output


def test_daemon_refuses_a_second_one(run: Run, alice: Any, private_store: Path) -> None:
    from pymesync.daemon import store_lock

    with store_lock(private_store):
        message = one_error_line(run("daemon", "--interval", "1"), 1)
    assert message == f"another pymesync daemon is already syncing {private_store}"


def test_demo_in_process(run: Run, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PYMESYNC_URL", "http://127.0.0.1:9/v0")  # never used by the demo
    monkeypatch.setenv("PYMESYNC_DB", str(tmp_path / "mine.sqlite3"))
    result = run("demo")
    assert result.exit_code == 0, result.output
    assert "synced 4 operation(s)" in result.stdout
    assert "offline: from the local cache" in result.stdout
    assert result.stdout.rstrip().endswith("the emulator and the throwaway store are gone.")
    assert not (tmp_path / "mine.sqlite3").exists()


def test_emulator_command_wiring(run: Run, monkeypatch: pytest.MonkeyPatch) -> None:
    import pymesync.testing

    seen: dict[str, Any] = {}
    monkeypatch.setattr(pymesync.testing, "serve", lambda **kwargs: seen.update(kwargs))
    result = run("emulator", "--port", "8123", "--seed-data", "--db", "x.sqlite3")
    assert result.exit_code == 0, result.output
    assert seen == {"port": 8123, "seed_data": True, "db": "x.sqlite3", "prefix": "/v0"}


def test_version(run: Run) -> None:
    result = run("--version")
    assert result.exit_code == 0 and pymesync.__version__ in result.stdout


def test_ambiguous_prefix_is_one_clear_error(run: Run, alice: Any) -> None:
    seen: dict[str, str] = {t["uuid"][0]: t["uuid"] for t in my_times(run)}
    for _ in range(17):  # 16 hex digits: a shared first character is certain by then
        uuid = logged(run, "10m", "-p", "gwm")
        if uuid[0] in seen:
            break
        seen[uuid[0]] = uuid
    message = one_error_line(run("rm", "--yes", uuid[0]), 1)
    assert message.startswith(f"'{uuid[0]}' is ambiguous: ")
    assert "time entries start with it" in message and message.endswith("give more characters")
    assert uuid in [t["uuid"] for t in my_times(run)]


def test_times_from_after_to_is_a_clear_error(run: Run, alice: Any) -> None:
    message = one_error_line(run("times", "--from", "2026-12-05", "--to", "2026-12-01"))
    assert message == "--from 2026-12-05 is after --to 2026-12-01: nothing could match"


def test_log_takes_a_duration_of_several_words(run: Run, alice: Any) -> None:
    """`pymesync log 8 hours`, as docs/cli.md's table promises (`2 hours`)."""
    result = run("log", "8", "hours", "-p", "gwm", "-a", "dev")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[0] == "8 hours = 28800 s (8:00)"
    assert "Error" not in result.output
    assert run("log", "-p", "gwm").exit_code != 0  # still required


def test_the_deleted_total_does_not_count_deleted_time(run: Run, alice: Any) -> None:
    kept = logged(run, "1h", "-p", "gwm", "-a", "dev", "-n", "kept")
    gone = logged(run, "2h", "-p", "gwm", "-a", "dev", "-n", "gone")
    assert run("rm", "--yes", gone).exit_code == 0
    data = json.loads(run("times", "--json", "--deleted").stdout)
    mine = [t for t in data["times"] if t["uuid"] in (kept, gone)]
    assert len(mine) == 2
    live = sum(t["duration"] for t in data["times"] if not t.get("deleted_at"))
    assert data["total_seconds"] == live
    table = run("times", "--deleted").stdout
    assert "deleted, not counted" in table.splitlines()[-1]


def test_the_cache_note_gives_the_age_once(run: Run, alice: Any) -> None:
    """(found in review: "last refreshed 2026-12-07 21:45:01, 10 s ago, 10 s ago")"""
    assert run("times").exit_code == 0
    offline(alice)
    result = run("times")
    assert result.exit_code == 0, result.output
    (note,) = [line for line in result.stderr.splitlines() if "local cache" in line]
    assert note.startswith("offline: from the local cache, last refreshed ")
    assert not re.search(r", ([^,]+), \1$", note), note


def test_an_activity_given_twice_is_sent_once(run: Run, alice: Any) -> None:
    offline(alice)
    logged = run("log", "20m", "-p", "gwm", "-a", "dev", "-a", "docs", "-a", "dev", "--json")
    assert logged.exit_code == 0, logged.output
    uuid = json.loads(logged.stdout)["uuid"]
    assert json.loads(logged.stdout)["entry"]["activities"] == ["dev", "docs"]
    edited = run("edit", uuid[:8], "-a", "plan", "-a", "plan", "--json")
    assert edited.exit_code == 0, edited.output
    assert json.loads(edited.stdout)["changes"]["activities"] == ["plan"]
