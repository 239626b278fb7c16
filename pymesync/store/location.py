"""Where the database lives, and which schema revision a file holds, without SQLAlchemy.

This module imports nothing but the standard library (and ``platformdirs`` when the
default path is needed): :mod:`pymesync.store.peek` uses it to look at a store without
loading SQLAlchemy or Alembic. :mod:`pymesync.store.engine` re-exports its names.
"""

from __future__ import annotations

import os
import re
import sqlite3
from collections.abc import Collection
from pathlib import Path

from pymesync import private

from .errors import (
    CorruptDatabaseError,
    SchemaTooNewError,
    StoreError,
    StoreLocationError,
    from_sqlite_error,
    size_limit_error,
)

__all__ = [
    "BUSY_TIMEOUT_SECONDS",
    "ENV_VAR",
    "POOL_SIZE",
    "SCHEMA_HEAD",
    "SCHEMA_REVISIONS",
    "SchemaStatus",
    "check_header",
    "check_integrity",
    "classify_schema",
    "configure_connection",
    "connect_plain",
    "default_path",
    "prepare_location",
    "read_schema_revision",
    "resolve_path",
    "schema_tables",
    "schema_versions",
    "set_wal",
    "sidecars",
]

#: Every schema revision of ``migrations/versions``, oldest first (a test checks them
#: against the scripts).
SCHEMA_REVISIONS = ("0001", "0002", "0003")
#: The newest schema revision this code knows (the head of ``migrations/versions``).
SCHEMA_HEAD = SCHEMA_REVISIONS[-1]
#: Environment variable that overrides the default database path.
ENV_VAR = "PYMESYNC_DB"
#: How long a connection waits for another process's write lock before giving up.
BUSY_TIMEOUT_SECONDS = 30.0
#: Connections a pooled store keeps open (threads of a sync pass each use one).
POOL_SIZE = 20
#: Prepared statements kept per connection (the store runs plain SQL strings; bulk
#: lookups add IN-list variants that should not push the hot ones out).
CACHED_STATEMENTS = 256

_APP_NAME = "pymesync"
_FILE_NAME = "pymesync.sqlite3"
_SQLITE_MAGIC = b"SQLite format 3\x00"


def default_path() -> Path:
    """The platform's default database path: ``user_data_dir("pymesync")/pymesync.sqlite3``."""
    from platformdirs import user_data_dir

    return Path(user_data_dir(_APP_NAME)) / _FILE_NAME


def resolve_path(path: str | os.PathLike[str] | None = None) -> Path:
    """The database path to use: ``path`` if given, else ``$PYMESYNC_DB``, else the default.

    ``~`` is expanded; the result is absolute.
    """
    given = path if path is not None and str(path) != "" else os.environ.get(ENV_VAR) or None
    if given is None:
        return default_path().expanduser().absolute()
    text = os.fspath(given)
    if is_database_url(text):
        if not text.startswith(_SQLITE_URL):  # (a database server's: see resolve_target)
            raise StoreLocationError("A database URL names no SQLite file: give a path here")
        text = text[len(_SQLITE_URL) :]
    return Path(text).expanduser().absolute()


#: A SQLite file's URL (SQLAlchemy's form: ``sqlite:///relative``, ``sqlite:////absolute``).
_SQLITE_URL = "sqlite:///"
#: A database URL: a scheme, then ``://`` (``postgresql+psycopg://...``).
_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")


def is_database_url(text: str | os.PathLike[str]) -> bool:
    """Whether ``text`` names a database by URL (``postgresql+psycopg://...``,
    ``sqlite:///path``) rather than a file path."""
    return isinstance(text, str) and _URL.match(text) is not None


def resolve_target(path: str | os.PathLike[str] | None = None) -> Path | str:
    """Where the store is: the absolute path of a SQLite file (as :func:`resolve_path`),
    or the URL of a database server (``path`` or ``$PYMESYNC_DB`` a URL other than
    ``sqlite:///PATH``, which is the file ``PATH``)."""
    given = path if path is not None and str(path) != "" else os.environ.get(ENV_VAR, "")
    if isinstance(given, str) and is_database_url(given) and not given.startswith(_SQLITE_URL):
        return given
    return resolve_path(path)


