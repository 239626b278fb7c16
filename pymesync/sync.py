"""Pushing queued operations to TimeSync, in order.

:class:`SyncWorker` claims operations from the store in short transactions (under a
lease), sends them from a :class:`concurrent.futures.ThreadPoolExecutor` over the
transport's one ``requests.Session``, and records each outcome (successes acked
together, one commit for many). Failures are sorted: transient ones (network, 5xx,
429) stop the pass and come back later with exponential backoff and full jitter; a
rejected token stops the pass in a visible "needs login" state; permanent ones (bad
object, not authorized, ...) mark that operation failed, kept for the user to see, and
the pass goes on. Anything else that goes wrong while handling one operation (a bug, a
payload the engine cannot handle) fails that operation, never the pass.

A write whose request may have reached the server is never sent again before the
server has been asked whether it did arrive (reconciliation, :mod:`pymesync.sender`);
one whose answer timed out is only looked for after waiting at least the request's
deadline again (counted from the moment it timed out), since a slow server may still
be committing it; a time entry that this first look does not find is looked for once
more, :attr:`RetryPolicy.settle_deadlines` deadlines after the timeout, before it is sent
again (TimeSync cannot deduplicate creates: a server slow to commit costs a little
delay, never a duplicate).

Decisions are values (:class:`RetryPolicy`, :class:`OpResult`, :class:`SyncReport`),
so the loop itself stays a thin step that carries them out.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import random
import threading
import time
import uuid
from collections.abc import Callable
from concurrent import futures
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Literal

from pymesync import errors, tokens
from pymesync.reconcile import ConflictPolicy, same_entry
from pymesync.sender import Attempt, Held, Sender
from pymesync.status import NEEDS_LOGIN, utcnow
from pymesync.transport import DEFAULT_TIMEOUT, default_deadline

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
#: Why a pass ended early (see :attr:`SyncReport.stopped`).
Stopped = Literal["offline", "needs_login", "stopped", "budget"]
#: How often a pass looks at ``should_stop`` and its time budget while requests are out.
POLL = 0.1
#: How long a stopping pass lets abandoned requests finish (after aborting them)
#: before it gives their operations back itself.
ABANDON_GRACE = 1.0


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
    #: A time entry whose create timed out (or was abandoned in flight) and that the
    #: first look, a request's deadline later, does not find on the server is looked for
    #: once more this many request deadlines after the timeout before it is sent again:
    #: the server may still have been committing it. TimeSync has no idempotency key, so
    #: no wait makes a resend certain; a longer one only makes a duplicate less likely
    #: (a request that was really lost costs this much delay).
    settle_deadlines: float = 3.0

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
        """Whether ``error`` is worth another attempt within the same pass: a transient
        one with a short (or no) Retry-After, but never a write whose answer timed out
        (a slow server may still be carrying it out: it is looked for in a later pass)."""
        return (
            isinstance(error, errors.PymesyncError)
            and error.transient
            and not (error.timed_out and error.maybe_sent)
            and (error.retry_after or 0) <= self.pass_cap
        )


class RateLimiter:
    """Spaces requests evenly to at most ``rate`` per second (shared by all threads)."""

    def __init__(self, rate: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.interval = 1.0 / rate
        self.clock = clock
        self._next = 0.0
        self._lock = threading.Lock()

    def acquire(self, stop: threading.Event | None = None) -> None:
        """Wait for the next free slot (or until ``stop`` is set)."""
        with self._lock:
            now = self.clock()
            slot = max(now, self._next)
            self._next = slot + self.interval
        if slot > now:
            if stop is None:
                time.sleep(slot - now)
            else:
                stop.wait(slot - now)


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
    #: Whether the server object was found by reconciliation (reserved for this
    #: operation) rather than made by this operation's own request.
    adopted: bool = False


@dataclass(frozen=True)
class SyncReport:
    """The results of one pass, in the order the operations finished.

    ``totals`` counts every outcome of the pass. So that draining a long queue takes
    flat memory, ``results`` holds the first ``KEEP_RESULTS`` successes and every result
    that is not a plain success.

    ``stopped`` says why the pass ended early: ``"offline"`` (the server could not be
    reached or answered with a transient error), ``"needs_login"``, ``"stopped"``
    (``should_stop`` said so) or ``"budget"`` (the pass's time budget ran out); ``None``
    when nothing claimable was left.
    """

    results: tuple[OpResult, ...] = ()
    totals: dict[str, int] = field(default_factory=dict)
    stopped: Stopped | None = None

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
    is what the short in-pass retries wait with (injectable for tests; by default a
    wait that a stopping pass cuts short). ``concurrency`` is how many operations may
    be in flight at once; ``requests_per_second`` caps the request rate for servers
    that need it.
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
        sleep: Callable[[float], None] | None = None,
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
        self.sleep: Callable[[float], None] = sleep or self._pausable_sleep
        self.concurrency = max(1, concurrency)
        self.limiter = RateLimiter(requests_per_second) if requests_per_second else None
        #: Operations of the running pass that are claimed and not yet recorded.
        self._busy: dict[str, Operation] = {}
        self._busy_lock = threading.Lock()
        self._per_thread = threading.local()
        self._token_memo: tuple[str | None] | None = None
        #: Set when a pass stops: in-pass waits end, no new request starts.
        self._stopping = threading.Event()
        #: The time budget of the pass under way (None: none), for :attr:`claim_lease`.
        self._pass_budget: float | None = None
        #: Whether the last pass ended with the server unreachable: the next one starts
        #: with a single request (a probe) and widens once it succeeds.
        self.server_down = False
        self.sender = Sender(
            store,
            transport,
            account,
            conflict_policy=conflict_policy,
            clock=clock,
            before_request=self._before_request,
        )
        self._parents: list[Operation] | None = None

    # ------------------------------------------------------------------ timings

    @property
    def request_span(self) -> float:
        """The longest one request may take, in seconds: the transport's deadline (or,
        for a transport without one, that of the default timeout)."""
        return self.transport.deadline or default_deadline(DEFAULT_TIMEOUT) or DEFAULT_TIMEOUT

    @property
    def lease_margin(self) -> float:
        """Lease left over, beyond one request's deadline, before an attempt starts."""
        return min(5.0, self.lease_seconds / 4)

    @property
    def effective_lease(self) -> float:
        """Seconds a claim leases operations for: at least long enough for a request
        and its margin, so that a request this worker started always ends (on its side)
        before another worker may take the operation over."""
        return max(self.lease_seconds, self.request_span + 2 * self.lease_margin)

    @property
    def claim_lease(self) -> float:
        """Seconds this pass leases operations for: :attr:`effective_lease`, or, in a
        pass with a time budget, no longer than the budget plus one request and its
        margins (nothing is sent once the budget is spent). A process killed during a
        short pass (the command line's push) holds its operations that long, not for
        the whole lease."""
        lease = self.effective_lease
        if self._pass_budget is None:
            return lease
        return min(lease, self._pass_budget + self.request_span + 2 * self.lease_margin)

    @property
    def _chunk(self) -> int:
        """Operations claimed together (one short transaction, one commit)."""
        return max(1, 2 * self.concurrency)

    def _window(self, probing: bool) -> int:
        """Operations claimed at once: those being sent, and up to a chunk more waiting
        for a free thread, so that claims come in whole chunks (a claim is a commit, an
        fsync) while ``concurrency`` requests stay in flight. One while probing a server
        that was down."""
        if probing or self.concurrency == 1:
            return 1
        return self.concurrency + self._chunk

    # ------------------------------------------------------------------ one pass

    def expedite(self) -> int:
        """Make every operation of the account that is backing off after a transient
        failure due now (failed ones still wait for an explicit retry); how many."""
        return self.store.expedite(self.account, now=self.clock())

    def run_once(
        self,
        now: dt.datetime | None = None,
        *,
        stop_after: str | None = None,
        progress: Callable[[OpResult], None] | None = None,
        should_stop: Callable[[], bool] | None = None,
        budget: float | None = None,
    ) -> SyncReport:
        """One pass: send claimable operations in queue order until none is left, the
        server is unreachable, no token is accepted, ``stop_after`` has been sent,
        ``should_stop()`` says so, or ``budget`` seconds have passed. ``progress`` is
        called with each operation's result.

        Up to ``concurrency`` operations are in flight at once, never two on the same
        object, and a time never before the project or activity it refers to. A pass
        that stops (``should_stop`` or the budget) starts nothing new and abandons the
        requests in flight within about a second: their operations go back to the queue
        marked "may have been sent", to be reconciled by a later pass.
        """
        tally = _Tally(stop_after, progress)
        started = time.monotonic()
        ends = None if budget is None else started + budget
        running: dict[futures.Future[OpResult], Operation] = {}
        # finished, not yet recorded: successes are acked together (group commit)
        ready: list[tuple[Operation, OpResult]] = []
        ack_by: float | None = None
        drained = False
        probing = self.server_down
        # this pass's own stop signal: a thread a stopped pass left behind keeps seeing
        # its pass stopped, whatever later passes do
        stopping = self._stopping = threading.Event()
        self._pass_budget = budget
        pool = futures.ThreadPoolExecutor(self.concurrency, thread_name_prefix="pymesync-sync")
        try:
            while True:
                if tally.stopped is None:
                    if should_stop is not None and should_stop():
                        tally.stopped = "stopped"
                    elif ends is not None and time.monotonic() >= ends:
                        tally.stopped = "budget"
                if tally.stopped in ("stopped", "budget") and running:
                    self._abandon(running, now, tally)
                    running.clear()
                window = self._window(probing)
                free = window - len(running)
                # claim in chunks (one short transaction for several operations)
                # (once a claim came back short, the queue is drained: the next claim
                # waits until everything in flight is done)
                chunk_free = free >= min(window, self._chunk) and not drained
                if tally.stopped is None and free > 0 and (not running or chunk_free):
                    # (the pass's clock moves on from ``now``: a lease taken an hour into
                    # a long pass must not have run out when it is taken)
                    mark = time.monotonic()
                    moment = (
                        self.clock() if now is None else now + dt.timedelta(seconds=mark - started)
                    )
                    for op in self._claim(moment, free):
                        push = pool.submit(self._push_safe, op, moment, stopping, mark)
                        running[push] = op
                    drained = len(running) < window
                if not running and not ready:
                    break
                if running:
                    wait_for = None if ack_by is None else max(0.0, ack_by - time.monotonic())
                    if should_stop is not None or ends is not None:
                        wait_for = POLL if wait_for is None else min(wait_for, POLL)
                    done, _ = futures.wait(running, wait_for, futures.FIRST_COMPLETED)
                    for future in done:
                        op = running.pop(future)
                        result = future.result()  # _push_safe raises only what is fatal
                        ready.append((op, result))
                        if probing and result.outcome in ("synced", "failed"):
                            probing = False  # the server answers again: full speed
                            self._after_outage(now)
                        if ack_by is None:
                            ack_by = time.monotonic() + ACK_DELAY
                if not self._time_to_ack(ready, bool(running), ack_by):
                    continue
                done_ops, ready, ack_by = ready, [], None
                self._record(done_ops, tally, now)
        except BaseException:
            # Ctrl-C or a broken store: what finished is recorded, and nothing in
            # flight is left leased to us
            with contextlib.suppress(Exception):
                self._record(ready, tally, now)
            self._abandon(running, now, tally)
            raise
        finally:
            stopping.set()
            pool.shutdown(wait=False, cancel_futures=True)
            with self._busy_lock:
                self._busy.clear()
        self.server_down = tally.stopped == "offline"
        if tally.totals.get("synced"):
            self._record_success(now or self.clock())
        return tally.report()

    def _claim(self, moment: dt.datetime, limit: int) -> list[Operation]:
        """Lease up to ``limit`` operations, and forget what the previous claim round
        looked up (project/activity ops, cached projects, the token may have changed)."""
        self._parents = None
        self.sender.forget()
        self._token_memo = None
        claimed = self.store.claim(
            self.account, self.owner, self.claim_lease, now=moment, limit=limit
        )
        with self._busy_lock:
            for op in claimed:
                self._busy[op.op_id] = op
        return claimed

    def _record(
        self, done: list[tuple[Operation, OpResult]], tally: _Tally, now: dt.datetime | None
    ) -> None:
        """Ack the successes among ``done`` together; count every result."""
        synced = [r for _, r in done if r.outcome == "synced"]
        acked = self._ack(synced, now)
        for op, result in done:
            with self._busy_lock:
                self._busy.pop(op.op_id, None)
            if result.outcome == "synced" and op.op_id not in acked:
                if result.adopted:  # (gone meanwhile: nothing to look again for)
                    with contextlib.suppress(errors.StaleOperationError):
                        self._adoption_lost(op, now or self.clock())
                continue  # (or another worker took it over after our lease ran out)
            tally.add(op, result)

    def _after_outage(self, now: dt.datetime | None) -> None:
        """The first success after the server was down: everything that was backing
        off because of it is due now (the backoff is the server's, not each op's)."""
        self.server_down = False
        self.store.expedite(self.account, now=now or self.clock())

    def _adoption_lost(self, op: Operation, now: dt.datetime) -> None:
        """An adopted server object turned out to be another create's: look again."""
        self._look_again(op, "the server entry found for it belongs to another queued entry", now)

    def _look_again(
        self,
        op: Operation,
        message: str,
        now: dt.datetime,
        look_after: dt.datetime | None = None,
        resend_after: dt.datetime | None = None,
    ) -> None:
        """Give ``op`` back to the queue as "may have been sent": it is looked for on the
        server (not before ``look_after``, if given) before anything is sent again (and,
        while not found, not sent before ``resend_after``, if given)."""
        error: dict[str, Any] = {
            "status": None,
            "body": None,
            "message": message,
            "maybe_sent": True,
        }
        if look_after is not None:
            error["look_after"] = look_after.isoformat()
        if resend_after is not None:
            error["resend_after"] = resend_after.isoformat()
        self.store.fail(
            op.op_id,
            error=error,
            permanent=False,
            count_attempt=False,
            now=now,
            owner=self.owner,
        )

    def _abandon(
        self,
        running: dict[futures.Future[OpResult], Operation],
        now: dt.datetime | None,
        tally: _Tally,
    ) -> None:
        """Stop the requests in flight: abort their connections, give them a moment to
        record their own outcome, and give back the leases of those still out (marked
        "may have been sent": a later pass reconciles before resending)."""
        self._stopping.set()
        for future, op in running.items():
            if future.cancel():  # never started: nothing was sent
                with contextlib.suppress(Exception):
                    self.store.release(op.op_id, now=self.clock())
        if all(future.done() for future in running):
            return
        self.transport.abort()
        futures.wait(running, ABANDON_GRACE)
        done = [
            (op, f.result())
            for f, op in running.items()
            if f.done() and not f.cancelled() and not f.exception()
        ]
        with contextlib.suppress(Exception):
            self._record(done, tally, now)
        for future, op in running.items():
            if not future.done():  # still out: it may have reached the server
                with contextlib.suppress(Exception):  # else the lease runs out by itself
                    self._give_back(op, None)

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
        self._clear_needs_login()

    def _clear_needs_login(self) -> None:
        if self.store.get_state(self.account, NEEDS_LOGIN):
            self.store.set_state(self.account, NEEDS_LOGIN, False)

    # ------------------------------------------------------------------ one operation

    def _ack(self, results: list[OpResult], now: dt.datetime | None) -> set[str]:
        """Record accepted operations, all in one transaction; returns the op_ids that
        were still ours to ack."""
        if not results:
            return set()
        items = [(r.op_id, r.canonical, r.server_key) for r in results]
        adopted = {r.op_id for r in results if r.adopted}
        return set(self.store.ack_many(items, now=now or self.clock(), adopted=adopted))

    def _push_safe(
        self, op: Operation, now: dt.datetime, stopping: threading.Event, mark: float
    ) -> OpResult:
        """:meth:`_push`, with a lost lease or a vanished operation as outcome "lost",
        and anything unexpected while handling this one operation recorded as its
        failure (the pass, and the other operations, go on). ``stopping`` is the pass's
        stop signal: once set, this push starts no request and gives the lease back.
        ``now`` is the pass's time when ``op`` was claimed, ``mark`` the
        :func:`time.monotonic` reading at that moment."""
        attempt = Attempt(unknown=False)
        lost = OpResult(op.op_id, op.entity, op.kind, op.target, "lost")
        self._per_thread.push = _Push(op, attempt, stopping)
        try:
            return self._push(op, now, attempt, mark)
        except _Abandoned:
            with contextlib.suppress(errors.StaleOperationError):
                self._give_back(op, attempt)
            return lost
        except (_LeaseLost, errors.StaleOperationError):
            return lost
        except Exception as exc:  # a poison operation: kept as failed, with the reason
            try:
                return self._poisoned(op, exc, attempt, now)
            except errors.StaleOperationError:  # (no longer ours to record)
                return lost
        finally:
            self._per_thread.push = None

    def _give_back(self, op: Operation, attempt: Attempt | None) -> None:
        """The pass stopped before ``op`` was done: its lease goes back. One that may
        have reached the server is marked so, and looked for only after a request's
        deadline (a slow server may still be carrying it out)."""
        moment = self.clock()
        if attempt is not None and not attempt.unknown:
            self.store.release(op.op_id, now=moment, owner=self.owner)
            return
        later = moment + dt.timedelta(seconds=self.request_span)
        message = "the sync stopped while this was being sent"
        self._look_again(op, message, moment, later, self._resend_after(op, moment))

    def _poisoned(
        self, op: Operation, exc: Exception, attempt: Attempt, now: dt.datetime
    ) -> OpResult:
        message = f"could not be sent: {type(exc).__name__}: {exc}"[:500]
        record: dict[str, Any] = {"status": None, "body": None, "message": message}
        if attempt.unknown:
            record["maybe_sent"] = True
        self.store.fail(op.op_id, error=record, permanent=True, now=now, owner=self.owner)
        error = errors.PymesyncError(message)
        return OpResult(op.op_id, op.entity, op.kind, op.target, "failed", error=error)

    def _push(self, op: Operation, now: dt.datetime, attempt: Attempt, mark: float) -> OpResult:
        """Send ``op``: reconciling first where it may have been sent already."""
        base = OpResult(op.op_id, op.entity, op.kind, op.target, "synced")
        last = op.last_error or {}
        attempt.unknown = op.outcome_unknown or bool(last.get("maybe_sent"))
        if attempt.unknown:
            settle = _parse_time(last.get("resend_after"))
            attempt.settle_until = settle if settle is not None and settle > now else None
        try:
            if attempt.unknown:
                self._check_look_after(op, last, now)
            self._check_prerequisites(op)
            if attempt.unknown:
                self._check_twins(op)
            answer, canonical, key = self._send_with_retries(op, attempt)
        except _Waiting:
            self.store.release(op.op_id, now=now, owner=self.owner)
            return replace(base, outcome="waiting")
        except Held as held:
            error = {"status": None, "body": None, "message": held.reason, "held": True}
            if attempt.unknown:
                error["maybe_sent"] = True
                if held.look_after is not None:
                    error["look_after"] = held.look_after.isoformat()
                _keep_resend_after(last, error)
            self.store.fail(
                op.op_id,
                error=error,
                permanent=held.conflict,
                conflict=held.conflict,
                next_attempt_at=None
                if held.conflict
                else now + dt.timedelta(seconds=held.retry_in),
                count_attempt=False,
                now=now,
                owner=self.owner,
            )
            outcome: Outcome = "failed" if held.conflict else "held"
            return replace(base, outcome=outcome)
        except _NoToken as missing:
            self.store.release(op.op_id, now=now, owner=self.owner)
            self.store.set_state(self.account, NEEDS_LOGIN, True)
            if isinstance(missing.error, errors.TimeSyncError):
                record = {**error_record(missing.error), "at": now.isoformat()}
                self.store.set_state(self.account, "last_error", record)
            return replace(base, outcome="needs_login", error=missing.error)
        except errors.PymesyncError as error:
            # (the moment it failed: the claim's, plus the time spent since)
            ended = now + dt.timedelta(seconds=max(0.0, time.monotonic() - mark))
            return self._failed(op, base, error, attempt, ended)
        # acked by the caller, together with the others that finished meanwhile
        return replace(
            base, answer=answer, canonical=canonical, server_key=key, adopted=attempt.adopted
        )

    def _check_look_after(self, op: Operation, last: dict[str, Any], now: dt.datetime) -> None:
        """An operation that may have been sent is looked for on the server only once
        any request of its that may still be running there is surely over: at least a
        request's deadline after its last answer timed out, or after the lease of a
        sender that vanished ran out."""
        after = _parse_time(last.get("look_after"))
        if op.outcome_unknown:  # its sender vanished: whatever it sent is over by then
            expired = _parse_time(last.get("lease_expired_at")) or now
            vanished = expired + dt.timedelta(seconds=self.request_span)
            after = vanished if after is None else max(after, vanished)
        if after is not None and after > now:
            wait = (after - now).total_seconds()
            raise Held(
                f"may have reached the server: looking for it in {wait:.0f} s",
                retry_in=wait,
                look_after=after,
            )

    def _check_twins(self, op: Operation) -> None:
        """A create being reconciled waits while an identical create is being sent in
        this pass: it could adopt the entry that one is making."""
        if op.kind != "create" or not op.payload:
            return
        with self._busy_lock:
            others = [o for o in self._busy.values() if o.op_id != op.op_id]
        for other in others:
            if (
                other.kind == "create"
                and other.entity == op.entity
                and same_entry(op.entity, op.payload, other.payload or {})
                # a twin being made now, or one looking for its own (the older goes first)
                and (not _maybe_sent(other) or other.id < op.id)
            ):
                raise _Waiting()

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
            if attempt.unknown and error.timed_out:
                # a slow server may still be committing it: look only after that long
                # (from now, the moment it timed out), and a time entry not found then
                # once more before sending it again
                wait = max(wait, self.request_span)
                look_after = now + dt.timedelta(seconds=self.request_span)
                record["look_after"] = look_after.isoformat()
                resend_after = self._resend_after(op, now)
                if resend_after is not None:
                    record["resend_after"] = resend_after.isoformat()
            if attempt.unknown:
                _keep_resend_after(op.last_error or {}, record)
            self.store.fail(
                op.op_id,
                error=record,
                permanent=False,
                next_attempt_at=now + dt.timedelta(seconds=wait),
                now=now,
                owner=self.owner,
            )
            return replace(base, outcome="deferred", error=error)
        self.store.fail(op.op_id, error=record, permanent=True, now=now, owner=self.owner)
        return replace(base, outcome="failed", error=error)

    def _resend_after(self, op: Operation, now: dt.datetime) -> dt.datetime | None:
        """For a time entry's create whose request ended unanswered at ``now`` (timed
        out or abandoned): when it may be sent again if the looks do not find it (see
        :attr:`RetryPolicy.settle_deadlines`). None for anything else (a project,
        activity or user has a unique key: a second create of it fails and is adopted)."""
        if op.kind != "create" or op.entity != "time":
            return None
        settle = max(1.0, self.policy.settle_deadlines) * self.request_span
        return now + dt.timedelta(seconds=settle)

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
            token = self._relogin(attempt) or token
        if token is None:
            raise _NoToken(errors.NotAuthenticatedError("no token for " + self.account))
        return token

    def _relogin(self, attempt: Attempt) -> str | None:
        if attempt.relogged or self.relogin is None:
            return None
        attempt.relogged = True
        try:
            fresh = self.relogin()
        except errors.PymesyncError:
            return None
        finally:
            self._token_memo = None
        if fresh is not None:
            self._clear_needs_login()
        return fresh

    def _send_with_retries(
        self, op: Operation, attempt: Attempt
    ) -> tuple[Any, dict[str, Any] | None, str | None]:
        """:meth:`_attempt`, retried a few times within this pass for transient errors
        (backoff with full jitter, honouring a short Retry-After); a refused token means
        one new login, without spending an attempt."""
        for round_ in self._retrying(self.policy.pass_attempts):
            with round_:
                try:
                    return self._attempt(op, attempt, self._token(attempt))
                except errors.TokenRejectedError as rejected:
                    fresh = self._relogin(attempt)
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

    def _before_request(self) -> None:
        """Before every request of a push: none once its pass is stopping; the rate
        limit, if any (a wait its pass's stop cuts short); and a lease that outlives
        the request (renewed if need be, or found lost)."""
        push: _Push | None = getattr(self._per_thread, "push", None)
        if push is None:
            if self.limiter is not None:
                self.limiter.acquire()
            return
        if push.stopping.is_set():
            raise _Abandoned()
        if self.limiter is not None:
            self.limiter.acquire(push.stopping)
            if push.stopping.is_set():
                raise _Abandoned()
        self._check_lease(push.op, push.attempt)

    def _pausable_sleep(self, seconds: float) -> None:
        """The in-pass wait between retries, cut short when the pass stops."""
        push: _Push | None = getattr(self._per_thread, "push", None)
        if push is None:
            time.sleep(seconds)
        elif push.stopping.wait(seconds):
            raise _Abandoned()

    # ------------------------------------------------------------------ helpers

    def _check_prerequisites(self, op: Operation) -> None:
        """A time waits for the queued project or activity it refers to: while that one
        is in flight in this pass, the time goes back to the queue (``_Waiting``);
        while it is failed, backing off or blocked, the time is held."""
        if op.entity != "time" or op.kind == "delete" or not op.payload:
            return
        wanted = {("project", _hashable(op.payload.get("project")))}
        wanted |= {("activity", _hashable(slug)) for slug in _listed(op.payload, "activities")}
        for earlier in self._parent_ops():
            if earlier.id >= op.id or earlier.kind == "delete":
                continue
            slugs = self._slugs_of(earlier)
            hit = next(
                (slug for kind, slug in wanted if kind == earlier.entity and slug in slugs), None
            )
            if hit is None:
                continue
            with self._busy_lock:
                busy = earlier.op_id in self._busy
            if busy:
                raise _Waiting()
            state = "failed" if earlier.state in ("failed", "conflict") else "waiting"
            raise Held(
                f"waiting for {earlier.entity} {hit} ({state} in the queue)",
                retry_in=60.0 if state == "failed" else 5.0,
            )

    def _parent_ops(self) -> list[Operation]:
        """The queued project and activity operations, read at most once per claim
        round (they are few; times are many)."""
        parents = self._parents
        if parents is None:
            parents = self.store.operations(self.account, entities=("project", "activity"))
            self._parents = parents
        return parents

    def _slugs_of(self, op: Operation) -> set[str]:
        payload = op.payload or {}
        slugs = {s for s in _listed(payload, "slugs") if isinstance(s, str)}
        if isinstance(payload.get("slug"), str):
            slugs.add(payload["slug"])
        cached = self.store.get_object(self.account, op.entity, op.target)
        if cached is not None:
            slugs |= {s for s in _listed(cached.payload, "slugs") if isinstance(s, str)}
            if isinstance(cached.payload.get("slug"), str):
                slugs.add(cached.payload["slug"])
        slugs.add(op.target)
        return slugs

    def _check_lease(self, op: Operation, attempt: Attempt) -> None:
        """Never send under a lease that could run out before the request is over:
        another worker may take the operation over then. With less than a request's
        deadline (and a margin) left, the lease is renewed first, or found lost."""
        now = self.clock()
        needed = dt.timedelta(seconds=self.request_span + self.lease_margin)
        expires = attempt.lease_until or op.lease_expires_at
        if expires is not None and now + needed < expires:
            return
        until = now + dt.timedelta(seconds=self.claim_lease)
        if not self.store.renew(op.op_id, self.owner, until, now=now):
            raise _LeaseLost()
        attempt.lease_until = until


