"""Asking before a change that cannot be taken back from the command line (``rm``,
``failed discard``): ``--yes`` / ``-y`` answers for the user; without it the question
is asked on a terminal, and refused (one line, nothing changed) when stdin is not one,
so that a script neither hangs on a question nobody sees nor deletes without saying so.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import click

from pymesync.cli.app import CliError

if TYPE_CHECKING:
    from pymesync.client import TimeSync

F = TypeVar("F", bound=Callable[..., Any])


def yes_option(what: str) -> Callable[[F], F]:
    """The ``--yes`` / ``-y`` flag of a command that asks before it ``what``\\ s."""
    return click.option(
        "--yes", "-y", "yes", is_flag=True, help=f"Do not ask before it {what}s: the answer is yes."
    )


def interactive() -> bool:
    """Whether a question can be asked: stdin is a terminal."""
    try:
        return sys.stdin.isatty()
    except (AttributeError, ValueError):  # (closed or replaced stdin)
        return False


def confirm(question: str, yes: bool, refused: str) -> None:
    """Ask ``question`` ([y/N]) unless ``yes``; a "no" (or anything but y/yes) is the
    error ``refused`` (e.g. "nothing removed"); with stdin not a terminal, nothing is
    asked: the error says to give ``--yes``."""
    if yes:
        return
    if not interactive():
        raise CliError(
            f'{refused}: stdin is not a terminal to ask "{question}"; give --yes to confirm'
        )
    try:
        answer = click.confirm(question, default=False, err=True)  # (stdout: the answer)
    except click.Abort:  # Ctrl-C or end of input at the question
        answer = False
        click.echo("", err=True)
    if not answer:
        raise CliError(f"{refused} (you answered no)")


def describe_time(ts: TimeSync, uuid: str) -> str:
    """``1h30m gwm dev 'design review' on 2026-12-07``: a time entry from the local
    cache (its short id when the cache does not know it)."""
    try:
        found = ts.cached_times({"uuid": uuid})
    except Exception:  # (a description only: never a reason to fail)
        found = []
    entry = found[0] if found and isinstance(found[0], dict) else None
    return f"the time entry {uuid[:8]}" if entry is None else summary(entry)


def compact(seconds: int) -> str:
    """``1h30m``, ``45m``, ``2h``, ``1h0m5s``: a duration as the command line takes it."""
    hours, rest = divmod(max(0, seconds), 3600)
    minutes, secs = divmod(rest, 60)
    text = (f"{hours}h" if hours else "") + (f"{minutes}m" if minutes or (hours and secs) else "")
    return text + (f"{secs}s" if secs or not text else "")


def summary(entry: dict[str, Any]) -> str:
    """``1h30m gwm dev 'design review' on 2026-12-07``: a time entry in a few words."""
    parts: list[str] = []
    if isinstance(entry.get("duration"), int):
        parts.append(compact(entry["duration"]))
    project = entry.get("project")
    if isinstance(project, list):  # (every slug of the project: the shortest)
        project = min((str(p) for p in project), key=len, default=None)
    if project:
        parts.append(str(project))
    acts = entry.get("activities")
    if isinstance(acts, list) and acts:
        parts.append(",".join(str(a) for a in acts))
    if entry.get("notes"):
        parts.append(repr(str(entry["notes"])))
    day = entry.get("date_worked")
    return " ".join(parts) + (f" on {day}" if day else "")
