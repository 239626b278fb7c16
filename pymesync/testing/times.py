"""``/times`` endpoints: list with filters, get, create, update (new revision), delete."""

from __future__ import annotations

import uuid as uuidlib
from dataclasses import replace
from typing import Any

from . import errors as E
from .context import Call, Reply, empty_ok, written
from .state import Store, Time, User
from .validation import is_number, is_slug, is_uuid, is_web_uri, js_type, parse_date

UPDATE_FIELDS = ("duration", "project", "activities", "user", "issue_uri", "date_worked", "notes")
_CREATE_TYPES = (
    ("duration", "number", True),
    ("project", "string", True),
    ("activities", "array", False),
    ("user", "string", True),
    ("issue_uri", "string", False),
    ("date_worked", "string", True),
    ("notes", "string", False),
)


def visible(store: Store, caller: User, t: Time) -> bool:
    """NODE's visibility: own times, projects where spectator, all for site spectator/admin."""
    if caller.site_spectator or caller.site_admin or t.user == caller.username:
        return True
    role = store.roles.get(t.project, {}).get(caller.username)
    return role is not None and role.spectator


def _with_parents(call: Call, revs: list[Time]) -> dict[str, Any]:
    out = call.store.render_time(revs[-1])
    if call.revisions_on():
        out["parents"] = [call.store.render_time(r) for r in reversed(revs[:-1])]
    return out


def _matched(call: Call, key: str, found: list[str]) -> set[str] | None:
    values = call.values(key)
    if not values:
        return None
    if not found:
        raise E.bad_query_value(key, ",".join(values))
    return set(found)


def list_times(call: Call) -> Reply:
    """GET /times with ``user``/``project``/``activity``/``start``/``end`` filters."""
    store = call.store
    users = _matched(call, "user", [u for u in call.values("user") if u in store.users])
    projects = _matched(
        call,
        "project",
        [store.project_slugs[s] for s in call.values("project") if s in store.project_slugs],
    )
    activities = _matched(
        call,
        "activity",
        [a.uuid for s in call.values("activity") if (a := store.activity_by_slug(s))],
    )
    start_raw, end_raw = call.first("start"), call.first("end")
    start = end = None
    if start_raw is not None:
        start = parse_date(start_raw)
        if start is None or start > call.today:
            raise E.bad_query_value("start", start_raw)
    if end_raw is not None:
        end = parse_date(end_raw)
        if end is None:
            raise E.bad_query_value("end", end_raw)
    if start is not None and end is not None and start > end:
        raise E.bad_query_value("start", start_raw or "")
    with_deleted = call.deleted_on()
    out = []
    for revs in store.times.values():
        t = revs[-1]
        if (t.deleted_at is not None and not with_deleted) or not visible(store, call.caller, t):
            continue
        if users is not None and t.user not in users:
            continue
        if projects is not None and t.project not in projects:
            continue
        if activities is not None and not activities.intersection(t.activities):
            continue
        if (start is not None and t.date_worked < start) or (
            end is not None and t.date_worked > end
        ):
            continue
        out.append(_with_parents(call, revs))
    return Reply(body=out)


def get_time(call: Call, ident: str) -> Reply:
    """GET /times/{uuid}."""
    if not is_uuid(ident):
        raise E.invalid_identifier("UUID", ident)
    revs = call.store.times.get(ident.lower())
    if not revs:
        raise E.not_found("time")
    t = revs[-1]
    if t.deleted_at is not None and not call.deleted_on():
        raise E.not_found("time")
    if not visible(call.store, call.caller, t):
        raise E.not_found("time")
    return Reply(body=_with_parents(call, revs))


def _check_type(name: str, expected: str, value: Any) -> None:
    ok = {
        "number": is_number(value),
        "string": isinstance(value, str),
        "array": isinstance(value, list),
    }[expected]
    if not ok:
        raise E.invalid_field("time", name, expected, js_type(value))


def _activity_slugs_ok(slugs: list[Any]) -> None:
    for slug in slugs:
        if not isinstance(slug, str):
            raise E.invalid_field(
                "time", "activities", "slugs", f"array containing at least 1 {js_type(slug)}"
            )
        if not is_slug(slug):
            raise E.invalid_field(
                "time", "activities", "slugs", "array containing at least 1 invalid slug"
            )


def _activity_uuids(store: Store, slugs: list[str]) -> list[str]:
    found = []
    for slug in slugs:
        activity = store.activity_by_slug(slug)
        if activity is None:
            raise E.foreign_key("time", "activities")
        if activity.uuid not in found:
            found.append(activity.uuid)
    return found


