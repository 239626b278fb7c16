"""Totals of cached times for reports, summed in SQL.

``pymesync report`` over a long period would otherwise decode every cached payload in
Python (50,000 times: more than half a second). Here the database sums the durations, grouped
by the day worked, the user, the project and the activities, and hands back a few
hundred rows.

The cache already holds the user's own version of every time with queued changes (an
entry edited offline has its new values, one deleted offline is flagged deleted), so the
sums are what the user sees in ``pymesync times``. The times whose changes the server has
not accepted yet (pending, in flight, failed, in conflict) are handed back one by one,
each with its sync state, so that a report can mark them; so are provisional times no
operation names any more.

Functions here work inside a transaction the caller (:class:`~pymesync.store.Store`)
opened on a DB-API connection; plain SQL with ``?`` parameters, no SQLAlchemy.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from .codec import load_json
from .dbapi import on_postgres

__all__ = ["TimeTotal", "time_totals"]

#: Scan the whole cache table when a period holds more than 1/_SCAN_SHARE of its rows.
_SCAN_SHARE = 6
#: Sync states, most pressing first (as ``sync_status`` ranks them).
_PRESSING = ("conflict", "failed", "inflight", "pending")

# The cache keys named by queued operations on times, with each operation's state: the
# target itself, and the server id a local target was created as.
_MARKS = (
    "WITH queued(name, state) AS ("
    " SELECT target, state FROM operations WHERE account = ? AND entity = 'time'"
    "), marks(key, state) AS ("
    " SELECT name, state FROM queued"
    " UNION ALL SELECT m.server_id, q.state FROM queued AS q JOIN id_map AS m"
    " ON m.account = ? AND m.entity = 'time' AND m.local_id = q.name"
    ") "
)
_FIELDS = (
    "c.date_worked, c.\"user\", json_extract(c.payload, '$.project'),"
    " json_extract(c.payload, '$.activities')"
)
_SUM = "sum(json_extract(c.payload, '$.duration'))"
# The same on PostgreSQL (the payload is JSON text there too): a JSON list as its text,
# a duration summed when it is a number.
_PG_FIELDS = (
    "c.date_worked, c.\"user\", c.payload::json ->> 'project', c.payload::json ->> 'activities'"
)
_PG_SUM = (
    "sum(CASE WHEN json_typeof(c.payload::json -> 'duration') = 'number'"
    " THEN (c.payload::json ->> 'duration')::numeric END)::bigint"
)


@dataclass(frozen=True)
class TimeTotal:
    """Cached times of one day, user, project and set of activities, and their sum.

    ``project`` is the time's list of project slugs, ``activities`` its activity slugs
    (in the entry's order). ``state`` is ``synced`` for a group of times the server has
    as they are; a time with queued or refused changes is a group of its own (``key``
    its cache key, ``entries`` 1) with its most pressing state (``conflict``,
    ``failed``, ``inflight``, ``pending``; ``unknown`` for a provisional time no
    operation names).
    """

    date_worked: str
    user: str | None
    project: tuple[str, ...]
    activities: tuple[str, ...]
    seconds: int
    entries: int
    state: str = "synced"
    key: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready form (lists for the slugs)."""
        return {
            "date_worked": self.date_worked,
            "user": self.user,
            "project": list(self.project),
            "activities": list(self.activities),
            "duration": self.seconds,
            "entries": self.entries,
            "sync_state": self.state,
            "uuid": self.key,
        }


def _slugs(text: Any) -> tuple[str, ...]:
    """A JSON list (or one string) of slugs as a tuple of strings."""
    if text is None:
        return ()
    try:
        value = load_json(text) if isinstance(text, str) and text[:1] in '["' else text
    except ValueError:
        value = text
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list):
        return tuple(str(item) for item in value if isinstance(item, str))
    return ()


def _seconds(value: Any) -> int:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return int(value)
    return 0


