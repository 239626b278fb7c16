"""The offline-first backend: every write through the durable queue, reads with a cache.

A write is validated by the facade, then appended to the store's queue together with
its provisional object in ONE transaction (durable when the call returns). In the
default ``"auto"`` mode the queue is then pushed at once, earlier operations first, and
the server's answer returned; when the server cannot be reached the provisional object
is returned instead and the operation waits for the next sync. ``"queue"`` mode never
pushes inline (a daemon does it).

A read asks the server, refreshes the cache and applies the user's pending changes;
when the server cannot be reached it is answered from the cache (:mod:`pymesync.cached`).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from pymesync import accounts, cached, errors, provisional
from pymesync.backend import DirectBackend, roles_by_user
from pymesync.credentials import Credentials, from_environment
from pymesync.reconcile import ConflictPolicy
from pymesync.sender import server_key
from pymesync.status import NEEDS_LOGIN, account_status, op_record, problem_ops, utcnow
from pymesync.transport import Transport
from pymesync.validation import NOT_AUTHENTICATED, Entity, EntityQuery, TimesQuery

if TYPE_CHECKING:
    from pathlib import Path

    from pymesync.store import CacheObject, NewOperation, Operation, Store

    # (imported when a push starts: a write that is only queued never needs the engine)
    from pymesync.sync import OpResult, SyncReport, SyncWorker

Mode = Literal["auto", "queue"]
PENDING_STATES = ("pending", "inflight")
_T = TypeVar("_T")


@dataclass(frozen=True)
class ReadInfo:
    """Where the last read's answer came from.

    ``source`` is ``"server"`` or ``"cache"``; ``fetched_at`` is when the cached data was
    last refreshed from the server (None if never); ``age`` its age in seconds.
    """

    source: Literal["server", "cache"]
    fetched_at: dt.datetime | None
    age: float | None

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready form."""
        return {
            "source": self.source,
            "fetched_at": None if self.fetched_at is None else self.fetched_at.isoformat(),
            "age": self.age,
        }


def unreachable(error: errors.PymesyncError) -> bool:
    """Whether an error means "the server can't be reached right now"."""
    return error.transient


