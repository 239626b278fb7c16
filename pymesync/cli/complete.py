"""Shell completion: click's own mechanism (``_PYMESYNC_COMPLETE=bash_source pymesync``,
or ``pymesync completion SHELL``) for bash, zsh and fish, and the values it offers
from the LOCAL store only: project and activity slugs, usernames, time entry ids and
failed operation ids.

A completion never asks the network, never prompts and never prints: with no store,
no configuration, no login or a damaged store it offers nothing (and the shell goes on
as usual). It reads the store read-only (:class:`~pymesync.store.peek.StorePeek`:
no SQLAlchemy, the file never created or changed), a few rows through an index.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from click.shell_completion import CompletionItem

#: The shells ``pymesync completion`` writes a script for (click's).
SHELLS = ("bash", "zsh", "fish")

#: How many values a completion offers at most (more: type more characters).
LIMIT = 50

Completer = Callable[[click.Context, click.Parameter, str], list["CompletionItem"]]


def _account_and_db(ctx: click.Context) -> tuple[str, str | None]:
    """The account (``base_url|username``) and store path the command line names (its
    global options, the environment, the configuration file)."""
    from pymesync.cli.app import App

    root = ctx.find_root().params
    app = App(
        flags={"base_url": root.get("url"), "username": root.get("username"), "db": root.get("db")}
    )
    url = app.settings.get("base_url")
    user = app.settings.get("username")
    if not url or not user:
        raise LookupError("no account configured")
    from pymesync.accounts import base_url, user_account

    return user_account(base_url(str(url)), str(user)), app.db()


def _names(ctx: click.Context, what: str, prefix: str) -> list[tuple[str, dict[str, Any]]]:
    from pymesync.store.location import resolve_target
    from pymesync.store.peek import StorePeek

    account, db = _account_and_db(ctx)
    target = resolve_target(db)
    if isinstance(target, str):  # (a database server: a completion never uses the network)
        return []
    with StorePeek.open(target) as peek:
        return list(peek.names(account, what, prefix, LIMIT))


def _safely(what: str, describe: Callable[[dict[str, Any]], str | None]) -> Completer:
    """A ``shell_complete`` callback offering the ``what`` names that start with the
    incomplete value; any error (no store, no configuration, a damaged file) offers
    nothing, silently."""

    def complete(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[Any]:
        from click.shell_completion import CompletionItem

        try:
            found = _names(ctx, what, incomplete)
        except Exception:  # (a completion never fails out loud)
            return []
        seen: set[str] = set()
        items = []
        for name, obj in found:
            if name in seen:
                continue
            seen.add(name)
            try:
                shown = describe(obj)
            except Exception:
                shown = None
            items.append(CompletionItem(name, help=shown))
        return items

    return complete


def _project_help(obj: dict[str, Any]) -> str | None:
    name = obj.get("name")
    return str(name) if name else None


def _time_help(obj: dict[str, Any]) -> str | None:
    from pymesync.cli.confirm import summary

    return summary(obj) or None


def _failed_help(obj: dict[str, Any]) -> str | None:
    target = str(obj.get("target") or "")
    what = f"{obj.get('kind')} {obj.get('entity')}"
    if obj.get("entity") == "time" and obj.get("payload"):
        from pymesync.cli.confirm import summary

        return f"{what}: {summary(obj['payload'])}"
    return f"{what} {target}"


#: ``shell_complete=`` callbacks of the options and arguments that name things.
project = _safely("project", _project_help)
activity = _safely("activity", _project_help)
user = _safely("user", lambda obj: None)
time_entry = _safely("time", _time_help)
failed_op = _safely("failed", _failed_help)


def script(shell: str) -> str:
    """The completion script of ``shell`` (what ``_PYMESYNC_COMPLETE={shell}_source``
    prints), for the command being run."""
    from click.shell_completion import get_completion_class

    cls = get_completion_class(shell)
    if cls is None:  # (the command's choice of SHELLS prevents it)
        raise click.BadParameter(f"no completion for {shell!r}")
    main = click.get_current_context().find_root().command
    return cls(main, {}, "pymesync", "_PYMESYNC_COMPLETE").source()


@click.command("completion")
@click.argument("shell", type=click.Choice(SHELLS), required=False)
def completion(shell: str | None) -> None:
    """Print the shell completion script of SHELL (bash, zsh or fish).

    Default: the shell of $SHELL. Enable it with `eval "$(pymesync completion bash)"`
    in ~/.bashrc (zsh: the same with zsh, in ~/.zshrc), or for fish
    `pymesync completion fish > ~/.config/fish/completions/pymesync.fish`.
    """
    chosen = shell or os.path.basename(os.environ.get("SHELL", ""))
    if chosen not in SHELLS:
        from pymesync.cli.app import CliError

        raise CliError(
            f"which shell? give one of {', '.join(SHELLS)} ($SHELL is {chosen or 'not set'!r})"
        )
    click.echo(script(chosen), nl=False)
