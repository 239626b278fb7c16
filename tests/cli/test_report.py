"""`pymesync report`: totals over a period, nested groups, marks for what is not synced,
the bar chart, JSON; end to end through the command line against the emulator, online
and offline, and the SQL totals of the cache checked against the entries themselves."""

from __future__ import annotations

import datetime as dt
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import pymesync
from pymesync import tables
from pymesync.testing import run_emulator
from pymesync.testing.clock import FrozenClock

from .conftest import Run
from .helpers import offline, one_error_line, subprocess_env

MONDAY = "2025-03-03"  # a fixed week in the past: Monday 3 to Sunday 9 March 2025
TUESDAY = "2025-03-04"
SUNDAY = "2025-03-09"


def log(run: Run, *args: str) -> str:
    """Log an entry; its uuid (the one ``log`` printed)."""
    result = run("log", *args, "--json")
    assert result.exit_code == 0, result.output
    uuid: str = json.loads(result.stdout)["uuid"]
    return uuid


def report_json(run: Run, *args: str) -> dict[str, Any]:
    result = run("report", *args, "--json")
    assert result.exit_code == 0, result.output
    data: dict[str, Any] = json.loads(result.stdout)
    return data


def week(run: Run) -> None:
    """Four entries in the week of MONDAY, one with two activities."""
    log(run, "1h", "-p", "gwm", "-a", "dev", "-d", MONDAY, "-n", "one")
    log(run, "30m", "-p", "gwm", "-a", "docs", "-d", MONDAY, "-n", "two")
    log(run, "1h15m", "-p", "gwm", "-a", "dev", "-a", "docs", "-d", TUESDAY, "-n", "both")
    log(run, "45m", "-p", "ts", "-a", "plan", "-d", TUESDAY, "-n", "three")


# --------------------------------------------------------------------------- online


def test_table_nests_activities_under_projects_with_subtotals(run: Run, alice: Any) -> None:
    week(run)
    result = run("report", "--week", MONDAY)
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        "Mon 2025-03-03 to Sun 2025-03-09",
        "PROJECT  ACTIVITY   ENTRIES  TIME",
        "gwm                       3  2:45",
        "         dev              1  1:00",
        "         dev, docs        1  1:15",
        "         docs             1  0:30",
        "ts                        1  0:45",
        "         plan             1  0:45",
        "-------  ---------  -------  ----",
        "total                     4  3:30",
    ]
    assert "local cache" not in result.stderr  # (the server answered)


def test_an_entry_with_two_activities_counts_once_under_both(run: Run, alice: Any) -> None:
    week(run)
    data = report_json(run, "--from", MONDAY, "--to", SUNDAY, "--by", "activity")
    assert data["source"] == "server"
    assert (data["from"], data["to"], data["by"]) == (MONDAY, SUNDAY, ["activity"])
    groups = {tuple(g["activities"]): g["total_seconds"] for g in data["groups"]}
    assert groups == {("dev",): 3600, ("dev", "docs"): 4500, ("docs",): 1800, ("plan",): 2700}
    assert sum(groups.values()) == data["total_seconds"] == 12600  # never counted twice
    # the filter still finds every entry having dev
    dev = report_json(run, "--week", MONDAY, "--by", "activity", "-a", "dev")
    assert [tuple(g["activities"]) for g in dev["groups"]] == [("dev",), ("dev", "docs")]


def test_by_day_then_project_and_json_nesting(run: Run, alice: Any) -> None:
    week(run)
    data = report_json(run, "--week", TUESDAY, "--by", "day", "--by", "project")
    days = [(g["day"], g["total_seconds"], g["entries"]) for g in data["groups"]]
    assert days == [(MONDAY, 5400, 2), (TUESDAY, 7200, 2)]
    tuesday = data["groups"][1]["groups"]
    assert [(g["project"], g["total_seconds"]) for g in tuesday] == [("gwm", 4500), ("ts", 2700)]
    assert data["not_synced"] == {} and data["entries"] == 4
    text = run("report", "--week", TUESDAY, "--by", "day").stdout
    assert "Mon 2025-03-03        2  1:30" in text and "Tue 2025-03-04        2  2:00" in text


