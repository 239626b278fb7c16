"""Fixtures for the offline-backend tests: every test runs on a SQLite store and on a PostgreSQL
one (see ``store_backend`` in tests/conftest.py).

A test opens a client's store a second time with ``Store.open(ts.store_path)``: on
PostgreSQL ``store_path`` is None, and ``Store.open(None)`` opens ``PYMESYNC_DB``, the
test's database (the client shows its URL only without the password)."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _both_backends(store_backend: str) -> str:
    """Every offline-backend test runs on SQLite and on PostgreSQL."""
    return store_backend
