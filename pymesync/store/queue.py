"""The operation queue: enqueue with coalescing, claim under a lease, ack, fail, retry.

Functions here work inside a transaction the caller (:class:`~pymesync.store.Store`)
opened on a DB-API connection; they never commit. The semantics are documented on the
``Store`` methods.

Every statement touches a bounded number of rows through an index, whatever the length
of the queue: an operation is found by ``op_id`` (unique index), the operations on one
object by ``ix_operations_account_entity_target`` (whose entries end with the row id, so
"the last one" is one index step), the claimable ones in queue order by
``ix_operations_account_state_id``, the backing-off ones by the partial index
``ix_operations_account_next_attempt_at``. Only the listing functions
(:func:`operations`, :func:`pending_rows`) read as many rows as they return.
"""

from __future__ import annotations

import collections
import functools
import itertools
import operator
import sqlite3
import uuid
from collections.abc import Callable, Container, Iterable, Iterator, Sequence
from datetime import datetime, timedelta
from typing import Any

from . import cache, idmap
from .codec import dump_json, format_utc, load_json, parse_utc
from .columns import FRESH, QUEUE_COLUMNS, QUEUE_SELECT, QueueRow, insert_head, row_template
from .dbapi import account_lock, for_update, on_postgres
from .errors import DuplicateOperationError, OperationStateError, UnknownOperationError
from .records import (
    KINDS,
    STATES,
    CacheObject,
    EnqueueResult,
    NewOperation,
    Operation,
    OpKind,
    OpState,
    QueueSummary,
)
from .values import insert_rows
from .writer import Writer, worth_a_thread

__all__ = [
    "ack",
    "ack_many",
    "claim",
    "counts",
    "discard",
    "enqueue",
    "enqueue_many",
    "expedite",
    "fail",
    "get_operation",
    "get_row",
    "operations",
    "ops_for",
    "pending_rows",
    "pending_targets",
    "release",
    "retry",
    "summary",
    "to_record",
]

_KINDS: dict[str, OpKind] = {kind: kind for kind in KINDS}
_STATES: dict[str, OpState] = {state: state for state in STATES}

_BY_OP_ID = f"SELECT {QUEUE_SELECT} FROM operations WHERE op_id = ?"
_TARGET_OF = "SELECT account, entity, target FROM operations WHERE op_id = ?"
# (PostgreSQL: the accounts of a list of op_ids, in lock order)
_ACCOUNTS_OF = "SELECT DISTINCT account FROM operations WHERE op_id = ANY(?) ORDER BY account"
_ANY_FOR_TARGET = "SELECT 1 FROM operations WHERE account = ? AND entity = ? AND target = ? LIMIT 1"
_LAST_FOR_TARGET = (
    f"SELECT {QUEUE_SELECT} FROM operations WHERE account = ? AND entity = ? AND target = ?"
    " ORDER BY id DESC LIMIT 1"
)


def _getter(columns: Iterable[str]) -> Callable[[QueueRow], tuple[Any, ...]]:
    """The values of ``columns`` of a row, in table (:data:`QUEUE_COLUMNS`) order
    whatever the order of ``columns`` (two at least)."""
    wanted = set(columns)
    return operator.itemgetter(*(i for i, name in enumerate(QUEUE_COLUMNS) if name in wanted))


# A new operation's row: every column, with literals for the FRESH ones (pending, never
# tried); the parameters are the other columns of a QueueRow, in table order. One
# statement appends with a queue id of SQLite's choosing (enqueue), one with ours
# (the rows enqueue_many writes many to a statement).
_INSERT_HEAD = insert_head("operations", QUEUE_COLUMNS)
_INSERT = f"{_INSERT_HEAD} VALUES {row_template(QUEUE_COLUMNS, {**FRESH, 'id': None})}"
_insert_values = _getter(name for name in QUEUE_COLUMNS if name not in FRESH and name != "id")
# (PostgreSQL takes the id from the table's sequence: the column is left out)
_INSERT_PG = (
    f"{insert_head('operations', QUEUE_COLUMNS[1:])}"
    f" VALUES {row_template(QUEUE_COLUMNS[1:], FRESH)} RETURNING id"
)
_INSERT_WITH_ID_ROW = row_template(QUEUE_COLUMNS, FRESH)
_insert_with_id_values = _getter(name for name in QUEUE_COLUMNS if name not in FRESH)
# Claimable, in queue order, with no earlier queued operation on the same object. The
# pending ones are walked in id order along ix_operations_account_state_id; the inflight
# ones (few: only leased operations) are checked for an expired lease.
_NOT_BLOCKED = (
    " AND NOT EXISTS (SELECT 1 FROM operations AS e WHERE e.account = o.account"
    " AND e.entity = o.entity AND e.target = o.target AND e.id < o.id)"
)
_CLAIMABLE_PENDING = (
    f"SELECT {QUEUE_SELECT} FROM operations AS o WHERE o.account = ? AND o.state = 'pending'"
    " AND (o.next_attempt_at IS NULL OR o.next_attempt_at <= ?)"
    f"{_NOT_BLOCKED} ORDER BY o.id LIMIT ?"
)
_CLAIMABLE_EXPIRED = (
    f"SELECT {QUEUE_SELECT} FROM operations AS o WHERE o.account = ? AND o.state = 'inflight'"
    f" AND o.lease_expires_at <= ?{_NOT_BLOCKED} ORDER BY o.id LIMIT ?"
)
_SKIP_LOCKED = " FOR UPDATE OF o SKIP LOCKED"
_LEASE = (
    "UPDATE operations SET state = 'inflight', lease_owner = ?, lease_expires_at = ?,"
    " first_sent_at = coalesce(first_sent_at, ?), updated_at = ?, attempts = attempts + ?"
    " WHERE id = ?"
)
# What changes as an operation goes through its states (the FRESH columns, and when),
# in table order (the order of the getter's values).
_STATE_COLUMNS = tuple(name for name in QUEUE_COLUMNS if name in FRESH or name == "updated_at")
_ROW_STATE = (
    f"UPDATE operations SET {', '.join(f'{name} = ?' for name in _STATE_COLUMNS)} WHERE id = ?"
)
_row_state_values = _getter(_STATE_COLUMNS)
_make_row = QueueRow._make


