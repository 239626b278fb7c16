"""Tools: the built-in ``emulator``, and ``migrate``/``doctor`` for the store."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import click

from pymesync.cli.app import App, pass_app

if TYPE_CHECKING:
    pass


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

        found = Store.open_existing(target)
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
