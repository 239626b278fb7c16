"""Fixtures for the whole suite."""

from __future__ import annotations

import os
import uuid
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


# ---------------------------------------------------------------- both store backends
#
# The store and sync suites run every test twice: on a SQLite file and on a PostgreSQL
# database (a fresh one per test, copied from a migrated template). A test that reads
# the SQLite file itself (it asks for ``db_path``) runs on SQLite only, and so does a
# test marked ``@pytest.mark.sqlite_only(reason=...)``: it checks something that only
# SQLite has (a pragma, a query plan, its files), said in its reason.

BACKENDS = ("sqlite", "postgresql")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Parametrise every test that uses ``store_backend`` (the store and sync suites
    ask for it in their conftest) with both backends."""
    if "store_backend" in metafunc.fixturenames:
        metafunc.parametrize("store_backend", BACKENDS, indirect=True)


@pytest.fixture(scope="session")
def postgres_template(postgres_server: PostgresServer) -> str:
    """The name of a database holding the store's current schema, to copy per test."""
    from pymesync.store import Store

    name = "pymesync_template"
    postgres_server.create_database(name)
    Store.open(postgres_server.url(name)).close()
    return name


@pytest.fixture
def store_backend(
    request: pytest.FixtureRequest, private_store: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[str]:
    """``sqlite`` or ``postgresql``; on PostgreSQL, ``PYMESYNC_DB`` names a fresh
    database with the current schema (dropped after the test). A unittest-style class
    (a hypothesis state machine) is not parametrised: it gets ``sqlite`` and chooses
    its stores itself (tests/sync/test_state_machine.py runs one class per backend)."""
    backend = str(getattr(request, "param", "sqlite"))
    if backend == "sqlite":
        yield backend
        return
    if "db_path" in request.fixturenames:
        pytest.skip("reads the SQLite file itself")
    marker = request.node.get_closest_marker("sqlite_only")
    if marker is not None:
        pytest.skip(f"SQLite only: {marker.kwargs.get('reason', 'checks SQLite itself')}")
    server = request.getfixturevalue("postgres_server")
    template = request.getfixturevalue("postgres_template")
    name = f"t_{uuid.uuid4().hex[:12]}"
    server.create_database(name, template=template)
    monkeypatch.setenv("PYMESYNC_DB", server.url(name))
    try:
        yield backend
    finally:
        server.drop_database(name)


@pytest.fixture
def store_target(store_backend: str, tmp_path: Path) -> str | Path:
    """What ``Store.open`` is given in a test: a file in ``tmp_path``, or the URL of
    the test's PostgreSQL database."""
    if store_backend == "postgresql":
        return os.environ["PYMESYNC_DB"]
    return tmp_path / "db.sqlite3"


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