def _one(db: sqlite3.Connection, sql: str, params: Sequence[Any]) -> QueueRow | None:
    """The first row of a SELECT of :data:`QUEUE_SELECT`, or None."""
    row = db.execute(sql, params).fetchone()
    return None if row is None else _make_row(row)


def _rows(db: sqlite3.Connection, sql: str, params: Sequence[Any]) -> list[QueueRow]:
    """The rows of a SELECT of :data:`QUEUE_SELECT`."""
    return list(map(_make_row, db.execute(sql, params)))


def _kind(value: str) -> OpKind:
    kind = _KINDS.get(value)
    if kind is None:
        raise ValueError(f"unknown operation kind {value!r}")
    return kind


def _state(value: str) -> OpState:
    state = _STATES.get(value)
    if state is None:
        raise ValueError(f"unknown operation state {value!r}")
    return state


def _time(text: str | None) -> datetime | None:
    return None if text is None else parse_utc(text)


def to_record(
    row: QueueRow,
    *,
    outcome_unknown: bool = False,
    parse: Callable[[str], datetime] = parse_utc,
) -> Operation:
    """The frozen record for a queue row; ``parse`` reads its times (e.g. one
    remembering the texts it has read: rows read together share most of them)."""
    payload, last_error = row.payload, row.last_error
    return Operation(
        id=row.id,
        op_id=row.op_id,
        account=row.account,
        kind=_kind(row.kind),
        entity=cache.check_entity(row.entity),
        target=row.target,
        payload=None if payload is None else load_json(payload),
        base_revision=row.base_revision,
        state=_state(row.state),
        attempts=row.attempts,
        next_attempt_at=None if row.next_attempt_at is None else parse(row.next_attempt_at),
        last_error=None if last_error is None else load_json(last_error),
        created_at=parse(row.created_at),
        updated_at=parse(row.updated_at),
        first_sent_at=None if row.first_sent_at is None else parse(row.first_sent_at),
        lease_owner=row.lease_owner,
        lease_expires_at=None if row.lease_expires_at is None else parse(row.lease_expires_at),
        outcome_unknown=outcome_unknown,
    )


def _new_row(
    op: NewOperation, target: str, payload: str | None, now_text: str, queue_id: int = 0
) -> QueueRow:
    """The row of ``op``, newly queued as ``queue_id`` (0: SQLite gives it one)."""
    return QueueRow(
        id=queue_id,
        op_id=op.op_id,
        account=op.account,
        kind=op.kind,
        entity=op.entity,
        target=target,
        payload=payload,
        base_revision=op.base_revision,
        created_at=now_text,
        updated_at=now_text,
        **FRESH,
    )


def _appended(row: QueueRow, payload: dict[str, Any] | None, now: datetime) -> EnqueueResult:
    """The result of appending the new ``row`` (:func:`_new_row`, with its queue id):
    its record, with the payload and time it was made from."""
    fields = row._asdict()
    fields.update(payload=payload, created_at=now, updated_at=now)
    return EnqueueResult(outcome="appended", operation=Operation(**fields))


def get_row(db: sqlite3.Connection, op_id: str) -> QueueRow:
    """The queue row with ``op_id``, or :class:`UnknownOperationError`; for a write
    transaction that changes it (locked on PostgreSQL: see :func:`~.dbapi.for_update`)."""
    row = _one(db, _BY_OP_ID + for_update(db), (op_id,))
    if row is None:
        raise UnknownOperationError(f"No queued operation has op_id {op_id!r}")
    return row


def get_operation(db: sqlite3.Connection, op_id: str) -> Operation | None:
    """The queued operation with ``op_id``, or None."""
    row = _one(db, _BY_OP_ID, (op_id,))
    return None if row is None else to_record(row)


def _validate(op: NewOperation) -> None:
    _kind(op.kind)
    cache.check_entity(op.entity)
    if not op.account or not op.target or not op.op_id:
        raise ValueError("an operation needs an account, a target and an op_id")
    if op.kind == "delete":
        if op.payload is not None:
            raise ValueError("a delete operation carries no payload")
    elif not isinstance(op.payload, dict):
        raise ValueError(f"a {op.kind} operation needs a payload dict")


def _maybe_sent(last_error: str | None) -> bool:
    """Whether the operation may already have been carried out by the server."""
    if last_error is None:
        return False
    error = load_json(last_error)
    return bool(isinstance(error, dict) and error.get("maybe_sent"))


def _changed(row: QueueRow, now_text: str, **changes: Any) -> QueueRow:
    """``row`` with some columns replaced (by name) and ``updated_at`` = now."""
    return row._replace(updated_at=now_text, **changes)


