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

import collections
import datetime as dt
import functools
import queue
import random
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Literal

from pymesync import errors, tokens
from pymesync.reconcile import ConflictPolicy
from pymesync.sender import Attempt, Held, Sender
from pymesync.status import NEEDS_LOGIN

if TYPE_CHECKING:
    import tenacity

    from pymesync.store import Operation, Store
    from pymesync.transport import Transport

#: How many successful results one pass keeps (failures are always kept).
KEEP_RESULTS = 1000
#: Successes recorded in one transaction at most, and the longest a success waits for
#: others to share its commit (each commit is an fsync; the op is on the server anyway,
#: and one whose ack a crash lost is found there again, not sent twice).
ACK_BATCH = 64
ACK_DELAY = 0.05

Outcome = Literal["synced", "failed", "deferred", "held", "needs_login", "waiting", "lost"]


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
    #: Tries of one operation within one pass before it is deferred to a later pass.
    pass_attempts: int = 3
    #: First in-pass wait ceiling, and the longest in-pass wait (a longer Retry-After
    #: defers the operation to a later pass instead of blocking this one).
    pass_base: float = 0.2
    pass_cap: float = 5.0

    def delay(
        self, attempts: int, retry_after: float | None = None, rng: random.Random | None = None
    ) -> float:
        """Seconds to wait before attempt number ``attempts + 1``."""
        ceiling = min(self.cap, self.base * self.factor ** max(0, attempts - 1))
        jittered = (rng or random).uniform(0, ceiling)
        return max(jittered, retry_after or 0.0)

    def pass_delay(self, failed: int, retry_after: float | None = None) -> float:
        """Seconds to wait within a pass after its ``failed``-th failed attempt."""
        ceiling = min(self.pass_cap, self.pass_base * 2 ** (failed - 1))
        return max(random.uniform(0, ceiling), retry_after or 0.0)

    def retry_in_pass(self, error: BaseException) -> bool:
        """Whether ``error`` is worth another attempt within the same pass."""
        return (
            isinstance(error, errors.PymesyncError)
            and error.transient
            and (error.retry_after or 0) <= self.pass_cap
        )


