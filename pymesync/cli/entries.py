"""Writing time entries: ``log``, ``edit`` and ``rm``, and the checks that refuse a
bad entry before anything is queued."""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import click

from pymesync import durations
from pymesync.cli import complete
from pymesync.cli.app import App, CliError, pass_app
from pymesync.cli.confirm import confirm, describe_time, yes_option
from pymesync.cli.ids import resolve_time
from pymesync.cli.outcome import WriteOutcome, finish_write, saved, state_of
from pymesync.cli.output import emit_json, json_option
from pymesync.cli.params import DAY, DURATION, Duration, joined

if TYPE_CHECKING:
    from pymesync.client import TimeSync


#: The longest entry ``log`` and ``edit`` take without ``--allow-long`` (the library
#: itself refuses more than 7 days).
MAX_ENTRY_SECONDS = 24 * 3600


#: How many days after the local date ``--date`` may be (slack for time zones).
MAX_DAYS_AHEAD = 1


#: How many known slugs an "unknown project" error lists.
_LISTED = 20


def check_entry(
    seconds: int | None, date_worked: str | None, allow_long: bool, today: dt.date | None = None
) -> None:
    """Refuse, before anything is queued, an entry longer than 24 hours (unless
    ``--allow-long``) and a date more than a day after the local date."""
    if seconds is not None and seconds > MAX_ENTRY_SECONDS and not allow_long:
        raise CliError(
            f"{durations.format_hm(seconds)} is more than 24 hours for one entry:"
            " give --allow-long if you mean it"
        )
    if date_worked is not None:
        base = today or durations.local_today()
        if dt.date.fromisoformat(date_worked) > base + dt.timedelta(days=MAX_DAYS_AHEAD):
            raise CliError(
                f"--date {date_worked} is in the future (today is {base.isoformat()});"
                " log work when it is done"
            )


def check_known(
    app: App,
    ts: TimeSync,
    project: str | None,
    activities: Sequence[str],
    *,
    need_activity: bool = False,
) -> None:
    """Refuse an unknown project or activity when the local cache knows the lists, and
    (``need_activity``: a new entry without activities) a project without a default
    activity. The cache only, never the network; when it knows nothing the server
    decides."""
    if project is not None:
        found = _known(ts, "project", "projects", [project])
        no_default = found is not None and not found.get("default_activity", True)
        if need_activity and no_default and not activities:
            raise CliError(
                f"project {project!r} has no default activity: give --activity SLUG"
                " (or run `pymesync config set default_activity SLUG`)"
            )
    if activities:
        _known(ts, "activity", "activities", list(activities))


def _known(ts: TimeSync, what: str, plural: str, wanted: list[str]) -> dict[str, Any] | None:
    """The cached object having the first of ``wanted`` (None when the cache knows no
    list); a CliError naming the first slug it does not know."""
    objects = ts.cached(what)
    if objects is None:
        return None
    by_slug: dict[str, dict[str, Any]] = {}
    for item in objects:
        slugs = item.get("slugs") if what == "project" else [item.get("slug")]
        for slug in slugs if isinstance(slugs, list) else []:
            if isinstance(slug, str) and slug:
                by_slug.setdefault(slug, item)
    missing = [slug for slug in wanted if slug not in by_slug]
    if missing:
        names = sorted(by_slug)
        listing = ", ".join(names[:_LISTED]) + (", ..." if len(names) > _LISTED else "")
        raise CliError(
            f"unknown {what} {missing[0]!r} (known: {listing or 'none'};"
            f" `pymesync {plural}` refreshes the list)"
        )
    return by_slug[wanted[0]]


def chosen_project(
    app: App, project: str | None, activities: Sequence[str]
) -> tuple[str, list[str]]:
    """The project of a new entry (``--project``, else ``default_project``; neither: a
    CliError) and its activities (``--activity``, else ``default_activity``, else none:
    the project's default)."""
    slug = project or app.settings.get("default_project")
    if not slug:
        raise CliError(
            "no project: give --project or run `pymesync config set default_project SLUG`"
        )
    default = app.settings.get("default_activity")
    # (an activity given twice is one activity: ``-a dev -a dev``)
    return str(slug), list(dict.fromkeys(activities)) or ([default] if default else [])


def text_option(value: str | None, what: str) -> str | None:
    """``value`` of the option ``what``, refused when it is blank."""
    return _text(value, what)