def enqueue(
    db: sqlite3.Connection,
    op: NewOperation,
    provisional: CacheObject | None,
    now: datetime,
    now_text: str | None = None,
) -> EnqueueResult:
    """Queue ``op``, coalescing with the target's unsent operation (see Store.enqueue).

    Statements: the op_id check, the id-map lookup, the last operation on the object,
    then one INSERT (or UPDATE, or DELETE when cancelling), then the provisional object's
    upsert and its tag rows.
    """
    _validate(op)
    if now_text is None:
        now_text = format_utc(now)
    account, entity = op.account, op.entity
    if db.execute("SELECT 1 FROM operations WHERE op_id = ?", (op.op_id,)).fetchone():
        raise DuplicateOperationError(f"An operation with op_id {op.op_id!r} is already queued")
    target = idmap.resolve_id(db, account, entity, op.target)
    last = _one(db, _LAST_FOR_TARGET + for_update(db), (account, entity, target))
    result: EnqueueResult | None = None
    refused = None if last is None else _refused_chain(db, last)
    if refused is not None:
        # The object's operations start with one the server refused for good: the user's
        # change folds into it and it is queued again (a fresh try), instead of waiting
        # behind it for ever.
        result = _requeue(db, refused, op, now_text)
        if result is not None and result.outcome == "cancelled":
            cache.remove_object(db, account, entity, target, only_local=True)
            return result
    # Only an operation that cannot have reached the server may change: never handed to
    # a sender, or handed back with an error saying nothing was carried out. One that
    # may have been carried out (a lost response: ``last_error["maybe_sent"]``) keeps
    # its payload, which reconciliation looks for on the server.
    if result is None and last is not None and _unsent(last):
        last_kind = last.kind
        base = last.base_revision
        if op.kind == "update" and last_kind in ("create", "update"):
            old = load_json(last.payload) if last.payload is not None else {}
            merged = {**(old or {}), **(op.payload or {})}
            if last_kind == "update" and base is None:
                base = op.base_revision
            text = dump_json(merged)
            db.execute(
                "UPDATE operations SET payload = ?, base_revision = ?, updated_at = ? WHERE id = ?",
                (text, base, now_text, last.id),
            )
            row = _changed(last, now_text, payload=text, base_revision=base)
            result = EnqueueResult(outcome="merged", operation=to_record(row))
        elif op.kind == "delete" and last_kind == "create" and last.first_sent_at is None:
            db.execute("DELETE FROM operations WHERE id = ?", (last.id,))
            cache.remove_object(db, account, entity, target, only_local=True)
            return EnqueueResult(outcome="cancelled", operation=None, removed=(last.op_id,))
        elif op.kind == "delete" and last_kind == "update":
            if base is None:
                base = op.base_revision
            db.execute(
                "UPDATE operations SET kind = 'delete', payload = NULL, base_revision = ?,"
                " updated_at = ? WHERE id = ?",
                (base, now_text, last.id),
            )
            row = _changed(last, now_text, kind="delete", payload=None, base_revision=base)
            result = EnqueueResult(outcome="merged", operation=to_record(row))
    if result is None:
        payload = None if op.payload is None else dict(op.payload)
        row = _new_row(op, target, None if payload is None else dump_json(payload), now_text)
        if on_postgres(db):
            new_id = db.execute(_INSERT_PG, _insert_values(row)).fetchone()[0]
        else:
            new_id = db.execute(_INSERT, _insert_values(row)).lastrowid
        result = _appended(row._replace(id=int(new_id or 0)), payload, now)
    if provisional is not None:
        if provisional.account != account or provisional.entity != entity:
            raise ValueError("the provisional object must belong to the operation's account/entity")
        key = (
            target
            if provisional.key == op.target
            else idmap.resolve_id(db, account, entity, provisional.key)
        )
        entry = cache.CacheEntry(
            key=key,
            payload=provisional.payload,
            revision=provisional.revision,
            deleted=provisional.deleted,
            local=True,
        )
        cache.put_entries(db, account, entity, (entry,), now_text)
    return result


_FIRST_FOR_TARGET = (
    f"SELECT {QUEUE_SELECT} FROM operations WHERE account = ? AND entity = ? AND target = ?"
    " ORDER BY id LIMIT 1"
)
_ALL_FOR_TARGET = (
    f"SELECT {QUEUE_SELECT} FROM operations WHERE account = ? AND entity = ? AND target = ?"
    " ORDER BY id"
)


def _refused(row: QueueRow) -> bool:
    """Whether the server refused the operation for good, so that it did not carry it
    out: failed (not a conflict) with the server's 4xx answer, and no sign that it may
    have been carried out. An operation failed by a local error (no status: the sync
    could not handle it, perhaps after the server had carried it out) is not."""
    if row.state != "failed" or row.last_error is None:
        return False
    error = load_json(row.last_error)
    status = error.get("status") if isinstance(error, dict) else None
    return isinstance(status, int) and 400 <= status < 500 and not _maybe_sent(row.last_error)


def _unsent(row: QueueRow) -> bool:
    """Whether the operation cannot have reached the server (see :func:`enqueue`)."""
    return row.state == "pending" and row.lease_owner is None and not _maybe_sent(row.last_error)


def _refused_chain(db: sqlite3.Connection, last: QueueRow) -> list[QueueRow] | None:
    """The object's operations when the first was refused for good and every later one
    (queued behind it, so blocked) is unsent; None otherwise. ``last`` is the last one."""
    if _refused(last):
        return [last]
    if not _unsent(last):
        return None
    names = (last.account, last.entity, last.target)
    first = _one(db, _FIRST_FOR_TARGET, names)
    if first is None or first.id == last.id or not _refused(first):
        return None
    rows = _rows(db, _ALL_FOR_TARGET, names)
    return rows if all(_unsent(row) for row in rows[1:]) else None


#: An operation as ``(kind, payload, base_revision)``.
_Folded = tuple[str, dict[str, Any] | None, int | None]


class _CannotFold(Exception):
    """Two operations on one object that cannot become one."""


def _fold(first: _Folded, second: _Folded) -> _Folded | None:
    """The one operation ``first`` then ``second`` amount to (the rules of
    :func:`enqueue`); None when nothing is left to send."""
    kind, payload, base = first
    new_kind, new_payload, new_base = second
    if kind in ("create", "update") and new_kind == "update":
        merged = {**(payload or {}), **(new_payload or {})}
        return kind, merged, new_base if kind == "update" and base is None else base
    if kind == "create" and new_kind == "delete":
        return None  # an object the server never created: nothing to send
    if kind in ("update", "delete") and new_kind == "delete":
        return "delete", None, new_base if base is None else base
    raise _CannotFold


def _requeue(
    db: sqlite3.Connection, rows: list[QueueRow], op: NewOperation, now_text: str
) -> EnqueueResult | None:
    """Fold ``rows`` (a refused operation and the unsent ones behind it) and ``op`` into
    the refused one and queue it again as never tried; None when they cannot be folded.

    Outcome ``"merged"`` (the later rows leave the queue), or ``"cancelled"`` when a
    delete undoes a refused create (every row leaves the queue)."""
    head, *later = [
        (row.kind, None if row.payload is None else load_json(row.payload), row.base_revision)
        for row in rows
    ]
    folded: _Folded | None = head
    try:
        for step in [*later, (op.kind, op.payload, op.base_revision)]:
            if folded is None:
                break  # a delete undid the create: whatever came after it is moot
            folded = _fold(folded, step)
    except _CannotFold:
        return None
    ids = [(row.id,) for row in rows]
    if folded is None:
        db.executemany("DELETE FROM operations WHERE id = ?", ids)
        return EnqueueResult(
            outcome="cancelled", operation=None, removed=tuple(row.op_id for row in rows)
        )
    db.executemany("DELETE FROM operations WHERE id = ?", ids[1:])
    kind, payload, base = folded
    text = None if payload is None else dump_json(payload)
    changed = _changed(rows[0], now_text, kind=kind, payload=text, base_revision=base, **FRESH)
    db.execute(
        "UPDATE operations SET kind = ?, payload = ?, base_revision = ? WHERE id = ?",
        (kind, text, base, changed.id),
    )
    _store_state(db, changed)
    return EnqueueResult(
        outcome="merged",
        operation=to_record(changed),
        removed=tuple(row.op_id for row in rows[1:]),
    )


