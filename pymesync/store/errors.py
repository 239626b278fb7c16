"""Exceptions raised by the local store.

Every error the store raises on purpose is a :class:`StoreError`. The subclasses that
concern the database *file* (:class:`SchemaTooNewError`, :class:`CorruptDatabaseError`,
:class:`StoreLocationError`) are raised before anything is written, so the file they
name is left exactly as it was.
"""

from __future__ import annotations

import os

from pymesync.errors import PymesyncError, StaleOperationError

__all__ = [
    "CorruptDatabaseError",
    "DuplicateOperationError",
    "OperationStateError",
    "SchemaTooNewError",
    "StoreError",
    "StoreLocationError",
    "StoreUnavailableError",
    "UnknownOperationError",
    "from_sqlite_error",
    "size_limit_error",
]


class StoreError(PymesyncError):
    """Root of the errors raised by :mod:`pymesync.store` (part of the one
    :class:`~pymesync.errors.PymesyncError` tree, so the facade reports it like any
    other error).

    ``message`` is the human-readable text (also ``str(error)``).
    """

    def __init__(self, message: str) -> None:
        """Keep ``message`` as the error text."""
        super().__init__(message)


class StoreUnavailableError(StoreError):
    """The store's database server cannot be reached (a store on PostgreSQL: the server
    is down, the network or the credentials fail). A transaction cut off before its
    commit is rolled back by the server: nothing of it is written. Only when the
    connection is lost while the commit itself is under way can its outcome not be
    known (it may have been written): look (e.g. ``operations()``) before doing the
    same again with new ids."""


class SchemaTooNewError(StoreError):
    """The database was written by a newer pymesync than this one.

    ``path`` is the database file, ``found`` the schema revision recorded in it and
    ``expected`` the newest revision this code knows (:data:`pymesync.store.SCHEMA_HEAD`).
    """

    def __init__(self, path: str, found: str, expected: str) -> None:
        """Build the message from the file and the two revisions."""
        super().__init__(
            f"The database {path} has schema revision {found!r}, which this version of "
            f"pymesync does not know (its newest is {expected!r}). It was written by a "
            "newer pymesync: upgrade pymesync, or point PYMESYNC_DB at another file. "
            "The file was not changed."
        )
        self.path = path
        self.found = found
        self.expected = expected


class CorruptDatabaseError(StoreError):
    """The file is not a SQLite database, is not a pymesync store, or fails its check."""


class StoreLocationError(StoreError):
    """The database folder or file cannot be created, read or written."""


class UnknownOperationError(StoreError, StaleOperationError, KeyError):
    """No queued operation has the given ``op_id`` (it was acked or discarded)."""

    def __str__(self) -> str:
        """The message itself (KeyError would show its repr)."""
        return self.message


class DuplicateOperationError(StoreError):
    """An operation with the same ``op_id`` is already queued."""


class OperationStateError(StoreError, StaleOperationError):
    """The operation is in a state that does not allow the requested change."""


#: SQLite's primary result codes for a failed write: SQLITE_IOERR, SQLITE_FULL.
_WRITE_FAILURES = (10, 13)
#: How close to the file size limit a file must be for a failed write to be blamed on
#: it: two of SQLite's largest pages (a WAL frame is a page and a 24-byte header).
_NEAR_LIMIT = 2 * 65536


def size_limit_error(error: BaseException, path: str | os.PathLike[str]) -> StoreError | None:
    """A :class:`StoreLocationError` saying so when ``error`` (a SQLite write failure:
    "disk I/O error", "database or disk is full") is the process's file size limit
    (``ulimit -f``, ``RLIMIT_FSIZE``) being reached by the database or a file SQLite
    keeps next to it; None otherwise.

    SQLite does not pass ``EFBIG`` on, so the limit is compared with the files' sizes.
    """
    code = getattr(error, "sqlite_errorcode", None)
    text = str(error)
    if not (
        (isinstance(code, int) and code & 0xFF in _WRITE_FAILURES)
        or "disk I/O error" in text
        or "disk is full" in text
    ):
        return None
    try:
        import resource
    except ImportError:  # pragma: no cover - not on Windows
        return None
    limit = resource.getrlimit(resource.RLIMIT_FSIZE)[0]
    if limit == resource.RLIM_INFINITY or limit < 0:
        return None
    base = os.fspath(path)
    for name in (base, f"{base}-wal", f"{base}-shm", f"{base}-journal"):
        try:
            size = os.stat(name).st_size
        except OSError:
            continue
        if size + _NEAR_LIMIT >= limit:
            return StoreLocationError(
                f"Cannot write the database {path}: the file size limit ({limit} bytes, "
                "see `ulimit -f`) was reached. Raise the limit and try again."
            )
    return None


def from_sqlite_error(error: BaseException, path: str | os.PathLike[str]) -> StoreError:
    """The store's error for a SQLite error raised while using the database ``path``."""
    limited = size_limit_error(error, path)
    if limited is not None:
        return limited
    text = str(error)
    if "malformed" in text or "not a database" in text:
        return CorruptDatabaseError(f"The database {path} is damaged: {text}")
    if "locked" in text or "busy" in text:
        return StoreError(f"The database {path} stayed locked by another process: {text}")
    return StoreError(f"Database error on {path}: {text}")
