"""Fixtures for the whole suite."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def private_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No test ever touches the real user's store: each gets its own database file."""
    path = tmp_path / "store" / "pymesync.sqlite3"
    monkeypatch.setenv("PYMESYNC_DB", str(path))
    return path
