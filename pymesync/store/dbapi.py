"""What the store's SQL modules need of a database connection, on either backend.

The plain-SQL modules (:mod:`~pymesync.store.queue`, :mod:`~pymesync.store.cache`, ...)
run on a ``sqlite3.Connection`` or, for a store on PostgreSQL, on a
:class:`~pymesync.store.postgres.PgConnection` that offers the same few methods (the
store's statements are written once, with ``?`` parameters). :class:`Db` names that
subset for the type checker; :func:`on_postgres` tells the modules which backend runs
the few statements that differ (claims with ``SKIP LOCKED``, row locks, JSON fields,
new queue ids), so that each difference is written where the statement is.

Plain Python: importing this module imports neither SQLAlchemy nor psycopg.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Any, Protocol

__all__ = ["Cursor", "Db", "account_lock", "for_update", "on_postgres"]


class Cursor(Protocol):
    """The part of a DB-API cursor the store uses."""

    @property
    def rowcount(self) -> int: ...

    def fetchone(self) -> Any: ...

    def fetchall(self) -> list[Any]: ...

    def fetchmany(self, size: int = ...) -> list[Any]: ...

    def __iter__(self) -> Iterator[Any]: ...


class Db(Protocol):
    """The part of a ``sqlite3.Connection`` the store's SQL modules use."""

    def execute(self, sql: str, parameters: Sequence[Any] = ..., /) -> Any: ...

    def executemany(self, sql: str, parameters: Iterable[Sequence[Any]], /) -> Any: ...


def on_postgres(db: Db) -> bool:
    """Whether ``db`` is a connection to PostgreSQL (else SQLite)."""
    return getattr(db, "postgres", False) is True


def for_update(db: Db) -> str:
    """`` FOR UPDATE`` on PostgreSQL, nothing on SQLite.

    For the SELECT of a row that the same write transaction then changes. SQLite runs
    one write transaction at a time (``BEGIN IMMEDIATE``), so what it read stays true;
    PostgreSQL runs them side by side, and the row lock makes a claimer skip the row
    (``SKIP LOCKED``), and another writer wait and then read the row as changed."""
    return " FOR UPDATE" if on_postgres(db) else ""


def account_lock(db: Db, account: str) -> None:
    """Serialise this write transaction with the other writes of ``account`` (see
    :func:`pymesync.store.postgres.lock_account`); nothing on SQLite, where every write
    transaction is serialised already."""
    if on_postgres(db):
        from .postgres import lock_account

        lock_account(db, account)
