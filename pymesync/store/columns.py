"""The columns of the store's queue and cache tables, once, without SQLAlchemy.

The plain-SQL modules (:mod:`~pymesync.store.queue`, :mod:`~pymesync.store.cache`) and
the read-only :mod:`~pymesync.store.peek` run without SQLAlchemy (``pymesync status``
and the command line's unpooled store must not import it: its import costs more than
such a whole command). So the column names cannot come from the SQLAlchemy ``Table``
at run time; instead :mod:`pymesync.store.schema` builds its ``operations`` and
``cache`` tables from the lists here (in this order; it refuses to import when a
column has no type there, or a type no column), and the statements below are made from
the same lists. A change of columns is a change here, in the types of ``schema.py`` and
a new migration (a test fails when the models and the migrations drift apart).

Rows of the ``operations`` table are read as :class:`QueueRow` named tuples (by name,
with the stored texts: JSON and UTC timestamps as text).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple

__all__ = [
    "CACHE_COLUMNS",
    "CACHE_RECORD_COLUMNS",
    "FRESH",
    "QUEUE_COLUMNS",
    "QUEUE_SELECT",
    "QueueRow",
    "insert_head",
    "quoted",
    "row_template",
]


class QueueRow(NamedTuple):
    """One row of the ``operations`` table, every column, as stored (JSON and times as
    text). The field order is the table's column order."""

    id: int
    op_id: str
    account: str
    kind: str
    entity: str
    target: str
    payload: str | None
    base_revision: int | None
    state: str
    attempts: int
    next_attempt_at: str | None
    last_error: str | None
    created_at: str
    updated_at: str
    first_sent_at: str | None
    lease_owner: str | None
    lease_expires_at: str | None


#: The columns of the ``operations`` table, in order.
QUEUE_COLUMNS: tuple[str, ...] = QueueRow._fields
#: ``id, op_id, ...``: every column of the ``operations`` table, for a SELECT.
QUEUE_SELECT = ", ".join(QUEUE_COLUMNS)
#: The columns of a newly queued operation that are the same for every one (a new
#: operation is pending, never tried, not leased).
FRESH: Mapping[str, Any] = {
    "state": "pending",
    "attempts": 0,
    "next_attempt_at": None,
    "last_error": None,
    "first_sent_at": None,
    "lease_owner": None,
    "lease_expires_at": None,
}

#: The columns of the ``cache`` table, in order (``user`` and ``date_worked`` are
#: copies of a time's fields, for indexed filtering).
CACHE_COLUMNS: tuple[str, ...] = (
    "account",
    "entity",
    "key",
    "payload",
    "revision",
    "deleted",
    "fetched_at",
    "local",
    "user",
    "date_worked",
)
#: The cache columns a :class:`~pymesync.store.records.CacheObject` is read from (its
#: account and entity are known from the query).
CACHE_RECORD_COLUMNS: tuple[str, ...] = CACHE_COLUMNS[2:8]


def quoted(name: str) -> str:
    """A column name as written in a statement (``"user"`` is a keyword in some SQL
    dialects: quoted everywhere, as SQLAlchemy does)."""
    return f'"{name}"' if name == "user" else name


def _literal(value: Any) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise TypeError(f"no SQL literal for {value!r}")
    return f"'{value}'" if isinstance(value, str) else str(value)


def insert_head(table: str, columns: tuple[str, ...], verb: str = "INSERT") -> str:
    """``INSERT INTO table (column, ...)`` (``verb``: e.g. ``INSERT OR IGNORE``)."""
    return f"{verb} INTO {table} ({', '.join(quoted(name) for name in columns)})"


def row_template(columns: tuple[str, ...], constants: Mapping[str, Any] | None = None) -> str:
    """``(?, ?, 'pending', ...)`` for ``columns``: a literal for those in ``constants``
    (None, ints and plain strings), a parameter for the others (in ``columns`` order)."""
    fixed = constants or {}
    return f"({', '.join(_literal(fixed[name]) if name in fixed else '?' for name in columns)})"
