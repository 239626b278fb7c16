"""Tools: the built-in ``emulator``, and ``migrate``/``doctor`` for the store."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import click

from pymesync.cli.app import App, pass_app

if TYPE_CHECKING:
    from pymesync.store import Store


@click.command()
@click.option("--port", type=int, default=0, show_default=True, help="Port (0: a free one).")
@click.option("--seed-data", is_flag=True, help="Add sample users, projects and activities.")
@click.option("--db", type=click.Path(dir_okay=False), help="Keep the data in this SQLite file.")
@click.option("--prefix", default="/v0", show_default=True, help="The API's version prefix.")
def emulator(port: int, seed_data: bool, db: str | None, prefix: str) -> None:
    """Run the built-in TimeSync emulator until interrupted.

    Prints its base URL.
    """
    from pymesync.testing import serve

    serve(port=port, seed_data=seed_data, db=db, prefix=prefix)


def store_option(what: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """The ``--db FILE|URL`` option of the commands that work on the store itself."""
    return click.option(
        "--db",
        metavar="FILE|URL",
        help=f"The store to {what}: a SQLite file or a postgresql+psycopg:// URL (default:"
        " the global --db, $PYMESYNC_DB, the db setting, or the user data dir).",
    )


@contextlib.contextmanager
def _driver_errors(url: str) -> Iterator[None]:
    """Turn a database driver's error (or SQLAlchemy's wrapping of one) raised on the
    store at ``url`` into the store's one-line error, without the password."""
    from pymesync.store.postgres import from_pg_error, is_driver_error

    try:
        yield
    except Exception as exc:
        if not is_driver_error(exc):
            raise
        raise from_pg_error(exc, url) from exc


def open_existing_store(url: str) -> Store | None:
    """The store in the PostgreSQL database ``url``, or None when the database holds no
    store yet (no tables): as :class:`~pymesync.store.StorePeek` for a file, nothing is
    created or upgraded (an older schema is an error asking for ``pymesync migrate``).

    (The store offers no such look at a URL yet: this reads the catalog itself.)
    """
    from pymesync.store import SCHEMA_HEAD, SchemaTooNewError, Store, StoreError
    from pymesync.store.location import SCHEMA_REVISIONS, SchemaStatus, classify_schema
    from pymesync.store.postgres import create_pg_engine, display_url

    where = display_url(url)
    engine = create_pg_engine(url)
    try:
        with _driver_errors(url), engine.connect() as conn:
            tables = {
                str(row[0])
                for row in conn.exec_driver_sql(
                    "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()"
                )
            }
            versions: list[str] = []
            if "alembic_version" in tables:
                rows = conn.exec_driver_sql("SELECT version_num FROM alembic_version")
                versions = [str(row[0]) for row in rows]
            conn.rollback()
    finally:
        engine.dispose()
    status, revision = classify_schema(where, tables, versions)
    if status == SchemaStatus.EMPTY:
        return None
    if status != SchemaStatus.CURRENT:
        if revision not in SCHEMA_REVISIONS:
            raise SchemaTooNewError(where, str(revision), SCHEMA_HEAD)
        raise StoreError(
            f"The store {where} has the older schema revision {revision}: run `pymesync"
            " migrate` to upgrade it (any other command upgrades it too)"
        )
    return Store.open(url)


@click.command()
@store_option("migrate")
@pass_app
def migrate(app: App, db: str | None) -> None:
    """Create the store or bring its schema up to date (a SQLite file, or the tables
    in a PostgreSQL database)."""
    from pymesync.store import migrate as run_migrations

    click.echo(run_migrations(app.db(db)))


@click.command()
@store_option("check")
@pass_app
def doctor(app: App, db: str | None) -> None:
    """Check the whole local store for damage (reads every page of the file; on
    PostgreSQL: that the server answers and holds the store's current schema)."""
    from pymesync.store import Store
    from pymesync.store.location import resolve_target

    target = resolve_target(app.db(db))
    if isinstance(target, str):
        from pymesync.store.postgres import display_url

        with _driver_errors(target):
            found = open_existing_store(target)
            if found is None:
                click.echo(f"There is no store in {display_url(target)} yet: nothing to check.")
                return
            with found as store:
                store.check()
        click.echo(f"The store {store.location} answers and its schema is current.")
        return
    path = target
    if not path.exists():
        click.echo(f"There is no local store at {path} yet: nothing to check.")
        return
    with Store.open(path, quick_check=False, pooled=False) as store:
        store.check()  # (integrity_check: quick_check's checks and more, one read)
    click.echo(f"The local store {path} is sound (PRAGMA integrity_check: ok).")
