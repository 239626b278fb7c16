"""``/activities`` endpoints: list, get, create, update (new revision), delete."""

from __future__ import annotations

import uuid as uuidlib
from dataclasses import replace
from typing import Any

from . import errors as E
from .context import Call, Reply, empty_ok, written
from .state import Activity, Store
from .validation import is_path_slug, is_slug, js_type

FIELDS = ("name", "slug")


def _render(call: Call, revs: list[Activity]) -> dict[str, Any]:
    out = call.store.render_activity(revs[-1])
    if call.revisions_on():
        out["parents"] = [call.store.render_activity(r) for r in reversed(revs[:-1])]
    return out


def list_activities(call: Call) -> Reply:
    """GET /activities (``include_deleted`` follows the strict ``true``-or-empty rule)."""
    with_deleted = call.revisions_on("include_deleted")
    out = [
        _render(call, revs)
        for revs in call.store.activities.values()
        if revs[-1].deleted_at is None or with_deleted
    ]
    return Reply(body=out)


def get_activity(call: Call, slug: str) -> Reply:
    """GET /activities/{slug} (unknown slug with revisions: NODE's empty 200)."""
    if not is_path_slug(slug):
        raise E.invalid_identifier("slug", slug)
    activity = call.store.activity_by_slug(slug)
    if activity is None:
        if call.revisions_on():
            return empty_ok(changed=False)
        raise E.not_found("activity")
    return Reply(body=_render(call, call.store.activities[activity.uuid]))


def _check_keys(obj: dict[str, Any]) -> None:
    for key in obj:
        if key not in FIELDS:
            raise E.unknown_field("activity", key)


def _manager(call: Call, action: str) -> None:
    if not (call.caller.site_manager or call.caller.site_admin):
        raise E.authorization_failure(call.caller.username, action)


def _name_taken(store: Store, name: str) -> bool:
    return any(
        revs[-1].name == name and revs[-1].deleted_at is None for revs in store.activities.values()
    )


def create_activity(call: Call) -> Reply:
    """POST /activities (site manager or admin)."""
    obj, store = call.obj, call.store
    _manager(call, "create activities")
    _check_keys(obj)
    for key in FIELDS:
        if obj.get(key) is None or obj.get(key) == "":
            raise E.missing_field("activity", key)
        if not isinstance(obj[key], str):
            raise E.invalid_field("activity", key, "string", js_type(obj[key]))
    if not is_slug(obj["slug"]):
        raise E.invalid_field("activity", "slug", "slug", "non-slug string")
    if store.activity_by_slug(obj["slug"]) is not None:
        raise E.slugs_exist([obj["slug"]])
    if _name_taken(store, obj["name"]):
        raise E.invalid_field("activity", "name", "unique name", "name which already exists")
    activity = Activity(
        uuid=str(uuidlib.uuid4()),
        revision=1,
        name=obj["name"],
        slug=obj["slug"],
        created_at=call.today,
    )
    store.activities[activity.uuid] = [activity]
    echo = dict(obj)
    echo.update(
        uuid=activity.uuid, revision=1, created_at=call.today, updated_at=None, deleted_at=None
    )
    return written(echo)


def update_activity(call: Call, slug: str) -> Reply:
    """POST /activities/{slug}: new revision; resending a current value is a duplicate."""
    obj, store = call.obj, call.store
    _manager(call, f"update activity {slug}")
    if not is_path_slug(slug):
        raise E.invalid_identifier("slug", slug)
    current = store.activity_by_slug(slug)
    if current is None:
        raise E.not_found("activity")
    _check_keys(obj)
    if "name" in obj:
        if obj["name"] == "":
            raise E.invalid_field("activity", "name", "string", "empty string")
        if not isinstance(obj["name"], str):
            raise E.invalid_field("activity", "name", "string", js_type(obj["name"]))
    if "slug" in obj:
        if obj["slug"] == "":
            raise E.invalid_field("activity", "slug", "slug", "empty string")
        if not isinstance(obj["slug"], str):
            raise E.invalid_field("activity", "slug", "slug", js_type(obj["slug"]))
        if not is_slug(obj["slug"]):
            raise E.invalid_field("activity", "slug", "valid slug", f"invalid slug {obj['slug']}")
        if store.activity_by_slug(obj["slug"]) is not None:
            raise E.slugs_exist([obj["slug"]])
    if "name" in obj and _name_taken(store, obj["name"]):
        raise E.invalid_field("activity", "name", "unique name", "name which already exists")
    new = replace(
        current,
        name=obj.get("name", current.name),
        slug=obj.get("slug", current.slug),
        revision=current.revision + 1,
        updated_at=call.today,
    )
    store.activities[current.uuid].append(new)
    body = store.render_activity(new)
    del body["deleted_at"]  # NODE's update-activity response has no deleted_at
    return written(body)


def delete_activity(call: Call, slug: str) -> Reply:
    """DELETE /activities/{slug}: 405 while a current time uses it; frees the slug."""
    _manager(call, f"delete activity {slug}")
    if not is_path_slug(slug):
        raise E.invalid_identifier("slug", slug)
    current = call.store.activity_by_slug(slug)
    if current is None:
        raise E.not_found("slug")
    if call.store.activity_in_use(current.uuid):
        raise E.method_not_allowed("activity")
    current.deleted_at = call.today
    current.slug = None
    return empty_ok()
