"""Reads of the offline backend: ask the server, refresh the cache and apply the
user's pending changes; when the server cannot be reached (or there is no login),
answer from the cache (:mod:`pymesync.cached`), saying how old it is."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any, Literal

from pymesync import cached, errors, provisional
from pymesync.backend import roles_by_user
from pymesync.offline.session import Session, unreachable
from pymesync.sender import server_key
from pymesync.validation import NOT_AUTHENTICATED, Entity, EntityQuery, TimesQuery


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


class Reads(Session):
    """Reads with the cache."""

    #: Where the last read's answer came from (None before the first read).
    last_read: ReadInfo | None = None

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
        refused: errors.PymesyncError | None = None  # why the server is not asked
        if not self.token_for(account):
            # not logged in (a resumed client): only the cache can answer
            refused = errors.NotAuthenticatedError(NOT_AUTHENTICATED)
        elif self._is_offline(now):
            refused = errors.ConnectionFailedError(
                f"connection to TimeSync failed at baseurl {self.transport.baseurl} - "
                "the server was unreachable moments ago"
            )
        if refused is not None:
            return self._from_cache(account, entity, from_cache, refused, fetched)
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
