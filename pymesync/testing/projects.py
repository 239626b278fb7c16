"""``/projects`` endpoints: list, get, create, update (new revision), delete."""

from __future__ import annotations

import uuid as uuidlib
from dataclasses import replace
from typing import Any

from . import errors as E
from .context import Call, Reply, empty_ok, written
from .state import Project, Role, Store
from .validation import is_path_slug, is_slug, is_web_uri, js_type

FIELDS = ("name", "slugs", "uri", "default_activity", "users")


def _render(call: Call, revs: list[Project]) -> dict[str, Any]:
    out = call.store.render_project(revs[-1])
    if call.revisions_on():
        out["parents"] = [
            call.store.render_project(r, with_relations=False) for r in reversed(revs[:-1])
        ]
    return out


def list_projects(call: Call) -> Reply:
    """GET /projects, optionally only those where a ``user`` has any role."""
    store = call.store
    wanted = call.values("user")
    users: set[str] | None = None
    if wanted:
        users = {u for u in wanted if u in store.users}
        if not users:
            raise E.bad_query_value("user", ",".join(wanted))
    with_deleted = call.deleted_on()
    out = []
    for project_uuid, revs in store.projects.items():
        if revs[-1].deleted_at is not None and not with_deleted:
            continue
        if users is not None and not users.intersection(store.roles.get(project_uuid, {})):
            continue
        out.append(_render(call, revs))
    return Reply(body=out)


def _lookup(call: Call, slug: str, missing: str) -> Project:
    if not is_path_slug(slug):
        raise E.invalid_identifier("slug", slug)
    project = call.store.project_by_slug(slug)
    if project is None:
        raise E.not_found(missing)
    return project


def get_project(call: Call, slug: str) -> Reply:
    """GET /projects/{slug} (NODE answers an unknown slug with revisions by an empty 200)."""
    if not is_path_slug(slug):
        raise E.invalid_identifier("slug", slug)
    project = call.store.project_by_slug(slug)
    if project is None:
        if call.revisions_on():
            return empty_ok(changed=False)
        raise E.not_found("project")
    return Reply(body=_render(call, call.store.projects[project.uuid]))


def _check_keys(obj: dict[str, Any]) -> None:
    for key in obj:
        if key not in FIELDS:
            raise E.unknown_field("project", key)


def _check_slugs(value: Any) -> list[str]:
    if not isinstance(value, list):
        raise E.invalid_field("project", "slugs", "array", js_type(value))
    if not value:
        raise E.invalid_field("project", "slugs", "array of slugs", "empty array")
    if not all(is_slug(s) for s in value):
        raise E.invalid_field("project", "slugs", "slugs", "non-slug strings")
    return list(dict.fromkeys(value))


def _check_uri(value: Any) -> None:
    if not is_web_uri(value):
        raise E.invalid_field("project", "uri", "uri", "non-uri string")


