"""What every command needs: the configuration and a client (:class:`App`), and the
one-line errors with their exit statuses (:class:`CliError`, :func:`translate`)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import click

from pymesync import config as cfg
from pymesync import tables
from pymesync.errors import (
    AuthenticationError,
    AuthorizationError,
    ConfigurationError,
    NotAuthenticatedError,
    PymesyncError,
    TimeSyncError,
    TokenRejectedError,
    TransportError,
)

if TYPE_CHECKING:
    from pymesync.client import TimeSync


#: Exit status of an ordinary error.
EXIT_ERROR = 1


#: Exit status when the server cannot be reached (what was queued stays queued).
EXIT_OFFLINE = 3


#: Exit status when operations failed for good and wait for ``pymesync failed``.
EXIT_FAILED = 4


#: Exit status when a login is needed (none yet, or the server refused the token).
EXIT_LOGIN = 5


#: Exit status after Ctrl-C (128 + SIGINT, as shells report it).
EXIT_INTERRUPTED = 130


#: The timeouts of the commands other than `sync` and `daemon` (seconds): to connect,
#: and for each wait for the server (then a read answers from the cache).
CONNECT_TIMEOUT = 2.0


READ_TIMEOUT = 5.0


class CliError(click.ClickException):
    """One clear line on stderr (``Error: ...``) and the exit status ``code``."""

    def __init__(self, message: str, code: int = EXIT_ERROR) -> None:
        super().__init__(message)
        self.__dict__["exit_code"] = code  # click reads ``exit_code``; a class default elsewhere


def translate(error: PymesyncError, app: App | None = None) -> CliError:
    """The one line (and exit status) for a library error."""
    who = ""
    if app is not None and app.resolved is not None:
        user, url = app.resolved.get("username"), app.resolved.get("base_url")
        who = f" as {user} at {url}" if user and url else ""
    if isinstance(error, NotAuthenticatedError):
        return CliError(f"not logged in{who}: run `pymesync login`", EXIT_LOGIN)
    if isinstance(error, TokenRejectedError):
        return CliError(
            "the server refused the stored login (it expired, or the server restarted):"
            " run `pymesync login`",
            EXIT_LOGIN,
        )
    if isinstance(error, ConfigurationError):
        return CliError(error.message)
    if isinstance(error, TransportError):
        return CliError(f"server unreachable: {error.message}", EXIT_OFFLINE)
    if isinstance(error, AuthorizationError):
        return CliError(f"not allowed: {error.text or error.error}")
    if isinstance(error, AuthenticationError):
        return CliError(f"login refused by the server: {error.text or error.error}", EXIT_LOGIN)
    if isinstance(error, TimeSyncError):
        detail = f"{error.error}: {error.text}" if error.text else error.error
        return CliError(f"the server refused it ({error.status} {detail})")
    from pymesync.store.errors import StoreError, StoreUnavailableError

    if isinstance(error, StoreUnavailableError):  # (names the store, its password hidden)
        return CliError(error.message)
    if isinstance(error, StoreError):
        return CliError(f"local store: {error.message}")
    return CliError(error.message)


@dataclass
class App:
    """What every command needs: the effective configuration and a client.

    ``flags`` are the global options; the configuration file is read on first use (so
    ``--help`` and the ``config``, ``emulator`` and ``demo`` commands never need it).
    ``settings_given`` replaces all of that (the demo's throwaway configuration).
    ``out_terminal`` says whether stdout is a terminal (long table cells are cut to fit
    only there); ``out_colour``/``err_colour`` whether to colour stdout/stderr.
    """

    flags: dict[str, str | None] = field(default_factory=dict)
    settings_given: cfg.Settings | None = None
    out_terminal: bool = False
    out_colour: bool = False
    err_colour: bool = False
    notes_to_stdout: bool = False
    #: Lines meant for stdout go to stderr instead (``--json`` keeps stdout for JSON).
    out_to_stderr: bool = False
    _settings: cfg.Settings | None = None
    _client: TimeSync | None = None

    @property
    def resolved(self) -> cfg.Settings | None:
        """The settings if they have been read already (for error messages)."""
        return self.settings_given or self._settings

    @property
    def settings(self) -> cfg.Settings:
        """The effective settings: flags, environment, file, defaults."""
        if self.settings_given is not None:
            return self.settings_given
        if self._settings is None:
            path = cfg.config_path()
            self._settings = cfg.resolve(path, cfg.read_file(path), os.environ, self.flags)
        return self._settings

    def db(self, given: str | None = None) -> str | None:
        """The store ``given`` (a command's own ``--db``), else the configuration's
        (None: the library's default): a SQLite file's path (``~`` expanded), or a
        database URL as it was given (``postgresql+psycopg://...``)."""
        value = given or self.settings.get("db")
        if value is None:
            return None
        from pymesync.store.location import is_database_url

        if not is_database_url(value):
            return str(Path(value).expanduser())
        from urllib.parse import urlsplit

        try:
            _ = urlsplit(value).port
        except ValueError:  # (SQLAlchemy's parser would fail with a traceback)
            raise CliError(
                "the store's database URL (--db, $PYMESYNC_DB or the db setting) has a port"
                " that is not a number from 0 to 65535"
            ) from None
        return value

    def client(self, *, pooled: bool = False) -> TimeSync:
        """A client for the configured account with its stored token (if any); errors
        are raised, not returned. Writes are only queued (the commands push them after
        answering). ``pooled``: the store keeps SQLAlchemy's connection pool, for the
        commands that run long (``sync``, ``daemon``); the others make a few store
        transactions and do without (no SQLAlchemy import). The first call decides."""
        if self._client is None:
            from pymesync.client import TimeSync
            from pymesync.transport import DEFAULT_TIMEOUT

            url = self.settings.require("base_url")
            user = self.settings.require("username")
            # (a command a person waits for gives up sooner: behind a firewall that drops
            # packets a connection being opened cannot be abandoned, and the process
            # could not exit before its timeout; a read then answers from the cache)
            timeout = DEFAULT_TIMEOUT if pooled else (CONNECT_TIMEOUT, READ_TIMEOUT)
            self._client = TimeSync.resume(
                url,
                user,
                raise_errors=True,
                db=self.db(),
                mode="queue",
                store_pool=pooled,
                timeout=timeout,
            )
        return self._client

    def logged_in(self, *, pooled: bool = False) -> TimeSync:
        """The client, after checking that it has a token."""
        ts = self.client(pooled=pooled)
        if not ts.token:
            raise NotAuthenticatedError("not logged in")
        return ts

    def close(self) -> None:
        """Release the client (connections and store)."""
        if self._client is not None:
            self._client.close()
            self._client = None

    # ---- output

    def out(self, text: str = "", colour: str | None = None) -> None:
        """A line on stdout (on stderr with ``out_to_stderr``)."""
        if self.out_to_stderr:
            click.echo(tables.paint(text, colour, self.err_colour), err=True)
            return
        click.echo(tables.paint(text, colour, self.out_colour))

    def note(self, text: str, colour: str | None = "dim") -> None:
        """A remark on stderr (where the data came from, what to do next)."""
        if self.notes_to_stdout:
            self.out(text, colour)
            return
        click.echo(tables.paint(text, colour, self.err_colour), err=True)

    def warn(self, text: str) -> None:
        """A warning on stderr."""
        click.echo(tables.paint(f"Warning: {text}", "yellow", self.err_colour), err=True)

    def table(
        self,
        columns: Sequence[tables.Column],
        rows: Sequence[Sequence[str]],
        *,
        footer: Sequence[str] | None = None,
        colours: Sequence[Sequence[str | None]] | None = None,
    ) -> None:
        """A table on stdout (long cells cut to fit only on a terminal)."""
        if not self.out_terminal:
            columns = [tables.Column(c.header, align=c.align) for c in columns]
        click.echo(
            tables.render_table(
                columns, rows, footer=footer, colours=colours, colour=self.out_colour
            )
        )


pass_app = click.make_pass_decorator(App)
