"""Fixtures for the whole suite."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from pymesync.testing.postgres import PostgresServer


@pytest.fixture(autouse=True)
def private_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No test ever touches the real user's store: each gets its own database file."""
    path = tmp_path / "store" / "pymesync.sqlite3"
    monkeypatch.setenv("PYMESYNC_DB", str(path))
    return path


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """One real PostgreSQL server for the session (fsync off: fast, not durable). Without
    PostgreSQL on the machine the tests using it skip, saying how to get it; with
    ``PYMESYNC_REQUIRE_POSTGRES=1`` (CI) they fail instead (see docs/testing.md)."""
    from pymesync.testing.postgres import PostgresServer, PostgresUnavailable, skip_or_fail

    server = PostgresServer(durable=False)
    try:
        server.start()
    except PostgresUnavailable as error:
        skip_or_fail(error)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def postgres_url(postgres_server: PostgresServer) -> Iterator[str]:
    """The SQLAlchemy URL of a new, empty database of its own for this test (dropped at
    its end, connections still open to it included)."""
    url = postgres_server.new_database()
    try:
        yield url
    finally:
        postgres_server.drop_database(url.rsplit("/", 1)[1])
