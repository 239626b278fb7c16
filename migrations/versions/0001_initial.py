"""The first schema: queue, cache (with tags), id map, credentials and sync state.

Revision ID: 0001
Revises:
Create Date: 2026-11-30
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

#: A flag: SQLite's BOOLEAN (an integer), and on PostgreSQL a smallint (0/1) likewise,
#: so that the store's statements (``deleted = 0``) read the same on both.
_FLAG = sa.Boolean().with_variant(sa.SmallInteger(), "postgresql")


def byte_order_text(tables: Sequence[str]) -> None:
    """On PostgreSQL, give every text column of ``tables`` the "C" collation: keys,
    ids and slugs then compare and sort by their bytes (UTF-8: by code point), as in
    SQLite, whatever the database's locale (a prefix lookup is a range of keys)."""
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    rows = bind.exec_driver_sql(
        "SELECT table_name, column_name, data_type, character_maximum_length"
        " FROM information_schema.columns WHERE table_schema = current_schema()"
        " AND data_type IN ('text', 'character varying')"
    ).fetchall()
    for table, column, data_type, length in rows:
        if table in tables:
            kind = "text" if data_type == "text" else f"varchar({int(length)})"
            op.execute(f'ALTER TABLE {table} ALTER COLUMN "{column}" TYPE {kind} COLLATE "C"')


def upgrade() -> None:
    """Create every table of the first schema."""
    op.create_table(
        "operations",
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
        sa.CheckConstraint("kind IN ('create', 'update', 'delete')", name="ck_operations_kind"),
        sa.CheckConstraint(
            "entity IN ('time', 'project', 'activity', 'user')", name="ck_operations_entity"
        ),
        sa.CheckConstraint(
            "state IN ('pending', 'inflight', 'failed', 'conflict')", name="ck_operations_state"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_operations"),
        sa.UniqueConstraint("op_id", name="uq_operations_op_id"),
        sqlite_autoincrement=True,
    )
    op.create_index(
        "ix_operations_account_state_id", "operations", ["account", "state", "id"], unique=False
    )
    op.create_index(
        "ix_operations_account_entity_target",
        "operations",
        ["account", "entity", "target"],
        unique=False,
    )

    op.create_table(
        "cache",
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
        sa.CheckConstraint(
            "entity IN ('time', 'project', 'activity', 'user')", name="ck_cache_entity"
        ),
        sa.PrimaryKeyConstraint("account", "entity", "key", name="pk_cache"),
    )
    op.create_index(
        "ix_cache_account_entity_user", "cache", ["account", "entity", "user"], unique=False
    )
    op.create_index(
        "ix_cache_account_entity_date_worked",
        "cache",
        ["account", "entity", "date_worked"],
        unique=False,
    )

    op.create_table(
        "cache_tags",
        sa.Column("account", sa.Text(), nullable=False),
        sa.Column("entity", sa.String(length=16), nullable=False),
        sa.Column("key", sa.Text(), nullable=False),
        sa.Column("tag_kind", sa.String(length=16), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.CheckConstraint(
            "tag_kind IN ('slug', 'project', 'activity')", name="ck_cache_tags_tag_kind"
        ),
        sa.ForeignKeyConstraint(
            ["account", "entity", "key"],
            ["cache.account", "cache.entity", "cache.key"],
            name="fk_cache_tags_account_entity_key_cache",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "account", "entity", "key", "tag_kind", "value", name="pk_cache_tags"
        ),
    )
    op.create_index(
        "ix_cache_tags_account_entity_tag_kind_value_key",
        "cache_tags",
        ["account", "entity", "tag_kind", "value", "key"],
        unique=False,
    )

    op.create_table(
        "id_map",
        sa.Column("account", sa.Text(), nullable=False),
        sa.Column("entity", sa.String(length=16), nullable=False),
        sa.Column("local_id", sa.Text(), nullable=False),
        sa.Column("server_id", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("account", "entity", "local_id", name="pk_id_map"),
    )
    op.create_index(
        "ix_id_map_account_entity_server_id",
        "id_map",
        ["account", "entity", "server_id"],
        unique=True,
    )

    op.create_table(
        "credentials",
        sa.Column("account", sa.Text(), nullable=False),
        sa.Column("token", sa.Text(), nullable=False),
        sa.Column("updated_at", sa.String(length=27), nullable=False),
        sa.PrimaryKeyConstraint("account", name="pk_credentials"),
    )

    op.create_table(
        "sync_state",
        sa.Column("account", sa.Text(), nullable=False),
        sa.Column("key", sa.Text(), nullable=False),
        sa.Column("value", sa.Text(), nullable=True),
        sa.Column("updated_at", sa.String(length=27), nullable=False),
        sa.PrimaryKeyConstraint("account", "key", name="pk_sync_state"),
    )
    byte_order_text(("operations", "cache", "cache_tags", "id_map", "credentials", "sync_state"))


def downgrade() -> None:
    """Drop every table of the first schema."""
    op.drop_table("sync_state")
    op.drop_table("credentials")
    op.drop_index("ix_id_map_account_entity_server_id", table_name="id_map")
    op.drop_table("id_map")
    op.drop_index("ix_cache_tags_account_entity_tag_kind_value_key", table_name="cache_tags")
    op.drop_table("cache_tags")
    op.drop_index("ix_cache_account_entity_date_worked", table_name="cache")
    op.drop_index("ix_cache_account_entity_user", table_name="cache")
    op.drop_table("cache")
    op.drop_index("ix_operations_account_entity_target", table_name="operations")
    op.drop_index("ix_operations_account_state_id", table_name="operations")
    op.drop_table("operations")
