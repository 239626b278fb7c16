"""Writes of the offline backend: each write is appended to the store's queue
together with its provisional object in ONE transaction (durable when the call
returns), then pushed at once in ``"auto"`` mode; a batch collects many writes for
one transaction."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, TypeVar

from pymesync import errors, provisional
from pymesync.offline.syncing import Syncing
from pymesync.validation import Entity

if TYPE_CHECKING:
    from pymesync.store import CacheObject, NewOperation

_T = TypeVar("_T")


class Writes(Syncing):
    """Queued writes, pushed when possible."""

    #: The writes of the ``batch()`` block under way (None: no block).
    _batch: list[tuple[NewOperation, CacheObject | None]] | None = None
    #: The projects the block's writes looked up (the cache cannot change under it).
    _batch_projects: dict[str, dict[str, Any] | None] | None = None
    #: The ids drawn at random for the batch's operations and created objects.
    _batch_new_ids: set[str] | None = None

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


_ID_FIELD = {"time": "uuid", "project": "slug", "activity": "slug", "user": "username"}


def _handed_over(items: list[_T]) -> Iterator[_T]:
    """The items in order, each one dropped from the list as it is handed over: the
    store frees a chunk of items as soon as it has taken their rows (while its writer
    thread is busy), instead of all of them after the commit."""
    items.reverse()
    pop = items.pop
    while items:
        yield pop()