def _text(value: str | None, what: str) -> str | None:
    if value is not None and not value.strip():
        raise CliError(f"{what} cannot be empty (the server keeps the old value)")
    return value


def do_log(
    app: App,
    duration: Duration,
    *,
    project: str | None = None,
    activities: Sequence[str] = (),
    notes: str | None = None,
    issue: str | None = None,
    day: dt.date | None = None,
    allow_long: bool = False,
    as_json: bool = False,
) -> str:
    """Create one time entry (queued, pushed when possible); returns its uuid. With
    ``as_json`` the outcome is one JSON object on stdout (see :func:`json_outcome`) and
    the lines for people go to stderr."""
    app.out_to_stderr = app.out_to_stderr or as_json
    seconds = duration.seconds
    app.out(duration.explain())
    slug, chosen = chosen_project(app, project, activities)
    date_worked = (day or durations.local_today()).isoformat()
    check_entry(seconds, date_worked, allow_long)
    ts = app.client()
    check_known(app, ts, slug, chosen, need_activity=True)
    entry: dict[str, Any] = {
        "duration": seconds,
        "project": slug,
        "user": app.settings.require("username"),
        "date_worked": date_worked,
    }
    if chosen:
        entry["activities"] = chosen
    if _text(notes, "--notes") is not None:
        entry["notes"] = notes
    if _text(issue, "--issue") is not None:
        entry["issue_uri"] = issue
    answer = saved(lambda: ts.create_time(entry), "nothing was logged")
    uuid = str(answer["uuid"])
    what = f" ({', '.join(chosen)})" if chosen else ""
    finish_write(
        app,
        ts,
        uuid,
        f"logged {durations.format_hm(seconds)} on {slug}{what} for {date_worked} as {uuid}",
        done=json_outcome("logged", entry=entry) if as_json else None,
    )
    return uuid


def json_outcome(action: str, **extra: Any) -> Callable[[WriteOutcome], None]:
    """What ``--json`` prints when a write ends: ``{"action", "uuid", "server_id",
    "state", "outcome", "message", ...extra}`` as one JSON object on stdout."""

    def emit(outcome: WriteOutcome) -> None:
        emit_json({"action": action, **outcome.as_dict(), **extra})

    return emit


#: ``--project`` and ``--activity`` of a new entry (``log``, ``start``).
project_option = click.option(
    "--project",
    "-p",
    metavar="SLUG",
    help="Project slug (else default_project).",
    shell_complete=complete.project,
)
activities_option = click.option(
    "--activity",
    "-a",
    "activities",
    multiple=True,
    metavar="SLUG",
    help="Activity slug; repeat for several (else default_activity, else the project's).",
    shell_complete=complete.activity,
)


@click.command("log")
@click.argument("duration", nargs=-1, required=True, metavar="DURATION", callback=joined)
@project_option
@activities_option
@click.option("--notes", "-n", metavar="TEXT", help="What you did.")
@click.option("--issue", metavar="URI", help="An issue URI.")
@click.option(
    "--date",
    "-d",
    "day",
    type=DAY,
    metavar="DAY",
    help="2026-12-07, today (default), yesterday, monday, -3d.",
)
@click.option("--allow-long", is_flag=True, help="Take an entry longer than 24 hours.")
@json_option("What happened as one JSON object (the lines for people on stderr).")
@pass_app
def log_command(
    app: App,
    duration: Duration,
    project: str | None,
    activities: tuple[str, ...],
    notes: str | None,
    issue: str | None,
    day: dt.date | None,
    allow_long: bool,
    as_json: bool,
) -> None:
    """Log DURATION of work: 1h30m, 90m, 2h, 1.5h, 1:30 or seconds.

    Works offline: the entry is queued and synced when the server can be reached.
    DURATION may be several words: `pymesync log 8 hours`.
    """
    do_log(
        app,
        duration,
        project=project,
        activities=activities,
        notes=notes,
        issue=issue,
        day=day,
        allow_long=allow_long,
        as_json=as_json,
    )


