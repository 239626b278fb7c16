"""Cheaper writes and indexes for a long queue and a large cache.

The tables ``operations``, ``cache`` and ``cache_tags`` are rebuilt (same columns, same
data, same row ids, the AUTOINCREMENT counter kept):

* their CHECK constraints are written ``x = 'a' OR x = 'b'`` instead of
  ``x IN ('a', 'b')``: SQLite checks an IN list through a temporary b-tree built for
  every row written, which cost several microseconds per INSERT (the constraint names
  lose their doubled prefix: ``ck_operations_kind``, ...);
* ``cache_tags`` becomes an inverted index: a WITHOUT ROWID table whose primary key is
  the lookup order ``(account, entity, tag_kind, value, key)``, without the foreign key
  to ``cache`` and without ``ix_cache_tags_account_entity_tag_kind_value_key``: one
  b-tree entry per tag instead of three (the store finds an object's tags from its
  payload, and deletes them with it);

Indexes:

* new ``ix_operations_account_next_attempt_at``, partial (only rows with a
  ``next_attempt_at``): the backing-off operations of an account, so that expediting
  them (``Store.expedite``) reads only those rows;
* ``ix_cache_account_entity_user_date_worked`` replaces ``ix_cache_account_entity_user``
  (same leading columns): a user's cached times within a date range, without reading
  the user's other times.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-30
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ENTITIES = ("time", "project", "activity", "user")
_KINDS = ("create", "update", "delete")
_STATES = ("pending", "inflight", "failed", "conflict")
_TAG_KINDS = ("slug", "project", "activity")

_OPERATION_COLUMNS = (
    "id, op_id, account, kind, entity, target, payload, base_revision, state, attempts,"
    " next_attempt_at, last_error, created_at, updated_at, first_sent_at, lease_owner,"
    " lease_expires_at"
)
_CACHE_COLUMNS = (
    'account, entity, "key", payload, revision, deleted, fetched_at, local, "user", date_worked'
)
_TAG_COLUMNS = 'account, entity, "key", tag_kind, value'
_TAG_TEXT = (
    ("account", "text"),
    ("entity", "varchar(16)"),
    ("key", "text"),
    ("tag_kind", "varchar(16)"),
    ("value", "text"),
)
#: As in 0001: an integer flag on both databases.
_FLAG = sa.Boolean().with_variant(sa.SmallInteger(), "postgresql")


def _one_of(column: str, values: tuple[str, ...]) -> str:
    return " OR ".join(f"{column} = '{value}'" for value in values)


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(value) for value in values)})"


def _operations(name: str, check: str, names: str) -> None:
    op.create_table(
        name,
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("op_id", sa.String(length=36), nullable=False),
        sa.Column("account", sa.Text(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("entity", sa.String(length=16), nullable=False),
        sa.Column("target", sa.Text(), nullable=False),
        sa.Column("payload", sa.Text(), nullable=True),
        sa.Column("base_revision", sa.Integer(), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.String(length=27), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.String(length=27), nullable=False),
        sa.Column("updated_at", sa.String(length=27), nullable=False),
        sa.Column("first_sent_at", sa.String(length=27), nullable=True),
        sa.Column("lease_owner", sa.Text(), nullable=True),
        sa.Column("lease_expires_at", sa.String(length=27), nullable=True),
        sa.CheckConstraint(_check(check, "kind", _KINDS), name=op.f(f"{names}_kind")),
        sa.CheckConstraint(_check(check, "entity", _ENTITIES), name=op.f(f"{names}_entity")),
        sa.CheckConstraint(_check(check, "state", _STATES), name=op.f(f"{names}_state")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_operations")),
        sa.UniqueConstraint("op_id", name=op.f("uq_operations_op_id")),
        sqlite_autoincrement=True,
    )


def _cache(name: str, check: str, names: str) -> None:
    op.create_table(
        name,
        sa.Column("account", sa.Text(), nullable=False),
        sa.Column("entity", sa.String(length=16), nullable=False),
        sa.Column("key", sa.Text(), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=True),
        sa.Column("deleted", _FLAG, nullable=False),
        sa.Column("fetched_at", sa.String(length=27), nullable=False),
        sa.Column("local", _FLAG, nullable=False),
        sa.Column("user", sa.Text(), nullable=True),
        sa.Column("date_worked", sa.String(length=10), nullable=True),
        sa.CheckConstraint(_check(check, "entity", _ENTITIES), name=op.f(f"{names}_entity")),
        sa.PrimaryKeyConstraint("account", "entity", "key", name=op.f("pk_cache")),
    )


def _cache_tags(name: str) -> None:
    """The 0002 tags: WITHOUT ROWID, keyed in lookup order, no foreign key."""
    op.create_table(
        name,
        sa.Column("account", sa.Text(), nullable=False),
        sa.Column("entity", sa.String(length=16), nullable=False),
        sa.Column("tag_kind", sa.String(length=16), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("key", sa.Text(), nullable=False),
        sa.CheckConstraint(_one_of("tag_kind", _TAG_KINDS), name=op.f("ck_cache_tags_tag_kind")),
        sa.PrimaryKeyConstraint(
            "account", "entity", "tag_kind", "value", "key", name=op.f("pk_cache_tags")
        ),
        sqlite_with_rowid=False,
    )


def _cache_tags_0001(name: str) -> None:
    """The 0001 tags: a rowid table keyed by object, with a foreign key to the cache."""
    op.create_table(
        name,
        sa.Column("account", sa.Text(), nullable=False),
        sa.Column("entity", sa.String(length=16), nullable=False),
        sa.Column("key", sa.Text(), nullable=False),
        sa.Column("tag_kind", sa.String(length=16), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.CheckConstraint(
            _in("tag_kind", _TAG_KINDS), name=op.f("ck_cache_tags_ck_cache_tags_tag_kind")
        ),
        # Names the final table "cache": the new cache table has that name by the time
        # anything is written with foreign keys on.
        sa.ForeignKeyConstraint(
            ["account", "entity", "key"],
            ["cache.account", "cache.entity", "cache.key"],
            name=op.f("fk_cache_tags_account_entity_key_cache"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "account", "entity", "key", "tag_kind", "value", name=op.f("pk_cache_tags")
        ),
    )


def _check(style: str, column: str, values: tuple[str, ...]) -> str:
    return _one_of(column, values) if style == "or" else _in(column, values)


def _swap(table: str, columns: str) -> None:
    """Copy ``table`` into the already created ``_new_<table>``, drop it, rename the new
    one (foreign keys are off while migrating, so nothing cascades)."""
    op.execute(f"INSERT INTO _new_{table} ({columns}) SELECT {columns} FROM {table}")
    op.drop_table(table)
    op.rename_table(f"_new_{table}", table)


def _rebuild(style: str, names: dict[str, str]) -> None:
    """Rebuild the three tables with CHECKs of ``style`` ("or" / "in"); the caller
    creates the indexes afterwards (dropping a table drops its indexes)."""
    bind = op.get_bind()
    row = bind.exec_driver_sql(
        "SELECT seq FROM sqlite_sequence WHERE name = 'operations'"
    ).fetchone()
    sequence = 0 if row is None else int(row[0])
    _operations("_new_operations", style, names["operations"])
    _swap("operations", _OPERATION_COLUMNS)
    # The AUTOINCREMENT counter goes on from where it was: ids are never reused.
    if sequence:
        bind.exec_driver_sql("DELETE FROM sqlite_sequence WHERE name = 'operations'")
        bind.exec_driver_sql(
            "INSERT INTO sqlite_sequence (name, seq) VALUES ('operations', ?)", (sequence,)
        )
    _cache("_new_cache", style, names["cache"])
    if style == "or":
        _cache_tags("_new_cache_tags")
    else:
        _cache_tags_0001("_new_cache_tags")
    op.execute(f"INSERT INTO _new_cache ({_CACHE_COLUMNS}) SELECT {_CACHE_COLUMNS} FROM cache")
    op.execute(
        f"INSERT INTO _new_cache_tags ({_TAG_COLUMNS}) SELECT {_TAG_COLUMNS} FROM cache_tags"
    )
    op.drop_table("cache_tags")
    op.drop_table("cache")
    op.rename_table("_new_cache", "cache")
    op.rename_table("_new_cache_tags", "cache_tags")


def _common_indexes() -> None:
    op.create_index(
        "ix_operations_account_state_id", "operations", ["account", "state", "id"], unique=False
    )
    op.create_index(
        "ix_operations_account_entity_target",
        "operations",
        ["account", "entity", "target"],
        unique=False,
    )
    op.create_index(
        "ix_cache_account_entity_date_worked",
        "cache",
        ["account", "entity", "date_worked"],
        unique=False,
    )


def _postgres() -> bool:
    return bool(op.get_bind().dialect.name == "postgresql")


def _checks_pg(style: str, names: dict[str, str]) -> None:
    """PostgreSQL: the CHECKs of ``style`` with the names SQLite's rebuild gives them
    (PostgreSQL checks an IN list as cheaply: only the names matter)."""
    bind = op.get_bind()
    for table in ("operations", "cache", "cache_tags"):
        for (name,) in bind.exec_driver_sql(
            "SELECT conname FROM pg_constraint WHERE contype = 'c'"
            f" AND conrelid = '{table}'::regclass"
        ).fetchall():
            op.drop_constraint(op.f(name), table, type_="check")
    prefix = names["operations"]
    for column, values in (("kind", _KINDS), ("entity", _ENTITIES), ("state", _STATES)):
        op.create_check_constraint(
            op.f(f"{prefix}_{column}"), "operations", _check(style, column, values)
        )
    op.create_check_constraint(
        op.f(f"{names['cache']}_entity"), "cache", _check(style, "entity", _ENTITIES)
    )
    tags = "ck_cache_tags_tag_kind" if style == "or" else "ck_cache_tags_ck_cache_tags_tag_kind"
    op.create_check_constraint(op.f(tags), "cache_tags", _check(style, "tag_kind", _TAG_KINDS))


def _tags_pg(style: str) -> None:
    """PostgreSQL: the tags table of ``style`` ("or": 0002, "in": 0001) rebuilt under a
    temporary name, its constraints renamed once the old one is gone (PostgreSQL's
    constraint names are unique in a schema; its columns cannot be reordered)."""
    op.execute("ALTER TABLE cache_tags RENAME CONSTRAINT pk_cache_tags TO pk_cache_tags_old")
    if style == "or":
        _cache_tags("_new_cache_tags")
    else:
        _cache_tags_0001("_new_cache_tags")
    for column, kind in _TAG_TEXT:  # (keys in byte order, as 0001 made them)
        op.execute(f'ALTER TABLE _new_cache_tags ALTER COLUMN "{column}" TYPE {kind} COLLATE "C"')
    op.execute(
        f"INSERT INTO _new_cache_tags ({_TAG_COLUMNS}) SELECT {_TAG_COLUMNS} FROM cache_tags"
    )
    op.drop_table("cache_tags")
    op.rename_table("_new_cache_tags", "cache_tags")


def upgrade() -> None:
    """Rebuild the three tables (cheap CHECKs, tags as an inverted index); new indexes."""
    if _postgres():
        _tags_pg("or")
        _checks_pg("or", {"operations": "ck_operations", "cache": "ck_cache"})
        op.drop_index("ix_cache_account_entity_user", table_name="cache")
    else:
        _rebuild("or", {"operations": "ck_operations", "cache": "ck_cache"})
        _common_indexes()
    op.create_index(
        "ix_operations_account_next_attempt_at",
        "operations",
        ["account", "next_attempt_at"],
        unique=False,
        sqlite_where=sa.text("next_attempt_at IS NOT NULL"),
        postgresql_where=sa.text("next_attempt_at IS NOT NULL"),
    )
    op.create_index(
        "ix_cache_account_entity_user_date_worked",
        "cache",
        ["account", "entity", "user", "date_worked"],
        unique=False,
    )


def downgrade() -> None:
    """Back to the 0001 tables (IN-list CHECKs, tags by object with a foreign key) and
    indexes."""
    names = {"operations": "ck_operations_ck_operations", "cache": "ck_cache_ck_cache"}
    if _postgres():
        op.drop_index("ix_operations_account_next_attempt_at", table_name="operations")
        op.drop_index("ix_cache_account_entity_user_date_worked", table_name="cache")
        _tags_pg("in")
        _checks_pg("in", names)
    else:
        _rebuild("in", names)
        _common_indexes()
    op.create_index(
        "ix_cache_tags_account_entity_tag_kind_value_key",
        "cache_tags",
        ["account", "entity", "tag_kind", "value", "key"],
        unique=False,
    )
    op.create_index(
        "ix_cache_account_entity_user", "cache", ["account", "entity", "user"], unique=False
    )
