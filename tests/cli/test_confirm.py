"""``rm`` and ``failed discard`` ask before they drop anything, unless ``--yes``; with
stdin not a terminal they refuse (one line, nothing changed) rather than hang or go
ahead silently."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

import pymesync

from .conftest import Run
from .helpers import Pymesync, offline, one_error_line
from .test_refused import entries, refused


@pytest.fixture
def library_alice(emu: Any, run: Run, private_store: Path) -> Any:
    """alice logged in by the library, which reads no project list: the server refuses
    an entry without activity at the sync (see tests/cli/test_refused.py)."""
    assert run("config", "set", "base_url", emu.base_url).exit_code == 0
    assert run("config", "set", "username", "alice").exit_code == 0
    with pymesync.TimeSync(emu.base_url, db=private_store) as ts:
        assert "token" in ts.authenticate("alice", "alice", "password")
    return emu


def logged(run: Run, notes: str) -> str:
    result = run("log", "1h30m", "-p", "gwm", "-a", "dev", "-n", notes)
    assert result.exit_code == 0, result.output
    return str(result.stdout.split(" as ")[1].split(":")[0])


def kept(run: Run, notes: str) -> bool:
    result = run("times", "--json")
    assert result.exit_code == 0, result.output
    return any(t["notes"] == notes for t in json.loads(result.stdout)["times"])


@pytest.fixture
def terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    """As if stdin were a terminal (the answers come from the runner's input)."""
    monkeypatch.setattr("pymesync.cli.confirm.interactive", lambda: True)


def test_rm_without_yes_and_no_terminal_refuses_and_keeps_the_entry(run: Run, alice: Any) -> None:
    uuid = logged(run, "design review")
    message = one_error_line(run("rm", uuid[:8]), 1)
    assert message.startswith("nothing removed: stdin is not a terminal to ask")
    assert "Remove 1h30m gwm dev 'design review' on " in message
    assert message.endswith("; give --yes to confirm")
    assert kept(run, "design review")


def test_rm_asks_on_a_terminal(run: Run, alice: Any, terminal: None) -> None:
    uuid = logged(run, "design review")
    declined = run("rm", uuid[:8], input="n\n")
    assert "Remove 1h30m gwm dev 'design review' on " in declined.output
    assert "[y/N]" in declined.output
    assert one_error_line(declined, 1) == "nothing removed (you answered no)"
    assert kept(run, "design review")
    assert one_error_line(run("rm", uuid[:8], input="\n"), 1).startswith("nothing removed")
    accepted = run("rm", uuid[:8], input="y\n")
    assert accepted.exit_code == 0, accepted.output
    assert accepted.stdout.startswith("removed ")
    assert not kept(run, "design review")


def test_rm_with_yes_asks_nothing(run: Run, alice: Any, terminal: None) -> None:
    for flag in ("--yes", "-y"):
        uuid = logged(run, f"quick {flag}")
        done = run("rm", flag, uuid[:8])
        assert done.exit_code == 0 and "[y/N]" not in done.output, done.output
        assert not kept(run, f"quick {flag}")


def test_an_unknown_id_is_refused_before_any_question(run: Run, alice: Any) -> None:
    message = one_error_line(run("rm", "zzzz"), 1)
    assert "no time entry with an id starting with 'zzzz'" in message


def test_failed_discard_asks_unless_yes(run: Run, library_alice: Any) -> None:
    uuid = refused(run, library_alice)
    [op] = json.loads(run("failed", "list", "--json").stdout)
    message = one_error_line(run("failed", "discard", op["op_id"][:8]), 1)
    assert message.startswith("nothing discarded: stdin is not a terminal to ask")
    assert "the failed create of 15m ts 'no activity' on " in message
    assert [o["op_id"] for o in json.loads(run("failed", "list", "--json").stdout)] == [op["op_id"]]
    assert entries(run, "no activity")[0]["uuid"] == uuid
    done = run("failed", "discard", "--yes", op["op_id"][:8])
    assert done.exit_code == 0, done.output
    assert run("failed", "list").stdout == "no failed operations\n"


def test_failed_discard_on_a_terminal(run: Run, library_alice: Any, terminal: None) -> None:
    refused(run, library_alice)
    [op] = json.loads(run("failed", "list", "--json").stdout)
    declined = run("failed", "discard", op["op_id"][:8], input="no\n")
    assert one_error_line(declined, 1) == "nothing discarded (you answered no)"
    accepted = run("failed", "discard", op["op_id"][:8], input="yes\n")
    assert accepted.exit_code == 0, accepted.output
    assert accepted.stdout.splitlines()[-1].startswith(f"discarded {op['op_id']}")


def test_the_real_executable_with_stdin_closed_does_not_hang(
    pymesync: Pymesync, server: Any
) -> None:
    pymesync("config", "set", "base_url", server.base_url)
    pymesync("config", "set", "username", "alice")
    pymesync("login", "--password-stdin", input="alice\n")
    logged = pymesync("log", "30m", "-p", "gwm", "-a", "dev", "-n", "piped")
    uuid = logged.stdout.split(" as ")[1].split(":")[0]
    done = subprocess.run(
        [pymesync.exe, "rm", uuid[:8]],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        env=pymesync.env,
        timeout=30,
    )
    assert done.returncode == 1, done
    assert done.stderr.startswith("Error: nothing removed: stdin is not a terminal")
    assert "Traceback" not in done.stderr
    assert "piped" in pymesync("times").stdout


def test_offline_rm_with_yes_asks_nothing(run: Run, alice: Any) -> None:
    uuid = logged(run, "offline one")
    offline(alice)
    removed = run("rm", "--yes", uuid[:8])
    assert removed.exit_code == 0, removed.output
    assert not kept(run, "offline one")
