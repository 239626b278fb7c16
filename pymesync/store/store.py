"""The :class:`Store`: one SQLite file holding the write queue, the cache, the id map,
credentials and sync state of every account.

Every write method runs in one ``BEGIN IMMEDIATE`` transaction and returns only once
the transaction is committed with ``synchronous=FULL``: when it returns, the change is
on disk. Several processes (CLI, daemon, library users) and threads may use the same
file at once; a writer waits up to 30 s for another one to finish. Methods return
frozen records (:mod:`pymesync.store.records`), never ORM rows.

Times (``now``) are timezone-aware datetimes; each method that needs one takes it as a
keyword and defaults to the current UTC time.

SQLAlchemy provides the engine (its connection pool, the one pool of the store, and the
per-connection pragmas of :mod:`pymesync.store.engine`), the models and the migrations;
the methods themselves run plain SQL on the pooled DB-API connection (``BEGIN
IMMEDIATE`` ... ``COMMIT`` for writes, ``BEGIN`` ... ``COMMIT`` for reads), which costs
a few microseconds per statement where building and compiling SQLAlchemy statements cost tens.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from collections.abc import Container, Iterable, Iterator, Sequence
from datetime import date, datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from . import cache, idmap, queue, state, timers, undo
from .dbapi import on_postgres
from .errors import StoreError, from_sqlite_error
from .location import check_integrity, connect_plain, resolve_target
from .migrator import ensure_schema
from .records import (
    CacheObject,
    EnqueueResult,
    NewOperation,
    Operation,
    PutResult,
    QueueSummary,
)

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from .reports import TimeTotal

__all__ = ["Store"]


class _Lent(Protocol):
    """A connection lent for one transaction: one checked out of SQLAlchemy's pool
    (``close`` checks it back in), or an :class:`_Unpooled` one."""

    @property
    def driver_connection(self) -> Any: ...

    def close(self) -> None: ...


class _Unpooled:
    """No pool (``Store.open(pooled=False)``): a plain ``sqlite3`` connection opened for
    one transaction and closed at its end (``close``)."""

    __slots__ = ("driver_connection",)

    def __init__(self, db: sqlite3.Connection) -> None:
        self.driver_connection = db

    def close(self) -> None:
        self.driver_connection.close()


def _now(now: datetime | None) -> datetime:
    if now is None:
        return datetime.now(timezone.utc)
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError(f"naive datetime {now!r}: pass a timezone-aware time")
    return now


def _translate(exc: Exception, path: str) -> StoreError:
    """A :class:`StoreError` for a ``sqlite3`` error, or SQLAlchemy's wrapping of one."""
    orig = exc if isinstance(exc, sqlite3.Error) else getattr(exc, "orig", None)
    return from_sqlite_error(orig if orig is not None else exc, path)


def _pg_rollback(lent: Any, db: Any) -> None:
    """End a failed transaction on PostgreSQL: ROLLBACK, or, when the connection itself
    failed, drop it from the pool (the server rolls back what it had)."""
    raw = db.raw
    if raw.closed or raw.broken:
        lent.invalidate()
        return
    if db.in_transaction:
        try:
            db.execute("ROLLBACK")
        except Exception:
            lent.invalidate()


#: Page cache of a connection during a bulk write, in KiB (SQLite's default is 2 MiB).
BULK_CACHE_KIB = 65536


@contextlib.contextmanager
def _bulk(db: sqlite3.Connection) -> Iterator[None]:
    """A bigger page cache for one big transaction, given back afterwards.

    Thousands of rows written at random places in several indexes touch many more
    pages than the default 2 MiB cache holds: SQLite would spill dirty pages to the WAL
    in the middle of the transaction and read them back. The memory is only taken as
    pages are used, and freed when the cache is set back.
    """
    if on_postgres(db):  # (the server's shared buffers serve every connection)
        yield
        return
    previous = db.execute("PRAGMA cache_size").fetchone()[0]
    db.execute(f"PRAGMA cache_size = -{BULK_CACHE_KIB}")
    try:
        yield
    finally:
        db.execute(f"PRAGMA cache_size = {int(previous)}")


