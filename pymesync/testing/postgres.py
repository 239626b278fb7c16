"""A throw-away PostgreSQL server for tests and benchmarks.

``with PostgresServer() as pg: url = pg.new_database()`` runs the machine's own
PostgreSQL binaries (``initdb`` + ``pg_ctl``) in a temporary folder, listening only on
``127.0.0.1`` on a free port with ``trust`` authentication for the ``postgres`` role, and
removes everything again on :meth:`PostgresServer.stop` (also at interpreter exit).
PostgreSQL refuses to run as root: as root, the server runs as the ``postgres`` system
user (``runuser -u postgres --``) in a folder that user owns.

Like the rest of :mod:`pymesync.testing` this imports nothing from the client side;
psycopg (the ``postgresql`` extra) is imported only when a database is created or
dropped. See ``docs/testing.md``.
"""

from __future__ import annotations

import atexit
import contextlib
import importlib.util
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import uuid
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, NoReturn

if TYPE_CHECKING:
    import psycopg

#: The environment variable naming a folder with ``initdb`` and ``pg_ctl`` in it.
BIN_ENV = "PYMESYNC_PG_BIN"
#: The environment variable that turns "PostgreSQL is missing" from a skip into a failure.
REQUIRE_ENV = "PYMESYNC_REQUIRE_POSTGRES"
#: Where Debian and Ubuntu install each major version's server binaries.
DEBIAN_BIN_GLOB = "/usr/lib/postgresql/*/bin"
#: The system user the server runs as when we are root.
SYSTEM_USER = "postgres"
#: How to get what is missing (part of every :class:`PostgresUnavailable` message).
INSTALL_HINT = (
    "install the server (Debian/Ubuntu: `apt-get install postgresql`) or set "
    f"{BIN_ENV} to the folder holding initdb and pg_ctl, and the driver with "
    "`pip install 'psycopg[binary]'` (in the `test` extra)"
)
#: The settings that trade durability for speed (``durable=False``).
FAST_SETTINGS = {"fsync": "off", "synchronous_commit": "off", "full_page_writes": "off"}

_NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}")


class PostgresUnavailable(RuntimeError):
    """PostgreSQL's server binaries (or psycopg, or the ``postgres`` system user when
    running as root) are not on this machine; the message says how to get them."""


class PostgresFailed(RuntimeError):
    """The server's binaries are there but failed (initdb, start, stop); the message
    carries the end of their output or of the server's log."""


def find_bin_dir(explicit: str | os.PathLike[str] | None = None) -> Path:
    """The folder holding ``initdb`` and ``pg_ctl``: ``explicit`` if given, else
    ``$PYMESYNC_PG_BIN`` if set, else the one of ``initdb`` on ``PATH``, else the newest
    ``/usr/lib/postgresql/*/bin``. Raises :class:`PostgresUnavailable` when none has both."""
    chosen = explicit if explicit is not None else os.environ.get(BIN_ENV) or None
    if chosen is not None:
        folder = Path(chosen)
        if _has_binaries(folder):
            return folder
        raise PostgresUnavailable(
            f"PostgreSQL's initdb and pg_ctl are not in {folder}: {INSTALL_HINT}"
        )
    on_path = shutil.which("initdb")
    if on_path is not None:
        # the real folder (not a symlink's), so that pg_ctl and postgres come from it too
        folder = Path(on_path).resolve().parent
        if _has_binaries(folder):
            return folder
    versions = []
    for candidate in Path("/").glob(DEBIAN_BIN_GLOB.lstrip("/")):
        version = tuple(int(part) for part in re.findall(r"\d+", candidate.parent.name))
        if version and _has_binaries(candidate):
            versions.append((version, candidate))
    if versions:
        return max(versions)[1]
    raise PostgresUnavailable(f"PostgreSQL's initdb and pg_ctl were not found: {INSTALL_HINT}")


def _has_binaries(folder: Path) -> bool:
    return all(os.access(folder / name, os.X_OK) for name in ("initdb", "pg_ctl"))


def postgres_required() -> bool:
    """Whether ``PYMESYNC_REQUIRE_POSTGRES=1``: tests on PostgreSQL must run (CI)."""
    return os.environ.get(REQUIRE_ENV, "").strip() == "1"


def skip_or_fail(error: BaseException) -> NoReturn:
    """In a test: skip it because PostgreSQL is unavailable (the message says how to get
    it), or, when :func:`postgres_required`, fail it instead (CI never skips these)."""
    import pytest

    if postgres_required():
        pytest.fail(f"PostgreSQL is required ({REQUIRE_ENV}=1) but unavailable: {error}")
    pytest.skip(f"PostgreSQL unavailable: {error}")


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port on ``host`` that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        port: int = probe.getsockname()[1]
        return port


