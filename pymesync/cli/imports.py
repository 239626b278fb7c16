"""``pymesync import``: time entries from Watson, Toggl Track, Timewarrior or a CSV file.

The file is read by :mod:`pymesync.importers` (pure), its names are renamed by the
mapping options, and each entry is checked as ``log`` checks one (the cache's projects
and activities, 24 hours, future dates, the library's validation). The good entries not
imported before are queued through the bulk write path in ONE transaction, together with
their import keys (:meth:`pymesync.TimeSync.import_batch`): a second run, or a run after
one that was killed, creates nothing twice. Then the same short bounded push as after
``log``; what it does not send, ``pymesync sync`` or the daemon sends (an import of
50,000 entries never waits minutes on the network).
"""

from __future__ import annotations

import datetime as dt
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from pymesync import durations, tables, validation
from pymesync.cli.app import EXIT_FAILED, EXIT_INTERRUPTED, App, CliError, pass_app, translate
from pymesync.cli.entries import MAX_DAYS_AHEAD, MAX_ENTRY_SECONDS
from pymesync.cli.outcome import PUSH_BUDGET
from pymesync.cli.output import emit_json, json_option
from pymesync.errors import PymesyncError, ValidationError

if TYPE_CHECKING:
    from pymesync import importers
    from pymesync.client import TimeSync
    from pymesync.importers import ImportedEntry


#: The formats ``--format`` takes (:data:`pymesync.importers.FORMATS`; the readers are
#: imported only when the command runs, so that the other commands start no slower).
FORMATS = ("watson", "toggl", "timewarrior", "csv")

#: Exit status when some records were not imported (problems): the others were.
EXIT_PROBLEMS = 6

#: How many problems the text output lists (``--json`` gives them all).
SHOWN_PROBLEMS = 50

#: From how many entries a progress bar is shown (on a terminal only).
PROGRESS_FROM = 200

#: How many known slugs an "unknown project" problem lists.
_LISTED = 10


class Row:
    """One record of the file and what became of it: ``status`` is ``new`` (to be
    created, or created: ``uuid``), ``imported`` (imported before as ``uuid``) or
    ``problem`` (``problem`` says why; ``entry`` is None for a record that could not be
    read)."""

    __slots__ = ("entry", "line", "payload", "problem", "status", "uuid")

    def __init__(
        self,
        line: int,
        entry: ImportedEntry | None,
        payload: dict[str, Any] | None = None,
        *,
        status: str = "new",
        problem: str | None = None,
    ) -> None:
        self.line = line
        self.entry = entry
        self.payload = payload
        self.status = status
        self.uuid: str | None = None
        self.problem = problem

    def as_json(self, unit: str) -> dict[str, Any]:
        """The row for ``--json``."""
        return {
            unit: self.line,
            "key": None if self.entry is None else self.entry.key,
            "status": self.status,
            "uuid": self.uuid,
            "problem": self.problem,
            "time": self.payload,
        }


# --------------------------------------------------------------------------- reading


def read_source(file: str) -> tuple[str, bytes]:
    """The name and bytes of FILE (``-``: standard input); one line when unreadable."""
    if file == "-":
        return "-", sys.stdin.buffer.read()
    path = Path(file).expanduser()
    try:
        return path.name, path.read_bytes()
    except IsADirectoryError:
        raise CliError(f"cannot read {file}: it is a folder, not a file") from None
    except OSError as exc:
        raise CliError(f"cannot read {file}: {exc.strerror or exc}") from None


def choose_format(file: str, name: str, data: bytes, given: str | None) -> str:
    """``--format``, else the format the file's name and first bytes show."""
    if given is not None:
        return given
    from pymesync import importers

    head = data[:8192]
    if head.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"[") and all(
        key in head for key in (b'"date_worked"', b'"sync_state"')
    ):
        raise CliError(
            f"{'standard input' if file == '-' else file} is a `pymesync export --format"
            " json` file, which import does not read: export with --format csv to import"
            " it again"
        )
    found = importers.detect_format(name, head)
    if found is None:
        raise CliError(
            f"cannot tell the format of {'standard input' if file == '-' else file}:"
            f" give --format ({', '.join(importers.FORMATS)})"
        )
    return found


