"""The account and the configuration file: ``login``, ``logout`` and the ``config``
group."""

from __future__ import annotations

import os
import re
import sys

import click

from pymesync import config as cfg
from pymesync import tables
from pymesync.cli.app import App, CliError, pass_app
from pymesync.cli.output import count_queued, emit_json, json_option
from pymesync.errors import (
    PymesyncError,
)


def do_login(app: App, username: str, password: str) -> None:
    """Log in, keep the token in the store, and say what is waiting."""
    from pymesync.client import TimeSync

    url = app.settings.require("base_url")
    auth_type = app.settings.require("auth_type")
    app.close()
    ts = TimeSync(url, raise_errors=True, db=app.db())
    app._client = ts
    ts.authenticate(username, password, auth_type)
    ts.user = username
    try:
        expiry = ts.token_expiration_time()
        until = f"; the login is valid until {expiry:%Y-%m-%d %H:%M}"
    except PymesyncError:
        until = ""
    app.out(f"logged in as {username} at {url}{until}")
    # the project and activity lists, cached now, let `log` refuse a typo up front even
    # offline (best effort: the login itself has succeeded)
    for read in (ts.get_projects, ts.get_activities):
        try:
            read()
        except PymesyncError:
            break
    waiting = ts.status()
    queued = count_queued(waiting)
    if queued:
        app.note(f"{queued} queued operation(s) waiting: run `pymesync sync`", None)


@click.command()
@click.option("--password-stdin", is_flag=True, help="Read the password from stdin (for scripts).")
@pass_app
def login(app: App, password_stdin: bool) -> None:
    """Log in; only the token is kept, never the password."""
    url = app.settings.require("base_url")
    username = app.settings.get("username")
    if username is None:
        if password_stdin:
            app.settings.require("username")
        username = cfg.normalise("username", click.prompt("Username"))
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt(f"Password for {username} at {url}", hide_input=True)
    if not password:
        raise CliError("no password given")
    do_login(app, username, password)
    remember(app, {"base_url": url, "username": username})


def remember(app: App, values: dict[str, str]) -> None:
    """Save ``values`` in the config file where it has none yet (after a login)."""
    path = app.settings.path
    stored = cfg.read_file(path, check_keys=False)
    new = {k: v for k, v in values.items() if not stored.get(k)}
    if new:
        cfg.write_file(path, {**stored, **new})
        app.note(f"saved {', '.join(sorted(new))} in {path}")


@click.command()
@pass_app
def logout(app: App) -> None:
    """Forget the stored token; queued operations stay queued."""
    ts = app.client()
    had = bool(ts.token)
    ts.logout()
    app.out("logged out" if had else "was not logged in")
    waiting = ts.status()
    queued = count_queued(waiting)
    if queued:
        app.note(f"{queued} queued operation(s) stay queued until you log in again", None)


@click.group("config")
def config_group() -> None:
    """Read and change the configuration file."""


@config_group.command("set")
@click.argument("key")
@click.argument("value")
def config_set(key: str, value: str) -> None:
    """Set KEY to VALUE in the configuration file."""
    path = cfg.config_path()
    clean = cfg.normalise(key, value)
    stored = cfg.read_file(path, check_keys=False)
    cfg.write_file(path, {**stored, key: clean})
    click.echo(f"{key} = {_shown(key, clean)} (saved in {path})")
    override = os.environ.get(cfg.ENV_VARS[key])
    if override:
        click.echo(f"Warning: {cfg.ENV_VARS[key]} is set and overrides it", err=True)
    if key == "base_url" and not re.search(r"/v[0-9]+$", clean):
        click.echo(
            "Warning: the URL has no API version prefix such as /v0; TimeSync mounts its API"
            " under one",
            err=True,
        )


@config_group.command("get")
@click.argument("key")
@pass_app
def config_get(app: App, key: str) -> None:
    """Print KEY's effective value (flags, environment, file, default)."""
    cfg.check_key(key)
    value = app.settings.get(key)
    if value is None:
        raise CliError(f"{key} is not set")
    click.echo(_shown(key, value))


@config_group.command("list")
@json_option()
@pass_app
def config_list(app: App, as_json: bool) -> None:
    """Every key with its effective value and where it comes from."""
    settings = app.settings
    if as_json:
        emit_json(
            {
                "path": str(settings.path),
                "values": {
                    k: {"value": _shown(k, s.value), "source": s.source}
                    for k, s in settings.values.items()
                },
            }
        )
        return
    app.table(
        [tables.Column("KEY"), tables.Column("VALUE"), tables.Column("FROM")],
        [
            [
                key,
                _shown(key, s.value) or "",
                _source(key, s.source),
            ]
            for key, s in settings.values.items()
        ],
    )
    app.note(f"config file: {settings.path}")


def _shown(key: str, value: str | None) -> str | None:
    """``value`` of ``key`` as it may be printed: a database URL (the ``db`` key) has
    its password replaced by ``***``; the file keeps it."""
    from pymesync.store.location import is_database_url

    if key != "db" or value is None or not is_database_url(value):
        return value
    from pymesync.store.postgres import display_url

    return display_url(value)


def _source(key: str, source: str | None) -> str:
    if source == "env":
        return f"${cfg.ENV_VARS[key]}"
    if source == "flag":
        return {"base_url": "--url", "username": "--user", "db": "--db"}.get(key, "flag")
    return source or "(not set)"


@config_group.command("unset")
@click.argument("key")
def config_unset(key: str) -> None:
    """Remove KEY from the configuration file (any key, so typos can be removed)."""
    path = cfg.config_path()
    stored = cfg.read_file(path, check_keys=False)
    if key not in stored:
        cfg.check_key(key)
        click.echo(f"{key} was not set in {path}")
        return
    del stored[key]
    cfg.write_file(path, stored)
    click.echo(f"removed {key} from {path}")


@config_group.command("path")
def config_path() -> None:
    """Print the configuration file's path (it may not exist yet)."""
    click.echo(str(cfg.config_path()))
