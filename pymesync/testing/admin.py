"""The admin HTTP endpoint (outside the API prefix) that steers an emulator remotely.

=========  =================================  ==========================================
Method     Path                               Effect
=========  =================================  ==========================================
GET        /_emulator, /_emulator/health      ``{"ok", "base_url", "admin_url", "pid"}``
GET        /_emulator/faults                  ``{"faults": [...]}``
POST       /_emulator/faults                  ``{"kind": ..., params}`` -> ``{"fault"}``
DELETE     /_emulator/faults                  clear every fault
GET        /_emulator/stats                   counters
DELETE     /_emulator/stats                   reset counters (also POST .../stats/reset)
POST       /_emulator/restart                 invalidate every token
POST       /_emulator/reset                   initial data, no tokens/faults/counters
GET/POST   /_emulator/clock                   ``{"now": iso|null}`` or ``{"advance": s}``
POST       /_emulator/token                   ``{"username"}`` -> ``{"token"}``
=========  =================================  ==========================================
"""

from __future__ import annotations

import json
import os
from datetime import datetime
from typing import TYPE_CHECKING, Any

from .responses import HttpResponse, json_response

if TYPE_CHECKING:
    from .server import Emulator

ADMIN_ROOT = "/_emulator"
"""Path of the admin endpoint (never under the API prefix)."""


def _ok(obj: Any = None) -> HttpResponse:
    return json_response(200, {"ok": True} if obj is None else obj)


def _route(emu: Emulator, method: str, path: str, body: dict[str, Any]) -> HttpResponse:
    if path in ("", "/", "/health") and method == "GET":
        return _ok(
            {"ok": True, "base_url": emu.base_url, "admin_url": emu.admin_url, "pid": os.getpid()}
        )
    if path == "/faults":
        if method == "GET":
            return _ok({"faults": emu.faults()})
        if method == "POST":
            params = dict(body)
            kind = params.pop("kind", None)
            if not isinstance(kind, str):
                raise ValueError("body must have a string 'kind'")
            return _ok({"fault": emu.add_fault(kind, **params)})
        if method == "DELETE":
            emu.clear_faults()
            return _ok()
    if path == "/stats":
        if method == "GET":
            return _ok(emu.stats())
        if method == "DELETE":
            emu.reset_stats()
            return _ok()
    if path == "/stats/reset" and method == "POST":
        emu.reset_stats()
        return _ok()
    if path == "/restart" and method == "POST":
        emu.restart()
        return _ok()
    if path == "/reset" and method == "POST":
        emu.reset()
        return _ok()
    if path == "/clock":
        if method == "POST":
            if "advance" in body:
                emu.advance_clock(float(body["advance"]))
            elif "now" in body:
                now = body["now"]
                emu.set_clock(None if now is None else datetime.fromisoformat(now))
            else:
                raise ValueError("body must have 'now' or 'advance'")
        if method in ("GET", "POST"):
            return _ok({"now": emu.now().isoformat()})
    if path == "/token" and method == "POST":
        username = body.get("username")
        if not isinstance(username, str):
            raise ValueError("body must have a string 'username'")
        return _ok({"token": emu.issue_token(username)})
    return json_response(404, {"ok": False, "error": f"no admin endpoint {method} {path}"})


def handle_admin(emu: Emulator, method: str, path: str, raw: bytes) -> HttpResponse:
    """Answer one admin request; bad input gives 400 ``{"ok": false, "error"}``."""
    try:
        body = json.loads(raw) if raw.strip() else {}
        if not isinstance(body, dict):
            raise ValueError("body must be a JSON object")
        return _route(emu, method, path.rstrip("/") if path != "/" else path, body)
    except (ValueError, TypeError, KeyError) as exc:
        return json_response(400, {"ok": False, "error": str(exc)})
