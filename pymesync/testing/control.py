"""The control surface shared by the in-process handle and :class:`RemoteControl`.

Subclasses implement the primitive operations; the named fault helpers are defined once
here, so both handles offer exactly the same method names and signatures.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from datetime import datetime
from typing import Any


class EmulatorControls(ABC):
    """Fault injection, counters, restarts and the clock of one emulator."""

    @abstractmethod
    def add_fault(self, kind: str, **params: Any) -> dict[str, Any]:
        """Activate a fault rule of ``kind`` (see :mod:`pymesync.testing.faults`); return it."""

    @abstractmethod
    def faults(self) -> list[dict[str, Any]]:
        """The active fault rules, oldest first."""

    @abstractmethod
    def clear_faults(self) -> None:
        """Remove every fault rule (latency included)."""

    @abstractmethod
    def stats(self) -> dict[str, Any]:
        """``{"total", "routes": {"POST /times": n, ...}, "faults_fired": {...}, "log": [...]}``."""

    @abstractmethod
    def reset_stats(self) -> None:
        """Set the request counters back to zero."""

    @abstractmethod
    def restart(self) -> None:
        """Simulate a server restart: every issued token becomes invalid; data is kept."""

    @abstractmethod
    def reset(self) -> None:
        """Back to the initial data (admin, plus seed if enabled); clear tokens, faults, stats."""

    @abstractmethod
    def set_clock(self, now: datetime | None) -> None:
        """Freeze the emulator's clock at ``now`` (naive = UTC); None returns to real time."""

    @abstractmethod
    def advance_clock(self, seconds: float) -> None:
        """Move the emulator's clock forward by ``seconds`` (negative moves it back)."""

    @abstractmethod
    def now(self) -> datetime:
        """The emulator's current time (aware, UTC)."""

    @abstractmethod
    def issue_token(self, username: str) -> str:
        """A valid token for ``username`` without a login request (not counted)."""

    def invalidate_tokens(self) -> None:
        """Same as :meth:`restart`."""
        self.restart()

    def request_count(self, route: str | None = None) -> int:
        """Requests counted for ``"METHOD /template"`` (e.g. ``"POST /times"``), or in total."""
        data = self.stats()
        if route is None:
            return int(data["total"])
        return int(data["routes"].get(route, 0))

    def add_latency(
        self,
        seconds: float,
        *,
        method: str | None = None,
        route: str | None = None,
        n: int | None = None,
    ) -> dict[str, Any]:
        """Delay every matching request by ``seconds`` (only the next ``n`` if given)."""
        return self._add("latency", seconds=seconds, method=method, route=route, n=n)

    def fail_next(
        self, n: int = 1, *, status: int = 500, method: str | None = None, route: str | None = None
    ) -> dict[str, Any]:
        """Answer the next ``n`` matching requests with 500 JSON ``Server error`` or an HTML
        502/503/504 page, without processing them."""
        return self._add("fail", n=n, status=status, method=method, route=route)

    def rate_limit_next(
        self,
        n: int = 1,
        *,
        retry_after: int = 1,
        method: str | None = None,
        route: str | None = None,
    ) -> dict[str, Any]:
        """Answer the next ``n`` matching requests with 429 and ``Retry-After: retry_after``."""
        return self._add("rate_limit", n=n, retry_after=retry_after, method=method, route=route)

    def lose_response_next(
        self, n: int = 1, *, method: str | None = None, route: str | None = None
    ) -> dict[str, Any]:
        """Process and commit the next ``n`` matching writes, then hang up without answering."""
        return self._add("lose_response", n=n, method=method, route=route)

    def drop_before_commit_next(
        self, n: int = 1, *, method: str | None = None, route: str | None = None
    ) -> dict[str, Any]:
        """Hang up on the next ``n`` matching writes without processing them."""
        return self._add("drop_before_commit", n=n, method=method, route=route)

    def garble_next(
        self,
        n: int = 1,
        *,
        mode: str = "truncate",
        method: str | None = None,
        route: str | None = None,
    ) -> dict[str, Any]:
        """Process the next ``n`` matching requests but mangle the body: ``truncate``,
        ``garbage`` or ``short`` (connection closed before Content-Length bytes), or send a
        wrong answer with a success status: ``null``, ``list`` (``[]``), ``html`` (a
        ``text/html`` page) or ``no_uuid`` (the answer without its ``uuid`` key)."""
        return self._add("garble", n=n, mode=mode, method=method, route=route)

    def slow_answer_next(
        self,
        n: int = 1,
        *,
        seconds: float = 1.0,
        method: str | None = None,
        route: str | None = None,
    ) -> dict[str, Any]:
        """Process and commit the next ``n`` matching writes, then wait ``seconds`` before
        answering (past a client's read timeout)."""
        return self._add("slow_answer", n=n, seconds=seconds, method=method, route=route)

    def trickle_next(
        self,
        n: int = 1,
        *,
        seconds: float = 0.5,
        method: str | None = None,
        route: str | None = None,
    ) -> dict[str, Any]:
        """Process the next ``n`` matching requests, then send each whole answer (status
        line, headers, body) one byte at a time, ``seconds`` apart."""
        return self._add("trickle", n=n, seconds=seconds, method=method, route=route)

    def hang_next(
        self,
        n: int = 1,
        *,
        seconds: float = 3600.0,
        method: str | None = None,
        route: str | None = None,
    ) -> dict[str, Any]:
        """Hold the next ``n`` matching requests unprocessed and unanswered for ``seconds``
        (or until the emulator stops), then hang up."""
        return self._add("hang", n=n, seconds=seconds, method=method, route=route)

    def _add(self, kind: str, **params: Any) -> dict[str, Any]:
        return self.add_fault(kind, **{k: v for k, v in params.items() if v is not None})
