"""The ``pymesync`` command line: wiring and output only.

Configuration lives in :mod:`pymesync.config`, the duration grammar in
:mod:`pymesync.durations`, tables and colour in :mod:`pymesync.tables`; everything else is
the library (:class:`pymesync.TimeSync` with ``raise_errors=True``).

Every error a person can cause is one line on stderr (``Error: ...``) and a non-zero exit
status: 1 for most errors, 2 for a command line click cannot parse, 3 when the server
cannot be reached, 4 when operations failed and wait for the user, 5 when a login is
needed. Nothing here imports requests, SQLAlchemy or bcrypt at module level.

This package holds the group (:data:`main`) and the one place errors are translated
(:class:`MainGroup`); the commands live in the modules named for what they own
(:mod:`~pymesync.cli.entries`, :mod:`~pymesync.cli.reads`, :mod:`~pymesync.cli.queue`,
:mod:`~pymesync.cli.settings`, :mod:`~pymesync.cli.demo`, :mod:`~pymesync.cli.tools`).
"""

from __future__ import annotations

import sys
from typing import Any

import click

from pymesync import config as cfg
from pymesync import durations, tables
from pymesync.cli import (
    complete,
    demo,
    entries,
    imports,
    queue,
    reads,
    settings,
    timer,
    tools,
    undo,
)
from pymesync.cli.app import (
    EXIT_ERROR,
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_LOGIN,
    EXIT_OFFLINE,
    App,
    CliError,
    translate,
)
from pymesync.cli.export import export
from pymesync.cli.ids import resolve_prefix
from pymesync.cli.outcome import PUSH_BUDGET
from pymesync.cli.params import GrammarError
from pymesync.cli.report import report
from pymesync.errors import PymesyncError

__all__ = [
    "EXIT_ERROR",
    "EXIT_FAILED",
    "EXIT_INTERRUPTED",
    "EXIT_LOGIN",
    "EXIT_OFFLINE",
    "PUSH_BUDGET",
    "App",
    "CliError",
    "main",
    "resolve_prefix",
]


class MainGroup(click.Group):
    """The top-level group: turns every error a person can cause into one line."""

    def make_context(
        self,
        info_name: str | None,
        args: list[str],
        parent: click.Context | None = None,
        **extra: Any,
    ) -> click.Context:
        """Parse the global options; a usage error becomes one line, and so does an
        argument that is not valid text (bytes that are not UTF-8)."""
        for arg in args:
            _check_argument(arg)
        try:
            return super().make_context(info_name, args, parent=parent, **extra)
        except click.UsageError as error:
            raise _one_line(error) from None

    def invoke(self, ctx: click.Context) -> Any:
        """Run the subcommand, translating errors to :class:`CliError`."""
        try:
            return super().invoke(ctx)
        except GrammarError as error:  # (a duration or day: the grammar's own line)
            raise CliError(error.message) from None
        except click.UsageError as error:
            raise _one_line(error) from None
        except (cfg.ConfigError, durations.DurationError) as error:
            raise CliError(str(error)) from None
        except PymesyncError as error:
            raise translate(error, ctx.obj if isinstance(ctx.obj, App) else None) from None
        except KeyboardInterrupt:
            # (commands that write say themselves what was kept; a read just stops)
            raise CliError("interrupted", EXIT_INTERRUPTED) from None


def _check_argument(arg: str) -> None:
    """Refuse a command line argument Python could only decode with lone surrogates
    (bytes that are not UTF-8, e.g. ``-n $'\\xff'``): nothing can store or send it."""
    if arg.isascii():
        return
    try:
        arg.encode("utf-8")
    except UnicodeEncodeError:
        raw = arg.encode("utf-8", "surrogateescape" if _escaped(arg) else "backslashreplace")
        raise CliError(
            f"argument '{raw.decode('ascii', 'backslashreplace')}' is not valid UTF-8 text",
            EXIT_ERROR,
        ) from None


def _escaped(arg: str) -> bool:
    """Whether every lone surrogate in ``arg`` stands for one undecodable byte."""
    return all("\udc80" <= c <= "\udcff" for c in arg if "\ud800" <= c <= "\udfff")


def _one_line(error: click.UsageError) -> CliError:
    parts = error.ctx.command_path.split(" ")[1:] if error.ctx is not None else []
    where = " ".join(["pymesync", *parts])
    return CliError(f"{error.format_message()} (see `{where} --help`)", error.exit_code)


@click.group(cls=MainGroup)
@click.version_option(package_name="pymesync")
@click.option("--url", metavar="URL", help="TimeSync base URL, with /v0 (else base_url).")
@click.option("--user", "username", metavar="NAME", help="Your username (else username).")
@click.option(
    "--db",
    metavar="FILE|URL",
    help="The store: a SQLite file, or a postgresql+psycopg:// URL (else db, $PYMESYNC_DB).",
)
@click.pass_context
def main(ctx: click.Context, url: str | None, username: str | None, db: str | None) -> None:
    """pymesync: log time to TimeSync, online or offline.

    Writes go to a local queue first and reach the server at once when it can be reached,
    else at the next `pymesync sync` (or by `pymesync daemon`). Settings come from
    `pymesync config`, environment variables (PYMESYNC_URL, PYMESYNC_USERNAME, ...) and
    the options below, which win.
    """
    app = App(
        flags={"base_url": url, "username": username, "db": db},
        out_terminal=tables.is_terminal(sys.stdout),
        out_colour=tables.colour_enabled(sys.stdout),
        err_colour=tables.colour_enabled(sys.stderr),
    )
    ctx.obj = app
    ctx.call_on_close(app.close)


for _command in (
    settings.login,
    settings.logout,
    settings.config_group,
    entries.log_command,
    entries.edit,
    entries.rm,
    reads.times,
    reads.projects,
    reads.activities,
    reads.users,
    queue.status,
    queue.sync,
    queue.daemon,
    queue.failed,
    demo.demo,
    tools.emulator,
    tools.migrate,
    tools.doctor,
):
    main.add_command(_command)
main.add_command(timer.start)
main.add_command(timer.stop)
main.add_command(timer.cancel)
main.add_command(timer.restart)

main.add_command(report)
main.add_command(export)
main.add_command(imports.import_command)
main.add_command(undo.undo)
main.add_command(complete.completion)
