"""Alembic environment of the pymesync store.

At run time the store passes an open connection (already inside a ``BEGIN EXCLUSIVE``
transaction) in ``config.attributes["connection"]``. From the command line in the
repository (``alembic upgrade head``), the database is the one ``Store.open()`` would
use (``$PYMESYNC_DB``, else the platform default), or ``-x db=PATH``.
"""

from __future__ import annotations

from logging.config import fileConfig

from alembic import context
from sqlalchemy.engine import Connection

from pymesync.store.engine import create_store_engine, prepare_location, resolve_path, set_wal
from pymesync.store.migrator import migration_connection
from pymesync.store.schema import metadata

config = context.config


def _database_path() -> str:
    db = context.get_x_argument(as_dictionary=True).get("db")
    return str(resolve_path(db or None))


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=True,
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_offline() -> None:
    """Print the SQL instead of running it (``alembic upgrade head --sql``)."""
    context.configure(
        url=f"sqlite:///{_database_path()}",
        target_metadata=metadata,
        literal_binds=True,
        render_as_batch=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    """Run the migrations on the store's connection, or on the database named above."""
    given = config.attributes.get("connection")
    if isinstance(given, Connection):
        _run(given)
        return
    if config.config_file_name is not None:
        fileConfig(config.config_file_name, disable_existing_loggers=False)
    path = resolve_path(_database_path())
    prepare_location(path)
    set_wal(path)
    engine = create_store_engine(path)
    try:
        with migration_connection(engine) as connection:
            _run(connection)
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
