"""Sending one queued operation to TimeSync, reconciling first where its outcome is
unknown or the server's object moved on.

:class:`Sender` knows the wire requests for creates, updates and deletes, how to find a
create whose response was lost, how to merge an update with a server object that
changed meanwhile (:mod:`pymesync.reconcile` decides, this carries it out), and what the
canonical (GET) form of a written object is. The loop around it (claims, leases,
retries, results) is :class:`pymesync.sync.SyncWorker`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pymesync import errors, reconcile, wire
from pymesync.provisional import normalise_time
from pymesync.reconcile import ConflictPolicy
from pymesync.validation import EntityQuery, TimesQuery

if TYPE_CHECKING:
    from pymesync.store import CacheObject, Operation, Store
    from pymesync.transport import Transport


class Held(Exception):
    """An operation that must not be sent now (a failed prerequisite, a held conflict,
    a write that may still be being carried out and is looked for at ``look_after``)."""

    def __init__(
        self,
        reason: str,
        *,
        conflict: bool = False,
        retry_in: float = 60.0,
        look_after: dt.datetime | None = None,
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.conflict = conflict
        self.retry_in = retry_in
        self.look_after = look_after


@dataclass
class Attempt:
    """What one push of an operation has learnt so far (mutable, local to one push).

    ``unknown``: a request of it may have been carried out without an answer seen;
    ``adopted``: its server object was found by reconciliation, not made by it;
    ``lease_until``: its lease as renewed during this push;
    ``settle_until``: for a create whose request may still be being carried out, when
    it may be sent again if it is not found on the server (until then, it is held)."""

    unknown: bool
    relogged: bool = False
    adopted: bool = False
    lease_until: dt.datetime | None = None
    settle_until: dt.datetime | None = None


def server_key(entity: str, obj: Any) -> str | None:
    """The cache key of a server object: its uuid, or a user's username."""
    if not isinstance(obj, dict):
        return None
    value = obj.get("username" if entity == "user" else "uuid")
    return value if isinstance(value, str) else None


