"""The ``pymesync`` command line: wiring and output only."""

from __future__ import annotations

import json
from typing import Any

import click


@click.group()
@click.version_option(package_name="pymesync")
def main() -> None:
    """pymesync: log time to TimeSync, online or offline."""


@main.command()
def demo() -> None:
    """Run a short scripted example against the built-in test mode (no network, no disk)."""
    from pymesync import TimeSync

    ts = TimeSync("http://timesync.example.com/v0", test=True)

    def show(label: str, value: Any) -> None:
        click.echo(f"{label}:\n  {json.dumps(value, default=str, sort_keys=True)}")

    show("authenticate", ts.authenticate("alice", "secret", "password"))
    entry = {"duration": "1h30m", "project": "gwm", "user": "alice", "date_worked": "2026-11-30"}
    show("create_time (duration '1h30m' becomes seconds)", ts.create_time(entry))
    show("create_time with a bad duration", ts.create_time({**entry, "duration": "90 minutes"}))
    show("get_times", [t["uuid"] for t in ts.get_times({"user": "alice"})])
    show("token_expiration_time", ts.token_expiration_time())
    click.echo("demo finished: every call above was validated and answered in test mode")
