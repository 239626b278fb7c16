"""The SQLAlchemy models of the store's tables (the schema the migrations build).

Every table is scoped by ``account`` (an opaque string such as
``"http://host/v0|alice"``). JSON is stored as TEXT; datetimes are stored as fixed-width
UTC ISO-8601 text (``2026-11-30T10:00:00.000000Z``) so that SQL comparisons on them are
correct. A change here needs a new migration in ``migrations/versions`` (a test fails
when the two drift apart).

The models define the schema (for Alembic and the drift test); the store reads and writes
the tables with plain SQL on the DB-API connection (see :mod:`pymesync.store.queue`),
using the encoders of :mod:`pymesync.store.codec` (re-exported here) so that both agree
on every stored value.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any, cast

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Column,
    Dialect,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    SmallInteger,
    String,
    Table,
    Text,
    TypeDecorator,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

# The encoders live in a SQLAlchemy-free module (the plain-SQL modules and the read-only
# peek use them without SQLAlchemy); they are re-exported here as before.
from .codec import dump_json, format_utc, load_json, parse_utc
from .columns import CACHE_COLUMNS, QUEUE_COLUMNS

__all__ = [
    "ENTITY_NAMES",
    "CacheRow",
    "CacheTagRow",
    "CredentialRow",
    "IdMapRow",
    "ImportKeyRow",
    "JSONText",
    "OperationRow",
    "SyncStateRow",
    "TimerRow",
    "UTCDateTime",
    "cache_table",
    "cache_tags_table",
    "credentials_table",
    "dump_json",
    "format_utc",
    "id_map_table",
    "import_keys_table",
    "load_json",
    "metadata",
    "one_of",
    "operations_table",
    "parse_utc",
    "sync_state_table",
    "timers_table",
]

#: Constraint names are fixed so that later (batch) migrations can refer to them.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_N_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware datetime stored as sortable UTC text."""

    impl = String(27)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> str | None:
        """Aware datetime -> UTC text."""
        return None if value is None else format_utc(value)

    def process_result_value(self, value: str | None, dialect: Dialect) -> datetime | None:
        """UTC text -> aware datetime."""
        return None if value is None else parse_utc(value)


class JSONText(TypeDecorator[Any]):
    """Any JSON value stored as compact TEXT (``None`` is SQL NULL)."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> str | None:
        """Python value -> JSON text."""
        return None if value is None else dump_json(value)

    def process_result_value(self, value: str | None, dialect: Dialect) -> Any:
        """JSON text -> Python value."""
        return None if value is None else json.loads(value)


metadata = MetaData(naming_convention=NAMING_CONVENTION)
#: A flag column: BOOLEAN on SQLite (an integer there), a smallint 0/1 on PostgreSQL,
#: so that the store's statements read it the same way on both.
_FLAG = Boolean().with_variant(SmallInteger(), "postgresql")

#: The values of every ``entity`` column.
ENTITY_NAMES = ("time", "project", "activity", "user")


def one_of(column: str, values: tuple[str, ...]) -> str:
    """A CHECK condition ``column`` is one of ``values``, written with ``=`` and ``OR``:
    SQLite evaluates an ``IN (...)`` list in a CHECK through a temporary b-tree built on
    every row written, which made every INSERT several microseconds slower."""
    return " OR ".join(f"{column} = '{value}'" for value in values)


class Base(DeclarativeBase):
    """Declarative base of the store's models."""

    metadata = metadata


def _table(
    name: str, columns: tuple[str, ...], types: dict[str, Column[Any]], *args: Any, **kw: Any
) -> Table:
    """The table ``name`` with ``columns`` (the plain list of
    :mod:`pymesync.store.columns`, in its order), each as ``types`` describes it."""
    if set(types) != set(columns):
        raise RuntimeError(
            f"the {name} table's types and its column list differ: "
            f"{sorted(set(types) ^ set(columns))} (see pymesync/store/columns.py)"
        )
    return Table(name, metadata, *(types[column] for column in columns), *args, **kw)


def _typed(*columns: Column[Any]) -> dict[str, Column[Any]]:
    return {column.name: column for column in columns}


#: The write queue: one row per operation still to be sent (``id`` = queue order).
operations_table = _table(
    "operations",
    QUEUE_COLUMNS,
    _typed(
        Column("id", Integer, primary_key=True, autoincrement=True),
        Column("op_id", String(36), unique=True, nullable=False),
        Column("account", Text, nullable=False),
        Column("kind", String(16), nullable=False),
        Column("entity", String(16), nullable=False),
        Column("target", Text, nullable=False),
        Column("payload", JSONText, nullable=True),
        Column("base_revision", Integer, nullable=True),
        Column("state", String(16), nullable=False),
        Column("attempts", Integer, nullable=False, default=0),
        Column("next_attempt_at", UTCDateTime, nullable=True),
        Column("last_error", JSONText, nullable=True),
        Column("created_at", UTCDateTime, nullable=False),
        Column("updated_at", UTCDateTime, nullable=False),
        Column("first_sent_at", UTCDateTime, nullable=True),
        Column("lease_owner", Text, nullable=True),
        Column("lease_expires_at", UTCDateTime, nullable=True),
    ),
    CheckConstraint(one_of("kind", ("create", "update", "delete")), name="kind"),
    CheckConstraint(one_of("entity", ENTITY_NAMES), name="entity"),
    CheckConstraint(one_of("state", ("pending", "inflight", "failed", "conflict")), name="state"),
    # Claim walks the pending operations of an account in queue order.
    Index("ix_operations_account_state_id", "account", "state", "id"),
    # The operations on one object (entries end with the row id: "the last one on
    # this object" and "an earlier one on this object" are one step).
    Index("ix_operations_account_entity_target", "account", "entity", "target"),
    # Only the operations backing off (next_attempt_at set): expedite, next retry.
    Index(
        "ix_operations_account_next_attempt_at",
        "account",
        "next_attempt_at",
        sqlite_where=text("next_attempt_at IS NOT NULL"),
        postgresql_where=text("next_attempt_at IS NOT NULL"),
    ),
    sqlite_autoincrement=True,
)

