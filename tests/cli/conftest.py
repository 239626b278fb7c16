"""Fixtures for the command line's tests: a private config file and store per test, a
seeded emulator in a thread, and a runner that fails loudly on tracebacks."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from pymesync import cli
from pymesync.config import ENV_VARS

from .helpers import Pymesync, local_zone

OTHER_ENV = ("NO_COLOR", "PYMESYNC_PASSWORD", "PYMESYNC_PASSWORD_COMMAND", "VISUAL", "EDITOR")

Run = Callable[..., Result]


@pytest.fixture(autouse=True)
def private_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Each test gets its own config file (not created) and no PYMESYNC_* settings
    from the environment except the root conftest's private PYMESYNC_DB."""
    path = tmp_path / "config" / "config.toml"
    monkeypatch.setenv("PYMESYNC_CONFIG", str(path))
    for key, name in ENV_VARS.items():
        if key != "db":
            monkeypatch.delenv(name, raising=False)
    for name in OTHER_ENV:
        monkeypatch.delenv(name, raising=False)
    return path


@pytest.fixture
def run() -> Run:
    """Run ``pymesync ARGS...`` in-process. Any exception other than SystemExit (a
    traceback for the user) fails the test."""
    runner = CliRunner()

    def invoke(
        *args: str, input: str | None = None, env: dict[str, str] | None = None, color: bool = False
    ) -> Result:
        result = runner.invoke(cli.main, list(args), input=input, env=env, color=color)
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            raise AssertionError(f"traceback for {args}: {result.exception!r}") from (
                result.exception
            )
        return result

    return invoke


@pytest.fixture
def emu() -> Iterator[Any]:
    """A seeded emulator in a thread."""
    from pymesync.testing import run_emulator

    with run_emulator(seed_data=True) as emulator:
        yield emulator


@pytest.fixture
def alice(emu: Any, run: Run) -> Any:
    """Configured for alice at the emulator, and logged in."""
    assert run("config", "set", "base_url", emu.base_url).exit_code == 0
    assert run("config", "set", "username", "alice").exit_code == 0
    result = run("login", "--password-stdin", input="alice\n")
    assert result.exit_code == 0, result.output
    return emu


@pytest.fixture
def pymesync(tmp_path: Path) -> Pymesync:
    """The real executable in subprocesses, with a private config file and store."""
    return Pymesync(tmp_path)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Any]:
    """A seeded emulator in a process of its own (its data in ``tmp_path``)."""
    from pymesync.testing import run_emulator_process

    with run_emulator_process(seed_data=True, db=str(tmp_path / "server.sqlite3")) as emu:
        yield emu


@pytest.fixture
def zone(request: pytest.FixtureRequest) -> Iterator[str]:
    """The process's time zone set to the parameter (``indirect``; default UTC)."""
    with local_zone(getattr(request, "param", "UTC")) as name:
        yield name