#: Items of :func:`enqueue_many` looked up together (well under SQLite's oldest
#: 999-variable limit).
_BATCH = 400

Name = tuple[str, str, str]  # (account, entity, target or key)


def _marks(count: int) -> str:
    return ", ".join("?" * count)


class _Batch:
    """:func:`enqueue_many` for one chunk of items: what :func:`enqueue` would do for
    each, with the lookups made once for the chunk and the plain appends written
    together.

    For the chunk, three IN-queries find the op_ids already queued, the id-map
    resolutions, the objects that already have queued operations and the cache keys
    that already exist. An item on an object with no queued operation (none in the
    database, none earlier in the chunk) can only be appended: its row (with the next
    queue id) and its provisional object are buffered. Any other item (it may coalesce)
    first writes the buffer out, then goes through :func:`enqueue` itself, on an
    up-to-date database. Later chunks look things up again, after the buffer is written.

    With a :class:`~pymesync.store.writer.Writer` (``writer``), the buffer is written in
    its thread while the next chunk is prepared here; anything here that reads or
    writes the database itself first waits for it (:meth:`settle`). A chunk of new ids
    only (``new_ids``) needs no lookup, so its rows are made while the chunk before is
    being written.
    """

    def __init__(
        self,
        db: sqlite3.Connection,
        now: datetime,
        now_text: str,
        new_ids: Container[str] = (),
    ) -> None:
        self.db, self.now, self.now_text = db, now, now_text
        self.new_ids = new_ids
        #: On PostgreSQL, queue ids are drawn from the table's sequence (writers of
        #: other accounts append at the same time), a few hundred at a time; on SQLite
        #: (one writer) they follow the highest one.
        self.postgres = on_postgres(db)
        self.drawn: collections.deque[int] = collections.deque()
        self.locked: set[str] = set()
        self.next_id = 0
        if not self.postgres:
            row = db.execute(
                "SELECT max(coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'operations'),"
                " 0), coalesce((SELECT max(id) FROM operations), 0))"
            ).fetchone()
            self.next_id = int(row[0]) + 1
        self.ops: list[tuple[Any, ...]] = []
        self.rows: list[Sequence[Any]] = []
        self.stale: list[cache.TagRow] = []
        self.fresh: list[cache.TagRow] = []
        self.buffered_keys: set[Name] = set()
        self.writer: Writer | None = None
        #: Those of ``new_ids`` that items of earlier chunks used: the database may
        #: know them now, so they are looked up like any other.
        self.used: set[str] = set()

    def new_id(self) -> int:
        """The queue id of the next appended operation."""
        if not self.postgres:
            self.next_id += 1
            return self.next_id - 1
        if not self.drawn:
            self.drawn.extend(
                int(row[0])
                for row in self.db.execute(
                    "SELECT nextval(pg_get_serial_sequence('operations', 'id'))"
                    " FROM generate_series(1, ?) ORDER BY 1",
                    (_BATCH,),
                )
            )
        return self.drawn.popleft()

    def settle(self) -> None:
        """Wait until the buffers handed to the writer are written (see the class)."""
        if self.writer is not None:
            self.writer.settle()

    def prefetch(self, chunk: Sequence[tuple[NewOperation, CacheObject | None]]) -> None:
        """Look up, for the whole chunk, what each :func:`enqueue` would look up."""
        db, new_ids, used = self.db, self.new_ids, self.used
        if self.postgres:  # (the writes of each account, one transaction at a time)
            for account in sorted({op.account for op, _ in chunk} - self.locked):
                if isinstance(account, str):
                    account_lock(db, account)
                    self.locked.add(account)
                    # (ids drawn before: that account's writers may have queued later
                    # ones meanwhile, which must stay after this call's)
                    self.drawn.clear()
        op_ids = [op.op_id for op, _ in chunk if isinstance(op.op_id, str)]
        if new_ids:
            op_ids = [op_id for op_id in op_ids if op_id not in new_ids or op_id in used]
        if op_ids:
            self.settle()
        self.queued_ids = (
            {
                row[0]
                for row in db.execute(
                    f"SELECT op_id FROM operations WHERE op_id IN ({_marks(len(op_ids))})", op_ids
                )
            }
            if op_ids
            else set()
        )
        self.added_ids: set[str] = set()
        self.removed_ids: set[str] = set()
        names: dict[tuple[str, str], set[str]] = {}
        for op, provisional in chunk:
            if isinstance(op.account, str) and isinstance(op.entity, str):
                wanted: set[str] | None = None
                if op.target not in new_ids or op.target in used:
                    wanted = names.setdefault((op.account, op.entity), set())
                    wanted.add(op.target)
                if provisional is not None and (
                    provisional.key not in new_ids or provisional.key in used
                ):
                    if wanted is None:
                        wanted = names.setdefault((op.account, op.entity), set())
                    wanted.add(provisional.key)
        if names:
            self.settle()
        self.resolved: dict[Name, str] = {}
        for (account, entity), idents in names.items():
            ordered = sorted(i for i in idents if isinstance(i, str))
            for local_id, server_id in db.execute(
                "SELECT local_id, server_id FROM id_map WHERE account = ? AND entity = ?"
                f" AND local_id IN ({_marks(len(ordered))})",
                (account, entity, *ordered),
            ):
                self.resolved[(account, entity, local_id)] = server_id
        # Objects (targets) with queued operations, and the tags of the keys already
        # cached: the same names, resolved. After an item went through enqueue itself,
        # the tags of its key are not known here any more (``unknown``).
        self.busy: set[Name] = set()
        self.old: dict[Name, str | list[cache.TagRow]] = {}
        self.unknown: set[Name] = set()
        for (account, entity), idents in names.items():
            ordered = sorted(
                {self.resolved.get((account, entity, i), i) for i in idents if isinstance(i, str)}
            )
            params = (account, entity, *ordered)
            marks = _marks(len(ordered))
            for (target,) in db.execute(
                "SELECT DISTINCT target FROM operations WHERE account = ? AND entity = ?"
                f" AND target IN ({marks})",
                params,
            ):
                self.busy.add((account, entity, target))
            for key, payload in db.execute(
                "SELECT key, payload FROM cache WHERE account = ? AND entity = ?"
                f" AND key IN ({marks})",
                params,
            ):
                self.old[(account, entity, key)] = payload  # decoded when needed
        if new_ids:
            for op, provisional in chunk:
                for ident in (
                    op.op_id,
                    op.target,
                    None if provisional is None else provisional.key,
                ):
                    if isinstance(ident, str) and ident in new_ids:
                        used.add(ident)

    def add(self, op: NewOperation, provisional: CacheObject | None) -> EnqueueResult:
        """Queue one item (see the class)."""
        _validate(op)
        account, entity = op.account, op.entity
        if op.op_id in self.added_ids or (
            op.op_id in self.queued_ids and op.op_id not in self.removed_ids
        ):
            raise DuplicateOperationError(f"An operation with op_id {op.op_id!r} is already queued")
        target = self.resolved.get((account, entity, op.target), op.target)
        name = (account, entity, target)
        key_name: Name | None = None
        odd = False  # a provisional object of another account or entity
        if provisional is not None:
            odd = provisional.account != account or provisional.entity != entity
            key = self.resolved.get((account, entity, provisional.key), provisional.key)
            key_name = (account, entity, key)
        if (
            odd
            or name in self.busy
            or (
                key_name is not None
                and (key_name in self.buffered_keys or key_name in self.unknown)
            )
        ):
            # (enqueue raises for the odd provisional object, unless the item cancels)
            return self._one_by_one(op, provisional, name, key_name)
        payload = None if op.payload is None else dict(op.payload)
        text = None if payload is None else dump_json(payload)
        row = _new_row(op, target, text, self.now_text, self.new_id())
        self.ops.append(_insert_with_id_values(row))
        result = _appended(row, payload, self.now)
        self.added_ids.add(op.op_id)
        self.busy.add(name)
        if provisional is not None and key_name is not None:
            key, shown = key_name[2], provisional.payload
            self.rows.append(
                cache.row_values(
                    account,
                    entity,
                    key,
                    shown,
                    provisional.revision,
                    provisional.deleted,
                    True,
                    self.now_text,
                )
            )
            new_tags = cache.tag_rows(account, entity, key, shown)
            old = self.old.get(key_name)
            if old is None:
                self.fresh += new_tags
            else:
                if isinstance(old, str):
                    old = cache.tag_rows(account, entity, key, load_json(old))
                cache.tag_changes(old, new_tags, self.stale, self.fresh)
            self.old[key_name] = new_tags
            self.buffered_keys.add(key_name)
        return result

    def _one_by_one(
        self, op: NewOperation, provisional: CacheObject | None, name: Name, key: Name | None
    ) -> EnqueueResult:
        self.flush()
        self.settle()
        result = enqueue(self.db, op, provisional, self.now, self.now_text)
        if result.outcome == "appended" and result.operation is not None:
            self.added_ids.add(op.op_id)
            self.next_id = max(self.next_id, result.operation.id + 1)
            self.drawn.clear()  # (drawn before that one's: they would go before it)
        for removed in result.removed:
            self.added_ids.discard(removed)
            self.removed_ids.add(removed)
        self.busy.add(name)  # whatever happened, the next item on it goes this way too
        # enqueue may have written or removed the objects under both names
        self.unknown.add(name)
        if key is not None:
            self.unknown.add(key)
        return result

    def flush(self) -> None:
        """Write the buffered appends and provisional objects (in the writer's thread
        when there is one)."""
        if self.ops or self.rows:
            buffers = (self.ops, self.rows, self.stale, self.fresh)
            self.ops, self.rows, self.stale, self.fresh = [], [], [], []
            if self.writer is None:
                _write(self.db, *buffers)
            else:
                self.writer.submit(_write, self.db, *buffers)
        self.buffered_keys.clear()

    def close(self) -> BaseException | None:
        """End the writer's thread (see :meth:`Writer.close
        <pymesync.store.writer.Writer.close>`)."""
        writer, self.writer = self.writer, None
        return None if writer is None else writer.close()