def create_time(call: Call) -> Reply:
    """POST /times: validate, check the caller and membership, store revision 1."""
    obj, store, caller = call.obj, call.store, call.caller
    for name, expected, required in _CREATE_TYPES:
        if name not in obj or (obj[name] is None and not required):
            if required:
                raise E.missing_field("time", name)
            continue
        _check_type(name, expected, obj[name])
    if obj["duration"] < 0:
        raise E.invalid_field("time", "duration", "positive number", "negative number")
    if not is_slug(obj["project"]):
        raise E.invalid_field("time", "project", "slug", f"invalid slug {obj['project']}")
    sent_activities = obj.get("activities") or []
    _activity_slugs_ok(sent_activities)
    if obj.get("issue_uri") and not is_web_uri(obj["issue_uri"]):
        raise E.invalid_field("time", "issue_uri", "URI", f"invalid URI {obj['issue_uri']}")
    date_worked = parse_date(obj["date_worked"])
    if date_worked is None:
        raise E.invalid_field("time", "date_worked", "ISO-8601 date", obj["date_worked"])
    if obj["user"] != caller.username:
        raise E.authorization_failure(caller.username, f"create time entries for {obj['user']}")
    project = store.project_by_slug(obj["project"])
    if project is None:
        raise E.foreign_key("time", "project")
    role = store.roles.get(project.uuid, {}).get(caller.username)
    if not caller.site_admin and not (role is not None and role.member):
        raise E.authorization_failure(
            caller.username, f"create time entries for project {obj['project']}."
        )
    if sent_activities:
        activities = _activity_uuids(store, sent_activities)
    else:
        if store.activity_slug(project.default_activity) is None:
            raise E.missing_field("time", "activities")
        activities = [project.default_activity] if project.default_activity else []
    new = Time(
        uuid=str(uuidlib.uuid4()),
        revision=1,
        user=caller.username,
        duration=obj["duration"],
        project=project.uuid,
        activities=activities,
        notes=obj.get("notes"),
        issue_uri=obj.get("issue_uri"),
        date_worked=date_worked,
        created_at=call.today,
    )
    store.times[new.uuid] = [new]
    echo = dict(obj)
    echo.update(uuid=new.uuid, revision=1, created_at=call.today, updated_at=None, deleted_at=None)
    return written(echo)


def _number(value: Any) -> int | float:
    """JavaScript ``Number(value)`` for the types JSON can carry; raises ValueError on NaN."""
    if value is None:
        return 0
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, (int, float)):
        return value
    if isinstance(value, str):
        text = value.strip()
        if not text:
            return 0
        number = float(text)
        if number != number or number in (float("inf"), float("-inf")):
            raise ValueError(value)
        return int(number) if number.is_integer() else number
    raise ValueError(value)


def update_time(call: Call, ident: str) -> Reply:
    """POST /times/{uuid}: merge "new value if truthy, else old" into a new revision."""
    obj, store, caller = call.obj, call.store, call.caller
    if not is_uuid(ident):
        raise E.invalid_identifier("UUID", ident)
    for key in obj:
        if key not in UPDATE_FIELDS:
            raise E.unknown_field("time", key)
    revs = store.times.get(ident.lower())
    if not revs:
        raise E.not_found("time")
    current = revs[-1]
    if current.user != caller.username and not caller.site_admin:
        raise E.authorization_failure(caller.username, f"create objects for {current.user}")
    new = replace(current, activities=list(current.activities))
    if "duration" in obj:
        try:
            duration = _number(obj["duration"])
        except ValueError:
            raise E.invalid_field("time", "duration", "number", js_type(obj["duration"])) from None
        if duration < 0:
            raise E.invalid_field("time", "duration", "positive number", "negative number")
        if duration:
            new.duration = duration
    if obj.get("project"):
        project_slug = obj["project"]
        project = store.project_by_slug(project_slug) if isinstance(project_slug, str) else None
        if project is None:
            raise E.foreign_key("time", "project")
        new.project = project.uuid
    if "activities" in obj:
        sent = obj["activities"]
        if not isinstance(sent, list):
            raise E.invalid_field("time", "activities", "array", js_type(sent))
        if not sent:
            # NODE writes a revision without activities and answers with a raw database
            # row here; the emulator refuses the update instead.
            raise E.invalid_field("time", "activities", "non-empty array of slugs", "empty array")
        _activity_slugs_ok(sent)
        new.activities = _activity_uuids(store, sent)
    if obj.get("user"):
        if not isinstance(obj["user"], str) or obj["user"] not in store.users:
            raise E.foreign_key("time", "user")
        new.user = obj["user"]
    if obj.get("issue_uri"):
        if not is_web_uri(obj["issue_uri"]):
            raise E.invalid_field(
                "time", "issue_uri", "URI", f"invalid URI {E.js_string(obj['issue_uri'])}"
            )
        new.issue_uri = obj["issue_uri"]
    if obj.get("date_worked"):
        date_worked = parse_date(obj["date_worked"])
        if date_worked is None:
            raise E.invalid_field(
                "time", "date_worked", "ISO-8601 date", E.js_string(obj["date_worked"])
            )
        new.date_worked = date_worked
    if obj.get("notes"):
        if not isinstance(obj["notes"], str):
            raise E.invalid_field("time", "notes", "string", js_type(obj["notes"]))
        new.notes = obj["notes"]
    new.revision = current.revision + 1
    new.updated_at = call.today
    new.deleted_at = None
    revs.append(new)
    body = store.render_time(new)
    if "activities" not in obj:
        body["activities"] = []  # NODE's update response omits the kept activities
    return written(body)


def delete_time(call: Call, ident: str) -> Reply:
    """DELETE /times/{uuid}: soft delete by the owner, a site manager or an admin."""
    if not is_uuid(ident):
        raise E.invalid_identifier("uuid", ident)
    revs = call.store.times.get(ident.lower())
    if not revs or revs[-1].deleted_at is not None:
        raise E.not_found("uuid")
    current, caller = revs[-1], call.caller
    if current.user != caller.username and not (caller.site_manager or caller.site_admin):
        raise E.authorization_failure(caller.username, f"delete time {ident}")
    current.deleted_at = call.today
    return empty_ok()
