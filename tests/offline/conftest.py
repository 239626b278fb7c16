"""The offline-backend tests run on both store backends (see tests/sync/conftest.py)."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _both_backends(store_backend: str) -> str:
    return store_backend
