"""Many rows in one ``INSERT ... VALUES (...), (...), ...`` statement.

For the bulk writes (:func:`~pymesync.store.queue.enqueue_many`,
:func:`~pymesync.store.cache.write_rows`). Compared with ``executemany`` (one step of
the statement per row, the GIL taken back and the statement reset and bound between
rows) a statement of a few hundred rows costs about 2 µs less per row, and releases the
GIL for the whole of its work instead of row by row.

The rows of one call are written in order, by statements of :func:`rows_per_statement`
rows, then of the powers of two below it (256, 128, ...; each statement text is
prepared once per connection and kept in the ``sqlite3`` statement cache, so a handful
of sizes serves any number of rows), and the last few rows with ``executemany``. The
outcome is the same as ``executemany`` with the one-row statement: rows are inserted
in order, a later row of the same statement sees the earlier ones (an upsert of a key
twice, an ``OR IGNORE`` duplicate), and an error rolls back the statement that failed
(the caller's transaction is then rolled back whole anyway).
"""

from __future__ import annotations

import functools
import itertools
import sqlite3
from collections.abc import Iterator, Sequence
from typing import Any

from .dbapi import on_postgres

__all__ = ["MOST_PARAMETERS", "insert_rows", "rows_per_statement", "select_in", "statement"]

#: The most bound parameters one statement takes: 400 rows of 10 columns, 800 of 5.
#: (Such a statement is prepared in about 3 ms and holds about 0.7 MB while cached.)
MOST_PARAMETERS = 4000
#: Fewer rows than this go through ``executemany`` (a statement of its own would not
#: pay for its preparation).
_FEWEST_ROWS = 16
#: Values of one ``IN (...)`` list in :func:`select_in` (well under SQLite's oldest
#: 999-variable limit).
_IN_CHUNK = 500
#: SQLite's bound-parameter limit when the connection cannot be asked (Python 3.10),
#: the lowest any SQLite build has (999 before SQLite 3.32).
_SAFE_LIMIT = 999
#: ``sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER`` (named by the module from Python 3.11 on).
_LIMIT_VARIABLE_NUMBER: int = getattr(sqlite3, "SQLITE_LIMIT_VARIABLE_NUMBER", 9)

_flat = itertools.chain.from_iterable


@functools.lru_cache(maxsize=64)
def statement(head: str, row: str, count: int, tail: str = "") -> str:
    """``head VALUES row, row, ... tail`` with ``count`` rows (the texts are kept: the
    ``sqlite3`` statement cache looks statements up by their text)."""
    return f"{head} VALUES {', '.join(itertools.repeat(row, count))}{tail}"


def _parameter_limit(db: sqlite3.Connection) -> int:
    getlimit = getattr(db, "getlimit", None)  # Python 3.11+
    if getlimit is None:
        return _SAFE_LIMIT
    return int(getlimit(_LIMIT_VARIABLE_NUMBER))


def rows_per_statement(db: sqlite3.Connection, width: int) -> int:
    """The rows of ``width`` parameters one statement on ``db`` takes: as many as
    :data:`MOST_PARAMETERS` allows, and SQLite's bound-parameter limit."""
    return max(1, min(MOST_PARAMETERS, _parameter_limit(db)) // width)


def insert_rows(
    db: sqlite3.Connection,
    head: str,
    row: str,
    rows: Sequence[Sequence[Any]],
    *,
    tail: str = "",
) -> None:
    """Run ``head VALUES row tail`` for every one of ``rows`` (each as many parameters
    as ``row`` has ``?``), in order, a few statements in all (see the module)."""
    count = len(rows)
    if not count:
        return
    if on_postgres(db):
        # psycopg keeps the parsed form of short statements only (4,096 characters, 50
        # parameters): a statement of hundreds of rows is parsed again every time, and
        # costs more than it saves. Its executemany sends the one-row statement for
        # every row in one pipeline instead (no round trip per row).
        db.executemany(statement(head, row, 1, tail), rows)
        return
    size = rows_per_statement(db, len(rows[0]))
    start = 0
    while count - start >= _FEWEST_ROWS:
        while size > count - start:
            size = 1 << ((count - start).bit_length() - 1)  # the power of two below
        end = start + size
        db.execute(statement(head, row, size, tail), list(_flat(rows[start:end])))
        start = end
    if start < count:
        one = statement(head, row, 1, tail)
        if count - start == 1:
            db.execute(one, rows[start])
        else:
            db.executemany(one, rows[start:])


def select_in(
    db: sqlite3.Connection,
    sql: str,
    params: Sequence[Any],
    values: Sequence[Any],
    size: int = _IN_CHUNK,
) -> Iterator[Any]:
    """The rows of ``sql IN (?, ...)`` with ``params`` then a part of ``values`` bound,
    for every part of ``values`` (``size`` at a time: one statement each)."""
    for start in range(0, len(values), size):
        part = values[start : start + size]
        yield from db.execute(f"{sql} IN ({', '.join('?' * len(part))})", (*params, *part))
