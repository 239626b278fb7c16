"""The running timer end to end: ``start``, ``stop``, ``cancel``, ``restart`` and the
timer in ``status``, through the command line against the emulator, online and
offline, and across local midnight and daylight-saving changes."""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pymesync import cli
from pymesync.stopwatch import split
from pymesync.store import Store
from pymesync.testing import run_emulator
from pymesync.testing.clock import FrozenClock

from .conftest import Run
from .helpers import local_zone, offline, one_error_line, subprocess_env
from .test_local_dates import cli_at


def server_times(emu: Any) -> list[dict[str, Any]]:
    """alice's entries as the server gives them (asked directly, as an admin)."""
    import pymesync as library

    admin = library.TimeSync(emu.base_url, mode="direct", raise_errors=True)
    admin.authenticate("admin", "admin", "password")
    found = admin.get_times({"user": "alice"})
    return sorted(found, key=lambda t: (t["date_worked"], t.get("created_at") or ""))


def seeded(emu: Any) -> set[str]:
    return {t["uuid"] for t in server_times(emu)}


def new_on_server(emu: Any, before: set[str]) -> list[dict[str, Any]]:
    return [t for t in server_times(emu) if t["uuid"] not in before]


def store_timer(slot: str = "running") -> Any:
    """alice's timer in ``slot`` (whatever her account's URL), read from the store."""
    with Store.open(os.environ["PYMESYNC_DB"], pooled=False) as store:
        found = [store.timer(f"{url}|alice", slot) for url in _urls(store.path)]  # type: ignore[arg-type]
    return next((t for t in found if t is not None), None)


def _urls(path: Path) -> list[str]:
    db = sqlite3.connect(path)
    try:
        rows = db.execute("SELECT DISTINCT account FROM timers").fetchall()
    finally:
        db.close()
    return [str(r[0]).rpartition("|")[0] for r in rows]


def queued(run: Run) -> int:
    return int(json.loads(run("status", "--json").stdout)["pending"])


def hm_ago(hours: float) -> str:
    """``-2h``-style relative moment the grammar reads."""
    return f"-{int(hours * 60)}m"


@pytest.fixture(autouse=True)
def around_midday() -> Iterator[None]:
    """A time zone in which it is about midday now (``Etc/GMT-N`` is UTC+N), so that the
    tests' relative times (``--at -2h``) never cross local midnight, whatever the hour the
    suite runs at; the local date is then the UTC date. Tests about midnight and other
    zones set their own (in a child process's environment)."""
    offset = 12 - dt.datetime.now(dt.timezone.utc).hour
    with local_zone(f"Etc/GMT{-offset:+d}"):
        yield


# --------------------------------------------------------------------------- online


def test_start_status_stop_logs_one_synced_entry(run: Run, alice: Any) -> None:
    before = seeded(alice)
    started = run("start", "-p", "gwm", "-a", "dev", "-n", "review", "--at", "-2h")
    assert started.exit_code == 0, started.output
    assert re.fullmatch(r'started gwm \(dev\) "review" at \d\d:\d\d\n', started.stdout)
    assert new_on_server(alice, before) == []  # nothing logged yet
    status = run("status")
    first = status.stdout.splitlines()[0]
    assert re.fullmatch(r'timer +gwm \(dev\) "review", since \d\d:\d\d \(2:00\)', first), first
    data = json.loads(run("status", "--json").stdout)["timer"]
    assert (data["project"], data["activities"], data["notes"]) == ("gwm", ["dev"], "review")
    assert 7200 <= data["elapsed"] < 7260
    stopped = run("stop", "--at", "-30m")
    assert stopped.exit_code == 0, stopped.output
    head, push = stopped.stdout.splitlines()
    assert re.fullmatch(r"logged 1:30 on gwm \(dev\) for \S+ as \S+: queued", head), head
    assert push.startswith("synced")
    made = new_on_server(alice, before)
    assert [(t["duration"], t["activities"], t["notes"]) for t in made] == [
        (5400, ["dev"], "review")
    ]
    assert "gwm" in made[0]["project"]
    assert "timer" not in run("status").stdout.splitlines()[0]
    assert json.loads(run("status", "--json").stdout)["timer"] is None
    assert store_timer() is None and store_timer("last").notes == "review"


