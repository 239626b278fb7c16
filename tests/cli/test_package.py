"""The command line as a package (issue 13): ``python -m pymesync.cli`` runs it, a
duration or day is checked by its parameter type before the command runs, and the
``times`` table finds the refusal reasons with a fixed number of queries, not per row."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from pymesync import when
from pymesync.client import TimeSync

from .conftest import Run
from .helpers import one_error_line
from .test_refused import REASON, refused
from .test_refused import alice as refused_alice


def test_python_m_runs_the_command_line() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "pymesync.cli", "--help"], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("Usage: pymesync [OPTIONS] COMMAND [ARGS]...")
    assert "  log " in done.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["log", "1h", "-p", "gwm", "--date", "someday"],
            f"not a date: 'someday' (use {when.PERIOD_FORMS})",
        ),
        (
            ["edit", "abc", "--duration", "1h", "--date", "soon"],
            f"not a date: 'soon' (use {when.PERIOD_FORMS})",
        ),
        (
            ["log", "8", "fortnights", "-p", "gwm"],
            "unknown unit 'fortnights' in '8 fortnights'"
            " (use e.g. 1h30m, 90m, 2h, 1.5h, 1:30 or seconds)",
        ),
    ],
)
def test_a_bad_duration_or_day_is_refused_before_the_command_runs(
    run: Run, args: list[str], message: str
) -> None:
    """Checked while the command line is parsed: one line, exit status 1, and nothing
    printed before it (the duration's reading was printed first before)."""
    result = run(*args)
    assert one_error_line(result, 1) == message
    assert result.stdout == ""


@contextmanager
def cli_statements(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """The SQL statements the command line runs meanwhile, besides those inside the
    library's own reads of the times and of their states (``get_times``,
    ``sync_states``: the library's business, tested with it)."""
    statements: list[str] = []
    inside = [0]
    connect = sqlite3.connect

    def traced(*args: Any, **kwargs: Any) -> sqlite3.Connection:
        conn = connect(*args, **kwargs)
        conn.set_trace_callback(lambda sql: None if inside[0] else statements.append(sql))
        return conn

    def library(method: Callable[..., Any]) -> Callable[..., Any]:
        def call(*args: Any, **kwargs: Any) -> Any:
            inside[0] += 1
            try:
                return method(*args, **kwargs)
            finally:
                inside[0] -= 1

        return call

    with monkeypatch.context() as patch:
        patch.setattr(sqlite3, "connect", traced)
        for name in ("get_times", "sync_states"):
            patch.setattr(TimeSync, name, library(getattr(TimeSync, name)))
        yield statements


#: Logged in by the library, so that ``log`` queues an entry the server refuses later.
alice = refused_alice


def test_the_times_table_finds_refusal_reasons_without_queries_per_row(
    run: Run, alice: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    refused(run, alice, "first")
    with cli_statements(monkeypatch) as one:
        result = run("times")
    assert result.exit_code == 0, result.output
    assert result.stderr.count(f" failed: {REASON}\n") == 1
    for notes in ("second", "third", "fourth"):
        refused(run, alice, notes)
    with cli_statements(monkeypatch) as four:
        result = run("times")
    assert result.exit_code == 0, result.output
    assert result.stderr.count(f" failed: {REASON}\n") == 4
    assert len(four) == len(one), [s for s in four if s not in one]
