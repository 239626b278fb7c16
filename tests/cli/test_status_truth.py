"""`pymesync status` tells the truth in each situation the sync engine can be in."""

from __future__ import annotations

import json
from typing import Any

from .conftest import Run

TOKEN_PREFIX = "eyJ0eXAi"  # every token starts with the base64 of '{"typ'


def status(run: Run) -> dict[str, Any]:
    result = run("status", "--json")
    assert TOKEN_PREFIX not in result.output
    text = run("status").output
    assert TOKEN_PREFIX not in text
    data: dict[str, Any] = json.loads(result.output)
    return data


def test_status_in_every_situation(run: Run, alice: Any) -> None:
    emu = alice
    data = status(run)
    assert data["pending"] == 0 and data["failed"] == 0 and data["needs_login"] is False

    # the server is down: the entry waits, and the reason is shown
    emu.fail_next(1_000_000, status=503)
    assert run("log", "1h", "-p", "gwm", "-a", "dev", "-n", "offline").exit_code == 0
    data = status(run)
    assert data["pending"] == 1 and "503" in data["last_error"]["message"]

    # back up: sync sends it
    emu.clear_faults()
    assert run("sync").exit_code == 0
    data = status(run)
    assert data["pending"] == 0 and data["last_success"] is not None

    # a refused operation: failed, kept, shown; sync exits non-zero
    emu.fail_next(1_000_000, status=503)
    run("log", "30m", "-p", "ps", "-a", "dev", "-n", "alice may not log to ps")
    emu.clear_faults()
    assert run("sync").exit_code != 0
    data = status(run)
    assert data["failed"] == 1 and data["pending"] == 0

    # the server forgot every token and there is no way to log in: needs login
    emu.fail_next(1_000_000, status=503)
    run("log", "15m", "-p", "gwm", "-a", "dev", "-n", "after restart")
    emu.clear_faults()
    emu.restart()
    assert run("sync").exit_code != 0
    data = status(run)
    assert data["needs_login"] is True and data["pending"] == 1 and data["failed"] == 1

    # logging in again clears it, and the next sync sends the entry
    assert run("login", "--password-stdin", input="alice\n").exit_code == 0
    assert run("sync").exit_code != 0  # the refused operation still waits for the user
    data = status(run)
    assert data["needs_login"] is False and data["pending"] == 0 and data["failed"] == 1
