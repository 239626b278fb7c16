"""The real PostgreSQL server the tests run against (pymesync.testing.postgres) and the
fixtures of tests/conftest.py: it starts as the right user, answers over TCP on
loopback, makes and drops databases, leaves nothing behind, and says how to get
PostgreSQL when it is missing (a skip, or a failure under PYMESYNC_REQUIRE_POSTGRES=1)."""

from __future__ import annotations

import os
import pwd
import re
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from pymesync.testing import postgres
from pymesync.testing.postgres import PostgresServer, PostgresUnavailable

pytest_plugins = ["pytester"]

CONFTEST = Path(__file__).resolve().parent / "conftest.py"
#: Inner pytest runs without the plugins that only slow them down.
QUIET = ("-p", "no:cacheprovider", "-p", "no:hypothesispytest")


def port_is_free(port: int) -> bool:
    """Nothing listens on ``port``: a new server could bind it (with SO_REUSEADDR, as
    servers do, so connections of the old one in TIME_WAIT do not count) and a connection
    to it is refused."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
            probe.listen()
        except OSError:
            return False
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as client:
        return client.connect_ex(("127.0.0.1", port)) != 0


def databases(server: PostgresServer) -> set[str]:
    with server.connect() as conn:
        return {row[0] for row in conn.execute("SELECT datname FROM pg_database")}


def name_of(url: str) -> str:
    return url.rsplit("/", 1)[1]


# -- one server's whole life (durable, the benchmarks' settings) -----------------------


def test_a_server_runs_as_the_right_user_answers_on_loopback_and_stops_without_trace() -> None:
    try:
        server = PostgresServer().start()
    except PostgresUnavailable as error:
        postgres.skip_or_fail(error)
    try:
        folder, port = server.folder, server.port
        assert folder is not None and folder.is_dir() and server.is_running()
        # PostgreSQL refuses root: as root the data belongs to the postgres user
        expected = pwd.getpwnam("postgres").pw_uid if os.geteuid() == 0 else os.getuid()
        info = server.data_dir.stat()
        assert info.st_uid == expected
        assert info.st_mode & 0o777 == 0o700
        assert server.url("abc") == f"postgresql+psycopg://postgres@127.0.0.1:{port}/abc"
        with server.connect() as conn:
            row = conn.execute(
                "SELECT current_user, host(inet_server_addr()), inet_server_port(),"
                " current_setting('listen_addresses'), current_setting('fsync'),"
                " current_setting('synchronous_commit'), current_setting('max_connections'),"
                " pg_encoding_to_char(encoding) FROM pg_database WHERE datname = 'postgres'"
            ).fetchone()
        assert row == ("postgres", "127.0.0.1", port, "127.0.0.1", "on", "on", "300", "UTF8")
        assert not port_is_free(port)

        # a forked child that exits runs no stop of its parent's server
        child = os.fork()
        if child == 0:  # pragma: no cover (the child)
            server.stop()
            os._exit(0)
        os.waitpid(child, 0)
        assert server.is_running() and folder.is_dir()
        with server.connect() as conn:
            assert conn.execute("SELECT 1").fetchone() == (1,)
    finally:
        server.stop()
    assert not folder.exists()
    assert port_is_free(port)
    assert not server.is_running()
    server.stop()  # idempotent
    with pytest.raises(RuntimeError, match="not running"):
        server.url()


def test_a_server_left_running_is_stopped_when_the_interpreter_exits() -> None:
    script = textwrap.dedent(
        """
        from pymesync.testing.postgres import PostgresServer, PostgresUnavailable
        try:
            server = PostgresServer(durable=False).start()
        except PostgresUnavailable as error:
            print("unavailable", error)
        else:
            print(server.folder, server.port, flush=True)
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=True
    )
    if done.stdout.startswith("unavailable"):
        postgres.skip_or_fail(PostgresUnavailable(done.stdout))
    folder, port = done.stdout.split()
    assert folder and not Path(folder).exists()
    assert port_is_free(int(port))


# -- databases on the session's server (tests/conftest.py) ------------------------------


def test_postgres_url_is_a_fresh_empty_database_dropped_after_the_test(
    postgres_server: PostgresServer, postgres_url: str
) -> None:
    pattern = rf"postgresql\+psycopg://postgres@127\.0\.0\.1:{postgres_server.port}/(\w+)"
    match = re.fullmatch(pattern, postgres_url)
    assert match, postgres_url
    name = match.group(1)
    assert name in databases(postgres_server)
    with postgres_server.connect(name) as conn:
        tables = conn.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'"
        ).fetchone()
        settings = conn.execute(
            "SELECT current_setting('fsync'), current_setting('synchronous_commit'),"
            " current_setting('full_page_writes')"
        ).fetchone()
    assert tables == (0,)
    assert settings == ("off", "off", "off")  # the suite's server is the fast one