def test_periods_as_people_say_them(run: Run, alice: Any) -> None:
    week(run)
    today = dt.date.today()
    log(run, "20m", "-p", "gwm", "-n", "today")
    default = report_json(run)  # this week
    monday = today - dt.timedelta(days=today.weekday())
    assert (default["from"], default["to"]) == (
        monday.isoformat(),
        (monday + dt.timedelta(days=6)).isoformat(),
    )
    assert default["total_seconds"] == 1200
    same = ("from", "to", "total_seconds", "groups")
    assert [report_json(run, "--week")[k] for k in same] == [default[k] for k in same]
    assert report_json(run, "--month")["from"] == today.replace(day=1).isoformat()
    assert report_json(run, "today")["total_seconds"] == 1200
    assert report_json(run, "--day", "today")["total_seconds"] == 1200
    assert report_json(run, "--day", TUESDAY)["total_seconds"] == 7200
    assert report_json(run, "2025-03")["total_seconds"] == 12600  # a month, as PERIOD
    march = report_json(run, "--month", "2025-03-20")
    assert (march["from"], march["to"], march["total_seconds"]) == (
        "2025-03-01",
        "2025-03-31",
        12600,
    )
    assert report_json(run, "--from", TUESDAY, "--to", TUESDAY)["total_seconds"] == 7200
    seven = report_json(run, "--to", "2025-03-05")  # the 7 days ending there
    assert (seven["from"], seven["total_seconds"]) == ("2025-02-27", 12600)
    assert run("report", "last", "week").exit_code == 0
    empty = run("report", "--day", "2025-03-05")
    assert empty.stdout == "Wed 2025-03-05\nno time entries\n"


def test_users_are_filtered_like_times(run: Run, alice: Any) -> None:
    week(run)
    assert report_json(run, "--week", MONDAY, "--user", "bob")["entries"] == 0
    data = report_json(run, "--week", MONDAY, "--all-users", "--by", "user")
    assert [(g["user"], g["entries"]) for g in data["groups"]] == [("alice", 4)]
    assert report_json(run, "--week", MONDAY, "-p", "ts")["total_seconds"] == 2700


# --------------------------------------------------------------------------- offline


def test_offline_from_the_cache_with_pending_entries_marked(run: Run, alice: Any) -> None:
    week(run)
    assert run("report", "--week", MONDAY).exit_code == 0  # (the cache holds the week)
    offline(alice)
    log(run, "10m", "-p", "gwm", "-a", "docs", "-d", MONDAY, "-n", "offline")
    result = run("report", "--week", MONDAY, "--by", "project")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[1:] == [
        "PROJECT  ENTRIES  TIME  NOT SYNCED",
        "gwm            4  2:55  1 pending",
        "ts             1  0:45",
        "-------  -------  ----  ----------",
        "total          5  3:40  1 pending",
    ]
    assert "offline: from the local cache, last refreshed" in result.stderr
    data = report_json(run, "--week", MONDAY, "--by", "project")
    assert data["source"] == "cache" and data["age"] is not None
    assert data["not_synced"] == {"pending": 1} and data["total_seconds"] == 13200
    # back online: the same numbers from the server once it is synced
    alice.clear_faults()
    assert run("sync").exit_code == 0
    back = report_json(run, "--week", MONDAY, "--by", "project")
    assert (back["source"], back["total_seconds"], back["not_synced"]) == ("server", 13200, {})


def test_an_entry_edited_offline_counts_with_its_new_values(run: Run, alice: Any) -> None:
    kept = log(run, "1h", "-p", "gwm", "-a", "dev", "-d", MONDAY, "-n", "kept")
    gone = log(run, "2h", "-p", "gwm", "-a", "dev", "-d", MONDAY, "-n", "gone")
    assert report_json(run, "--week", MONDAY)["total_seconds"] == 3 * 3600
    offline(alice)
    assert run("edit", kept, "--duration", "1h30m", "-a", "docs").exit_code == 0
    assert run("rm", "--yes", gone).exit_code == 0
    data = report_json(run, "--week", MONDAY, "--by", "activity")
    assert data["source"] == "cache"
    assert data["total_seconds"] == 5400 and data["entries"] == 1
    assert [(g["activities"], g["not_synced"]) for g in data["groups"]] == [
        (["docs"], {"pending": 1})
    ]


def test_a_refused_entry_is_counted_and_marked_failed(
    run: Run, emu: Any, private_store: Path
) -> None:
    run("config", "set", "base_url", emu.base_url)
    run("config", "set", "username", "alice")
    with pymesync.TimeSync(emu.base_url, db=private_store) as ts:  # (no project list read)
        assert "token" in ts.authenticate("alice", "alice", "password")
    log(run, "1h", "-p", "gwm", "-a", "dev", "-d", MONDAY)
    offline(emu)
    log(run, "15m", "-p", "ts", "-d", MONDAY, "-n", "no activity")  # ts has no default
    emu.clear_faults()
    assert run("sync").exit_code == 4
    result = run("report", "--week", MONDAY, "--by", "project")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[1:3] == ["PROJECT  ENTRIES  TIME  NOT SYNCED", "gwm            1  1:00"]
    assert lines[3] == "ts             1  0:15  1 failed"
    assert lines[-1] == "total          2  1:15  1 failed"
    assert "entries the server refused are counted" in result.stderr
    for source in ("server", "cache"):
        if source == "cache":
            offline(emu)
        data = report_json(run, "--week", MONDAY, "--by", "project")
        assert data["source"] == source
        assert data["not_synced"] == {"failed": 1} and data["total_seconds"] == 4500