def project_tag_option(value: str | None, fmt: str) -> int | str:
    """``--project-tag``: a position (``2``) or a prefix (``project:``); Timewarrior
    only."""
    if value is None:
        return 1
    if fmt != "timewarrior":
        raise CliError(f"--project-tag is for Timewarrior files only (this one is {fmt})")
    text = value.strip()
    if text.isdigit():
        if int(text) < 1:
            raise CliError("--project-tag: a tag's position counts from 1")
        return int(text)
    if not text:
        raise CliError("--project-tag: give a position (1, 2, ...) or a prefix (project:)")
    return value


# --------------------------------------------------------------------------- checking


class Checker:
    """The checks ``log`` makes, made for each entry of a file: the file's user, 24
    hours, future dates, the cache's projects and activities, the library's
    validation. Returns the payload to queue, or raises ValueError with the problem."""

    def __init__(
        self,
        ts: TimeSync,
        username: str,
        file_users: Sequence[str],
        default_activity: str | None,
        allow_long: bool,
        today: dt.date,
    ) -> None:
        self.username = username
        self.users = {username.casefold(), *(name.strip().casefold() for name in file_users)}
        self.default_activity = default_activity
        self.allow_long = allow_long
        self.latest = today + dt.timedelta(days=MAX_DAYS_AHEAD)
        self.today = today
        self.projects = _by_slug(ts.cached("project"), "project")
        self.activities = _by_slug(ts.cached("activity"), "activity")

    def __call__(self, entry: ImportedEntry) -> dict[str, Any]:
        if entry.user is not None and entry.user.strip().casefold() not in self.users:
            raise ValueError(
                f"an entry of {entry.user!r}, not yours ({self.username}): give"
                f" --file-user {entry.user!r} if the file names you so"
            )
        if entry.duration > MAX_ENTRY_SECONDS and not self.allow_long:
            raise ValueError(
                f"{durations.format_hm(entry.duration)} is more than 24 hours for one entry:"
                " give --allow-long if you mean it"
            )
        if entry.date_worked > self.latest:
            raise ValueError(
                f"{entry.date_worked} is in the future (today is {self.today.isoformat()})"
            )
        activities = list(entry.activities) or (
            [self.default_activity] if self.default_activity else []
        )
        self._known(entry.project, activities)
        payload: dict[str, Any] = {
            "duration": entry.duration,
            "project": entry.project,
            "user": self.username,
            "date_worked": entry.date_worked.isoformat(),
        }
        if activities:
            payload["activities"] = activities
        if entry.notes is not None:
            payload["notes"] = entry.notes
        if entry.issue_uri is not None:
            payload["issue_uri"] = entry.issue_uri
        try:
            return validation.validate_write("time", payload, create=True, authenticated=True)
        except ValidationError as error:
            message = error.message.removeprefix("time object: ")
            if "project must be" in message:
                message += f"; map it with --map-project '{entry.project}=SLUG'"
            elif "activities must" in message:
                message += "; map it with --map-activity 'NAME=SLUG'"
            raise ValueError(message) from None

    def _known(self, project: str, activities: list[str]) -> None:
        if self.projects is not None:
            found = self.projects.get(project)
            if found is None:
                raise ValueError(
                    f"unknown project {project!r} (known: {_listing(self.projects)}):"
                    f" map it with --map-project '{project}=SLUG'"
                )
            if not activities and not found.get("default_activity", True):
                raise ValueError(
                    f"no activity, and project {project!r} has no default activity"
                    " (`pymesync config set default_activity SLUG` gives one)"
                )
        if self.activities is not None:
            for activity in activities:
                if activity not in self.activities:
                    raise ValueError(
                        f"unknown activity {activity!r} (known: {_listing(self.activities)}):"
                        f" map it with --map-activity '{activity}=SLUG'"
                    )


def _by_slug(objects: list[dict[str, Any]] | None, what: str) -> dict[str, dict[str, Any]] | None:
    if objects is None:
        return None
    found: dict[str, dict[str, Any]] = {}
    for item in objects:
        slugs = item.get("slugs") if what == "project" else [item.get("slug")]
        for slug in slugs if isinstance(slugs, list) else []:
            if isinstance(slug, str) and slug:
                found.setdefault(slug, item)
    return found


