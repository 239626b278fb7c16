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


@pytest.fixture(autouse=True)
def _both_backends(store_backend: str) -> str:
    """Every store test runs on SQLite and on PostgreSQL (see tests/conftest.py)."""
    return store_backend


@pytest.fixture
def store(store_target: str | Path) -> Iterator[Store]:
    """A freshly created store (on the test's backend)."""
    s = Store.open(store_target)
    try:
        yield s
    finally:
        s.close()