def prepare_location(path: Path) -> bool:
    """Make sure ``path``'s folder and file exist and are writable; True if the file is new.

    A missing folder (and any missing parent) is created with mode 0700; an existing
    folder is never chmod-ed. A missing file is created empty with mode 0600. Both modes
    are set whatever the umask. An existing database file, and its ``-wal``, ``-shm``
    and ``-journal`` files, lose any group and other permissions (SQLite gives the
    files it creates the database file's mode). Raises :class:`StoreLocationError` when
    that is impossible or the existing file or folder is not writable.
    """
    folder = path.parent
    try:
        private.make_folder(folder)
    except OSError as exc:
        raise StoreLocationError(
            f"Cannot create the database folder {exc.filename or folder}: {exc.strerror or exc}"
        ) from exc
    if not folder.is_dir():
        raise StoreLocationError(f"The database folder {folder} is not a folder")
    if path.exists() and not path.is_file():
        raise StoreLocationError(f"The database path {path} is not a regular file")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise StoreLocationError(
            f"The database folder {folder} is not writable (SQLite needs to create its "
            "journal files next to the database)"
        )
    created = False
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        for name in (path, *sidecars(path)):
            private.tighten(name)
    except OSError as exc:
        raise StoreLocationError(
            f"Cannot create the database file {path}: {exc.strerror or exc}"
        ) from exc
    else:
        try:
            os.fchmod(fd, 0o600)
        finally:
            os.close(fd)
        created = True
    if not os.access(path, os.R_OK | os.W_OK):
        raise StoreLocationError(f"The database file {path} is not readable and writable")
    return created


def sidecars(path: Path) -> tuple[Path, Path, Path]:
    """The files SQLite keeps next to the database ``path``: ``-wal``, ``-shm`` and
    ``-journal``."""
    wal, shm, journal = (path.with_name(path.name + end) for end in ("-wal", "-shm", "-journal"))
    return wal, shm, journal


class SchemaStatus:
    """What :func:`read_schema_revision` found in a database file."""

    EMPTY = "empty"  # no tables at all: a new database
    CURRENT = "current"  # at SCHEMA_HEAD
    OLDER_OR_NEWER = "other"  # some other revision: upgrade, or too new


def check_header(path: Path) -> None:
    """Raise :class:`CorruptDatabaseError` when ``path`` (an existing file) is neither
    empty nor a SQLite database, :class:`StoreLocationError` when it cannot be read."""
    try:
        with path.open("rb") as fh:
            head = fh.read(len(_SQLITE_MAGIC))
    except OSError as exc:
        raise StoreLocationError(f"Cannot read the database file {path}: {exc}") from exc
    if head and head != _SQLITE_MAGIC:
        raise CorruptDatabaseError(
            f"{path} is not a SQLite database (pymesync left it untouched; move it away "
            "or point PYMESYNC_DB at another file)"
        )


def schema_tables(conn: sqlite3.Connection) -> set[str]:
    """The names of the tables of the database behind ``conn``."""
    return {
        str(row[0]) for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
    }


def schema_versions(conn: sqlite3.Connection) -> list[str]:
    """The rows of ``alembic_version`` (the table must exist)."""
    return [str(row[0]) for row in conn.execute("SELECT version_num FROM alembic_version")]


def classify_schema(
    path: Path | str, tables: Collection[str], versions: Collection[str]
) -> tuple[str, str | None]:
    """``(status, revision)`` of a database holding ``tables``, whose ``alembic_version``
    holds ``versions`` (see :func:`read_schema_revision`)."""
    user_tables = {t for t in tables if not t.startswith("sqlite_")}
    if not user_tables:
        return SchemaStatus.EMPTY, None
    if "alembic_version" not in user_tables:
        raise CorruptDatabaseError(
            f"{path} is a {'SQLite ' if isinstance(path, Path) else ''}database but not a"
            " pymesync store (it has no "
            "alembic_version table). pymesync left it untouched."
        )
    if not versions:
        if user_tables == {"alembic_version"}:
            # alembic_version alone and empty: the schema was dropped (downgrade base).
            return SchemaStatus.EMPTY, None
        raise CorruptDatabaseError(
            f"{path} is damaged: its alembic_version table is empty, so its schema "
            "revision is unknown, yet it holds pymesync's tables. pymesync left it "
            "untouched (restore a backup, or point PYMESYNC_DB at another file)."
        )
    if len(versions) > 1:
        raise SchemaTooNewError(str(path), ",".join(sorted(versions)), SCHEMA_HEAD)
    (revision,) = versions
    if revision == SCHEMA_HEAD:
        return SchemaStatus.CURRENT, revision
    return SchemaStatus.OLDER_OR_NEWER, revision


def _inspect(
    path: Path, *, read_only: bool, quick_check: bool
) -> tuple[set[str], list[str], list[str]]:
    """(table names, quick_check result, alembic_version rows); sqlite3 errors propagate."""
    if read_only:
        # Such a connection never writes, not even a checkpoint when it closes.
        target, uri = f"{path.as_uri()}?mode=ro", True
    else:
        target, uri = str(path), False
    conn = sqlite3.connect(target, uri=uri, timeout=BUSY_TIMEOUT_SECONDS, isolation_level=None)
    try:
        tables = schema_tables(conn)
        problems = (
            [str(row[0]) for row in conn.execute("PRAGMA quick_check")] if quick_check else ["ok"]
        )
        versions: list[str] = []
        if "alembic_version" in tables and problems == ["ok"]:
            versions = schema_versions(conn)
        return tables, problems, versions
    finally:
        conn.close()


