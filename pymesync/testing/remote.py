"""A tiny client for the admin endpoint, with the same methods as the in-process handle."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from .admin import ADMIN_ROOT
from .clock import as_utc
from .control import EmulatorControls


class RemoteControlError(RuntimeError):
    """The admin endpoint refused a request (bad parameters, unknown endpoint)."""


class RemoteControl(EmulatorControls):
    """Steer an emulator running elsewhere (another process) over its admin endpoint.

    ``base_url`` may be the API base URL (``http://127.0.0.1:PORT/v0``), the admin URL or
    just ``http://host:port``: only the scheme and host part are used.
    """

    def __init__(self, base_url: str, timeout: float = 10.0) -> None:
        """Target the emulator at ``base_url``."""
        self._set_url(base_url)
        self.timeout = timeout

    def _set_url(self, base_url: str) -> None:
        parts = urlsplit(base_url)
        self.root_url = f"{parts.scheme}://{parts.netloc}"
        self.admin_url = self.root_url + ADMIN_ROOT

    def call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        """Send one admin request; return the decoded JSON answer."""
        data = None if body is None else json.dumps(body).encode("utf-8")
        request = urllib.request.Request(
            self.admin_url + path,
            data=data,
            method=method,
            headers={"Content-Type": "application/json"} if data is not None else {},
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                return json.loads(response.read() or b"null")
        except urllib.error.HTTPError as exc:
            try:
                detail = json.loads(exc.read()).get("error", "")
            except ValueError:
                detail = ""
            raise RemoteControlError(f"{method} {path}: HTTP {exc.code} {detail}") from None

    def health(self) -> dict[str, Any]:
        """``{"ok", "base_url", "admin_url", "pid"}`` of the emulator."""
        result: dict[str, Any] = self.call("GET", "/health")
        return result

    def add_fault(self, kind: str, **params: Any) -> dict[str, Any]:
        """POST /_emulator/faults."""
        result: dict[str, Any] = self.call("POST", "/faults", {"kind": kind, **params})["fault"]
        return result

    def faults(self) -> list[dict[str, Any]]:
        """GET /_emulator/faults."""
        result: list[dict[str, Any]] = self.call("GET", "/faults")["faults"]
        return result

    def clear_faults(self) -> None:
        """DELETE /_emulator/faults."""
        self.call("DELETE", "/faults")

    def stats(self) -> dict[str, Any]:
        """GET /_emulator/stats."""
        result: dict[str, Any] = self.call("GET", "/stats")
        return result

    def reset_stats(self) -> None:
        """DELETE /_emulator/stats."""
        self.call("DELETE", "/stats")

    def restart(self) -> None:
        """POST /_emulator/restart."""
        self.call("POST", "/restart")

    def reset(self) -> None:
        """POST /_emulator/reset."""
        self.call("POST", "/reset")

    def set_clock(self, now: datetime | None) -> None:
        """POST /_emulator/clock ``{"now": iso|null}``."""
        self.call("POST", "/clock", {"now": None if now is None else as_utc(now).isoformat()})

    def advance_clock(self, seconds: float) -> None:
        """POST /_emulator/clock ``{"advance": seconds}``."""
        self.call("POST", "/clock", {"advance": seconds})

    def now(self) -> datetime:
        """GET /_emulator/clock."""
        return datetime.fromisoformat(self.call("GET", "/clock")["now"])

    def issue_token(self, username: str) -> str:
        """POST /_emulator/token."""
        token: str = self.call("POST", "/token", {"username": username})["token"]
        return token
