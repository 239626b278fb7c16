"""``pymesync edit ID`` with no field option: the entry as TOML text in ``$VISUAL`` or
``$EDITOR``, read back on save and checked exactly as ``edit``'s options are
(:func:`~pymesync.cli.entries.edit_changes`, :func:`~pymesync.cli.entries.check_changes`,
handed in by ``edit``: this module never imports it).

A text the checks refuse opens again, the error as a comment at the top and the text
as it was saved. Saving the text as it was opened (or quitting without saving) changes
nothing: the first time that is "nothing changed" (exit status 0); after an error it
gives up with that error (exit status 1). Emptying the text changes nothing (exit
status 0). Only the fields whose value differs from the entry's are changed; a field
left out of the text stays as it is.
"""

from __future__ import annotations

import datetime as dt
import os
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import click

from pymesync import durations
from pymesync.cli.app import App, CliError
from pymesync.cli.confirm import compact
from pymesync.cli.ids import resolve_time
from pymesync.cli.params import DAY, Duration, GrammarError
from pymesync.errors import ValidationError

if TYPE_CHECKING:
    from pymesync.client import TimeSync

#: How ``edit`` makes its changes from its options (``edit_changes``).
Build = Callable[..., dict[str, Any]]
#: ``edit``'s steps (:mod:`pymesync.cli.entries`): make the changes from the fields,
#: check them (``check_changes``), queue them and say so (``write_changes``).
EditSteps = tuple[
    Build,
    Callable[[App, "TimeSync", dict[str, Any], bool], None],
    Callable[[App, "TimeSync", str, dict[str, Any]], None],
]

#: The fields of the text, in order, and the entry's field each one stands for.
FIELDS = {
    "duration": "duration",
    "project": "project",
    "activities": "activities",
    "date": "date_worked",
    "notes": "notes",
    "issue": "issue_uri",
}

_HELP = """\
# Edit the time entry {uuid}, save and quit: the fields you change are queued.
# A field left out stays as it is. Save it unchanged, or empty it, to change nothing.
#   duration   as on the command line: "1h30m", "90m", "1.5h", "1:30" (or seconds)
#   project    a project slug: "gwm"
#   activities a list of activity slugs: ["dev", "docs"]
#   date       YYYY-MM-DD (or today, yesterday, monday, -3d)
#   notes      text (not empty)
#   issue      an issue URI (not empty)
"""


def _editor() -> str:
    for name in ("VISUAL", "EDITOR"):
        value = os.environ.get(name, "").strip()
        if value:
            return value
    raise CliError(
        "nothing to change: give --duration, --project, --activity, --notes, --issue or"
        " --date, or set $VISUAL or $EDITOR to edit the entry as text"
    )


def _project(entry: dict[str, Any]) -> str | None:
    project = entry.get("project")
    if isinstance(project, list):  # (every slug of the project: the shortest)
        return min((str(p) for p in project), key=len, default=None)
    return None if project is None else str(project)


def current(entry: dict[str, Any]) -> dict[str, Any]:
    """The text's fields of ``entry`` (as the cache shows it), those it has."""
    fields: dict[str, Any] = {}
    if isinstance(entry.get("duration"), int):
        fields["duration"] = compact(entry["duration"])
    project = _project(entry)
    if project:
        fields["project"] = project
    acts = entry.get("activities")
    if isinstance(acts, list):
        fields["activities"] = [str(a) for a in acts]
    for name in ("date", "notes", "issue"):
        value = entry.get(FIELDS[name])
        if isinstance(value, str) and value:
            fields[name] = value
    return fields


def render(uuid: str, fields: dict[str, Any]) -> str:
    """The text the editor opens: the comments, then the fields as TOML."""
    import tomli_w

    return _HELP.format(uuid=uuid) + tomli_w.dumps(fields)


def _load(text: str) -> dict[str, Any]:
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover
        import tomli as tomllib
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise CliError(f"not valid TOML: {error}") from None


def _string(value: Any, name: str) -> str:
    if not isinstance(value, str):
        raise CliError(f"{name} must be a quoted string, not {value!r}")
    return value


