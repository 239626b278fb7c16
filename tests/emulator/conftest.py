"""Fixtures for the emulator's own tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from pymesync.testing import Emulator

from .helpers import Api


@pytest.fixture
def emu(timesync_emulator: Emulator) -> Emulator:
    """A seeded emulator (the plugin's thread fixture)."""
    return timesync_emulator


@pytest.fixture
def api(emu: Emulator) -> Iterator[Api]:
    """Raw HTTP access to ``emu``."""
    client = Api(emu.base_url)
    yield client
    client.session.close()


@pytest.fixture
def tok(emu: Emulator) -> dict[str, str]:
    """Tokens for every seeded account (issued directly, so no bcrypt cost)."""
    return {name: emu.issue_token(name) for name in ("admin", "alice", "bob", "carol", "dave")}