#: Cached server objects, plus provisional local ones (``local``). ``user`` and
#: ``date_worked`` are copies of the time fields of the same name, kept in indexed
#: columns for offline filtering.
cache_table = _table(
    "cache",
    CACHE_COLUMNS,
    _typed(
        Column("account", Text, primary_key=True),
        Column("entity", String(16), primary_key=True),
        Column("key", Text, primary_key=True),
        Column("payload", JSONText, nullable=False),
        Column("revision", Integer, nullable=True),
        Column("deleted", _FLAG, nullable=False, default=False),
        Column("fetched_at", UTCDateTime, nullable=False),
        Column("local", _FLAG, nullable=False, default=False),
        Column("user", Text, nullable=True),
        Column("date_worked", String(10), nullable=True),
    ),
    CheckConstraint(one_of("entity", ENTITY_NAMES), name="entity"),
    # A user's times, within dates; and times within dates.
    Index("ix_cache_account_entity_user_date_worked", "account", "entity", "user", "date_worked"),
    Index("ix_cache_account_entity_date_worked", "account", "entity", "date_worked"),
)


class OperationRow(Base):
    """The model of the write queue (:data:`operations_table`)."""

    __table__ = operations_table


class CacheRow(Base):
    """The model of the cache (:data:`cache_table`)."""

    __table__ = cache_table


class CacheTagRow(Base):
    """Searchable values of a cached object: an inverted index over the cache.

    ``tag_kind`` is ``slug`` (a slug of a project or activity), ``project`` (a project
    slug of a time) or ``activity`` (an activity slug of a time). The rows of an object
    are derived from its payload (:func:`pymesync.store.cache.tags_for`) and rewritten
    with it: the rows to delete are found from the payload being replaced or removed.
    (So a change to ``tags_for`` needs a migration that rebuilds this table.)

    A WITHOUT ROWID table whose primary key is the lookup order (by kind and value, then
    key): one b-tree entry per tag. Looking a key's tags up goes through its payload.
    """

    __tablename__ = "cache_tags"
    __table_args__ = (
        PrimaryKeyConstraint("account", "entity", "tag_kind", "value", "key"),
        CheckConstraint(one_of("tag_kind", ("slug", "project", "activity")), name="tag_kind"),
        {"sqlite_with_rowid": False},
    )

    account: Mapped[str] = mapped_column(Text)
    entity: Mapped[str] = mapped_column(String(16))
    tag_kind: Mapped[str] = mapped_column(String(16))
    value: Mapped[str] = mapped_column(Text)
    key: Mapped[str] = mapped_column(Text)


class IdMapRow(Base):
    """Local id (given to an object created offline) -> the server's id for it."""

    __tablename__ = "id_map"
    __table_args__ = (
        Index("ix_id_map_account_entity_server_id", "account", "entity", "server_id", unique=True),
    )

    account: Mapped[str] = mapped_column(Text, primary_key=True)
    entity: Mapped[str] = mapped_column(String(16), primary_key=True)
    local_id: Mapped[str] = mapped_column(Text, primary_key=True)
    server_id: Mapped[str] = mapped_column(Text)


class CredentialRow(Base):
    """The login token of an account (stored here and nowhere else)."""

    __tablename__ = "credentials"

    account: Mapped[str] = mapped_column(Text, primary_key=True)
    token: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)

    def __repr__(self) -> str:
        """The account only: the token is never shown."""
        return f"<CredentialRow {self.account} token=***>"


class SyncStateRow(Base):
    """Free-form JSON sync state per account (last success, last error, needs-login...)."""

    __tablename__ = "sync_state"

    account: Mapped[str] = mapped_column(Text, primary_key=True)
    key: Mapped[str] = mapped_column(Text, primary_key=True)
    value: Mapped[Any] = mapped_column(JSONText, nullable=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class TimerRow(Base):
    """A timer of an account: the ``running`` one (at most one) and the ``last`` one
    stopped or cancelled (what a restart starts again)."""

    __tablename__ = "timers"
    __table_args__ = (CheckConstraint(one_of("slot", ("running", "last")), name="slot"),)

    account: Mapped[str] = mapped_column(Text, primary_key=True)
    slot: Mapped[str] = mapped_column(String(16), primary_key=True)
    project: Mapped[str] = mapped_column(Text)
    activities: Mapped[Any] = mapped_column(JSONText)
    notes: Mapped[str | None] = mapped_column(Text)
    issue_uri: Mapped[str | None] = mapped_column(Text)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class ImportKeyRow(Base):
    """The stable key of an imported record and the local id of the time it became
    (importing the same record again creates nothing)."""

    __tablename__ = "import_keys"
    __table_args__ = ({"sqlite_with_rowid": False},)

    account: Mapped[str] = mapped_column(Text, primary_key=True)
    import_key: Mapped[str] = mapped_column(Text, primary_key=True)
    local_id: Mapped[str] = mapped_column(Text)
    imported_at: Mapped[datetime] = mapped_column(UTCDateTime)


#: The Core tables behind the models, for bulk statements.
cache_tags_table = cast(Table, CacheTagRow.__table__)
id_map_table = cast(Table, IdMapRow.__table__)
credentials_table = cast(Table, CredentialRow.__table__)
sync_state_table = cast(Table, SyncStateRow.__table__)
timers_table = cast(Table, TimerRow.__table__)
import_keys_table = cast(Table, ImportKeyRow.__table__)
