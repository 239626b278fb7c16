"""Local ids of objects created offline, and the server ids they became.

Functions here work inside a transaction the caller opened on a DB-API connection; they
never commit.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable

from .values import select_in

__all__ = ["local_id_for", "local_ids", "local_ids_for", "map_id", "reserve", "resolve_id"]

_RESOLVE = "SELECT server_id FROM id_map WHERE account = ? AND entity = ? AND local_id = ?"
_LOCAL_IDS = "SELECT local_id FROM id_map WHERE account = ? AND entity = ? AND server_id = ?"
_UNMAP_SERVER_ID = (
    "DELETE FROM id_map WHERE account = ? AND entity = ? AND server_id = ? AND local_id != ?"
)
_MAP = (
    "INSERT INTO id_map (account, entity, local_id, server_id) VALUES (?, ?, ?, ?) "
    "ON CONFLICT (account, entity, local_id) DO UPDATE SET server_id = excluded.server_id"
)


def map_id(
    db: sqlite3.Connection, account: str, entity: str, local_id: str, server_id: str
) -> str | None:
    """Record that ``local_id`` is now ``server_id`` on the server (last write wins).

    Returns the other local id that had ``server_id`` and let go of it, if any."""
    if local_id == server_id:
        return None
    # A server id is mapped once at most: usually it is new. (Looked up first rather
    # than caught as a unique violation: on PostgreSQL an error ends the transaction.)
    previous = local_id_for(db, account, entity, server_id)
    if previous is not None and previous != local_id:  # another local id had it: it lets go
        db.execute(_UNMAP_SERVER_ID, (account, entity, server_id, local_id))
        db.execute(_MAP, (account, entity, local_id, server_id))
        return previous
    db.execute(_MAP, (account, entity, local_id, server_id))
    return None


def reserve(
    db: sqlite3.Connection, account: str, entity: str, local_id: str, server_id: str
) -> bool:
    """Claim ``server_id`` for ``local_id`` unless another local id already has it.

    Reconciliation adopts a server object for a create whose answer was lost; two local
    creates must never adopt the same one. Returns True when ``server_id`` is now (or
    already was) ``local_id``'s, False when another local id holds it (the unique index
    on the server id makes this atomic inside the caller's write transaction). A
    different server id ``local_id`` held before is let go.
    """
    if local_id == server_id:
        return True
    holder = local_id_for(db, account, entity, server_id)
    if holder is not None:
        return holder == local_id
    db.execute(_MAP, (account, entity, local_id, server_id))
    return True


def resolve_id(db: sqlite3.Connection, account: str, entity: str, ident: str) -> str:
    """The server id ``ident`` maps to, or ``ident`` itself when it is not a mapped local id."""
    row = db.execute(_RESOLVE, (account, entity, ident)).fetchone()
    return ident if row is None else str(row[0])


def local_id_for(db: sqlite3.Connection, account: str, entity: str, server_id: str) -> str | None:
    """The local id that became ``server_id``, if any."""
    row = db.execute(_LOCAL_IDS, (account, entity, server_id)).fetchone()
    return None if row is None else str(row[0])


def local_ids_for(db: sqlite3.Connection, account: str, entity: str, server_id: str) -> list[str]:
    """Every local id that maps to ``server_id`` (normally zero or one)."""
    return [str(row[0]) for row in db.execute(_LOCAL_IDS, (account, entity, server_id))]


def local_ids(
    db: sqlite3.Connection, account: str, entity: str, server_ids: Iterable[str]
) -> dict[str, str]:
    """server id -> the local id that became it, for those of ``server_ids`` mapped."""
    sql = "SELECT server_id, local_id FROM id_map WHERE account = ? AND entity = ? AND server_id"
    return dict(select_in(db, sql, (account, entity), sorted(set(server_ids))))


def local_ids_starting(
    db: sqlite3.Connection, account: str, entity: str, prefix: str, limit: int
) -> dict[str, str]:
    """Up to ``limit`` local ids that start with ``prefix``, each with the server id it
    became (a range scan, not a read of the whole map)."""
    sql = (
        "SELECT local_id, server_id FROM id_map WHERE account = ? AND entity = ?"
        " AND local_id >= ? AND local_id < ? ORDER BY local_id LIMIT ?"
    )
    rows = db.execute(sql, (account, entity, prefix, prefix + "\U0010ffff", limit))
    return {str(local): str(server) for local, server in rows}
