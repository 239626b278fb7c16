"""The installed ``pymesync`` executable, in subprocesses, against emulators."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from .helpers import Pymesync, pymesync_executable


def test_offline_log_status_sync_times_edit_rm(pymesync: Pymesync, server: Any) -> None:
    pymesync("config", "set", "base_url", server.base_url)
    pymesync("config", "set", "username", "alice")
    login = pymesync("login", "--password-stdin", input="alice\n")
    assert login.stdout.startswith(f"logged in as alice at {server.base_url}")

    server.fail_next(10**6, status=503)  # the server goes down
    first = pymesync("log", "1h30m", "-p", "gwm", "-a", "dev", "-n", "offline one")
    assert first.stdout.splitlines()[0] == "1h30m = 5400 s"
    assert first.stdout.rstrip().endswith(
        "not sent (server unreachable): stays queued, will sync later"
    )
    second = pymesync("log", "45m", "-p", "ts", "-a", "docs", "-n", "offline two")
    local_two = second.stdout.split(" as ")[1].split(":")[0]

    status = pymesync.json("status")
    assert status["pending"] == 2 and status["logged_in"] is True
    times = pymesync("times")
    assert "offline: from the local cache" in times.stderr
    assert times.stdout.count("pending") == 2
    offline_sync = pymesync("sync", code=3)
    assert offline_sync.stderr.startswith("Error: server unreachable")
    assert len(offline_sync.stderr.splitlines()) == 1

    server.clear_faults()  # and comes back
    synced = pymesync("sync")
    assert synced.stdout.count("synced      create time") == 2
    assert synced.stdout.endswith("synced 2 operation(s)\n")
    data = pymesync.json("times")
    assert data["source"] == "server"
    notes = {t["notes"]: t for t in data["times"]}
    assert {"offline one", "offline two"} <= set(notes)
    assert all(t["sync_state"] == "synced" for t in data["times"])
    server_two = notes["offline two"]["uuid"]
    assert server_two != local_two

    edited = pymesync("edit", local_two, "--duration", "1h", "--notes", "online now")
    assert edited.stdout.endswith(f": queued\nsynced as {server_two}\n")
    edited = pymesync("edit", server_two[:8], "--notes", "by prefix")
    assert edited.stdout.endswith(": queued\nsynced\n")
    data = pymesync.json("times")
    (two,) = [t for t in data["times"] if t["uuid"] == server_two]
    assert (two["duration"], two["notes"]) == (3600, "by prefix")

    removed = pymesync("rm", "--yes", server_two[:8])
    assert removed.stdout == f"removed {server_two}: queued\nsynced\n"
    assert server_two not in [t["uuid"] for t in pymesync.json("times")["times"]]
    final = pymesync.json("status")
    assert final["pending"] == final["failed"] == 0 and final["last_success"]

    token_holder = subprocess.run(
        [
            sys.executable,
            "-c",
            "import pymesync,sys; print(pymesync.TimeSync.resume(sys.argv[1], 'alice', "
            "db=sys.argv[2]).token)",
            server.base_url,
            str(pymesync.db),
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert token_holder and token_holder != "None"
    for args in (("status",), ("status", "--json"), ("config", "list")):
        done = pymesync(*args)
        assert token_holder not in done.stdout + done.stderr


def test_errors_are_one_line_without_traceback(pymesync: Pymesync) -> None:
    done = pymesync("status", code=1)
    assert done.stderr == (
        "Error: no base URL configured: run `pymesync config set base_url VALUE`"
        " or set PYMESYNC_URL\n"
    )
    pymesync("config", "set", "base_url", "http://127.0.0.1:9/v0")
    pymesync("config", "set", "username", "alice")
    done = pymesync("sync", code=5)
    assert done.stderr.startswith("Error: not logged in as alice at http://127.0.0.1:9/v0")
    done = pymesync("log", "90 parsecs", code=1)
    assert done.stderr.startswith("Error: unknown unit 'parsecs'")
    done = pymesync("login", "--password-stdin", input="pw\n", code=3)
    assert done.stderr.startswith("Error: server unreachable: connection to TimeSync failed")
    for result in (done,):
        assert len(result.stderr.splitlines()) == 1


def test_demo_on_a_fresh_machine(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYMESYNC_")}
    env.update({"HOME": str(home), "XDG_CONFIG_HOME": str(home / ".config")})
    env["XDG_DATA_HOME"] = str(home / ".local" / "share")
    env["PYMESYNC_URL"] = "http://127.0.0.1:9/v0"  # a user's settings must not leak in
    env["PYMESYNC_USERNAME"] = "mallory"
    started = time.monotonic()
    done = subprocess.run(
        [pymesync_executable(), "demo"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        cwd=tmp_path,
    )
    elapsed = time.monotonic() - started
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Traceback" not in done.stderr
    assert elapsed < 15
    out = done.stdout
    assert "not sent (server unreachable): stays queued, will sync later" in out
    assert out.count("pending") >= 4
    assert "offline: from the local cache" in out
    assert "synced 4 operation(s)" in out
    assert out.count("  synced") >= 4 or out.count("synced\n") >= 4
    mapping = [line for line in out.splitlines() if " -> " in line and line.startswith("  ")]
    assert len(mapping) == 4
    assert all(a.strip() != b.strip() for a, b in (line.split(" -> ") for line in mapping))
    assert "demo finished" in out
    assert "mallory" not in out
    assert not list(home.rglob("*")), "the demo wrote into the user's home"


def test_daemon_syncs_in_the_background_and_stops_on_sigterm(
    pymesync: Pymesync, server: Any, tmp_path: Path
) -> None:
    pymesync("config", "set", "base_url", server.base_url)
    pymesync("config", "set", "username", "alice")
    pymesync("login", "--password-stdin", input="alice\n")
    server.fail_next(10**6, status=503)
    pymesync("log", "1h", "-p", "gwm", "-n", "for the daemon")
    pymesync("log", "2h", "-p", "gwm", "-n", "for the daemon too")
    log = tmp_path / "daemon.log"
    with log.open("w") as sink:
        daemon = subprocess.Popen(
            [pymesync.exe, "daemon", "--interval", "0.2"],
            stdout=subprocess.DEVNULL,
            stderr=sink,
            text=True,
            env=pymesync.env,
        )
    try:
        deadline = time.monotonic() + 30
        while " syncing " not in log.read_text() and time.monotonic() < deadline:
            assert daemon.poll() is None, log.read_text()
            time.sleep(0.05)
        second = pymesync("daemon", "--interval", "0.2", code=1, timeout=30)
        assert second.stderr.startswith("Error: another pymesync daemon is already syncing")
        server.clear_faults()
        deadline = time.monotonic() + 30
        while pymesync.json("status")["pending"] and time.monotonic() < deadline:
            time.sleep(0.2)
        assert pymesync.json("status")["pending"] == 0
        daemon.send_signal(signal.SIGTERM)
        daemon.wait(timeout=20)
    finally:
        if daemon.poll() is None:
            daemon.kill()
            daemon.wait()
    err = log.read_text()
    assert daemon.returncode == 0, err
    assert "Traceback" not in err
    assert "stopped" in err
    notes = [t["notes"] for t in pymesync.json("times")["times"]]
    assert {"for the daemon", "for the daemon too"} <= set(notes)


def test_daemon_stops_within_five_seconds_while_requests_hang(
    pymesync: Pymesync, server: Any, tmp_path: Path
) -> None:
    """SIGTERM while every write hangs on the server: the daemon exits within 5 s (the
    documented systemd unit allows 30), and what was in flight is queued, not in flight,
    and is then synced exactly once."""
    pymesync("config", "set", "base_url", server.base_url)
    pymesync("config", "set", "username", "alice")
    pymesync("login", "--password-stdin", input="alice\n")
    server.fail_next(10**6, status=503)
    for i in range(4):
        pymesync("log", "1h", "-p", "gwm", "-n", f"hanging {i}")
    server.clear_faults()
    server.reset_stats()  # (the refused pushes of `log` counted: wait for the daemon's)
    server.add_latency(60.0, route="POST /times")
    log = tmp_path / "daemon.log"
    with log.open("w") as sink:
        daemon = subprocess.Popen(
            [pymesync.exe, "daemon", "--interval", "0.2"],
            stdout=subprocess.DEVNULL,
            stderr=sink,
            text=True,
            env=pymesync.env,
        )
    try:
        deadline = time.monotonic() + 30
        while server.request_count("POST /times") < 1 and time.monotonic() < deadline:
            assert daemon.poll() is None, log.read_text()
            time.sleep(0.05)
        time.sleep(0.5)
        started = time.monotonic()
        daemon.send_signal(signal.SIGTERM)
        daemon.wait(timeout=20)
        took = time.monotonic() - started
    finally:
        if daemon.poll() is None:
            daemon.kill()
            daemon.wait()
    err = log.read_text()
    assert daemon.returncode == 0, err
    assert took < 5, (took, err)
    status = pymesync.json("status")
    assert status["inflight"] == 0 and status["pending"] == 4
    server.clear_faults()
    deadline = time.monotonic() + 60
    while pymesync.json("status")["pending"] and time.monotonic() < deadline:
        pymesync("sync", code=None)
        time.sleep(0.5)
    admin = pymesync_times_on_server(server)
    assert sorted(n for n in admin if n.startswith("hanging")) == [f"hanging {i}" for i in range(4)]


def pymesync_times_on_server(server: Any) -> list[str]:
    import pymesync as library

    admin = library.TimeSync(server.base_url, mode="direct")
    admin.authenticate("admin", "admin", "password")
    return [str(t.get("notes")) for t in admin.get_times({"user": "alice"})]


def test_help_and_status_load_no_http_or_hashing(pymesync: Pymesync) -> None:
    code = (
        "import sys\n"
        "from pymesync.cli import main\n"
        "try:\n"
        "    main(sys.argv[1:])\n"
        "except SystemExit:\n"
        "    pass\n"
        "print([m for m in ('requests', 'bcrypt', 'sqlalchemy') if m in sys.modules],"
        " file=sys.stderr)\n"
    )
    env = {**pymesync.env, "PYMESYNC_URL": "http://127.0.0.1:9/v0", "PYMESYNC_USERNAME": "a"}
    for args, heavy in ((["--help"], "[]"), (["status"], "[]")):
        done = subprocess.run(
            [sys.executable, "-c", code, *args], capture_output=True, text=True, env=env
        )
        assert done.stderr.strip().splitlines()[-1] == heavy, (args, done.stderr)
