"""``pymesync demo``: a tour against the emulator with a throwaway store."""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path
from typing import Any

import click

from pymesync import config as cfg
from pymesync import durations, when
from pymesync.cli.app import App
from pymesync.cli.entries import do_log
from pymesync.cli.params import Duration
from pymesync.cli.queue import do_sync, show_status
from pymesync.cli.reads import show_projects, show_times
from pymesync.cli.settings import do_login


@click.command()
@click.pass_context
def demo(ctx: click.Context) -> None:
    """A tour in seconds: log offline, then sync.

    Uses a throwaway store and configuration; never yours.
    """
    import tempfile

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
        amount, date = Duration.parse(duration), when.parse_day(day)
        local.append(do_log(app, amount, project=project, activities=acts, notes=notes, day=date))
    step("pymesync status")
    show_status(app)
    step(f"pymesync times --from {today - dt.timedelta(days=1)}")
    show_times(app, start=today - dt.timedelta(days=1))
    say("The server comes back.")
    emu.clear_faults()
    if app.err_colour:
        emu.add_latency(0.3, method="POST")  # so that the progress bar can be seen
    step("pymesync sync")
    do_sync(app, bar_threshold=0)
    emu.clear_faults()
    step(f"pymesync times --from {today - dt.timedelta(days=1)}")
    show_times(app, start=today - dt.timedelta(days=1))
    say("The local uuids handed out offline now point at the server's:")
    ts = app.logged_in()
    for uuid in local:
        server = ts.sync_status("time", uuid).get("server_id")
        app.out(f"  {uuid} -> {server}")
    step("pymesync status")
    show_status(app)
