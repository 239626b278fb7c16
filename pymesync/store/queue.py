"""The operation queue: enqueue with coalescing, claim under a lease, ack, fail, retry.

Functions here work inside a transaction the caller (:class:`~pymesync.store.Store`)
opened; they never commit. The semantics are documented on the ``Store`` methods.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, delete, func, or_, select, update
from sqlalchemy.orm import Session, aliased

from . import cache, idmap
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
)
from .schema import OperationRow

__all__ = [
    "ack",
    "claim",
    "counts",
    "discard",
    "enqueue",
    "fail",
    "get_row",
    "operations",
    "ops_for",
    "pending_statement",
    "release",
    "retry",
    "to_record",
]


def _kind(value: str) -> OpKind:
    for kind in KINDS:
        if value == kind:
            return kind
    raise ValueError(f"unknown operation kind {value!r}")


def _state(value: str) -> OpState:
    for state in STATES:
        if value == state:
            return state
    raise ValueError(f"unknown operation state {value!r}")


def to_record(row: OperationRow, *, outcome_unknown: bool = False) -> Operation:
    """The frozen record for a queue row."""
    return Operation(
        id=row.id,
        op_id=row.op_id,
        account=row.account,
        kind=_kind(row.kind),
        entity=cache.check_entity(row.entity),
        target=row.target,
        payload=None if row.payload is None else dict(row.payload),
        base_revision=row.base_revision,
        state=_state(row.state),
        attempts=row.attempts,
        next_attempt_at=row.next_attempt_at,
        last_error=None if row.last_error is None else dict(row.last_error),
        created_at=row.created_at,
        updated_at=row.updated_at,
        first_sent_at=row.first_sent_at,
        lease_owner=row.lease_owner,
        lease_expires_at=row.lease_expires_at,
        outcome_unknown=outcome_unknown,
    )


def get_row(session: Session, op_id: str) -> OperationRow:
    """The queue row with ``op_id``, or :class:`UnknownOperationError`."""
    row = session.scalars(select(OperationRow).where(OperationRow.op_id == op_id)).first()
    if row is None:
        raise UnknownOperationError(f"No queued operation has op_id {op_id!r}")
    return row


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


def _last_for_target(
    session: Session, account: str, entity: str, target: str
) -> OperationRow | None:
    return session.scalars(
        select(OperationRow)
        .where(
            OperationRow.account == account,
            OperationRow.entity == entity,
            OperationRow.target == target,
        )
        .order_by(OperationRow.id.desc())
        .limit(1)
    ).first()


def _put_provisional(
    session: Session, provisional: CacheObject, entity: str, account: str, now: datetime
) -> None:
    if provisional.account != account or provisional.entity != entity:
        raise ValueError("the provisional object must belong to the operation's account/entity")
    key = idmap.resolve_id(session, account, entity, provisional.key)
    cache.put_entries(
        session,
        account,
        entity,
        [
            cache.CacheEntry(
                key=key,
                payload=dict(provisional.payload),
                revision=provisional.revision,
                deleted=provisional.deleted,
                local=True,
            )
        ],
        now,
    )


def _maybe_sent(row: OperationRow) -> bool:
    """Whether the operation may already have been carried out by the server."""
    return bool(isinstance(row.last_error, dict) and row.last_error.get("maybe_sent"))


def enqueue(
    session: Session, op: NewOperation, provisional: CacheObject | None, now: datetime
) -> EnqueueResult:
    """Queue ``op``, coalescing with the target's unsent operation (see Store.enqueue)."""
    _validate(op)
    if session.scalar(select(OperationRow.id).where(OperationRow.op_id == op.op_id)):
        raise DuplicateOperationError(f"An operation with op_id {op.op_id!r} is already queued")
    target = idmap.resolve_id(session, op.account, op.entity, op.target)
    last = _last_for_target(session, op.account, op.entity, target)
    result: EnqueueResult | None = None
    # Only an operation that cannot have reached the server may change: never handed to
    # a sender, or handed back with an error saying nothing was carried out. One that
    # may have been carried out (a lost response: ``last_error["maybe_sent"]``) keeps
    # its payload, which reconciliation looks for on the server.
    unsent = last is not None and last.lease_owner is None and not _maybe_sent(last)
    if last is not None and last.state == "pending" and unsent:
        if op.kind == "update" and last.kind in ("create", "update"):
            last.payload = {**(last.payload or {}), **(op.payload or {})}
            if last.kind == "update" and last.base_revision is None:
                last.base_revision = op.base_revision
            last.updated_at = now
            result = EnqueueResult(outcome="merged", operation=to_record(last))
        elif op.kind == "delete" and last.kind == "create" and last.first_sent_at is None:
            removed = last.op_id
            session.delete(last)
            session.flush()
            cache.remove_object(session, op.account, op.entity, target, only_local=True)
            return EnqueueResult(outcome="cancelled", operation=None, removed=(removed,))
        elif op.kind == "delete" and last.kind == "update":
            last.kind = "delete"
            last.payload = None
            if last.base_revision is None:
                last.base_revision = op.base_revision
            last.updated_at = now
            result = EnqueueResult(outcome="merged", operation=to_record(last))
    if result is None:
        row = OperationRow(
            op_id=op.op_id,
            account=op.account,
            kind=op.kind,
            entity=op.entity,
            target=target,
            payload=None if op.payload is None else dict(op.payload),
            base_revision=op.base_revision,
            state="pending",
            attempts=0,
            next_attempt_at=None,
            last_error=None,
            created_at=now,
            updated_at=now,
            first_sent_at=None,
            lease_owner=None,
            lease_expires_at=None,
        )
        session.add(row)
        session.flush()
        result = EnqueueResult(outcome="appended", operation=to_record(row))
    if provisional is not None:
        _put_provisional(session, provisional, op.entity, op.account, now)
    return result


