"""The queue: ``status``, ``sync``, ``daemon`` and the ``failed`` group."""

from __future__ import annotations

import datetime as dt
import sys
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

import click

from pymesync import tables
from pymesync.cli import complete
from pymesync.cli.app import EXIT_FAILED, EXIT_LOGIN, EXIT_OFFLINE, App, CliError, pass_app
from pymesync.cli.confirm import confirm, describe_time, yes_option
from pymesync.cli.ids import resolve_op, short
from pymesync.cli.outcome import op_error
from pymesync.cli.output import (
    ago,
    count_queued,
    emit_json,
    in_,
    json_option,
    local_time,
    parse_when,
)
from pymesync.errors import (
    PymesyncError,
)

if TYPE_CHECKING:
    from pymesync.client import TimeSync
    from pymesync.store import QueueSummary
    from pymesync.sync import OpResult, SyncReport


#: Show a progress bar (on a terminal) when a sync has more operations than this.
BAR_THRESHOLD = 3


def _read_status(app: App) -> tuple[dict[str, Any], bool]:
    """The account's queue status plus the login state (never the token), and whether
    the store exists yet.

    Read through a :class:`~pymesync.store.StorePeek` (read-only, no SQLAlchemy): the
    same account, token and queue ``TimeSync.resume(...).status()`` would find, without
    creating, migrating or changing the store.
    """
    from pymesync.accounts import resumed
    from pymesync.status import account_status
    from pymesync.store.location import resolve_target
    from pymesync.store.peek import StorePeek

    url = app.settings.require("base_url")
    user = app.settings.require("username")
    target = resolve_target(app.db())
    if isinstance(target, str):  # a PostgreSQL database: SQLAlchemy and a connection
        return _read_shared_status(target, url, user)
    with StorePeek.open(target) as peek:
        account, token = resumed(url, user, peek.load_token)  # what TimeSync.resume finds
        data = account_status(peek, account, dt.datetime.now(dt.timezone.utc))
        data.update(_login_state(token))
        data["store"] = str(peek.path)
        return data, peek.exists


def _read_shared_status(db_url: str, url: str, user: str) -> tuple[dict[str, Any], bool]:
    """:func:`_read_status` for a store on PostgreSQL (``db_url``): read through a
    :class:`~pymesync.store.Store` when the database holds one (nothing is created or
    upgraded: an empty database is "no store yet", as a missing file is); ``store`` is
    the URL without its password."""
    from pymesync.accounts import resumed
    from pymesync.status import account_status
    from pymesync.store import Store
    from pymesync.store.postgres import display_url

    now = dt.datetime.now(dt.timezone.utc)
    found = Store.open_existing(db_url)
    if found is None:
        account, token = resumed(url, user, lambda account: None)
        data = account_status(_NoStore(), account, now)
        exists = False
    else:
        with found as store:
            account, token = resumed(url, user, store.load_token)
            data = account_status(store, account, now)
        exists = True
    data.update(_login_state(token))
    data["store"] = display_url(db_url)
    return data, exists


class _NoStore:
    """What :func:`~pymesync.status.account_status` reads from a database without a
    store yet: nothing queued, no state, no timer."""

    def queue_summary(self, account: str, *, now: dt.datetime | None = None) -> QueueSummary:
        """Nothing queued."""
        from pymesync.store.records import STATES, QueueSummary

        return QueueSummary(dict.fromkeys(STATES, 0), None, None)

    def all_states(self, account: str) -> dict[str, Any]:
        """No state."""
        return {}

    def timer(self, account: str) -> None:
        """No timer."""
        return None


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
    waiting = count_queued(data)
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
    retry = parse_when(data.get("next_retry"))
    retry_line = "-"
    if retry is not None:
        retry_line = f"{retry.astimezone():%H:%M:%S}, " + in_(
            (retry - dt.datetime.now(dt.timezone.utc)).total_seconds()
        )
    lines: list[tuple[str, str, str | None]] = [
        *_timer_lines(data),
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


def _timer_lines(data: dict[str, Any]) -> list[tuple[str, str, str | None]]:
    """The running timer, first (nothing when none runs)."""
    from pymesync.cli.timer import timer_line

    running = data.get("timer")
    return [("timer", timer_line(running), "cyan")] if isinstance(running, dict) else []


@click.command()
@json_option("JSON instead of text.")
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
    todo = count_queued(before)
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
        left = count_queued(after)
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


@click.command()
@json_option("The report as JSON.")
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


@click.command()
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
    """Keep syncing in the foreground (one daemon per SQLite store; on PostgreSQL
    several, on several hosts, share the queue).

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


@click.group()
def failed() -> None:
    """Operations the server refused for good (or held as conflicts)."""


@failed.command("list")
@json_option()
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
                op_error(op),
            ]
            for op in ops
        ],
        colours=[[None, "red"] + [None] * 5 for _ in ops],
    )
    app.note(
        "`pymesync failed retry OP` sends one again; `pymesync failed discard OP` drops it", None
    )


def discarded_what(ts: TimeSync, op_id: str) -> str:
    """``the failed create of 1h30m gwm ... (op 1a2b3c4d)``: what discarding drops."""
    for op in ts.failed():
        if isinstance(op, dict) and op.get("op_id") == op_id:
            what = f"the {op.get('state')} {op.get('kind')} of "
            if op.get("entity") == "time":
                what += describe_time(ts, str(op.get("target")))
            else:
                what += f"{op.get('entity')} {op.get('target')}"
            return f"{what} (operation {short(op_id)})"
    return f"the operation {short(op_id)}"


def on_failed(
    app: App, op_id: str, act: Callable[[TimeSync, str], dict[str, Any]]
) -> dict[str, Any]:
    """``act`` on the failed operation that ``op_id`` (an id or a unique prefix) names;
    what ``act`` returns (the operation)."""
    ts = app.client()
    return act(ts, resolve_op(ts, op_id))


@failed.command("retry")
@click.argument("op_id", shell_complete=complete.failed_op)
@pass_app
def failed_retry(app: App, op_id: str) -> None:
    """Send a failed operation again at the next sync.

    OP_ID is the id or a unique prefix.
    """
    op = on_failed(app, op_id, lambda ts, ident: ts.retry(ident))
    app.out(f"{op['op_id']} ({op['kind']} {op['entity']}) will be sent at the next `pymesync sync`")


@failed.command("discard")
@click.argument("op_id", shell_complete=complete.failed_op)
@yes_option("discard")
@pass_app
def failed_discard(app: App, op_id: str, yes: bool) -> None:
    """Drop a failed operation for good.

    OP_ID is the id or a unique prefix. Asks first (on a terminal) unless --yes.
    """

    def discard(ts: TimeSync, ident: str) -> dict[str, Any]:
        confirm(f"Discard {discarded_what(ts, ident)}?", yes, "nothing discarded")
        return ts.discard(ident)

    op = on_failed(app, op_id, discard)
    extra = " and the later changes to that object" if op.get("kind") == "create" else ""
    app.out(f"discarded {op['op_id']} ({op['kind']} {op['entity']}){extra}")
