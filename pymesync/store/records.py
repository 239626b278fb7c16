"""Plain, frozen values that the store takes and returns (never ORM rows).

JSON payloads are ``dict[str, Any]``; a record returned by the store holds its own copy,
so changing it changes nothing in the database.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, get_args

__all__ = [
    "ENTITIES",
    "KINDS",
    "OUTCOMES",
    "STATES",
    "CacheObject",
    "EnqueueOutcome",
    "EnqueueResult",
    "Entity",
    "NewOperation",
    "OpKind",
    "OpState",
    "Operation",
    "PutResult",
    "QueueSummary",
    "new_op_id",
    "new_uuid4",
]

#: What an operation does to its object.
OpKind = Literal["create", "update", "delete"]
#: The kinds of TimeSync object the store keeps.
Entity = Literal["time", "project", "activity", "user"]
#: Where an operation is in its life: ``pending`` (waiting; "unsent" when it also has no
#: lease), ``inflight`` (claimed by a sender, under a lease), ``failed`` (permanent error,
#: waits for retry/discard), ``conflict`` (the server object changed under it).
OpState = Literal["pending", "inflight", "failed", "conflict"]
#: What :meth:`~pymesync.store.Store.enqueue` did with a new operation.
EnqueueOutcome = Literal["appended", "merged", "cancelled"]

KINDS: tuple[OpKind, ...] = get_args(OpKind)
ENTITIES: tuple[Entity, ...] = get_args(Entity)
STATES: tuple[OpState, ...] = get_args(OpState)
OUTCOMES: tuple[EnqueueOutcome, ...] = get_args(EnqueueOutcome)


def new_uuid4() -> str:
    """A fresh random UUID4 as text: ``str(uuid.uuid4())``."""
    return str(uuid.uuid4())


def new_op_id() -> str:
    """A fresh random operation id (a UUID4 string)."""
    return new_uuid4()


@dataclass(frozen=True)
class NewOperation:
    """An operation to queue, as the caller describes it.

    ``target`` names the object the way the caller knows it: the local uuid of an object
    created offline, or the server's uuid / slug / username. ``payload`` holds the fields
    to send (required for create and update, ``None`` for delete). ``base_revision`` is
    the revision of the object the change was made against (for conflict detection).
    """

    account: str
    kind: OpKind
    entity: Entity
    target: str
    payload: dict[str, Any] | None = None
    base_revision: int | None = None
    op_id: str = field(default_factory=new_op_id)


@dataclass(frozen=True)
class Operation:
    """One queued operation, as stored.

    ``id`` is the queue position (larger = later). ``outcome_unknown`` is only ever true
    on an operation returned by :meth:`~pymesync.store.Store.claim` whose previous lease
    expired: it may or may not have reached the server, so it must be reconciled, not
    blindly resent.
    """

    id: int
    op_id: str
    account: str
    kind: OpKind
    entity: Entity
    target: str
    payload: dict[str, Any] | None
    base_revision: int | None
    state: OpState
    attempts: int
    next_attempt_at: datetime | None
    last_error: dict[str, Any] | None
    created_at: datetime
    updated_at: datetime
    first_sent_at: datetime | None
    lease_owner: str | None
    lease_expires_at: datetime | None
    outcome_unknown: bool = False

    @property
    def unsent(self) -> bool:
        """True when the operation is pending, not leased, and cannot have reached the
        server (``last_error`` does not say ``maybe_sent``): enqueue may coalesce it."""
        maybe_sent = bool(self.last_error and self.last_error.get("maybe_sent"))
        return self.state == "pending" and self.lease_owner is None and not maybe_sent


@dataclass(frozen=True)
class CacheObject:
    """One cached object: a server object, or a provisional local one (``local=True``).

    ``key`` is the uuid for times, projects and activities, and the username for users.
    ``deleted`` mirrors a non-null ``deleted_at``.
    """

    account: str
    entity: Entity
    key: str
    payload: dict[str, Any]
    revision: int | None
    deleted: bool
    fetched_at: datetime
    local: bool = False


@dataclass(frozen=True)
class EnqueueResult:
    """What :meth:`~pymesync.store.Store.enqueue` did.

    ``outcome`` is ``"appended"`` (a new queue entry), ``"merged"`` (folded into the
    unsent, or refused and now queued again, operation ``operation``, which keeps its
    own ``op_id``) or ``"cancelled"`` (a delete cancelled an unsent or refused create:
    nothing will be sent, ``operation`` is None).
    ``operation`` is the queued operation that now carries the change. ``removed`` lists
    the op_ids of operations that left the queue because of this call.
    """

    outcome: EnqueueOutcome
    operation: Operation | None
    removed: tuple[str, ...] = ()


@dataclass(frozen=True)
class PutResult:
    """What :meth:`~pymesync.store.Store.put_objects` did.

    ``written`` counts the objects stored; ``skipped`` lists the keys left alone because
    they have queued operations or the cache already holds a newer revision.
    """

    written: int
    skipped: tuple[str, ...] = ()


@dataclass(frozen=True)
class QueueSummary:
    """What :meth:`~pymesync.store.Store.queue_summary` found for one account.

    ``counts``: the number of queued operations per state (every state present).
    ``oldest_created_at``: the ``created_at`` of the oldest pending or inflight
    operation. ``next_attempt_at``: the earliest ``next_attempt_at`` among the pending
    and inflight operations (None: nothing is backing off).
    """

    counts: dict[str, int]
    oldest_created_at: datetime | None
    next_attempt_at: datetime | None

    @property
    def waiting(self) -> int:
        """How many operations are pending or inflight."""
        return self.counts.get("pending", 0) + self.counts.get("inflight", 0)
