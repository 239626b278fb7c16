"""The :class:`TimeSync` facade: the old pymesync API, unchanged for its callers.

Each method validates its input (:mod:`pymesync.validation`), hands the result to the
backend chosen once in the constructor, and shapes the answer (or the typed error) into
what the old library returned. With ``raise_errors=True`` errors are raised as
:class:`~pymesync.errors.PymesyncError` subclasses instead of being returned as dicts.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import time
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from pymesync import accounts, validation
from pymesync.backend import Backend, DirectBackend
from pymesync.credentials import Credentials
from pymesync.errors import BadResponseError, PymesyncError, ValidationError
from pymesync.offline.backend import OfflineBackend
from pymesync.offline.reads import ReadInfo
from pymesync.reconcile import POLICIES, ConflictPolicy
from pymesync.transport import DEFAULT_TIMEOUT, POOL_SIZE, Transport, redact

if TYPE_CHECKING:
    from pathlib import Path

    import requests

    from pymesync.sync import OpResult, SyncReport, SyncWorker

T = TypeVar("T")

ERROR_KEY = "pymesync error"
Mode = Literal["auto", "queue", "direct"]
MODES: tuple[Mode, ...] = ("auto", "queue", "direct")


def _seconds(value: object) -> bool:
    """Whether ``value`` is a number of seconds (an int or a float, not a bool or NaN)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and value == value


