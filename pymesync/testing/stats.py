"""Request counters: per ``METHOD route-template`` key, a total, and a short log."""

from __future__ import annotations

import threading
from collections import Counter, deque
from typing import Any

LOG_LENGTH = 1000
"""How many recent requests :meth:`RequestStats.snapshot` lists under ``log``."""


class RequestStats:
    """Thread-safe request counters for the API (admin requests are not counted)."""

    def __init__(self) -> None:
        """Start with every counter at zero."""
        self._lock = threading.Lock()
        self._routes: Counter[str] = Counter()
        self._faults: Counter[str] = Counter()
        self._log: deque[dict[str, Any]] = deque(maxlen=LOG_LENGTH)
        self._total = 0
        self._now = 0
        self._most = 0

    def count(self, key: str, path: str) -> dict[str, Any]:
        """Count one request; return its log entry (the caller fills in status/fault)."""
        entry: dict[str, Any] = {"route": key, "path": path, "status": None, "fault": None}
        with self._lock:
            self._routes[key] += 1
            self._total += 1
            self._log.append(entry)
        return entry

    def started(self) -> None:
        """An API request began being handled (see ``most_at_once``)."""
        with self._lock:
            self._now += 1
            self._most = max(self._most, self._now)

    def ended(self) -> None:
        """An API request finished being handled."""
        with self._lock:
            self._now -= 1

    def fault_fired(self, kind: str) -> None:
        """Count one fired fault of ``kind``."""
        with self._lock:
            self._faults[kind] += 1

    def reset(self) -> None:
        """Set every counter back to zero and empty the log."""
        with self._lock:
            self._routes.clear()
            self._faults.clear()
            self._log.clear()
            self._total = 0
            self._most = self._now

    def snapshot(self) -> dict[str, Any]:
        """``{"total", "routes": {key: n}, "faults_fired": {kind: n}, "log": [...],
        "most_at_once": n}`` (the most API requests handled at the same time)."""
        with self._lock:
            return {
                "total": self._total,
                "most_at_once": self._most,
                "routes": dict(self._routes),
                "faults_fired": dict(self._faults),
                "log": [dict(e) for e in self._log],
            }

    def get(self, key: str | None = None) -> int:
        """Requests counted for one ``METHOD template`` key, or the total for None."""
        with self._lock:
            return self._total if key is None else self._routes.get(key, 0)
