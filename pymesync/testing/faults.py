"""Fault rules: latency, 5xx, 429, lost responses, drops before commit, garbled bodies,
slow answers, trickled answers, hung requests and writes committed only after the
client's next look.

Every rule may be limited to one HTTP method and/or one route template (``/times``,
``/times/{uuid}``...; ``route="POST /times"`` sets both).  Count-based rules fire on the
next ``n`` matching requests, in the order they were added (one rule per request);
latency rules apply to every matching request until cleared.
"""

from __future__ import annotations

import itertools
import math
import threading
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from .routing import TEMPLATES

KINDS = (
    "latency",
    "fail",
    "rate_limit",
    "lose_response",
    "drop_before_commit",
    "garble",
    "slow_answer",
    "trickle",
    "hang",
    "commit_after_look",
)
"""Every fault kind."""
PRE_KINDS = ("fail", "rate_limit", "drop_before_commit", "hang", "commit_after_look")
"""Kinds that fire instead of processing the request (nothing is committed then)."""
WRITE_ONLY_KINDS = ("lose_response", "drop_before_commit", "slow_answer", "commit_after_look")
"""Kinds that, without an explicit method, only match writes (POST/DELETE, not /login)."""
DEFAULT_SECONDS = {
    "latency": 0.0,
    "slow_answer": 1.0,
    "trickle": 0.5,
    "hang": 3600.0,
    "commit_after_look": 3600.0,
}
"""The kinds with a ``seconds`` parameter, and its default: ``latency`` delays the request,
``slow_answer`` waits between commit and answer, ``trickle`` between two bytes of the
answer, ``hang`` and ``commit_after_look`` before hanging up unanswered (or until the
emulator stops). ``commit_after_look`` holds a write unprocessed and carries it out just
after the emulator has worked out its answer to the next GET of the same route (the
client's look for it, which therefore does not see it; a later look does)."""
FAIL_STATUSES = (500, 502, 503, 504)
"""Statuses ``fail`` can send: 500 is NODE's JSON ``Server error``, the others HTML pages."""
GARBLE_MODES = ("truncate", "garbage", "short", "null", "list", "html", "no_uuid")
"""``truncate``: cut the body in half (Content-Length matches); ``garbage``: non-JSON bytes;
``short``: announce the full Content-Length, send half, close the connection.  The others
replace the answer with a well-formed but wrong one, status 200 (or the real success
status): ``null`` and ``list`` send JSON ``null`` and ``[]``, ``html`` an HTML page
(``text/html``), ``no_uuid`` the real JSON object without its ``uuid`` key (``{}`` if the
answer was not an object)."""

_ids = itertools.count(1)


@dataclass
class Fault:
    """One fault rule."""

    kind: str
    remaining: int | None
    method: str | None = None
    route: str | None = None
    seconds: float = 0.0
    status: int = 500
    retry_after: int = 1
    mode: str = "truncate"
    fired: int = 0
    id: int = 0

    def matches(self, method: str, template: str | None) -> bool:
        """Does this rule apply to a request?"""
        if self.method is not None:
            if self.method != method and not (self.method == "GET" and method == "HEAD"):
                return False
        elif self.kind in WRITE_ONLY_KINDS and (
            method not in ("POST", "DELETE") or (template == "/login" and self.route != "/login")
        ):
            return False
        return self.route is None or self.route == template

    def describe(self) -> dict[str, Any]:
        """The rule as a JSON-able dict."""
        return asdict(self)


