"""Undo of the last local change that has not been sent: a journal of changes, kept in
the ``sync_state`` table (no schema change), and the one function that reverts the
newest of them.

Every change queued by :meth:`Store.enqueue <pymesync.store.Store.enqueue>` (``log``,
``edit``, ``rm``) and every stop of a timer (:meth:`Store.stop_timer
<pymesync.store.Store.stop_timer>`: the entries it makes, one per local day, are ONE
change) records, in the same transaction, what it did to the queue and to the cache:

* the queue rows of the object it *added*, *changed* (with the row before and after:
  the queue folds an update into the unsent create or update before it, so the row
  before is the only record of "the previous local state") and *removed* (a delete
  that cancelled an unsent create), and the ids of every queue row of the object
  after it;
* the cache rows it replaced, as they were (None: there was none).

:func:`undo_last` reverts the newest entry when it can still be taken back: every row
it added or changed is still queued as it left it and *unsent* (pending, not leased by
a running sync, with no sign that it may have reached the server), and the object has
no other queued row than it left. Otherwise nothing changes and
:class:`~pymesync.errors.NothingToUndoError` says why (already synced, being sent,
refused by the server, changed since). An entry that was refused stays: undo is about
the LAST change, never an older one behind a change that cannot be taken back.

Writes in batches (:meth:`Store.enqueue_many <pymesync.store.Store.enqueue_many>`:
imports, the library's ``batch()``) record a *barrier*: undo does not revert them, nor
anything before them. The journal keeps the newest :data:`KEEP` entries per account,
under the keys ``undo:<sequence>``. Functions here run inside a transaction the caller
opened on a DB-API connection and never commit.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from pymesync.errors import NothingToUndoError

from . import cache, idmap
from .codec import dump_json, format_utc, load_json
from .columns import QUEUE_COLUMNS, QUEUE_SELECT, QueueRow, insert_head, row_template
from .dbapi import for_update
from .records import CacheObject, EnqueueResult, NewOperation

__all__ = [
    "KEEP",
    "Snapshot",
    "before",
    "remember",
    "remember_barrier",
    "remember_created",
    "undo_last",
]

#: How many journal entries an account keeps (older ones are dropped).
KEEP = 20

_PREFIX = "undo:"
_END = "undo;"  # (the key just after every ``undo:...`` key)
_LAST = (
    "SELECT key, value FROM sync_state WHERE account = ? AND key >= ? AND key < ?"
    " ORDER BY key DESC LIMIT 1"
)
_PUT = "INSERT INTO sync_state (account, key, value, updated_at) VALUES (?, ?, ?, ?)"
_ROWS_FOR = (
    f"SELECT {QUEUE_SELECT} FROM operations WHERE account = ? AND entity = ? AND target = ?"
    " ORDER BY id"
)
_BY_ID = f"SELECT {QUEUE_SELECT} FROM operations WHERE id = ?"
_CACHE_ROW = (
    "SELECT payload, revision, deleted, local, fetched_at FROM cache"
    " WHERE account = ? AND entity = ? AND key = ?"
)
_INSERT_ROW = f"{insert_head('operations', QUEUE_COLUMNS)} VALUES {row_template(QUEUE_COLUMNS)}"
_RESTORE_ROW = (
    f"UPDATE operations SET {', '.join(f'{name} = ?' for name in QUEUE_COLUMNS[1:])} WHERE id = ?"
)
# What a queue row asks of the server: a row is "as the change left it" when these are.
_CONTENT = ("op_id", "kind", "payload", "base_revision")


class Snapshot:
    """What :func:`before` saw of one object before a change: its queue rows and cache
    rows."""

    def __init__(
        self,
        account: str,
        entity: str,
        target: str,
        rows: list[QueueRow],
        cached: dict[str, list[Any] | None],
    ) -> None:
        """Keep what :func:`before` read."""
        self.account, self.entity, self.target = account, entity, target
        self.rows, self.cached = rows, cached


def _rows(db: sqlite3.Connection, account: str, entity: str, target: str) -> list[QueueRow]:
    return [QueueRow._make(row) for row in db.execute(_ROWS_FOR, (account, entity, target))]


def _cached(db: sqlite3.Connection, account: str, entity: str, key: str) -> list[Any] | None:
    row = db.execute(_CACHE_ROW, (account, entity, key)).fetchone()
    return None if row is None else list(row)


def before(db: sqlite3.Connection, op: NewOperation, provisional: CacheObject | None) -> Snapshot:
    """The object's queue rows and cache rows before ``op`` is queued (the names
    resolved through the id map, as :func:`~pymesync.store.queue.enqueue` does)."""
    account, entity = op.account, op.entity
    target = idmap.resolve_id(db, account, entity, op.target)
    keys = [target]
    if provisional is not None and provisional.key != op.target:
        keys.append(idmap.resolve_id(db, account, entity, provisional.key))
    cached = {key: _cached(db, account, entity, key) for key in keys}
    return Snapshot(account, entity, target, _rows(db, account, entity, target), cached)


def _put(db: sqlite3.Connection, account: str, entry: dict[str, Any], now: datetime) -> None:
    """Append ``entry`` to the account's journal and drop the entries beyond
    :data:`KEEP`."""
    last = db.execute(_LAST, (account, _PREFIX, _END)).fetchone()
    seq = 1 if last is None else int(str(last[0])[len(_PREFIX) :]) + 1
    db.execute(_PUT, (account, f"{_PREFIX}{seq:012d}", dump_json(entry), format_utc(now)))
    if seq > KEEP:
        db.execute(
            "DELETE FROM sync_state WHERE account = ? AND key >= ? AND key < ?",
            (account, _PREFIX, f"{_PREFIX}{seq - KEEP + 1:012d}"),
        )


def remember(
    db: sqlite3.Connection, snap: Snapshot, kind: str, result: EnqueueResult, now: datetime
) -> None:
    """Record the change ``kind`` (the operation's kind) that turned ``snap`` into what
    the object has now."""
    del result  # (the rows say everything: the outcome is in them)
    after = _rows(db, snap.account, snap.entity, snap.target)
    old = {row.id: row for row in snap.rows}
    new = {row.id: row for row in after}
    entry = {
        "kind": kind,
        "entity": snap.entity,
        "target": snap.target,
        "added": [list(row) for i, row in new.items() if i not in old],
        "changed": [
            [list(old[i]), list(row)] for i, row in new.items() if i in old and old[i] != row
        ],
        "removed": [list(row) for i, row in old.items() if i not in new],
        "ids": sorted(new),
        "cached": snap.cached,
    }
    _put(db, snap.account, entry, now)


def remember_created(
    db: sqlite3.Connection, account: str, kind: str, results: Sequence[EnqueueResult], now: datetime
) -> None:
    """Record ONE change made of the creates ``results`` (e.g. a timer's stop); a
    barrier when one of them is not a plain append of a create."""
    added: list[list[Any]] = []
    cached: dict[str, list[Any] | None] = {}
    entity = "time"
    for result in results:
        op = result.operation
        if result.outcome != "appended" or op is None or op.kind != "create":
            remember_barrier(db, account, now)
            return
        entity = op.entity
        found = db.execute(_BY_ID, (op.id,)).fetchone()
        if found is None:
            remember_barrier(db, account, now)
            return
        added.append(list(found))
        cached[op.target] = None
    if added:
        entry = {
            "kind": kind,
            "entity": entity,
            "target": added[0][QUEUE_COLUMNS.index("target")],
            "added": added,
            "changed": [],
            "removed": [],
            "ids": None,
            "cached": cached,
        }
        _put(db, account, entry, now)


def remember_barrier(db: sqlite3.Connection, account: str, now: datetime) -> None:
    """Record a change undo does not revert (a batch of writes)."""
    _put(db, account, {"kind": "batch", "barrier": True}, now)


def _what(entry: dict[str, Any]) -> str:
    """``the update of time 1a2b3c4d``: the change an entry records."""
    kind = str(entry.get("kind"))
    if kind == "stop":
        count = len(entry.get("added") or [])
        return f"the stop of a timer ({count} time {'entry' if count == 1 else 'entries'})"
    return f"the {kind} of {entry.get('entity')} {str(entry.get('target'))[:8]}"


def _refuse(entry: dict[str, Any], why: str) -> NothingToUndoError:
    return NothingToUndoError(f"nothing to undo: the last change ({_what(entry)}) {why}")


def _maybe_sent(row: QueueRow) -> bool:
    error = None if row.last_error is None else load_json(row.last_error)
    return bool(isinstance(error, dict) and error.get("maybe_sent"))


def _check(db: sqlite3.Connection, account: str, entry: dict[str, Any]) -> None:
    """Raise NothingToUndoError unless every row the change left is still queued as it
    left it, unsent, and the objects have no other queued rows."""
    left = [QueueRow._make(row) for row in entry["added"]]
    left += [QueueRow._make(after) for _, after in entry["changed"]]
    for was in left:
        # (locked on PostgreSQL, where a claim does not wait for the account's lock: a
        # claimer holding the row is waited for and then seen, one coming later skips it)
        row = db.execute(_BY_ID + for_update(db), (was.id,)).fetchone()
        now = None if row is None else QueueRow._make(row)
        if now is None or now.op_id != was.op_id:
            raise _refuse(entry, "has already been synced")
        if now.lease_owner is not None or now.state == "inflight":
            raise _refuse(entry, "is being sent right now by a sync")
        if now.state in ("failed", "conflict"):
            raise _refuse(entry, f"was sent and is {now.state}: see `pymesync failed list`")
        if _maybe_sent(now):
            raise _refuse(entry, "may have reached the server already")
        if any(getattr(now, name) != getattr(was, name) for name in _CONTENT):
            raise _refuse(entry, "was changed since by another change")
    if entry.get("ids") is not None:
        entity, target = str(entry["entity"]), str(entry["target"])
        ids = [row.id for row in _rows(db, account, entity, target)]
        if ids != list(entry["ids"]):
            raise _refuse(entry, "is no longer the last queued change of that entry")


def undo_last(db: sqlite3.Connection, account: str) -> dict[str, Any]:
    """Revert the account's newest journal entry (see the module); what was undone:
    ``{"kind", "entity", "target", "ids", "restored", "replaced"}`` (``ids``: the
    objects it touched; ``restored``: their cached payloads now, None for an object
    gone or deleted; ``replaced``: what the cache showed before the undo)."""
    last = db.execute(_LAST, (account, _PREFIX, _END)).fetchone()
    if last is None:
        raise NothingToUndoError("nothing to undo: no local change waits to be synced")
    key, entry = str(last[0]), load_json(last[1])
    if not isinstance(entry, dict) or entry.get("barrier"):
        raise NothingToUndoError(
            "nothing to undo: the last change was a batch of writes (an import),"
            " which undo does not revert"
        )
    _check(db, account, entry)
    entity = str(entry["entity"])
    for row in entry["added"]:
        db.execute("DELETE FROM operations WHERE id = ?", (row[0],))
    for before_row, _ in entry["changed"]:
        db.execute(_RESTORE_ROW, (*before_row[1:], before_row[0]))
    for row in entry["removed"]:
        db.execute(_INSERT_ROW, tuple(row))
    restored: dict[str, Any] = {}
    replaced: dict[str, Any] = {}
    for name, was in (entry.get("cached") or {}).items():
        current = _cached(db, account, entity, name)
        replaced[name] = None if current is None else load_json(current[0])
        if was is None:
            cache.remove_object(db, account, entity, name, only_local=True)
            restored[name] = None
            continue
        payload, revision, deleted, local, fetched_at = was
        shown = load_json(payload)
        entry_row = cache.CacheEntry(name, shown, revision, bool(deleted), bool(local))
        cache.put_entries(db, account, entity, [entry_row], str(fetched_at))
        restored[name] = None if deleted else shown
    db.execute("DELETE FROM sync_state WHERE account = ? AND key = ?", (account, key))
    return {
        "kind": entry["kind"],
        "entity": entity,
        "target": entry["target"],
        "ids": sorted(restored) or [entry["target"]],
        "restored": restored,
        "replaced": replaced,
    }
