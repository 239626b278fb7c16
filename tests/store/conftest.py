"""Fixtures for the store tests: real SQLite files in tmp_path."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from pymesync.store import Store


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    """A database path in a fresh folder."""
    return tmp_path / "db.sqlite3"


@pytest.fixture
def store(db_path: Path) -> Iterator[Store]:
    """A freshly created store."""
    s = Store.open(db_path)
    try:
        yield s
    finally:
        s.close()
