"""Credentials (the login token) and free-form sync state, per account.

The token lives in the ``credentials`` table and nowhere else; nothing here keeps it in
memory or shows it in a ``repr``. Functions work inside a transaction the caller opened.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from .schema import CredentialRow, SyncStateRow, credentials_table, sync_state_table

__all__ = [
    "all_states",
    "delete_state",
    "forget_token",
    "get_state",
    "load_token",
    "save_token",
    "set_state",
]


def save_token(session: Session, account: str, token: str, now: datetime) -> None:
    """Store (or replace) the account's token."""
    stmt = sqlite_insert(credentials_table).values(account=account, token=token, updated_at=now)
    session.execute(
        stmt.on_conflict_do_update(
            index_elements=["account"],
            set_={"token": stmt.excluded.token, "updated_at": stmt.excluded.updated_at},
        )
    )


def load_token(session: Session, account: str) -> str | None:
    """The account's token, or None."""
    return session.scalar(select(CredentialRow.token).where(CredentialRow.account == account))


def forget_token(session: Session, account: str) -> bool:
    """Delete the account's token; True if there was one."""
    result = session.execute(
        delete(CredentialRow)
        .where(CredentialRow.account == account)
        .execution_options(synchronize_session=False)
    )
    return bool(getattr(result, "rowcount", 0))


def set_state(session: Session, account: str, key: str, value: Any, now: datetime) -> None:
    """Store a JSON-serialisable value under ``key``."""
    stmt = sqlite_insert(sync_state_table).values(
        account=account, key=key, value=value, updated_at=now
    )
    session.execute(
        stmt.on_conflict_do_update(
            index_elements=["account", "key"],
            set_={"value": stmt.excluded.value, "updated_at": stmt.excluded.updated_at},
        )
    )


def get_state(session: Session, account: str, key: str, default: Any = None) -> Any:
    """The value stored under ``key``, or ``default`` when there is none."""
    row = session.scalars(
        select(SyncStateRow).where(SyncStateRow.account == account, SyncStateRow.key == key)
    ).first()
    return default if row is None else row.value


def all_states(session: Session, account: str) -> dict[str, Any]:
    """Every stored key and value of the account."""
    rows = session.execute(
        select(SyncStateRow.key, SyncStateRow.value).where(SyncStateRow.account == account)
    )
    return {key: value for key, value in rows}


def delete_state(session: Session, account: str, key: str) -> bool:
    """Remove ``key``; True if it was there."""
    result = session.execute(
        delete(SyncStateRow)
        .where(SyncStateRow.account == account, SyncStateRow.key == key)
        .execution_options(synchronize_session=False)
    )
    return bool(getattr(result, "rowcount", 0))
