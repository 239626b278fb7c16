"""The account's queue as its user sees it: status, the failed operations, retry and
discard, and the sync state of objects (JSON-ready)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pymesync import errors
from pymesync.offline.session import Session
from pymesync.status import account_status, iso, op_record, problem_ops
from pymesync.validation import Entity

if TYPE_CHECKING:
    from pymesync.store import CacheObject, Operation

#: The states an object's queued operations can be in, the most pressing first.
PRESSING = ("conflict", "failed", "inflight", "pending")


class QueueView(Session):
    """Reading and tending the account's queue."""

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
            pressing = _pressing(states)
            if pressing is None:
                found = objects[ident] if direct else self._find(account, entity, ident)
                pressing = _seen(found)
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
        state = _pressing({op.state for op in ops}) or _seen(found)
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
                    "next_attempt_at": iso(op.next_attempt_at),
                    "last_error": op.last_error,
                }
                for op in ops
            ],
        }


def _pressing(states: set[str]) -> str | None:
    """The most pressing of the states of an object's queued operations (None: none)."""
    return next((state for state in PRESSING if state in states), None)


def _seen(found: CacheObject | None) -> str:
    """The state of an object without queued operations: ``synced`` when the server
    has it (its cached object is the server's), else ``unknown`` (never seen)."""
    return "synced" if found is not None and not found.local else "unknown"
