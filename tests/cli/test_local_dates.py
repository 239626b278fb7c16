"""Every day a user types is a local date, in the machine's time zone: tested at the day
boundary in UTC-11 (Pacific/Pago_Pago), UTC and UTC+14 (Pacific/Kiritimati), where the
local date is a day behind, the same as, or a day ahead of the UTC date."""

from __future__ import annotations

import datetime as dt
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from freezegun import freeze_time

from pymesync import durations, when
from pymesync.testing import run_emulator
from pymesync.testing.clock import FrozenClock

from .helpers import subprocess_env

# (zone, a UTC instant just after local midnight, the local date then, the UTC date)
BOUNDARIES = [
    ("Pacific/Pago_Pago", "2026-12-07T11:00:30+00:00", "2026-12-07", "2026-12-07"),
    ("Pacific/Pago_Pago", "2026-12-07T10:59:30+00:00", "2026-12-06", "2026-12-07"),
    ("UTC", "2026-12-07T23:59:30+00:00", "2026-12-07", "2026-12-07"),
    ("UTC", "2026-12-08T00:00:30+00:00", "2026-12-08", "2026-12-08"),
    ("Pacific/Kiritimati", "2026-12-07T09:59:30+00:00", "2026-12-07", "2026-12-07"),
    ("Pacific/Kiritimati", "2026-12-07T10:00:30+00:00", "2026-12-08", "2026-12-07"),
]


@pytest.mark.parametrize(
    ("zone", "instant", "local", "utc"),
    BOUNDARIES,
    indirect=["zone"],
    ids=[f"{z}-{i[11:16]}" for z, i, _, _ in BOUNDARIES],
)
def test_today_and_yesterday_are_local_dates(zone: str, instant: str, local: str, utc: str) -> None:
    with freeze_time(instant):
        assert when.parse_day("today").isoformat() == local
        expected = dt.date.fromisoformat(local) - dt.timedelta(days=1)
        assert when.parse_day("yesterday") == expected
        assert when.parse_day("2026-01-31").isoformat() == "2026-01-31"


@pytest.mark.parametrize(
    ("zone", "instant", "local", "utc"),
    BOUNDARIES,
    indirect=["zone"],
    ids=[f"{z}-{i[11:16]}" for z, i, _, _ in BOUNDARIES],
)
def test_a_query_start_is_never_in_the_servers_future(
    zone: str, instant: str, local: str, utc: str
) -> None:
    """TimeSync refuses a ``start`` after its (UTC) today: what is sent is never after
    the UTC date (a day of slack), and never after the day asked for."""
    with freeze_time(instant):
        assert durations.local_today().isoformat() == local
        today = dt.date.fromisoformat(local)
        sent = durations.query_start(today)
        assert sent.isoformat() < utc and sent <= today
        assert durations.query_start(dt.date(2026, 1, 1)) == dt.date(2026, 1, 1)


# --------------------------------------------------------------------------- end to end

# Runs the command line in a child process whose clock is frozen at argv[1] (ticking).
CHILD = (
    "import sys\n"
    "from freezegun import freeze_time\n"
    "freeze_time(sys.argv[1], tick=True).start()\n"
    "from pymesync.cli import main\n"
    "main(sys.argv[2:])\n"
)


def cli_at(
    instant: str, env: dict[str, str], *args: str, input: str | None = None
) -> subprocess.CompletedProcess[str]:
    """``pymesync ARGS`` in a child process at ``instant``."""
    return subprocess.run(
        [sys.executable, "-c", CHILD, instant, *args],
        capture_output=True,
        text=True,
        env=env,
        input=input,
        timeout=120,
    )


@pytest.mark.parametrize(
    ("name", "instant", "local", "utc"),
    [BOUNDARIES[1], BOUNDARIES[2], BOUNDARIES[5]],
    ids=lambda value: str(value).replace("/", "-"),
)
def test_log_and_times_use_local_dates_end_to_end(
    tmp_path: Path, name: str, instant: str, local: str, utc: str
) -> None:
    """At the day boundary, against the emulator (whose clock, like TimeSync's, is UTC):
    ``log`` records today's local date, and ``times --from today`` shows exactly
    today's entries even where the local date is already tomorrow in UTC."""
    today = dt.date.fromisoformat(local)
    yesterday = (today - dt.timedelta(days=1)).isoformat()
    with run_emulator(seed_data=True, clock=FrozenClock(dt.datetime.fromisoformat(instant))) as emu:
        env = subprocess_env(
            tmp_path, TZ=name, PYMESYNC_URL=emu.base_url, PYMESYNC_USERNAME="alice"
        )
        done = cli_at(instant, env, "login", "--password-stdin", input="alice\n")
        assert done.returncode == 0, done.stderr
        # a local date the server's UTC clock has not reached yet is a valid first day
        done = cli_at(instant, env, "times", "--from", local)
        assert done.returncode == 0, done.stderr
        assert done.stdout == "no time entries\n"
        done = cli_at(instant, env, "log", "1h", "-p", "gwm", "-a", "dev", "-n", "today's")
        assert done.returncode == 0, done.stderr
        assert f"for {local} " in done.stdout and "\nsynced as " in done.stdout, done.stdout
        done = cli_at(instant, env, "log", "30m", "-p", "gwm", "-d", "yesterday", "-n", "before")
        assert done.returncode == 0 and f"for {yesterday} " in done.stdout, done.stdout
        done = cli_at(instant, env, "times", "--from", "today", "--json")
        assert done.returncode == 0, done.stderr
        shown = json.loads(done.stdout)
        assert shown["source"] == "server"
        assert [(t["date_worked"], t["notes"]) for t in shown["times"]] == [(local, "today's")]
        assert shown["total_seconds"] == 3600
        done = cli_at(instant, env, "times", "--from", "yesterday", "--to", "today")
        assert done.returncode == 0, done.stderr
        assert re.search(r"^total +2 entries +1:30$", done.stdout, re.M), done.stdout
        done = cli_at(instant, env, "times", "--from", "today", "--to", "today")
        assert done.returncode == 0, done.stderr
        assert "1 entry" in done.stdout and yesterday not in done.stdout, done.stdout
        # the server itself has the entry under the local date
        revisions = emu.store.snapshot()["times"].values()
        dates = {r[-1]["date_worked"] for r in revisions if r[-1]["user"] == "alice"}
        assert local in dates