def changes_of(
    text: str, was: dict[str, Any], build: Build
) -> tuple[dict[str, Any], Duration | None]:
    """The entry's changes the saved ``text`` asks for (fields equal to ``was`` are not
    changes; ``build`` makes them as from ``edit``'s options), and the duration when it
    changed; CliError for a text that cannot be."""
    fields = _load(text)
    unknown = sorted(set(fields) - set(FIELDS))
    if unknown:
        raise CliError(f"unknown field {unknown[0]!r} (the fields: {', '.join(FIELDS)})")
    asked = {name: value for name, value in fields.items() if value != was.get(name)}
    duration = None
    if "duration" in asked:
        value = asked["duration"]
        text_value = str(value) if isinstance(value, int) and not isinstance(value, bool) else None
        duration = Duration.parse(text_value or _string(value, "duration"))
        if was.get("duration") and durations.parse_duration(was["duration"]) == duration.seconds:
            duration = None  # (the same duration written another way)
    activities: list[str] = []
    if "activities" in asked:
        value = asked["activities"]
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not value or not all(isinstance(a, str) for a in value):
            raise CliError('activities must be a list of slugs, e.g. ["dev", "docs"]')
        activities = [a.strip() for a in value]
        if not all(activities):
            raise CliError("activities cannot hold an empty slug")
    day: dt.date | None = None
    if "date" in asked:
        day = DAY.convert(_string(asked["date"], "date"), None, None)
        if day.isoformat() == was.get("date"):
            day = None
    project = None
    if "project" in asked:
        project = _string(asked["project"], "project").strip()
        if not project:
            raise CliError("project cannot be empty")
    notes = None if "notes" not in asked else _string(asked["notes"], "notes")
    issue = None if "issue" not in asked else _string(asked["issue"], "issue")
    changes = build(duration, project, activities, notes, issue, day)
    return changes, duration


def _without_error(text: str) -> str:
    """``text`` without the error comment a previous round put at its top."""
    lines = text.splitlines(keepends=True)
    while lines and lines[0].startswith("# Error: "):
        lines.pop(0)
    return "".join(lines)


def _empty(text: str) -> bool:
    return all(not line.strip() or line.lstrip().startswith("#") for line in text.splitlines())


def edit_in_editor(app: App, uuid: str, allow_long: bool, steps: EditSteps) -> None:
    """Open the entry ``uuid`` in the editor until the text is valid (then queue its
    changes with ``edit``'s own ``steps``), unchanged or emptied (see the module)."""
    build, check_changes, write_changes = steps
    editor = _editor()
    ts = app.client()
    target = resolve_time(ts, uuid)
    entry = _cached(ts, target)
    was = current(entry)
    shown = render(target, was)
    error: str | None = None
    last_saved: str | None = None
    for refusals in range(MAX_REFUSALS + 1):
        if refusals == MAX_REFUSALS:
            raise CliError(f"{error} (refused {MAX_REFUSALS} times in a row: nothing changed)")
        saved_text = _open(shown, editor)
        if saved_text is None or saved_text == shown or (error and saved_text == last_saved):
            if error is None:
                app.out(f"nothing changed: {target} is as it was")
                return
            raise CliError(f"{error} (the text was saved unchanged: nothing changed)")
        last_saved = saved_text
        text = _without_error(saved_text)
        if _empty(text):
            app.out(f"nothing changed: the text was emptied ({target} is as it was)")
            return
        try:
            changes, duration = changes_of(text, was, build)
            if changes:
                check_changes(app, ts, changes, allow_long)
        except (CliError, GrammarError) as refused:
            error = refused.format_message()
        except durations.DurationError as refused:
            error = str(refused)
        else:
            if not changes:
                app.out(f"nothing changed: {target} is as it was")
                return
            if duration is not None:
                app.out(duration.explain())
            try:
                write_changes(app, ts, target, changes)
                return
            except ValidationError as refused:  # (the library's own checks)
                error = refused.message
        shown = f"# Error: {error}\n" + text


#: How many refused saves in a row before ``edit`` gives up (an editor or script that
#: writes a new invalid text each time would otherwise be opened again forever).
MAX_REFUSALS = 10


def _open(shown: str, editor: str) -> str | None:
    """The text saved in the editor (None: not saved); an editor that removes the file
    or saves bytes that are not UTF-8 is one error line, nothing changed."""
    try:
        return click.edit(shown, editor=editor, extension=".toml", require_save=True)
    except UnicodeDecodeError:
        raise CliError("the editor saved text that is not UTF-8: nothing changed") from None
    except FileNotFoundError:
        raise CliError(
            "the editor removed the file instead of saving it: nothing changed"
        ) from None
    except click.ClickException as failed:  # (exited with an error, or could not run)
        raise CliError(f"the editor failed ({failed.format_message()}): nothing changed") from None


def _cached(ts: TimeSync, target: str) -> dict[str, Any]:
    found = ts.cached_times({"uuid": target})
    entry = found[0] if found and isinstance(found[0], dict) else None
    if entry is None:
        raise CliError(
            f"the time entry {target[:8]} is not in the local cache: run `pymesync times`"
            " to read it, or give the fields as options (--notes, --duration, ...)"
        )
    if entry.get("deleted_at"):
        raise CliError(
            f"the time entry {target[:8]} is deleted (`pymesync undo` may bring it back)"
        )
    return entry
