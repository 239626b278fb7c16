"""The command line as a package (issue 13): ``python -m pymesync.cli`` runs it, a
duration or day is checked by its parameter type before the command runs, and the
``times`` table finds the refusal reasons with a fixed number of queries, not per row."""

from __future__ import annotations

import subprocess
import sys

import pytest

from .conftest import Run
from .helpers import one_error_line


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
            "not a date: 'someday' (use YYYY-MM-DD, today or yesterday)",
        ),
        (
            ["edit", "abc", "--duration", "1h", "--date", "soon"],
            "not a date: 'soon' (use YYYY-MM-DD, today or yesterday)",
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
