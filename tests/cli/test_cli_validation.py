"""What `log` and `edit` refuse before anything is queued (issue 12): unknown projects
and activities from the cache alone, long entries, future dates, text that is not
UTF-8; always one line on stderr and a non-zero exit, never a traceback."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import time
from pathlib import Path
from typing import Any

import pymesync
from pymesync import cli

from .conftest import Run
from .helpers import offline, one_error_line, pymesync_executable

TODAY = dt.date.today()


def pending(run: Run) -> int:
    result = run("status", "--json")
    assert result.exit_code == 0, result.output
    return int(json.loads(result.stdout)["pending"])


def test_unknown_project_or_activity_refused_from_the_cache_without_a_request(
    run: Run, alice: Any
) -> None:
    assert run("projects").exit_code == 0 and run("activities").exit_code == 0
    before = alice.request_count()
    message = one_error_line(run("log", "1h", "-p", "nope"), 1)
    assert message == (
        "unknown project 'nope' (known: ganeti-webmgr, gwm, ps, pymesync, timesync, ts;"
        " `pymesync projects` refreshes the list)"
    )
    message = one_error_line(run("log", "1h", "-p", "gwm", "-a", "dev", "-a", "fun"), 1)
    assert message.startswith("unknown activity 'fun' (known: dev, docs, plan;")
    assert alice.request_count() == before  # the cache alone answered
    assert pending(run) == 0


def test_the_check_never_waits_for_a_black_holed_server(run: Run, alice: Any) -> None:
    run("projects")
    run("activities")
    for route in ("GET /projects", "GET /activities"):
        alice.hang_next(5, seconds=60, route=route)
    started = time.monotonic()
    result = run("log", "1h", "-p", "gwm", "-a", "dev")
    assert result.exit_code == 0, result.output
    assert time.monotonic() - started < 5  # the old check waited for the whole timeout
    # only the reads of `login` and `projects` above
    assert alice.request_count("GET /projects") == 2


def test_login_fills_the_lists_so_a_typo_is_refused_at_once(run: Run, alice: Any) -> None:
    before = alice.request_count()
    message = one_error_line(run("log", "1h", "-p", "nope"), 1)
    assert message.startswith("unknown project 'nope' (known: ganeti-webmgr, gwm,")
    assert alice.request_count() == before


def test_nothing_cached_means_no_check_the_server_decides(
    run: Run, emu: Any, private_store: Path
) -> None:
    # logged in by the library (which reads no lists): the cache knows no project
    run("config", "set", "base_url", emu.base_url)
    run("config", "set", "username", "alice")
    with pymesync.TimeSync(emu.base_url, db=private_store) as ts:
        ts.authenticate("alice", "alice", "password")
    message = one_error_line(run("log", "1h", "-p", "nope"), cli.EXIT_FAILED)
    assert message.startswith("the server refused it (409 Invalid foreign key")
    assert pending(run) == 0  # kept as failed, to be fixed or removed


def test_the_cache_knows_without_a_token(run: Run, alice: Any, private_store: Path) -> None:
    run("projects")
    with pymesync.TimeSync.resume(alice.base_url, "alice", db=private_store) as ts:
        ts.logout()
    with pymesync.TimeSync.resume(alice.base_url, "alice", db=private_store) as ts:
        assert ts.token is None
        known = ts.cached("project")
        assert known is not None
        assert sorted(s for p in known for s in p["slugs"])[:2] == ["ganeti-webmgr", "gwm"]
        assert sorted(a["slug"] for a in ts.cached("activity") or []) == ["dev", "docs", "plan"]


def test_cached_is_none_without_a_cache_or_a_listing(alice: Any, tmp_path: Path) -> None:
    token = alice.issue_token("alice")
    assert pymesync.TimeSync(alice.base_url, token=token, test=True).cached("project") is None
    assert pymesync.TimeSync(alice.base_url, token=token, mode="direct").cached("project") is None
    with pymesync.TimeSync(alice.base_url, token=token, db=tmp_path / "s.db") as ts:
        assert ts.cached("project") is None
        ts.get_projects({"slug": "gwm"})  # one project read: not the whole list
        assert ts.cached("project") is None
        ts.get_projects()
        offline(alice)
        before = alice.request_count()
        known = ts.cached("project")
        assert known is not None and len(known) == 3
        assert alice.request_count() == before


def test_a_project_without_default_activity_needs_an_activity(run: Run, alice: Any) -> None:
    run("projects")
    message = one_error_line(run("log", "1h", "-p", "ts"), 1)
    assert message == (
        "project 'ts' has no default activity: give --activity SLUG"
        " (or run `pymesync config set default_activity SLUG`)"
    )
    assert pending(run) == 0
    assert run("log", "1h", "-p", "ts", "-a", "dev").exit_code == 0
    run("config", "set", "default_activity", "docs")
    assert run("log", "1h", "-p", "ts").exit_code == 0
    assert run("log", "1h", "-p", "gwm").exit_code == 0  # gwm has a default


def test_long_entries_need_allow_long(run: Run, alice: Any) -> None:
    message = one_error_line(run("log", "25h", "-p", "gwm"), 1)
    assert message == "25:00 is more than 24 hours for one entry: give --allow-long if you mean it"
    assert pending(run) == 0
    result = run("log", "25h", "-p", "gwm", "--allow-long")
    assert result.exit_code == 0, result.output
    uuid = result.stdout.split(" as ")[1].split(":")[0]
    assert "more than 24 hours" in one_error_line(run("edit", uuid[:8], "--duration", "30h"), 1)
    assert run("edit", uuid[:8], "--duration", "30h", "--allow-long").exit_code == 0
    too_long = one_error_line(run("log", "200h", "-p", "gwm", "--allow-long"), 1)
    assert too_long.startswith("time object: duration 720000 is too long (at most 604800")
    assert run("log", "24h", "-p", "gwm").exit_code == 0


def test_dates_in_the_future_are_refused(run: Run, alice: Any) -> None:
    later = (TODAY + dt.timedelta(days=2)).isoformat()
    message = one_error_line(run("log", "1h", "-p", "gwm", "--date", later), 1)
    assert message == (
        f"--date {later} is in the future (today is {TODAY.isoformat()}); log work when it is done"
    )
    assert pending(run) == 0
    tomorrow = (TODAY + dt.timedelta(days=1)).isoformat()
    result = run("log", "1h", "-p", "gwm", "--date", tomorrow)  # time-zone slack
    assert result.exit_code == 0, result.output
    uuid = result.stdout.split(" as ")[1].split(":")[0]
    assert "is in the future" in one_error_line(run("edit", uuid[:8], "--date", "2999-01-01"), 1)
    assert "not a date: '2026-02-30'" in one_error_line(
        run("log", "1h", "-p", "gwm", "--date", "2026-02-30"), 1
    )


def test_arguments_that_are_not_utf8_are_one_line(run: Run, alice: Any) -> None:
    for args in (
        ["log", "1h", "-p", "gwm", "-n", "caf\udcff"],
        ["log", "1h", "-p", "gw\udcffm"],
        ["log", "1\udcffh", "-p", "gwm"],
        ["edit", "abc", "--issue", "https://x.org/\udcff"],
        ["times", "-p", "\udcff"],
    ):
        message = one_error_line(run(*args), 1)
        assert "is not valid UTF-8 text" in message, args
    assert one_error_line(run("log", "1h", "-p", "gwm", "-n", "caf\udcff"), 1) == (
        "argument 'caf\\xff' is not valid UTF-8 text"
    )
    assert pending(run) == 0


def test_a_raw_non_utf8_byte_in_a_real_command_line(alice: Any) -> None:
    """The installed executable, with the byte 0xff in argv (``-n $'\\xff'``)."""
    env = {**os.environ, "LC_ALL": "C.UTF-8", "PYTHONIOENCODING": ""}
    done = subprocess.run(
        [pymesync_executable(), "log", "1h", "-p", "gwm", "-n", b"abc\xff"],
        env=env,
        capture_output=True,
        timeout=60,
    )
    assert done.returncode == 1, done
    assert done.stderr == b"Error: argument 'abc\\xff' is not valid UTF-8 text\n"
    assert done.stdout == b""
    status = subprocess.run(
        [pymesync_executable(), "status", "--json"], env=env, capture_output=True, timeout=60
    )
    assert json.loads(status.stdout)["pending"] == 0
