"""One column list: the plain lists of ``store/columns.py`` against the migrations, the
models and the records the queue makes without reading them back."""

from __future__ import annotations

import pytest
from sqlalchemy import Column, Integer
from store_helpers import at, db_rows, fresh_creates, on_postgres, op, provisional

from pymesync.store import Store
from pymesync.store.columns import CACHE_COLUMNS, QUEUE_COLUMNS


def _columns(store: Store, table: str) -> tuple[str, ...]:
    """The columns of ``table`` in the store's database, in their order."""
    if on_postgres(store):
        sql = (
            "SELECT column_name FROM information_schema.columns WHERE table_schema ="
            f" current_schema() AND table_name = '{table}' ORDER BY ordinal_position"
        )
        return tuple(str(name) for (name,) in db_rows(store, sql))
    return tuple(str(row[1]) for row in db_rows(store, f"PRAGMA table_info({table})"))


def test_the_migrated_tables_have_the_listed_columns_in_order(store: Store) -> None:
    assert _columns(store, "operations") == QUEUE_COLUMNS
    assert _columns(store, "cache") == CACHE_COLUMNS


def test_the_models_are_built_from_the_lists() -> None:
    from pymesync.store.schema import cache_table, operations_table

    assert tuple(operations_table.c.keys()) == QUEUE_COLUMNS
    assert tuple(cache_table.c.keys()) == CACHE_COLUMNS


def test_a_column_without_a_type_or_a_type_without_a_column_is_refused() -> None:
    from pymesync.store.schema import _table

    with pytest.raises(RuntimeError, match="differ"):
        _table("t", ("a", "b"), {"a": Column("a", Integer)})
    with pytest.raises(RuntimeError, match="differ"):
        _table("t", ("a",), {"a": Column("a", Integer), "b": Column("b", Integer)})


def test_appended_records_are_what_the_queue_reads_back(store: Store) -> None:
    """enqueue and enqueue_many make the records of appended operations without reading
    them; they equal what the queue holds."""
    first = store.enqueue(op("create", "t-1", {"duration": 1}), provisional("t-1", {}), now=at(1))
    items, new_ids = fresh_creates(3)
    many = store.enqueue_many(items, now=at(2), new_ids=new_ids)
    for result in (first, *many):
        assert result.outcome == "appended"
        assert result.operation is not None
        assert store.get_operation(result.operation.op_id) == result.operation
