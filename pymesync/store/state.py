"""Credentials (the login token) and free-form sync state, per account.

The token lives in the ``credentials`` table and nowhere else; nothing here keeps it in
memory or shows it in a ``repr``. Functions work inside a transaction the caller opened
on a DB-API connection.
"""

from __future__ import annotations

import sqlite3
from datetime import datetime
from typing import Any

from .codec import dump_json, format_utc, load_json

__all__ = [
    "all_states",
    "delete_state",
    "forget_token",
    "get_state",
    "load_token",
    "save_token",
    "set_state",
]

_SAVE_TOKEN = (
    "INSERT INTO credentials (account, token, updated_at) VALUES (?, ?, ?) "
    "ON CONFLICT (account) DO UPDATE SET token = excluded.token, updated_at = excluded.updated_at"
)
_SET_STATE = (
    "INSERT INTO sync_state (account, key, value, updated_at) VALUES (?, ?, ?, ?) "
    "ON CONFLICT (account, key) DO UPDATE SET value = excluded.value, "
    "updated_at = excluded.updated_at"
)


def save_token(db: sqlite3.Connection, account: str, token: str, now: datetime) -> None:
    """Store (or replace) the account's token."""
    db.execute(_SAVE_TOKEN, (account, token, format_utc(now)))


def load_token(db: sqlite3.Connection, account: str) -> str | None:
    """The account's token, or None."""
    row = db.execute("SELECT token FROM credentials WHERE account = ?", (account,)).fetchone()
    return None if row is None else str(row[0])


def forget_token(db: sqlite3.Connection, account: str) -> bool:
    """Delete the account's token; True if there was one."""
    return db.execute("DELETE FROM credentials WHERE account = ?", (account,)).rowcount > 0


def set_state(db: sqlite3.Connection, account: str, key: str, value: Any, now: datetime) -> None:
    """Store a JSON-serialisable value under ``key``."""
    text = None if value is None else dump_json(value)
    db.execute(_SET_STATE, (account, key, text, format_utc(now)))


def get_state(db: sqlite3.Connection, account: str, key: str, default: Any = None) -> Any:
    """The value stored under ``key``, or ``default`` when there is none."""
    row = db.execute(
        "SELECT value FROM sync_state WHERE account = ? AND key = ?", (account, key)
    ).fetchone()
    if row is None:
        return default
    return None if row[0] is None else load_json(row[0])


def all_states(db: sqlite3.Connection, account: str) -> dict[str, Any]:
    """Every stored key and value of the account."""
    rows = db.execute("SELECT key, value FROM sync_state WHERE account = ?", (account,))
    return {key: None if value is None else load_json(value) for key, value in rows}


def delete_state(db: sqlite3.Connection, account: str, key: str) -> bool:
    """Remove ``key``; True if it was there."""
    cursor = db.execute("DELETE FROM sync_state WHERE account = ? AND key = ?", (account, key))
    return cursor.rowcount > 0