class PostgresServer:
    """One PostgreSQL server in a temporary folder: :meth:`start`, use :meth:`url` /
    :meth:`new_database`, :meth:`stop` (or use it as a context manager)."""

    host = "127.0.0.1"
    user = "postgres"

    def __init__(
        self,
        *,
        durable: bool = True,
        bin_dir: str | os.PathLike[str] | None = None,
        max_connections: int = 300,
        startup_timeout: float = 60.0,
    ) -> None:
        """Configure; nothing runs until :meth:`start`. ``durable=False`` turns off
        ``fsync``, ``synchronous_commit`` and ``full_page_writes`` (fast, for the test
        suite; a crash of the machine would lose data). ``bin_dir`` overrides the lookup
        of :func:`find_bin_dir`."""
        self.durable = durable
        self.bin_dir = bin_dir
        self.max_connections = max_connections
        self.startup_timeout = startup_timeout
        self.port = 0
        self.folder: Path | None = None
        self._bin: Path | None = None
        self._as_user: list[str] = []
        self._owner_pid = 0

    # -- life cycle -------------------------------------------------------------------

    @property
    def data_dir(self) -> Path:
        """The cluster's data folder (inside :attr:`folder`)."""
        return self._folder() / "data"

    @property
    def log_path(self) -> Path:
        """The server's log file."""
        return self._folder() / "server.log"

    def is_running(self) -> bool:
        """True between a successful :meth:`start` and :meth:`stop`."""
        return self.folder is not None and self.port != 0

    def start(self) -> PostgresServer:
        """initdb a new cluster in a temporary folder and start it (``pg_ctl start -w``).
        Raises :class:`PostgresUnavailable` when the binaries, psycopg or (as root) the
        ``postgres`` user or ``runuser`` are missing, :class:`PostgresFailed` when the
        server does not come up (with the end of its log)."""
        if self.folder is not None:
            raise RuntimeError("PostgreSQL server already started")
        bin_dir = find_bin_dir(self.bin_dir)
        if importlib.util.find_spec("psycopg") is None:
            raise PostgresUnavailable(f"the psycopg driver is not installed: {INSTALL_HINT}")
        as_user, owner = self._identity()
        self._bin, self._as_user, self._owner_pid = bin_dir, as_user, os.getpid()
        # as root: a folder anyone may traverse (the postgres user must reach its data),
        # owned by that user; the data folder inside is 0700 (initdb makes it so)
        base = "/tmp" if owner is not None and os.path.isdir("/tmp") else None
        self.folder = Path(tempfile.mkdtemp(prefix="pymesync-pg-", dir=base))
        atexit.register(self.stop)
        try:
            if owner is not None:
                os.chmod(self.folder, 0o755)
                os.chown(self.folder, owner.pw_uid, owner.pw_gid)
            self._initdb()
            self._configure()
            self._start_server()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Stop the server at once (``pg_ctl stop -m immediate``) and remove its folder.
        Idempotent; also runs at interpreter exit (in the process that started it only,
        never in a forked child)."""
        folder = self.folder
        if folder is None or os.getpid() != self._owner_pid:
            return
        with contextlib.suppress(Exception):
            atexit.unregister(self.stop)
        try:
            if (folder / "data" / "postmaster.pid").exists():
                result = self._run(
                    ["pg_ctl", "stop", "-D", str(folder / "data"), "-m", "immediate", "-w"],
                    timeout=30,
                    check=False,
                )
                if result.returncode != 0:
                    self._kill_postmaster(folder / "data")
        finally:
            self.folder = None
            self.port = 0
            shutil.rmtree(folder, ignore_errors=True)

    def __enter__(self) -> PostgresServer:
        """Start (see :meth:`start`)."""
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Stop (see :meth:`stop`)."""
        self.stop()

    # -- databases --------------------------------------------------------------------

    def url(self, dbname: str = "postgres") -> str:
        """The SQLAlchemy URL of ``dbname`` on this server
        (``postgresql+psycopg://postgres@127.0.0.1:PORT/dbname``)."""
        self._require_running()
        return f"postgresql+psycopg://{self.user}@{self.host}:{self.port}/{dbname}"

    def conninfo(self, dbname: str = "postgres") -> str:
        """The libpq connection string of ``dbname`` (for ``psycopg.connect``)."""
        self._require_running()
        return f"host={self.host} port={self.port} user={self.user} dbname={dbname}"

    def connect(self, dbname: str = "postgres", *, autocommit: bool = False) -> psycopg.Connection:
        """A new psycopg connection to ``dbname`` as ``postgres`` over TCP."""
        import psycopg

        return psycopg.connect(self.conninfo(dbname), autocommit=autocommit)

    def create_database(self, name: str, template: str | None = None) -> str:
        """Create database ``name`` (a copy of ``template`` if given); returns its URL.
        Names are plain lower-case identifiers (letters, digits, ``_``)."""
        from psycopg import sql

        statement = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(_checked(name)))
        if template is not None:
            statement += sql.SQL(" TEMPLATE {}").format(sql.Identifier(_checked(template)))
        with self.connect(autocommit=True) as conn:
            conn.execute(statement)
        return self.url(name)

    def drop_database(self, name: str) -> None:
        """Drop database ``name`` if it exists, ending the connections still open to it
        (``DROP DATABASE ... WITH (FORCE)``)."""
        from psycopg import sql

        statement = sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
            sql.Identifier(_checked(name))
        )
        with self.connect(autocommit=True) as conn:
            conn.execute(statement)

    def new_database(self, prefix: str = "pymesync_test", template: str | None = None) -> str:
        """Create a uniquely named database (``prefix_<random>``); returns its URL (its
        name is the URL's last part)."""
        return self.create_database(f"{prefix}_{uuid.uuid4().hex[:12]}", template=template)

    # -- internals --------------------------------------------------------------------

    def _folder(self) -> Path:
        if self.folder is None:
            raise RuntimeError("PostgreSQL server not started")
        return self.folder

    def _require_running(self) -> None:
        if not self.is_running():
            raise RuntimeError("PostgreSQL server not running")

    @staticmethod
    def _identity() -> tuple[list[str], pwd.struct_passwd | None]:
        """(the command prefix that runs a binary as the server's user, that user when it
        is not us). As root: ``runuser -u postgres --``."""
        if os.geteuid() != 0:
            return [], None
        try:
            owner = pwd.getpwnam(SYSTEM_USER)
        except KeyError:
            raise PostgresUnavailable(
                f"running as root, and there is no `{SYSTEM_USER}` system user to run "
                f"PostgreSQL as (it refuses to run as root): {INSTALL_HINT}"
            ) from None
        runuser = shutil.which("runuser") or next(
            (p for p in ("/usr/sbin/runuser", "/sbin/runuser") if os.access(p, os.X_OK)), None
        )
        if runuser is None:
            raise PostgresUnavailable(
                "running as root, and `runuser` (util-linux) is missing to run PostgreSQL "
                f"as the `{SYSTEM_USER}` user"
            )
        return [runuser, "-u", SYSTEM_USER, "--"], owner

    def _run(
        self, argv: list[str], *, timeout: float, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        """Run one of the server's binaries (as the server's user), output captured."""
        assert self._bin is not None
        command = [*self._as_user, str(self._bin / argv[0]), *argv[1:]]
        try:
            result = subprocess.run(
                command,
                cwd=self.folder,
                stdin=subprocess.DEVNULL,
                capture_output=True,
                text=True,
                errors="replace",
                timeout=timeout,
                check=False,
            )
        except subprocess.TimeoutExpired as error:
            raise PostgresFailed(f"{argv[0]} {argv[1]} took over {timeout:g} s") from error
        if check and result.returncode != 0:
            raise PostgresFailed(
                f"{argv[0]} failed (exit {result.returncode}):\n"
                + _tail(result.stdout + result.stderr)
            )
        return result

    def _initdb(self) -> None:
        base = ["initdb", "-D", str(self.data_dir), "-A", "trust", "-U", self.user]
        base += ["--encoding=UTF8", "--no-instructions"]
        result = self._run([*base, "--locale=C.UTF-8"], timeout=120, check=False)
        if result.returncode != 0 and "locale" in (result.stdout + result.stderr).lower():
            shutil.rmtree(self.data_dir, ignore_errors=True)  # (a machine without C.UTF-8)
            result = self._run([*base, "--locale=C"], timeout=120, check=False)
        if result.returncode != 0:
            raise PostgresFailed(
                f"initdb failed (exit {result.returncode}):\n"
                + _tail(result.stdout + result.stderr)
            )

    def _configure(self) -> None:
        settings = {
            "listen_addresses": f"'{self.host}'",
            "unix_socket_directories": f"'{self._folder()}'",
            "max_connections": str(self.max_connections),
        }
        if not self.durable:
            settings.update(FAST_SETTINGS)
        lines = "".join(f"{key} = {value}\n" for key, value in settings.items())
        with open(self.data_dir / "postgresql.conf", "a", encoding="utf-8") as conf:
            conf.write("\n# pymesync.testing.postgres\n" + lines)

    def _start_server(self) -> None:
        for attempt in range(3):
            port = free_port(self.host)
            result = self._run(
                [
                    "pg_ctl",
                    "start",
                    "-w",
                    "-t",
                    str(max(1, round(self.startup_timeout))),
                    "-D",
                    str(self.data_dir),
                    "-l",
                    str(self.log_path),
                    "-o",
                    f"-p {port}",
                ],
                timeout=self.startup_timeout + 30,
                check=False,
            )
            if result.returncode == 0:
                self.port = port
                return
            log = self._read_log()
            # a port taken between the probe and the start: try another one
            if "Address already in use" not in log or attempt == 2:
                raise PostgresFailed(
                    f"PostgreSQL did not start (pg_ctl exit {result.returncode}):\n"
                    + _tail(result.stdout + result.stderr + "\n--- server log ---\n" + log)
                )
            self._kill_postmaster(self.data_dir)

    def _read_log(self) -> str:
        try:
            return self.log_path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return ""

    @staticmethod
    def _kill_postmaster(data_dir: Path) -> None:
        """The last resort when ``pg_ctl stop`` fails: SIGKILL the postmaster named in
        ``postmaster.pid`` (its children exit when it dies)."""
        try:
            pid = int((data_dir / "postmaster.pid").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)


def _checked(name: str) -> str:
    if not _NAME.fullmatch(name):
        raise ValueError(f"not a plain database name (a-z, 0-9, _): {name!r}")
    return name


def _tail(text: str, lines: int = 40) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])