@click.command()
@click.argument("uuid", shell_complete=complete.time_entry)
@click.option(
    "--duration", type=DURATION, metavar="DURATION", help="New duration (1h30m, 90m, ...)."
)
@click.option(
    "--project", "-p", metavar="SLUG", help="New project.", shell_complete=complete.project
)
@click.option(
    "--activity",
    "-a",
    "activities",
    multiple=True,
    metavar="SLUG",
    help="New activities.",
    shell_complete=complete.activity,
)
@click.option("--notes", "-n", metavar="TEXT", help="New notes.")
@click.option("--issue", metavar="URI", help="New issue URI.")
@click.option(
    "--date",
    "-d",
    "day",
    type=DAY,
    metavar="DAY",
    help="New date: 2026-12-07, yesterday, monday, -3d.",
)
@click.option("--allow-long", is_flag=True, help="Take a duration longer than 24 hours.")
@json_option("What happened as one JSON object (the lines for people on stderr).")
@pass_app
def edit(
    app: App,
    uuid: str,
    duration: Duration | None,
    project: str | None,
    activities: tuple[str, ...],
    notes: str | None,
    issue: str | None,
    day: dt.date | None,
    allow_long: bool,
    as_json: bool,
) -> None:
    """Change a time entry.

    UUID is a full uuid (local or the server's) or a unique prefix. With no field
    option, the entry opens in $VISUAL or $EDITOR as TOML text.
    """
    app.out_to_stderr = as_json
    if duration is not None:
        app.out(duration.explain())
    changes = edit_changes(duration, project, activities, notes, issue, day)
    if not changes:
        from pymesync.cli.editor import edit_in_editor

        write = functools.partial(write_changes, as_json=as_json)
        edit_in_editor(app, uuid, allow_long, (edit_changes, check_changes, write))
        return
    check_entry(changes.get("duration"), changes.get("date_worked"), allow_long)
    ts = app.client()
    target = resolve_time(ts, uuid)
    check_changes(app, ts, changes, allow_long)
    write_changes(app, ts, target, changes, as_json)


def edit_changes(
    duration: Duration | None,
    project: str | None,
    activities: Sequence[str],
    notes: str | None,
    issue: str | None,
    day: dt.date | None,
) -> dict[str, Any]:
    """The changes of ``edit``'s field options (empty notes or issue refused)."""
    changes: dict[str, Any] = {}
    if duration is not None:
        changes["duration"] = duration.seconds
    if project is not None:
        changes["project"] = project
    if activities:
        changes["activities"] = list(dict.fromkeys(activities))
    if _text(notes, "--notes") is not None:
        changes["notes"] = notes
    if _text(issue, "--issue") is not None:
        changes["issue_uri"] = issue
    if day is not None:
        changes["date_worked"] = day.isoformat()
    return changes


def check_changes(app: App, ts: TimeSync, changes: dict[str, Any], allow_long: bool) -> None:
    """``edit``'s checks of ``changes`` before anything is queued: no more than 24 hours
    (unless ``allow_long``), no future date, projects and activities the cache knows."""
    check_entry(changes.get("duration"), changes.get("date_worked"), allow_long)
    check_known(app, ts, changes.get("project"), changes.get("activities") or ())


def write_changes(
    app: App, ts: TimeSync, target: str, changes: dict[str, Any], as_json: bool = False
) -> None:
    """Queue ``changes`` to the time ``target`` and say what happened (the push; with
    ``as_json`` also as one JSON object)."""
    # an entry the server refused: the change folds into the refused write, sent again
    before = state_of(ts, target)
    saved(lambda: ts.update_time(changes, target), "nothing was changed")
    fields = ", ".join(sorted(changes))
    again = "; the server had refused it" if before == "failed" else ""
    finish_write(
        app,
        ts,
        target,
        f"updated {target} ({fields}{again})",
        done=json_outcome("updated", changes=changes) if as_json else None,
    )


@click.command()
@click.argument("uuid", shell_complete=complete.time_entry)
@yes_option("remove")
@json_option("What happened as one JSON object (the lines for people on stderr).")
@pass_app
def rm(app: App, uuid: str, yes: bool, as_json: bool) -> None:
    """Delete a time entry (by uuid or unique prefix).

    Asks first (on a terminal) unless --yes.
    """
    app.out_to_stderr = as_json
    ts = app.client()
    target = resolve_time(ts, uuid)
    confirm(f"Remove {describe_time(ts, target)}?", yes, "nothing removed")
    saved(lambda: ts.delete_time(target), "nothing was removed")
    done = json_outcome("removed") if as_json else None
    if state_of(ts, target) == "unknown":
        phrase = "it had not reached the server, nothing to sync"
        app.out(f"removed {target}: {phrase}")
        if done is not None:
            done(WriteOutcome(target, "unknown", None, phrase))
        return
    finish_write(app, ts, target, f"removed {target}", done=done)