class RateLimiter:
    """Spaces requests evenly to at most ``rate`` per second (shared by all threads)."""

    def __init__(self, rate: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.interval = 1.0 / rate
        self.clock = clock
        self._next = 0.0
        self._lock = threading.Lock()

    def acquire(self) -> None:
        """Wait for the next free slot."""
        with self._lock:
            now = self.clock()
            slot = max(now, self._next)
            self._next = slot + self.interval
        if slot > now:
            time.sleep(slot - now)


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
    #: The cache key of the canonical object (uuid, or a user's username).
    server_key: str | None = None


@dataclass(frozen=True)
class SyncReport:
    """The results of one pass, in the order the operations finished.

    ``totals`` counts every outcome of the pass. So that draining a long queue takes
    flat memory, ``results`` holds the first ``KEEP_RESULTS`` successes and every result
    that is not a plain success.

    ``stopped`` says why the pass ended early: ``"offline"`` (the server could not be
    reached or answered with a transient error) or ``"needs_login"``; ``None`` when
    nothing claimable was left.
    """

    results: tuple[OpResult, ...] = ()
    totals: dict[str, int] = field(default_factory=dict)
    stopped: str | None = None

    def count(self, outcome: Outcome) -> int:
        """How many operations ended this pass with ``outcome``."""
        if self.totals:
            return self.totals.get(outcome, 0)
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
            "totals": dict(self.totals),
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


class SyncWorker:
    """Pushes one account's queued operations to the server.

    ``token`` is called before each request so that a token refreshed meanwhile (by
    ``authenticate()`` or ``pymesync login``) is used at once; ``relogin`` (if given)
    logs in again and returns a new token, or None when there is no way to. ``sleep``
    is what the short in-pass retries wait with (injectable for tests). ``concurrency``
    is how many operations may be in flight at once; ``requests_per_second`` caps the
    request rate for servers that need it.
    """

    def __init__(
        self,
        store: Store,
        transport: Transport,
        account: str,
        token: Callable[[], str | None],
        *,
        relogin: Callable[[], str | None] | None = None,
        policy: RetryPolicy | None = None,
        conflict_policy: ConflictPolicy = "local",
        owner: str | None = None,
        lease_seconds: float = 120.0,
        clock: Callable[[], dt.datetime] = utcnow,
        sleep: Callable[[float], None] = time.sleep,
        concurrency: int = 1,
        requests_per_second: float | None = None,
    ) -> None:
        self.store = store
        self.transport = transport
        self.account = account
        self.token = token
        self.relogin = relogin
        self.policy = policy or RetryPolicy()
        self.conflict_policy = conflict_policy
        self.owner = owner or f"worker-{uuid.uuid4()}"
        self.lease_seconds = lease_seconds
        self.clock = clock
        self.sleep = sleep
        self.concurrency = max(1, concurrency)
        self.limiter = RateLimiter(requests_per_second) if requests_per_second else None
        self._busy: set[str] = set()
        self._per_thread = threading.local()
        self._token_memo: tuple[str | None] | None = None
        #: Whether simple creates go over the fast lane (:mod:`pymesync.fastlane`).
        self.fast_lane = True
        self.sender = Sender(
            store,
            transport,
            account,
            conflict_policy=conflict_policy,
            clock=clock,
            before_request=None if self.limiter is None else self.limiter.acquire,
        )
        self._parents: list[Operation] | None = None

    @property
    def _chunk(self) -> int:
        """Operations claimed together (one short transaction, one commit)."""
        return max(1, 2 * self.concurrency)

    @property
    def _window(self) -> int:
        """Operations claimed at once: those being sent, and up to a chunk more waiting
        for a free slot, so that claims come in whole chunks (a claim is a commit, an
        fsync) while ``concurrency`` requests stay in flight."""
        return 1 if self.concurrency == 1 else self.concurrency + self._chunk

    def run_once(
        self,
        now: dt.datetime | None = None,
        *,
        stop_after: str | None = None,
        progress: Callable[[OpResult], None] | None = None,
        should_stop: Callable[[], bool] | None = None,
    ) -> SyncReport:
        """One pass: send claimable operations in queue order until none is left, the
        server is unreachable, no token is accepted, ``stop_after`` has been sent, or
        ``should_stop()`` says so (checked between operations, so operations in flight
        are always finished). ``progress`` is called with each operation's result.

        Up to ``concurrency`` operations are in flight at once, never two on the same
        object, and a time never before the project or activity it refers to.
        """
        tally = _Tally(stop_after, progress)
        in_flight: dict[str, Operation] = {}
        # finished, not yet recorded: successes are acked together (group commit)
        ready: list[tuple[Operation, OpResult]] = []
        ack_by: float | None = None
        drained = False
        dispatch = _Dispatch(self)
        try:
            while True:
                if tally.stopped is None and should_stop is not None and should_stop():
                    tally.stopped = "stopped"
                free = self._window - len(in_flight)
                # claim in chunks (one short transaction for several operations)
                # (once a claim came back short, the queue is drained: the next claim
                # waits until everything in flight is done)
                chunk_free = free >= self._chunk and not drained
                if tally.stopped is None and free > 0 and (not in_flight or chunk_free):
                    self._parents = None  # project/activity ops may have changed
                    self.sender.forget()
                    self._token_memo = None
                    moment = now or self.clock()
                    claimed = self.store.claim(
                        self.account, self.owner, self.lease_seconds, now=moment, limit=free
                    )
                    drained = len(claimed) < free
                    for op in claimed:
                        self._busy.add(op.op_id)
                        in_flight[op.op_id] = op
                        dispatch.send(op, moment)
                if not in_flight and not ready:
                    break
                if in_flight:
                    wait_for = None if ack_by is None else max(0.0, ack_by - time.monotonic())
                    for op, result in dispatch.collect(wait_for):
                        del in_flight[op.op_id]
                        ready.append((op, result))
                        if ack_by is None:
                            ack_by = time.monotonic() + ACK_DELAY
                if not self._time_to_ack(ready, bool(in_flight), ack_by):
                    continue
                done, ready, ack_by = ready, [], None
                acked = self._ack([r for _, r in done if r.outcome == "synced"], now)
                for op, result in done:
                    self._busy.discard(op.op_id)
                    if result.outcome == "synced" and op.op_id not in acked:
                        continue  # another worker took it over after our lease ran out
                    tally.add(op, result)
        finally:
            dispatch.close()
        if tally.totals.get("synced"):
            self._record_success(now or self.clock())
        return tally.report()

    @staticmethod
    def _time_to_ack(
        ready: list[tuple[Operation, OpResult]], in_flight: bool, ack_by: float | None
    ) -> bool:
        """Whether to record the finished operations now: when nothing else is in
        flight, when ACK_BATCH successes are waiting or the oldest has waited ACK_DELAY,
        or when anything but a success is among them (so that an operation waiting for
        one of them, and the pass's stopping reasons, are not held up)."""
        if not ready:
            return False
        if not in_flight or len(ready) >= ACK_BATCH:
            return True
        if ack_by is not None and time.monotonic() >= ack_by:
            return True
        return any(result.outcome != "synced" for _, result in ready)

    def _record_success(self, now: dt.datetime) -> None:
        """Once per pass: the last success time, and the end of a needs-login state."""
        self.store.set_state(self.account, "last_success", now.isoformat())
        if self.store.get_state(self.account, NEEDS_LOGIN):
            self.store.set_state(self.account, NEEDS_LOGIN, False)

    # ------------------------------------------------------------------ one operation

    def push(self, op: Operation, now: dt.datetime) -> OpResult:
        """Send one claimed operation and record its outcome in the store.

        If the lease ran out meanwhile and another worker took the operation over, this
        one neither sends it nor records anything (outcome ``"lost"``).
        """
        result = self._push_safe(op, now)
        if result.outcome == "synced" and not self._ack([result], now):
            return replace(result, outcome="lost")
        return result

    def _ack(self, results: list[OpResult], now: dt.datetime | None) -> set[str]:
        """Record accepted operations, all in one transaction; returns the op_ids that
        were still ours to ack."""
        if not results:
            return set()
        items = [(r.op_id, r.canonical, r.server_key) for r in results]
        return set(self.store.ack_many(items, now=now or self.clock()))

    def _push_into(
        self,
        finished: queue.SimpleQueue[tuple[Operation, OpResult | BaseException]],
        op: Operation,
        now: dt.datetime,
        prior: errors.PymesyncError | None = None,
    ) -> None:
        """:meth:`_push_safe`, its result (or what it raised) put into ``finished``."""
        try:
            finished.put((op, self._push_safe(op, now, prior)))
        except BaseException as exc:  # handed to run_once's thread, which raises it
            finished.put((op, exc))

    def _push_safe(
        self, op: Operation, now: dt.datetime, prior: errors.PymesyncError | None = None
    ) -> OpResult:
        """:meth:`_push`, with a lost lease or a vanished operation as outcome "lost"."""
        try:
            return self._push(op, now, prior)
        except (_LeaseLost, errors.StaleOperationError):
            return OpResult(op.op_id, op.entity, op.kind, op.target, "lost")

    def _fast_token(self, op: Operation) -> str | None:
        """The token to send ``op`` with on the fast lane, or None when it must go to a
        sending thread: anything but a create of a time whose project is cached, an
        outcome to reconcile, a prerequisite in the way, a lease nearly over, or no
        valid token."""
        if op.kind != "create" or op.entity != "time" or not op.payload:
            return None
        if op.outcome_unknown or (op.last_error or {}).get("maybe_sent"):
            return None
        if not self._lease_comfortable(op):
            return None
        try:
            self._check_prerequisites(op)
        except (_Waiting, Held):
            return None
        if self.sender.known_project(op.payload.get("project")) is None:
            return None
        token = self._known_token()
        return None if token is None or _expired(token, self.clock()) else token

    def _push(
        self, op: Operation, now: dt.datetime, prior: errors.PymesyncError | None = None
    ) -> OpResult:
        """Send ``op`` (``prior``: how the fast lane's first attempt at it failed)."""
        base = OpResult(op.op_id, op.entity, op.kind, op.target, "synced")
        last = op.last_error or {}
        unknown = op.outcome_unknown or bool(last.get("maybe_sent"))
        attempt = Attempt(unknown=unknown or (prior is not None and prior.maybe_sent))
        try:
            self._check_prerequisites(op)
            if prior is None:
                answer, canonical, key = self._send_with_retries(op, attempt)
            else:
                answer, canonical, key = self._after_failed_attempt(op, attempt, prior)
        except _Waiting:
            self.store.release(op.op_id, now=now)
            return replace(base, outcome="waiting")
        except Held as held:
            self.store.fail(
                op.op_id,
                error={"status": None, "body": None, "message": held.reason, "held": True},
                permanent=held.conflict,
                conflict=held.conflict,
                next_attempt_at=None
                if held.conflict
                else now + dt.timedelta(seconds=held.retry_in),
                count_attempt=False,
                now=now,
            )
            outcome: Outcome = "failed" if held.conflict else "held"
            return replace(base, outcome=outcome)
        except _NoToken as missing:
            self.store.release(op.op_id, now=now)
            self.store.set_state(self.account, NEEDS_LOGIN, True)
            return replace(base, outcome="needs_login", error=missing.error)
        except errors.PymesyncError as error:
            return self._failed(op, base, error, attempt, now)
        # acked by the caller, together with the others that finished meanwhile
        return replace(base, answer=answer, canonical=canonical, server_key=key)

    def _failed(
        self,
        op: Operation,
        base: OpResult,
        error: errors.PymesyncError,
        attempt: Attempt,
        now: dt.datetime,
    ) -> OpResult:
        record = error_record(error)
        if attempt.unknown:
            record["maybe_sent"] = True
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
            return replace(base, outcome="deferred", error=error)
        self.store.fail(op.op_id, error=record, permanent=True, now=now)
        return replace(base, outcome="failed", error=error)

    def _known_token(self) -> str | None:
        """``self.token()``, asked once per claim round (it may read the store) and
        again after a new login."""
        known = self._token_memo
        if known is None:
            known = self._token_memo = (self.token(),)
        return known[0]

    def _token(self, attempt: Attempt) -> str:
        """The token to send with; logs in again first when it is missing or expired."""
        token = self._known_token()
        if token is None or _expired(token, self.clock()):
            token = self._relogin(attempt, None) or token
        if token is None:
            raise _NoToken(errors.NotAuthenticatedError("no token for " + self.account))
        return token

    def _relogin(self, attempt: Attempt, error: errors.PymesyncError | None) -> str | None:
        if attempt.relogged or self.relogin is None:
            return None
        attempt.relogged = True
        try:
            return self.relogin()
        except errors.PymesyncError:
            return None
        finally:
            self._token_memo = None

    def _after_failed_attempt(
        self, op: Operation, attempt: Attempt, prior: errors.PymesyncError
    ) -> tuple[Any, dict[str, Any] | None, str | None]:
        """Go on as :meth:`_send_with_retries` would have after its first attempt failed
        with ``prior``: a refused token means one new login; a transient error, the
        remaining attempts after the same backoff; anything else is final."""
        if isinstance(prior, errors.TokenRejectedError):
            if self._relogin(attempt, prior) is None:
                raise _NoToken(prior)
            return self._send_with_retries(op, attempt)
        policy = self.policy
        if not policy.retry_in_pass(prior) or policy.pass_attempts <= 1:
            raise prior
        self.sleep(policy.pass_delay(1, prior.retry_after))
        return self._send_with_retries(op, attempt, attempts=policy.pass_attempts - 1)

    def _send_with_retries(
        self, op: Operation, attempt: Attempt, *, attempts: int | None = None
    ) -> tuple[Any, dict[str, Any] | None, str | None]:
        """:meth:`_attempt`, retried a few times within this pass for transient errors
        (backoff with full jitter, honouring a short Retry-After); a refused token means
        one new login, without spending an attempt."""
        retrying = self._retrying(attempts or self.policy.pass_attempts)
        for round_ in retrying:
            with round_:
                try:
                    return self._attempt(op, attempt, self._token(attempt))
                except errors.TokenRejectedError as rejected:
                    fresh = self._relogin(attempt, rejected)
                    if fresh is None:
                        raise _NoToken(rejected) from None
                    return self._attempt(op, attempt, fresh)
        raise AssertionError("unreachable")  # pragma: no cover

    def _retrying(self, attempts: int) -> tenacity.Retrying:
        """This thread's retry loop of ``attempts`` for the current policy (built once
        per thread, not once per operation: a tenacity loop is used by one thread at
        a time)."""
        import tenacity  # only needed once there is something to send

        policy, sleep = self.policy, self.sleep
        cache: dict[int, Any] = self._per_thread.__dict__.setdefault("retrying", {})
        cached = cache.get(attempts)
        if cached is not None and cached[0] is policy and cached[1] is sleep:
            return cached[2]  # type: ignore[no-any-return]
        retrying = tenacity.Retrying(
            stop=tenacity.stop_after_attempt(attempts),
            wait=_wait(policy),
            retry=tenacity.retry_if_exception(policy.retry_in_pass),
            sleep=sleep,
            reraise=True,
        )
        cache[attempts] = (policy, sleep, retrying)
        return retrying

    def _attempt(
        self, op: Operation, attempt: Attempt, token: str
    ) -> tuple[Any, dict[str, Any] | None, str | None]:
        self._check_lease(op)
        try:
            if op.kind == "create":
                return self.sender.create(op, attempt, token)
            if op.kind == "update":
                return self.sender.update(op, attempt, token)
            return self.sender.delete(op, attempt, token)
        except errors.PymesyncError as error:
            if error.maybe_sent:
                attempt.unknown = True
            raise

    # ------------------------------------------------------------------ helpers

    def _check_prerequisites(self, op: Operation) -> None:
        """A time waits for the queued project or activity it refers to: while that one
        is in flight in this pass, the time goes back to the queue (``_Waiting``);
        while it is failed, backing off or blocked, the time is held."""
        if op.entity != "time" or op.kind == "delete" or not op.payload:
            return
        wanted = {("project", op.payload.get("project"))}
        wanted |= {("activity", slug) for slug in op.payload.get("activities") or []}
        for earlier in self._parent_ops():
            if earlier.id >= op.id or earlier.kind == "delete":
                continue
            slugs = self._slugs_of(earlier)
            hit = next(
                (slug for kind, slug in wanted if kind == earlier.entity and slug in slugs), None
            )
            if hit is None:
                continue
            if earlier.op_id in self._busy:
                raise _Waiting()
            state = "failed" if earlier.state in ("failed", "conflict") else "waiting"
            raise Held(
                f"waiting for {earlier.entity} {hit} ({state} in the queue)",
                retry_in=60.0 if state == "failed" else 5.0,
            )

    def _parent_ops(self) -> list[Operation]:
        """The queued project and activity operations, read at most once per claim
        round (they are few; times are many)."""
        if self._parents is None:
            self._parents = self.store.operations(self.account, entities=("project", "activity"))
        return self._parents

    def _slugs_of(self, op: Operation) -> set[str]:
        payload = op.payload or {}
        slugs = set(payload.get("slugs") or [])
        if isinstance(payload.get("slug"), str):
            slugs.add(payload["slug"])
        cached = self.store.get_object(self.account, op.entity, op.target)
        if cached is not None:
            slugs |= set(cached.payload.get("slugs") or [])
            if isinstance(cached.payload.get("slug"), str):
                slugs.add(cached.payload["slug"])
        slugs.add(op.target)
        return slugs

    def _lease_comfortable(self, op: Operation) -> bool:
        """Whether the lease this worker was given on ``op`` is still far from over."""
        margin = dt.timedelta(seconds=min(5.0, self.lease_seconds / 4))
        expires = op.lease_expires_at
        return expires is not None and self.clock() + margin < expires

    def _check_lease(self, op: Operation) -> None:
        """Never send under a lease that ran out: another worker may own the op now.

        While the lease this worker was given is comfortably valid, nobody else can have
        claimed the operation, so the database is only asked when it is nearly over.
        """
        if self._lease_comfortable(op):
            return
        row = self.store.get_operation(op.op_id)
        expires = None if row is None else row.lease_expires_at
        if row is None or row.lease_owner != self.owner or expires is None:
            raise _LeaseLost()
        if expires <= self.clock():
            raise _LeaseLost()


class _LeaseLost(Exception):
    """The operation's lease ran out or passed to another worker."""


class _Waiting(Exception):
    """The operation's prerequisite is in flight in this pass: try it again after."""


class _Tally:
    """What a pass reports: every outcome counted, the results kept, why it stopped."""

    def __init__(self, stop_after: str | None, progress: Callable[[OpResult], None] | None) -> None:
        self.stop_after = stop_after
        self.progress = progress
        self.results: list[OpResult] = []
        self.totals: dict[str, int] = {}
        self.stopped: str | None = None

    def add(self, op: Operation, result: OpResult) -> None:
        """Count one recorded result (``waiting`` and ``lost`` ones are not results)."""
        if result.outcome in ("waiting", "lost"):
            return
        if self.progress is not None:
            self.progress(result)
        self.totals[result.outcome] = self.totals.get(result.outcome, 0) + 1
        # a long pass keeps its memory flat: every outcome is counted, but only the
        # first KEEP_RESULTS successes are kept (with every result that isn't a plain
        # success, and the one asked for)
        keep = result.outcome != "synced" or self.totals["synced"] <= KEEP_RESULTS
        if keep or op.op_id == self.stop_after:
            self.results.append(result)
        if result.outcome == "deferred" and self.stopped is None:
            self.stopped = "offline"
        elif result.outcome == NEEDS_LOGIN and self.stopped is None:
            self.stopped = NEEDS_LOGIN
        if op.op_id == self.stop_after and self.stopped is None:
            self.stopped = "done"

    def report(self) -> SyncReport:
        """The pass's report."""
        stopped = None if self.stopped == "done" else self.stopped
        return SyncReport(tuple(self.results), stopped=stopped, totals=self.totals)


class _Dispatch:
    """Where the operations of one pass go: inline at concurrency 1; else the fast lane
    for simple creates (:mod:`pymesync.fastlane`) and sending threads (started as
    needed, at most ``concurrency``) for everything else, or after a failed fast
    attempt. :meth:`collect` gathers what has finished from both."""

    def __init__(self, worker: SyncWorker) -> None:
        self.worker = worker
        self.finished: queue.SimpleQueue[tuple[Operation, OpResult | BaseException]]
        self.finished = queue.SimpleQueue()
        self.todo: queue.SimpleQueue[
            tuple[Operation, dt.datetime, errors.PymesyncError | None] | None
        ] = queue.SimpleQueue()
        self.threads: list[threading.Thread] = []
        self.handed = 0
        self.moments: dict[str, dt.datetime] = {}
        # being sent (on the lane or by a thread), and claimed but waiting for a slot
        self.active = 0
        self.backlog: collections.deque[tuple[Operation, dt.datetime]] = collections.deque()
        # The fast lane (pymesync.fastlane) is gone with the transport's direct path:
        # every operation goes to the sending threads.
        self.lane: Any = None

    def send(self, op: Operation, now: dt.datetime) -> None:
        """Start sending ``op`` (once fewer than ``concurrency`` are being sent)."""
        if self.worker.concurrency == 1:
            self.worker._push_into(self.finished, op, now)
        elif self.active < self.worker.concurrency:
            self._start(op, now)
        else:
            self.backlog.append((op, now))

    def _start(self, op: Operation, now: dt.datetime) -> None:
        worker, lane = self.worker, self.lane
        self.active += 1
        token = worker._fast_token(op) if lane is not None and lane.enabled else None
        if lane is not None and token is not None:
            started = lane.start(op, token)
            if started is True:
                self.moments[op.op_id] = now
                return
            if started is not False:
                self._to_thread(op, now, started.error)
                return
        self._to_thread(op, now, None)

    def collect(self, timeout: float | None) -> list[tuple[Operation, OpResult]]:
        """What has finished, waiting up to ``timeout`` (None: for ever) for one."""
        lane = self.lane
        done: list[tuple[Operation, OpResult]] = []
        if lane is None or not len(lane):
            done = _finished(self.finished, timeout)
        else:
            for op, outcome in lane.wait(timeout):
                now = self.moments.pop(op.op_id)
                if isinstance(outcome, OpResult):
                    done.append((op, outcome))
                else:  # the fast attempt failed: a sending thread goes on from there
                    self._to_thread(op, now, outcome.error)
            if not self.finished.empty():
                done += _finished(self.finished, 0)
        if self.worker.concurrency > 1:
            self.active -= len(done)
            while self.backlog and self.active < self.worker.concurrency:
                self._start(*self.backlog.popleft())
        return done

    def close(self) -> None:
        """Stop the sending threads (after their current operation) and the lane."""
        for _ in self.threads:
            self.todo.put(None)
        for thread in self.threads:
            thread.join()
        if self.lane is not None:
            self.lane.close()

    def _to_thread(
        self, op: Operation, now: dt.datetime, prior: errors.PymesyncError | None
    ) -> None:
        self.todo.put((op, now, prior))
        self.handed += 1
        if len(self.threads) < min(self.worker.concurrency, self.handed):
            thread = threading.Thread(target=self._serve, daemon=True)
            thread.start()
            self.threads.append(thread)

    def _serve(self) -> None:
        """A sending thread: pushes what it is handed until handed None."""
        while (item := self.todo.get()) is not None:
            self.worker._push_into(self.finished, *item)
            if self.lane is not None:
                self.lane.wake()  # the pass's thread may be waiting on the lane


def _finished(
    finished: queue.SimpleQueue[tuple[Operation, OpResult | BaseException]],
    timeout: float | None,
) -> list[tuple[Operation, OpResult]]:
    """Every push finished by now, waiting up to ``timeout`` (None: for ever) for one."""
    try:
        done = [_result(*finished.get(timeout=timeout))]
    except queue.Empty:
        return []
    while True:
        try:
            done.append(_result(*finished.get_nowait()))
        except queue.Empty:
            return done


def _result(op: Operation, outcome: OpResult | BaseException) -> tuple[Operation, OpResult]:
    """One finished push, re-raising in the caller's thread what the push raised."""
    if isinstance(outcome, BaseException):
        raise outcome
    return op, outcome


class _NoToken(Exception):
    """No token the server accepts, and no way to get one."""

    def __init__(self, error: errors.PymesyncError) -> None:
        super().__init__(error.message)
        self.error = error


def _expired(token: str, now: dt.datetime) -> bool:
    expires = _expiry_ms(token)
    return expires is not None and expires <= now.timestamp() * 1000


@functools.lru_cache(maxsize=8)
def _expiry_ms(token: str) -> int | None:
    """A token's expiry (decoded once per token, not once per operation sent)."""
    try:
        return tokens.expiration_ms(token)
    except errors.ValidationError:
        return None


def _wait(policy: RetryPolicy) -> Callable[[tenacity.RetryCallState], float]:
    """Full-jitter exponential waits between in-pass retries, at least Retry-After."""

    def wait(state: tenacity.RetryCallState) -> float:
        error = state.outcome.exception() if state.outcome is not None else None
        return policy.pass_delay(state.attempt_number, getattr(error, "retry_after", None))

    return wait