def _check_users(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise E.invalid_field("project", "users", "object", js_type(value))
    for flags in value.values():
        if not isinstance(flags, dict):
            raise E.invalid_field(
                "project", "users", "map of role objects", f"map containing {js_type(flags)}"
            )
    return value


def _roles(store: Store, users: dict[str, Any]) -> dict[str, Role]:
    return {
        name: Role(
            member=bool(flags.get("member")),
            spectator=bool(flags.get("spectator")),
            manager=bool(flags.get("manager")),
        )
        for name, flags in users.items()
        if name in store.users
    }


def _name_taken(store: Store, name: str, except_uuid: str | None = None) -> bool:
    return any(
        revs[-1].name == name and revs[-1].deleted_at is None and uuid != except_uuid
        for uuid, revs in store.projects.items()
    )


def _taken_slugs(store: Store, slugs: list[str], owner: str | None = None) -> None:
    taken = [s for s in slugs if s in store.project_slugs and store.project_slugs[s] != owner]
    if taken:
        raise E.slugs_exist(taken)


def _default_activity(store: Store, value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise E.invalid_field("project", "default_activity", "string", js_type(value))
    activity = store.activity_by_slug(value)
    if activity is None:
        raise E.foreign_key("project", "activity")
    return activity.uuid


def create_project(call: Call) -> Reply:
    """POST /projects (site manager or admin)."""
    obj, store, caller = call.obj, call.store, call.caller
    if not (caller.site_manager or caller.site_admin):
        raise E.authorization_failure(caller.username, "create projects")
    _check_keys(obj)
    name = obj.get("name")
    if name is None or name == "":
        raise E.missing_field("project", "name")
    if not isinstance(name, str):
        raise E.invalid_field("project", "name", "string", js_type(name))
    if "slugs" not in obj or obj["slugs"] is None:
        raise E.missing_field("project", "slugs")
    slugs = _check_slugs(obj["slugs"])
    uri = obj.get("uri") or None
    if uri is not None:
        _check_uri(uri)
    if obj.get("default_activity") is not None and not isinstance(obj["default_activity"], str):
        raise E.invalid_field(
            "project", "default_activity", "string", js_type(obj["default_activity"])
        )
    users = _check_users(obj["users"]) if obj.get("users") is not None else None
    if _name_taken(store, name):
        raise E.invalid_field("project", "name", "unique name", "name which already exists")
    _taken_slugs(store, slugs)
    default = _default_activity(store, obj.get("default_activity"))
    project = Project(
        uuid=str(uuidlib.uuid4()),
        revision=1,
        name=name,
        uri=uri,
        default_activity=default,
        created_at=call.today,
    )
    store.projects[project.uuid] = [project]
    for slug in slugs:
        store.project_slugs[slug] = project.uuid
    echo = dict(obj)
    if users is not None:
        roles = _roles(store, users)
        if roles:
            store.roles[project.uuid] = roles
        echo["users"] = {k: v for k, v in users.items() if k in roles}
    echo.update(
        uuid=project.uuid, revision=1, created_at=call.today, updated_at=None, deleted_at=None
    )
    return written(echo)


def update_project(call: Call, slug: str) -> Reply:
    """POST /projects/{slug}: project manager, site manager or admin; new revision."""
    obj, store, caller = call.obj, call.store, call.caller
    if not is_path_slug(slug):
        raise E.invalid_identifier("slug", slug)
    _check_keys(obj)
    current = _lookup(call, slug, "project")
    role = store.roles.get(current.uuid, {}).get(caller.username)
    if not (caller.site_manager or caller.site_admin or (role is not None and role.manager)):
        raise E.authorization_failure(caller.username, f"make changes to {current.name}")
    new = replace(current)
    if obj.get("name"):
        if not isinstance(obj["name"], str):
            raise E.invalid_field("project", "name", "string", js_type(obj["name"]))
        if _name_taken(store, obj["name"], except_uuid=current.uuid):
            raise E.invalid_field("project", "name", "unique name", "name which already exists")
        new.name = obj["name"]
    if obj.get("uri"):
        _check_uri(obj["uri"])
        new.uri = obj["uri"]
    slugs = _check_slugs(obj["slugs"]) if "slugs" in obj else None
    users = _check_users(obj["users"]) if "users" in obj else None
    if slugs is not None:
        _taken_slugs(store, slugs, owner=current.uuid)
    if "default_activity" in obj:
        new.default_activity = _default_activity(store, obj["default_activity"])
    new.revision = current.revision + 1
    new.updated_at = call.today
    store.projects[current.uuid].append(new)
    if slugs is not None:
        for old in store.slugs_of(current.uuid):
            del store.project_slugs[old]
        for new_slug in slugs:
            store.project_slugs[new_slug] = current.uuid
    if users is not None:
        roles = _roles(store, users)
        if roles:
            store.roles[current.uuid] = roles
        else:
            store.roles.pop(current.uuid, None)
    body = store.render_project(new)
    if users is not None:
        body["users"] = users
    return written(body)


def delete_project(call: Call, slug: str) -> Reply:
    """DELETE /projects/{slug}: site manager or admin; 405 while a current time uses it."""
    store, caller = call.store, call.caller
    if not (caller.site_manager or caller.site_admin):
        raise E.authorization_failure(caller.username, f"delete project {slug}")
    current = _lookup(call, slug, "slug")
    if store.project_in_use(current.uuid):
        raise E.method_not_allowed("project")
    current.deleted_at = call.today
    for old in store.slugs_of(current.uuid):
        del store.project_slugs[old]
    store.roles.pop(current.uuid, None)
    return empty_ok()