def _filters(
    account: str,
    users: Sequence[str],
    projects: Sequence[str],
    activities: Sequence[str],
    start: str | None,
    end: str | None,
    scan: bool = False,
) -> tuple[str, list[Any]]:
    """The WHERE clause (on ``cache AS c``) and its parameters; ``scan``: keep the
    cache's indexes out (unary ``+``), so that SQLite reads the table in order."""
    plus = "+" if scan else ""
    where = [f"{plus}c.account = ?", "c.entity = 'time'", "c.deleted = 0"]
    params: list[Any] = [account]
    if users:
        where.append(f'{plus}c."user" IN ({", ".join("?" * len(users))})')
        params += users
    if start is not None:
        where.append(f"{plus}c.date_worked >= ?")
        params.append(start)
    if end is not None:
        where.append(f"{plus}c.date_worked <= ?")
        params.append(end)
    for kind, wanted in (("project", projects), ("activity", activities)):
        if wanted:
            where.append(
                "EXISTS (SELECT 1 FROM cache_tags AS t WHERE t.account = c.account"
                f" AND t.entity = 'time' AND t.tag_kind = '{kind}'"
                f" AND t.value IN ({', '.join('?' * len(wanted))}) AND t.key = c.key)"
            )
            params += wanted
    return " AND ".join(where), params


def scan_is_cheaper(
    db: sqlite3.Connection, account: str, start: str | None, end: str | None
) -> bool:
    """Whether reading the whole cache table in order costs less than looking the
    period's times up one by one through an index: true when they are more than about
    a sixth of its rows (a lookup costs several times what reading a row in order
    does). Counted on the covering date index, up to that many entries."""
    size = int(db.execute("SELECT coalesce(max(rowid), 0) FROM cache").fetchone()[0])
    cap = size // _SCAN_SHARE + 1
    where = ["account = ?", "entity = 'time'"]
    params: list[Any] = [account]
    if start is not None:
        where.append("date_worked >= ?")
        params.append(start)
    if end is not None:
        where.append("date_worked <= ?")
        params.append(end)
    inner = f"SELECT 1 FROM cache WHERE {' AND '.join(where)} LIMIT {cap}"
    return int(db.execute(f"SELECT count(*) FROM ({inner})", params).fetchone()[0]) >= cap


def _day(value: date | str | None) -> str | None:
    return value.isoformat() if isinstance(value, date) else value


def time_totals(
    db: sqlite3.Connection,
    account: str,
    *,
    users: Sequence[str] = (),
    projects: Sequence[str] = (),
    activities: Sequence[str] = (),
    start: date | str | None = None,
    end: date | str | None = None,
) -> list[TimeTotal]:
    """The cached, not deleted times matching the filters (as
    :meth:`Store.query_times` takes them), summed by day, user, project and activities;
    the times with queued or refused changes one by one (see :class:`TimeTotal`).
    Ordered by day, then user, project and activities."""
    first, last = _day(start), _day(end)
    postgres = on_postgres(db)  # (its planner chooses between the index and a scan)
    scan = not postgres and scan_is_cheaper(db, account, first, last)
    where, params = _filters(
        account, list(users), list(projects), list(activities), first, last, scan
    )
    # One pass over the times: those no operation names are summed by day, user,
    # project and activities; each of the others (and any provisional time) is a group
    # of its own, named by its key.
    sql = (
        f"{_MARKS}SELECT {_PG_FIELDS if postgres else _FIELDS},"
        f" {_PG_SUM if postgres else _SUM}, count(*),"
        " CASE WHEN c.local <> 0 OR c.key IN (SELECT key FROM marks) THEN c.key END AS marked"
        f" FROM cache AS c WHERE {where} GROUP BY 1, 2, 3, 4, marked"
    )
    rows = db.execute(sql, [account, account, *params]).fetchall()
    states: dict[str, set[str]] = {}
    if any(row[6] is not None for row in rows):
        for key, state in db.execute(f"{_MARKS}SELECT key, state FROM marks", (account, account)):
            states.setdefault(str(key), set()).add(str(state))
    found: list[TimeTotal] = []
    for day, user, project, acts, seconds, count, key in rows:
        state = "synced"
        if key is not None:
            named = states.get(str(key), set())
            state = next((s for s in _PRESSING if s in named), "unknown")
        found.append(
            TimeTotal(
                str(day),
                user,
                _slugs(project),
                _slugs(acts),
                _seconds(seconds),
                int(count),
                state,
                None if key is None else str(key),
            )
        )
    found.sort(key=lambda t: (t.date_worked, t.user or "", t.project, t.activities, t.key or ""))
    return found
