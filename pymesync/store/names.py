"""Names for shell completion, read from the local store: project and activity slugs,
usernames, time entry ids and failed operation ids that start with what was typed.

Plain SQL on a DB-API connection (the read-only :class:`~pymesync.store.peek.StorePeek`
runs these), each a range scan of an index with a limit: a completion must answer at
once whatever the size of the cache.
"""

from __future__ import annotations

import sqlite3
from typing import Any

from .codec import load_json

__all__ = ["failed_ops", "slugs", "times", "users"]

_AFTER = "\U0010ffff"  # (appended to a prefix: the end of its range)

_SLUGS = (
    "SELECT t.value, c.payload FROM cache_tags AS t JOIN cache AS c ON c.account = t.account"
    " AND c.entity = t.entity AND c.key = t.key WHERE t.account = ? AND t.entity = ?"
    " AND t.tag_kind = 'slug' AND t.value >= ? AND t.value < ? AND c.deleted = 0"
    " ORDER BY t.value LIMIT ?"
)
_USERS = (
    "SELECT key, payload FROM cache WHERE account = ? AND entity = 'user' AND key >= ?"
    " AND key < ? AND deleted = 0 ORDER BY key LIMIT ?"
)
_TIMES_STARTING = (
    "SELECT key, payload FROM cache WHERE account = ? AND entity = 'time' AND key >= ?"
    " AND key < ? AND deleted = 0 ORDER BY key LIMIT ?"
)
_TIMES_NEWEST = (
    "SELECT key, payload FROM cache WHERE account = ? AND entity = 'time' AND deleted = 0"
    " ORDER BY date_worked DESC, key LIMIT ?"
)
_LOCAL_IDS = (
    "SELECT m.local_id, c.payload FROM id_map AS m JOIN cache AS c ON c.account = m.account"
    " AND c.entity = m.entity AND c.key = m.server_id WHERE m.account = ?"
    " AND m.entity = 'time' AND m.local_id >= ? AND m.local_id < ? AND c.deleted = 0"
    " ORDER BY m.local_id LIMIT ?"
)
_FAILED = (
    "SELECT op_id, kind, entity, target, payload FROM operations WHERE account = ?"
    " AND (state = 'failed' OR state = 'conflict') AND op_id >= ? AND op_id < ?"
    " ORDER BY op_id LIMIT ?"
)


def _payload(text: Any) -> dict[str, Any]:
    value = load_json(text) if isinstance(text, str) else None
    return value if isinstance(value, dict) else {}


def slugs(
    db: sqlite3.Connection, account: str, entity: str, prefix: str, limit: int
) -> list[tuple[str, dict[str, Any]]]:
    """The slugs of cached projects or activities (``entity``) starting with
    ``prefix``, each with its object."""
    rows = db.execute(_SLUGS, (account, entity, prefix, prefix + _AFTER, limit))
    return [(str(slug), _payload(payload)) for slug, payload in rows]


def users(
    db: sqlite3.Connection, account: str, prefix: str, limit: int
) -> list[tuple[str, dict[str, Any]]]:
    """The usernames of cached users starting with ``prefix``."""
    rows = db.execute(_USERS, (account, prefix, prefix + _AFTER, limit))
    return [(str(key), _payload(payload)) for key, payload in rows]


def times(
    db: sqlite3.Connection, account: str, prefix: str, limit: int
) -> list[tuple[str, dict[str, Any]]]:
    """Ids of cached time entries (not deleted) starting with ``prefix`` (the newest
    entries when it is empty), and the local uuids entries were logged under, each
    with its entry."""
    if not prefix:
        rows = list(db.execute(_TIMES_NEWEST, (account, limit)))
    else:
        bounds = (account, prefix, prefix + _AFTER, limit)
        rows = list(db.execute(_TIMES_STARTING, bounds)) + list(db.execute(_LOCAL_IDS, bounds))
    return [(str(key), _payload(payload)) for key, payload in rows]


def failed_ops(
    db: sqlite3.Connection, account: str, prefix: str, limit: int
) -> list[tuple[str, dict[str, Any]]]:
    """The failed (or conflicting) operations whose id starts with ``prefix``: ``(op_id,
    {"kind", "entity", "target", "payload"})``."""
    rows = db.execute(_FAILED, (account, prefix, prefix + _AFTER, limit))
    return [
        (str(op_id), {"kind": kind, "entity": entity, "target": target, "payload": _payload(p)})
        for op_id, kind, entity, target, p in rows
    ]
