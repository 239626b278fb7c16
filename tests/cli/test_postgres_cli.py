"""The command line and the daemon on a store in PostgreSQL: ``--db URL``,
``PYMESYNC_DB=URL`` and the ``db`` setting; status without creating anything; migrate,
doctor; several daemons on one store; errors of one line that never show the password.

Every test needs the ``postgres_server`` fixture (skipped where there is none)."""

from __future__ import annotations

import contextlib
import json
import select
import signal
import socket
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from .conftest import Run
from .helpers import Pymesync, one_error_line

PASSWORD = "s3cr3t-pw"


def with_password(url: str, password: str = PASSWORD) -> str:
    """``url`` with ``password`` in it (the test server trusts loopback connections, so
    any password connects)."""
    from sqlalchemy.engine import make_url

    return make_url(url).set(password=password).render_as_string(hide_password=False)


def hidden(url: str) -> str:
    """``url`` as the command line must show it: its password as ``***``."""
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


def moved(url: str, *, host: str | None = None, port: int | None = None) -> str:
    """``url`` pointing at another host or port (same password, same database)."""
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    if host is not None:
        parsed = parsed.set(host=host)
    if port is not None:
        parsed = parsed.set(port=port)
    return parsed.render_as_string(hide_password=False)


def table_names(url: str) -> set[str]:
    """The tables of the database ``url`` (read through SQLAlchemy's inspector)."""
    from sqlalchemy import create_engine, inspect

    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return set(inspect(conn).get_table_names())
    finally:
        engine.dispose()


def run_sql(url: str, sql: str) -> None:
    """One statement on the database ``url``, committed."""
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(text(sql))
    finally:
        engine.dispose()


@pytest.fixture
def empty_db(postgres_server: Any) -> Iterator[str]:
    """The URL (with a password) of a new, empty database, dropped at the end."""
    name = f"cli_{uuid.uuid4().hex[:12]}"
    postgres_server.create_database(name)
    try:
        yield with_password(postgres_server.url(name))
    finally:
        postgres_server.drop_database(name)


@pytest.fixture
def pg_db(postgres_server: Any, postgres_template: str) -> Iterator[str]:
    """The URL (with a password) of a new database holding a current store."""
    name = f"cli_{uuid.uuid4().hex[:12]}"
    postgres_server.create_database(name, template=postgres_template)
    try:
        yield with_password(postgres_server.url(name))
    finally:
        postgres_server.drop_database(name)


