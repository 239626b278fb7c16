"""The ``pymesync`` command line: wiring and output only.

Configuration lives in :mod:`pymesync.config`, the duration grammar in
:mod:`pymesync.durations`, tables and colour in :mod:`pymesync.tables`; everything else is
the library (:class:`pymesync.TimeSync` with ``raise_errors=True``).

Every error a person can cause is one line on stderr (``Error: ...``) and a non-zero exit
status: 1 for most errors, 2 for a command line click cannot parse, 3 when the server
cannot be reached, 4 when operations failed and wait for the user, 5 when a login is
needed. Nothing here imports requests, SQLAlchemy or bcrypt at module level.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from pymesync import config as cfg
from pymesync import durations, tables
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
    from pymesync.push import BoundedPush
    from pymesync.sync import OpResult, SyncReport

__all__ = ["EXIT_ERROR", "EXIT_FAILED", "EXIT_LOGIN", "EXIT_OFFLINE", "App", "CliError", "main"]

#: Exit status of an ordinary error.
EXIT_ERROR = 1
#: Exit status when the server cannot be reached (what was queued stays queued).
EXIT_OFFLINE = 3
#: Exit status when operations failed for good and wait for ``pymesync failed``.
EXIT_FAILED = 4
#: Exit status when a login is needed (none yet, or the server refused the token).
EXIT_LOGIN = 5

#: Show a progress bar (on a terminal) when a sync has more operations than this.
BAR_THRESHOLD = 3

_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_STATE_COLOURS = {
    "synced": "green",
    "pending": "yellow",
    "inflight": "yellow",
    "failed": "red",
    "conflict": "red",
    "unknown": "dim",
}


class CliError(click.ClickException):
    """One clear line on stderr (``Error: ...``) and the exit status ``code``."""

    def __init__(self, message: str, code: int = EXIT_ERROR) -> None:
        super().__init__(message)
        self.__dict__["exit_code"] = code  # click reads ``exit_code``; a class default elsewhere


# --------------------------------------------------------------------------- errors


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
    from pymesync.store.errors import StoreError

    if isinstance(error, StoreError):
        return CliError(f"local store: {error.message}")
    return CliError(error.message)


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
        except click.UsageError as error:
            raise _one_line(error) from None
        except (cfg.ConfigError, durations.DurationError) as error:
            raise CliError(str(error)) from None
        except PymesyncError as error:
            raise translate(error, ctx.obj if isinstance(ctx.obj, App) else None) from None


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


# --------------------------------------------------------------------------- the app


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

    def db(self) -> str | None:
        """The store's path from the configuration (None: the library's default)."""
        value = self.settings.get("db")
        return None if value is None else str(Path(value).expanduser())

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
        """A line on stdout."""
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


def emit_json(value: Any) -> None:
    """``value`` as indented JSON on stdout."""
    click.echo(json.dumps(value, indent=2, sort_keys=True, default=str, ensure_ascii=False))


# --------------------------------------------------------------------------- helpers


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


def _parse_when(value: Any) -> dt.datetime | None:
    if not isinstance(value, str):
        return None
    try:
        when = dt.datetime.fromisoformat(value)
    except ValueError:
        return None
    return when if when.tzinfo else when.replace(tzinfo=dt.timezone.utc)


def local_time(value: Any, now: dt.datetime | None = None) -> str:
    """An ISO timestamp as local time with its age (``2026-11-30 10:48:18, 5 min ago``)."""
    when = _parse_when(value)
    if when is None:
        return "never" if value is None else str(value)
    moment = now or dt.datetime.now(dt.timezone.utc)
    return f"{when.astimezone():%Y-%m-%d %H:%M:%S}, {ago((moment - when).total_seconds())}"


def short(ident: Any) -> str:
    """The first 8 characters of an id (enough to name it: prefixes are accepted)."""
    return str(ident or "")[:8]


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


def read_times(app: App, ts: TimeSync, query: dict[str, Any]) -> tuple[list[Any], str]:
    """The times for ``query``, and why they came from the cache if they did: a login
    the server refused is no reason to show nothing (the cache answers, saying so)."""
    try:
        return ts.get_times(query), "offline"
    except TokenRejectedError:
        return ts.cached_times(query), "the server refused the login (run `pymesync login`)"


def read_info(ts: TimeSync) -> dict[str, Any]:
    """``last_read`` as JSON (source, fetched_at, age)."""
    read = ts.last_read
    return {"source": "server", "fetched_at": None, "age": None} if read is None else read.as_dict()


def resolve_prefix(
    prefix: str, candidates: Sequence[str], what: str, plural: str | None = None
) -> str:
    """The one candidate that starts with ``prefix`` (case-insensitive); a full uuid is
    taken as given (the library resolves local uuids). One clear error otherwise."""
    wanted = prefix.strip().lower()
    if not wanted:
        raise CliError(f"empty {what} id")
    if _UUID.fullmatch(wanted):
        return wanted
    found = sorted({c for c in candidates if c.lower().startswith(wanted)})
    if not found:
        raise CliError(f"no {what} with an id starting with {prefix!r}")
    if len(found) > 1:
        listed = ", ".join(short(c) if len(short(c)) > len(wanted) else c for c in found[:5])
        more = ", ..." if len(found) > 5 else ""
        raise CliError(
            f"{prefix!r} is ambiguous: {len(found)} {plural or what + 's'} start with it"
            f" ({listed}{more});"
            " give more characters"
        )
    return found[0]


def first_slug(project: Any) -> str:
    """A project as one word: its shortest slug."""
    slugs = project.get("slugs") if isinstance(project, dict) else project
    if isinstance(slugs, list) and slugs:
        return min((str(s) for s in slugs), key=lambda s: (len(s), s))
    return str(slugs or "")


def parse_day(text: str | None) -> str | None:
    """A ``--date``/``--from``/``--to`` value as ``YYYY-MM-DD`` (None stays None)."""
    return None if text is None else durations.parse_day(text).isoformat()


def _state(ts: TimeSync, uuid: str) -> str:
    return str(ts.sync_status("time", uuid).get("state", "unknown"))


#: The bound on the push after a write command (seconds); what is not sent by then
#: stays queued for `pymesync sync` or the daemon.
PUSH_BUDGET = 1.5
#: The timeouts of the commands other than `sync` and `daemon` (seconds): to connect,
#: and for each wait for the server (then a read answers from the cache).
CONNECT_TIMEOUT = 2.0
READ_TIMEOUT = 5.0
#: Exit status after Ctrl-C (128 + SIGINT, as shells report it).
EXIT_INTERRUPTED = 130


def saved(call: Callable[[], Any], what: str) -> Any:
    """Run the write ``call`` (queueing it; no network); a Ctrl-C before it returns
    gives one line saying that ``what`` was not done (the store rolled back)."""
    try:
        return call()
    except KeyboardInterrupt:
        raise CliError(f"interrupted: {what}", EXIT_INTERRUPTED) from None


def outcome_phrase(app: App, ts: TimeSync, state: str) -> tuple[str, str | None]:
    """What happened to a write, truthfully: ``synced``, or queued and why."""
    if state == "synced":
        return "synced", "green"
    if state in ("pending", "inflight"):
        if not ts.token:
            return "queued, will sync after `pymesync login` (not logged in)", "yellow"
        status = ts.status()
        if status.get("needs_login"):
            return "queued, will sync after `pymesync login` (the server refused the login)", (
                "yellow"
            )
        return "queued, will sync (server unreachable)", "yellow"
    if state in ("failed", "conflict"):
        return f"{state}: see `pymesync failed list`", "red"
    return state, None


def finish_write(app: App, ts: TimeSync, uuid: str, head: str) -> None:
    """Print ``head: queued`` for the time ``uuid`` just written (it is on disk), then
    push it in a short bounded pass and print a second line that says how that ended.

    The answer never waits on the network, and the push ends within about
    :data:`PUSH_BUDGET` seconds; what it did not send stays queued for `pymesync sync`
    or the daemon. Ctrl-C stops the push and leaves the entry queued. A write the
    server refuses stays in the queue as failed (exit status 4), to be fixed with
    `pymesync edit` or dropped with `pymesync rm`.
    """
    from pymesync.push import STOP_GRACE, BoundedPush

    if not ts.token:
        phrase, colour = outcome_phrase(app, ts, _state(ts, uuid))
        app.out(f"{head}: " + tables.paint(phrase, colour, app.out_colour))
        return
    app.out(f"{head}: " + tables.paint("queued", "yellow", app.out_colour))
    push = BoundedPush(ts, PUSH_BUDGET).start()
    try:
        if not push.wait(PUSH_BUDGET + STOP_GRACE):
            push.stop()
    except KeyboardInterrupt:
        _stop_firmly(push, STOP_GRACE)
        raise CliError(
            "interrupted: the entry is queued, will sync later (`pymesync sync` or the daemon)",
            EXIT_INTERRUPTED,
        ) from None
    if not push.done:  # (the pass did not hand back in time: its lease runs out)
        app.out(
            tables.paint(
                "not sent (no answer from the server): stays queued, will sync later",
                "yellow",
                app.out_colour,
            )
        )
        return
    if push.error is not None:  # (a store or login error: the queue is untouched)
        if not isinstance(push.error, PymesyncError):
            raise push.error
        why = translate(push.error, app).message
        app.out(tables.paint(f"not sent ({why}): stays queued", "yellow", app.out_colour))
        return
    found = ts.sync_status("time", uuid)
    state = str(found.get("state", "unknown"))
    server_id = str(found.get("server_id") or uuid)
    if state == "synced":
        phrase, colour = ("synced" if server_id == uuid else f"synced as {server_id}"), "green"
    elif state in ("pending", "inflight"):
        phrase, colour = _not_sent(ts, push.report), "yellow"
    else:
        phrase, colour = outcome_phrase(app, ts, state)
    app.out(tables.paint(phrase, colour, app.out_colour))
    if state in ("failed", "conflict"):
        reason = failure(ts, uuid, state)
        raise CliError(
            f"the server refused it{f' ({reason})' if reason else ''}; it is kept as {state}:"
            " fix it with "
            f"`pymesync edit {short(uuid)}` or remove it with `pymesync rm {short(uuid)}`",
            EXIT_FAILED,
        )


def _stop_firmly(push: BoundedPush, grace: float) -> None:
    """Stop the push and wait up to ``grace`` seconds for it to give its operations
    back, whatever Ctrl-C presses come meanwhile: people press it twice, and a second
    press must not leave the entry leased to a process that has gone."""
    deadline = time.monotonic() + grace
    while True:
        try:
            push.stop(max(0.0, deadline - time.monotonic()))
            return
        except KeyboardInterrupt:
            if time.monotonic() >= deadline:
                return


def _not_sent(ts: TimeSync, report: SyncReport | None) -> str:
    """Why a push left a write queued, and what happens to it next."""
    stopped = None if report is None else report.stopped
    if stopped == "needs_login" or ts.status().get("needs_login"):
        return "not sent (the server refused the login): stays queued until `pymesync login`"
    if stopped in ("budget", "stopped"):
        why = f"no answer from the server within {PUSH_BUDGET:g} s"
    elif stopped == "offline":
        why = "server unreachable"
    else:  # nothing could be sent now: it waits behind an earlier change
        why = "it waits for an earlier change that is being sent or checked"
    return f"not sent ({why}): stays queued, will sync later"


def failure(ts: TimeSync, uuid: str, state: str) -> str | None:
    """Why the time ``uuid`` is ``state`` (failed, or in conflict): the error of its
    first operation in that state, or None."""
    for op in ts.sync_status("time", uuid).get("operations") or []:
        if isinstance(op, dict) and op.get("state") == state:
            return _op_error(op) or None
    return None


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


# --------------------------------------------------------------------------- the group


@click.group(cls=MainGroup)
@click.version_option(package_name="pymesync")
@click.option("--url", metavar="URL", help="TimeSync base URL, with /v0 (else base_url).")
@click.option("--user", "username", metavar="NAME", help="Your username (else username).")
@click.option("--db", metavar="FILE", help="The local store (else db, $PYMESYNC_DB).")
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


# --------------------------------------------------------------------------- login


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
    queued = int(waiting.get("pending", 0)) + int(waiting.get("inflight", 0))
    if queued:
        app.note(f"{queued} queued operation(s) waiting: run `pymesync sync`", None)


@main.command()
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


@main.command()
@pass_app
def logout(app: App) -> None:
    """Forget the stored token; queued operations stay queued."""
    ts = app.client()
    had = bool(ts.token)
    ts.logout()
    app.out("logged out" if had else "was not logged in")
    waiting = ts.status()
    queued = int(waiting.get("pending", 0)) + int(waiting.get("inflight", 0))
    if queued:
        app.note(f"{queued} queued operation(s) stay queued until you log in again", None)


# --------------------------------------------------------------------------- log / edit / rm


def _text(value: str | None, what: str) -> str | None:
    if value is not None and not value.strip():
        raise CliError(f"{what} cannot be empty (the server keeps the old value)")
    return value


def do_log(
    app: App,
    duration: str,
    *,
    project: str | None = None,
    activities: Sequence[str] = (),
    notes: str | None = None,
    issue: str | None = None,
    day: str | None = None,
    allow_long: bool = False,
) -> str:
    """Create one time entry (queued, pushed when possible); returns its uuid."""
    seconds = durations.parse_duration(duration)
    app.out(durations.explain(duration, seconds))
    slug = project or app.settings.get("default_project")
    if not slug:
        raise CliError(
            "no project: give --project or run `pymesync config set default_project SLUG`"
        )
    default = app.settings.get("default_activity")
    chosen = list(activities) or ([default] if default else [])
    date_worked = parse_day(day or "today")
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
    )
    return uuid


@main.command("log")
@click.argument("duration", nargs=-1, required=True, metavar="DURATION")
@click.option("--project", "-p", metavar="SLUG", help="Project slug (else default_project).")
@click.option(
    "--activity",
    "-a",
    "activities",
    multiple=True,
    metavar="SLUG",
    help="Activity slug; repeat for several (else default_activity, else the project's).",
)
@click.option("--notes", "-n", metavar="TEXT", help="What you did.")
@click.option("--issue", metavar="URI", help="An issue URI.")
@click.option("--date", "-d", "day", metavar="DAY", help="YYYY-MM-DD, today (default), yesterday.")
@click.option("--allow-long", is_flag=True, help="Take an entry longer than 24 hours.")
@pass_app
def log_command(
    app: App,
    duration: tuple[str, ...],
    project: str | None,
    activities: tuple[str, ...],
    notes: str | None,
    issue: str | None,
    day: str | None,
    allow_long: bool,
) -> None:
    """Log DURATION of work: 1h30m, 90m, 2h, 1.5h, 1:30 or seconds.

    Works offline: the entry is queued and synced when the server can be reached.
    DURATION may be several words: `pymesync log 8 hours`.
    """
    do_log(
        app,
        " ".join(duration),
        project=project,
        activities=activities,
        notes=notes,
        issue=issue,
        day=day,
        allow_long=allow_long,
    )


def resolve_time(ts: TimeSync, ident: str) -> str:
    """A time's uuid from a full uuid or a unique prefix of one in the local cache (the
    entries `pymesync times` showed, and those logged here): no network, so that a
    write never waits on the server."""
    if _UUID.fullmatch(ident.strip().lower()):
        return ident.strip().lower()
    wanted = ident.strip().lower()
    if not wanted:
        raise CliError("empty time entry id")
    # (the local uuid `log` printed names its entry too; a lookup, not a read of all)
    matches = ts.ids_starting("time", wanted)
    if not matches:
        raise CliError(
            f"no time entry with an id starting with {ident!r} in the local cache"
            " (run `pymesync times` to refresh it, or give the full uuid)"
        )
    found = set(matches.values())
    if len(found) == 1:
        return found.pop()
    return resolve_prefix(ident, sorted(found), "time entry", "time entries")


@main.command()
@click.argument("uuid")
@click.option("--duration", metavar="DURATION", help="New duration (1h30m, 90m, ...).")
@click.option("--project", "-p", metavar="SLUG", help="New project.")
@click.option(
    "--activity", "-a", "activities", multiple=True, metavar="SLUG", help="New activities."
)
@click.option("--notes", "-n", metavar="TEXT", help="New notes.")
@click.option("--issue", metavar="URI", help="New issue URI.")
@click.option("--date", "-d", "day", metavar="DAY", help="New date: YYYY-MM-DD, today, ...")
@click.option("--allow-long", is_flag=True, help="Take a duration longer than 24 hours.")
@pass_app
def edit(
    app: App,
    uuid: str,
    duration: str | None,
    project: str | None,
    activities: tuple[str, ...],
    notes: str | None,
    issue: str | None,
    day: str | None,
    allow_long: bool,
) -> None:
    """Change a time entry.

    UUID is a full uuid (local or the server's) or a unique prefix.
    """
    changes: dict[str, Any] = {}
    if duration is not None:
        seconds = durations.parse_duration(duration)
        app.out(durations.explain(duration, seconds))
        changes["duration"] = seconds
    if project is not None:
        changes["project"] = project
    if activities:
        changes["activities"] = list(activities)
    if _text(notes, "--notes") is not None:
        changes["notes"] = notes
    if _text(issue, "--issue") is not None:
        changes["issue_uri"] = issue
    if day is not None:
        changes["date_worked"] = parse_day(day)
    if not changes:
        raise CliError(
            "nothing to change: give --duration, --project, --activity, --notes, --issue or --date"
        )
    check_entry(changes.get("duration"), changes.get("date_worked"), allow_long)
    ts = app.client()
    target = resolve_time(ts, uuid)
    check_known(app, ts, project, activities)
    # an entry the server refused: the change folds into the refused write, sent again
    before = _state(ts, target)
    saved(lambda: ts.update_time(changes, target), "nothing was changed")
    fields = ", ".join(sorted(changes))
    again = "; the server had refused it" if before == "failed" else ""
    finish_write(app, ts, target, f"updated {target} ({fields}{again})")


@main.command()
@click.argument("uuid")
@pass_app
def rm(app: App, uuid: str) -> None:
    """Delete a time entry (by uuid or unique prefix)."""
    ts = app.client()
    target = resolve_time(ts, uuid)
    saved(lambda: ts.delete_time(target), "nothing was removed")
    if _state(ts, target) == "unknown":
        app.out(f"removed {target}: it had not reached the server, nothing to sync")
        return
    finish_write(app, ts, target, f"removed {target}")


# --------------------------------------------------------------------------- reads


def show_times(
    app: App,
    *,
    users: Sequence[str] = (),
    all_users: bool = False,
    projects: Sequence[str] = (),
    activities: Sequence[str] = (),
    start: str | None = None,
    end: str | None = None,
    deleted: bool = False,
    as_json: bool = False,
) -> None:
    """The times table (or JSON) with totals and sync states."""
    ts = app.client()
    query: dict[str, Any] = {}
    if not all_users:
        query["user"] = list(users) or [app.settings.require("username")]
    if projects:
        query["project"] = list(projects)
    if activities:
        query["activity"] = list(activities)
    first = parse_day(start) or ""
    if end:
        query["end"] = parse_day(end)
    if start and end and first > query["end"]:
        raise CliError(f"--from {first} is after --to {query['end']}: nothing could match")
    if first:  # (a local date may be "in the future" for the server: see query_start)
        query["start"] = durations.query_start(dt.date.fromisoformat(first)).isoformat()
    if deleted:
        query["include_deleted"] = True
    answer, why = read_times(app, ts, query)
    found = [t for t in answer if isinstance(t, dict) and str(t.get("date_worked") or "") >= first]
    info = read_info(ts)
    found.sort(key=lambda t: (str(t.get("date_worked")), str(t.get("created_at"))))
    states = time_states(ts, found)
    reasons = refusals(ts, states)
    # (deleted entries, shown with --deleted, are not time worked)
    total = sum(int(t.get("duration") or 0) for t in found if not t.get("deleted_at"))
    gone = sum(1 for t in found if t.get("deleted_at"))
    if as_json:
        emit_json(
            {
                **info,
                "total_seconds": total,
                "times": [with_state(t, states, reasons) for t in found],
            }
        )
        return
    read_note(app, ts, why)
    if not found:
        app.out("no time entries")
        return
    several = len({t.get("user") for t in found}) > 1
    columns = [
        tables.Column("ID"),
        tables.Column("DATE"),
        tables.Column("TIME", align="right"),
        *([tables.Column("USER")] if several else []),
        tables.Column("PROJECT"),
        tables.Column("ACTIVITIES"),
        tables.Column("NOTES", limit=40),
        tables.Column("SYNC"),
    ]
    rows: list[list[str]] = []
    colours: list[list[str | None]] = []
    for t in found:
        state = states[str(t.get("uuid"))]
        shown = f"{state}, deleted" if t.get("deleted_at") else state
        rows.append(
            [
                short(t.get("uuid")),
                str(t.get("date_worked") or ""),
                durations.format_hm(int(t.get("duration") or 0)),
                *([str(t.get("user") or "")] if several else []),
                first_slug(t.get("project")),
                ", ".join(str(a) for a in t.get("activities") or []),
                str(t.get("notes") or ""),
                shown,
            ]
        )
        shades: list[str | None] = [None] * (len(columns) - 1)
        colours.append([*shades, _STATE_COLOURS.get(state)])
    count = f"{len(found)} entr{'y' if len(found) == 1 else 'ies'}"
    if gone:
        count += f" ({gone} deleted, not counted)"
    footer = ["total", count, durations.format_hm(total)]
    app.table(columns, rows, footer=footer + [""] * (len(columns) - len(footer)), colours=colours)
    for uuid, reason in reasons.items():
        app.note(f"{short(uuid)} {states[uuid]}: {reason}", "red")
    if reasons:
        app.note(
            "fix an entry with `pymesync edit ID ...` (it is queued again) or drop it with"
            " `pymesync rm ID`; see `pymesync failed list`",
            None,
        )


def with_state(
    time: dict[str, Any], states: dict[str, str], reasons: dict[str, str]
) -> dict[str, Any]:
    """A time for ``times --json``: its ``sync_state``, and ``sync_error`` when failed."""
    uuid = str(time.get("uuid"))
    shown = {**time, "sync_state": states[uuid]}
    if uuid in reasons:
        shown["sync_error"] = reasons[uuid]
    return shown


def refusals(ts: TimeSync, states: dict[str, str]) -> dict[str, str]:
    """Why each failed (or conflicting) time is: its operation's error, on one line."""
    reasons: dict[str, str] = {}
    for uuid, state in states.items():
        if state not in ("failed", "conflict"):
            continue
        found = failure(ts, uuid, state)
        if found:
            reason = " ".join(found.split())
            reasons[uuid] = reason if len(reason) <= 100 else reason[:99] + "…"
    return reasons


def time_states(ts: TimeSync, times: Sequence[dict[str, Any]]) -> dict[str, str]:
    """Each time's sync state (one status query when nothing at all is queued)."""
    status = ts.status()
    busy = sum(int(status.get(k, 0)) for k in ("pending", "inflight", "failed", "conflicts"))
    if not busy:
        return {str(t.get("uuid")): "synced" for t in times}
    return ts.sync_states("time", [str(t.get("uuid")) for t in times])


@main.command()
@click.option("--user", "-u", "users", multiple=True, metavar="NAME", help="Whose (default: you).")
@click.option("--all-users", is_flag=True, help="Everyone's times that you may see.")
@click.option("--project", "-p", "projects", multiple=True, metavar="SLUG", help="Project.")
@click.option("--activity", "-a", "activities", multiple=True, metavar="SLUG", help="Activity.")
@click.option("--from", "start", metavar="DAY", help="First day (YYYY-MM-DD, today, yesterday).")
@click.option("--to", "end", metavar="DAY", help="Last day (inclusive).")
@click.option("--deleted", is_flag=True, help="Include deleted entries.")
@click.option("--json", "as_json", is_flag=True, help="JSON instead of a table.")
@pass_app
def times(
    app: App,
    users: tuple[str, ...],
    all_users: bool,
    projects: tuple[str, ...],
    activities: tuple[str, ...],
    start: str | None,
    end: str | None,
    deleted: bool,
    as_json: bool,
) -> None:
    """Your time entries, with totals and sync states.

    From the local cache when the server cannot be reached (and it says so).
    """
    show_times(
        app,
        users=users,
        all_users=all_users,
        projects=projects,
        activities=activities,
        start=start,
        end=end,
        deleted=deleted,
        as_json=as_json,
    )


def show_objects(
    app: App,
    as_json: bool,
    name: str,
    fetch: Callable[[TimeSync], list[Any]],
    sort_key: Callable[[dict[str, Any]], str],
    columns: list[tables.Column],
    row: Callable[[dict[str, Any]], list[str]],
) -> None:
    """A table (or JSON under ``name``) of the objects ``fetch`` returns (from the cache
    when not logged in, saying so)."""
    ts = app.client()
    found = [o for o in fetch(ts) if isinstance(o, dict)]
    if as_json:
        emit_json({**read_info(ts), name: found})
        return
    read_note(app, ts)
    found.sort(key=sort_key)
    app.table(columns, [row(o) for o in found])


def show_projects(app: App, as_json: bool = False) -> None:
    """The projects table (or JSON)."""
    show_objects(
        app,
        as_json,
        "projects",
        lambda ts: ts.get_projects(),
        first_slug,
        [
            tables.Column("SLUGS"),
            tables.Column("NAME"),
            tables.Column("DEFAULT ACTIVITY"),
            tables.Column("URI", limit=50),
        ],
        lambda p: [
            ", ".join(sorted(str(s) for s in p.get("slugs") or [])),
            str(p.get("name") or ""),
            str(p.get("default_activity") or ""),
            str(p.get("uri") or ""),
        ],
    )


@main.command()
@click.option("--json", "as_json", is_flag=True, help="JSON instead of a table.")
@pass_app
def projects(app: App, as_json: bool) -> None:
    """The projects you can see."""
    show_projects(app, as_json)


@main.command()
@click.option("--json", "as_json", is_flag=True, help="JSON instead of a table.")
@pass_app
def activities(app: App, as_json: bool) -> None:
    """The activities."""
    show_objects(
        app,
        as_json,
        "activities",
        lambda ts: ts.get_activities(),
        lambda a: str(a.get("slug")),
        [tables.Column("SLUG"), tables.Column("NAME")],
        lambda a: [str(a.get("slug") or ""), str(a.get("name") or "")],
    )


def _user_row(user: dict[str, Any]) -> list[str]:
    roles = [r for r in ("admin", "manager", "spectator") if user.get(f"site_{r}") is True]
    if user.get("active") is False:
        roles.append("inactive")
    return [
        str(user.get("username") or ""),
        str(user.get("display_name") or ""),
        str(user.get("email") or ""),
        ", ".join(roles),
    ]


@main.command()
@click.option("--json", "as_json", is_flag=True, help="JSON instead of a table.")
@pass_app
def users(app: App, as_json: bool) -> None:
    """The users."""
    show_objects(
        app,
        as_json,
        "users",
        lambda ts: ts.get_users(),
        lambda u: str(u.get("username")),
        [
            tables.Column("USERNAME"),
            tables.Column("NAME"),
            tables.Column("EMAIL"),
            tables.Column("SITE ROLES"),
        ],
        _user_row,
    )


# --------------------------------------------------------------------------- queue


def status_data(app: App) -> dict[str, Any]:
    """The account's queue status plus the login state (never the token)."""
    return _read_status(app)[0]


def _read_status(app: App) -> tuple[dict[str, Any], bool]:
    """:func:`status_data`, and whether the store exists yet.

    Read through a :class:`~pymesync.store.StorePeek` (read-only, no SQLAlchemy): the
    same account, token and queue ``TimeSync.resume(...).status()`` would find, without
    creating, migrating or changing the store.
    """
    from pymesync.offline import account_key
    from pymesync.status import account_status
    from pymesync.store.peek import StorePeek

    url = app.settings.require("base_url")
    user = app.settings.require("username")
    base_url = url[:-1] if url.endswith("/") else url  # as TimeSync does
    with StorePeek.open(app.db()) as peek:
        token = peek.load_token(f"{base_url}|{user}")  # as TimeSync.resume does
        account = account_key(base_url, token) if token else f"{base_url}|{user}"
        data = account_status(peek, account, dt.datetime.now(dt.timezone.utc))
        data.update(_login_state(token))
        data["store"] = str(peek.path)
        return data, peek.exists


def _login_state(token: str | None) -> dict[str, Any]:
    """``logged_in``, ``token_expires`` (local ISO time) and ``token_expired`` for the
    stored token (None: no login); the token itself is not part of it."""
    from pymesync.tokens import expiration_time

    state: dict[str, Any] = {
        "logged_in": bool(token),
        "token_expires": None,
        "token_expired": None,
    }
    if token:
        try:
            expiry = expiration_time(token)  # from the token's own exp (expiration_ms)
        except PymesyncError:
            return state
        state["token_expires"] = expiry.astimezone().isoformat()
        state["token_expired"] = expiry <= dt.datetime.now()
    return state


def show_status(app: App, as_json: bool = False) -> dict[str, Any]:
    """Print the status (table or JSON); returns it."""
    data, store_exists = _read_status(app)
    if as_json:
        emit_json(data)
        return data
    account = data.get("account") or {}
    waiting = int(data.get("pending", 0)) + int(data.get("inflight", 0))
    if not data["logged_in"] and waiting:
        login_line, login_colour = (
            f"not logged in: waiting for login ({waiting} queued); run `pymesync login`",
            "red",
        )
    elif not data["logged_in"]:
        login_line, login_colour = "not logged in: run `pymesync login`", "red"
    elif data.get("needs_login"):
        login_line, login_colour = (
            "needed: the server refused the stored login; run `pymesync login`",
            "red",
        )
    elif data["token_expired"]:
        login_line, login_colour = (
            f"expired at {data['token_expires'][:16].replace('T', ' ')}: run `pymesync login`",
            "yellow",
        )
    elif data["token_expires"]:
        login_line = f"logged in until {data['token_expires'][:16].replace('T', ' ')}"
        login_colour = "green"
    else:
        login_line, login_colour = "logged in", "green"
    oldest = data.get("oldest_pending_age")
    pending = f"{data.get('pending', 0)}"
    if data.get("pending") and oldest is not None:
        pending += f" (oldest queued {ago(float(oldest))})"
    error = data.get("last_error")
    if isinstance(error, dict):
        error_line = f"{local_time(error.get('at'))}: {error.get('message')}"
    else:
        error_line = "none"
    retry = _parse_when(data.get("next_retry"))
    retry_line = "-"
    if retry is not None:
        retry_line = f"{retry.astimezone():%H:%M:%S}, " + in_(
            (retry - dt.datetime.now(dt.timezone.utc)).total_seconds()
        )
    lines: list[tuple[str, str, str | None]] = [
        ("account", f"{account.get('username')} at {account.get('base_url')}", None),
        ("login", login_line, login_colour),
        ("pending", pending, "yellow" if data.get("pending") else None),
        ("in flight", str(data.get("inflight", 0)), None),
        ("failed", str(data.get("failed", 0)), "red" if data.get("failed") else None),
        ("conflicts", str(data.get("conflicts", 0)), "red" if data.get("conflicts") else None),
        ("last success", local_time(data.get("last_success")), None),
        ("last error", error_line, None),
        ("next retry", retry_line, None),
        ("store", data["store"] if store_exists else f"{data['store']} (no store yet)", None),
    ]
    if data.get("conflict_log"):
        lines.append(("conflict log", f"{len(data['conflict_log'])} entries (see --json)", None))
    size = max(len(label) for label, _, _ in lines)
    for label, value, colour in lines:
        app.out(f"{label.ljust(size)}  " + tables.paint(value, colour, app.out_colour))
    if data.get("failed") or data.get("conflicts"):
        app.note("see `pymesync failed list`", None)
    return data


@main.command()
@click.option("--json", "as_json", is_flag=True, help="JSON instead of text.")
@pass_app
def status(app: App, as_json: bool) -> None:
    """What is queued, failed or waiting; the login state."""
    show_status(app, as_json)


def describe(result: OpResult) -> str:
    """One operation's result as a line: outcome, what, and the server's id or error."""
    line = f"{result.outcome:<11} {result.kind} {result.entity} {short(result.target)}"
    canonical = result.canonical or {}
    server_id = canonical.get("uuid") if result.entity == "time" else None
    if result.kind == "create" and server_id and server_id != result.target:
        line += f" -> {short(server_id)}"
    if result.error is not None and result.outcome != "synced":
        line += f": {result.error.message}"
    return line


def grouped_problems(results: Iterable[OpResult]) -> list[tuple[list[OpResult], str]]:
    """The results that are not successes, grouped by outcome and error text (one 401
    that stopped sixteen operations is one problem, not sixteen), in first-seen order."""
    groups: dict[tuple[str, str], list[OpResult]] = {}
    for result in results:
        if result.outcome == "synced":
            continue
        message = "" if result.error is None else result.error.message
        groups.setdefault((result.outcome, message), []).append(result)
    return [(members, message) for (_, message), members in groups.items()]


def do_sync(
    app: App,
    *,
    as_json: bool = False,
    bar_threshold: int = BAR_THRESHOLD,
    budget: float | None = None,
) -> SyncReport:
    """One sync pass with a progress bar (on a terminal, for more than a few operations),
    then the truth: exits non-zero when something failed or waits for a login. Each
    distinct problem is printed once, with how many operations it hit."""
    ts = app.logged_in(pooled=True)
    before = ts.status()
    todo = int(before.get("pending", 0)) + int(before.get("inflight", 0))
    use_bar = not as_json and todo > bar_threshold and tables.is_terminal(sys.stderr)
    colours = {"synced": "green", "deferred": "yellow", "needs_login": "yellow", "failed": "red"}

    def line(result: OpResult) -> None:
        if not as_json and result.outcome == "synced":
            app.out(describe(result), colours.get(result.outcome))

    if use_bar:
        with click.progressbar(length=todo, label="syncing", file=sys.stderr) as bar:
            report = ts.sync(progress=lambda result: bar.update(1), budget=budget)
    else:
        report = ts.sync(progress=line, budget=budget)
    if not as_json:
        for members, message in grouped_problems(report.results):
            first = members[0]
            if len(members) == 1:
                app.out(describe(first), colours.get(first.outcome))
            else:
                text = f"{len(members)} operations {first.outcome.replace('_', ' ')}"
                app.out(text + (f": {message}" if message else ""), colours.get(first.outcome))
    after = ts.status()
    if as_json:
        emit_json({**report.as_dict(), "status": after})
    else:
        left = int(after.get("pending", 0)) + int(after.get("inflight", 0))
        summary = f"synced {report.synced} operation(s)"
        if report.failed:
            summary += f", {report.failed} failed"
        if left:
            summary += f", {left} still queued"
        if report.results:
            app.out(summary)
        elif left:  # (queued, but nothing could be sent now: never "nothing to sync")
            held = int(after.get("inflight", 0))
            why = (
                f"{held} being sent by another process, or by one that stopped, until its"
                " lease runs out"
                if held
                else "waiting for a retry, or to be looked for on the server first"
            )
            app.out(f"nothing could be sent now: {left} operation(s) still queued ({why})")
        else:
            app.out("nothing to sync")
    if report.stopped == "needs_login":
        raise CliError(
            "the server refused the stored login: run `pymesync login`, then `pymesync sync`",
            EXIT_LOGIN,
        )
    if report.stopped == "budget":
        raise CliError(
            f"stopped after {budget:g} s (the --budget); the rest stays queued: sync again",
            EXIT_OFFLINE,
        )
    if report.stopped == "offline":
        last = report.results[-1].error if report.results else None
        reason = f": {last.message}" if last is not None else ""
        raise CliError(
            f"server unreachable{reason} (the queue is kept; sync again later)", EXIT_OFFLINE
        )
    problems = int(after.get("failed", 0)) + int(after.get("conflicts", 0))
    if problems:
        raise CliError(
            f"{problems} operation(s) failed and wait for you: see `pymesync failed list`",
            EXIT_FAILED,
        )
    return report


@main.command()
@click.option("--json", "as_json", is_flag=True, help="The report as JSON.")
@click.option(
    "--budget",
    type=click.FloatRange(min=0.1),
    default=120.0,
    show_default=True,
    help="Seconds the pass may take in all; then what is left stays queued.",
)
@pass_app
def sync(app: App, as_json: bool, budget: float) -> None:
    """Push the queue to the server now (one pass).

    Exit status: 0 when everything is on the server, 3 when the server cannot be reached
    (or the --budget ran out first), 4 when operations failed, 5 when a login is needed.
    """
    do_sync(app, as_json=as_json, budget=budget)


@main.command()
@click.option(
    "--interval",
    type=click.FloatRange(min=0.1),
    default=30.0,
    show_default=True,
    help="Seconds between passes.",
)
@click.option("--verbose", "-v", is_flag=True, help="Log every pass, not only changes.")
@pass_app
def daemon(app: App, interval: float, verbose: bool) -> None:
    """Keep syncing in the foreground (one daemon per store).

    Stops on SIGTERM or Ctrl-C after the operation in flight.
    """
    import logging

    try:
        from pymesync.daemon import DaemonAlreadyRunning, run_daemon
    except ImportError:
        raise CliError("the daemon is not available in this installation") from None
    ts = app.client(pooled=True)
    if not ts.token:
        app.warn("not logged in: nothing can be synced until `pymesync login`")
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    logger = logging.getLogger("pymesync.daemon")
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG if verbose else logging.INFO)
    logger.propagate = False
    try:
        run_daemon(ts, interval=interval, logger=logger)
    except DaemonAlreadyRunning as error:
        raise CliError(error.message) from None
    finally:
        logger.removeHandler(handler)