class OfflineBackend:
    """Backend of ``TimeSync`` in the ``auto`` and ``queue`` modes."""

    def __init__(
        self,
        transport: Transport,
        *,
        db: str | os.PathLike[str] | None = None,
        mode: Mode = "auto",
        max_age: float | None = None,
        conflict_policy: ConflictPolicy = "local",
        concurrency: int = 16,
        requests_per_second: float | None = None,
        write_budget: float | None = 2.0,
        store_pool: bool = True,
        lease_seconds: float = 120.0,
        offline_retry: float = 10.0,
        clock: Callable[[], dt.datetime] = utcnow,
    ) -> None:
        self.transport = transport
        self.direct = DirectBackend(transport)
        self.db = db
        self.mode = mode
        self.max_age = max_age
        self.conflict_policy = conflict_policy
        self.concurrency = concurrency
        self.requests_per_second = requests_per_second
        #: The longest an ``auto``-mode write waits for its push before it returns the
        #: queued answer (None: no bound).
        self.write_budget = write_budget
        self.store_pool = store_pool
        #: How long a claimed operation stays leased to one sender (a crashed sender's
        #: operation comes back, as "outcome unknown", after this long).
        self.lease_seconds = lease_seconds
        #: Seconds after the server was found unreachable during which writes are only
        #: queued and reads answered from the cache without trying it again.
        self.offline_retry = offline_retry
        self.clock = clock
        self.last_read: ReadInfo | None = None
        self._store: Store | None = None
        self._batch: list[tuple[NewOperation, CacheObject | None]] | None = None
        self._batch_projects: dict[str, dict[str, Any] | None] | None = None
        #: The ids drawn at random for the batch's operations and created objects.
        self._batch_new_ids: set[str] | None = None
        self._account_memo: tuple[str, str, str] | None = None  # (baseurl, token, account)
        self._offline_until: dt.datetime | None = None
        self._token: Callable[[], str | None] = lambda: None
        self._credentials: Callable[[], Credentials | None] = lambda: None
        self._new_token: Callable[[str], None] = lambda token: None
        self._user: Callable[[], str | None] = lambda: None

    # ------------------------------------------------------------------ plumbing

    @property
    def store(self) -> Store:
        """The local store, opened (and migrated) on first use."""
        if self._store is None:
            from pymesync.store import Store

            self._store = Store.open(self.db, pooled=self.store_pool)
        return self._store

    @property
    def store_path(self) -> Path:
        """The store's absolute path (resolved, not opened, while the store is closed)."""
        if self._store is not None:
            return self._store.path
        from pymesync.store.location import resolve_path

        return resolve_path(self.db)

    def close(self) -> None:
        """Close the store."""
        if self._store is not None:
            self._store.close()
            self._store = None

    def bind_session(
        self,
        token: Callable[[], str | None],
        credentials: Callable[[], Credentials | None],
        new_token: Callable[[str], None],
        user: Callable[[], str | None] = lambda: None,
    ) -> None:
        """Tell the backend how to read the facade's token and in-memory credentials,
        how to hand it a token got by logging in again, and whose queue a call without
        a token works on (``user()``: the username of a resumed client, else None)."""
        self._token = token
        self._credentials = credentials
        self._new_token = new_token
        self._user = user

    def token_for(self, account: str) -> str | None:
        """The facade's token when it belongs to ``account``, else the stored one."""
        token = self._token()
        if token and self.account(token) == account:
            return token
        return self.store.load_token(account)

    def relogin(self, account: str) -> str | None:
        """Log in again for ``account`` with the process's own credentials or those in
        the environment; store and return the new token (None: no way to log in)."""
        username = accounts.split(account)[1]
        mine = self._credentials()
        creds = mine if mine is not None and mine.username == username else None
        creds = creds or from_environment(username)
        if creds is None:
            return None
        answer = self.direct.login(creds.username, creds.password, creds.auth_type)
        token = answer.get("token") if isinstance(answer, dict) else None
        if not isinstance(token, str) or not token or self.account(token) != account:
            return None
        self.store.save_token(account, token)
        if self.account(self._token() or token) == account:
            self._new_token(token)
        return token

    def account(self, token: str) -> str:
        """The account key of ``token`` (the last one is remembered: decoding the token
        on every write cost as much as queueing it in a batch).

        An empty ``token`` stands for "not logged in": the account is then the resumed
        user's (``<baseurl>|<username>``, the key a login for that user gives too)."""
        baseurl, memo = self.transport.baseurl, self._account_memo
        if not token:
            user = self._user()
            if not user:
                raise errors.NotAuthenticatedError(NOT_AUTHENTICATED)
            return accounts.user_account(baseurl, user)
        if memo is not None and memo[1] == token and memo[0] == baseurl:
            return memo[2]
        account = accounts.account_key(baseurl, token)
        self._account_memo = (baseurl, token, account)
        return account

    def _is_offline(self, now: dt.datetime) -> bool:
        return self._offline_until is not None and now < self._offline_until

    def _went_offline(self, now: dt.datetime, error: errors.PymesyncError | None = None) -> None:
        self._offline_until = now + dt.timedelta(seconds=self.offline_retry)
        if error is not None and self._store is not None:
            from pymesync.sync import error_record

            with contextlib.suppress(errors.PymesyncError):
                token = self._token()
                if token:
                    self.store.set_state(
                        self.account(token),
                        "last_error",
                        {**error_record(error), "at": now.isoformat()},
                    )

    def worker(self, token: str) -> SyncWorker:
        """A sync worker for the account of ``token``."""
        return self.worker_for(self.account(token))

    def worker_for(self, account: str) -> SyncWorker:
        """A sync worker for ``account`` (its token: the facade's or the stored one)."""
        from pymesync.sync import SyncWorker

        return SyncWorker(
            self.store,
            self.transport,
            account,
            lambda: self.token_for(account),
            relogin=lambda: self.relogin(account),
            conflict_policy=self.conflict_policy,
            lease_seconds=self.lease_seconds,
            clock=self.clock,
            concurrency=self.concurrency,
            requests_per_second=self.requests_per_second,
        )

    def sync(
        self,
        token: str,
        *,
        stop_after: str | None = None,
        progress: Callable[[OpResult], None] | None = None,
        budget: float | None = None,
        should_stop: Callable[[], bool] | None = None,
    ) -> SyncReport:
        """Push the account's queue now: operations backing off after a transient
        failure are tried at once too (failed ones wait for an explicit retry).
        ``budget``: seconds the whole pass may take; ``should_stop``: asked while the
        pass runs, True ends it early (see :meth:`SyncWorker.run_once`)."""
        worker = self.worker(token)
        worker.expedite()
        report = worker.run_once(
            self.clock(),
            stop_after=stop_after,
            progress=progress,
            budget=budget,
            should_stop=should_stop,
        )
        now = self.clock()
        if report.stopped == "offline":
            self._went_offline(now)
        else:
            self._offline_until = None
        return report

    def status(self, account: str) -> dict[str, Any]:
        """The account's queue status (see :func:`pymesync.status.account_status`)."""
        return account_status(self.store, account, self.clock())

    def problems(self, account: str) -> list[dict[str, Any]]:
        """The account's failed and conflicting operations."""
        return problem_ops(self.store, account)

    def operation(self, account: str, op_id: str) -> Operation:
        """One of the account's queued operations (NotFound-like error otherwise)."""
        op = self.store.get_operation(op_id)
        if op is None or op.account != account:
            raise errors.ValidationError(f"no queued operation {op_id}")
        return op

    def retry(self, account: str, op_id: str) -> dict[str, Any]:
        """Make a failed, conflicting or backing-off operation claimable now."""
        self.operation(account, op_id)
        return op_record(self.store.retry(op_id))

    def discard(self, account: str, op_id: str) -> dict[str, Any]:
        """Drop an operation for good (a create takes its later operations with it)."""
        self.operation(account, op_id)
        return op_record(self.store.discard(op_id))

    def wait_synced(self, token: str, timeout: float, sleep: Callable[[float], None]) -> bool:
        """Push until every operation queued so far is synced; False on timeout or when
        one of them failed for good."""
        account = self.account(token)
        watched = {op.op_id for op in self.store.operations(account, states=PENDING_STATES)}
        deadline = time.monotonic() + timeout
        while True:
            report = self.sync(token)
            left = [op for op in self.store.operations(account) if op.op_id in watched]
            if not left:
                return True
            if any(op.state in ("failed", "conflict") for op in left):
                return False
            remaining = deadline - time.monotonic()
            if remaining <= 0 or report.stopped == NEEDS_LOGIN:
                return False
            sleep(min(1.0, remaining))

    def sync_states(self, entity: Entity, idents: list[str], token: str) -> dict[str, str]:
        """``{id: state}`` for many objects at once, as :meth:`status_of` says it (one
        read of the account's queue, not one per object): the most pressing state of the
        operations queued on each (``conflict``, ``failed``, ``inflight``, ``pending``),
        else ``synced`` for an object the server has, ``unknown`` for one never seen."""
        account = self.account(token)
        queued: dict[str, set[str]] = {}
        for op in self.store.operations(account, entities=[entity]):  # (a few, usually)
            for key in {op.target, self.store.resolve_id(account, entity, op.target)}:
                queued.setdefault(key, set()).add(op.state)
        keyed = entity in ("time", "user")  # (ids are cache keys; slugs are looked up)
        objects = self.store.get_objects(account, entity, idents) if keyed else {}
        answer: dict[str, str] = {}
        for ident in idents:
            # (not direct: a slug, or a local id that became a server one: looked up)
            direct = keyed and ident in objects
            key = ident if direct else self.store.resolve_id(account, entity, ident)
            states = queued.get(ident, set()) | queued.get(key, set())
            pressing: str | None = next(
                (s for s in ("conflict", "failed", "inflight", "pending") if s in states), None
            )
            if pressing is None:
                found = objects[ident] if direct else self._find(account, entity, ident)
                pressing = "synced" if found is not None and not found.local else "unknown"
            answer[ident] = pressing
        return answer

    def status_of(self, entity: Entity, ident: str, token: str) -> dict[str, Any]:
        """Whether one object is synced, pending, failed or in conflict (JSON-ready)."""
        account = self.account(token)
        found = self._find(account, entity, ident)
        key = found.key if found is not None else self.store.resolve_id(account, entity, ident)
        ops = self.store.ops_for(account, entity, key)
        if key != ident:
            ops += [op for op in self.store.ops_for(account, entity, ident) if op not in ops]
        states = {op.state for op in ops}
        state = next(
            (name for name in ("conflict", "failed", "inflight", "pending") if name in states),
            "synced" if found is not None and not found.local else "unknown",
        )
        return {
            "entity": entity,
            "id": ident,
            "server_id": None if found is None or found.local else key,
            "state": state,
            "operations": [
                {
                    "op_id": op.op_id,
                    "kind": op.kind,
                    "state": op.state,
                    "attempts": op.attempts,
                    "next_attempt_at": _iso(op.next_attempt_at),
                    "last_error": op.last_error,
                }
                for op in ops
            ],
        }

    # ------------------------------------------------------------------ auth

    def login(self, username: str, password: str, auth_type: str) -> Any:
        """Log in on the server and keep the token in the store.

        Keeping the token is best effort: when the store cannot be opened the login still
        succeeds, and the store's error is reported by the first call that needs it.
        """
        answer = self.direct.login(username, password, auth_type)
        token = answer.get("token") if isinstance(answer, dict) else None
        if isinstance(token, str) and token:
            with contextlib.suppress(errors.PymesyncError):  # the store's own errors
                self.store.save_token(self.account(token), token)
        return answer

    def token_expiration(self, token: str) -> dt.datetime:
        """Decoded locally."""
        return self.direct.token_expiration(token)

    # ------------------------------------------------------------------ writes

    def _find(self, account: str, entity: Entity, ident: str) -> CacheObject | None:
        if entity in ("project", "activity"):
            return self.store.find_by_slug(account, entity, ident)
        return self.store.get_object(account, entity, self.store.resolve_id(account, entity, ident))

    def _project(self, account: str, payload: dict[str, Any]) -> dict[str, Any] | None:
        slug = payload.get("project")
        if not isinstance(slug, str):
            return None
        memo = self._batch_projects
        if memo is not None and slug in memo:
            return memo[slug]
        found = self.store.find_by_slug(account, "project", slug)
        project = None if found is None else found.payload
        if memo is not None:  # inside a batch the cache cannot change under us
            memo[slug] = project
        return project

    def write(self, entity: Entity, ident: str | None, payload: dict[str, Any], token: str) -> Any:
        """Queue a create (``ident`` None) or update, then push it when possible."""
        from pymesync.store.records import CacheObject, NewOperation, new_uuid4

        account, now = self.account(token), self.clock()
        today = provisional.today_utc(now)
        new_key = None  # a uuid drawn here for a created object
        if ident is None:
            if entity == "user":
                key = payload["username"]
            else:
                key = new_key = new_uuid4()
            target = key
            offline_answer: Any
            offline_answer, shown = provisional.created(
                entity, payload, key, today, self._project(account, payload)
            )
            base_revision = None
        else:
            found = self._find(account, entity, ident)
            target = found.key if found is not None and entity != "time" else ident
            key = found.key if found is not None else target
            base_revision = found.revision if found is not None else None
            if found is not None:
                shown = provisional.updated_object(
                    entity,
                    found.payload,
                    payload,
                    today,
                    self._project(account, payload),
                    already_pending=found.local,
                )
                offline_answer = shown
            else:
                shown = None
                offline_answer = {**payload, _ID_FIELD[entity]: ident}
        obj = (
            None
            if shown is None
            else CacheObject(
                account, entity, key, shown, shown.get("revision"), False, now, local=True
            )
        )
        op = NewOperation(
            account=account,
            kind="create" if ident is None else "update",
            entity=entity,
            target=target,
            payload=payload,
            base_revision=base_revision,
        )
        if new_key is not None and self._batch_new_ids is not None:
            self._batch_new_ids.add(new_key)
        return self._queue_and_push(op, obj, offline_answer, token)

    def delete(self, entity: Entity, ident: str, token: str) -> Any:
        """Queue a delete, then push it when possible."""
        from pymesync.store import CacheObject, NewOperation

        account, now = self.account(token), self.clock()
        found = self._find(account, entity, ident)
        target = found.key if found is not None and entity != "time" else ident
        obj = None
        if found is not None:
            shown = provisional.deleted_object(found.payload, provisional.today_utc(now))
            obj = CacheObject(
                account, entity, found.key, shown, found.revision, True, now, local=True
            )
        op = NewOperation(
            account=account,
            kind="delete",
            entity=entity,
            target=target,
            base_revision=None if found is None else found.revision,
        )
        return self._queue_and_push(op, obj, None, token)

    @contextlib.contextmanager
    def batch(
        self, token: Callable[[], str | None], commit: Callable[..., object] | None = None
    ) -> Iterator[None]:
        """Collect the writes made inside the block and queue them in ONE transaction
        when it ends (nothing is queued if it raises); then push them in auto mode.
        ``commit`` writes them instead of ``store.enqueue_many`` (same arguments; e.g.
        ``store.stop_timer``, which does more in the same transaction)."""
        if self._batch is not None:
            if commit is not None:  # (the outer block would write without it)
                raise errors.ValidationError("this cannot be done inside batch()")
            yield  # nested: the outer block writes everything
            return
        self._batch, self._batch_projects, self._batch_new_ids = [], {}, set()
        queued = False
        try:
            yield
            items, self._batch = self._batch, None
            queued = bool(items)
            if queued:
                (commit or self.store.enqueue_many)(
                    _handed_over(items), now=self.clock(), new_ids=self._batch_new_ids
                )
        finally:
            self._batch, self._batch_projects, self._batch_new_ids = None, None, None
        current = token()
        if queued and self.mode == "auto" and current and not self._is_offline(self.clock()):
            self.sync(current, budget=self.write_budget)

    def _queue_and_push(
        self, op: Any, obj: CacheObject | None, offline_answer: Any, token: str
    ) -> Any:
        if self._batch is not None:
            self._batch.append((op, obj))
            if self._batch_new_ids is not None:
                self._batch_new_ids.add(op.op_id)  # drawn at random by NewOperation
            return offline_answer
        queued = self.store.enqueue(op, obj, now=self.clock())
        carrier = queued.operation
        if carrier is None:  # a delete cancelled an unsent create: nothing to send
            return None
        if not token or self.mode != "auto" or self._is_offline(self.clock()):
            return offline_answer  # (no token: the queue waits for a login)
        report = self.sync(token, stop_after=carrier.op_id, budget=self.write_budget)
        result = report.result_for(carrier.op_id)
        if result is not None and result.outcome == "synced":
            return result.answer
        if result is not None and result.outcome == "failed" and result.error is not None:
            if queued.outcome == "appended":
                self.store.discard(carrier.op_id)
            raise result.error
        return offline_answer  # deferred, held, waiting for a login or for the user

    # ------------------------------------------------------------------ reads

    def _fetched_at(self, account: str, entity: str) -> dt.datetime | None:
        value = self.store.get_state(account, f"fetched:{entity}")
        return dt.datetime.fromisoformat(value) if isinstance(value, str) else None

    def _from_cache(
        self,
        account: str,
        entity: str,
        answer: Callable[[], Any],
        error: errors.PymesyncError | None,
        fetched: dt.datetime | None,
    ) -> Any:
        now = self.clock()
        if error is not None and fetched is None and not self.store.has_objects(account, entity):
            raise error
        try:
            result = answer()
        except errors.NotFoundError:
            if error is not None and fetched is None:
                raise error from None
            raise
        age = None if fetched is None else (now - fetched).total_seconds()
        self.last_read = ReadInfo("cache", fetched, age)
        return result

    def _read(
        self,
        account: str,
        entity: Entity,
        ask_server: Callable[[str], Any],
        from_cache: Callable[[], Any],
        keep: Callable[[Any], Any],
    ) -> Any:
        now = self.clock()
        fetched = self._fetched_at(account, entity)
        fresh = fetched is not None and (now - fetched).total_seconds() <= (self.max_age or 0)
        if self.max_age is not None and fresh:
            return self._from_cache(account, entity, from_cache, None, fetched)
        if not self.token_for(account):
            # not logged in (a resumed client): only the cache can answer
            return self._from_cache(
                account,
                entity,
                from_cache,
                errors.NotAuthenticatedError(NOT_AUTHENTICATED),
                fetched,
            )
        if self._is_offline(now):
            return self._from_cache(
                account,
                entity,
                from_cache,
                errors.ConnectionFailedError(
                    f"connection to TimeSync failed at baseurl {self.transport.baseurl} - "
                    "the server was unreachable moments ago"
                ),
                fetched,
            )
        try:
            answer = self._ask_with_relogin(account, ask_server)
        except errors.PymesyncError as error:
            if not unreachable(error):
                raise
            self._went_offline(now, error)
            return self._from_cache(account, entity, from_cache, error, fetched)
        self._offline_until = None
        self.last_read = ReadInfo("server", now, 0.0)
        return keep(answer)

    def _ask_with_relogin(self, account: str, ask_server: Callable[[str], Any]) -> Any:
        """Ask the server; a refused token means one new login (when there is a way to)."""
        token = self.token_for(account) or ""
        try:
            return ask_server(token)
        except errors.TokenRejectedError:
            fresh = self.relogin(account)
            if fresh is None:
                raise
            return ask_server(fresh)

    def _refresh(self, account: str, entity: Entity, answer: Any) -> None:
        """Put the server's objects in the cache."""
        objects = answer if isinstance(answer, list) else [answer]
        clean = [
            {k: v for k, v in o.items() if k != "parents"}
            for o in objects
            if isinstance(o, dict) and server_key(entity, o) is not None
        ]
        now = self.clock()
        self.store.put_objects(account, entity, clean, now=now)
        self.store.set_state(account, f"fetched:{entity}", now.isoformat())

    def _pending_keys(self, account: str, entity: Entity) -> set[str]:
        """The objects with changes the server has not seen: those with pending or
        inflight operations, and those whose operation the server refused for good
        while the cache holds the user's version (a create refused stays visible,
        marked failed, to be fixed or removed)."""
        store = self.store
        keys = {
            store.resolve_id(account, entity, target)
            for target in store.pending_targets(account, entity)
        }
        for target in store.pending_targets(account, entity, states=("failed",)):
            key = store.resolve_id(account, entity, target)
            if key not in keys:
                found = store.get_object(account, entity, key)
                if found is not None and found.local:
                    keys.add(key)
        return keys

    def _keep(
        self, account: str, entity: Entity, answer: Any, mine: Callable[[], list[dict[str, Any]]]
    ) -> Any:
        """Cache the server's answer, then apply the changes it has not seen: objects
        with queued (or refused) operations are replaced by (and offline creates joined
        by) their provisional versions, which ``mine()`` finds in the cache with the
        same query."""
        if answer is None:
            return answer
        self._refresh(account, entity, answer)
        pending = self._pending_keys(account, entity)
        if not pending:
            return answer
        try:
            local = mine()
        except errors.PymesyncError:
            local = []
        objects = answer if isinstance(answer, list) else [answer]
        kept = [o for o in objects if server_key(entity, o) not in pending]
        provisional_ones = [o for o in local if server_key(entity, o) in pending]
        if not isinstance(answer, list):
            return (provisional_ones or kept or [answer])[0]
        return kept + provisional_ones

    def times(self, query: TimesQuery, token: str) -> Any:
        """Times from the server (cache refreshed, pending changes applied) or the cache."""
        account = self.account(token)
        today = provisional.today_utc(self.clock())
        if query.uuid is not None:
            resolved = self.store.resolve_id(account, "time", query.uuid)
            query = replace(query, uuid=resolved)
            if any(op.kind == "create" for op in self.store.ops_for(account, "time", resolved)):
                # created offline and not sent yet: the server cannot know it
                answer = cached.times(self.store, account, query, today)
                self.last_read = ReadInfo("cache", self._fetched_at(account, "time"), None)
                return answer

        def from_cache() -> Any:
            return cached.times(self.store, account, query, today)

        return self._read(
            account,
            "time",
            lambda tok: self.direct.times(query, tok),
            from_cache,
            lambda answer: self._keep(account, "time", answer, from_cache),
        )

    def cached_times(self, query: TimesQuery, token: str) -> list[dict[str, Any]]:
        """Times from the local cache only (pending changes applied), never the server;
        ``last_read`` says how old the cache is."""
        account = self.account(token)
        today = provisional.today_utc(self.clock())
        answer: list[dict[str, Any]] = self._from_cache(
            account,
            "time",
            lambda: cached.times(self.store, account, query, today),
            None,
            self._fetched_at(account, "time"),
        )
        return answer

    def ids_starting(self, entity: Entity, prefix: str, token: str) -> dict[str, str]:
        """``{id: key}`` for the ids starting with ``prefix`` (see ``Store.ids_starting``)."""
        return self.store.ids_starting(self.account(token), entity, prefix)

    def local_ids(self, entity: Entity, ids: list[str], token: str) -> dict[str, str]:
        """``{server_id: local_id}`` for those of ``ids`` created through this queue."""
        return self.store.local_ids(self.account(token), entity, ids)

    def entities(self, query: EntityQuery, token: str) -> Any:
        """Projects, activities or users from the server or the cache."""
        account = self.account(token)

        def from_cache() -> Any:
            return cached.entities(self.store, account, query)

        def keep(answer: Any) -> Any:
            kept = self._keep(account, query.entity, answer, from_cache)
            if query.slug is None and not query.users and isinstance(answer, list):
                # the server's whole list is in the cache now (see ``known``)
                self.store.set_state(account, f"listed:{query.entity}", self.clock().isoformat())
            return kept

        return self._read(
            account, query.entity, lambda tok: self.direct.entities(query, tok), from_cache, keep
        )

    def known(self, account: str, entity: Entity) -> list[dict[str, Any]] | None:
        """The cached, not deleted objects of ``entity`` (pending changes included), from
        the store alone; None until a whole list of them was read from the server (a
        cache holding only the objects read one by one knows too little to say what
        does not exist)."""
        if self.store.get_state(account, f"listed:{entity}") is None:
            return None
        return [obj.payload for obj in self.store.list_objects(account, entity)]

    def project_users(self, slug: str, token: str) -> dict[str, list[str]]:
        """Roles of the project's users, from the server or the cache."""
        found = self.entities(EntityQuery("project", slug=slug), token)
        return roles_by_user(found[0] if isinstance(found, list) and found else found)


_ID_FIELD = {"time": "uuid", "project": "slug", "activity": "slug", "user": "username"}


def _handed_over(items: list[_T]) -> Iterator[_T]:
    """The items in order, each one dropped from the list as it is handed over: the
    store frees a chunk of items as soon as it has taken their rows (while its writer
    thread is busy), instead of all of them after the commit."""
    items.reverse()
    pop = items.pop
    while items:
        yield pop()


def _iso(value: dt.datetime | None) -> str | None:
    return None if value is None else value.isoformat()