def _write(
    db: sqlite3.Connection,
    ops: list[tuple[Any, ...]],
    rows: list[Sequence[Any]],
    stale: list[cache.TagRow],
    fresh: list[cache.TagRow],
) -> None:
    """Write the rows :class:`_Batch` buffered."""
    if ops:
        insert_rows(db, _INSERT_HEAD, _INSERT_WITH_ID_ROW, ops)
    if rows:
        cache.write_rows(db, rows, stale, fresh)


#: Whether :func:`enqueue_many` writes in a second thread (see :class:`_Batch`); None:
#: when the process may run on two CPUs (:func:`~pymesync.store.writer.worth_a_thread`).
PIPELINE: bool | None = None


def enqueue_many(
    db: sqlite3.Connection,
    items: Iterable[tuple[NewOperation, CacheObject | None]],
    now: datetime,
    new_ids: Container[str] = (),
) -> list[EnqueueResult]:
    """Queue every ``(op, provisional)`` in order, with the outcome :func:`enqueue` would
    have for each one by one (see :class:`_Batch`). ``items`` is read a chunk at a time.
    The ids in ``new_ids`` (op_ids, targets, keys) are not looked up (see
    :meth:`Store.enqueue_many <pymesync.store.Store.enqueue_many>`)."""
    batch = _Batch(db, now, format_utc(now), new_ids)
    results: list[EnqueueResult] = []
    iterator = iter(items)
    pipeline = worth_a_thread() if PIPELINE is None else PIPELINE
    pipeline = pipeline and not batch.postgres  # (the thread overlaps SQLite's work)
    try:
        while chunk := list(itertools.islice(iterator, _BATCH)):
            batch.prefetch(chunk)
            results += [batch.add(op, provisional) for op, provisional in chunk]
            if pipeline and batch.writer is None and len(chunk) == _BATCH:
                batch.writer = Writer("pymesync-enqueue-many")  # more may follow
            batch.flush()
        batch.settle()
    except BaseException:
        # The writer's error came first (it would have been raised at its flush).
        error = batch.close()
        if error is not None:
            raise error  # noqa: B904 - the caller's error stays as its __context__
        raise
    batch.close()
    return results