def test_start_and_stop_json_give_the_uuids_and_sync_states(run: Run, alice: Any) -> None:
    before = seeded(alice)
    # (times of day read at one moment: "-1h" then "-20m" were read a command apart,
    # and 40 minutes became 2401 s when a second ticked over between the two)
    now = dt.datetime.now()
    first, second = (f"{now - dt.timedelta(minutes=m):%H:%M}" for m in (60, 20))
    started = run("start", "-p", "gwm", "-a", "dev", "--at", first, "--json")
    assert started.exit_code == 0, started.output
    data = json.loads(started.stdout)  # stdout holds only the JSON
    assert data["stopped"] is None and data["timer"]["project"] == "gwm"
    # a second start stops the first at its start, as stop would
    again = run("start", "-p", "ts", "-a", "docs", "--at", second, "--json")
    assert again.exit_code == 0, again.output
    data = json.loads(again.stdout)
    assert data["timer"]["project"] == "ts"
    (entry,) = data["stopped"]["times"]
    assert entry["duration"] == 2400 and entry["state"] == "synced"
    assert entry["server_id"] in {t["uuid"] for t in new_on_server(alice, before)}
    assert "logged 0:40 on gwm (dev)" in again.stderr  # (the human lines: on stderr)
    stopped = run("stop", "--json", "-n", "wrote the docs")
    assert stopped.exit_code == 0, stopped.output
    data = json.loads(stopped.stdout)
    (entry,) = data["times"]
    assert entry["state"] == "synced" and entry["notes"] == "wrote the docs"
    assert data["timer"]["notes"] == "wrote the docs"  # -n replaces the timer's notes
    server = {t["uuid"]: t for t in new_on_server(alice, before)}
    assert server[entry["server_id"]]["notes"] == "wrote the docs"
    assert 1200 <= server[entry["server_id"]]["duration"] <= 1260 + 60
    assert len(server) == 2


def test_no_stop_refuses_and_changes_nothing(run: Run, alice: Any) -> None:
    assert run("start", "-p", "gwm", "-a", "dev", "--at", "-1h").exit_code == 0
    before = store_timer()
    message = one_error_line(run("start", "-p", "ts", "-a", "docs", "--no-stop"), 1)
    assert message.startswith("a timer is running: gwm (dev), since ") and "--no-stop" in message
    assert store_timer() == before and queued(run) == 0


def test_bad_starts_and_stops_are_one_line_and_change_nothing(run: Run, alice: Any) -> None:
    assert one_error_line(run("stop"), 1) == "no timer is running (start one with `pymesync start`)"
    assert one_error_line(run("cancel"), 1) == "no timer is running: nothing to cancel"
    assert one_error_line(run("restart"), 1).startswith("no timer to restart")
    future = one_error_line(run("start", "-p", "gwm", "--at", "tomorrow 9am"), 1)
    assert "is in the future" in future
    assert "not a time" in one_error_line(run("start", "-p", "gwm", "--at", "25:00"), 1)
    assert one_error_line(run("start", "-p", "nope"), 1).startswith("unknown project 'nope'")
    assert one_error_line(run("start"), 1).startswith("no project: give --project")
    assert one_error_line(run("start", "-p", "gwm", "-n", "  "), 1).startswith("--notes cannot")
    assert store_timer() is None
    assert run("start", "-p", "gwm", "-a", "dev", "--at", "-1h").exit_code == 0
    running = store_timer()
    earlier = one_error_line(run("start", "-p", "ts", "-a", "docs", "--at", "-2h"), 1)
    assert "before the running timer's start" in earlier
    before = one_error_line(run("stop", "--at", "-3h"), 1)
    assert "is before the timer's start" in before
    assert "in the future" in one_error_line(run("stop", "--at", "tomorrow 9am"), 1)
    assert store_timer() == running and queued(run) == 0


