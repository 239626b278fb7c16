"""How the store's SQLAlchemy engine opens the database (where it lives, and whether its
schema is current, is :mod:`pymesync.store.location`, re-exported here).

Nothing in this module imports Alembic: opening a store whose schema is already at
:data:`SCHEMA_HEAD` costs one small query. Only :mod:`pymesync.store.migrator` imports
Alembic, when an upgrade is needed.

Connections are set up for several processes sharing one file: WAL journal,
``synchronous=FULL`` (a commit is on disk when it returns), a 30 s busy timeout, foreign
keys on, and SQLite's own transaction handling switched off so that the store emits
``BEGIN IMMEDIATE`` itself for every write transaction (``BEGIN`` for reads).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import Connection
from sqlalchemy.pool import ConnectionPoolEntry

# Paths and schema inspection need no SQLAlchemy (the read-only peek uses them alone);
# they are re-exported here as before.
from .location import (
    BUSY_TIMEOUT_SECONDS,
    CACHED_STATEMENTS,
    ENV_VAR,
    POOL_SIZE,
    SCHEMA_HEAD,
    SchemaStatus,
    configure_connection,
    default_path,
    prepare_location,
    read_schema_revision,
    resolve_path,
    set_wal,
)

__all__ = [
    "BEGIN_OPTION",
    "BUSY_TIMEOUT_SECONDS",
    "ENV_VAR",
    "POOL_SIZE",
    "SCHEMA_HEAD",
    "SchemaStatus",
    "create_store_engine",
    "default_path",
    "prepare_location",
    "read_schema_revision",
    "resolve_path",
    "set_wal",
]

#: Execution option naming the BEGIN flavour of a transaction: "DEFERRED" (reads),
#: "IMMEDIATE" (writes) or "EXCLUSIVE" (migrations).
BEGIN_OPTION = "pymesync_begin"

_BEGIN_STATEMENTS = {
    "DEFERRED": "BEGIN",
    "IMMEDIATE": "BEGIN IMMEDIATE",
    "EXCLUSIVE": "BEGIN EXCLUSIVE",
}


def _on_connect(dbapi_connection: Any, connection_record: ConnectionPoolEntry) -> None:
    # SQLAlchemy's documented pysqlite recipe: take BEGIN away from the driver...
    configure_connection(dbapi_connection)


def _on_begin(conn: Connection) -> None:
    # ...and emit it ourselves, IMMEDIATE for writes so that a writer takes the lock up
    # front (and waits for it under busy_timeout) instead of failing on lock upgrade.
    mode = conn.get_execution_options().get(BEGIN_OPTION, "DEFERRED")
    conn.exec_driver_sql(_BEGIN_STATEMENTS[mode])


def create_store_engine(path: Path) -> Engine:
    """A SQLAlchemy engine on ``path`` with the store's pragmas (set on each new
    connection by a ``connect`` event, as SQLAlchemy documents for pysqlite), its BEGIN
    handling and its connection pool (a ``QueuePool``; a store's transactions each
    check a connection out of it and back in).

    Use ``engine.execution_options(pymesync_begin="IMMEDIATE")`` for write transactions.
    Parameters are hidden from logs and error messages (they can hold a token).
    """
    engine = create_engine(
        f"sqlite:///{path}",
        connect_args={
            "timeout": BUSY_TIMEOUT_SECONDS,
            "check_same_thread": False,
            "cached_statements": CACHED_STATEMENTS,
        },
        hide_parameters=True,
        # The store's one pool. Enough connections kept for a concurrent sync pass
        # (one per sending thread of its pool of 16, plus the coordinating one): a
        # connection opened past pool_size is closed again on return, losing its
        # prepared statements and costing a fresh open and its pragmas every time.
        # Check-in rolls back (a no-op unless a transaction was left open by a
        # failed ROLLBACK); no pre-ping (a local file does not go away).
        pool_size=POOL_SIZE,
        max_overflow=POOL_SIZE,
        pool_reset_on_return="rollback",
        pool_pre_ping=False,
    )
    event.listen(engine, "connect", _on_connect)
    event.listen(engine, "begin", _on_begin)
    return engine