def _listing(known: dict[str, Any]) -> str:
    names = sorted(known)
    return ", ".join(names[:_LISTED]) + (", ..." if len(names) > _LISTED else "") or "none"


def check_all(
    result: importers.ImportResult, entries: Sequence[ImportedEntry], check: Checker
) -> list[Row]:
    """Every record of the file as a :class:`Row`, in file order."""
    rows = [Row(p.line, None, status="problem", problem=p.message) for p in result.problems]
    for entry in entries:
        try:
            rows.append(Row(entry.line, entry, check(entry)))
        except ValueError as error:
            rows.append(Row(entry.line, entry, status="problem", problem=str(error)))
    rows.sort(key=lambda row: row.line)
    return rows


# --------------------------------------------------------------------------- writing


def queue_rows(app: App, ts: TimeSync, rows: Sequence[Row], progress: bool) -> None:
    """Create the ``new`` rows' entries with their import keys in one transaction
    (their ``uuid`` set); a row imported meanwhile by another process becomes
    ``imported``."""
    fresh = [row for row in rows if row.status == "new"]
    if not fresh:
        return
    with _progress(fresh, progress) as bar:
        try:
            with ts.import_batch() as keys:
                for row in bar:
                    assert row.entry is not None and row.payload is not None
                    answer = ts.create_time(row.payload)
                    row.uuid = str(answer["uuid"])
                    keys.record(row.entry.key, row.uuid)
        except KeyboardInterrupt:
            raise CliError("interrupted: nothing was imported", EXIT_INTERRUPTED) from None
    for row in fresh:
        if row.entry is not None and row.entry.key in keys.taken:
            row.status, row.uuid = "imported", keys.taken[row.entry.key]


def _progress(rows: Sequence[Row], shown: bool) -> Any:
    if not shown:
        return _Plain(rows)
    return click.progressbar(rows, label="importing", file=sys.stderr, show_pos=True)


class _Plain:
    """No progress bar: the rows as they are."""

    def __init__(self, rows: Sequence[Row]) -> None:
        self.rows = rows

    def __enter__(self) -> Iterable[Row]:
        return self.rows

    def __exit__(self, *exc: object) -> None:
        return None


def push(app: App, ts: TimeSync) -> dict[str, Any]:
    """One short bounded push (as after ``log``): ``{"synced", "failed", "queued",
    "stopped"}``."""
    from pymesync.cli.outcome import _stop_firmly
    from pymesync.push import STOP_GRACE, BoundedPush

    bounded = BoundedPush(ts, PUSH_BUDGET).start()
    try:
        if not bounded.wait(PUSH_BUDGET + STOP_GRACE):
            bounded.stop()
    except KeyboardInterrupt:
        _stop_firmly(bounded, STOP_GRACE)
        raise CliError(
            "interrupted: the entries are queued, will sync later (`pymesync sync` or the daemon)",
            EXIT_INTERRUPTED,
        ) from None
    report, error = bounded.report, bounded.error
    status = ts.status()
    outcome: dict[str, Any] = {
        "synced": 0 if report is None else report.synced,
        "failed": 0 if report is None else report.failed,
        "queued": int(status.get("pending", 0)) + int(status.get("inflight", 0)),
        "stopped": "no answer" if not bounded.done else None,
    }
    if report is not None and report.stopped is not None:
        outcome["stopped"] = report.stopped
    if isinstance(error, PymesyncError):
        outcome["stopped"] = translate(error, app).message
    elif error is not None:
        raise error
    return outcome


# --------------------------------------------------------------------------- output


def show_problems(app: App, unit: str, rows: Sequence[Row]) -> None:
    problems = [row for row in rows if row.status == "problem"]
    for row in problems[:SHOWN_PROBLEMS]:
        app.note(f"skipped {unit} {row.line}: {row.problem}", "yellow")
    if len(problems) > SHOWN_PROBLEMS:
        app.note(f"... and {len(problems) - SHOWN_PROBLEMS} more (--json lists them all)")


