"""A read-only look at the store, without SQLAlchemy: what ``pymesync status`` needs.

:class:`StorePeek` opens the database file with the standard library's ``sqlite3`` in
read-only mode (``file:...?mode=ro``): it never creates, migrates or changes the file.
In a folder that cannot be written (a read-only folder or mount), where SQLite cannot
create the ``-shm`` file a WAL database needs, the file is read as immutable when no
``-wal`` file holds changes (then the main file holds everything). It answers with the
very functions the :class:`~pymesync.store.Store` runs
(:func:`pymesync.store.queue.summary`, :func:`pymesync.store.state.all_states`,
:func:`pymesync.store.state.load_token`), on its own connection, so no SQL is written
twice. Importing this module loads neither SQLAlchemy nor Alembic.

>>> with StorePeek.open() as peek:           # same path rules as Store.open
...     peek.queue_summary("http://host/v0|alice").waiting

A file that does not exist yet (or holds no schema yet) is "no store yet":
:attr:`StorePeek.exists` is False and every account has nothing queued, no state and
no token.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, TypeVar

from . import queue, state, timers
from .errors import SchemaTooNewError, StoreError, StoreLocationError, from_sqlite_error
from .location import (
    BUSY_TIMEOUT_SECONDS,
    SCHEMA_HEAD,
    SchemaStatus,
    check_header,
    check_integrity,
    classify_schema,
    resolve_path,
    schema_tables,
    schema_versions,
    wal_left_behind,
)
from .records import STATES, QueueSummary

__all__ = ["READABLE_REVISIONS", "StorePeek"]

#: The schema revisions a peek reads: those whose ``operations``, ``sync_state`` and
#: ``credentials`` tables have the columns :func:`~pymesync.store.queue.summary` and
#: :mod:`~pymesync.store.state` read (every revision so far). A migration that changes
#: those tables must leave the older revisions out of this set.
READABLE_REVISIONS = frozenset({"0001", "0002", "0003"})

#: The revisions without the ``timers`` table (migration 0003 added it).
_WITHOUT_TIMERS = frozenset({"0001", "0002"})

_T = TypeVar("_T")


def _cannot_write(error: sqlite3.Error) -> bool:
    text = str(error)
    return "readonly" in text or "read-only" in text or "unable to open" in text


def _snapshot(path: Path, *, immutable: bool) -> tuple[sqlite3.Connection | None, str | None]:
    """A read-only connection on ``path`` inside one read transaction, and the schema
    revision (``(None, None)``: no store yet). Checks the file as ``Store.open`` does
    (the schema; ``PRAGMA quick_check`` only when a write-ahead log was left behind);
    sqlite3 errors propagate, store errors are raised, and the connection is closed
    unless returned."""
    flags = "mode=ro&immutable=1" if immutable else "mode=ro"
    try:
        conn = sqlite3.connect(
            f"{path.as_uri()}?{flags}",
            uri=True,
            timeout=BUSY_TIMEOUT_SECONDS,
            isolation_level=None,
            check_same_thread=False,
        )
    except sqlite3.Error as exc:
        raise StoreLocationError(f"Cannot open the database file {path}: {exc}") from exc
    try:
        conn.execute("BEGIN")  # one snapshot, from the schema check to the last read
        tables = schema_tables(conn)
        if wal_left_behind(path):
            check_integrity(path, [str(r[0]) for r in conn.execute("PRAGMA quick_check")])
        versions = schema_versions(conn) if "alembic_version" in tables else []
        status, revision = classify_schema(path, tables, versions)
        if status == SchemaStatus.EMPTY:
            conn.close()
            return None, None
        if revision not in READABLE_REVISIONS:
            raise SchemaTooNewError(str(path), str(revision), SCHEMA_HEAD)
    except BaseException:
        conn.close()
        raise
    return conn, revision


class StorePeek:
    """A read-only view of the store's file. Create it with :meth:`open`; close it with
    :meth:`close` (or use it as a context manager).

    A peek reads ONE snapshot of the file, the one found when it was opened (it holds a
    read transaction, which blocks no writer): keep it for the few reads of one answer,
    then close it. It is not meant to be shared between threads.
    """

    def __init__(self, path: Path, conn: sqlite3.Connection | None, revision: str | None) -> None:
        """Wrap an open read-only connection (None: no store yet); use :meth:`open`."""
        self._path = path
        self._conn = conn
        self._revision = revision
        self._closed = False

    @classmethod
    def open(cls, path: str | os.PathLike[str] | None = None) -> StorePeek:
        """Look at the store at ``path`` (default: ``$PYMESYNC_DB``, else the platform's
        default, as for :meth:`Store.open <pymesync.store.Store.open>`).

        A missing file, an empty one, or one without a schema yet gives a peek with
        :attr:`exists` False. Raises :class:`~pymesync.store.errors.StoreLocationError`
        (not a regular file, unreadable),
        :class:`~pymesync.store.errors.CorruptDatabaseError` (not a SQLite database or
        not a pymesync store) or :class:`~pymesync.store.errors.SchemaTooNewError` (a
        schema revision this code cannot read: written by a newer pymesync). The file is
        never written.
        """
        resolved = resolve_path(path)
        if not resolved.exists():
            return cls(resolved, None, None)
        if not resolved.is_file():
            raise StoreLocationError(f"The database path {resolved} is not a regular file")
        check_header(resolved)
        try:
            conn, revision = _snapshot(resolved, immutable=False)
        except sqlite3.OperationalError as exc:
            # A WAL database needs its -shm file, which cannot be created in a
            # read-only folder or on a read-only mount. With no -wal content there is
            # nothing but the main file to read: read it as immutable (no -shm, no
            # locks). A -wal with content cannot be read without its -shm.
            if not _cannot_write(exc):
                raise from_sqlite_error(exc, resolved) from exc
            if wal_left_behind(resolved):
                raise StoreLocationError(
                    f"Cannot read the database {resolved}: its folder cannot be written "
                    f"and its write-ahead log {resolved.name}-wal holds changes SQLite "
                    f"cannot read without a {resolved.name}-shm file ({exc})"
                ) from exc
            try:
                conn, revision = _snapshot(resolved, immutable=True)
            except sqlite3.Error as again:
                raise from_sqlite_error(again, resolved) from again
        except sqlite3.Error as exc:
            raise from_sqlite_error(exc, resolved) from exc
        return cls(resolved, conn, revision)

    @property
    def path(self) -> Path:
        """The absolute path of the database file (whether it exists or not)."""
        return self._path

    @property
    def exists(self) -> bool:
        """Whether there is a store at :attr:`path` yet (False: nothing queued, no state)."""
        return self._conn is not None

    @property
    def revision(self) -> str | None:
        """The file's schema revision (None: no store yet)."""
        return self._revision

    def close(self) -> None:
        """End the read transaction and close the connection."""
        self._closed = True
        if self._conn is not None:
            conn, self._conn = self._conn, None
            conn.close()  # (ends the read transaction: nothing was written)

    def __enter__(self) -> StorePeek:
        """Use the peek as a context manager that closes it on exit."""
        return self

    def __exit__(self, *exc_info: object) -> None:
        """Close the peek."""
        self.close()

    def __repr__(self) -> str:
        """``StorePeek('/path/to/pymesync.sqlite3')`` (never shows any credential)."""
        how = ", closed" if self._closed else "" if self._conn is not None else ", no store yet"
        return f"StorePeek({str(self._path)!r}{how})"

    def _read(self, read: Callable[[sqlite3.Connection], _T], empty: _T) -> _T:
        if self._closed:
            raise StoreError(f"The store peek at {self._path} is closed")
        if self._conn is None:
            return empty
        try:
            return read(self._conn)
        except sqlite3.Error as exc:
            raise from_sqlite_error(exc, self._path) from exc

    # ------------------------------------------------------------------ what status reads

    def queue_summary(self, account: str, *, now: datetime | None = None) -> QueueSummary:
        """As :meth:`Store.queue_summary <pymesync.store.Store.queue_summary>`."""
        nothing = QueueSummary(dict.fromkeys(STATES, 0), None, None)
        when = now or datetime.now(timezone.utc)
        return self._read(lambda db: queue.summary(db, account, when), nothing)

    def all_states(self, account: str) -> dict[str, Any]:
        """As :meth:`Store.all_states <pymesync.store.Store.all_states>`."""
        return self._read(lambda db: state.all_states(db, account), {})

    def load_token(self, account: str) -> str | None:
        """As :meth:`Store.load_token <pymesync.store.Store.load_token>` (the token is
        returned, never shown in a ``repr``)."""
        return self._read(lambda db: state.load_token(db, account), None)

    def timer(self, account: str) -> timers.Timer | None:
        """As :meth:`Store.timer <pymesync.store.Store.timer>` (the running timer; None
        in a store older than revision 0003, which has no timers)."""
        if self._revision in _WITHOUT_TIMERS:
            return None
        return self._read(lambda db: timers.get(db, account), None)

    # ------------------------------------------------------------------ shell completion

    def names(self, account: str, what: str, prefix: str, limit: int = 50) -> list[Any]:
        """Names for shell completion (:mod:`pymesync.store.names`) starting with
        ``prefix``: ``what`` is ``"project"``, ``"activity"`` (slugs), ``"user"``,
        ``"time"`` (entry ids) or ``"failed"`` (operation ids); ``(name, object)``
        pairs, at most ``limit`` (nothing when there is no store yet)."""
        from . import names

        def read(db: sqlite3.Connection) -> list[Any]:
            if what in ("project", "activity"):
                return names.slugs(db, account, what, prefix, limit)
            if what == "user":
                return names.users(db, account, prefix, limit)
            if what == "time":
                return names.times(db, account, prefix, limit)
            if what == "failed":
                return names.failed_ops(db, account, prefix, limit)
            raise ValueError(f"no names of {what!r}")

        return self._read(read, [])
