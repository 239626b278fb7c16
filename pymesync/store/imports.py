"""The keys of imported records (the ``import_keys`` table of migration 0003).

``pymesync import`` gives every record of another tracker's file a stable key
(:mod:`pymesync.importers`) and keeps, per account, each key it imported with the local
uuid of the time entry the record became. Importing the same file again skips the keys
already kept, so nothing is created twice.

A key is written in the SAME transaction as the queued create of its entry
(:meth:`Store.enqueue_imports <pymesync.store.Store.enqueue_imports>`): a process killed
at any moment leaves both or neither, never an entry queued without its key (imported
twice by the next run) nor a key without its entry (lost).

Functions work inside a transaction the caller opened on a DB-API connection (plain SQL,
no SQLAlchemy: the command line uses the store unpooled).
"""

from __future__ import annotations

import itertools
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime

from .codec import format_utc
from .records import CacheObject, NewOperation

__all__ = ["known", "record", "without_taken"]

#: Keys looked up per statement (well under SQLite's limit on bound parameters).
_CHUNK = 500

_INSERT = "INSERT INTO import_keys (account, import_key, local_id, imported_at) VALUES (?, ?, ?, ?)"


def known(db: sqlite3.Connection, account: str, keys: Iterable[str]) -> dict[str, str]:
    """Which of ``keys`` the account has imported already: ``{key: local id}``."""
    found: dict[str, str] = {}
    iterator = iter(keys)
    while chunk := list(itertools.islice(iterator, _CHUNK)):
        marks = ", ".join("?" * len(chunk))
        rows = db.execute(
            "SELECT import_key, local_id FROM import_keys"
            f" WHERE account = ? AND import_key IN ({marks})",
            (account, *chunk),
        )
        found.update((str(key), str(local)) for key, local in rows)
    return found


def record(
    db: sqlite3.Connection, account: str, pairs: Iterable[tuple[str, str]], now: datetime
) -> None:
    """Keep each ``(key, local id)`` of ``pairs`` for the account (a key kept already is
    an ``sqlite3.IntegrityError``: look them up first, in the same transaction)."""
    when = format_utc(now)
    db.executemany(_INSERT, ((account, key, local, when) for key, local in pairs))


def without_taken(
    items: Iterable[tuple[NewOperation, CacheObject | None]],
    pairs: Sequence[tuple[str, str]],
    taken: dict[str, str],
    queued: set[str],
) -> Iterator[tuple[NewOperation, CacheObject | None]]:
    """``items`` without the creates of the entries whose key is in ``taken`` (imported
    by another process meanwhile); the targets of the items handed on are added to
    ``queued``."""
    dropped = {local for key, local in pairs if key in taken}
    for item in items:
        target = item[0].target
        if target in dropped:
            continue
        queued.add(target)
        yield item