def show_table(app: App, rows: Sequence[Row]) -> None:
    """The entries to create: date, duration, project, activities, notes."""
    shown = [row for row in rows if row.status == "new" and row.payload is not None]
    if not shown:
        return
    columns = [
        tables.Column("DATE"),
        tables.Column("DURATION", align="right"),
        tables.Column("PROJECT"),
        tables.Column("ACTIVITIES"),
        tables.Column("NOTES", limit=40),
    ]
    cells = []
    for row in shown:
        assert row.payload is not None
        payload = row.payload
        cells.append(
            [
                str(payload["date_worked"]),
                durations.format_hm(int(payload["duration"])),
                str(payload["project"]),
                ", ".join(payload.get("activities") or []),
                str(payload.get("notes") or ""),
            ]
        )
    app.table(columns, cells)


def counts(rows: Sequence[Row]) -> dict[str, int]:
    """How many rows are new, imported already, problems."""
    return {
        "new": sum(row.status == "new" for row in rows),
        "already_imported": sum(row.status == "imported" for row in rows),
        "problems": sum(row.status == "problem" for row in rows),
    }


def counts_line(found: dict[str, int]) -> str:
    problems = found["problems"]
    return (
        f"{found['new']} new, {found['already_imported']} already imported,"
        f" {problems} problem{'' if problems == 1 else 's'}"
    )


def push_line(outcome: dict[str, Any], new: int) -> tuple[str, str | None]:
    """What the push after the import did, in one line."""
    synced, failed, queued = outcome["synced"], outcome["failed"], outcome["queued"]
    if failed:
        return (
            f"sent {synced}; the server refused {failed}: see `pymesync failed list`",
            "red",
        )
    if not queued:
        return f"synced ({synced} sent)", "green"
    why = outcome.get("stopped")
    reason = {
        "budget": f"within {PUSH_BUDGET:g} s",
        "stopped": f"within {PUSH_BUDGET:g} s",
        "offline": "(server unreachable)",
        "needs_login": "(the server refused the login: `pymesync login`)",
    }.get(str(why), f"({why})" if why else "")
    return (
        f"sent {synced} {reason}".replace("  ", " ").strip()
        + f"; {queued} stay queued: `pymesync sync` or the daemon sends them",
        "yellow",
    )


# --------------------------------------------------------------------------- the command