# --------------------------------------------------------------------------- failed


@main.group()
def failed() -> None:
    """Operations the server refused for good (or held as conflicts)."""


def resolve_op(ts: TimeSync, ident: str) -> str:
    """An operation id from a full id or a unique prefix of a failed one."""
    ops = [str(op["op_id"]) for op in ts.failed() if isinstance(op, dict)]
    return resolve_prefix(ident, ops, "failed operation")


def _op_error(op: dict[str, Any]) -> str:
    error = op.get("last_error")
    if isinstance(error, dict):
        return str(error.get("message") or error)
    return str(error or "")


@failed.command("list")
@click.option("--json", "as_json", is_flag=True, help="JSON instead of a table.")
@pass_app
def failed_list(app: App, as_json: bool) -> None:
    """List failed operations, oldest first."""
    ops = [op for op in app.client().failed() if isinstance(op, dict)]
    if as_json:
        emit_json(ops)
        return
    if not ops:
        app.out("no failed operations")
        return
    app.table(
        [
            tables.Column("OP"),
            tables.Column("STATE"),
            tables.Column("WHAT"),
            tables.Column("TARGET"),
            tables.Column("QUEUED"),
            tables.Column("ATTEMPTS", align="right"),
            tables.Column("ERROR", limit=60),
        ],
        [
            [
                short(op.get("op_id")),
                str(op.get("state")),
                f"{op.get('kind')} {op.get('entity')}",
                short(op.get("target")) if op.get("entity") == "time" else str(op.get("target")),
                str(op.get("created_at") or "")[:16].replace("T", " "),
                str(op.get("attempts", "")),
                _op_error(op),
            ]
            for op in ops
        ],
        colours=[[None, "red"] + [None] * 5 for _ in ops],
    )
    app.note(
        "`pymesync failed retry OP` sends one again; `pymesync failed discard OP` drops it", None
    )