def pending_statement(account: str, now: datetime | None) -> tuple[str, tuple[Any, ...]]:
    """The SELECT behind Store.pending: pending (unleased) ops in queue order."""
    sql = f"SELECT {QUEUE_SELECT} FROM operations WHERE account = ? AND state = 'pending'"
    if now is None:
        return sql + " ORDER BY id", (account,)
    sql += " AND (next_attempt_at IS NULL OR next_attempt_at <= ?) ORDER BY id"
    return sql, (account, format_utc(now))


def pending_rows(cursor: sqlite3.Cursor, batch: int = 200) -> Iterator[Operation]:
    """Records of the rows of an executed :func:`pending_statement`, fetched ``batch`` at
    a time."""
    while True:
        rows = cursor.fetchmany(batch)
        if not rows:
            return
        for row in rows:
            yield to_record(_make_row(row))


def claim(
    db: sqlite3.Connection,
    account: str,
    owner: str,
    lease_seconds: float,
    now: datetime,
    limit: int,
) -> list[Operation]:
    """Lease the oldest claimable operations to ``owner`` (see Store.claim)."""
    if limit < 1:
        return []
    if lease_seconds <= 0:
        raise ValueError("lease_seconds must be positive")
    now_text = format_utc(now)
    params = (account, now_text, limit)
    # On PostgreSQL claimers run side by side: each locks the rows it takes and skips
    # those another one (or a writer) holds (on SQLite one write runs at a time).
    lock = _SKIP_LOCKED if on_postgres(db) else ""
    rows = _rows(db, _CLAIMABLE_PENDING + lock, params)
    expired = _rows(db, _CLAIMABLE_EXPIRED + lock, params)
    if expired:
        rows = sorted([*rows, *expired], key=lambda row: row.id)[:limit]
    # (last_error, id) of the claimed operations whose previous sender vanished
    vanished: list[tuple[str, Any]] = []
    expires = now + timedelta(seconds=lease_seconds)
    expires_text = format_utc(expires)
    parse = functools.lru_cache(maxsize=64)(parse_utc)  # the claim's rows share times
    claimed: list[Operation] = []
    updates = []
    for row in rows:
        # An expired lease: the previous holder may have sent it before vanishing, so
        # that attempt counts.
        was_inflight = row.state == "inflight"
        extra = 1 if was_inflight else 0
        updates.append((owner, expires_text, now_text, now_text, extra, row.id))
        last_error = row.last_error
        if was_inflight:  # what the vanished sender may have done, kept for the next
            last_error = _vanished(row)
            vanished.append((last_error, row.id))
        leased = _changed(
            row,
            now_text,
            state="inflight",
            lease_owner=owner,
            lease_expires_at=expires_text,
            first_sent_at=row.first_sent_at or now_text,
            attempts=row.attempts + extra,
            last_error=last_error,
        )
        claimed.append(to_record(leased, outcome_unknown=was_inflight, parse=parse))
    if updates:
        db.executemany(_LEASE, updates)
    if vanished:
        db.executemany("UPDATE operations SET last_error = ? WHERE id = ?", vanished)
    return claimed


def _vanished(row: QueueRow) -> str:
    """``last_error`` of an operation whose sender's lease ran out: it may have been
    sent (``maybe_sent``), and any request of it was over when the lease ended
    (``lease_expired_at``, so the next sender knows how long to wait before looking)."""
    last = load_json(row.last_error) if row.last_error else None
    record = dict(last) if isinstance(last, dict) else {"status": None, "body": None}
    record.setdefault("message", "the sender stopped before recording the outcome")
    record.update(maybe_sent=True, lease_expired_at=row.lease_expires_at)
    return dump_json(record)


def lock_account_of(db: sqlite3.Connection, op_id: str) -> None:
    """On PostgreSQL, take the lock of the account of the queued operation ``op_id``
    (see :func:`~.dbapi.account_lock`) before changing what else it touches; nothing
    when it is not queued, and nothing on SQLite."""
    if on_postgres(db):
        row = db.execute(_TARGET_OF, (op_id,)).fetchone()
        if row is not None:
            account_lock(db, str(row[0]))


def ack(
    db: sqlite3.Connection,
    op_id: str,
    server_object: dict[str, Any] | None,
    server_key: str | None,
    now: datetime,
) -> None:
    """Finish an operation the server accepted (see Store.ack)."""
    lock_account_of(db, op_id)
    taken = _take(db, op_id)
    if taken is None:
        raise UnknownOperationError(f"No queued operation has op_id {op_id!r}")
    _acked(db, taken, server_object, server_key, now)


def _reopen(
    db: sqlite3.Connection,
    taken: QueueRow,
    holder: str,
    server_object: dict[str, Any] | None,
    now: datetime,
) -> None:
    """A create made by its own request took its server object back from ``holder``,
    another local create of ours that had adopted it (it looked for its own lost answer
    while this one was being made, e.g. from another process). Unless ``holder``'s own
    create is still queued (then its ack is refused and it looks again), it is queued
    again, as "may have been sent", to look for its own object once more or be sent:
    nothing silently shares one server object."""
    account, entity = taken.account, taken.entity
    if db.execute(_ANY_FOR_TARGET, (account, entity, holder)).fetchone() is not None:
        return
    provisional = None
    if server_object is not None:
        payload = {**server_object, "uuid": holder}
        provisional = CacheObject(account, entity, holder, payload, None, False, now, True)  # type: ignore[arg-type]
    # (its op_id follows from what happened, so that acking one by one and together
    # leave the same queue)
    op_id = str(
        uuid.uuid5(uuid.NAMESPACE_URL, f"reopen|{account}|{entity}|{holder}|{taken.target}")
    )
    again = NewOperation(account, "create", entity, holder, load_json(taken.payload), None, op_id)  # type: ignore[arg-type]
    enqueue(db, again, provisional, now)
    record = {
        "status": None,
        "body": None,
        "message": "the server entry it had adopted was made by another entry: looking again",
        "maybe_sent": True,
    }
    sent = min(t for t in (taken.first_sent_at, taken.created_at) if t)
    db.execute(
        "UPDATE operations SET last_error = ?, first_sent_at = ? WHERE op_id = ?",
        (dump_json(record), sent, again.op_id),
    )


