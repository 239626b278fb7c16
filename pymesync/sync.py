"""Pushing queued operations to TimeSync, in order.

:class:`SyncWorker` claims operations from the store one at a time (under a lease),
sends each outside any transaction, then acks or fails it in another short
transaction. Failures are sorted: transient ones (network, 5xx, 429) stop the pass and
come back later with exponential backoff and full jitter; a rejected token stops the
pass in a visible "needs login" state; permanent ones (bad object, not authorized, ...)
mark that operation failed, kept for the user to see, and the pass goes on.

Decisions are values (:class:`RetryPolicy`, :class:`OpResult`, :class:`SyncReport`),
so the loop itself stays a thin step that carries them out.
"""

from __future__ import annotations

import datetime as dt
import random
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from pymesync import errors, wire
from pymesync.status import NEEDS_LOGIN
from pymesync.validation import EntityQuery, TimesQuery

if TYPE_CHECKING:
    from pymesync.store import Operation, Store
    from pymesync.transport import Transport

Outcome = Literal["synced", "failed", "deferred", "needs_login"]


def utcnow() -> dt.datetime:
    """The current time, timezone-aware UTC."""
    return dt.datetime.now(dt.timezone.utc)


@dataclass(frozen=True)
class RetryPolicy:
    """When a transiently failed operation may be tried again (an immutable value).

    The n-th retry waits a random time between 0 and ``min(cap, base * factor**n)``
    seconds ("full jitter"), but never less than the server's ``Retry-After``.
    """

    base: float = 1.0
    factor: float = 2.0
    cap: float = 300.0

    def delay(
        self, attempts: int, retry_after: float | None = None, rng: random.Random | None = None
    ) -> float:
        """Seconds to wait before attempt number ``attempts + 1``."""
        ceiling = min(self.cap, self.base * self.factor ** max(0, attempts - 1))
        jittered = (rng or random).uniform(0, ceiling)
        return max(jittered, retry_after or 0.0)


@dataclass(frozen=True)
class OpResult:
    """What happened to one operation in a pass.

    ``answer`` is the server's own response to the write (what the old library returned);
    ``canonical`` the object as a later GET shows it (what the cache now holds).
    """

    op_id: str
    entity: str
    kind: str
    target: str
    outcome: Outcome
    answer: Any = None
    canonical: dict[str, Any] | None = None
    error: errors.PymesyncError | None = field(default=None, compare=False)


@dataclass(frozen=True)
class SyncReport:
    """The results of one pass, in the order the operations were sent.

    ``stopped`` says why the pass ended early: ``"offline"`` (the server could not be
    reached or answered with a transient error) or ``"needs_login"``; ``None`` when
    nothing claimable was left.
    """

    results: tuple[OpResult, ...] = ()
    stopped: str | None = None

    def count(self, outcome: Outcome) -> int:
        """How many operations ended this pass with ``outcome``."""
        return sum(1 for result in self.results if result.outcome == outcome)

    @property
    def synced(self) -> int:
        """Operations the server accepted."""
        return self.count("synced")

    @property
    def failed(self) -> int:
        """Operations the server refused for good (kept as failed)."""
        return self.count("failed")

    def result_for(self, op_id: str) -> OpResult | None:
        """The result of operation ``op_id`` in this pass, if it was sent."""
        return next((r for r in self.results if r.op_id == op_id), None)

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready summary (for ``--json`` output and logs)."""
        return {
            "synced": self.synced,
            "failed": self.failed,
            "stopped": self.stopped,
            "results": [
                {
                    "op_id": r.op_id,
                    "entity": r.entity,
                    "kind": r.kind,
                    "target": r.target,
                    "outcome": r.outcome,
                    "error": None if r.error is None else error_record(r.error),
                }
                for r in self.results
            ],
        }


def error_record(error: errors.PymesyncError) -> dict[str, Any]:
    """The JSON form of an error kept in an operation's ``last_error``."""
    if isinstance(error, errors.TimeSyncError):
        return {"status": error.status, "body": error.body, "message": error.message}
    return {"status": getattr(error, "status", None), "body": None, "message": error.message}


def error_from_record(record: dict[str, Any]) -> errors.PymesyncError:
    """Rebuild the exception an operation failed with from its ``last_error``."""
    body = record.get("body")
    if isinstance(body, dict) and record.get("status") is not None:
        return errors.from_response(int(record["status"]), body)
    return errors.PymesyncError(str(record.get("message", "unknown error")))


def server_key(entity: str, obj: Any) -> str | None:
    """The cache key of a server object: its uuid, or a user's username."""
    if not isinstance(obj, dict):
        return None
    value = obj.get("username" if entity == "user" else "uuid")
    return value if isinstance(value, str) else None