@failed.command("retry")
@click.argument("op_id")
@pass_app
def failed_retry(app: App, op_id: str) -> None:
    """Send a failed operation again at the next sync.

    OP_ID is the id or a unique prefix.
    """
    ts = app.client()
    op = ts.retry(resolve_op(ts, op_id))
    app.out(f"{op['op_id']} ({op['kind']} {op['entity']}) will be sent at the next `pymesync sync`")


@failed.command("discard")
@click.argument("op_id")
@pass_app
def failed_discard(app: App, op_id: str) -> None:
    """Drop a failed operation for good.

    OP_ID is the id or a unique prefix.
    """
    ts = app.client()
    op = ts.discard(resolve_op(ts, op_id))
    extra = " and the later changes to that object" if op.get("kind") == "create" else ""
    app.out(f"discarded {op['op_id']} ({op['kind']} {op['entity']}){extra}")


# --------------------------------------------------------------------------- config


@main.group("config")
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
    click.echo(f"{key} = {clean} (saved in {path})")
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
    click.echo(value)


@config_group.command("list")
@click.option("--json", "as_json", is_flag=True, help="JSON instead of a table.")
@pass_app
def config_list(app: App, as_json: bool) -> None:
    """Every key with its effective value and where it comes from."""
    settings = app.settings
    if as_json:
        emit_json(
            {
                "path": str(settings.path),
                "values": {
                    k: {"value": s.value, "source": s.source} for k, s in settings.values.items()
                },
            }
        )
        return
    app.table(
        [tables.Column("KEY"), tables.Column("VALUE"), tables.Column("FROM")],
        [
            [
                key,
                "" if s.value is None else s.value,
                _source(key, s.source),
            ]
            for key, s in settings.values.items()
        ],
    )
    app.note(f"config file: {settings.path}")


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


