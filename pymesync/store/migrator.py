"""Bringing a database's schema up to date (the only module that imports Alembic;
SQLAlchemy too is imported only when an upgrade is needed).

The migration scripts ship inside the package as :mod:`pymesync.store._migrations`
(the repository's top-level ``migrations/`` folder). The Alembic configuration is built
in code and points there; ``alembic.ini`` is only for developers working in the repo.

:func:`ensure_schema` is what :meth:`Store.open <pymesync.store.Store.open>` calls: when
the database is already at :data:`~pymesync.store.engine.SCHEMA_HEAD` it returns at once
without importing Alembic. Otherwise it imports Alembic and runs ``upgrade head`` in one
``BEGIN EXCLUSIVE`` transaction (so two processes opening a new file at the same time
do not race: the second waits, then finds nothing to do). :func:`migrate` is the
explicit form, for the ``pymesync migrate`` command.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from .errors import CorruptDatabaseError, SchemaTooNewError, StoreError, from_sqlite_error
from .location import (
    SCHEMA_HEAD,
    SchemaStatus,
    prepare_location,
    read_schema_revision,
    resolve_target,
    set_wal,
    wal_left_behind,
)

if TYPE_CHECKING:
    from alembic.config import Config
    from sqlalchemy import Engine
    from sqlalchemy.engine import Connection

__all__ = ["alembic_config", "ensure_schema", "migrate", "migration_connection", "migrations_dir"]


def migrations_dir() -> Path:
    """The folder of the shipped migration scripts (``env.py``, ``versions/``)."""
    return Path(__file__).resolve().parent / "_migrations"


def alembic_config() -> Config:
    """An Alembic ``Config`` built in code (no ``alembic.ini``) for the shipped scripts."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(migrations_dir()))
    return config


@contextlib.contextmanager
def migration_connection(engine: Engine) -> Iterator[Connection]:
    """A connection inside one ``BEGIN EXCLUSIVE`` transaction, committed on success.

    Foreign keys are off while migrating (SQLite cannot switch them inside a
    transaction, and table rebuilds would otherwise cascade deletes); ``PRAGMA
    foreign_key_check`` must pass before the commit. The connection is discarded
    afterwards rather than returned to the pool.
    """
    from .engine import BEGIN_OPTION

    with engine.execution_options(**{BEGIN_OPTION: "EXCLUSIVE"}).connect() as conn:
        raw = conn.connection.dbapi_connection
        assert raw is not None
        raw.execute("PRAGMA foreign_keys = OFF")
        try:
            with conn.begin():
                yield conn
                bad = conn.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
                if bad:
                    raise StoreError(f"Migration left broken foreign keys: {bad[:5]!r}")
        finally:
            conn.invalidate()


def _upgrade(path: Path, found: str | None) -> str:
    from alembic import command
    from alembic.script import ScriptDirectory
    from alembic.util.exc import CommandError

    from .engine import create_store_engine

    config = alembic_config()
    script = ScriptDirectory.from_config(config)
    known = {rev.revision for rev in script.walk_revisions()}
    if found is not None and found not in known:
        raise SchemaTooNewError(str(path), found, SCHEMA_HEAD)
    set_wal(path)
    engine = create_store_engine(path)
    try:
        with migration_connection(engine) as conn:
            config.attributes["connection"] = conn
            command.upgrade(config, "head")
    except CommandError as exc:
        # Another process upgraded the file past our head while we waited for the lock.
        _, now_found = read_schema_revision(path, quick_check=False)
        raise SchemaTooNewError(str(path), now_found or "?", SCHEMA_HEAD) from exc
    finally:
        engine.dispose()
    status, now_at = read_schema_revision(path, quick_check=False)
    if status != SchemaStatus.CURRENT:
        raise CorruptDatabaseError(
            f"Upgrading {path} left it at schema revision {now_at!r}, not {SCHEMA_HEAD!r}"
        )
    if found is None:
        return f"Created the pymesync database {path} at schema revision {SCHEMA_HEAD}."
    return f"Upgraded the pymesync database {path} from schema revision {found} to {SCHEMA_HEAD}."


def ensure_schema(path: Path, *, quick_check: bool | None = None) -> str:
    """Create or upgrade the database at ``path`` to the current schema.

    ``quick_check`` (``PRAGMA quick_check``, a full read of the file) runs when True,
    never when False, and by default (None) only where it is worth its cost: before a
    migration, and when a write-ahead log was left behind (see
    :func:`~pymesync.store.location.wal_left_behind`). Otherwise damage is found where
    SQLite reads it, and reported as the same :class:`CorruptDatabaseError`.

    Returns a one-line description of what was done. Raises
    :class:`~pymesync.store.errors.StoreLocationError`,
    :class:`~pymesync.store.errors.CorruptDatabaseError` or
    :class:`~pymesync.store.errors.SchemaTooNewError` without writing to the file.
    """
    prepare_location(path)
    check = wal_left_behind(path) if quick_check is None else quick_check
    status, found = read_schema_revision(path, quick_check=check)
    if status == SchemaStatus.CURRENT:
        set_wal(path)
        return f"The pymesync database {path} is up to date (schema revision {SCHEMA_HEAD})."
    if not check and quick_check is None and status != SchemaStatus.EMPTY:
        read_schema_revision(path, quick_check=True)  # an upgrade reads a sound file only
    from sqlalchemy.exc import DBAPIError  # (an upgrade needs SQLAlchemy anyway)

    try:
        return _upgrade(path, found)
    except DBAPIError as exc:  # a write failed (a full disk, a file size limit, ...)
        raise from_sqlite_error(exc.orig if exc.orig is not None else exc, path) from exc
    except sqlite3.Error as exc:
        raise from_sqlite_error(exc, path) from exc


def migrate(path: str | os.PathLike[str] | None = None) -> str:
    """Bring the database at ``path`` (default: as for ``Store.open``; a file, or the URL
    of a PostgreSQL database) to the newest schema.

    Returns a human-readable line saying what happened, e.g. ``"Upgraded the pymesync
    database /home/a/.local/share/pymesync/pymesync.sqlite3 from schema revision 0001 to
    0002."``. Raises the same errors as :meth:`Store.open <pymesync.store.Store.open>`.
    """
    target = resolve_target(path)
    if isinstance(target, str):  # a database server (PostgreSQL)
        from .postgres import open_engine

        engine, done = open_engine(target)
        engine.dispose()
        return done
    return ensure_schema(target)