def test_cancel_logs_nothing_and_restart_brings_the_timer_back(run: Run, alice: Any) -> None:
    before = seeded(alice)
    assert run("start", "-p", "gwm", "-a", "dev", "-n", "oops", "--at", "-5m").exit_code == 0
    cancelled = run("cancel")
    assert cancelled.exit_code == 0, cancelled.output
    assert cancelled.stdout.startswith('cancelled the timer on gwm (dev) "oops", since ')
    assert store_timer() is None and queued(run) == 0
    restarted = run("restart", "--at", "-1h")
    assert restarted.exit_code == 0, restarted.output
    assert re.fullmatch(r'restarted gwm \(dev\) "oops" at \d\d:\d\d\n', restarted.stdout)
    stopped = run("stop")
    assert stopped.exit_code == 0, stopped.output
    (made,) = new_on_server(alice, before)
    assert made["notes"] == "oops" and 3600 <= made["duration"] < 3660
    # restart while one runs: the running one is stopped first
    assert run("start", "-p", "ts", "-a", "docs", "--at", "-10m").exit_code == 0
    again = run("restart", "--at", "-5m")
    assert again.exit_code == 0, again.output
    assert "stopped the timer on ts (docs) first" in again.stdout
    running = store_timer()
    assert (running.project, running.notes) == ("gwm", "oops")


def test_defaults_come_from_the_configuration_as_for_log(run: Run, alice: Any) -> None:
    assert run("config", "set", "default_project", "gwm").exit_code == 0
    assert run("config", "set", "default_activity", "docs").exit_code == 0
    started = run("start", "--at", "-1m")
    assert started.stdout.startswith("started gwm (docs) at "), started.output


def test_more_than_24_hours_needs_allow_long_and_is_split_by_day(run: Run, alice: Any) -> None:
    before = seeded(alice)
    start = (dt.datetime.now() - dt.timedelta(days=2)).replace(hour=9, minute=0, second=0)
    assert run("start", "-p", "gwm", "-a", "dev", "--at", f"{start:%Y-%m-%d %H:%M}").exit_code == 0
    forgot = one_error_line(run("stop"), 1)
    assert "more than 24 hours, probably forgotten" in forgot
    assert '`pymesync stop --at "yesterday 17:30"`' in forgot and "--allow-long" in forgot
    assert queued(run) == 0 and store_timer() is not None
    # the usual fix: stop it when the work ended
    stopped = run("stop", "--at", f"{start:%Y-%m-%d} 17:30")
    assert stopped.exit_code == 0, stopped.output
    (made,) = new_on_server(alice, before)
    assert (made["duration"], made["date_worked"]) == (8 * 3600 + 1800, f"{start:%Y-%m-%d}")
    # or log it all, one entry per local day
    assert run("restart", "--at", f"{start:%Y-%m-%d} 18:00").exit_code == 0
    assert "more than 24 hours" in one_error_line(run("stop"), 1)
    long = run("stop", "--allow-long")
    assert long.exit_code == 0, long.output
    assert "the timer ran past midnight" in long.stdout
    made = new_on_server(alice, before)[1:]
    days = [f"{start + dt.timedelta(days=n):%Y-%m-%d}" for n in range(3)]
    assert [t["date_worked"] for t in made] == days
    assert [t["duration"] for t in made[:2]] == [6 * 3600, 24 * 3600]
    assert {t["notes"] for t in made} == {None} and len(made[2:]) == 1


