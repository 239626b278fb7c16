"""Fixtures for the sync tests: every test runs on a SQLite store and on a PostgreSQL
one (see ``store_backend`` in tests/conftest.py)."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _both_backends(store_backend: str) -> str:
    """Every sync test runs on SQLite and on PostgreSQL."""
    return store_backend