# --------------------------------------------------------------------------- the chart


def test_bars_in_eighths() -> None:
    from pymesync import summary

    assert summary.bar(0, 100, 10) == ""
    assert summary.bar(100, 100, 10) == "█" * 10
    assert summary.bar(50, 100, 10) == "█" * 5
    assert summary.bar(55, 100, 10) == "█████▌"  # 5.5 cells
    assert summary.bar(1, 10_000, 10) == "▏"  # never invisible
    assert summary.bar(10, 80, 1) == "▏"  # one eighth of one cell


def test_chart_by_day_pinned(run: Run, alice: Any) -> None:
    week(run)
    result = run("report", "--week", MONDAY, "--chart", "--by", "day", env={"COLUMNS": "50"})
    assert result.exit_code == 0, result.output
    # 50 columns: 14 for the label, 2, 27 for the bar, 2, 4 for the time, 1 free;
    # 1:30 of 2:00 is 20.25 cells: 20 full blocks and a quarter
    assert result.stdout.splitlines() == [
        "Mon 2025-03-03 to Sun 2025-03-09",
        "Mon 2025-03-03  ████████████████████▎        1:30",
        "Tue 2025-03-04  ███████████████████████████  2:00",
        "Wed 2025-03-05                               0:00",
        "Thu 2025-03-06                               0:00",
        "Fri 2025-03-07                               0:00",
        "Sat 2025-03-08                               0:00",
        "Sun 2025-03-09                               0:00",
        "total 3:30 in 4 entries",
    ]
    assert all(tables.width(line) < 50 for line in result.stdout.splitlines())
    wide = run("report", "--week", MONDAY, "--chart", env={"COLUMNS": "100"}).stdout
    assert max(tables.width(line) for line in wide.splitlines()) == 99  # fits, last column free


def test_chart_marks_and_legend_and_no_color(
    run: Run, alice: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    week(run)
    offline(alice)
    log(run, "10m", "-p", "ts", "-a", "plan", "-d", MONDAY)
    monkeypatch.setenv("TERM", "xterm")
    monkeypatch.setattr(tables, "is_terminal", lambda stream: True)
    args = ("report", "--week", MONDAY, "--chart", "--by", "project")
    coloured = run(*args, color=True, env={"COLUMNS": "40"}).stdout
    assert "\x1b[36m" in coloured  # bars in colour on a terminal
    monkeypatch.setenv("NO_COLOR", "1")
    plain = run(*args, color=True, env={"COLUMNS": "40"}).stdout
    assert "\x1b[" not in plain
    # 40 columns: 26 cells of bar; 0:55 of 2:45 is 8.67 cells: 8 and five eighths
    assert plain.splitlines()[1:] == [
        "gwm  ██████████████████████████  2:45",
        "ts   ████████▋" + " " * 17 + "  0:55 *",
        "total 3:40 in 5 entries",
        "* includes entries not synced yet",
    ]
    assert re.sub(r"\x1b\[[0-9;]*m", "", coloured) == plain


# --------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ("--from", "2025-03-05", "--to", "2025-03-04"),
            "--from 2025-03-05 is after --to 2025-03-04",
        ),
        (("--day", "today", "--week"), "give one period, not --day and --week"),
        (("last", "week", "--from", "monday"), "give one period, not PERIOD and --from/--to"),
        (("--by", "project", "--by", "project"), "--by project given twice"),
        (("--chart", "--by", "day", "--by", "project"), "--chart draws one grouping"),
        (("--day", "last week"), "'last week' is 7 days"),
        (("someday",), "not a date: 'someday'"),
    ],
)
def test_bad_input_is_one_line(run: Run, alice: Any, args: tuple[str, ...], message: str) -> None:
    posts = alice.request_count("GET /times")
    assert message in one_error_line(run("report", *args), 1)
    assert alice.request_count("GET /times") == posts  # refused before any request


def test_an_unknown_by_is_a_usage_error(run: Run, alice: Any) -> None:
    message = one_error_line(run("report", "--by", "week"), 2)
    assert "'week' is not one of 'project', 'activity', 'day', 'user'" in message


# --------------------------------------------------------------------------- time zones

CHILD = (
    "import sys\n"
    "from freezegun import freeze_time\n"
    "freeze_time(sys.argv[1], tick=True).start()\n"
    "from pymesync.cli import main\n"
    "main(sys.argv[2:])\n"
)
INSTANT = "2026-12-07T10:00:30+00:00"  # 2026-12-08 in Kiritimati, 2026-12-06 in Pago Pago