def test_each_test_gets_its_own_database_dropped_at_its_end(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(CONFTEST.read_text(encoding="utf-8"))
    pytester.makepyfile(
        """
        seen = []

        def names(server):
            with server.connect() as conn:
                return {row[0] for row in conn.execute("SELECT datname FROM pg_database")}

        def test_one(postgres_server, postgres_url):
            seen.append(postgres_url.rsplit("/", 1)[1])
            assert seen[0] in names(postgres_server)

        def test_two(postgres_server, postgres_url):
            seen.append(postgres_url.rsplit("/", 1)[1])
            assert seen[0] != seen[1]
            assert seen[0] not in names(postgres_server)
            assert seen[1] in names(postgres_server)
        """
    )
    result = pytester.runpytest(*QUIET)
    if result.parseoutcomes().get("skipped"):
        postgres.skip_or_fail(PostgresUnavailable("the inner run skipped"))
    result.assert_outcomes(passed=2)


def test_create_with_a_template_and_drop_with_connections_still_open(
    postgres_server: PostgresServer,
) -> None:
    source = postgres_server.new_database(prefix="harness_source")
    with postgres_server.connect(name_of(source)) as conn:
        conn.execute("CREATE TABLE marker (x integer)")
        conn.execute("INSERT INTO marker VALUES (42)")
        conn.commit()
    copy = postgres_server.create_database("harness_copy", template=name_of(source))
    assert copy.endswith(f":{postgres_server.port}/harness_copy")
    lingering = postgres_server.connect("harness_copy")
    assert lingering.execute("SELECT x FROM marker").fetchall() == [(42,)]
    lingering.commit()

    postgres_server.drop_database("harness_copy")  # FORCE ends the open connection
    postgres_server.drop_database(name_of(source))
    assert not {"harness_copy", name_of(source)} & databases(postgres_server)
    import psycopg

    with pytest.raises(psycopg.OperationalError):
        lingering.execute("SELECT 1")
    lingering.close()
    postgres_server.drop_database("harness_copy")  # absent: nothing to do


def test_database_names_are_checked(postgres_server: PostgresServer) -> None:
    before = databases(postgres_server)
    for bad in ("Upper", "a-b", 'x"; DROP DATABASE postgres; --', ""):
        with pytest.raises(ValueError, match="not a plain database name"):
            postgres_server.create_database(bad)
    assert databases(postgres_server) == before


# -- what happens when PostgreSQL is not there -----------------------------------------


def test_a_missing_binary_folder_says_how_to_install(tmp_path: Path) -> None:
    server = PostgresServer(bin_dir=tmp_path / "nowhere")
    with pytest.raises(PostgresUnavailable) as raised:
        server.start()
    message = str(raised.value)
    assert "apt-get install postgresql" in message
    assert "PYMESYNC_PG_BIN" in message
    assert str(tmp_path / "nowhere") in message
    assert server.folder is None and not server.is_running()


def test_pymesync_pg_bin_names_the_binaries(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PYMESYNC_PG_BIN", str(tmp_path))
    with pytest.raises(PostgresUnavailable, match="apt-get install postgresql"):
        postgres.find_bin_dir()
    fake_binaries(tmp_path)
    assert postgres.find_bin_dir() == tmp_path


def fake_binaries(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name in ("initdb", "pg_ctl"):
        (folder / name).write_text("#!/bin/sh\nexit 1\n")
        (folder / name).chmod(0o755)
    return folder


def test_without_initdb_on_path_the_newest_debian_version_is_found(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("PYMESYNC_PG_BIN", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    monkeypatch.setattr(postgres, "DEBIAN_BIN_GLOB", str(tmp_path / "lib" / "*" / "bin"))
    with pytest.raises(PostgresUnavailable, match=r"not found.*apt-get install postgresql"):
        postgres.find_bin_dir()
    for version in ("9.6", "13", "15"):
        fake_binaries(tmp_path / "lib" / version / "bin")
    (tmp_path / "lib" / "16" / "bin").mkdir(parents=True)  # a version without binaries
    assert postgres.find_bin_dir() == tmp_path / "lib" / "15" / "bin"
    # initdb on PATH wins, from the folder its symlink points into
    (tmp_path / "path").mkdir()
    (tmp_path / "path" / "initdb").symlink_to(tmp_path / "lib" / "13" / "bin" / "initdb")
    monkeypatch.setenv("PATH", str(tmp_path / "path"))
    assert postgres.find_bin_dir() == tmp_path / "lib" / "13" / "bin"


def test_a_missing_driver_is_unavailable_too(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "psycopg", None)
    with pytest.raises(PostgresUnavailable, match="psycopg"):
        PostgresServer(bin_dir=fake_binaries(tmp_path / "bin")).start()


@pytest.mark.parametrize(("value", "skips"), [(None, True), ("0", True), ("", True), ("1", False)])
def test_unavailable_skips_unless_postgres_is_required(
    value: str | None, skips: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    if value is None:
        monkeypatch.delenv("PYMESYNC_REQUIRE_POSTGRES", raising=False)
    else:
        monkeypatch.setenv("PYMESYNC_REQUIRE_POSTGRES", value)
    error = PostgresUnavailable("initdb not found: apt-get install postgresql")
    expected = pytest.skip.Exception if skips else pytest.fail.Exception
    with pytest.raises(expected) as raised:
        postgres.skip_or_fail(error)
    assert "apt-get install postgresql" in str(raised.value)
    assert ("PYMESYNC_REQUIRE_POSTGRES=1" in str(raised.value)) is not skips


@pytest.mark.parametrize(("required", "outcome"), [(False, "skipped"), (True, "errors")])
def test_the_fixtures_skip_or_fail_without_postgresql(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, required: bool, outcome: str
) -> None:
    pytester.makeconftest(CONFTEST.read_text(encoding="utf-8"))
    pytester.makepyfile("def test_one(postgres_url):\n    pass\n")
    monkeypatch.setenv("PYMESYNC_PG_BIN", str(pytester.path / "no-postgres-here"))
    if required:
        monkeypatch.setenv("PYMESYNC_REQUIRE_POSTGRES", "1")
    else:
        monkeypatch.delenv("PYMESYNC_REQUIRE_POSTGRES", raising=False)
    result = pytester.runpytest("-rs", *QUIET)
    result.assert_outcomes(**{outcome: 1})
    result.stdout.fnmatch_lines(["*apt-get install postgresql*"])
