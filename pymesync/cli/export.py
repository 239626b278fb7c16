"""``pymesync export``: every field of the time entries ``times`` would show, as CSV
(RFC 4180, UTF-8, read back by ``pymesync import``'s generic CSV) or JSON, on stdout or
into a file (written whole or not at all)."""

from __future__ import annotations

import datetime as dt
import io
import json
import os
from pathlib import Path
from typing import Any

import click

from pymesync.cli.app import App, CliError, pass_app
from pymesync.cli.output import first_slug, read_note
from pymesync.cli.params import FIRST_DAY, LAST_DAY
from pymesync.cli.reads import (
    filter_options,
    read_times,
    refusals,
    time_states,
    times_query,
    with_state,
)

#: The CSV's columns: the generic CSV import's (``date``, ``duration`` in seconds,
#: ``project`` as its shortest slug, ``activities`` separated by ``;``, ...), then the
#: entry's uuid, sync state and server fields, which the import reads past.
CSV_HEADER = (
    "uuid",
    "date",
    "duration",
    "project",
    "activities",
    "notes",
    "issue_uri",
    "user",
    "sync_state",
    "revision",
    "created_at",
    "updated_at",
    "deleted_at",
)


def _cell(value: Any) -> str:
    return "" if value is None else str(value)


def csv_text(times: list[dict[str, Any]]) -> str:
    """The entries as CSV: a header, one row each, every line ending CRLF, fields quoted
    where RFC 4180 needs it."""
    import csv  # (here: every command imports this module)

    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_HEADER)
    for t in times:
        writer.writerow(
            [
                _cell(t.get("uuid")),
                _cell(t.get("date_worked")),
                _cell(t.get("duration")),
                first_slug(t.get("project")),
                ";".join(str(a) for a in t.get("activities") or []),
                _cell(t.get("notes")),
                _cell(t.get("issue_uri")),
                _cell(t.get("user")),
                _cell(t.get("sync_state")),
                _cell(t.get("revision")),
                _cell(t.get("created_at")),
                _cell(t.get("updated_at")),
                _cell(t.get("deleted_at")),
            ]
        )
    return out.getvalue()


def write_file(path: Path, data: bytes) -> None:
    """``data`` into ``path`` whole or not at all: a temporary file in the same folder,
    flushed to disk, then renamed over ``path``. A symbolic link is followed (the file it
    names is replaced, the link stays), and what is not a regular file (``/dev/stdout``,
    a named pipe, a device) is written to as it is, never replaced."""
    path = Path(os.path.realpath(path))
    if path.exists() and not path.is_file() and not path.is_dir():
        try:
            with path.open("wb") as out:
                out.write(data)
        except OSError as error:
            raise CliError(f"cannot write {path}: {error.strerror or error}") from None
        return
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise CliError(f"cannot write {path}: no folder {folder}")
    import tempfile  # (here: every command imports this module)

    try:
        handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=folder)
    except OSError as error:
        raise CliError(f"cannot write {path}: {error.strerror or error}") from None
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        # (the mode of the file it replaces, else what the umask gives a new file)
        mode = path.stat().st_mode & 0o777 if path.exists() else 0o666 & ~_umask()
        os.chmod(temporary, mode)
        os.replace(temporary, path)
    except BaseException as error:
        Path(temporary).unlink(missing_ok=True)
        if isinstance(error, OSError):
            raise CliError(f"cannot write {path}: {error.strerror or error}") from None
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@click.command()
@click.option(
    "--format",
    "fmt",
    type=click.Choice(("csv", "json")),
    default="csv",
    show_default=True,
    help="CSV (a header row; import reads it back) or JSON (a list of objects).",
)
@click.option(
    "--output", "-o", metavar="FILE", help="Write to FILE (replaced whole) instead of stdout."
)
@click.option(
    "--bom/--no-bom",
    default=None,
    help="Start a CSV with a UTF-8 byte order mark (default: with -o yes, on stdout no).",
)
@filter_options
@click.option("--from", "start", type=FIRST_DAY, metavar="DAY", help="First day (inclusive).")
@click.option("--to", "end", type=LAST_DAY, metavar="DAY", help="Last day (inclusive).")
@click.option("--deleted", is_flag=True, help="Include deleted entries (deleted_at set).")
@pass_app
def export(
    app: App,
    fmt: str,
    output: str | None,
    bom: bool | None,
    users: tuple[str, ...],
    all_users: bool,
    projects: tuple[str, ...],
    activities: tuple[str, ...],
    start: dt.date | None,
    end: dt.date | None,
    deleted: bool,
) -> None:
    """Every field of your time entries as CSV or JSON, for spreadsheets and scripts.

    The same entries as `pymesync times` with the same options (pending and failed ones
    included, with their sync_state), from the local cache when the server cannot be
    reached (and it says so on stderr).
    """
    if bom and fmt != "csv":
        raise CliError("--bom is for --format csv")
    ts = app.client()
    query = times_query(app, users, all_users, projects, activities, start, end, deleted)
    first = start.isoformat() if start else ""
    answer, why = read_times(app, ts, query)
    found = [t for t in answer if isinstance(t, dict) and str(t.get("date_worked") or "") >= first]
    found.sort(key=lambda t: (str(t.get("date_worked")), str(t.get("created_at"))))
    states = time_states(ts, found)
    reasons = refusals(ts, states)
    times = [with_state(t, states, reasons) for t in found]
    read_note(app, ts, why)
    if fmt == "json":
        data = (json.dumps(times, indent=2, ensure_ascii=False, default=str) + "\n").encode()
    else:
        with_bom = bom if bom is not None else output is not None
        data = ("\ufeff" if with_bom else "").encode() + csv_text(times).encode()
    if output is None:
        click.echo(data, nl=False)  # (bytes: written as they are)
        return
    write_file(Path(output).expanduser(), data)
    count = len(times)
    app.note(f"wrote {count} entr{'y' if count == 1 else 'ies'} to {output}", None)
