"""Report totals of the offline backend: times as report rows, from the server (one row
a time, pending changes applied) or summed in SQL from the cache."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from pymesync import cached, provisional
from pymesync.offline.queue import QueueView
from pymesync.offline.reads import Reads
from pymesync.validation import TimesQuery

__all__ = ["Totals", "report_row"]


class Totals(Reads, QueueView):
    """Report rows (``TimeSync.time_totals``)."""

    def time_totals(self, query: TimesQuery, token: str, *, cached_only: bool = False) -> Any:
        """Times as report rows (see ``TimeSync.time_totals``): from the server (cache
        refreshed, pending changes applied; one row a time), or summed in SQL from the
        cache (``cached_only``, or when the server cannot answer)."""
        account = self.account(token)
        today = provisional.today_utc(self.clock())

        def from_cache() -> list[dict[str, Any]]:
            found = self.store.time_totals(
                account, users=query.values("user"), projects=query.values("project"),
                activities=query.values("activity"), start=next(iter(query.values("start")), None),
                end=next(iter(query.values("end")), None),
            )  # fmt: skip
            return [total.as_dict() for total in found]

        def keep(answer: Any) -> list[dict[str, Any]]:
            mine = self._keep(
                account, "time", answer, lambda: cached.times(self.store, account, query, today)
            )
            times = [t for t in mine if isinstance(t, dict)] if isinstance(mine, list) else []
            ids = [str(t.get("uuid")) for t in times]
            busy = any(self.store.counts(account).values())
            states = self.sync_states("time", ids, token) if busy else dict.fromkeys(ids, "synced")
            return [report_row(t, states[str(t.get("uuid"))]) for t in times]

        if cached_only:
            return self._from_cache(
                account, "time", from_cache, None, self._fetched_at(account, "time")
            )
        # The cache's sums are made in a thread while the server is asked (SQLite lets
        # the interpreter run meanwhile): when the server cannot answer, they are ready.
        early: list[Any] = []
        worker = threading.Thread(target=lambda: early.append(_outcome(from_cache)), daemon=True)
        worker.start()

        def cached_sums() -> list[dict[str, Any]]:
            worker.join()
            ok, value = early[0]
            if not ok:
                raise value
            return value  # type: ignore[no-any-return]

        try:
            return self._read(
                account, "time", lambda tok: self.direct.times(query, tok), cached_sums, keep
            )
        finally:
            worker.join()  # (never left reading the store)


def report_row(time: dict[str, Any], state: str) -> dict[str, Any]:
    """One time as a row of ``TimeSync.time_totals``."""
    project = time.get("project")
    return {
        "date_worked": time.get("date_worked"),
        "user": time.get("user"),
        "project": [project] if isinstance(project, str) else list(project or []),
        "activities": list(time.get("activities") or []),
        "duration": int(time.get("duration") or 0),
        "entries": 1,
        "sync_state": state,
        "uuid": time.get("uuid"),
    }


def _outcome(call: Callable[[], Any]) -> tuple[bool, Any]:
    """``(True, call())``, or ``(False, the exception it raised)``."""
    try:
        return True, call()
    except BaseException as error:  # (handed to the thread that waits for it)
        return False, error