class SyncWorker:
    """Pushes one account's queued operations to the server.

    ``token`` is called before each request so that a token refreshed meanwhile (by
    ``authenticate()`` or ``pymesync login``) is used at once.
    """

    def __init__(
        self,
        store: Store,
        transport: Transport,
        account: str,
        token: Callable[[], str | None],
        *,
        policy: RetryPolicy | None = None,
        owner: str | None = None,
        lease_seconds: float = 120.0,
        clock: Callable[[], dt.datetime] = utcnow,
    ) -> None:
        self.store = store
        self.transport = transport
        self.account = account
        self.token = token
        self.policy = policy or RetryPolicy()
        self.owner = owner or f"worker-{uuid.uuid4()}"
        self.lease_seconds = lease_seconds
        self.clock = clock

    def run_once(
        self,
        now: dt.datetime | None = None,
        *,
        stop_after: str | None = None,
        progress: Callable[[OpResult], None] | None = None,
        should_stop: Callable[[], bool] | None = None,
    ) -> SyncReport:
        """One pass: send claimable operations in queue order until none is left, the
        server is unreachable, the token is refused, ``stop_after`` has been sent, or
        ``should_stop()`` says so (checked between operations, so the one in flight is
        always finished). ``progress`` is called with each operation's result."""
        results: list[OpResult] = []
        while True:
            if should_stop is not None and should_stop():
                return SyncReport(tuple(results), stopped="stopped")
            moment = now or self.clock()
            claimed = self.store.claim(
                self.account, self.owner, self.lease_seconds, now=moment, limit=1
            )
            if not claimed:
                return SyncReport(tuple(results))
            op = claimed[0]
            result = self.push(op, moment)
            results.append(result)
            if progress is not None:
                progress(result)
            if result.outcome == "deferred":
                return SyncReport(tuple(results), stopped="offline")
            if result.outcome == NEEDS_LOGIN:
                return SyncReport(tuple(results), stopped=NEEDS_LOGIN)
            if stop_after is not None and op.op_id == stop_after:
                return SyncReport(tuple(results))

    def push(self, op: Operation, now: dt.datetime) -> OpResult:
        """Send one claimed operation and record its outcome in the store."""
        token = self.token()
        base = OpResult(op.op_id, op.entity, op.kind, op.target, "synced")
        try:
            answer, canonical, key = self._send(op, token)
        except errors.TokenRejectedError as error:
            self.store.release(op.op_id, now=now)
            self.store.set_state(self.account, NEEDS_LOGIN, True)
            return _replace(base, outcome=NEEDS_LOGIN, error=error)
        except errors.PymesyncError as error:
            return self._failed(op, base, error, now)
        self.store.ack(op.op_id, server_object=canonical, server_key=key, now=now)
        self.store.set_state(self.account, "last_success", now.isoformat())
        return _replace(base, answer=answer, canonical=canonical)

    def _failed(
        self, op: Operation, base: OpResult, error: errors.PymesyncError, now: dt.datetime
    ) -> OpResult:
        record = error_record(error)
        self.store.set_state(self.account, "last_error", {**record, "at": now.isoformat()})
        if error.transient:
            wait = self.policy.delay(op.attempts + 1, error.retry_after)
            self.store.fail(
                op.op_id,
                error=record,
                permanent=False,
                next_attempt_at=now + dt.timedelta(seconds=wait),
                now=now,
            )
            return _replace(base, outcome="deferred", error=error)
        self.store.fail(op.op_id, error=record, permanent=True, now=now)
        return _replace(base, outcome="failed", error=error)

    def _send(
        self, op: Operation, token: str | None
    ) -> tuple[Any, dict[str, Any] | None, str | None]:
        entity = op.entity
        ident = self.ident_for(op)
        if op.kind == "delete":
            self.transport.send(wire.delete_request(entity, ident), token)
            return None, None, None
        payload = dict(op.payload or {})
        answer = self.transport.send(
            wire.write_request(entity, None if op.kind == "create" else ident, payload), token
        )
        if not isinstance(answer, dict):
            raise errors.BadResponseError(
                f"connection to TimeSync failed at baseurl {self.transport.baseurl} - "
                "unexpected answer to a write",
                status=200,
            )
        canonical = self._canonical(entity, answer, token)
        return answer, canonical, server_key(entity, canonical)

    def ident_for(self, op: Operation) -> str:
        """The identifier to put in the URL: a local uuid becomes the server's."""
        if op.entity == "time":
            return self.store.resolve_id(self.account, "time", op.target)
        if op.entity in ("project", "activity"):
            cached = self.store.get_object(self.account, op.entity, op.target)
            if cached is not None:
                slug = _first_slug(cached.payload)
                if slug:
                    return slug
        return op.target

    def _canonical(self, entity: str, answer: dict[str, Any], token: str | None) -> dict[str, Any]:
        """The object as a GET shows it (write responses are not canonical, §3)."""
        request: wire.WireRequest | None = None
        if entity == "time" and isinstance(answer.get("uuid"), str):
            request = wire.times_request(TimesQuery(uuid=answer["uuid"]))
        elif entity == "user" and isinstance(answer.get("username"), str):
            request = wire.entity_request(EntityQuery("user", slug=answer["username"]))
        elif entity in ("project", "activity") and _first_slug(answer):
            request = wire.entity_request(EntityQuery(entity, slug=_first_slug(answer)))  # type: ignore[arg-type]
        if request is None:
            return answer
        try:
            fetched = self.transport.send(request, token)
        except errors.PymesyncError:
            return answer
        return fetched if isinstance(fetched, dict) and "error" not in fetched else answer


def _first_slug(obj: dict[str, Any]) -> str | None:
    slugs = obj.get("slugs")
    if isinstance(slugs, list) and slugs and isinstance(slugs[0], str):
        return slugs[0]
    slug = obj.get("slug")
    return slug if isinstance(slug, str) else None


def _replace(result: OpResult, **changes: Any) -> OpResult:
    from dataclasses import replace

    return replace(result, **changes)
