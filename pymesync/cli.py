"""The ``pymesync`` command line: wiring and output only."""

from __future__ import annotations

import json
from typing import Any

import click


@click.group()
@click.version_option(package_name="pymesync")
def main() -> None:
    """pymesync: log time to TimeSync, online or offline."""


@main.command()
def demo() -> None:
    """Run a short scripted example against the built-in test mode (no network, no disk)."""
    from pymesync import TimeSync

    ts = TimeSync("http://timesync.example.com/v0", test=True)

    def show(label: str, value: Any) -> None:
        click.echo(f"{label}:\n  {json.dumps(value, default=str, sort_keys=True)}")

    show("authenticate", ts.authenticate("alice", "secret", "password"))
    entry = {"duration": "1h30m", "project": "gwm", "user": "alice", "date_worked": "2026-11-30"}
    show("create_time (duration '1h30m' becomes seconds)", ts.create_time(entry))
    show("create_time with a bad duration", ts.create_time({**entry, "duration": "90 minutes"}))
    show("get_times", [t["uuid"] for t in ts.get_times({"user": "alice"})])
    show("token_expiration_time", ts.token_expiration_time())
    click.echo("demo finished: every call above was validated and answered in test mode")


@main.command()
@click.option("--port", type=int, default=0, show_default=True, help="Port (0: a free one).")
@click.option("--seed-data", is_flag=True, help="Add sample users, projects and activities.")
@click.option("--db", type=click.Path(dir_okay=False), help="Keep the data in this SQLite file.")
@click.option("--prefix", default="/v0", show_default=True, help="The API's version prefix.")
def emulator(port: int, seed_data: bool, db: str | None, prefix: str) -> None:
    """Run the built-in TimeSync emulator until interrupted; prints its base URL."""
    from pymesync.testing import serve

    serve(port=port, seed_data=seed_data, db=db, prefix=prefix)


@main.command()
@click.option(
    "--db",
    type=click.Path(dir_okay=False),
    envvar="PYMESYNC_DB",
    help="The store to migrate (default: $PYMESYNC_DB or the user data dir).",
)
def migrate(db: str | None) -> None:
    """Create the local store or bring its schema up to date."""
    from pymesync.store import migrate as run_migrations
    from pymesync.store.errors import StoreError

    try:
        click.echo(run_migrations(db))
    except StoreError as error:
        raise click.ClickException(str(error)) from None
