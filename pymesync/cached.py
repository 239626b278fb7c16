"""Answering reads from the local cache, with the filters the server applies.

Used when the server cannot be reached (or the cached answer is fresh enough): the same
query gives what the server would give, with the user's own pending changes in it,
because the cache holds the provisional objects of queued writes.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import TYPE_CHECKING, Any

from pymesync import errors
from pymesync.validation import EntityQuery, TimesQuery

if TYPE_CHECKING:
    from pymesync.store import CacheObject, Store

_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
NOUNS = {"time": "time", "project": "project", "activity": "activity", "user": "user"}


def not_found(entity: str) -> errors.NotFoundError:
    """The server's 404 for an object it does not have."""
    body = {"status": 404, "error": "Object not found", "text": f"Nonexistent {NOUNS[entity]}"}
    return errors.NotFoundError(404, body)


def bad_query(key: str, value: str) -> errors.BadQueryError:
    """The server's 400 for an unusable query value."""
    body = {
        "status": 400,
        "error": "Bad query value",
        "text": f"Parameter {key} contained invalid value {value}",
    }
    return errors.BadQueryError(400, body)


def _date(key: str, values: tuple[str, ...], today: str) -> str | None:
    if not values:
        return None
    value = values[0]
    try:
        parsed = dt.date.fromisoformat(value) if _DATE.fullmatch(value) else None
    except ValueError:
        parsed = None
    if parsed is None:
        raise bad_query(key, value)
    return parsed.isoformat()


def _public(obj: CacheObject, with_parents: bool) -> dict[str, Any]:
    payload = obj.payload  # every record the store returns holds its own fresh copy
    if not with_parents:
        payload.pop("parents", None)
    return payload


def times(store: Store, account: str, query: TimesQuery, today: str) -> list[dict[str, Any]]:
    """Cached times answering ``query`` as the server would."""
    revisions = bool(query.include_revisions)
    if query.uuid is not None:
        key = store.resolve_id(account, "time", query.uuid)
        obj = store.get_object(account, "time", key)
        if obj is None or (obj.deleted and not query.include_deleted):
            raise not_found("time")
        return [_public(obj, revisions)]
    start = _date("start", query.values("start"), today)
    end = _date("end", query.values("end"), today)
    if start is not None and start > today:
        raise bad_query("start", start)
    if start is not None and end is not None and start > end:
        raise bad_query("start", start)
    found = store.query_times(
        account,
        users=query.values("user"),
        projects=query.values("project"),
        activities=query.values("activity"),
        start=start,
        end=end,
        include_deleted=bool(query.include_deleted),
    )
    return [_public(obj, revisions) for obj in found]


def entities(store: Store, account: str, query: EntityQuery) -> list[dict[str, Any]]:
    """Cached projects, activities or users answering ``query`` as the server would."""
    revisions = bool(query.flag("include_revisions"))
    if query.slug is not None:
        if query.entity == "user":
            obj = store.get_object(account, "user", query.slug)
            if obj is not None and obj.deleted and not query.flag("include_deleted"):
                obj = None
        else:
            obj = store.find_by_slug(account, query.entity, query.slug)
        if obj is None:
            raise not_found(query.entity)
        return [_public(obj, revisions)]
    found = store.list_objects(
        account, query.entity, include_deleted=bool(query.flag("include_deleted"))
    )
    result = [_public(obj, revisions) for obj in found]
    if query.users:
        wanted = set(query.users)
        result = [p for p in result if wanted & set(_users_of(p))]
    return result


def _users_of(project: dict[str, Any]) -> list[str]:
    users = project.get("users")
    return list(users) if isinstance(users, dict) else []