def cli_at(env: dict[str, str], *args: str, input: str | None = None) -> Any:
    done = subprocess.run(
        [sys.executable, "-c", CHILD, INSTANT, *args],
        capture_output=True, text=True, env=env, input=input, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return done


def test_today_is_the_local_date(tmp_path: Path) -> None:
    with run_emulator(seed_data=True, clock=FrozenClock(dt.datetime.fromisoformat(INSTANT))) as emu:
        base = subprocess_env(tmp_path, PYMESYNC_URL=emu.base_url, PYMESYNC_USERNAME="alice")
        utc = {**base, "TZ": "UTC"}
        cli_at(utc, "login", "--password-stdin", input="alice\n")
        for day, amount in (("2026-12-06", "1h"), ("2026-12-07", "2h"), ("2026-12-08", "3h")):
            cli_at(utc, "log", amount, "-p", "gwm", "-a", "dev", "-d", day)
        seen = {}
        for zone in ("Pacific/Kiritimati", "UTC", "Pacific/Pago_Pago"):
            done = cli_at({**base, "TZ": zone}, "report", "today", "--json")
            data = json.loads(done.stdout)
            seen[zone] = (data["from"], data["total_seconds"])
        # (Kiritimati's today is a day ahead of the server's UTC date: still answered)
        assert seen == {
            "Pacific/Kiritimati": ("2026-12-08", 3 * 3600),
            "UTC": ("2026-12-07", 2 * 3600),
            "Pacific/Pago_Pago": ("2026-12-06", 3600),
        }
        text = cli_at({**base, "TZ": "Pacific/Kiritimati"}, "report", "--day", "today").stdout
        assert text.splitlines()[0] == "Tue 2026-12-08"


# --------------------------------------------------------------------------- the SQL totals


def test_cache_totals_match_the_entries(tmp_path: Path) -> None:
    """TimeSync.time_totals from the cache (summed in SQL) gives, group by group, what
    summing cached_times in Python gives: with synced, pending, failed, edited and
    deleted entries, and filters."""
    with run_emulator(seed_data=True) as emu:
        ts = pymesync.TimeSync(emu.base_url, db=tmp_path / "s.sqlite3", mode="queue")
        ts.authenticate("alice", "alice", "password")
        ids = []
        for n in range(40):
            entry = {
                "duration": 600 + 60 * n,
                "project": ["gwm", "ts"][n % 2],
                "activities": [["dev"], ["docs"], ["dev", "docs"], ["plan"]][n % 4],
                "user": "alice",
                "date_worked": f"2025-03-{1 + n % 9:02d}",
            }
            ids.append(ts.create_time(entry)["uuid"])
        ts.sync()
        emu.fail_next(10**6, status=503)
        ts.update_time({"duration": 99}, ids[0])
        ts.delete_time(ids[1])
        ts.create_time(
            {"duration": 120, "project": "gwm", "user": "alice", "date_worked": "2025-03-02"}
        )
        queries: list[dict[str, Any]] = [
            {"user": ["alice"], "start": "2025-03-01", "end": "2025-03-31"},
            {"user": ["alice"], "start": "2025-03-03", "end": "2025-03-05", "project": ["ts"]},
            {"user": ["alice"], "activity": ["docs"], "start": "2025-03-01"},
            {"start": "2025-03-02", "end": "2025-03-02"},
        ]
        for query in queries:
            totals = ts.time_totals(query, cached_only=True)
            assert ts.last_read is not None and ts.last_read.source == "cache"
            times = ts.cached_times(query)
            want: dict[tuple[Any, ...], int] = {}
            for t in times:
                key = (t["date_worked"], tuple(t["project"]), tuple(t["activities"]))
                want[key] = want.get(key, 0) + t["duration"]
            got: dict[tuple[Any, ...], int] = {}
            for row in totals:
                key = (row["date_worked"], tuple(row["project"]), tuple(row["activities"]))
                got[key] = got.get(key, 0) + row["duration"]
            assert got == want, query
            assert sum(r["entries"] for r in totals) == len(times)
            marked = {r["uuid"]: r["sync_state"] for r in totals if r["uuid"]}
            assert all(state == "pending" for state in marked.values())
            assert (ids[0] in marked) == any(t["uuid"] == ids[0] for t in times)
        # the reachable server gives the same totals, one row a time
        emu.clear_faults()
        online = ts.time_totals(queries[0])
        assert ts.last_read is not None and ts.last_read.source == "server"
        assert sum(r["duration"] for r in online) == sum(
            r["duration"] for r in ts.time_totals(queries[0], cached_only=True)
        )
        ts.close()
