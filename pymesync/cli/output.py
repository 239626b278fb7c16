"""Output helpers shared by the commands: JSON, ages and local times, short ids, and
the note that says an answer came from the local cache."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, TypeVar

import click

from pymesync.cli.app import App

if TYPE_CHECKING:
    from pymesync.client import TimeSync

#: A command function (what an option decorator takes and gives back).
F = TypeVar("F", bound=Callable[..., Any])


def emit_json(value: Any) -> None:
    """``value`` as indented JSON on stdout."""
    click.echo(json.dumps(value, indent=2, sort_keys=True, default=str, ensure_ascii=False))


def ago(seconds: float | None) -> str:
    """A rough age: ``just now``, ``12 s ago``, ``5 min ago``, ``3 h ago``, ``2 days ago``."""
    if seconds is None:
        return "never"
    if seconds < 0:
        return in_(-seconds)
    if seconds < 2:
        return "just now"
    return f"{_span(seconds)} ago"


def in_(seconds: float) -> str:
    """A rough time ahead: ``now``, ``in 12 s``, ``in 5 min``."""
    return "now" if seconds < 1 else f"in {_span(seconds)}"


def _span(seconds: float) -> str:
    if seconds < 60:
        return f"{int(seconds)} s"
    if seconds < 3600:
        return f"{int(seconds // 60)} min"
    if seconds < 2 * 86400:
        return f"{seconds / 3600:.1f} h".replace(".0 h", " h")
    return f"{int(seconds // 86400)} days"


def parse_when(value: Any) -> dt.datetime | None:
    if not isinstance(value, str):
        return None
    try:
        when = dt.datetime.fromisoformat(value)
    except ValueError:
        return None
    return when if when.tzinfo else when.replace(tzinfo=dt.timezone.utc)


def local_time(value: Any, now: dt.datetime | None = None) -> str:
    """An ISO timestamp as local time with its age (``2026-11-30 10:48:18, 5 min ago``)."""
    when = parse_when(value)
    if when is None:
        return "never" if value is None else str(value)
    moment = now or dt.datetime.now(dt.timezone.utc)
    return f"{when.astimezone():%Y-%m-%d %H:%M:%S}, {ago((moment - when).total_seconds())}"


def first_slug(project: Any) -> str:
    """A project as one word: its shortest slug."""
    slugs = project.get("slugs") if isinstance(project, dict) else project
    if isinstance(slugs, list) and slugs:
        return min((str(s) for s in slugs), key=lambda s: (len(s), s))
    return str(slugs or "")


def read_note(app: App, ts: TimeSync, why: str = "offline") -> None:
    """Say so on stderr when the last read came from the local cache (``why``: what kept
    the server from answering)."""
    read = ts.last_read
    if read is None or read.source != "cache":
        return
    if not ts.token:
        why = "not logged in"
    if read.fetched_at is None:
        app.note(f"{why}: from the local cache (never refreshed from the server)", "yellow")
    else:
        when = local_time(read.fetched_at.isoformat())  # (with its age)
        app.note(f"{why}: from the local cache, last refreshed {when}", "yellow")


def read_info(ts: TimeSync) -> dict[str, Any]:
    """``last_read`` as JSON (source, fetched_at, age)."""
    read = ts.last_read
    return {"source": "server", "fetched_at": None, "age": None} if read is None else read.as_dict()


def json_option(help: str = "JSON instead of a table.") -> Callable[[F], F]:
    """The ``--json`` flag of a command (passed as ``as_json``); ``help`` says what the
    JSON stands in for."""
    return click.option("--json", "as_json", is_flag=True, help=help)


def count_queued(status: Mapping[str, Any]) -> int:
    """How many operations of a queue ``status`` wait to be sent (pending or in flight)."""
    return int(status.get("pending", 0)) + int(status.get("inflight", 0))