def make_fault(kind: str, params: dict[str, Any]) -> Fault:
    """Build and validate a rule from ``kind`` and keyword parameters (as sent over HTTP)."""
    if kind not in KINDS:
        raise ValueError(f"unknown fault kind {kind!r}; expected one of {', '.join(KINDS)}")
    allowed = {"method", "route", "n"} | {
        "latency": {"seconds"},
        "fail": {"status"},
        "rate_limit": {"retry_after"},
        "lose_response": set(),
        "drop_before_commit": set(),
        "garble": {"mode"},
        "slow_answer": {"seconds"},
        "trickle": {"seconds"},
        "hang": {"seconds"},
        "commit_after_look": {"seconds"},
    }[kind]
    unknown = set(params) - allowed
    if unknown:
        raise ValueError(f"unknown parameter(s) for {kind}: {', '.join(sorted(unknown))}")
    method, route = params.get("method"), params.get("route")
    if route is not None:
        if not isinstance(route, str):
            raise ValueError("route must be a string")
        if " " in route:
            route_method, route = route.split(" ", 1)
            if method is not None and method.upper() != route_method.upper():
                raise ValueError("method and route disagree")
            method = route_method
        if route not in TEMPLATES:
            raise ValueError(f"unknown route {route!r}; expected one of {', '.join(TEMPLATES)}")
    if method is not None:
        if not isinstance(method, str):
            raise ValueError("method must be a string")
        method = method.upper()
    n = params.get("n")
    default = None if kind == "latency" else 1
    remaining = default if n is None else int(n)
    if remaining is not None and remaining < 1:
        raise ValueError("n must be at least 1")
    fault = Fault(kind=kind, remaining=remaining, method=method, route=route, id=next(_ids))
    if kind in DEFAULT_SECONDS:
        fault.seconds = _seconds(params.get("seconds", DEFAULT_SECONDS[kind]))
    if kind == "fail":
        fault.status = int(params.get("status", 500))
        if fault.status not in FAIL_STATUSES:
            raise ValueError(f"status must be one of {FAIL_STATUSES}")
    if kind == "rate_limit":
        fault.retry_after = int(params.get("retry_after", 1))
        if fault.retry_after < 0:
            raise ValueError("retry_after must not be negative")
    if kind == "garble":
        fault.mode = str(params.get("mode", "truncate"))
        if fault.mode not in GARBLE_MODES:
            raise ValueError(f"mode must be one of {', '.join(GARBLE_MODES)}")
    return fault


def _seconds(value: Any) -> float:
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"seconds must be a number, not {value!r}") from None
    if seconds < 0:
        raise ValueError("seconds must not be negative")
    if not math.isfinite(seconds):
        raise ValueError("seconds must be finite")
    return seconds


class FaultPlan:
    """The active fault rules; thread-safe."""

    def __init__(self) -> None:
        """Start with no rules."""
        self._lock = threading.Lock()
        self._faults: list[Fault] = []
        # writes held by commit_after_look: (route template, carry it out)
        self._after_look: list[tuple[str | None, Callable[[], object]]] = []

    def add(self, fault: Fault) -> Fault:
        """Activate a rule."""
        with self._lock:
            self._faults.append(fault)
        return fault

    def clear(self) -> None:
        """Remove every rule (writes held by ``commit_after_look`` are dropped)."""
        with self._lock:
            self._faults.clear()
            self._after_look.clear()

    def commit_after_look(self, template: str | None, commit: Callable[[], object]) -> None:
        """Hold ``commit`` until the next GET of ``template`` has been worked out."""
        with self._lock:
            self._after_look.append((template, commit))

    def looked(self, template: str | None) -> None:
        """A GET of ``template`` was just worked out: carry out the writes held for it."""
        with self._lock:
            due = [commit for route, commit in self._after_look if route == template]
            self._after_look = [held for held in self._after_look if held[0] != template]
        for commit in due:
            commit()

    def describe(self) -> list[dict[str, Any]]:
        """The active rules, oldest first."""
        with self._lock:
            return [f.describe() for f in self._faults]

    def latency(self, method: str, template: str | None) -> float:
        """Total delay (seconds) of the latency rules matching a request; consumes counts."""
        delay = 0.0
        with self._lock:
            for fault in list(self._faults):
                if fault.kind == "latency" and fault.matches(method, template):
                    delay += fault.seconds
                    self._consume(fault)
        return delay

    def take(self, method: str, template: str | None) -> Fault | None:
        """The first count-based rule matching a request, consumed; or None."""
        with self._lock:
            for fault in self._faults:
                if fault.kind != "latency" and fault.matches(method, template):
                    self._consume(fault)
                    return fault
        return None

    def _consume(self, fault: Fault) -> None:
        fault.fired += 1
        if fault.remaining is not None:
            fault.remaining -= 1
            if fault.remaining <= 0:
                self._faults.remove(fault)