@click.command("import")
@click.argument("file", metavar="FILE")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(FORMATS),
    help="The file's format (else guessed from its name and first bytes).",
)
@click.option(
    "--map-project",
    "map_project",
    multiple=True,
    metavar="NAME=SLUG",
    help="Import the file's project NAME as SLUG; repeat for several.",
)
@click.option(
    "--map-activity",
    "map_activity",
    multiple=True,
    metavar="NAME=SLUG",
    help="Import the file's activity (tag) NAME as SLUG; repeat for several.",
)
@click.option(
    "--project-tag",
    metavar="N|PREFIX",
    help="Timewarrior: the tag that is the project (position, default 1, or prefix).",
)
@click.option(
    "--file-user",
    "file_users",
    multiple=True,
    metavar="NAME",
    help="Also take entries the file gives to NAME as yours; repeat for several.",
)
@click.option("--dry-run", is_flag=True, help="Show what would be created; change nothing.")
@click.option("--allow-long", is_flag=True, help="Take entries longer than 24 hours.")
@json_option("Counts and every record's result as JSON.")
@pass_app
def import_command(
    app: App,
    file: str,
    fmt: str | None,
    map_project: tuple[str, ...],
    map_activity: tuple[str, ...],
    project_tag: str | None,
    file_users: tuple[str, ...],
    dry_run: bool,
    allow_long: bool,
    as_json: bool,
) -> None:
    """Import time entries from FILE (`-`: standard input): Watson's frames file, a
    Toggl Track CSV export, Timewarrior's `timew export`, or a CSV (see
    docs/import-formats.md).

    Entries imported before are skipped (each record keeps a stable key), so running
    the same import again creates nothing twice. Records that cannot be imported are
    listed with their line and why; the others are imported (exit status 6).
    """
    from pymesync import importers

    try:
        projects = importers.parse_mapping(map_project, "project")
        activities = importers.parse_mapping(map_activity, "activity")
    except ValueError as error:
        raise CliError(str(error)) from None
    try:  # (reading and checking the file: Ctrl-C leaves nothing queued)
        name, data = read_source(file)
        chosen = choose_format(file, name, data, fmt)
        tag = project_tag_option(project_tag, chosen)
        try:
            result = importers.read_import(data, chosen, project_tag=tag)
        except importers.ImportFileError as error:
            raise CliError(f"{'standard input' if file == '-' else file}: {error}") from None
        username = str(app.settings.require("username"))
        default_activity = app.settings.get("default_activity")
        ts = app.client()
        check = Checker(
            ts,
            username,
            file_users,
            str(default_activity) if default_activity else None,
            allow_long,
            durations.local_today(),
        )
        mapped = (
            importers.apply_mapping(result.entries, projects, activities)
            if projects or activities
            else result.entries
        )
        rows = check_all(result, mapped, check)
        keyed = [row for row in rows if row.status == "new" and row.entry is not None]
        done = ts.imported(row.entry.key for row in keyed if row.entry is not None)
        for row in keyed:
            if row.entry is not None and row.entry.key in done:
                row.status, row.uuid = "imported", done[row.entry.key]
            elif row.entry is not None and row.entry.uuid:
                # a row of `pymesync export`: an entry this account knows already
                known = ts.ids_starting("time", row.entry.uuid)
                if row.entry.uuid in known:
                    row.status, row.uuid = "imported", known[row.entry.uuid]
    except KeyboardInterrupt:
        raise CliError("interrupted: nothing was imported", EXIT_INTERRUPTED) from None
    progress = not as_json and not dry_run and tables.is_terminal(sys.stderr)
    if not dry_run:
        queue_rows(app, ts, rows, progress and len(keyed) >= PROGRESS_FROM)
    found = counts(rows)
    outcome = None
    if not dry_run and found["new"] and ts.token:
        outcome = push(app, ts)
    if as_json:
        emit_json(
            {
                "file": file,
                "format": chosen,
                "dry_run": dry_run,
                "user": username,
                "counts": found,
                "push": outcome,
                "entries": [row.as_json(result.unit) for row in rows],
            }
        )
    else:
        _say(app, result.unit, rows, found, dry_run, outcome, chosen, ts)
    _finish(found, outcome, dry_run)


def _say(
    app: App,
    unit: str,
    rows: Sequence[Row],
    found: dict[str, int],
    dry_run: bool,
    outcome: dict[str, Any] | None,
    fmt: str,
    ts: TimeSync,
) -> None:
    if dry_run:
        show_table(app, rows)
    show_problems(app, unit, rows)
    line = counts_line(found)
    if dry_run:
        app.out(f"dry run ({fmt}): {line}; nothing was changed")
        return
    if not found["new"]:
        app.out(f"imported nothing ({fmt}): {line}")
        return
    if not ts.token:
        app.out(
            f"imported ({fmt}): {line}: "
            + tables.paint(
                "queued, will sync after `pymesync login` (not logged in)",
                "yellow",
                app.out_colour,
            )
        )
        return
    app.out(f"imported ({fmt}): {line}: " + tables.paint("queued", "yellow", app.out_colour))
    if outcome is not None:
        text, colour = push_line(outcome, found["new"])
        app.out(tables.paint(text, colour, app.out_colour))


def _finish(found: dict[str, int], outcome: dict[str, Any] | None, dry_run: bool) -> None:
    if outcome is not None and outcome["failed"]:
        raise CliError(
            f"the server refused {outcome['failed']} entr"
            f"{'y' if outcome['failed'] == 1 else 'ies'}: fix or drop them with"
            " `pymesync failed list`",
            EXIT_FAILED,
        )
    problems = found["problems"]
    if problems:
        one = problems == 1
        what = f"{problems} record{'' if one else 's'}"
        if dry_run:
            raise CliError(f"{what} would not be imported (listed above)", EXIT_PROBLEMS)
        raise CliError(
            f"{what} not imported (listed above): fix {'it' if one else 'them'} and import"
            " the file again (what was imported is skipped)",
            EXIT_PROBLEMS,
        )
