"""values.insert_rows: many rows to a statement, with the outcome of executemany."""

from __future__ import annotations

import sqlite3
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from pymesync.store import values

TABLE = "CREATE TABLE t (k TEXT PRIMARY KEY, n INTEGER, note TEXT)"
PLAIN = ("INSERT INTO t (k, n, note)", "(?, ?, ?)", "")
IGNORE = ("INSERT OR IGNORE INTO t (k, n, note)", "(?, ?, ?)", "")
UPSERT = (
    "INSERT INTO t (k, n, note)",
    "(?, ?, ?)",
    " ON CONFLICT (k) DO UPDATE SET n = excluded.n + t.n, note = excluded.note",
)


class Tracing:
    """A connection that records the statements it runs (and how many rows each)."""

    def __init__(self) -> None:
        self.db = sqlite3.connect(":memory:", isolation_level=None)
        self.db.execute(TABLE)
        self.runs: list[tuple[str, int]] = []

    def execute(self, sql: str, params: Any = ()) -> sqlite3.Cursor:
        self.runs.append(("execute", sql.count("(?")))
        return self.db.execute(sql, params)

    def executemany(self, sql: str, rows: Any) -> sqlite3.Cursor:
        rows = list(rows)
        self.runs.append(("executemany", len(rows)))
        return self.db.executemany(sql, rows)

    def getlimit(self, category: int) -> int:
        return self.db.getlimit(category) if hasattr(self.db, "getlimit") else 999


def _expected(statement: tuple[str, str, str], rows: list[tuple[Any, ...]]) -> Any:
    db = sqlite3.connect(":memory:", isolation_level=None)
    db.execute(TABLE)
    head, row, tail = statement
    try:
        db.executemany(f"{head} VALUES {row}{tail}", rows)
    except sqlite3.IntegrityError:
        return sqlite3.IntegrityError
    return sorted(db.execute("SELECT k, n, note, rowid FROM t"))


ROWS = st.lists(
    st.tuples(st.sampled_from("abcdefghij"), st.integers(0, 9), st.text(max_size=3)),
    max_size=70,
)


@settings(max_examples=200, deadline=None)
@given(
    rows=ROWS,
    statement=st.sampled_from([PLAIN, IGNORE, UPSERT]),
    most=st.sampled_from([3, 12, 48, 4000]),
    fewest=st.sampled_from([1, 2, 16]),
)
def test_insert_rows_is_executemany(
    rows: list[tuple[Any, ...]], statement: tuple[str, str, str], most: int, fewest: int
) -> None:
    """Same rows, same rowids (order), same upserts over rows of the same statement,
    and the same error, whatever the statement sizes."""
    expected = _expected(statement, rows)
    saved = values.MOST_PARAMETERS, values._FEWEST_ROWS
    values.MOST_PARAMETERS, values._FEWEST_ROWS = most, fewest
    try:
        traced = Tracing()
        head, row, tail = statement
        try:
            values.insert_rows(traced, head, row, rows, tail=tail)  # type: ignore[arg-type]
        except sqlite3.IntegrityError:
            got: Any = sqlite3.IntegrityError
        else:
            got = sorted(traced.db.execute("SELECT k, n, note, rowid FROM t"))
    finally:
        values.MOST_PARAMETERS, values._FEWEST_ROWS = saved
    assert got == expected
    if got is not sqlite3.IntegrityError:
        # every row went into exactly one statement, none bigger than allowed
        assert sum(n for _, n in traced.runs) == len(rows)
        assert all(n <= max(1, most // 3) for kind, n in traced.runs if kind == "execute")


def test_statement_sizes() -> None:
    """Full statements first, then powers of two, the last few rows by executemany;
    a handful of statement texts for any count."""
    traced = Tracing()
    rows = [(f"k{i}", i, "") for i in range(1000)]
    values.insert_rows(traced, *PLAIN[:2], rows)  # type: ignore[arg-type]
    # 1000 rows of 3 parameters: 1333 fit in 4000 parameters
    sizes = [512, 256, 128, 64, 32]
    assert traced.runs == [*(("execute", n) for n in sizes), ("executemany", 8)]
    traced = Tracing()
    rows = [(f"k{i}", i, "") for i in range(3000)]
    values.insert_rows(traced, *PLAIN[:2], rows)  # type: ignore[arg-type]
    sizes = [1333, 1333, 256, 64]
    assert traced.runs == [*(("execute", n) for n in sizes), ("executemany", 14)]


def test_parameter_limit_of_the_connection() -> None:
    """Statements stay under what the connection allows (999 when it cannot be asked)."""

    class Old:
        """A connection without getlimit (Python 3.10)."""

    assert values.rows_per_statement(Old(), 10) == 99  # type: ignore[arg-type]
    assert values.rows_per_statement(Old(), 5000) == 1  # type: ignore[arg-type]
    db = sqlite3.connect(":memory:")
    if hasattr(db, "setlimit"):
        db.setlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER, 100)
        assert values.rows_per_statement(db, 10) == 10
        db.execute(TABLE)
        values.insert_rows(db, *PLAIN[:2], [(f"k{i}", i, "") for i in range(500)])
        assert db.execute("SELECT count(*) FROM t").fetchone() == (500,)