class Sender:
    """Sends operations of one account; every request goes through :meth:`http`."""

    def __init__(
        self,
        store: Store,
        transport: Transport,
        account: str,
        *,
        conflict_policy: ConflictPolicy,
        clock: Callable[[], dt.datetime],
        before_request: Callable[[], None] | None = None,
    ) -> None:
        self.store = store
        self.transport = transport
        self.account = account
        self.conflict_policy = conflict_policy
        self.clock = clock
        self.before_request = before_request
        # projects looked up for created times, until forget() (once per claim round)
        self._projects: dict[str, CacheObject | None] = {}
        # projects asked of the server, until forget()
        self._fetched: set[str] = set()

    def forget(self) -> None:
        """Drop what was looked up in the cache: it may have changed meanwhile."""
        self._projects = {}
        self._fetched = set()

    def create(
        self, op: Operation, attempt: Attempt, token: str
    ) -> tuple[Any, dict[str, Any] | None, str | None]:
        entity, payload = op.entity, dict(op.payload or {})
        if attempt.unknown:
            found = self.find_created(op, payload, token)
            if found is not None:
                attempt.adopted = True
                return found, found, server_key(entity, found)
            if attempt.settle_until is not None:
                # a slow server may commit it later still: one more look before a resend
                wait = max(0.0, (attempt.settle_until - self.clock()).total_seconds())
                raise Held(
                    "not found on the server yet (it may still be committing it): "
                    f"looking once more in {wait:.0f} s before sending it again",
                    retry_in=wait,
                    look_after=attempt.settle_until,
                )
        try:
            answer = self.send(wire.write_request(entity, None, payload), token, entity)
        except (errors.ConflictError, errors.BadObjectError) as error:
            found = None if entity == "time" else self.existing(entity, payload, token)
            if found is None or not reconcile.matches(entity, payload, found):
                raise error from None
            if not self.reserve(op, found):
                raise error from None
            attempt.adopted = True
            return found, found, server_key(entity, found)
        canonical = self.created_time(answer, token) if entity == "time" else None
        if canonical is None:
            canonical = self.canonical(entity, answer, token)
        return answer, canonical, server_key(entity, canonical)

    def created_time(self, answer: dict[str, Any], token: str) -> dict[str, Any] | None:
        """The GET form of a just-created time, built from its create response and its
        project (cached, or fetched once per claim round and cached), so that no GET of
        each time is needed: the response differs from a GET only in ``project`` (one
        slug) and omitted defaults."""
        slug = answer.get("project")
        if not isinstance(slug, str) or not isinstance(answer.get("uuid"), str):
            return None
        project = self.known_project(slug)
        if project is None:
            project = self.fetch_project(slug, token)
        return None if project is None else normalise_time(answer, project.payload)

    def fetch_project(self, slug: str, token: str) -> CacheObject | None:
        """The server's project ``slug``, fetched and cached (at most once per claim
        round and slug); None when it cannot be had."""
        if slug in self._fetched:
            return None
        self._fetched.add(slug)
        try:
            found = self.fetch("project", slug, token)
        except errors.PymesyncError:
            return None
        if found is None or not isinstance(found.get("uuid"), str):
            return None
        clean = {k: v for k, v in found.items() if k != "parents"}
        self.store.put_objects(self.account, "project", [clean], now=self.clock())
        self._projects.pop(slug, None)
        return self.known_project(slug)

    def known_project(self, slug: Any) -> CacheObject | None:
        """The cached server project with ``slug`` (looked up once until forget())."""
        if not isinstance(slug, str):
            return None
        projects = self._projects
        if slug in projects:
            project = projects[slug]
        else:
            project = projects[slug] = self.store.find_by_slug(self.account, "project", slug)
        return None if project is None or project.local else project

    def update(
        self, op: Operation, attempt: Attempt, token: str
    ) -> tuple[Any, dict[str, Any] | None, str | None]:
        entity, ident, payload = op.entity, self.ident_for(op), dict(op.payload or {})
        if entity != "user" and (op.base_revision is not None or attempt.unknown):
            current = self.fetch(entity, ident, token)
            if current is not None:
                payload = self.merge(op, ident, payload, current, attempt, token)
                if not payload:
                    return current, current, server_key(entity, current)
        answer = self.send(wire.write_request(entity, ident, payload), token, entity)
        canonical = self.canonical(entity, answer, token)
        return answer, canonical, server_key(entity, canonical)

    def delete(
        self, op: Operation, attempt: Attempt, token: str
    ) -> tuple[Any, dict[str, Any] | None, str | None]:
        try:
            self.http(wire.delete_request(op.entity, self.ident_for(op)), token)
        except errors.NotFoundError:
            if not attempt.unknown:
                raise
        return None, None, None

    # ------------------------------------------------------------------ reconciling

    def merge(
        self,
        op: Operation,
        ident: str,
        payload: dict[str, Any],
        current: dict[str, Any],
        attempt: Attempt,
        token: str,
    ) -> dict[str, Any]:
        """What of ``payload`` still has to be sent, given the server's ``current``."""
        moved = op.base_revision is not None and current.get("revision") != op.base_revision
        if (
            attempt.unknown
            and reconcile.matches(op.entity, payload, current)
            and (op.base_revision is None or moved)
        ):
            return {}  # our earlier, unanswered update did arrive
        if not moved or op.base_revision is None:
            return payload
        history = self.fetch(op.entity, ident, token, revisions=True)
        base = None if history is None else reconcile.base_revision_of(history, op.base_revision)
        merged = reconcile.merge_update(op.entity, payload, base, current, self.conflict_policy)
        if merged.conflicts:
            self.record_conflict(op, merged)
        if merged.hold:
            raise Held(
                f"conflict on {', '.join(merged.conflicts)}: changed here and on the server",
                conflict=True,
            )
        return merged.payload

    def record_conflict(self, op: Operation, merged: reconcile.Merge) -> None:
        log = list(self.store.get_state(self.account, "conflicts") or [])
        log.append(
            {
                "op_id": op.op_id,
                "entity": op.entity,
                "target": op.target,
                "fields": list(merged.conflicts),
                "policy": self.conflict_policy,
                "at": self.clock().isoformat(),
            }
        )
        self.store.set_state(self.account, "conflicts", log[-100:])

    def reserve(self, op: Operation, found: dict[str, Any]) -> bool:
        """Claim the server object ``found`` for ``op``'s local id: False when another
        queued or synced create already has it (it is not ours to adopt)."""
        key = server_key(op.entity, found)
        if key is None:
            return False
        return self.store.reserve_id(self.account, op.entity, op.target, key)

    def find_created(
        self, op: Operation, payload: dict[str, Any], token: str
    ) -> dict[str, Any] | None:
        """The object a create with a lost response produced, if it exists: adopted
        only once reserved for ``op`` (two creates never adopt one object)."""
        if op.entity != "time":
            found = self.existing(op.entity, payload, token)
            if found is None or not reconcile.matches(op.entity, payload, found):
                return None
            return found if self.reserve(op, found) else None
        query = TimesQuery(
            filters=tuple(
                (key, (str(payload[name]),))
                for key, name in (
                    ("end", "date_worked"),
                    ("project", "project"),
                    ("start", "date_worked"),
                    ("user", "user"),
                )
                if isinstance(payload.get(name), str)
            )
        )
        try:
            candidates = self.http(wire.times_request(query), token)
        except errors.TimeSyncError as error:
            if error.transient:  # (a 5xx or 429 is no answer: look again later)
                raise
            return None
        found_list = candidates if isinstance(candidates, list) else []
        uuids = [c["uuid"] for c in found_list if isinstance(c, dict) and "uuid" in c]
        sent = op.first_sent_at or op.created_at
        candidates = reconcile.lost_time_candidates(
            payload,
            found_list,
            sent.astimezone(dt.timezone.utc).date().isoformat(),
            self.taken_time_uuids(op, uuids),
        )
        for found in candidates:
            if self.reserve(op, found):
                return self.canonical("time", found, token)
        return None

    def taken_time_uuids(self, op: Operation, uuids: list[str]) -> set[str]:
        """Those of ``uuids`` that are not ours to adopt: mapped to another local create,
        or already known in the cache before this operation was first sent."""
        since = op.first_sent_at or op.created_at
        cached = self.store.get_objects(self.account, "time", uuids)
        mapped = self.store.local_ids(self.account, "time", uuids)
        taken = set()
        for uuid in uuids:
            local = mapped.get(uuid)
            known = cached.get(uuid)
            if (local is not None and local != op.target) or (
                known is not None and not known.local and known.fetched_at < since
            ):
                taken.add(uuid)
        return taken

    def existing(self, entity: str, payload: dict[str, Any], token: str) -> dict[str, Any] | None:
        ident = payload.get("username") if entity == "user" else first_slug(payload)
        return None if not isinstance(ident, str) else self.fetch(entity, ident, token)

    def fetch(
        self, entity: str, ident: str, token: str, *, revisions: bool = False
    ) -> dict[str, Any] | None:
        """GET one object, or None when the server does not have it."""
        flag = True if revisions else None
        if entity == "time":
            request = wire.times_request(TimesQuery(uuid=ident, include_revisions=flag))
        else:
            flags = (("include_revisions", True),) if revisions else ()
            request = wire.entity_request(EntityQuery(entity, slug=ident, flags=flags))  # type: ignore[arg-type]
        try:
            found = self.http(request, token)
        except (errors.NotFoundError, errors.InvalidIdentifierError, errors.BadQueryError):
            return None
        except errors.ServerError:
            if revisions:  # NODE fails on the history of a never-updated time
                return None
            raise
        return found if isinstance(found, dict) and "error" not in found else None

    def send(self, request: wire.WireRequest, token: str, entity: str) -> dict[str, Any]:
        """Send a create or update; its answer must be the object written."""
        return self.written(self.http(request, token), entity)

    def written(self, answer: Any, entity: str) -> dict[str, Any]:
        """The answer to a write, which must be the object written: a dict with its
        ``uuid`` (a user's ``username``). Anything else (``null``, a list, HTML, an
        object without its id) means the write was probably carried out but what it
        made is unknown: a transient error that reconciles before any resend."""
        if not isinstance(answer, dict) or server_key(entity, answer) is None:
            error = errors.BadResponseError(
                f"connection to TimeSync failed at baseurl {self.transport.baseurl} - "
                "unexpected answer to a write",
                status=200,
            )
            error.maybe_sent = True
            raise error
        return answer

    def http(self, request: wire.WireRequest, token: str | None) -> Any:
        """Every request goes out here (after ``before_request``, e.g. a rate limit)."""
        if self.before_request is not None:
            self.before_request()
        return self.transport.send(request, token)

    def ident_for(self, op: Operation) -> str:
        """The identifier to put in the URL: a local uuid becomes the server's."""
        if op.entity == "time":
            return self.store.resolve_id(self.account, "time", op.target)
        if op.entity in ("project", "activity"):
            cached = self.store.get_object(self.account, op.entity, op.target)
            if cached is not None:
                slug = first_slug(cached.payload)
                if slug:
                    return slug
        return op.target

    def canonical(self, entity: str, answer: dict[str, Any], token: str) -> dict[str, Any]:
        """The object as a GET shows it (write responses are not canonical, §3)."""
        ident = answer.get("username") if entity == "user" else answer.get("uuid")
        if entity in ("project", "activity"):
            ident = first_slug(answer)
        if not isinstance(ident, str):
            return answer
        try:
            fetched = self.fetch(entity, ident, token)
        except errors.PymesyncError:
            return answer
        return fetched if fetched is not None else answer


def first_slug(obj: dict[str, Any]) -> str | None:
    """A project's first slug, or an activity's slug."""
    slugs = obj.get("slugs")
    if isinstance(slugs, list) and slugs and isinstance(slugs[0], str):
        return slugs[0]
    slug = obj.get("slug")
    return slug if isinstance(slug, str) else None