def test_ctrl_c_before_the_stop_is_saved_keeps_the_timer(
    run: Run, alice: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pymesync.client import TimeSync

    assert run("start", "-p", "gwm", "-a", "dev", "--at", "-1h").exit_code == 0

    def interrupted(self: TimeSync, **kwargs: Any) -> Any:
        raise KeyboardInterrupt

    with monkeypatch.context() as patched:
        patched.setattr(TimeSync, "stop_timer", interrupted)
        result = run("stop")
    message = one_error_line(result, cli.EXIT_INTERRUPTED)
    assert message == "interrupted: the timer still runs, nothing was logged"
    assert store_timer() is not None and queued(run) == 0


# --------------------------------------------------------------------------- offline


def test_offline_start_stop_queue_and_sync_later(run: Run, alice: Any) -> None:
    before = seeded(alice)
    offline(alice)
    assert (
        run("start", "-p", "gwm", "-a", "dev", "-n", "on the train", "--at", "-1h").exit_code == 0
    )
    stopped = run("stop", "--json")
    assert stopped.exit_code == 0, stopped.output
    (entry,) = json.loads(stopped.stdout)["times"]
    assert entry["state"] == "pending" and entry["server_id"] is None
    assert "stays queued, will sync later" in stopped.stderr
    assert queued(run) == 1
    alice.clear_faults()
    assert new_on_server(alice, before) == []
    assert run("sync").exit_code == 0
    (made,) = new_on_server(alice, before)
    assert made["notes"] == "on the train" and 3600 <= made["duration"] < 3660


def test_a_timer_works_before_any_login(run: Run, emu: Any) -> None:
    assert run("config", "set", "base_url", emu.base_url).exit_code == 0
    assert run("config", "set", "username", "alice").exit_code == 0
    assert run("start", "-p", "gwm", "-a", "dev", "--at", "-30m").exit_code == 0
    stopped = run("stop")
    assert stopped.exit_code == 0, stopped.output
    assert stopped.stdout.rstrip().endswith(
        ": queued, will sync after `pymesync login` (not logged in)"
    )
    assert queued(run) == 1


def test_every_shell_sees_the_timer(pymesync: Any, server: Any) -> None:
    """Separate processes (another shell, after a reboot): the timer is in the store."""
    pymesync("config", "set", "base_url", server.base_url)
    pymesync("config", "set", "username", "alice")
    pymesync("start", "-p", "gwm", "-a", "dev", "--at", "-90m")
    shown = pymesync.json("status")["timer"]
    assert shown["project"] == "gwm" and 5400 <= shown["elapsed"] < 5500
    done = pymesync("stop", "--json")
    (entry,) = json.loads(done.stdout)["times"]
    assert 5400 <= entry["duration"] < 5500


# --------------------------------------------------------------------------- time zones


def local(text: str) -> dt.datetime:
    """A local wall time of the current zone as an aware datetime."""
    return dt.datetime.fromisoformat(text).astimezone()


SPLITS = [
    # (zone, start, stop (local wall times), expected (date, seconds) pieces)
    (
        "Pacific/Kiritimati",
        "2026-12-07 22:00",
        "2026-12-08 01:30",
        [("12-07", 7200), ("12-08", 5400)],
    ),
    (
        "Pacific/Pago_Pago",
        "2026-12-07 23:15",
        "2026-12-08 00:45",
        [("12-07", 2700), ("12-08", 2700)],
    ),
    # Berlin, the clocks go forward at 02:00: 01:00 to 04:00 is 2 hours of work
    ("Europe/Berlin", "2026-03-29 01:00", "2026-03-29 04:00", [("03-29", 7200)]),
    # ... and back at 03:00 in October: 01:00 to 04:00 is 4 hours
    ("Europe/Berlin", "2026-10-25 01:00", "2026-10-25 04:00", [("10-25", 14400)]),
    # Havana skips midnight itself (00:00 -> 01:00): 23:00 to 02:00 is 1 h + 1 h
    ("America/Havana", "2026-03-07 23:00", "2026-03-08 02:00", [("03-07", 3600), ("03-08", 3600)]),
    # three days, whole seconds
    (
        "UTC",
        "2026-12-05 20:00:00.700",
        "2026-12-07 01:00:30.200",
        [("12-05", 14400), ("12-06", 86400), ("12-07", 3630)],
    ),
]


@pytest.mark.parametrize(
    ("zone", "start", "stop", "pieces"),
    SPLITS,
    indirect=["zone"],
    ids=[s[0] + s[1][4:10] for s in SPLITS],
)
def test_a_timer_is_split_at_local_midnight_in_real_seconds(
    zone: str, start: str, stop: str, pieces: list[tuple[str, int]]
) -> None:
    got = split(local(start), local(stop))
    assert [(d.isoformat()[5:], s) for d, s in got] == pieces
    assert split(local(stop), local(start)) == []


# (zone, start, stop (local wall times, for --at), the UTC instant "now" is, pieces)
ACROSS = [
    (
        "Pacific/Kiritimati",  # UTC+14: local midnight is 10:00 UTC
        "2026-12-07 22:00",
        "2026-12-08 01:30",
        "2026-12-07T12:00:00+00:00",
        [("2026-12-07", 7200), ("2026-12-08", 5400)],
    ),
    (
        "Pacific/Pago_Pago",  # UTC-11: local midnight is 11:00 UTC the next day
        "2026-12-07 23:15",
        "2026-12-08 00:45",
        "2026-12-08T12:00:00+00:00",
        [("2026-12-07", 2700), ("2026-12-08", 2700)],
    ),
    (
        "Europe/Berlin",  # the clocks go forward at 02:00
        "2026-03-29 01:00",
        "2026-03-29 04:00",
        "2026-03-29T03:00:00+00:00",
        [("2026-03-29", 7200)],
    ),
]


@pytest.mark.parametrize(
    ("name", "start", "stop", "instant", "pieces"), ACROSS, ids=[a[0] for a in ACROSS]
)
def test_across_midnight_and_dst_end_to_end(
    tmp_path: Path, name: str, start: str, stop: str, instant: str, pieces: list[tuple[str, int]]
) -> None:
    """In a child process in ``name`` whose clock is ``instant``, against an emulator
    whose (UTC) clock is the same: ``start --at`` / ``stop --at`` local wall times give
    one synced entry per local day, with the real seconds worked in each."""
    clock = FrozenClock(dt.datetime.fromisoformat(instant))
    with run_emulator(seed_data=True, clock=clock) as emu:
        before = seeded(emu)
        env = subprocess_env(
            tmp_path, TZ=name, PYMESYNC_URL=emu.base_url, PYMESYNC_USERNAME="alice"
        )
        done = cli_at(instant, env, "login", "--password-stdin", input="alice\n")
        assert done.returncode == 0, done.stderr
        done = cli_at(instant, env, "start", "-p", "gwm", "-a", "dev", "--at", start)
        assert done.returncode == 0, done.stderr
        shown = cli_at(instant, env, "status")
        assert shown.stdout.startswith("timer "), shown.stdout
        done = cli_at(instant, env, "stop", "--at", stop, "--json")
        assert done.returncode == 0, done.stderr
        times = json.loads(done.stdout)["times"]
        assert [(t["date_worked"], t["duration"]) for t in times] == pieces
        assert {t["state"] for t in times} == {"synced"}
        made = new_on_server(emu, before)
        assert sorted((t["date_worked"], t["duration"]) for t in made) == pieces
        if len(pieces) > 1:
            assert "the timer ran past midnight" in done.stderr


def test_start_and_stop_load_no_sqlalchemy(tmp_path: Path) -> None:
    """``start`` and ``stop`` answer within the startup budget: like ``log``, they never
    import SQLAlchemy or Alembic (an unpooled store), offline and before any login."""
    env = subprocess_env(tmp_path, PYMESYNC_URL="http://127.0.0.1:9/v0", PYMESYNC_USERNAME="alice")
    code = (
        "import sys\n"
        "from pymesync.cli import main\n"
        "try:\n"
        "    main(sys.argv[1:])\n"
        "except SystemExit as exit:\n"
        "    assert not exit.code, exit.code\n"
        "print(sorted(m for m in ('sqlalchemy', 'alembic') if m in sys.modules), file=sys.stderr)\n"
    )
    # (a first command creates and migrates the store: that one may load Alembic)
    subprocess.run(
        [sys.executable, "-m", "pymesync.cli", "migrate"], env=env, check=True, capture_output=True
    )
    for args in (
        ["start", "-p", "gwm", "--at", "-1h"],
        ["status"],
        ["stop", "--json"],
        ["restart", "--at", "-5m"],
        ["cancel"],
    ):
        done = subprocess.run(
            [sys.executable, "-c", code, *args], capture_output=True, text=True, env=env
        )
        assert done.returncode == 0, (args, done.stderr)
        assert done.stderr.strip().splitlines()[-1] == "[]", (args, done.stderr)


# --------------------------------------------------------------------------- the library


def test_the_library_timer_methods(tmp_path: Path) -> None:
    from pymesync.client import TimeSync
    from pymesync.errors import TimerStateError, ValidationError

    url, db = "http://127.0.0.1:9/v0", tmp_path / "lib.sqlite3"
    now = dt.datetime.now(dt.timezone.utc)
    with TimeSync.resume(url, "alice", raise_errors=True, db=db, mode="queue") as ts:
        assert ts.timer() is None and ts.last_timer() is None
        with pytest.raises(TimerStateError, match="no timer is running"):
            ts.stop_timer()
        with pytest.raises(ValidationError, match="slug"):
            ts.start_timer("not a slug!", ["dev"])  # refused at the start, not the stop
        begun = now - dt.timedelta(hours=1, microseconds=300)
        answer = ts.start_timer("gwm", ["dev"], "lib", at=begun)
        assert answer["stopped"] is None
        assert ts.timer()["started_at"] == begun.replace(microsecond=0).isoformat()
        with pytest.raises(TimerStateError, match="running already"):
            ts.start_timer("gwm", stop_running=False)
        with pytest.raises(ValidationError, match="inside batch"), ts.batch():
            ts.stop_timer()
        assert ts.timer() is not None and ts.status()["pending"] == 0
        done = ts.stop_timer(at=now - dt.timedelta(minutes=15), notes="lib, done")
        (entry,) = done["times"]
        assert entry["duration"] == 2700 and entry["notes"] == "lib, done"
        assert ts.sync_status("time", entry["uuid"])["state"] == "pending"
        assert ts.last_timer()["notes"] == "lib, done" and ts.timer() is None
        assert ts.status()["timer"] is None
        again = ts.restart_timer()
        assert again["timer"]["notes"] == "lib, done"
        assert ts.status()["timer"]["project"] == "gwm"
        assert ts.cancel_timer()["project"] == "gwm" and ts.timer() is None
    with TimeSync.resume(url, "alice", db=db, mode="queue") as quiet:  # the old dicts
        assert quiet.stop_timer() == {"pymesync error": "no timer is running"}
    direct = TimeSync(url, mode="direct")
    assert direct.timer() == {"pymesync error": "there is no queue in direct mode"}


def test_a_timer_replaced_within_its_second_logs_nothing(run: Run, alice: Any) -> None:
    moment = f"{dt.datetime.now() - dt.timedelta(hours=1):%Y-%m-%d %H:%M}"
    assert run("start", "-p", "gwm", "-a", "dev", "--at", moment).exit_code == 0
    again = run("start", "-p", "ts", "-a", "docs", "--at", moment, "--json")
    assert again.exit_code == 0, again.output
    data = json.loads(again.stdout)
    assert data["stopped"]["times"] == [] and data["timer"]["project"] == "ts"
    assert queued(run) == 0
    assert (store_timer().project, store_timer("last").project) == ("ts", "gwm")
