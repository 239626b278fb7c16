"""``pymesync undo``: take back the last local change that has not been synced yet,
from the local store alone (:meth:`pymesync.TimeSync.undo`)."""

from __future__ import annotations

from typing import Any

import click

from pymesync.cli.app import App, pass_app
from pymesync.cli.confirm import summary
from pymesync.cli.outcome import saved
from pymesync.cli.output import emit_json, json_option

_VERBS = {"create": "log", "update": "edit", "delete": "removal", "stop": "stop of the timer"}


def _said(payload: Any, key: str) -> str:
    """An entry as ``1h30m gwm dev 'notes' on 2026-12-07 (1a2b3c4d)``."""
    return f"{summary(payload) if isinstance(payload, dict) else 'an entry'} ({key[:8]})"


def report(app: App, undone: dict[str, Any]) -> None:
    """Say what was undone, one line per entry."""
    kind, entity = str(undone.get("kind")), str(undone.get("entity"))
    verb = _VERBS.get(kind, kind)
    if entity != "time":
        app.out(f"undid the {verb} of {entity} {undone.get('target')}: nothing will be sent")
        return
    before, after = undone.get("replaced") or {}, undone.get("restored") or {}
    for key in undone.get("ids") or []:
        if kind in ("create", "stop"):
            app.out(
                f"undid the {verb}: removed {_said(before.get(key), key)}, nothing will be sent"
            )
        elif kind == "delete":
            app.out(f"undid the removal: {_said(after.get(key), key)} is back")
        else:
            app.out(f"undid the edit: {_said(after.get(key), key)} is as it was before")


@click.command("undo")
@json_option("What was undone (kind, ids, the entries before and after) as JSON.")
@pass_app
def undo(app: App, as_json: bool) -> None:
    """Take back the last local change that has not been synced yet.

    A log is removed, an edit reverted, a removal brought back, a timer's stop removes
    all the entries it made. Refused (nothing changed) when that change has already
    been synced or is being sent; undo again to take back the change before it.
    """
    ts = app.client()
    undone = saved(ts.undo, "nothing was undone")
    if as_json:
        emit_json(undone)
        return
    report(app, undone)
