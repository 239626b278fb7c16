"""Running timers and import keys (issue 14).

Two new tables; nothing else changes (a store at 0002 keeps all its data, and a peek of
the queue reads 0002 and 0003 alike):

* ``timers``: per account, the ``running`` timer (at most one) and the ``last`` one
  stopped or cancelled (what ``pymesync restart`` starts again): project, activities
  (JSON), notes, issue URI and the start (UTC text);
* ``import_keys``: the stable key of every imported record (``watson:<frame id>:1``,
  ...) and the local uuid of the time entry it became, so that importing the same file
  again creates nothing twice.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TEXT_COLUMNS = {
    "timers": [("account", "text"), ("slot", "varchar(16)"), ("project", "text"),
               ("activities", "text"), ("notes", "text"), ("issue_uri", "text"),
               ("started_at", "varchar(27)"), ("updated_at", "varchar(27)")],
    "import_keys": [("account", "text"), ("import_key", "text"), ("local_id", "text"),
                    ("imported_at", "varchar(27)")],
}  # fmt: skip


def upgrade() -> None:
    """Create ``timers`` and ``import_keys``."""
    op.create_table(
        "timers",
        sa.Column("account", sa.Text(), nullable=False),
        sa.Column("slot", sa.String(length=16), nullable=False),
        sa.Column("project", sa.Text(), nullable=False),
        sa.Column("activities", sa.Text(), nullable=False),
        sa.Column("notes", sa.Text(), nullable=True),
        sa.Column("issue_uri", sa.Text(), nullable=True),
        sa.Column("started_at", sa.String(length=27), nullable=False),
        sa.Column("updated_at", sa.String(length=27), nullable=False),
        sa.CheckConstraint("slot = 'running' OR slot = 'last'", name=op.f("ck_timers_slot")),
        sa.PrimaryKeyConstraint("account", "slot", name=op.f("pk_timers")),
    )
    op.create_table(
        "import_keys",
        sa.Column("account", sa.Text(), nullable=False),
        sa.Column("import_key", sa.Text(), nullable=False),
        sa.Column("local_id", sa.Text(), nullable=False),
        sa.Column("imported_at", sa.String(length=27), nullable=False),
        sa.PrimaryKeyConstraint("account", "import_key", name=op.f("pk_import_keys")),
        sqlite_with_rowid=False,
    )
    if op.get_bind().dialect.name == "postgresql":  # (keys in byte order, as in 0001)
        for table, columns in _TEXT_COLUMNS.items():
            for column, kind in columns:
                op.execute(f'ALTER TABLE {table} ALTER COLUMN "{column}" TYPE {kind} COLLATE "C"')


def downgrade() -> None:
    """Drop ``import_keys`` and ``timers`` (running timers and import keys are lost)."""
    op.drop_table("import_keys")
    op.drop_table("timers")