#: Whether this SQLite has ``DELETE ... RETURNING`` (3.35, 2021).
RETURNING = sqlite3.sqlite_version_info >= (3, 35, 0)
_DELETE_RETURNING = f"DELETE FROM operations WHERE op_id = ? RETURNING {QUEUE_SELECT}"


def _take(db: sqlite3.Connection, op_id: str) -> QueueRow | None:
    """Delete the queued operation ``op_id`` and return what it was, or None when it is
    not queued."""
    if RETURNING:
        rows = _rows(db, _DELETE_RETURNING, (op_id,))
        return rows[0] if rows else None
    row = _one(db, _BY_OP_ID, (op_id,))
    if row is not None:
        db.execute("DELETE FROM operations WHERE id = ?", (row.id,))
    return row


def _acked(
    db: sqlite3.Connection,
    taken: QueueRow,
    server_object: dict[str, Any] | None,
    server_key: str | None,
    now: datetime,
) -> None:
    """The rest of an ack, once the operation left the queue."""
    account, entity, target, kind = taken.account, taken.entity, taken.target, taken.kind
    key = server_key
    if key is None and server_object is not None:
        try:
            key = cache.extract_key(entity, server_object)
        except ValueError:
            key = None
    if key is None:
        key = idmap.resolve_id(db, account, entity, target)
    entry = None
    if server_object is not None:
        entry = cache.CacheEntry(
            key=key,
            payload=server_object,
            revision=cache.revision_of(server_object),
            deleted=server_object.get("deleted_at") is not None,
            local=False,
        )
    if kind == "create" and key != target:
        previous = idmap.map_id(db, account, entity, target, key)
        if previous is not None:
            _reopen(db, taken, previous, server_object, now)
        # later operations on the object (queued while this create was in flight)
        if db.execute(_ANY_FOR_TARGET, (account, entity, target)).fetchone() is not None:
            db.execute(
                "UPDATE operations SET target = ? WHERE account = ? AND entity = ? AND target = ?",
                (key, account, entity, target),
            )
        if entry is not None:
            cache.replace_local(db, account, entity, target, entry, format_utc(now))
            return
        cache.remove_object(db, account, entity, target, only_local=True)
    if entry is not None:
        cache.put_entries(db, account, entity, (entry,), format_utc(now))
    elif kind == "delete":
        cache.mark_deleted(db, account, entity, key, now)


#: One item of :func:`ack_many`: ``(op_id, server_object, server_key)``.
AckItem = tuple[str, dict[str, Any] | None, str | None]


def ack_many(
    db: sqlite3.Connection,
    items: Iterable[AckItem],
    now: datetime,
    adopted: Container[str] = (),
) -> list[str]:
    """:func:`ack` each item in order, skipping the op_ids no longer queued, and the
    ``adopted`` creates whose reserved server id another local id holds now (see
    Store.ack_many); returns the op_ids acked."""
    acked: list[str] = []
    if on_postgres(db):
        # The accounts' locks, taken once up front (one statement, not one per item:
        # an account's acks hold its lock, and every round trip under it counts).
        items = list(items)
        ids = [item[0] for item in items]
        for (account,) in db.execute(_ACCOUNTS_OF, (ids,)).fetchall():
            account_lock(db, str(account))
    for op_id, server_object, server_key in items:
        if op_id in adopted and server_key is not None:
            row = db.execute(_TARGET_OF, (op_id,)).fetchone()
            holder = None if row is None else idmap.local_id_for(db, row[0], row[1], server_key)
            if row is not None and server_key != row[2] and holder != row[2]:
                continue  # the adoption lost its reservation: not ours to ack
        taken = _take(db, op_id)
        if taken is None:
            continue
        _acked(db, taken, server_object, server_key, now)
        acked.append(op_id)
    return acked


def _store_state(db: sqlite3.Connection, row: QueueRow) -> None:
    """Write the state columns of ``row`` (:data:`_STATE_COLUMNS`) to its queue row."""
    db.execute(_ROW_STATE, (*_row_state_values(row), row.id))


def fail(
    db: sqlite3.Connection,
    op_id: str,
    *,
    error: dict[str, Any],
    permanent: bool,
    conflict: bool,
    next_attempt_at: datetime | None,
    count_attempt: bool,
    now: datetime,
    owner: str | None = None,
) -> Operation:
    """Record a failed attempt (see Store.fail)."""
    row = get_row(db, op_id)
    _check_owner(row, owner)
    attempts, first_sent = row.attempts, row.first_sent_at
    if count_attempt:
        attempts += 1
    elif attempts == 0 and not error.get("maybe_sent"):
        first_sent = None  # (one that may have been sent keeps when it first went)
    if permanent:
        state, next_text = ("conflict" if conflict else "failed"), None
    else:
        state = "pending"
        next_text = None if next_attempt_at is None else format_utc(next_attempt_at)
    changed = _changed(
        row,
        format_utc(now),
        state=state,
        next_attempt_at=next_text,
        attempts=attempts,
        first_sent_at=first_sent,
        lease_owner=None,
        lease_expires_at=None,
        last_error=dump_json(dict(error)),
    )
    _store_state(db, changed)
    return to_record(changed)


def renew(db: sqlite3.Connection, op_id: str, owner: str, until: datetime, now: datetime) -> bool:
    """Extend ``owner``'s unexpired lease on ``op_id`` to ``until`` (see Store.renew)."""
    cursor = db.execute(
        "UPDATE operations SET lease_expires_at = ? WHERE op_id = ? AND state = 'inflight'"
        " AND lease_owner = ? AND lease_expires_at > ?",
        (format_utc(until), op_id, owner, format_utc(now)),
    )
    return cursor.rowcount == 1


def _check_owner(row: QueueRow, owner: str | None) -> None:
    """With ``owner``: the operation must still be leased to it."""
    if owner is not None and (row.state != "inflight" or row.lease_owner != owner):
        raise OperationStateError(
            f"Operation {row.op_id} is no longer leased to {owner}: its outcome is not"
            " recorded by it"
        )


