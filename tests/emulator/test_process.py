"""The emulator in a child process: fixture, RemoteControl steering, kill and restart."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from pymesync.testing import EmulatorProcess, run_emulator_process

from .helpers import Api, error

pytestmark = pytest.mark.slow


def test_process_fixture_steer_kill_restart(timesync_emulator_process: EmulatorProcess) -> None:
    emu = timesync_emulator_process
    assert emu.is_running() and emu.pid != os.getpid()
    assert emu.health()["pid"] == emu.pid
    api = Api(emu.base_url)
    token = api.login("alice")
    created = api.post(
        "/times",
        token,
        {"duration": 5, "project": "gwm", "user": "alice", "date_worked": "2016-04-04"},
    ).json()
    # steer it remotely
    emu.fail_next(1, status=503, route="GET /times")
    assert api.get("/times", token).status_code == 503
    emu.lose_response_next(route="POST /times")
    with pytest.raises(requests.exceptions.ConnectionError):
        api.post(
            "/times",
            token,
            {"duration": 6, "project": "gwm", "user": "alice", "date_worked": "2016-04-04"},
        )
    assert emu.request_count("POST /times") == 2
    assert emu.stats()["faults_fired"] == {"fail": 1, "lose_response": 1}
    # crash it and bring it back on the same port and database
    port, old_pid = emu.port, emu.pid
    emu.kill()
    assert not emu.is_running()
    with pytest.raises(requests.exceptions.ConnectionError):
        api.session.get(emu.base_url + "/times", timeout=2)
    emu.restart_process()
    assert emu.port == port and emu.pid != old_pid
    api = Api(emu.base_url)
    error(api.get("/times", token), 401, "Authentication failure", "Bad API token")
    fresh = api.login("alice")
    durations = sorted(
        t["duration"]
        for t in api.get("/times", fresh, [("start", "2016-04-04"), ("end", "2016-04-04")]).json()
    )
    assert durations == [5, 6]  # the lost-response write was committed before the crash
    assert api.get(f"/times/{created['uuid']}", fresh).status_code == 200
    assert emu.request_count() == 4  # counters start over in the new process


def test_terminate_is_clean_and_cli_prints_credentials(tmp_path: Path) -> None:
    with run_emulator_process(db=str(tmp_path / "x.sqlite3")) as emu:
        emu.terminate()
        assert emu._proc is not None and emu._proc.returncode == 0
        out = emu.output()
        assert f"listening on {emu.base_url}" in out
        assert "username=admin password=admin" in out
        assert "TimeSync emulator stopped" in out


def test_python_m_entry_point_sigint() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "pymesync.testing", "--port", "0", "--seed-data"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line.startswith("TimeSync emulator listening on http://127.0.0.1:")
        base = line.split()[-1]
        assert base.endswith("/v0")
        assert Api(base).login("bob")
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