def read_schema_revision(path: Path, *, quick_check: bool = True) -> tuple[str, str | None]:
    """Inspect ``path`` without writing to it: ``(status, revision)``.

    ``status`` is one of the :class:`SchemaStatus` values. Raises
    :class:`CorruptDatabaseError` when the file is not a SQLite database, fails
    ``PRAGMA quick_check`` (when ``quick_check``), or holds tables but no
    ``alembic_version`` (it belongs to something else), and
    :class:`SchemaTooNewError` when it records more than one head.

    The file is read through a read-only connection. Only if that is impossible because
    SQLite must first roll back a crashed rollback-journal transaction (which a
    read-only connection cannot do) is a normal connection used, doing exactly that
    recovery.
    """
    # (The header is read with Python only once SQLite failed: closing a file descriptor
    # of the database drops every lock this process's SQLite connections hold on it,
    # and another process may then reset the write-ahead log under a pooled Store.)
    try:
        try:
            tables, problems, rows = _inspect(path, read_only=True, quick_check=quick_check)
        except sqlite3.OperationalError as exc:
            if "readonly" not in str(exc) and "read-only" not in str(exc):
                raise
            tables, problems, rows = _inspect(path, read_only=False, quick_check=quick_check)
    except sqlite3.DatabaseError as exc:
        check_header(path)  # not SQLite's at all, or unreadable: say so
        limited = size_limit_error(exc, path)
        if limited is not None:
            raise limited from exc
        if isinstance(exc, sqlite3.OperationalError) and "locked" in str(exc):
            raise StoreError(f"The database {path} stayed locked: {exc}") from exc
        if isinstance(exc, sqlite3.OperationalError) and "unable to open" in str(exc):
            raise StoreLocationError(f"Cannot open the database file {path}: {exc}") from exc
        damaged = "malformed" in str(exc) or "not a database" in str(exc)
        raise CorruptDatabaseError(
            f"The database {path} {'is damaged' if damaged else 'cannot be read'} ({exc}). "
            "pymesync left it untouched."
        ) from exc
    check_integrity(path, problems)
    return classify_schema(path, tables, rows)


def check_integrity(path: Path, problems: list[str], pragma: str = "quick_check") -> None:
    """Raise :class:`CorruptDatabaseError` unless ``problems`` (the rows of ``PRAGMA
    quick_check``, or of the ``pragma`` named, on ``path``) is ``["ok"]``."""
    if problems != ["ok"]:
        raise CorruptDatabaseError(
            f"The database {path} is damaged (PRAGMA {pragma}: "
            f"{'; '.join(problems[:5])}). pymesync left it untouched."
        )


def wal_left_behind(path: Path) -> bool:
    """Whether ``path``'s write-ahead log holds content (one ``stat``, no read).

    When the last connection to a WAL database closes cleanly, SQLite checkpoints the
    log into the file and deletes it; a ``-wal`` file with content at open means that a
    process using the store ended without closing it (a crash, a kill, a power cut), or
    that another process has the store open right now. Either way the store is checked
    (``PRAGMA quick_check``) before it is used: the cost of a full read is paid only
    then, not on every open. A ``-wal`` that cannot be examined counts as left behind.
    """
    try:
        return os.stat(f"{path}-wal").st_size > 0
    except FileNotFoundError:
        return False
    except OSError:
        return True


def set_wal(path: Path) -> None:
    """Switch the database to WAL journaling (a no-op when it already is)."""
    try:
        conn = sqlite3.connect(path, timeout=BUSY_TIMEOUT_SECONDS, isolation_level=None)
        try:
            mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()
        finally:
            conn.close()
    except sqlite3.Error as exc:
        raise from_sqlite_error(exc, path) from exc
    if not mode or str(mode[0]).lower() != "wal":
        raise StoreLocationError(f"Cannot switch {path} to WAL journaling (got {mode!r})")


def configure_connection(db: sqlite3.Connection) -> None:
    """The store's settings for every connection: SQLite's own transaction handling off
    (the store emits ``BEGIN IMMEDIATE`` itself for writes), the busy timeout, foreign
    keys on, and ``synchronous=FULL`` (a commit is on disk when it returns)."""
    db.isolation_level = None
    db.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_SECONDS * 1000)}")
    db.execute("PRAGMA foreign_keys = ON")
    db.execute("PRAGMA synchronous = FULL")


def connect_plain(path: Path) -> sqlite3.Connection:
    """A plain ``sqlite3`` connection to the store at ``path``, set up as the engine's
    pooled connections are (for an unpooled store: no SQLAlchemy needed)."""
    db = sqlite3.connect(
        str(path),
        timeout=BUSY_TIMEOUT_SECONDS,
        check_same_thread=False,
        cached_statements=CACHED_STATEMENTS,
    )
    try:
        configure_connection(db)
    except BaseException:
        db.close()
        raise
    return db