@pytest.fixture
def on_pg(emu: Any, run: Run, pg_db: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> str:
    """``PYMESYNC_DB`` is ``pg_db``; alice at the emulator, logged in (her token in the
    PostgreSQL store); the working directory is ``tmp_path/cwd`` (empty). The URL."""
    monkeypatch.setenv("PYMESYNC_DB", pg_db)
    (tmp_path / "cwd").mkdir()
    monkeypatch.chdir(tmp_path / "cwd")
    assert run("config", "set", "base_url", emu.base_url).exit_code == 0
    assert run("config", "set", "username", "alice").exit_code == 0
    result = run("login", "--password-stdin", input="alice\n")
    assert result.exit_code == 0, result.output
    return pg_db


def queued_notes(url: str, username: str = "alice") -> list[str]:
    """The notes of ``username``'s time entries queued in the store ``url``."""
    from pymesync.store import Store

    with Store.open(url) as store:
        return [
            str(op.payload.get("notes"))
            for op in store.operations(None, entities=("time",))
            if op.account.endswith(f"|{username}")
        ]


def no_secret(*texts: str) -> None:
    for text in texts:
        assert PASSWORD not in text, text


# ---------------------------------------------------------------- where the URL comes from


def test_every_command_uses_the_store_that_pymesync_db_names(
    run: Run, on_pg: str, emu: Any, private_store: Path, tmp_path: Path
) -> None:
    emu.fail_next(10**6, status=503)  # stays queued: visible in the store
    logged = run("log", "1h", "-p", "gwm", "-a", "dev", "-n", "in postgres")
    assert logged.exit_code == 0, logged.output
    assert queued_notes(on_pg) == ["in postgres"]
    times = json.loads(run("times", "--json").stdout)
    assert [t["notes"] for t in times["times"] if t["sync_state"] == "pending"] == ["in postgres"]
    assert json.loads(run("status", "--json").stdout)["pending"] == 1
    emu.clear_faults()
    assert run("sync").exit_code == 0
    assert json.loads(run("status", "--json").stdout)["pending"] == 0
    # nothing went to a SQLite file: not the private one, not one named after the URL
    assert not private_store.exists()
    assert list((tmp_path / "cwd").iterdir()) == []


def test_the_db_option_and_the_db_setting_take_a_url(
    run: Run, emu: Any, pg_db: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    run("config", "set", "base_url", emu.base_url)
    run("config", "set", "username", "alice")
    # --db wins over PYMESYNC_DB (a SQLite file here)
    assert run("--db", pg_db, "login", "--password-stdin", input="alice\n").exit_code == 0
    emu.fail_next(10**6, status=503)
    assert run("--db", pg_db, "log", "1h", "-p", "gwm", "-n", "by flag").exit_code == 0
    # the config file's db setting, with no PYMESYNC_DB
    monkeypatch.delenv("PYMESYNC_DB")
    saved = run("config", "set", "db", pg_db)
    assert saved.exit_code == 0 and hidden(pg_db) in saved.stdout
    assert run("log", "2h", "-p", "gwm", "-n", "by setting").exit_code == 0
    assert sorted(queued_notes(pg_db)) == ["by flag", "by setting"]
    assert json.loads(run("status", "--json").stdout)["pending"] == 2


def test_a_plain_path_still_names_a_sqlite_file(
    run: Run, alice: Any, tmp_path: Path, private_store: Path
) -> None:
    other = tmp_path / "other" / "store.sqlite3"
    assert run("--db", str(other), "login", "--password-stdin", input="alice\n").exit_code == 0
    alice.fail_next(10**6, status=503)
    assert run("--db", str(other), "log", "1h", "-p", "gwm", "-n", "file").exit_code == 0
    status = json.loads(run("--db", str(other), "status", "--json").stdout)
    assert status["store"] == str(other) and status["pending"] == 1


# ---------------------------------------------------------------- status


def test_status_on_an_empty_database_is_no_store_yet_and_creates_nothing(
    run: Run, empty_db: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PYMESYNC_URL", "http://127.0.0.1:9/v0")
    monkeypatch.setenv("PYMESYNC_USERNAME", "alice")
    text = run("--db", empty_db, "status")
    assert text.exit_code == 0, text.output
    (line,) = [line for line in text.stdout.splitlines() if line.startswith("store")]
    assert line.split(None, 1)[1] == f"{hidden(empty_db)} (no store yet)"
    data = json.loads(run("--db", empty_db, "status", "--json").stdout)
    assert data["store"] == hidden(empty_db)
    assert (data["pending"], data["logged_in"]) == (0, False)
    no_secret(text.output, json.dumps(data))
    assert table_names(empty_db) == set()  # nothing created


def test_status_json_per_account_on_a_shared_store(run: Run, on_pg: str, emu: Any) -> None:
    emu.fail_next(10**6, status=503)
    assert run("log", "1h", "-p", "gwm", "-n", "alice's").exit_code == 0
    emu.clear_faults()
    assert run("--user", "bob", "login", "--password-stdin", input="bob\n").exit_code == 0
    emu.fail_next(10**6, status=503)
    for notes in ("bob's", "bob's too"):
        assert run("--user", "bob", "log", "1h", "-p", "gwm", "-n", notes).exit_code == 0
    alice = json.loads(run("status", "--json").stdout)
    bob = json.loads(run("--user", "bob", "status", "--json").stdout)
    assert (alice["account"]["username"], alice["pending"]) == ("alice", 1)
    assert (bob["account"]["username"], bob["pending"], bob["logged_in"]) == ("bob", 2, True)
    assert alice["store"] == bob["store"] == hidden(on_pg)
    text = run("--user", "bob", "status")
    assert f"store         {hidden(on_pg)}\n" in text.stdout
    no_secret(text.output, json.dumps(alice), json.dumps(bob))


def test_status_on_a_store_at_an_older_schema_asks_for_migrate(
    run: Run, pg_db: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PYMESYNC_URL", "http://127.0.0.1:9/v0")
    monkeypatch.setenv("PYMESYNC_USERNAME", "alice")
    downgrade(pg_db, "0002")
    message = one_error_line(run("--db", pg_db, "status"), 1)
    assert "older schema revision 0002" in message and "pymesync migrate" in message
    assert hidden(pg_db) in message
    no_secret(message)


# ---------------------------------------------------------------- errors never show the password


@pytest.mark.parametrize(
    "args",
    [
        ("status",),
        ("status", "--json"),
        ("log", "1h", "-p", "gwm", "-n", "x"),
        ("times",),
        ("sync",),
        ("logout",),
        ("migrate",),
        ("doctor",),
        ("start", "-p", "gwm"),
        ("undo",),
    ],
)
def test_an_unreachable_store_is_one_line_without_the_password(
    run: Run, args: tuple[str, ...], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()  # (nothing listens there now)
    url = f"postgresql+psycopg://postgres:{PASSWORD}@127.0.0.1:{port}/pymesync"
    monkeypatch.setenv("PYMESYNC_URL", "http://127.0.0.1:9/v0")
    monkeypatch.setenv("PYMESYNC_USERNAME", "alice")
    monkeypatch.chdir(tmp_path)
    result = run("--db", url, *args, input="alice\n")
    message = one_error_line(result, 1)
    assert message.startswith(f"The store {hidden(url)} cannot be reached: "), message
    no_secret(result.output)
    assert not [p for p in tmp_path.iterdir() if p.name.startswith("postgresql")]


def test_a_daemon_on_an_unreachable_store_exits_with_one_line(pymesync: Pymesync) -> None:
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()
    url = f"postgresql+psycopg://postgres:{PASSWORD}@127.0.0.1:{port}/pymesync"
    pymesync.env.update(PYMESYNC_URL="http://127.0.0.1:9/v0", PYMESYNC_USERNAME="alice")
    done = pymesync("--db", url, "daemon", "--interval", "1", code=1, timeout=30)
    assert done.stderr.splitlines() == [
        f"Error: The store {hidden(url)} cannot be reached: connection failed: connection to"
        f' server at "127.0.0.1", port {port} failed: Connection refused'
    ], done.stderr
    no_secret(done.stdout, done.stderr)


def test_unknown_database_and_too_new_schema_are_one_line_without_the_password(
    run: Run, pg_db: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PYMESYNC_URL", "http://127.0.0.1:9/v0")
    monkeypatch.setenv("PYMESYNC_USERNAME", "alice")
    from sqlalchemy.engine import make_url

    missing = make_url(pg_db).set(database="no_such_db_here").render_as_string(False)
    for args in (("status",), ("log", "1h", "-p", "gwm")):
        result = run("--db", missing, *args)
        message = one_error_line(result, 1)
        assert hidden(missing) in message and "no_such_db_here" in message
        no_secret(result.output)
    run_sql(pg_db, "UPDATE alembic_version SET version_num = '9999'")
    for args in (("status",), ("log", "1h", "-p", "gwm"), ("migrate",)):
        result = run("--db", pg_db, *args)
        message = one_error_line(result, 1)
        assert "'9999'" in message and hidden(pg_db) in message, message
        no_secret(result.output)


def test_a_url_with_a_port_that_is_not_a_number_is_one_line(run: Run) -> None:
    url = f"postgresql+psycopg://postgres:{PASSWORD}@127.0.0.1:notaport/pymesync"
    for args in (("status",), ("log", "1h", "-p", "gwm"), ("migrate",)):
        result = run("--url", "http://127.0.0.1:9/v0", "--user", "a", "--db", url, *args)
        assert "port" in one_error_line(result, 1)
        no_secret(result.output)


@pytest.fixture
def black_hole() -> Iterator[int]:
    """A loopback port that takes connections and never answers (as a host whose
    packets are dropped: the connection never completes)."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)  # (the kernel completes the handshake; nobody ever reads)
    try:
        yield sock.getsockname()[1]
    finally:
        sock.close()


def test_a_server_that_never_answers_ends_with_one_line_after_the_connect_timeout(
    pymesync: Pymesync, black_hole: int
) -> None:
    url = f"postgresql+psycopg://postgres:{PASSWORD}@127.0.0.1:{black_hole}/pymesync"
    pymesync.env.update(
        PYMESYNC_DB=url,
        PYMESYNC_URL="http://127.0.0.1:9/v0",
        PYMESYNC_USERNAME="alice",
        PGCONNECT_TIMEOUT="1",  # (libpq waits at least 2 s)
    )
    for args in (("status", "--json"), ("log", "1h", "-p", "gwm")):
        started = time.monotonic()
        done = pymesync(*args, code=1, timeout=30)
        assert time.monotonic() - started < 15
        assert done.stderr.splitlines() == [
            f"Error: The store {hidden(url)} cannot be reached: connection timeout expired"
        ], done.stderr
        no_secret(done.stdout, done.stderr)


def test_config_never_shows_the_password(
    run: Run, monkeypatch: pytest.MonkeyPatch, private_config: Path
) -> None:
    url = f"postgresql+psycopg://postgres:{PASSWORD}@db.example:5432/pymesync"
    monkeypatch.delenv("PYMESYNC_DB")
    saved = run("config", "set", "db", url)
    assert saved.stdout.startswith(f"db = {hidden(url)} (saved in ")
    assert PASSWORD in private_config.read_text()  # (the file keeps it: mode 0600)
    shown = [run("config", "get", "db"), run("config", "list"), run("config", "list", "--json")]
    assert shown[0].stdout == hidden(url) + "\n"
    assert hidden(url) in shown[1].stdout
    assert json.loads(shown[2].stdout)["values"]["db"]["value"] == hidden(url)
    monkeypatch.setenv("PYMESYNC_DB", url)  # from the environment too
    listed = run("config", "list")
    assert hidden(url) in listed.stdout
    no_secret(saved.output, listed.output, *(r.output for r in shown))


# ---------------------------------------------------------------- libpq's own settings


def test_a_libpq_service_file_names_the_store(
    run: Run, postgres_server: Any, empty_db: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sqlalchemy.engine import make_url

    parts = make_url(empty_db)
    service = tmp_path / "pg_service.conf"
    service.write_text(
        "[pymesync]\n"
        f"host={parts.host}\nport={parts.port}\nuser={parts.username}\ndbname={parts.database}\n"
    )
    monkeypatch.setenv("PGSERVICEFILE", str(service))
    monkeypatch.setenv("PYMESYNC_URL", "http://127.0.0.1:9/v0")
    monkeypatch.setenv("PYMESYNC_USERNAME", "alice")
    url = "postgresql+psycopg:///?service=pymesync"
    created = run("--db", url, "migrate")
    assert created.stdout == f"Created the pymesync database {url} at schema revision 0003.\n"
    assert "alembic_version" in table_names(empty_db)
    status = json.loads(run("--db", url, "status", "--json").stdout)
    assert status["store"] == url and status["pending"] == 0


def test_libpq_environment_variables_fill_in_the_url(
    run: Run, empty_db: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sqlalchemy.engine import make_url

    parts = make_url(empty_db)
    monkeypatch.setenv("PGHOST", str(parts.host))
    monkeypatch.setenv("PGPORT", str(parts.port))
    monkeypatch.setenv("PGUSER", str(parts.username))
    monkeypatch.setenv("PGPASSWORD", PASSWORD)
    url = f"postgresql+psycopg:///{parts.database}"
    created = run("--db", url, "migrate")
    assert created.stdout == f"Created the pymesync database {url} at schema revision 0003.\n"
    assert "alembic_version" in table_names(empty_db)


# ---------------------------------------------------------------- migrate and doctor


def test_migrate_creates_then_finds_the_tables_current(run: Run, empty_db: str) -> None:
    shown = hidden(empty_db)
    first = run("migrate", "--db", empty_db)
    assert first.stdout == f"Created the pymesync database {shown} at schema revision 0003.\n"
    again = run("--db", empty_db, "migrate")
    assert again.stdout == f"The pymesync database {shown} is up to date (schema revision 0003).\n"
    assert {"operations", "alembic_version"} <= table_names(empty_db)
    no_secret(first.output, again.output)


def downgrade(url: str, revision: str) -> None:
    """Take the store in the database ``url`` down to the schema ``revision``."""
    from alembic import command
    from sqlalchemy import create_engine

    from pymesync.store.migrator import alembic_config

    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            config = alembic_config()
            config.attributes["connection"] = conn
            command.downgrade(config, revision)
    finally:
        engine.dispose()


def test_migrate_upgrades_an_older_schema(run: Run, pg_db: str) -> None:
    downgrade(pg_db, "0002")
    assert "timers" not in table_names(pg_db)
    upgraded = run("--db", pg_db, "migrate")
    assert upgraded.stdout == (
        f"Upgraded the pymesync database {hidden(pg_db)} from schema revision 0002 to 0003.\n"
    )
    assert "timers" in table_names(pg_db)


def test_doctor_on_a_url(run: Run, empty_db: str) -> None:
    shown = hidden(empty_db)
    nothing = run("doctor", "--db", empty_db)
    assert nothing.stdout == f"There is no store in {shown} yet: nothing to check.\n"
    assert table_names(empty_db) == set()
    run("migrate", "--db", empty_db)
    sound = run("doctor", "--db", empty_db)
    assert sound.stdout == f"The store {shown} answers and its schema is current.\n"
    no_secret(nothing.output, sound.output)


# ---------------------------------------------------------------- the daemon


def start_daemon(pymesync: Pymesync, log: Path, *extra: str) -> subprocess.Popen[str]:
    with log.open("w") as sink:
        return subprocess.Popen(
            [pymesync.exe, *extra, "daemon", "--interval", "0.2"],
            stdout=subprocess.DEVNULL,
            stderr=sink,
            text=True,
            env=pymesync.env,
        )


def wait_for(what: str, log: Path, daemon: subprocess.Popen[str], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while what not in log.read_text():
        assert daemon.poll() is None, log.read_text()
        assert time.monotonic() < deadline, log.read_text()
        time.sleep(0.05)


def stop(daemon: subprocess.Popen[str]) -> None:
    if daemon.poll() is None:
        daemon.send_signal(signal.SIGTERM)
        try:
            daemon.wait(timeout=20)
        except subprocess.TimeoutExpired:
            daemon.kill()
            daemon.wait()


def login_on(pymesync: Pymesync, server: Any, url: str) -> None:
    pymesync.env["PYMESYNC_DB"] = url
    pymesync("config", "set", "base_url", server.base_url)
    pymesync("config", "set", "username", "alice")
    pymesync("login", "--password-stdin", input="alice\n")


def test_two_daemons_share_a_postgresql_store(
    pymesync: Pymesync, server: Any, pg_db: str, tmp_path: Path
) -> None:
    login_on(pymesync, server, pg_db)
    server.fail_next(10**6, status=503)
    for i in range(6):
        pymesync("log", "1h", "-p", "gwm", "-n", f"shared {i}")
    logs = [tmp_path / "one.log", tmp_path / "two.log"]
    daemons = [start_daemon(pymesync, log) for log in logs]
    try:
        for daemon, log in zip(daemons, logs, strict=True):
            wait_for(" syncing ", log, daemon)
        server.clear_faults()
        deadline = time.monotonic() + 30
        while pymesync.json("status")["pending"] and time.monotonic() < deadline:
            time.sleep(0.2)
        assert pymesync.json("status")["pending"] == 0
        assert all(daemon.poll() is None for daemon in daemons)  # both still run
    finally:
        for daemon in daemons:
            stop(daemon)
    for daemon, log in zip(daemons, logs, strict=True):
        text = log.read_text()
        assert daemon.returncode == 0, text
        assert f"(store {hidden(pg_db)})" in text.splitlines()[0]
        assert "Traceback" not in text
        no_secret(text)
    notes = [t["notes"] for t in pymesync.json("times")["times"]]
    assert sorted(n for n in notes if n and n.startswith("shared")) == [
        f"shared {i}" for i in range(6)
    ]


def test_a_second_daemon_on_a_sqlite_store_is_still_refused(
    pymesync: Pymesync, server: Any, tmp_path: Path
) -> None:
    login_on(pymesync, server, str(tmp_path / "store.sqlite3"))
    log = tmp_path / "daemon.log"
    daemon = start_daemon(pymesync, log)
    try:
        wait_for(" syncing ", log, daemon)
        second = pymesync("daemon", "--interval", "0.2", code=1, timeout=30)
        assert second.stderr.startswith("Error: another pymesync daemon is already syncing")
    finally:
        stop(daemon)


class Proxy:
    """A TCP forwarder on a loopback port to ``(host, port)`` that can be cut (every
    connection closed, new ones refused) and restored, as a database server that goes
    away and comes back."""

    def __init__(self, host: str, port: int) -> None:
        self.target = (host, port)
        self.port = 0
        self._pairs: list[socket.socket] = []
        self._lock = threading.Lock()
        self._listener: socket.socket | None = None
        self.restore()

    def restore(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        self.port = listener.getsockname()[1]
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def cut(self) -> None:
        if self._listener is not None:
            # (wakes the thread blocked in accept: a plain close would not)
            with contextlib.suppress(OSError):
                self._listener.shutdown(socket.SHUT_RDWR)
            self._listener.close()
            self._listener = None
        with self._lock:
            for sock in self._pairs:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                sock.close()
            self._pairs.clear()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(self.target)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._pairs += [client, upstream]
            threading.Thread(target=self._pipe, args=(client, upstream), daemon=True).start()

    def _pipe(self, a: socket.socket, b: socket.socket) -> None:
        try:
            while True:
                ready, _, _ = select.select([a, b], [], [], 1.0)
                for sock in ready:
                    data = sock.recv(65536)
                    if not data:
                        return
                    (b if sock is a else a).sendall(data)
        except (OSError, ValueError):
            return
        finally:
            a.close()
            b.close()


def test_the_daemon_outlives_a_store_that_goes_away(
    pymesync: Pymesync, server: Any, pg_db: str, tmp_path: Path
) -> None:
    from sqlalchemy.engine import make_url

    parts = make_url(pg_db)
    proxy = Proxy(str(parts.host), int(parts.port or 5432))
    through = moved(pg_db, host="127.0.0.1", port=proxy.port)
    login_on(pymesync, server, pg_db)
    pymesync.env["PGCONNECT_TIMEOUT"] = "2"
    log = tmp_path / "daemon.log"
    daemon = start_daemon(pymesync, log, "--db", through)
    try:
        wait_for(" syncing ", log, daemon)
        proxy.cut()  # the database server goes away
        wait_for(" cannot be reached: ", log, daemon)
        time.sleep(1.0)
        assert daemon.poll() is None, log.read_text()  # still running
        pymesync("log", "1h", "-p", "gwm", "-n", "after the outage")  # (straight to the db)
        server.fail_next(10**6, status=503)  # (queued, for the daemon to send)
        pymesync("log", "2h", "-p", "gwm", "-n", "for the daemon")
        server.clear_faults()
        proxy.restore()
        wait_for("the store answers again", log, daemon)
        deadline = time.monotonic() + 30
        while pymesync.json("status")["pending"] and time.monotonic() < deadline:
            time.sleep(0.2)
        assert pymesync.json("status")["pending"] == 0
    finally:
        stop(daemon)
        proxy.cut()
    text = log.read_text()
    assert daemon.returncode == 0, text
    assert "Traceback" not in text
    no_secret(text)
    notes = [t["notes"] for t in pymesync.json("times")["times"]]
    assert "for the daemon" in notes