def _hashable(value: Any) -> Any:
    """``value`` if it can be a set member (a slug), else its text (never a match)."""
    try:
        hash(value)
    except TypeError:
        return repr(value)
    return value


def _listed(payload: dict[str, Any], key: str) -> list[Any]:
    """``payload[key]`` when it is a list, else nothing."""
    value = payload.get(key)
    return value if isinstance(value, list) else []


def _parse_time(value: Any) -> dt.datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=dt.timezone.utc)


def _keep_resend_after(last: dict[str, Any], record: dict[str, Any]) -> None:
    """Carry the settle window of an earlier timeout (``resend_after``) over into the
    new error record of an operation that may have been sent, unless it has its own."""
    if "resend_after" in last and "resend_after" not in record:
        record["resend_after"] = last["resend_after"]


def _maybe_sent(op: Operation) -> bool:
    """Whether ``op`` may have reached the server (it is being reconciled)."""
    return op.outcome_unknown or bool((op.last_error or {}).get("maybe_sent"))


@dataclass(frozen=True)
class _Push:
    """The push a sending thread is carrying out (thread-local)."""

    op: Operation
    attempt: Attempt
    stopping: threading.Event


class _LeaseLost(Exception):
    """The operation's lease ran out or passed to another worker."""


class _Abandoned(Exception):
    """The pass is stopping: this operation is not sent (any more)."""


class _Waiting(Exception):
    """The operation's prerequisite is in flight in this pass: try it again after."""


class _Tally:
    """What a pass reports: every outcome counted, the results kept, why it stopped."""

    def __init__(self, stop_after: str | None, progress: Callable[[OpResult], None] | None) -> None:
        self.stop_after = stop_after
        self.progress = progress
        self.results: list[OpResult] = []
        self.totals: dict[str, int] = {}
        #: why the pass ends early; "done" once ``stop_after`` has been recorded
        self.stopped: Stopped | Literal["done"] | None = None

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
        elif result.outcome == "needs_login" and self.stopped is None:
            self.stopped = "needs_login"
        if op.op_id == self.stop_after and self.stopped is None:
            self.stopped = "done"

    def report(self) -> SyncReport:
        """The pass's report."""
        stopped = None if self.stopped == "done" else self.stopped
        return SyncReport(tuple(self.results), stopped=stopped, totals=self.totals)


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