def pending_statement(account: str, now: datetime | None) -> Any:
    """The SELECT behind Store.pending: pending (unleased) ops in queue order."""
    stmt = select(OperationRow).where(
        OperationRow.account == account, OperationRow.state == "pending"
    )
    if now is not None:
        stmt = stmt.where(
            or_(OperationRow.next_attempt_at.is_(None), OperationRow.next_attempt_at <= now)
        )
    return stmt.order_by(OperationRow.id)


def claim(
    session: Session,
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
    op = OperationRow
    earlier = aliased(OperationRow)
    blocked = (
        select(earlier.id)
        .where(
            earlier.account == op.account,
            earlier.entity == op.entity,
            earlier.target == op.target,
            earlier.id < op.id,
        )
        .exists()
    )
    due = or_(
        and_(
            op.state == "pending",
            or_(op.next_attempt_at.is_(None), op.next_attempt_at <= now),
        ),
        and_(op.state == "inflight", op.lease_expires_at <= now),
    )
    rows = session.scalars(
        select(op).where(op.account == account, due, ~blocked).order_by(op.id).limit(limit)
    ).all()
    claimed: list[Operation] = []
    expires = now + timedelta(seconds=lease_seconds)
    for row in rows:
        expired = row.state == "inflight"
        if expired:
            # The previous holder may have sent it before vanishing: count that attempt.
            row.attempts += 1
        row.state = "inflight"
        row.lease_owner = owner
        row.lease_expires_at = expires
        if row.first_sent_at is None:
            row.first_sent_at = now
        row.updated_at = now
        claimed.append(to_record(row, outcome_unknown=expired))
    return claimed


def ack(
    session: Session,
    op_id: str,
    server_object: dict[str, Any] | None,
    server_key: str | None,
    now: datetime,
) -> None:
    """Finish an operation the server accepted (see Store.ack)."""
    row = get_row(session, op_id)
    account, entity, target, kind = row.account, row.entity, row.target, row.kind
    session.delete(row)
    session.flush()
    key = server_key
    if key is None and server_object is not None:
        try:
            key = cache.extract_key(entity, server_object)
        except ValueError:
            key = None
    if key is None:
        key = idmap.resolve_id(session, account, entity, target)
    if kind == "create" and key != target:
        idmap.map_id(session, account, entity, target, key)
        cache.remove_object(session, account, entity, target, only_local=True)
        session.execute(
            update(OperationRow)
            .where(
                OperationRow.account == account,
                OperationRow.entity == entity,
                OperationRow.target == target,
            )
            .values(target=key)
            .execution_options(synchronize_session=False)
        )
    if server_object is not None:
        entry = cache.CacheEntry(
            key=key,
            payload=dict(server_object),
            revision=cache.revision_of(server_object),
            deleted=server_object.get("deleted_at") is not None,
            local=False,
        )
        cache.put_entries(session, account, entity, [entry], now)
    elif kind == "delete":
        cache.mark_deleted(session, account, entity, key, now)


def fail(
    session: Session,
    op_id: str,
    *,
    error: dict[str, Any],
    permanent: bool,
    conflict: bool,
    next_attempt_at: datetime | None,
    count_attempt: bool,
    now: datetime,
) -> Operation:
    """Record a failed attempt (see Store.fail)."""
    row = get_row(session, op_id)
    if permanent:
        row.state = "conflict" if conflict else "failed"
        row.next_attempt_at = None
    else:
        row.state = "pending"
        row.next_attempt_at = next_attempt_at
    if count_attempt:
        row.attempts += 1
    elif row.attempts == 0:
        row.first_sent_at = None
    row.lease_owner = None
    row.lease_expires_at = None
    row.last_error = dict(error)
    row.updated_at = now
    return to_record(row)


def release(session: Session, op_id: str, now: datetime) -> Operation:
    """Give a lease back untouched (see Store.release)."""
    row = get_row(session, op_id)
    if row.state == "inflight":
        row.state = "pending"
        row.lease_owner = None
        row.lease_expires_at = None
        if row.attempts == 0:
            row.first_sent_at = None
        row.updated_at = now
    return to_record(row)


def retry(session: Session, op_id: str, now: datetime) -> Operation:
    """Make a failed, conflicting or backing-off operation claimable now."""
    row = get_row(session, op_id)
    if row.state == "inflight":
        raise OperationStateError(f"Operation {op_id} is being sent; it cannot be retried now")
    row.state = "pending"
    row.next_attempt_at = None
    row.updated_at = now
    return to_record(row)


def discard(session: Session, op_id: str, now: datetime) -> Operation:
    """Drop an operation from the queue (see Store.discard)."""
    row = get_row(session, op_id)
    if row.state == "inflight" and row.lease_expires_at is not None and row.lease_expires_at > now:
        raise OperationStateError(
            f"Operation {op_id} is being sent (leased to {row.lease_owner} until "
            f"{row.lease_expires_at.isoformat()}); it cannot be discarded now"
        )
    record = to_record(row)
    session.delete(row)
    session.flush()
    same_target = and_(
        OperationRow.account == record.account,
        OperationRow.entity == record.entity,
        OperationRow.target == record.target,
    )
    if record.kind == "create":
        # Later operations on an object that will never exist can never succeed.
        session.execute(
            delete(OperationRow)
            .where(same_target, OperationRow.id > record.id)
            .execution_options(synchronize_session=False)
        )
    remaining = session.scalar(select(func.count()).select_from(OperationRow).where(same_target))
    if not remaining:
        cache.remove_object(session, record.account, record.entity, record.target, only_local=True)
    return record


def operations(
    session: Session,
    account: str | None,
    states: Sequence[str] | None,
    entities: Sequence[str] | None = None,
) -> list[Operation]:
    """Queued operations in queue order, optionally for one account, some states and
    some entities."""
    stmt = select(OperationRow)
    if account is not None:
        stmt = stmt.where(OperationRow.account == account)
    if states is not None:
        stmt = stmt.where(OperationRow.state.in_([_state(s) for s in states]))
    if entities is not None:
        stmt = stmt.where(OperationRow.entity.in_(list(entities)))
    return [to_record(row) for row in session.scalars(stmt.order_by(OperationRow.id))]


def counts(session: Session, account: str) -> dict[str, int]:
    """Number of queued operations per state (every state present, zeros included)."""
    result: dict[str, int] = dict.fromkeys(STATES, 0)
    rows = session.execute(
        select(OperationRow.state, func.count())
        .where(OperationRow.account == account)
        .group_by(OperationRow.state)
    )
    for state, count in rows:
        result[state] = count
    return result


def ops_for(session: Session, account: str, entity: str, target: str) -> list[Operation]:
    """Every queued operation on one object, in queue order.

    The object may be named by its local id or by its server id: both, and any local
    ids mapped to it, are matched.
    """
    names = {target, idmap.resolve_id(session, account, entity, target)}
    names.update(idmap.local_ids_for(session, account, entity, target))
    stmt = (
        select(OperationRow)
        .where(
            OperationRow.account == account,
            OperationRow.entity == entity,
            OperationRow.target.in_(sorted(names)),
        )
        .order_by(OperationRow.id)
    )
    return [to_record(row) for row in session.scalars(stmt)]
