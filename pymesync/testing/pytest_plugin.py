"""pytest fixtures for the TimeSync emulator (registered as the ``pymesync`` plugin).

* ``timesync_emulator``: an emulator with seed data in a background thread (the
  :class:`~pymesync.testing.server.Emulator` handle itself).
* ``timesync_emulator_process``: the same in a child process with a SQLite file in
  ``tmp_path`` (an :class:`~pymesync.testing.process.EmulatorProcess`), so it can be
  killed and restarted with its data.

Importing this module starts nothing and imports no emulator code.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from .process import EmulatorProcess
    from .server import Emulator


@pytest.fixture
def timesync_emulator() -> Iterator[Emulator]:
    """A seeded emulator served from a thread of the test process."""
    from .server import run_emulator

    with run_emulator(seed_data=True) as emulator:
        yield emulator


@pytest.fixture
def timesync_emulator_process(tmp_path: Path) -> Iterator[EmulatorProcess]:
    """A seeded emulator in a child process, persisting to ``tmp_path/emulator.sqlite3``."""
    from .process import run_emulator_process

    with run_emulator_process(seed_data=True, db=str(tmp_path / "emulator.sqlite3")) as emulator:
        yield emulator
