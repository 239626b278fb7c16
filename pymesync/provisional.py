"""What a write looks like before the server has seen it.

Pure functions: from the caller's validated payload and the cached object (if any) they
build the provisional object the cache holds (shaped like a server GET, so offline
reads filter it like the server would) and the answer a write returns while offline
(shaped like the server's own write response).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from pymesync.validation import Entity

USER_DEFAULTS: dict[str, Any] = {
    "display_name": None,
    "email": None,
    "meta": None,
    "site_admin": False,
    "site_manager": False,
    "site_spectator": False,
    "active": True,
}


def _stamps(today: str) -> dict[str, Any]:
    return {"revision": 1, "created_at": today, "updated_at": None, "deleted_at": None}


def created_answer(entity: Entity, payload: dict[str, Any], key: str, today: str) -> dict[str, Any]:
    """The answer to an offline create, shaped like the server's create response."""
    if entity == "user":
        public = {k: v for k, v in payload.items() if k != "password"}
        return {
            **USER_DEFAULTS,
            **public,
            "created_at": today,
            "updated_at": None,
            "deleted_at": None,
        }
    return {**payload, "uuid": key, **_stamps(today)}


def created_object(
    entity: Entity,
    payload: dict[str, Any],
    key: str,
    today: str,
    project: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The provisional object of an offline create, shaped like a GET.

    ``project`` is the cached project a new time refers to (for its slugs and its
    default activity), when known.
    """
    answer = created_answer(entity, payload, key, today)
    if entity == "time":
        return normalise_time(answer, project)
    if entity == "project":
        answer["slugs"] = sorted(answer.get("slugs") or [])
        answer.setdefault("uri", None)
        answer.setdefault("default_activity", None)
    return answer


def created(
    entity: Entity,
    payload: dict[str, Any],
    key: str,
    today: str,
    project: dict[str, Any] | None = None,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """``(created_answer(...), created_object(...))`` for the same arguments, the
    answer built once (two new dicts: neither is the other)."""
    answer = created_answer(entity, payload, key, today)
    if entity == "time":
        return answer, normalise_time(answer, project)
    shown = dict(answer)
    if entity == "project":
        shown["slugs"] = sorted(shown.get("slugs") or [])
        shown.setdefault("uri", None)
        shown.setdefault("default_activity", None)
    return answer, shown


def normalise_time(time: dict[str, Any], project: dict[str, Any] | None) -> dict[str, Any]:
    """A time in GET shape: ``project`` as the list of the project's slugs, sorted
    ``activities`` (the project's default when none were given), notes/issue_uri set."""
    result = dict(time)
    slug = result.get("project")
    if isinstance(slug, str):
        slugs = (project or {}).get("slugs")
        result["project"] = sorted(slugs) if isinstance(slugs, list) and slugs else [slug]
    activities = result.get("activities")
    if not activities:
        default = (project or {}).get("default_activity")
        activities = [default] if isinstance(default, str) else []
    result["activities"] = sorted(a for a in activities if isinstance(a, str))
    result.setdefault("notes", None)
    result.setdefault("issue_uri", None)
    return result


def updated_object(
    entity: Entity,
    cached: dict[str, Any],
    payload: dict[str, Any],
    today: str,
    project: dict[str, Any] | None = None,
    *,
    already_pending: bool = False,
) -> dict[str, Any]:
    """The cached object with an update applied (a new revision, undeleted).

    ``already_pending``: the cached object is itself provisional, so its unsent
    operation and this update will reach the server as one write (one revision).
    """
    changes = {k: v for k, v in payload.items() if k != "password"}
    merged = {**cached, **changes, "updated_at": today, "deleted_at": None}
    merged.pop("parents", None)
    if entity != "user" and not already_pending and isinstance(cached.get("revision"), int):
        merged["revision"] = cached["revision"] + 1
    if entity == "time":
        return normalise_time(merged, project)
    if entity == "project" and isinstance(merged.get("slugs"), list):
        merged["slugs"] = sorted(merged["slugs"])
    return merged


def deleted_object(cached: dict[str, Any], today: str) -> dict[str, Any]:
    """The cached object marked deleted (slugs kept, so the delete can still be sent)."""
    return {**cached, "deleted_at": cached.get("deleted_at") or today}


def today_utc(now: dt.datetime) -> str:
    """The server's notion of today: the UTC date."""
    return now.astimezone(dt.timezone.utc).date().isoformat()