class TimeSync:
    """A client for one TimeSync server.

    ``baseurl`` must include the API version prefix (``https://host/v0``); one trailing
    ``/`` is dropped. ``token`` is a token from an earlier ``authenticate()`` (then no
    login is needed). ``test=True`` answers every call with canned data after running
    all validation, without network or disk.

    Keyword-only extras, new in this version: ``timeout`` (seconds for every request,
    or a ``(connect, read)`` pair), ``raise_errors`` (raise exceptions instead of
    returning error dicts), ``session`` (a ``requests.Session`` to use), ``mode``
    (``"auto"``: writes go through the local queue and are pushed at once when the
    server is reachable; ``"queue"``: writes are only queued, a daemon pushes them;
    ``"direct"``: no queue, no cache, the old behaviour), ``db`` (the store's path;
    default ``$PYMESYNC_DB`` or the user data dir), ``max_age`` (seconds: reads are
    answered from the cache without asking the server while it is that fresh) and
    ``conflict_policy`` (``"local"``, ``"server"`` or ``"hold"``: what wins when a
    queued update and the server both changed a field), ``sync_concurrency`` (how many
    queued operations a sync pass sends at once, default 16), ``requests_per_second``
    (an optional cap on the sync's request rate), ``write_budget`` (seconds: the
    longest an ``auto``-mode write waits for its push before it returns its queued
    answer, default 2; None: no bound) and ``store_pool`` (default True: the store keeps
    SQLAlchemy's pool of connections; False suits a short-lived program that makes a
    few calls, like one command-line write: each store transaction then opens its own
    connection and SQLAlchemy is not even imported), ``lease_seconds`` (how long a sync
    pass holds an operation it claimed before another sender may take it back as
    "outcome unknown", default 120) and ``offline_retry`` (seconds during which, after
    the server was found unreachable, writes are only queued and reads answered from
    the cache without trying it again, default 10; 0: try every time).
    """

    def __init__(
        self,
        baseurl: str,
        token: str | None = None,
        test: bool = False,
        *,
        timeout: float | tuple[float, float] = DEFAULT_TIMEOUT,
        raise_errors: bool = False,
        session: requests.Session | None = None,
        mode: Mode = "auto",
        db: str | os.PathLike[str] | None = None,
        max_age: float | None = None,
        conflict_policy: ConflictPolicy = "local",
        sync_concurrency: int = 16,
        requests_per_second: float | None = None,
        write_budget: float | None = 2.0,
        store_pool: bool = True,
        lease_seconds: float = 120.0,
        offline_retry: float = 10.0,
    ) -> None:
        if not isinstance(baseurl, str):
            raise TypeError("baseurl must be a string such as 'https://timesync.example.com/v0'")
        self.baseurl = accounts.base_url(baseurl)
        self.token = token
        self.test = test
        self.user: str | None = None
        self.auth_type: str | None = None
        self.error = ERROR_KEY
        self.raise_errors = raise_errors
        self._password: str | None = None
        #: Whose queue calls without a token work on (set by :meth:`resume` only).
        self._resumed_user: str | None = None
        # enough keep-alive connections for every sending thread of a sync pass
        pool_size = max(POOL_SIZE, sync_concurrency if isinstance(sync_concurrency, int) else 0)
        self._transport = Transport(
            self.baseurl, timeout=timeout, session=session, pool_size=pool_size
        )
        if mode not in MODES:
            raise ValueError(f"mode must be one of {', '.join(MODES)}, not {mode!r}")
        self.mode: Mode = mode
        self._offline: OfflineBackend | None = None
        self._backend: Backend
        if test:
            from pymesync.testmode import TestModeBackend

            self._backend = TestModeBackend()
        elif mode == "direct":
            self._backend = DirectBackend(self._transport)
        else:
            if conflict_policy not in POLICIES:
                raise ValueError(f"conflict_policy must be one of {', '.join(POLICIES)}")
            if not isinstance(sync_concurrency, int) or sync_concurrency < 1:
                raise ValueError("sync_concurrency must be a whole number >= 1")
            if write_budget is not None and not (_seconds(write_budget) and write_budget > 0):
                raise ValueError("write_budget must be a positive number of seconds or None")
            if not _seconds(lease_seconds) or not lease_seconds > 0:
                raise ValueError("lease_seconds must be a positive number of seconds")
            if not _seconds(offline_retry) or not offline_retry >= 0:
                raise ValueError("offline_retry must be a number of seconds >= 0")
            self._offline = OfflineBackend(
                self._transport,
                db=db,
                mode=mode,
                max_age=max_age,
                conflict_policy=conflict_policy,
                concurrency=sync_concurrency,
                requests_per_second=requests_per_second,
                write_budget=write_budget,
                store_pool=store_pool,
                lease_seconds=float(lease_seconds),
                offline_retry=float(offline_retry),
            )
            self._offline.bind_session(
                lambda: self.token,
                self._credentials,
                self._took_token,
                lambda: self._resumed_user,
            )
            self._backend = self._offline

    def __repr__(self) -> str:
        state = "authenticated" if self.token else "not authenticated"
        mode = ", test=True" if self.test else ""
        return f"TimeSync({self.baseurl!r}{mode}; {state})"

    def _credentials(self) -> Credentials | None:
        if self.user and self._password and self.auth_type:
            return Credentials(self.user, self._password, self.auth_type)
        return None

    def _took_token(self, token: str) -> None:
        self.token = token

    def close(self) -> None:
        """Release pooled HTTP connections and the store (also done when used as a
        context manager)."""
        self._transport.close()
        if self._offline is not None:
            self._offline.close()

    def __enter__(self) -> TimeSync:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ shaping

    def _fail(self, error: PymesyncError, as_list: bool) -> Any:
        if self.raise_errors:
            raise error
        shaped = error.to_dict(self.error)
        if isinstance(shaped.get(self.error), str):
            shaped[self.error] = redact(shaped[self.error], self.token)
        return [shaped] if as_list or error.as_list else shaped

    def _one(self, call: Callable[[], T]) -> T | Any:
        """Run ``call``; errors come back as one dict (or a list where the old API did)."""
        try:
            return call()
        except PymesyncError as error:
            return self._fail(error, as_list=False)

    def _many(self, call: Callable[[], Any]) -> list[Any]:
        """Run a ``get_*`` call: the answer is always a list."""
        try:
            answer = call()
        except PymesyncError as error:
            result: list[Any] = self._fail(error, as_list=True)
            return result
        if answer is None:
            return [{"status": 200}]
        return answer if isinstance(answer, list) else [answer]

    def _object(self, answer: Any) -> Any:
        """A server answer where an object is due: ``None`` (empty 200) becomes
        ``{"status": 200}`` as before; anything but a dict is a bad response."""
        if answer is None:
            return {"status": 200}
        if not isinstance(answer, dict):
            kind = type(answer).__name__
            raise BadResponseError(
                f"connection to TimeSync failed at baseurl {self.baseurl} - "
                f"unexpected answer (a JSON {kind} where an object was expected)",
                status=200,
            )
        return answer

    def _deleted(self, call: Callable[[], Any]) -> Any:
        def checked() -> Any:
            answer = call()
            if answer is None or answer == [{"status": 200}]:  # the latter: test mode
                return answer
            return self._object(answer)

        answer = self._one(checked)
        return {"status": 200} if answer is None else answer

    def _token(self) -> str:
        validation.require_token(bool(self.token))
        return str(self.token)

    def _may_queue(self) -> bool:
        """Whether calls can go on without a token: a client made by :meth:`resume` in an
        offline-first mode works on its user's queue and cache until a login."""
        return bool(self.token) or (self._offline is not None and bool(self._resumed_user))

    def _auth(self) -> str:
        """The token for the backend; ``""`` for a resumed client that has none (the
        offline backend then uses the resumed user's queue and cache)."""
        validation.require_token(self._may_queue())
        return self.token or ""

    # ------------------------------------------------------------------ auth

    def authenticate(
        self, username: str | None = None, password: str | None = None, auth_type: str | None = None
    ) -> Any:
        """Log in with a username, password and auth type (``"password"`` or ``"ldap"``).

        Returns ``{"token": ...}`` and keeps the token, or the server's error dict.
        """

        def call() -> Any:
            user, secret, kind = validation.validate_login(username, password, auth_type)
            self.user, self._password, self.auth_type = user, secret, kind
            answer = self._object(self._backend.login(user, secret, kind))
            if "token" in answer and "error" not in answer:
                self.token = answer["token"]
            return answer

        return self._one(call)

    def token_expiration_time(self) -> dt.datetime | Any:
        """When the current token expires, as a naive local ``datetime``."""
        return self._one(lambda: self._backend.token_expiration(self._token()))

    # ------------------------------------------------------------------ writes

    def _write(
        self, entity: validation.Entity, payload: object, ident: object, create: bool
    ) -> Any:
        def call() -> Any:
            checked = validation.validate_write(
                entity, payload, create=create, authenticated=self._may_queue()
            )
            name = None if create else validation.validate_identifier(entity, ident)
            return self._object(self._backend.write(entity, name, checked, self._auth()))

        return self._one(call)

    def create_time(self, time: dict[str, Any]) -> Any:
        """Create a time entry; ``duration`` may be seconds or a ``"3h30m"`` string."""
        return self._write("time", time, None, create=True)

    def update_time(self, time: dict[str, Any], uuid: str | None = None) -> Any:
        """Update the time entry ``uuid`` with the fields in ``time``."""
        return self._write("time", time, uuid, create=False)

    def create_project(self, project: dict[str, Any]) -> Any:
        """Create a project (``name`` and ``slugs`` required)."""
        return self._write("project", project, None, create=True)

    def update_project(self, project: dict[str, Any], slug: str | None = None) -> Any:
        """Update the project with slug ``slug``."""
        return self._write("project", project, slug, create=False)

    def create_activity(self, activity: dict[str, Any]) -> Any:
        """Create an activity (``name`` and ``slug`` required)."""
        return self._write("activity", activity, None, create=True)

    def update_activity(self, activity: dict[str, Any], slug: str | None = None) -> Any:
        """Update the activity with slug ``slug``."""
        return self._write("activity", activity, slug, create=False)

    def create_user(self, user: dict[str, Any]) -> Any:
        """Create a user; the password is sent as its bcrypt hash."""
        return self._write("user", user, None, create=True)

    def update_user(self, user: dict[str, Any], username: str | None = None) -> Any:
        """Update the user ``username``; a password is sent as its bcrypt hash."""
        return self._write("user", user, username, create=False)

    # ------------------------------------------------------------------ deletes

    def _delete(self, entity: validation.Entity, ident: object) -> Any:
        def call() -> Any:
            token = self._auth()
            return self._backend.delete(
                entity, validation.validate_identifier(entity, ident), token
            )

        return self._deleted(call)

    def delete_time(self, uuid: str | None = None) -> Any:
        """Delete (soft-delete) the time entry ``uuid``; ``{"status": 200}`` on success."""
        return self._delete("time", uuid)

    def delete_project(self, slug: str | None = None) -> Any:
        """Delete the project with slug ``slug``."""
        return self._delete("project", slug)

    def delete_activity(self, slug: str | None = None) -> Any:
        """Delete the activity with slug ``slug``."""
        return self._delete("activity", slug)

    def delete_user(self, username: str | None = None) -> Any:
        """Delete the user ``username``."""
        return self._delete("user", username)

    # ------------------------------------------------------------------ reads

    def get_times(self, query_parameters: dict[str, Any] | None = None) -> list[Any]:
        """Times visible to the caller, filtered by ``query_parameters``. Always a list.

        Keys: ``user``, ``project``, ``activity`` (a string or a list of strings),
        ``start``, ``end`` (``YYYY-MM-DD``), ``include_deleted``, ``include_revisions``
        (booleans), ``uuid`` (one time; only the ``include_*`` keys still apply).
        """

        def call() -> Any:
            query = validation.validate_times_query(
                query_parameters, authenticated=self._may_queue()
            )
            return self._backend.times(query, self._auth())

        return self._many(call)

    def cached_times(self, query_parameters: dict[str, Any] | None = None) -> list[Any]:
        """Like :meth:`get_times`, answered from the local cache only, never the server
        (with this user's pending changes applied); :attr:`last_read` says how old the
        cache is. For a login that expired, or a server known to be slow. There is no
        cache in test mode and ``direct`` mode: the answer is ``get_times()``'s."""

        if self._offline is None:
            return self.get_times(query_parameters)
        offline = self._offline

        def call() -> Any:
            query = validation.validate_times_query(
                query_parameters, authenticated=self._may_queue()
            )
            return offline.cached_times(query, self._auth())

        return self._many(call)

    def _entities(self, entity: validation.Entity, query_parameters: object) -> list[Any]:
        def call() -> Any:
            query = validation.validate_entity_query(
                entity, query_parameters, authenticated=self._may_queue()
            )
            return self._backend.entities(query, self._auth())

        return self._many(call)

    def get_projects(self, query_parameters: dict[str, Any] | None = None) -> list[Any]:
        """Projects, filtered by ``slug``, ``user`` (projects a user has a role in),
        ``include_deleted`` and ``include_revisions``. Always a list."""
        return self._entities("project", query_parameters)

    def get_activities(self, query_parameters: dict[str, Any] | None = None) -> list[Any]:
        """Activities, filtered by ``slug``, ``include_deleted`` and ``include_revisions``.
        Always a list."""
        return self._entities("activity", query_parameters)

    def get_users(self, username: str | None = None) -> list[Any]:
        """All users, or the one named ``username``. Always a list."""

        def call() -> Any:
            query = validation.validate_username_query(username, authenticated=self._may_queue())
            return self._backend.entities(query, self._auth())

        return self._many(call)

    def project_users(self, project: str | None = None) -> Any:
        """``{username: [roles]}`` for the project with slug ``project``."""

        def call() -> Any:
            slug = validation.validate_project_slug(project, authenticated=self._may_queue())
            return self._backend.project_users(slug, self._auth())

        return self._one(call)

    # ------------------------------------------------------------------ offline-first

    def sync(
        self,
        progress: Callable[[OpResult], None] | None = None,
        *,
        budget: float | None = None,
        should_stop: Callable[[], bool] | None = None,
    ) -> SyncReport:
        """Push every queued operation of this account now, in order.

        ``progress``, if given, is called with each operation's
        :class:`~pymesync.sync.OpResult` as soon as it is known (for progress bars).
        ``budget`` (seconds, default unlimited) bounds the whole pass: once it is spent
        nothing new is sent, requests still out are abandoned within about a second and
        their operations stay queued (reconciled by a later pass); the report then says
        ``stopped="budget"``. ``should_stop``, if given, is asked about ten times a second
        while the pass runs: once it answers True the pass ends the same way (for a
        Ctrl-C in another thread, say) and the report says ``stopped="stopped"``.

        Returns a :class:`~pymesync.sync.SyncReport` (what was sent, what failed, why a
        pass stopped early). In test mode and ``direct`` mode there is no queue and the
        report is empty. A client made by :meth:`resume` that has no token sends with
        the token stored for its account since (a ``pymesync login`` elsewhere), else
        logs in with the environment's credentials if it can; failing both, whatever is
        queued stays queued and the report says ``stopped="needs_login"`` (as
        :meth:`status` then does). Raises ``NotAuthenticatedError`` for a client made
        with the constructor without a token.
        """
        if self._offline is None:
            from pymesync.sync import SyncReport

            return SyncReport()
        if budget is not None and not budget > 0:
            raise ValueError("budget must be a positive number of seconds")
        return self._offline.sync(
            self._auth(), progress=progress, budget=budget, should_stop=should_stop
        )

    @property
    def last_read(self) -> ReadInfo | None:
        """Where the last ``get_*`` answer came from (``source`` "server" or "cache",
        ``fetched_at``, ``age`` in seconds); None before the first read."""
        return None if self._offline is None else self._offline.last_read

    def sync_status(self, entity: str, ident: str) -> dict[str, Any]:
        """Whether one object is ``synced``, ``pending``, ``inflight``, ``failed``, in
        ``conflict`` or ``unknown`` (never seen), with its queued operations.

        ``entity`` is ``"time"``, ``"project"``, ``"activity"`` or ``"user"``; ``ident`` a
        uuid (local or server), slug or username. The answer is a JSON-ready dict:
        ``{"entity", "id", "server_id", "state", "operations": [...]}``.
        """

        def call() -> Any:
            kind = validation.validate_entity(entity)
            name = validation.validate_identifier(kind, ident)
            token = self._auth()
            if self._offline is None:
                return {
                    "entity": entity,
                    "id": name,
                    "server_id": None,
                    "state": "unknown",
                    "operations": [],
                }
            return self._offline.status_of(kind, name, token)

        return self._one(call)

    def sync_states(self, entity: str, ids: list[str]) -> dict[str, str]:
        """``{id: state}`` for many objects of one entity at once: what
        :meth:`sync_status` says in ``state`` for each, with one read of the queue
        instead of one per object (for a table of entries). ``unknown`` for all in test
        mode and ``direct`` mode."""

        def call() -> Any:
            kind = validation.validate_entity(entity)
            names = [validation.validate_identifier(kind, i) for i in ids]
            if self._offline is None:
                return dict.fromkeys(names, "unknown")
            return self._offline.sync_states(kind, names, self._auth())

        return self._one(call)

    def ids_starting(self, entity: str, prefix: str) -> dict[str, str]:
        """The ids known here that start with ``prefix`` (uuids of times in the local
        cache, not deleted, and the local uuids entries were logged under), each with
        the id it names now: ``{id: current id}``. A lookup in the store, never the
        network, and never a read of every entry (at most 20 of each kind; more means
        "give more characters"). Empty in test mode and ``direct`` mode."""

        def call() -> Any:
            kind = validation.validate_entity(entity)
            if not isinstance(prefix, str) or not prefix:
                raise ValidationError("invalid prefix: must be a non-empty string")
            validation.check_text(prefix, "invalid prefix")
            if self._offline is None:
                return {}
            return self._offline.ids_starting(kind, prefix, self._auth())

        return self._one(call)

    def local_ids(self, entity: str, ids: list[str]) -> dict[str, str]:
        """For each of the server ids ``ids`` whose object was created here, the local id
        it was queued under (what ``create_*`` answered before it was synced), as
        ``{server_id: local_id}``; ids created elsewhere are left out. Empty in test
        mode and ``direct`` mode."""

        def call() -> Any:
            kind = validation.validate_entity(entity)
            if self._offline is None:
                return {}
            return self._offline.local_ids(kind, [str(i) for i in ids], self._auth())

        return self._one(call)

    # ------------------------------------------------------------------ the queue

    @contextlib.contextmanager
    def batch(self) -> Iterator[TimeSync]:
        """Queue many writes in one transaction (e.g. importing history).

        Inside ``with ts.batch():`` every ``create_*``/``update_*``/``delete_*`` call is
        validated as usual and answers at once with its provisional object; the
        operations are written to the store together when the block ends (durable from
        then on; nothing is queued if the block raises), and in ``auto`` mode pushed
        right after. Outside the offline-first modes it changes nothing.
        """
        if self._offline is None:
            yield self
            return
        with self._offline.batch(lambda: self.token):
            yield self

    @classmethod
    def resume(cls, baseurl: str, username: str, **options: Any) -> TimeSync:
        """A client for ``username`` that uses the token stored by an earlier
        ``authenticate()`` (or ``pymesync login``) in the store, if there is one.

        In the offline-first modes it works without one too: writes are validated and
        queued (they wait for a login to be sent) and reads answer from the cache.

        ``options`` are the constructor's keyword arguments (``db``, ``mode``, ...). An
        empty username, or a username or URL that is not text that can be sent, raises
        :class:`~pymesync.errors.ValidationError`.
        """
        if not isinstance(username, str) or not username:
            raise ValidationError("invalid username: must be a non-empty string")
        validation.check_text(username, "invalid username")
        if isinstance(baseurl, str):  # (anything else: the constructor's TypeError)
            validation.check_text(baseurl, "invalid baseurl")
        ts = cls(baseurl, **options)
        ts.user = username
        if ts._offline is not None:
            ts._resumed_user = username
            ts.token = accounts.resumed(ts.baseurl, username, ts._offline.store.load_token)[1]
        return ts

    def logout(self) -> None:
        """Forget the token, here and in the store. Queued operations stay queued."""
        if self._offline is not None and (self.token or self.user):
            self._offline.store.forget_token(self._account())
        self.token = None

    def cached(self, entity: str) -> list[dict[str, Any]] | None:
        """The projects, activities or users (``entity`` is ``"project"``,
        ``"activity"`` or ``"user"``) that the local cache knows, without asking the
        server: never a network request, so it answers at once even when the server
        is unreachable.

        The objects are the last ones read from the server with the user's pending
        changes applied, deleted ones left out. None when nothing is known: in test
        mode and ``direct`` mode (no cache), without a token or username, and until a
        ``get_projects()`` / ``get_activities()`` / ``get_users()`` without a ``slug``
        (or ``user``) filter has read the whole list once. Works without a token for a
        client made by :meth:`resume`.
        """
        if entity not in ("project", "activity", "user"):
            raise ValueError(f"entity must be 'project', 'activity' or 'user', not {entity!r}")
        if self._offline is None or not (self.token or self.user):
            return None
        return self._offline.known(self._account(), entity)  # type: ignore[arg-type]

    @property
    def account(self) -> str | None:
        """The account this client works on, ``"<baseurl>|<username>"``: its token's
        user, else the username it was resumed (or last authenticated) for; None
        before either. Operations, cached objects and stored tokens are filed under
        it (see :mod:`pymesync.accounts`)."""
        return accounts.account_of(self.baseurl, self.token, self.user)

    def _account(self) -> str:
        account = self.account
        validation.require_token(account is not None)
        return str(account)

    def _queue(self) -> OfflineBackend:
        if self._offline is None:
            raise ValidationError(f"there is no queue in {'test' if self.test else self.mode} mode")
        return self._offline

    @property
    def store_path(self) -> Path | None:
        """The absolute path of the local store (the ``db`` argument, else
        ``$PYMESYNC_DB``, else the user data dir's); None in test mode and ``direct``
        mode, and for a store on PostgreSQL (see :attr:`store_location`). Reading it
        neither opens nor creates the store."""
        return None if self._offline is None else self._offline.store_path

    @property
    def store_location(self) -> str | None:
        """Where the local store is, as it may be shown: the file's path, or the URL of
        a store on PostgreSQL with its password replaced by ``***``; None in test mode
        and ``direct`` mode. Reading it neither opens nor creates the store."""
        return None if self._offline is None else self._offline.store_location

    def sync_worker(self) -> SyncWorker:
        """A :class:`~pymesync.sync.SyncWorker` for this account: the engine behind
        :meth:`sync`, for a loop that runs passes itself (``pymesync daemon`` does;
        ``worker.run_once(...)`` runs one pass, ``worker.expedite()`` makes what is
        backing off due now). It keeps what one pass learnt for the next (a server
        found down is probed with one request first) and sends with this client's
        token, else the one stored for the account. Raises
        :class:`~pymesync.errors.ValidationError` in test mode and ``direct`` mode
        and :class:`~pymesync.errors.NotAuthenticatedError` without an account."""
        return self._queue().worker_for(self._account())

    def status(self) -> dict[str, Any]:
        """This account's queue: ``pending``, ``inflight``, ``failed``, ``conflicts``,
        ``oldest_pending_age`` (seconds), ``last_success``, ``last_error``,
        ``next_retry``, ``needs_login``, and the ``conflict_log``. JSON-ready; never
        contains the token."""
        return self._one(lambda: self._queue().status(self._account()))

    def failed(self) -> list[dict[str, Any]]:
        """The operations the server refused for good (or held as conflicts), oldest
        first; each with ``op_id``, ``entity``, ``kind``, ``target``, ``payload``,
        ``last_error``... They stay until :meth:`retry` or :meth:`discard`."""
        return self._many(lambda: self._queue().problems(self._account()))

    def retry(self, op_id: str) -> dict[str, Any]:
        """Send a failed operation again at the next sync (returns the operation)."""
        return self._one(
            lambda: self._queue().retry(self._account(), validation.validate_op_id(op_id))
        )

    def discard(self, op_id: str) -> dict[str, Any]:
        """Drop a queued operation for good (returns it as it was)."""
        return self._one(
            lambda: self._queue().discard(self._account(), validation.validate_op_id(op_id))
        )

    def wait_synced(self, timeout: float = 30.0) -> bool:
        """Push until everything queued so far is on the server. True when it is; False
        when ``timeout`` seconds passed, one of those operations failed for good, or
        the account needs a login (a client made by :meth:`resume` without a token)."""
        if self._offline is None:
            return True
        return self._offline.wait_synced(self._auth(), timeout, time.sleep)

    # ------------------------------------------------------------------ the timer

    def _timing(self) -> tuple[OfflineBackend, str, str, str]:
        """The queue, account, token (``""`` for a resumed client without one) and the
        user whose timer it is."""
        backend, token = self._queue(), self._auth()
        account = self._account()
        user = self.user or accounts.split(account)[1]
        if not user:
            raise ValidationError("no user: authenticate() or resume() first")
        return backend, account, token, user

    def timer(self) -> dict[str, Any] | None:
        """The running timer (``project``, ``activities``, ``notes``, ``issue_uri``,
        ``started_at`` in ISO 8601 UTC, ``elapsed`` seconds), or None; from the local
        store, never the network."""
        from pymesync import stopwatch

        return self._one(lambda: stopwatch.current(*self._timing()[:2]))

    def last_timer(self) -> dict[str, Any] | None:
        """The last timer stopped or cancelled (what :meth:`restart_timer` starts
        again), as :meth:`timer` shows it, or None."""
        from pymesync import stopwatch

        return self._one(lambda: stopwatch.current(*self._timing()[:2], "last"))

    def start_timer(
        self,
        project: str,
        activities: list[str] | None = None,
        notes: str | None = None,
        issue_uri: str | None = None,
        *,
        at: dt.datetime | None = None,
        stop_running: bool = True,
    ) -> Any:
        """Start a timer on ``project`` (kept in the local store) ``at`` (default: now;
        a naive datetime is a local time; not in the future). A running timer is first
        stopped at that time (as :meth:`stop_timer`, in the same transaction), or with
        ``stop_running=False`` refused. Returns ``{"timer": ..., "stopped": None or
        what stop_timer returns}``."""
        from pymesync import stopwatch

        def call() -> Any:
            backend, account, token, user = self._timing()
            moment = stopwatch.aware(backend.clock() if at is None else at, "at")
            timer = stopwatch.new_timer(project, activities, notes, issue_uri, moment, user)
            return stopwatch.start(backend, account, token, user, timer, stop_running=stop_running)

        return self._one(call)

    def restart_timer(self, *, at: dt.datetime | None = None, stop_running: bool = True) -> Any:
        """Start the last timer stopped or cancelled again (same project, activities,
        notes and issue) ``at`` (default: now); as :meth:`start_timer` otherwise."""
        from pymesync import stopwatch

        def call() -> Any:
            backend, account, token, user = self._timing()
            return stopwatch.restart(
                backend, account, token, user, at=at, stop_running=stop_running
            )

        return self._one(call)

    def stop_timer(self, *, at: dt.datetime | None = None, notes: str | None = None) -> Any:
        """Stop the running timer ``at`` (default: now): its time entries (one per local
        day it ran on, whole seconds) are queued, and it becomes the last timer, in one
        transaction; ``notes`` replaces its notes. Returns ``{"timer", "stopped_at",
        "times"}`` (``times``: the created entries, as ``create_time()`` answers them
        inside :meth:`batch`)."""
        from pymesync import stopwatch

        def call() -> Any:
            backend, account, token, user = self._timing()
            return stopwatch.stop(backend, account, token, user, at=at, notes=notes)

        return self._one(call)

    def cancel_timer(self) -> Any:
        """Drop the running timer, logging nothing (it becomes the last timer, for
        :meth:`restart_timer`); returns it."""
        from pymesync import stopwatch

        return self._one(lambda: stopwatch.cancel(*self._timing()[:2]))

    def time_totals(
        self, query_parameters: dict[str, Any] | None = None, *, cached_only: bool = False
    ) -> list[dict[str, Any]]:
        """The times :meth:`get_times` would give for ``query_parameters`` (the keys
        ``user``, ``project``, ``activity``, ``start``, ``end``), as rows for a report:
        ``{"date_worked", "user", "project": [slugs], "activities": [slugs],
        "duration": seconds, "entries", "sync_state", "uuid"}``.

        From the server, one row a time (the cache refreshed, pending changes applied),
        each with its sync state. From the local cache (``cached_only``, or when the
        server cannot answer, as :meth:`get_times` does; :attr:`last_read` says which),
        the durations are summed in SQL: one row per day, user, project and set of
        activities (``uuid`` None, ``sync_state`` "synced"), except the times with
        queued or refused changes, one row each with their state (``pending``,
        ``inflight``, ``failed``, ``conflict``). Either way deleted times are left out
        and a time edited offline counts with its new values. Fast over many cached
        times (50,000 in about 0.2 s). In test mode and ``direct`` mode, ``get_times()``'s
        answer, one row a time, each "synced".
        """
        if self._offline is None:
            from pymesync.offline import report_row

            return [report_row(t, "synced") for t in self.get_times(query_parameters)]
        offline = self._offline

        def call() -> Any:
            query = validation.validate_times_query(
                query_parameters, authenticated=self._may_queue()
            )
            if query.uuid is not None or query.include_deleted or query.include_revisions:
                raise ValidationError("time_totals takes user, project, activity, start, end")
            return offline.time_totals(query, self._auth(), cached_only=cached_only)

        return self._many(call)

    # ------------------------------------------------------------------ imports

    def imported(self, keys: Iterable[str]) -> dict[str, str]:
        """Which of the import keys ``keys`` (see :meth:`import_batch`) this account has
        imported already, as ``{key: the local uuid of the time it became}``; from the
        local store, never the network. Empty in test mode and ``direct`` mode."""

        def call() -> Any:
            if self._offline is None:
                return {}
            validation.require_token(self._may_queue())
            wanted = [validation.check_import_key(key) for key in keys]
            return self._offline.store.imported_keys(self._account(), wanted)

        return self._one(call)

    @contextlib.contextmanager
    def import_batch(self) -> Iterator[ImportBatch]:
        """Like :meth:`batch`, for entries imported from another tracker: inside ``with
        ts.import_batch() as keys:``, each ``create_time()`` is followed by
        ``keys.record(key, answer["uuid"])`` (``key``: the record's stable import key),
        and the keys are stored in the SAME transaction as the queued creates, when the
        block ends. A process killed at any moment leaves each entry queued with its key
        or neither, so importing again creates nothing twice and loses nothing (skip
        the keys :meth:`imported` knows).

        A key imported meanwhile by another process is not stored again and its entry
        is not queued: it is in ``keys.taken`` (``{key: local uuid}``) after the block.
        Only in the offline-first modes (else :class:`~pymesync.errors.ValidationError`,
        raised whatever ``raise_errors`` says, as is everything raised inside the block).
        """
        backend = self._queue()
        validation.require_token(self._may_queue())
        account = self._account()
        keys = ImportBatch()

        def commit(items: Any, *, now: dt.datetime, new_ids: Any) -> object:
            return backend.store.enqueue_imports(
                account, items, keys=keys.pairs, now=now, new_ids=new_ids, taken=keys.taken
            )

        with backend.batch(lambda: self.token, commit=commit):
            yield keys

    # ------------------------------------------------------------------ undo

    def undo(self) -> dict[str, Any]:
        """Revert the last local change of this account that has not been sent yet,
        from the local store alone (never the network): a create is removed from the
        queue with its provisional entry, an update gives the entry back its state
        before it (the queue's folded operation as it was), a delete brings the entry
        back, and a timer's stop removes all the entries it made. Returns ``{"kind":
        "create"|"update"|"delete"|"stop", "entity", "target", "ids", "restored",
        "replaced"}`` (``restored``: each id's cached object now, None for one removed
        or deleted; ``replaced``: what the cache showed before the undo).

        Raises (or, without ``raise_errors``, answers with)
        :class:`~pymesync.errors.NothingToUndoError` when there is nothing to take
        back: no change recorded, or the last one has already been synced, is being
        sent by a running sync, was refused by the server, or was changed since; an
        older change is never undone in its place. Batches of writes (:meth:`batch`,
        imports) are not undone."""
        return self._one(lambda: self._queue().store.undo(self._account()))


class ImportBatch:
    """The import keys of the entries created inside :meth:`TimeSync.import_batch`."""

    def __init__(self) -> None:
        #: ``(key, local uuid)`` in the order recorded.
        self.pairs: list[tuple[str, str]] = []
        #: After the block: the keys another process imported meanwhile (their entries
        #: were not queued), ``{key: local uuid of the entry it did import}``.
        self.taken: dict[str, str] = {}
        self._seen: set[str] = set()

    def record(self, key: str, uuid: str) -> None:
        """Say that the entry ``uuid`` just created in this block comes from the record
        with import key ``key``. A key given twice is a
        :class:`~pymesync.errors.ValidationError`."""
        checked = validation.check_import_key(key)
        if checked in self._seen:
            raise ValidationError(f"import key {checked!r} is recorded twice in one import")
        if not isinstance(uuid, str) or not uuid:
            raise ValidationError("record(key, uuid): uuid must be the created entry's uuid")
        self._seen.add(checked)
        self.pairs.append((checked, uuid))
