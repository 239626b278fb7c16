"""Deciding what a queued write still needs, when its outcome is unknown or the object
moved on the server meanwhile.

Pure functions over plain dicts: the sync worker fetches, these decide.

* A create whose response was lost may already exist on the server: for a time, an
  entry with the same user, project, date, duration, notes, issue URI and activities,
  created since the operation was first sent and not already claimed by another queued
  create, is adopted instead of sending again; a project, activity or user that already
  exists and matches is adopted too.
* An update carries the revision it was based on. When the server's revision has
  moved, fields changed only here are sent; a field changed on both sides follows the
  conflict policy: ``"local"`` (default: the local edit wins), ``"server"`` (the
  server's value stays) or ``"hold"`` (nothing is sent; the operation waits as a
  conflict for the user).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal

ConflictPolicy = Literal["local", "server", "hold"]
POLICIES: tuple[ConflictPolicy, ...] = ("local", "server", "hold")


def _blank(value: Any) -> bool:
    return value is None or value == ""


def same_value(entity: str, field: str, mine: Any, theirs: Any) -> bool:
    """Whether a value we sent and the server's value mean the same thing."""
    if _blank(mine) and _blank(theirs):
        return True
    if entity == "time" and field == "project":
        if isinstance(theirs, list):
            return mine in theirs if isinstance(mine, str) else sorted(mine or []) == sorted(theirs)
        return bool(mine == theirs)
    if field in ("activities", "slugs") and isinstance(mine, list) and isinstance(theirs, list):
        return sorted(mine) == sorted(theirs)
    if field == "users" and isinstance(mine, dict) and isinstance(theirs, dict):
        return all(theirs.get(name) == flags for name, flags in mine.items() if name in theirs)
    return bool(mine == theirs)


def matches(entity: str, payload: dict[str, Any], obj: dict[str, Any]) -> bool:
    """Whether the server object ``obj`` carries every field of ``payload``.

    A password cannot be compared (the server never returns it) and a time's omitted
    ``activities`` mean "the project's default", so neither is compared.
    """
    for field, value in payload.items():
        if field == "password" or (entity == "time" and field == "activities" and not value):
            continue
        if not same_value(entity, field, value, obj.get(field)):
            return False
    return True


def same_entry(entity: str, one: dict[str, Any], other: dict[str, Any]) -> bool:
    """Whether two queued payloads would make indistinguishable server objects."""
    return matches(entity, one, other) and matches(entity, other, one)


def lost_time_candidates(
    payload: dict[str, Any],
    candidates: Iterable[dict[str, Any]],
    sent_on: str,
    taken: set[str],
) -> list[dict[str, Any]]:
    """Every server time a lost create may have produced, oldest first.

    ``candidates`` are the server's times for that user, project and date;
    ``sent_on`` the day (YYYY-MM-DD, UTC) the operation was first sent; ``taken`` the
    uuids that already belong to other queued or synced creates (or were known before
    this one was first sent). The caller adopts the first one it can reserve: N
    identical local creates adopt at most N such times.
    """
    found = []
    for obj in candidates:
        if not isinstance(obj, dict) or obj.get("uuid") in taken:
            continue
        if not isinstance(obj.get("uuid"), str) or obj.get("deleted_at") is not None:
            continue
        created = obj.get("created_at")
        if isinstance(created, str) and created < sent_on:
            continue
        if matches("time", payload, obj):
            found.append(obj)
    return sorted(found, key=lambda obj: str(obj.get("created_at") or ""))


@dataclass(frozen=True)
class Merge:
    """The result of merging a queued update with a server object that moved on.

    ``payload`` is what still has to be sent (may be empty: nothing to do);
    ``conflicts`` the fields changed on both sides; ``hold`` whether the operation must
    wait for the user instead of being sent.
    """

    payload: dict[str, Any]
    conflicts: tuple[str, ...]
    hold: bool


def merge_update(
    entity: str,
    payload: dict[str, Any],
    base: dict[str, Any] | None,
    current: dict[str, Any],
    policy: ConflictPolicy,
) -> Merge:
    """Merge field by field (see the module docstring).

    ``base`` is the server object at the revision the update was based on (None when
    the server cannot show it: then every field whose current value differs from ours
    counts as changed on both sides).
    """
    send: dict[str, Any] = {}
    conflicts: list[str] = []
    for field, mine in payload.items():
        theirs = current.get(field)
        if field == "password" or not same_value(entity, field, mine, theirs):
            server_changed = base is None or not same_value(entity, field, base.get(field), theirs)
            if field != "password" and server_changed:
                conflicts.append(field)
                if policy == "server":
                    continue
            send[field] = mine
    hold = policy == "hold" and bool(conflicts)
    return Merge(send, tuple(conflicts), hold)


def base_revision_of(current: dict[str, Any], revision: int) -> dict[str, Any] | None:
    """The earlier revision ``revision`` of an object fetched with ``include_revisions``."""
    if current.get("revision") == revision:
        return current
    for parent in current.get("parents") or []:
        if isinstance(parent, dict) and parent.get("revision") == revision:
            return parent
    return None