# --------------------------------------------------------------------------- demo


@main.command()
@click.pass_context
def demo(ctx: click.Context) -> None:
    """A tour in seconds: log offline, then sync.

    Uses a throwaway store and configuration; never yours.
    """
    import tempfile
    import time

    from pymesync.testing import run_emulator

    started = time.monotonic()
    parent = ctx.obj if isinstance(ctx.obj, App) else App()
    with (
        tempfile.TemporaryDirectory(prefix="pymesync-demo-") as folder,
        run_emulator(seed_data=True) as emu,
    ):
        store = str(Path(folder) / "pymesync.sqlite3")
        settings = cfg.resolve(
            Path(folder) / "config.toml",
            {"base_url": emu.base_url, "username": "alice", "db": store},
            environ={},
        )
        app = App(
            settings_given=settings,
            out_terminal=parent.out_terminal,
            out_colour=parent.out_colour,
            err_colour=parent.err_colour,
            notes_to_stdout=True,
        )
        try:
            _demo_script(app, emu)
        finally:
            app.close()
    app.out(
        f"\ndemo finished in {time.monotonic() - started:.1f} s; the emulator and the"
        " throwaway store are gone."
    )


def _demo_script(app: App, emu: Any) -> None:
    def step(command: str) -> None:
        app.out("")
        app.out(f"$ {command}", "bold")

    def say(text: str) -> None:
        app.out("")
        app.out(f"# {text}", "cyan")

    app.out(f"A TimeSync emulator runs at {emu.base_url} (seed data: alice, bob, gwm, ...);")
    app.out(f"the store is a throwaway file, {app.db()}.")
    step("pymesync login        # as alice")
    do_login(app, "alice", "alice")
    step("pymesync projects")
    show_projects(app)
    say("The server goes down: from now on every request gets a 503 answer.")
    emu.fail_next(10**6, status=503)
    today = durations.local_today()
    entries = [
        ("1h30m", "gwm", ["dev"], "design review", "today"),
        ("45m", "ts", ["docs"], "API notes", "today"),
        ("1.5h", "gwm", ["dev", "plan"], "sprint planning", "yesterday"),
        ("5400", "ts", ["plan"], "roadmap", "yesterday"),
    ]
    local: list[str] = []
    for duration, project, acts, notes, day in entries:
        flags = " ".join(f"-a {a}" for a in acts)
        step(f'pymesync log {duration} -p {project} {flags} -n "{notes}" --date {day}')
        local.append(do_log(app, duration, project=project, activities=acts, notes=notes, day=day))
    step("pymesync status")
    show_status(app)
    step(f"pymesync times --from {today - dt.timedelta(days=1)}")
    show_times(app, start=(today - dt.timedelta(days=1)).isoformat())
    say("The server comes back.")
    emu.clear_faults()
    if app.err_colour:
        emu.add_latency(0.3, method="POST")  # so that the progress bar can be seen
    step("pymesync sync")
    do_sync(app, bar_threshold=0)
    emu.clear_faults()
    step(f"pymesync times --from {today - dt.timedelta(days=1)}")
    show_times(app, start=(today - dt.timedelta(days=1)).isoformat())
    say("The local uuids handed out offline now point at the server's:")
    ts = app.logged_in()
    for uuid in local:
        server = ts.sync_status("time", uuid).get("server_id")
        app.out(f"  {uuid} -> {server}")
    step("pymesync status")
    show_status(app)


