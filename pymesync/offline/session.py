"""One account's session with the offline backend: the store, the token, logging in
(again), and whether the server was unreachable moments ago.

:class:`Session` is the base of the backend's parts (:mod:`.syncing`, :mod:`.queue`,
:mod:`.reads`, :mod:`.writes`): it holds the configuration and the state they share.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Literal

from pymesync import accounts, errors
from pymesync.backend import DirectBackend
from pymesync.credentials import Credentials, from_environment
from pymesync.reconcile import ConflictPolicy
from pymesync.status import utcnow
from pymesync.transport import Transport
from pymesync.validation import NOT_AUTHENTICATED, Entity

if TYPE_CHECKING:
    from pathlib import Path

    from pymesync.store import CacheObject, Store

Mode = Literal["auto", "queue"]


def unreachable(error: errors.PymesyncError) -> bool:
    """Whether an error means "the server can't be reached right now"."""
    return error.transient


class Session:
    """What every part of the offline backend shares: configuration, the store (opened
    on first use), the facade's token and credentials, and the offline state."""

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
        self._store: Store | None = None
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
    def store_path(self) -> Path | None:
        """The store's absolute path (resolved, not opened, while the store is closed);
        None for a store on PostgreSQL."""
        if self._store is not None:
            return self._store.path
        from pymesync.store.location import resolve_target

        target = resolve_target(self.db)
        return None if isinstance(target, str) else target  # (a str: a URL)

    @property
    def store_location(self) -> str:
        """Where the store is, as it may be shown: its path, or its URL without the
        password (resolved, not opened, while the store is closed)."""
        if self._store is not None:
            return self._store.location
        from pymesync.store.location import resolve_target

        target = resolve_target(self.db)
        if not isinstance(target, str):  # (a path)
            return str(target)
        from pymesync.store.postgres import display_url

        return display_url(target)

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

    # ------------------------------------------------------------------ lookups

    def _find(self, account: str, entity: Entity, ident: str) -> CacheObject | None:
        if entity in ("project", "activity"):
            return self.store.find_by_slug(account, entity, ident)
        return self.store.get_object(account, entity, self.store.resolve_id(account, entity, ident))