class Store:
    """The local store. Create it with :meth:`Store.open`; close it with :meth:`close`.

    A ``Store`` is safe to share between threads; open one per process (do not carry an
    open store across ``fork``).
    """

    def __init__(self, path: Path | None, engine: Engine | None, *, url: str | None = None) -> None:
        """Wrap an engine (its pool lends the connections; None: no pool, a connection
        per transaction) on an up-to-date database: the SQLite file ``path``, or the
        PostgreSQL database ``url``; use :meth:`open`."""
        self._path = path
        self._url = url
        self._engine = engine
        self._closed = False
        if url is not None:
            from .postgres import display_url

            self._where = display_url(url)
        else:
            self._where = str(path)

    # ------------------------------------------------------------------ lifecycle

    @classmethod
    def open(
        cls,
        path: str | os.PathLike[str] | None = None,
        *,
        quick_check: bool | None = None,
        pooled: bool = True,
    ) -> Store:
        """Open (creating and migrating as needed) the store at ``path``.

        The path is ``path`` if given, else ``$PYMESYNC_DB``, else
        ``platformdirs.user_data_dir("pymesync")/pymesync.sqlite3``. A missing folder is
        created with mode 0700 and a missing file with mode 0600. When the schema is
        already current, Alembic is not even imported.

        Opening does not read the whole file. SQLite's ``PRAGMA quick_check`` (a full
        read) runs before a migration and when the file's write-ahead log was left
        behind with content (a process ended without closing the store, or another one
        has it open); ``quick_check=True`` runs it on every open, ``False`` never. Use
        :meth:`check` for a thorough check on request. Damage found later, where SQLite
        reads it, raises the same :class:`~pymesync.store.errors.CorruptDatabaseError`.

        ``pooled=False`` means no pool at all, for a short-lived process that makes a
        few transactions (one command-line write): each transaction opens its own
        ``sqlite3`` connection, set up exactly as the pooled ones, and closes it at the
        end, and SQLAlchemy is not imported at all (its import costs more than such a
        whole command; see docs/performance.md). Long-lived users keep the default:
        SQLAlchemy's connection pool (:func:`~pymesync.store.engine.create_store_engine`),
        whose connections keep their prepared statements between transactions.

        ``path`` (or ``$PYMESYNC_DB``) may instead be a SQLAlchemy URL of a PostgreSQL
        database, ``postgresql+psycopg://alice@db.example/pymesync`` (see
        docs/deploying.md; needs ``pip install 'pymesync[postgresql]'``): the store's
        tables are created or upgraded there, by the same migrations, and every process
        that opens the same URL shares one queue and one cache. ``quick_check`` and
        ``pooled`` do not apply (a PostgreSQL store is always pooled).
        :class:`~pymesync.store.errors.StoreUnavailableError` when the server cannot be
        reached.

        Raises :class:`~pymesync.store.errors.StoreLocationError` (folder or file not
        usable), :class:`~pymesync.store.errors.CorruptDatabaseError` (not a SQLite
        database, not a pymesync store, or damaged) or
        :class:`~pymesync.store.errors.SchemaTooNewError` (written by a newer
        pymesync); in each case the file is left exactly as it was.
        """
        target = resolve_target(path)
        if isinstance(target, str):
            return cls._open_url(target)
        resolved = target
        ensure_schema(resolved, quick_check=quick_check)
        if not pooled:
            return cls(resolved, None)
        from .engine import create_store_engine

        return cls(resolved, create_store_engine(resolved))

    @classmethod
    def open_existing(cls, url: str) -> Store | None:
        """The store in the PostgreSQL database ``url`` (a SQLAlchemy URL), or None when
        that database holds no store yet: nothing is created or upgraded (for a look
        such as ``pymesync status``; :class:`~pymesync.store.StorePeek` is that look
        at a SQLite file). An older schema is a
        :class:`~pymesync.store.errors.StoreError` asking for ``pymesync migrate``;
        the other errors are :meth:`open`'s."""
        from .postgres import open_existing

        engine = open_existing(url)
        return None if engine is None else cls(None, engine, url=url)

    @classmethod
    def _open_url(cls, url: str) -> Store:
        from .postgres import open_engine

        engine, _ = open_engine(url)
        return cls(None, engine, url=url)

    @property
    def path(self) -> Path | None:
        """The absolute path of the database file (None for a store on PostgreSQL)."""
        return self._path

    @property
    def url(self) -> str | None:
        """The URL of a store on PostgreSQL, its password replaced by ``***`` (None for
        a SQLite file)."""
        return None if self._url is None else self._where

    @property
    def location(self) -> str:
        """Where the store is, as it may be shown: the file's path, or the URL without
        its password."""
        return self._where

    @property
    def shared(self) -> bool:
        """Whether the store is on a database server (PostgreSQL), where processes on
        several hosts may share it (several sync daemons included)."""
        return self._url is not None

    def check(self) -> None:
        """Check the whole file (SQLite's ``PRAGMA integrity_check``: every page, every
        index against its table); a full read, for when it is asked for (``pymesync
        doctor``). Raises :class:`~pymesync.store.errors.CorruptDatabaseError` when it
        finds damage; changes nothing."""
        if self._path is None:  # PostgreSQL checks its pages itself: one read tells
            with self._read() as db:  # that the server answers and the schema is there
                db.execute("SELECT count(*) FROM alembic_version").fetchone()
            return
        with self._read() as db:
            problems = [str(row[0]) for row in db.execute("PRAGMA integrity_check")]
        check_integrity(self._path, problems, "integrity_check")

    def close(self) -> None:
        """Close every connection. The store cannot be used afterwards."""
        self._closed = True
        if self._engine is not None:
            self._engine.dispose()

    def __enter__(self) -> Store:
        """Use the store as a context manager that closes it on exit."""
        return self

    def __exit__(self, *exc_info: object) -> None:
        """Close the store."""
        self.close()

    def __repr__(self) -> str:
        """``Store('/path/to/pymesync.sqlite3')`` (never shows any credential)."""
        return f"Store({self._where!r}{', closed' if self._closed else ''})"

    @contextlib.contextmanager
    def _transaction(self, begin: str) -> Iterator[sqlite3.Connection]:
        """A lent DB-API connection inside ``begin`` ... ``COMMIT`` (ROLLBACK when the
        body raises), given back at the end. SQLite errors become :class:`StoreError`."""
        self._check_open()
        lent = self._lend()
        try:
            db = lent.driver_connection
            assert isinstance(db, sqlite3.Connection)
            db.execute(begin)
            try:
                yield db
            except BaseException:
                if db.in_transaction:
                    db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")
        except sqlite3.Error as exc:
            raise _translate(exc, self._where) from exc
        finally:
            # (back to the pool, which rolls back whatever a failed ROLLBACK left open)
            lent.close()

    @contextlib.contextmanager
    def _pg_transaction(self, begin: str, account: str | None) -> Iterator[sqlite3.Connection]:
        """As :meth:`_transaction`, on PostgreSQL: a pooled connection in its
        :class:`~pymesync.store.postgres.PgConnection` (typed as the ``sqlite3`` one it
        stands for), and for a write of ``account`` that account's lock first. A
        connection that fails is dropped from the pool; driver errors become
        :class:`StoreError` (:class:`StoreUnavailableError` for a lost server)."""
        from .postgres import from_pg_error, is_driver_error, lock_account

        self._check_open()
        assert self._engine is not None and self._url is not None
        lent, db = self._pg_begin(begin)
        try:
            try:
                if account is not None:
                    lock_account(db, account)
                yield db  # (a PgConnection: it offers what the modules use)
                db.execute("COMMIT")
            except BaseException:
                _pg_rollback(lent, db)
                raise
        except Exception as exc:
            if is_driver_error(exc):
                raise from_pg_error(exc, self._url) from exc
            raise
        finally:
            lent.close()

    def _pg_begin(self, begin: str) -> tuple[Any, Any]:
        """A pooled connection (and its PgConnection) in a transaction begun with
        ``begin``. The pool does not ping a connection before lending it (a round trip
        per transaction): a connection the server dropped (a restart, a cut network)
        fails at ``BEGIN``, where nothing has run yet, so the pool's idle connections
        are dropped and it is tried once more on a new one."""
        from .postgres import PgConnection, from_pg_error, is_driver_error

        assert self._engine is not None and self._url is not None
        for attempt in (1, 2):
            try:
                lent = self._engine.raw_connection()
            except Exception as exc:
                if is_driver_error(exc):
                    raise from_pg_error(exc, self._url) from exc
                raise
            db = lent.info.get("pymesync")
            if db is None:
                db = lent.info["pymesync"] = PgConnection(lent.driver_connection)
            try:
                db.execute(begin)
                return lent, db
            except Exception as exc:
                lost = db.raw.closed or db.raw.broken
                _pg_rollback(lent, db)
                lent.close()
                if lost and attempt == 1:
                    self._engine.dispose()  # (its other idle connections are gone too)
                    continue
                if is_driver_error(exc):
                    raise from_pg_error(exc, self._url) from exc
                raise
        raise AssertionError("unreachable")  # pragma: no cover

    def _lend(self) -> _Lent:
        """A connection for one transaction: checked out of the engine's pool, or
        opened (no pool)."""
        assert self._path is not None
        if self._engine is None:
            try:
                return _Unpooled(connect_plain(self._path))
            except sqlite3.Error as exc:
                raise _translate(exc, self._where) from exc
        from sqlalchemy.exc import DBAPIError

        try:
            return self._engine.raw_connection()
        except DBAPIError as exc:
            raise _translate(exc, self._where) from exc

    def _write(
        self, account: str | None = None
    ) -> contextlib.AbstractContextManager[sqlite3.Connection]:
        """A write transaction; on PostgreSQL, holding ``account``'s lock when given
        (every write of an account's queue, cache or state passes it; the sync's claims
        and lease changes lock rows instead: see :mod:`pymesync.store.postgres`)."""
        if self._url is not None:
            return self._pg_transaction("BEGIN", account)
        return self._transaction("BEGIN IMMEDIATE")

    def _read(self) -> contextlib.AbstractContextManager[sqlite3.Connection]:
        if self._url is not None:
            return self._pg_transaction("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", None)
        return self._transaction("BEGIN")

    def _check_open(self) -> None:
        if self._closed:
            raise StoreError(f"The store {self._where} is closed")

    # ------------------------------------------------------------------ queue

    def enqueue(
        self,
        op: NewOperation,
        provisional: CacheObject | None = None,
        *,
        now: datetime | None = None,
    ) -> EnqueueResult:
        """Queue ``op`` and update the cache, in one durable transaction.

        ``op.target`` is first resolved through the id map (a local id whose object the
        server already created becomes the server id). Then, if the last queued
        operation on the same ``(account, entity, target)`` is *unsent* (pending and not
        leased), the two are coalesced:

        * create + update -> one create, the update's fields merged in;
        * update + update -> one update, fields merged, ``base_revision`` of the first;
        * create + delete -> nothing is sent: the create leaves the queue and the
          provisional object leaves the cache (outcome ``"cancelled"``). This happens
          only if the create was never handed to a sender (``first_sent_at`` is None);
          otherwise the delete is appended;
        * update + delete -> one delete, keeping the update's ``base_revision``.

        A merged operation keeps its queue position and its own ``op_id`` (the new
        ``op_id`` is not stored). Anything else is appended. An inflight or conflicting
        operation is never changed, nor a failed one that may have reached the server.

        An operation the server *refused* for good (``failed``, without ``maybe_sent`` in
        its ``last_error``) is coalesced the same way, together with any unsent ones
        queued behind it, and is then queued again as never tried (``pending``,
        ``attempts`` 0, no ``last_error``, no ``first_sent_at``): an update of a
        refused create is sent as one corrected create, a delete of it cancels it
        (outcome ``"cancelled"``, even though it was sent once: the server refused it).

        ``provisional``, when given (and the outcome is not ``"cancelled"``), is stored
        in the cache as a local object (``local=True``, ``fetched_at=now``) under its key
        (resolved through the id map too): typically the new object for a create, or
        the object with the change applied for an update or delete.

        Raises :class:`~pymesync.store.errors.DuplicateOperationError` when ``op.op_id``
        is already queued, ValueError for a malformed operation.
        """
        when = _now(now)
        with self._write(op.account if isinstance(op.account, str) else None) as db:
            snap = undo.before(db, op, provisional)  # (for undo_last: the journal)
            result = queue.enqueue(db, op, provisional, when)
            undo.remember(db, snap, op.kind, result, when)
            return result

    def enqueue_many(
        self,
        items: Iterable[tuple[NewOperation, CacheObject | None]],
        *,
        now: datetime | None = None,
        new_ids: Container[str] = (),
    ) -> list[EnqueueResult]:
        """Queue many operations in ONE durable transaction (e.g. importing history).

        Exactly as calling :meth:`enqueue` for each ``(op, provisional)`` in order
        (coalescing included: a later item may merge into, or cancel, an earlier one of
        the same call), except that everything is committed, or nothing is: when an item
        is malformed or a duplicate, the error is raised and none of the items is stored.
        ``items`` is consumed as it goes (any iterable; no list is needed). Every item
        gets the same ``now``. Returns one result per item, in order.

        ``new_ids`` holds ids the caller has just drawn at random for this call (e.g.
        with :func:`~pymesync.store.records.new_uuid4`): op_ids, and the targets and
        provisional keys of the objects it creates. Nothing in the store can know them
        yet, so they are not looked up (no queued operation to coalesce with, no id-map
        entry, no cached object, no duplicate op_id). This is a promise: an id given
        here that the store does know is treated as unknown. Items on the same new id
        within the call are still handled in order as usual.

        With two CPUs, the rows of a chunk of items are written in a second thread while
        the next chunk is prepared (see :mod:`pymesync.store.writer`), inside the same
        transaction; a chunk that needs lookups waits for it first. Nothing of this
        shows in the outcome.
        """
        when = _now(now)
        with self._write() as db, _bulk(db):
            results = queue.enqueue_many(db, items, when, new_ids)
            for account in {r.operation.account for r in results if r.operation is not None}:
                undo.remember_barrier(db, account, when)  # (undo does not revert a batch)
            return results

    def pending(self, account: str, *, now: datetime | None = None) -> Iterator[Operation]:
        """Stream the account's pending operations in queue order.

        Rows are fetched in batches of 200, never all at once. With ``now``, only
        operations due by then (``next_attempt_at`` unset or not after ``now``) are
        included. The iterator holds a read transaction (which blocks no writer) until it
        is exhausted or closed.
        """
        sql, params = queue.pending_statement(account, None if now is None else _now(now))
        with self._read() as db:
            yield from queue.pending_rows(db.execute(sql, params))

    def expedite(self, account: str, *, now: datetime | None = None) -> int:
        """Make the account's backing-off operations due now; returns how many there were.

        One UPDATE: every pending operation of the account whose ``next_attempt_at`` is
        after ``now`` gets ``next_attempt_at`` cleared (claimable at once; ``attempts``
        and ``last_error`` are kept). Failed and conflicting operations are not touched
        (they wait for :meth:`retry`). Reads only the rows it changes (a partial index
        holds the backing-off operations).
        """
        when = _now(now)
        with self._write(account) as db:
            return queue.expedite(db, account, when)

    def pending_targets(
        self, account: str, entity: str, *, states: Sequence[str] = ("pending", "inflight")
    ) -> set[str]:
        """The distinct targets of the account's pending and inflight operations on
        ``entity``, as stored (after the id map resolution done at enqueue and ack).
        ``states``: other operation states instead (ValueError for an unknown one).

        For "which objects have unsent changes" without listing every operation.
        """
        cache.check_entity(entity)
        with self._read() as db:
            return queue.pending_targets(db, account, entity, tuple(states))

    def claim(
        self,
        account: str,
        owner: str,
        lease_seconds: float,
        *,
        now: datetime | None = None,
        limit: int = 1,
    ) -> list[Operation]:
        """Lease up to ``limit`` of the oldest claimable operations to ``owner``.

        Claimable: pending with ``next_attempt_at`` unset or due, or inflight with an
        expired lease, and with no earlier queued operation (in any state) on the same
        ``(entity, target)`` -- so the operations on one object go out strictly in
        order, and one claim never returns two operations on the same object. Claimed
        operations become ``inflight`` with ``lease_owner=owner`` and
        ``lease_expires_at=now+lease_seconds``; ``first_sent_at`` is set if unset.

        An operation whose previous lease expired comes back with
        ``outcome_unknown=True`` and one more attempt counted: it may have reached the
        server, so the caller must reconcile before resending. The transaction is short
        and exclusive, so concurrent claimers never get the same operation.
        """
        when = _now(now)
        with self._write() as db:
            return queue.claim(db, account, owner, lease_seconds, when, limit)

    def ack(
        self,
        op_id: str,
        *,
        server_object: dict[str, Any] | None = None,
        server_key: str | None = None,
        now: datetime | None = None,
    ) -> None:
        """The server accepted the operation: remove it and cache the outcome (one transaction).

        ``server_object`` is the canonical object the server returned; it is cached under
        ``server_key`` (default: its ``uuid``, or ``username`` for users), replacing any
        provisional version, even if more operations on it are queued. For a create whose
        target was a local id, the mapping local id -> server key is recorded, the
        provisional object under the local id is dropped, and later queued operations on
        the local id are re-targeted to the server key. Acking a delete without a server
        object marks the cached object deleted.

        Raises :class:`~pymesync.store.errors.UnknownOperationError` if the operation is
        no longer queued.
        """
        when = _now(now)
        with self._write() as db:
            queue.ack(db, op_id, server_object, server_key, when)

    def ack_many(
        self,
        items: Iterable[tuple[str, dict[str, Any] | None, str | None]],
        *,
        now: datetime | None = None,
        adopted: Container[str] = (),
    ) -> list[str]:
        """Ack many operations in ONE durable transaction (e.g. a sync pass's successes).

        ``items`` are ``(op_id, server_object, server_key)``; each is handled exactly as
        :meth:`ack` would handle it, in order (a create acked earlier in the call maps
        its local id, drops its provisional object and re-targets the later operations,
        including those acked after it), except that an ``op_id`` no longer queued (acked
        or discarded meanwhile, or given twice) is skipped instead of raising. Every item
        gets the same ``now``. Returns the op_ids actually acked, in order. If anything
        else fails, nothing of the call is stored.

        ``adopted`` names the creates whose server object was found by reconciliation
        (reserved with :meth:`reserve_id`) rather than made by their own request: such
        a create is acked only while its server key is still reserved for it; one whose
        reservation another create took over is skipped (it must look again).
        """
        when = _now(now)
        with self._write() as db:
            return queue.ack_many(db, items, when, adopted)

    def fail(
        self,
        op_id: str,
        *,
        error: dict[str, Any],
        permanent: bool,
        next_attempt_at: datetime | None = None,
        count_attempt: bool = True,
        conflict: bool = False,
        now: datetime | None = None,
        owner: str | None = None,
    ) -> Operation:
        """Record that sending the operation failed, and give its lease back.

        ``error`` (JSON) becomes ``last_error``. A ``permanent`` failure moves it to
        ``failed`` (or ``conflict`` with ``conflict=True``) where it waits for
        :meth:`retry` or :meth:`discard` and blocks later operations on the same object;
        otherwise it goes back to ``pending``, claimable from ``next_attempt_at`` (None:
        at once). ``count_attempt=False`` is for failures where nothing reached the
        server (offline, needs login): ``attempts`` is not incremented (and, unless
        ``error`` says ``maybe_sent``, an operation never attempted loses its
        ``first_sent_at`` again). With ``owner``, the operation must still be leased to
        ``owner`` (:class:`~pymesync.store.errors.OperationStateError` otherwise: a
        sender whose lease passed on records nothing). Returns the updated operation.
        """
        when = _now(now)
        with self._write() as db:
            return queue.fail(
                db,
                op_id,
                error=error,
                permanent=permanent,
                conflict=conflict,
                next_attempt_at=next_attempt_at,
                count_attempt=count_attempt,
                now=when,
                owner=owner,
            )

    def renew(
        self, op_id: str, owner: str, until: datetime, *, now: datetime | None = None
    ) -> bool:
        """Extend ``owner``'s lease on ``op_id`` to ``until``; False when the lease has
        expired or belongs to someone else (the operation is no longer ``owner``'s)."""
        when = _now(now)
        with self._write() as db:
            return queue.renew(db, op_id, owner, until, when)

    def release(
        self, op_id: str, *, now: datetime | None = None, owner: str | None = None
    ) -> Operation:
        """Give back the lease of an operation that was not sent (e.g. at shutdown).

        An inflight operation goes back to pending unchanged (its ``first_sent_at`` is
        cleared again if it was never attempted). Other states are left alone. With
        ``owner``, the operation must still be leased to ``owner``
        (:class:`~pymesync.store.errors.OperationStateError` otherwise). Returns the
        operation.
        """
        when = _now(now)
        with self._write() as db:
            return queue.release(db, op_id, when, owner)

    def retry(self, op_id: str, *, now: datetime | None = None) -> Operation:
        """Make a failed, conflicting or backing-off operation claimable at once.

        Raises :class:`~pymesync.store.errors.OperationStateError` for an inflight one.
        """
        when = _now(now)
        with self._write() as db:
            return queue.retry(db, op_id, when)

    def discard(self, op_id: str, *, now: datetime | None = None) -> Operation:
        """Remove an operation from the queue for good; returns it as it was.

        Discarding a create also removes the later queued operations on the same object
        (they could never succeed) and its provisional cache object. Whenever no
        operation is left on the object, its provisional (local) cache object is
        removed, so the next fetch restores the server's version. An inflight operation
        can only be discarded once its lease has expired
        (:class:`~pymesync.store.errors.OperationStateError` otherwise).
        """
        when = _now(now)
        with self._write() as db:
            return queue.discard(db, op_id, when)

    def get_operation(self, op_id: str) -> Operation | None:
        """The queued operation with ``op_id``, or None."""
        with self._read() as db:
            return queue.get_operation(db, op_id)

    def operations(
        self,
        account: str | None = None,
        states: Sequence[str] | None = None,
        entities: Sequence[str] | None = None,
    ) -> list[Operation]:
        """Queued operations in queue order, of one account (default all), states and
        entities (default all)."""
        with self._read() as db:
            return queue.operations(db, account, states, entities)

    def counts(self, account: str) -> dict[str, int]:
        """The account's number of queued operations per state, e.g. ``{"pending": 2,
        "inflight": 0, "failed": 1, "conflict": 0}`` (every state present)."""
        with self._read() as db:
            return queue.counts(db, account)

    def queue_summary(self, account: str, *, now: datetime | None = None) -> QueueSummary:
        """The account's counts per state, the ``created_at`` of its oldest pending or
        inflight operation and the earliest ``next_attempt_at`` among them, without
        reading the operations into Python (for ``status`` on a long queue). An inflight
        operation whose lease ran out by ``now`` (default: the current time) counts as
        pending: nobody is sending it any more."""
        when = _now(now)
        with self._read() as db:
            return queue.summary(db, account, when)

    def ops_for(self, account: str, entity: str, target: str) -> list[Operation]:
        """Every queued operation (any state) on one object, in queue order.

        ``target`` may be the object's local id or its server id; operations recorded
        under either are returned. Used for "pending changes applied" reads and for
        per-object sync status.
        """
        with self._read() as db:
            return queue.ops_for(db, account, entity, target)

    # ------------------------------------------------------------------ cache

    def put_objects(
        self,
        account: str,
        entity: str,
        objs: Iterable[dict[str, Any]],
        *,
        now: datetime | None = None,
        local: bool = False,
        force: bool = False,
    ) -> PutResult:
        """Cache server-shaped objects in one transaction (bulk).

        Each object is keyed by its ``uuid`` (``username`` for users); ``revision`` and
        ``deleted`` (``deleted_at`` not null) are taken from it. Unless ``force``, an
        object is skipped (left as cached) when a queued operation targets it (by key,
        by a local id mapped to it, or by one of its slugs), or when the cache holds a
        newer server revision of it. Returns what was written and skipped.

        ``objs`` is read a few thousand objects at a time (a generator of a million
        objects is fine: memory stays flat). A key given twice within such a chunk is
        stored once, the last one winning; given again further on, it is stored again
        (checked against what the earlier one wrote) and counted again.

        A call that writes many objects (at least 500, and a quarter of the cached
        times the statistics last counted, or when there are none yet) refreshes
        SQLite's statistics of the cache (``ANALYZE``, in the same transaction), from
        which its planner chooses the index each :meth:`query_times` starts from.
        """
        cache.check_entity(entity)
        when = _now(now)
        with self._write(account) as db, _bulk(db):
            return cache.put_objects(db, account, entity, objs, when, local=local, force=force)

    def get_object(self, account: str, entity: str, key: str) -> CacheObject | None:
        """The cached object (deleted or not) under ``key``, or None.

        A local id that the server replaced is resolved to the server id.
        """
        with self._read() as db:
            return cache.get_object(db, account, entity, key)

    def get_objects(self, account: str, entity: str, keys: Iterable[str]) -> dict[str, CacheObject]:
        """The cached objects (deleted or not) under those of ``keys`` that are cached,
        by key, in one read (keys are taken as they are: no id-map resolution)."""
        with self._read() as db:
            return cache.get_objects(db, account, entity, keys)

    def has_objects(self, account: str, entity: str, *, include_deleted: bool = True) -> bool:
        """Whether anything of ``entity`` is cached for the account (one indexed step,
        where ``list_objects`` would read them all)."""
        cache.check_entity(entity)
        with self._read() as db:
            return cache.has_objects(db, account, entity, include_deleted=include_deleted)

    def find_by_slug(
        self, account: str, entity: str, slug: str, *, include_deleted: bool = False
    ) -> CacheObject | None:
        """The cached project or activity having ``slug`` (any of a project's slugs)."""
        with self._read() as db:
            return cache.find_by_slug(db, account, entity, slug, include_deleted=include_deleted)

    def query_times(
        self,
        account: str,
        *,
        users: Sequence[str] = (),
        projects: Sequence[str] = (),
        activities: Sequence[str] = (),
        start: date | str | None = None,
        end: date | str | None = None,
        include_deleted: bool = False,
    ) -> list[CacheObject]:
        """Cached times matching all the given filters, by ``date_worked`` then key.

        Values within one filter combine with OR: ``users`` (the time's user),
        ``projects`` (a slug in the time's ``project`` list), ``activities`` (a slug in
        its ``activities``). ``start``/``end`` bound ``date_worked`` inclusively
        (``date`` or ``"YYYY-MM-DD"``). Deleted times are left out unless
        ``include_deleted``. Runs entirely in indexed SQL: SQLite's planner starts from
        the filter its statistics say is the most selective (see :meth:`put_objects`).
        """
        f = cache.TimesFilter.of(
            users=users,
            projects=projects,
            activities=activities,
            start=start,
            end=end,
            include_deleted=include_deleted,
        )
        with self._read() as db:
            return cache.query_times(db, account, f)

    def list_objects(
        self, account: str, entity: str, *, include_deleted: bool = False
    ) -> list[CacheObject]:
        """Every cached object of ``entity``, ordered by key."""
        with self._read() as db:
            return cache.list_objects(db, account, entity, include_deleted=include_deleted)

    def remove_object(self, account: str, entity: str, key: str) -> bool:
        """Remove one object from the cache; True if it was there."""
        with self._write(account) as db:
            return cache.remove_object(db, account, entity, key)

    # ------------------------------------------------------------------ ids

    def map_id(self, account: str, entity: str, local_id: str, server_id: str) -> None:
        """Record that the object created as ``local_id`` is ``server_id`` on the server."""
        with self._write(account) as db:
            idmap.map_id(db, account, entity, local_id, server_id)

    def reserve_id(self, account: str, entity: str, local_id: str, server_id: str) -> bool:
        """Claim ``server_id`` for the object created as ``local_id``, atomically: False
        when another local id already holds it (see :func:`idmap.reserve`)."""
        with self._write(account) as db:
            return idmap.reserve(db, account, entity, local_id, server_id)

    def resolve_id(self, account: str, entity: str, ident: str) -> str:
        """The server id of a mapped local id; any other ``ident`` is returned as is."""
        with self._read() as db:
            return idmap.resolve_id(db, account, entity, ident)

    def local_id_for(self, account: str, entity: str, server_id: str) -> str | None:
        """The local id that became ``server_id``, or None."""
        with self._read() as db:
            return idmap.local_id_for(db, account, entity, server_id)

    def ids_starting(
        self, account: str, entity: str, prefix: str, *, limit: int = 20
    ) -> dict[str, str]:
        """Ids of the account's objects that start with ``prefix``, each with the key it
        names: cached objects (not deleted) by their key, and the local ids objects
        were created under by the server id they became. At most ``limit`` of each
        kind; range scans of two indexes, never a read of every object."""
        with self._read() as db:
            found = {key: key for key in cache.keys_starting(db, account, entity, prefix, limit)}
            found.update(idmap.local_ids_starting(db, account, entity, prefix, limit))
        return found

    def local_ids(self, account: str, entity: str, server_ids: Iterable[str]) -> dict[str, str]:
        """Server id -> the local id that became it, for those of ``server_ids`` that
        are mapped (one read)."""
        with self._read() as db:
            return idmap.local_ids(db, account, entity, server_ids)

    # ------------------------------------------------------------------ credentials, state

    def save_token(self, account: str, token: str, *, now: datetime | None = None) -> None:
        """Store the account's login token (replacing any previous one)."""
        when = _now(now)
        with self._write() as db:
            state.save_token(db, account, token, when)

    def load_token(self, account: str) -> str | None:
        """The account's stored token, or None."""
        with self._read() as db:
            return state.load_token(db, account)

    def forget_token(self, account: str) -> bool:
        """Delete the account's token; True if there was one."""
        with self._write() as db:
            return state.forget_token(db, account)

    def set_state(self, account: str, key: str, value: Any, *, now: datetime | None = None) -> None:
        """Store a JSON-serialisable sync-state value (last success, last error, ...)."""
        when = _now(now)
        with self._write() as db:
            state.set_state(db, account, key, value, when)

    def get_state(self, account: str, key: str, default: Any = None) -> Any:
        """A stored sync-state value, or ``default``."""
        with self._read() as db:
            return state.get_state(db, account, key, default)

    def all_states(self, account: str) -> dict[str, Any]:
        """Every sync-state key and value of the account."""
        with self._read() as db:
            return state.all_states(db, account)

    def delete_state(self, account: str, key: str) -> bool:
        """Remove a sync-state key; True if it was there."""
        with self._write() as db:
            return state.delete_state(db, account, key)

    # ------------------------------------------------------------------ timers

    def timer(self, account: str, slot: timers.Slot = "running") -> timers.Timer | None:
        """The account's running timer (``slot="last"``: the last one stopped or
        cancelled), or None."""
        with self._read() as db:
            return timers.get(db, account, slot)

    def start_timer(
        self, account: str, timer: timers.Timer, *, now: datetime | None = None
    ) -> None:
        """Make ``timer`` the account's running timer;
        :class:`~pymesync.errors.TimerStateError` when one is running already."""
        when = _now(now)
        with self._write(account) as db:
            if timers.get(db, account) is not None:
                raise timers.TimerStateError("a timer is running already")
            timers.put(db, account, timers.RUNNING, timer, when)

    def stop_timer(
        self,
        account: str,
        items: Iterable[tuple[NewOperation, CacheObject | None]],
        *,
        started_at: datetime,
        kept: timers.Timer | None = None,
        then: timers.Timer | None = None,
        now: datetime | None = None,
        new_ids: Container[str] = (),
    ) -> list[EnqueueResult]:
        """Stop the running timer: queue its time entries ``items`` (as
        :meth:`enqueue_many`) and keep it as the ``last`` timer (``kept``: what to keep
        instead, e.g. with other notes), and with ``then`` start that timer, all in ONE
        durable transaction: a process killed at any moment leaves either everything
        done or nothing.

        ``started_at`` names the timer the entries were made from:
        :class:`~pymesync.errors.TimerStateError` (nothing changed) when none runs any
        more or another one runs (a process stopped it meanwhile).
        """
        when = _now(now)
        with self._write(account) as db:
            running = timers.take(db, account, started_at)
            results = queue.enqueue_many(db, items, when, new_ids)
            undo.remember_created(db, account, "stop", results, when)
            timers.retire(db, account, kept or running, when)
            if then is not None:
                timers.put(db, account, timers.RUNNING, then, when)
            return results

    def cancel_timer(self, account: str, *, now: datetime | None = None) -> timers.Timer:
        """Drop the running timer (kept as the ``last`` one; nothing is queued) and
        return it; :class:`~pymesync.errors.TimerStateError` when none runs."""
        when = _now(now)
        with self._write(account) as db:
            running = timers.take(db, account)
            timers.retire(db, account, running, when)
            return running

    # ------------------------------------------------------------------ reports

    def time_totals(
        self,
        account: str,
        *,
        users: Sequence[str] = (),
        projects: Sequence[str] = (),
        activities: Sequence[str] = (),
        start: date | str | None = None,
        end: date | str | None = None,
    ) -> list[TimeTotal]:
        """The cached, not deleted times matching the filters (as :meth:`query_times`
        takes them) summed in SQL by day, user, project and activities; the times with
        queued or refused changes one by one, with their sync state (see
        :class:`~pymesync.store.reports.TimeTotal`). For reports over many times."""
        from .reports import time_totals

        with self._read() as db:
            return time_totals(
                db, account, users=users, projects=projects, activities=activities,
                start=start, end=end,
            )  # fmt: skip

    # ------------------------------------------------------------------ import keys

    def imported_keys(self, account: str, keys: Iterable[str]) -> dict[str, str]:
        """Which of ``keys`` (import keys, see :mod:`pymesync.store.imports`) the
        account has imported already, as ``{key: local id of the time it became}``."""
        from . import imports

        with self._read() as db:
            return imports.known(db, account, keys)

    def enqueue_imports(
        self,
        account: str,
        items: Iterable[tuple[NewOperation, CacheObject | None]],
        *,
        keys: Sequence[tuple[str, str]],
        now: datetime | None = None,
        new_ids: Container[str] = (),
        taken: dict[str, str] | None = None,
    ) -> list[EnqueueResult]:
        """Queue the creates of imported entries ``items`` (as :meth:`enqueue_many`)
        and keep their import keys ``keys`` (``(key, local id)``, the local id being the
        target of one of the items), all in ONE durable transaction: a process killed
        at any moment leaves every entry queued with its key, or nothing.

        A key the account has imported already (another import ran meanwhile) is not
        kept again and its entry is not queued; it is added to ``taken`` (``{key:
        local id}``) when given. A key whose local id is not the target of one of the
        items raises ValueError (nothing stored).
        """
        from . import imports

        when = _now(now)
        with self._write(account) as db, _bulk(db):
            found = imports.known(db, account, (key for key, _ in keys))
            queued: set[str] = set()
            results = queue.enqueue_many(
                db, imports.without_taken(items, keys, found, queued), when, new_ids
            )
            fresh = [(key, local) for key, local in keys if key not in found]
            stray = [key for key, local in fresh if local not in queued]
            if stray:
                raise ValueError(f"import key {stray[0]!r}: its entry is not in this batch")
            imports.record(db, account, fresh, when)
            undo.remember_barrier(db, account, when)  # (undo does not revert an import)
        if taken is not None:
            taken.update(found)
        return results

    # ------------------------------------------------------------------ undo

    def undo(self, account: str) -> dict[str, Any]:
        """Revert the account's last local change when it has not been sent (see
        :mod:`pymesync.store.undo`), in one durable transaction: what was undone, or
        :class:`~pymesync.errors.NothingToUndoError` (nothing changed)."""
        with self._write(account) as db:
            return undo.undo_last(db, account)