def release(
    db: sqlite3.Connection, op_id: str, now: datetime, owner: str | None = None
) -> Operation:
    """Give a lease back untouched (see Store.release)."""
    row = get_row(db, op_id)
    _check_owner(row, owner)
    if row.state != "inflight":
        return to_record(row)
    changed = _changed(
        row,
        format_utc(now),
        state="pending",
        lease_owner=None,
        lease_expires_at=None,
        first_sent_at=None if row.attempts == 0 else row.first_sent_at,
    )
    _store_state(db, changed)
    return to_record(changed)


def retry(db: sqlite3.Connection, op_id: str, now: datetime) -> Operation:
    """Make a failed, conflicting or backing-off operation claimable now."""
    lock_account_of(db, op_id)
    row = get_row(db, op_id)
    if row.state == "inflight":
        raise OperationStateError(f"Operation {op_id} is being sent; it cannot be retried now")
    changed = _changed(row, format_utc(now), state="pending", next_attempt_at=None)
    _store_state(db, changed)
    return to_record(changed)


def expedite(db: sqlite3.Connection, account: str, now: datetime) -> int:
    """Make the account's backing-off pending operations due now (see Store.expedite)."""
    now_text = format_utc(now)
    cursor = db.execute(
        "UPDATE operations SET next_attempt_at = NULL, updated_at = ?"
        " WHERE account = ? AND next_attempt_at > ? AND state = 'pending'",
        (now_text, account, now_text),
    )
    return int(cursor.rowcount)


def discard(db: sqlite3.Connection, op_id: str, now: datetime) -> Operation:
    """Drop an operation from the queue (see Store.discard)."""
    lock_account_of(db, op_id)
    row = get_row(db, op_id)
    record = to_record(row)
    if (
        record.state == "inflight"
        and record.lease_expires_at is not None
        and record.lease_expires_at > now
    ):
        raise OperationStateError(
            f"Operation {op_id} is being sent (leased to {record.lease_owner} until "
            f"{record.lease_expires_at.isoformat()}); it cannot be discarded now"
        )
    db.execute("DELETE FROM operations WHERE id = ?", (record.id,))
    same_target = (record.account, record.entity, record.target)
    if record.kind == "create":
        # Later operations on an object that will never exist can never succeed.
        db.execute(
            "DELETE FROM operations WHERE account = ? AND entity = ? AND target = ? AND id > ?",
            (*same_target, record.id),
        )
    remaining = db.execute(
        "SELECT 1 FROM operations WHERE account = ? AND entity = ? AND target = ? LIMIT 1",
        same_target,
    ).fetchone()
    if remaining is None:
        cache.remove_object(db, record.account, record.entity, record.target, only_local=True)
    return record


def operations(
    db: sqlite3.Connection,
    account: str | None,
    states: Sequence[str] | None,
    entities: Sequence[str] | None = None,
) -> list[Operation]:
    """Queued operations in queue order, optionally for one account, some states and
    some entities."""
    where: list[str] = []
    params: list[Any] = []
    if account is not None:
        where.append("account = ?")
        params.append(account)
    if states is not None:
        checked = [_state(s) for s in states]
        where.append(f"state IN ({', '.join('?' * len(checked))})")
        params += checked
    if entities is not None:
        wanted = list(entities)
        where.append(f"entity IN ({', '.join('?' * len(wanted))})")
        params += wanted
    sql = f"SELECT {QUEUE_SELECT} FROM operations"
    if where:
        sql += " WHERE " + " AND ".join(where)
    return [to_record(row) for row in _rows(db, sql + " ORDER BY id", params)]


def counts(db: sqlite3.Connection, account: str) -> dict[str, int]:
    """Number of queued operations per state (every state present, zeros included)."""
    result: dict[str, int] = dict.fromkeys(STATES, 0)
    rows = db.execute(
        "SELECT state, count(*) FROM operations WHERE account = ? GROUP BY state", (account,)
    )
    for state, count in rows:
        result[state] = count
    return result


def summary(db: sqlite3.Connection, account: str, now: datetime | None = None) -> QueueSummary:
    """Counts per state, oldest waiting operation, earliest retry (see Store.queue_summary).

    With ``now``, an inflight operation whose lease ran out by then counts as pending:
    nobody is sending it (its sender vanished), the next claim takes it."""
    oldest = db.execute(
        "SELECT min(created_at) FROM operations"
        " WHERE account = ? AND state IN ('pending', 'inflight')",
        (account,),
    ).fetchone()[0]
    retry_at = db.execute(
        "SELECT min(next_attempt_at) FROM operations WHERE account = ?"
        " AND next_attempt_at IS NOT NULL AND state IN ('pending', 'inflight')",
        (account,),
    ).fetchone()[0]
    per_state = counts(db, account)
    if now is not None and per_state.get("inflight"):
        lapsed = db.execute(
            "SELECT count(*) FROM operations WHERE account = ? AND state = 'inflight'"
            " AND lease_expires_at <= ?",
            (account, format_utc(now)),
        ).fetchone()[0]
        per_state["inflight"] -= lapsed
        per_state["pending"] += lapsed
    return QueueSummary(per_state, _time(oldest), _time(retry_at))


def pending_targets(
    db: sqlite3.Connection,
    account: str,
    entity: str,
    states: Sequence[str] = ("pending", "inflight"),
) -> set[str]:
    """The distinct targets of the account's operations on ``entity`` in ``states``
    (pending and inflight by default; see Store.pending_targets)."""
    checked = [_state(s) for s in states]
    rows = db.execute(
        "SELECT DISTINCT target FROM operations WHERE account = ? AND entity = ?"
        f" AND state IN ({_marks(len(checked))})",
        (account, entity, *checked),
    )
    return {row[0] for row in rows}


def ops_for(db: sqlite3.Connection, account: str, entity: str, target: str) -> list[Operation]:
    """Every queued operation on one object, in queue order.

    The object may be named by its local id or by its server id: both, and any local
    ids mapped to it, are matched.
    """
    names = {target, idmap.resolve_id(db, account, entity, target)}
    names.update(idmap.local_ids_for(db, account, entity, target))
    ordered = sorted(names)
    sql = (
        f"SELECT {QUEUE_SELECT} FROM operations WHERE account = ? AND entity = ?"
        f" AND target IN ({_marks(len(ordered))}) ORDER BY id"
    )
    return [to_record(row) for row in _rows(db, sql, (account, entity, *ordered))]
