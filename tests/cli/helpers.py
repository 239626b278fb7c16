"""Helpers for the command line's tests."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from click.testing import Result


def offline(emu: Any) -> None:
    """Every request answers 503, as a proxy does when the server is down."""
    emu.fail_next(10**6, status=503)


def one_error_line(result: Result, code: int | None = None) -> str:
    """The single ``Error: ...`` line of a failed command (asserts there is exactly one
    line on stderr, no traceback, and a non-zero status)."""
    assert result.exit_code != 0, result.output
    if code is not None:
        assert result.exit_code == code, (result.exit_code, result.output)
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("Error: ")]
    assert len(errors) == 1, result.stderr
    assert "Traceback" not in result.output
    return errors[0][len("Error: ") :]


def pymesync_executable() -> str:
    """The installed ``pymesync`` script next to this interpreter (or on PATH)."""
    candidate = Path(sys.executable).parent / "pymesync"
    if candidate.exists():
        return str(candidate)
    found = shutil.which("pymesync")
    assert found, "the pymesync executable is not installed"
    return found


def subprocess_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """An environment for running the executable with a private config and store."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYMESYNC_")}
    env.pop("NO_COLOR", None)
    env["PYMESYNC_CONFIG"] = str(tmp_path / "e2e-config.toml")
    env["PYMESYNC_DB"] = str(tmp_path / "e2e-store.sqlite3")
    env.update(extra)
    return env


class Pymesync:
    """Runs the executable with a private config file and store."""

    def __init__(self, tmp_path: Path) -> None:
        self.exe = pymesync_executable()
        self.env = subprocess_env(tmp_path)
        self.config = Path(self.env["PYMESYNC_CONFIG"])
        self.db = Path(self.env["PYMESYNC_DB"])

    def __call__(
        self, *args: str, input: str | None = None, code: int | None = 0, timeout: float = 60
    ) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            [self.exe, *args],
            input=input,
            capture_output=True,
            text=True,
            env=self.env,
            timeout=timeout,
        )
        assert "Traceback" not in done.stderr, done.stderr
        if code is not None:
            assert done.returncode == code, (args, done.returncode, done.stdout, done.stderr)
        return done

    def json(self, *args: str) -> Any:
        return json.loads(self(*args, "--json").stdout)


@contextmanager
def local_zone(name: str) -> Iterator[str]:
    """The process's time zone set to ``name`` (``TZ`` + ``tzset``), restored after."""
    before = os.environ.get("TZ")
    os.environ["TZ"] = name
    time.tzset()
    try:
        yield name
    finally:
        if before is None:
            os.environ.pop("TZ", None)
        else:
            os.environ["TZ"] = before
        time.tzset()
