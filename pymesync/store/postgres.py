"""The store on PostgreSQL: its engine, its connections, its locks and its schema.

A store named by a SQLAlchemy URL (``postgresql+psycopg://alice@db.example/pymesync``)
keeps the same tables in a PostgreSQL database, created and upgraded by the same Alembic
migrations, so that many processes on many hosts share one queue and one cache. The
driver is psycopg 3 (``pip install 'pymesync[postgresql]'``); this module is imported
only for such a store.

The store's SQL modules run the same statements on both backends. A
:class:`PgConnection` wraps a pooled psycopg connection and offers the few methods of a
``sqlite3.Connection`` they use: statements are written with ``?`` parameters and
turned into psycopg's ``%s`` once per statement text (:func:`pg_sql`). The few
statements that differ are chosen where they are written
(:func:`~pymesync.store.dbapi.on_postgres`).

Transactions: SQLite runs one write transaction at a time; PostgreSQL runs them side by
side. A write transaction here runs at READ COMMITTED and first takes the transaction
lock of its account (:func:`lock_account`), so that the writes of one account (an
enqueue that coalesces, an ack that re-targets, a cache refresh) keep the order SQLite
gives them, while other accounts' writes go on. The sync's hot path does not take it:
a claim locks the rows it leases with ``FOR UPDATE SKIP LOCKED`` (a row another claimer
or writer holds is skipped, never waited for), and ``fail``/``renew``/``release`` lock
the one row they change. A read transaction is ``REPEATABLE READ READ ONLY``: one
snapshot, as a SQLite read sees.

Locks are taken in one order where a transaction knows its accounts up front (sorted).
An ``enqueue_many`` whose items name several accounts takes each one's lock as its
chunks reach it: two such calls meeting the same accounts in opposite orders can
deadlock, and PostgreSQL ends one of them (a :class:`StoreError`, nothing of it
stored). Every write of the library and the command line names one account.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from .errors import StoreError, StoreUnavailableError

if TYPE_CHECKING:
    from sqlalchemy import Engine

__all__ = [
    "LOCK_NAMESPACE",
    "PgConnection",
    "create_pg_engine",
    "display_url",
    "ensure_pg_schema",
    "from_pg_error",
    "is_driver_error",
    "lock_account",
    "open_engine",
    "open_existing",
    "pg_sql",
]

#: The first key of every advisory lock the store takes (``pg_advisory_xact_lock(int,
#: int)``), so that its locks never meet another program's in the same database.
LOCK_NAMESPACE = 0x70796D65  # "pyme"
#: The second key of the migration lock (an account's lock is the hash of its name).
_MIGRATION_KEY = 0
#: Seconds a connection attempt may take (libpq's ``connect_timeout``) unless the URL
#: or ``PGCONNECT_TIMEOUT`` says otherwise.
CONNECT_TIMEOUT = 10
#: Connections kept by a process's pool (a sync pass sends with up to 16 threads).
POOL_SIZE = 20

#: Statements with more parameters than this are never prepared (see PgConnection.execute).
_PREPARED_PARAMETERS = 50
_INSTALL_HINT = "install the driver: pip install 'pymesync[postgresql]'"


@functools.lru_cache(maxsize=1024)
def pg_sql(sql: str) -> str:
    """``sql`` (``?`` parameters) as psycopg takes it: ``%s`` parameters, and ``%``
    written ``%%`` (psycopg reads ``%`` everywhere). A ``?`` inside a quoted literal or
    name stays as it is."""
    out: list[str] = []
    quote = ""
    for char in sql:
        if quote:
            if char == quote:
                quote = ""
        elif char in "'\"":
            quote = char
        elif char == "?":
            out.append("%s")
            continue
        out.append("%%" if char == "%" else char)
    return "".join(out)


class PgConnection:
    """A psycopg connection with the methods of a ``sqlite3.Connection`` the store's
    SQL modules use (``execute``, ``executemany``, ``in_transaction``, ``getlimit``)."""

    #: Read by :func:`~pymesync.store.dbapi.on_postgres`.
    postgres = True
    __slots__ = ("raw",)

    def __init__(self, raw: Any) -> None:
        """Wrap the psycopg connection ``raw`` (autocommit: the store sends ``BEGIN``)."""
        self.raw = raw

    def execute(self, sql: str, parameters: Sequence[Any] = (), /) -> Any:
        """Run one statement; the psycopg cursor (``fetchone``, iteration, ``rowcount``).

        psycopg prepares a statement on the server once it has run it a few times. A
        statement of many parameters (an ``IN`` list of hundreds of keys) is not
        prepared: PostgreSQL would soon plan it once for any values (a generic plan),
        and such a plan of a long ``IN`` list read the whole cache for each lookup
        (about 250 ms a statement at 50,000 cached times, against 1 ms planned for
        its values)."""
        values = tuple(parameters)
        cursor = self.raw.cursor()
        cursor.execute(
            pg_sql(sql), values, prepare=False if len(values) > _PREPARED_PARAMETERS else None
        )
        return cursor

    def executemany(self, sql: str, parameters: Iterable[Sequence[Any]], /) -> Any:
        """Run one statement for each of ``parameters`` (psycopg pipelines them)."""
        cursor = self.raw.cursor()
        cursor.executemany(pg_sql(sql), [tuple(p) for p in parameters])
        return cursor

    @property
    def in_transaction(self) -> bool:
        """Whether a transaction is open (or failed and not rolled back yet)."""
        from psycopg.pq import TransactionStatus

        return bool(self.raw.info.transaction_status != TransactionStatus.IDLE)

    def getlimit(self, category: int) -> int:
        """The most parameters a statement takes (PostgreSQL's protocol: 65,535)."""
        return 65535


def _passwords(url: str) -> list[str]:
    """The passwords ``url`` holds: its own, and a ``password=`` query parameter's."""
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    found = [] if parsed.password is None else [str(parsed.password)]
    query = parsed.query.get("password")
    found += [query] if isinstance(query, str) else list(query or ())
    return [password for password in found if password]


def display_url(url: str) -> str:
    """``url`` as it may be shown: the password (also one given as a ``password=``
    query parameter) replaced by ``***``."""
    try:
        from sqlalchemy.engine import make_url

        parsed = make_url(url)
        if "password" in parsed.query:
            parsed = parsed.update_query_dict({"password": "***"})
        return parsed.render_as_string(hide_password=True).replace("%2A%2A%2A", "***")
    except Exception:
        return "postgresql://(unreadable URL)"


def _without_password(text: str, url: str) -> str:
    """``text`` with the passwords of ``url`` (if any) replaced."""
    try:
        passwords = _passwords(url)
    except Exception:
        return text
    for password in passwords:
        text = text.replace(password, "***")
    return text


def from_pg_error(error: BaseException, url: str) -> StoreError:
    """The store's error for a psycopg error (or SQLAlchemy's wrapping of one) on the
    store at ``url``; the password never shows."""
    orig = getattr(error, "orig", None) or error
    where = display_url(url)
    first = _without_password(str(orig).strip().splitlines()[0] if str(orig).strip() else "", url)
    try:
        import psycopg
    except ImportError:  # pragma: no cover - only reached with psycopg
        return StoreError(f"Database error on {where}: {first}")
    if _unavailable(orig, psycopg):
        return StoreUnavailableError(f"The store {where} cannot be reached: {first}")
    return StoreError(f"Database error on {where}: {first}")


#: SQLSTATE classes of a server that cannot serve: connection exceptions (08),
#: insufficient resources (53: too many connections, disk full), operator intervention
#: (57: shutting down, cannot connect now).
_UNAVAILABLE_CLASSES = ("08", "53", "57")


def _unavailable(error: BaseException, psycopg: Any) -> bool:
    """Whether ``error`` says the server cannot be reached or cannot serve (rather than
    refusing a statement: a deadlock, a constraint, a cancelled query)."""
    if isinstance(error, psycopg.InterfaceError):  # (the connection is closed)
        return True
    if not isinstance(error, psycopg.OperationalError):
        return False
    state = getattr(error, "sqlstate", None)  # (None: the client lost or never had it)
    return state is None or str(state)[:2] in _UNAVAILABLE_CLASSES


@functools.lru_cache(maxsize=1)
def _bool_dumper() -> type:
    """psycopg's dumper of Python booleans as the 0/1 integers of the flag columns."""
    from psycopg.types.numeric import Int8Dumper

    class BoolAsInt(Int8Dumper):
        def dump(self, obj: Any) -> bytes:
            return b"1" if obj else b"0"

    return BoolAsInt


def _on_connect(dbapi_connection: Any, connection_record: Any) -> None:
    # The store sends BEGIN itself (as on SQLite); booleans are stored as 0/1 integers.
    from psycopg.pq import TransactionStatus

    if dbapi_connection.info.transaction_status != TransactionStatus.IDLE:
        dbapi_connection.rollback()
    dbapi_connection.autocommit = True
    dbapi_connection.adapters.register_dumper(bool, _bool_dumper())


def create_pg_engine(url: str) -> Engine:
    """A SQLAlchemy engine (its connection pool) on the PostgreSQL store at ``url``.

    Connections are not pinged when lent: one the server dropped (a restart, a
    connection cut by a firewall) fails at its transaction's ``BEGIN`` and is replaced
    there (:class:`~pymesync.store.Store`), not reported. They keep psycopg's prepared
    statements. Raises :class:`StoreError` for an unusable URL or a missing driver."""
    from sqlalchemy import create_engine, event
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError, NoSuchModuleError

    try:
        parsed = make_url(url)
        parsed.port  # noqa: B018 - (read: a port that is not a number raises here)
    except (ArgumentError, ValueError) as exc:
        raise StoreError(f"Not a database URL: {display_url(url)}") from exc
    if parsed.get_backend_name() != "postgresql":
        raise StoreError(
            f"Unsupported database {display_url(url)}: give a file path (SQLite) or a "
            "postgresql+psycopg:// URL"
        )
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    if parsed.get_driver_name() != "psycopg":
        raise StoreError(
            f"Unsupported driver in {display_url(url)}: use postgresql+psycopg:// (psycopg 3)"
        )
    try:
        import psycopg  # noqa: F401
    except ImportError as exc:
        raise StoreError(f"The store {display_url(url)} needs psycopg: {_INSTALL_HINT}") from exc
    # libpq waits for ever for a host that never answers: a bound, unless the URL
    # (or the service file, PGCONNECT_TIMEOUT) sets one.
    connect_args: dict[str, Any] = {}
    if "connect_timeout" not in parsed.query and "service" not in parsed.query:
        connect_args["connect_timeout"] = int(
            os.environ.get("PGCONNECT_TIMEOUT") or CONNECT_TIMEOUT
        )
    try:
        engine = create_engine(
            parsed,
            connect_args=connect_args,
            hide_parameters=True,
            pool_size=POOL_SIZE,
            max_overflow=POOL_SIZE,
            pool_pre_ping=False,  # (a dropped connection is found at BEGIN: see Store)
            pool_reset_on_return="rollback",
        )
    except NoSuchModuleError as exc:  # pragma: no cover - psycopg checked above
        raise StoreError(f"The store {display_url(url)} needs psycopg: {_INSTALL_HINT}") from exc
    event.listen(engine, "connect", _on_connect)
    return engine


def is_driver_error(exc: BaseException) -> bool:
    """Whether ``exc`` is psycopg's (or SQLAlchemy's wrapping of a driver error)."""
    from sqlalchemy.exc import DBAPIError

    if isinstance(exc, DBAPIError):
        return True
    import psycopg

    return isinstance(exc, psycopg.Error)


def open_engine(url: str) -> tuple[Engine, str]:
    """The engine of the store at ``url`` with its tables created or upgraded, and a
    line saying which (:func:`ensure_pg_schema`); the store's errors for a server that
    cannot be reached, an unusable URL or a schema too new (the engine disposed)."""
    engine = create_pg_engine(url)
    try:
        return engine, ensure_pg_schema(engine, url)
    except BaseException as exc:
        engine.dispose()
        if isinstance(exc, Exception) and is_driver_error(exc):
            raise from_pg_error(exc, url) from exc
        raise


def lock_account(db: Any, account: str) -> None:
    """Take the transaction lock of ``account`` (held until commit or rollback): the
    write transactions of one account run one at a time, as on SQLite."""
    db.execute("SELECT pg_advisory_xact_lock(?, hashtext(?))", (LOCK_NAMESPACE, account))


_TABLES = "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()"


def _schema(conn: Any) -> tuple[set[str], list[str]]:
    tables = {str(row[0]) for row in conn.exec_driver_sql(_TABLES)}
    versions: list[str] = []
    if "alembic_version" in tables:
        versions = [
            str(r[0]) for r in conn.exec_driver_sql("SELECT version_num FROM alembic_version")
        ]
    return tables, versions


def open_existing(url: str) -> Engine | None:
    """The engine of the store at ``url`` when its tables are there at the current
    schema; None when the database holds no store yet. Nothing is created or upgraded
    (a read-only look, as :class:`~pymesync.store.StorePeek` is for a file): an older
    schema is a :class:`StoreError` asking for ``pymesync migrate``, a newer one
    :class:`~pymesync.store.errors.SchemaTooNewError`."""
    from .errors import SchemaTooNewError
    from .location import SCHEMA_HEAD, SCHEMA_REVISIONS, SchemaStatus, classify_schema

    where = display_url(url)
    engine = create_pg_engine(url)
    try:
        with engine.connect() as conn:
            tables, versions = _schema(conn)
            conn.rollback()
        status, revision = classify_schema(where, tables, versions)
        if status == SchemaStatus.CURRENT:
            return engine
        if status != SchemaStatus.EMPTY and revision not in SCHEMA_REVISIONS:
            raise SchemaTooNewError(where, str(revision), SCHEMA_HEAD)
        if status != SchemaStatus.EMPTY:
            raise StoreError(
                f"The store {where} has the older schema revision {revision}: run `pymesync"
                " migrate` to upgrade it (any other command upgrades it too)"
            )
    except BaseException as exc:
        engine.dispose()
        if isinstance(exc, Exception) and is_driver_error(exc):
            raise from_pg_error(exc, url) from exc
        raise
    engine.dispose()
    return None


def ensure_pg_schema(engine: Engine, url: str) -> str:
    """Create or upgrade the store's tables in the database of ``engine`` (one small
    query when they are current). An upgrade runs in one transaction holding the
    store's migration lock, so processes starting together do not race: the others
    wait, then find nothing to do. Returns a line saying what was done."""
    from .location import SCHEMA_HEAD, SchemaStatus, classify_schema

    where = display_url(url)
    with engine.connect() as conn:
        conn.exec_driver_sql("BEGIN ISOLATION LEVEL READ COMMITTED")
        try:
            status, found = classify_schema(where, *_schema(conn))
            if status != SchemaStatus.CURRENT:
                conn.exec_driver_sql(
                    f"SELECT pg_advisory_xact_lock({LOCK_NAMESPACE}, {_MIGRATION_KEY})"
                )
                status, found = classify_schema(where, *_schema(conn))
            if status == SchemaStatus.CURRENT:
                conn.exec_driver_sql("COMMIT")
                return (
                    f"The pymesync database {where} is up to date (schema revision {SCHEMA_HEAD})."
                )
            _upgrade(conn, found, where)
            conn.exec_driver_sql("COMMIT")
        except BaseException:
            if not conn.closed and not conn.invalidated:
                conn.exec_driver_sql("ROLLBACK")
            raise
    if found is None:
        return f"Created the pymesync database {where} at schema revision {SCHEMA_HEAD}."
    return f"Upgraded the pymesync database {where} from schema revision {found} to {SCHEMA_HEAD}."


def _upgrade(conn: Any, found: str | None, where: str) -> None:
    from alembic import command
    from alembic.script import ScriptDirectory

    from .errors import SchemaTooNewError
    from .location import SCHEMA_HEAD
    from .migrator import alembic_config

    config = alembic_config()
    known = {rev.revision for rev in ScriptDirectory.from_config(config).walk_revisions()}
    if found is not None and found not in known:
        raise SchemaTooNewError(where, found, SCHEMA_HEAD)
    config.attributes["connection"] = conn
    command.upgrade(config, "head")