# --------------------------------------------------------------------------- tools


@main.command()
@click.option("--port", type=int, default=0, show_default=True, help="Port (0: a free one).")
@click.option("--seed-data", is_flag=True, help="Add sample users, projects and activities.")
@click.option("--db", type=click.Path(dir_okay=False), help="Keep the data in this SQLite file.")
@click.option("--prefix", default="/v0", show_default=True, help="The API's version prefix.")
def emulator(port: int, seed_data: bool, db: str | None, prefix: str) -> None:
    """Run the built-in TimeSync emulator until interrupted.

    Prints its base URL.
    """
    from pymesync.testing import serve

    serve(port=port, seed_data=seed_data, db=db, prefix=prefix)


def store_option(what: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """The ``--db FILE`` option of the commands that work on the store itself."""
    return click.option(
        "--db",
        type=click.Path(dir_okay=False),
        envvar="PYMESYNC_DB",
        help=f"The store to {what} (default: $PYMESYNC_DB, the db setting, or the user data dir).",
    )


@main.command()
@store_option("migrate")
@pass_app
def migrate(app: App, db: str | None) -> None:
    """Create the local store or bring its schema up to date."""
    from pymesync.store import migrate as run_migrations

    click.echo(run_migrations(db or app.db()))


@main.command()
@store_option("check")
@pass_app
def doctor(app: App, db: str | None) -> None:
    """Check the whole local store for damage (reads every page of the file)."""
    from pymesync.store import Store, resolve_path

    path = resolve_path(db or app.db())
    if not path.exists():
        click.echo(f"There is no local store at {path} yet: nothing to check.")
        return
    with Store.open(path, quick_check=False, pooled=False) as store:
        store.check()  # (integrity_check: quick_check's checks and more, one read)
    click.echo(f"The local store {path} is sound (PRAGMA integrity_check: ok).")
