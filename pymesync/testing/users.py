"""``/users`` endpoints: list, get, create, update in place, delete."""

from __future__ import annotations

from typing import Any

from . import errors as E
from .context import Call, Reply, empty_ok, written
from .state import User
from .validation import is_email, is_username, js_type

STRING_FIELDS = ("username", "password", "display_name", "email", "meta")
FLAG_FIELDS = ("site_spectator", "site_manager", "site_admin", "active")
UPDATE_FIELDS = ("display_name", "password", "email", "meta", *FLAG_FIELDS)


def list_users(call: Call) -> Reply:
    """GET /users (``include_deleted`` follows the loose rule)."""
    with_deleted = call.deleted_on()
    return Reply(
        body=[u.public() for u in call.store.users.values() if u.deleted_at is None or with_deleted]
    )


def _lookup(call: Call, username: str, *, allow_deleted: bool) -> User:
    if not is_username(username):
        raise E.invalid_identifier("username", username)
    user = call.store.users.get(username)
    if user is None or (user.deleted_at is not None and not allow_deleted):
        raise E.not_found("user")
    return user


def get_user(call: Call, username: str) -> Reply:
    """GET /users/{username}."""
    return Reply(body=_lookup(call, username, allow_deleted=call.deleted_on()).public())


def _check_values(obj: dict[str, Any]) -> None:
    for key in STRING_FIELDS:
        value = obj.get(key)
        if key in obj and not isinstance(value, str) and (value is not None or key == "password"):
            raise E.invalid_field("user", key, "string", js_type(value))
    for key in FLAG_FIELDS:
        if key in obj and not isinstance(obj[key], bool):
            raise E.invalid_field("user", key, "boolean", js_type(obj[key]))
    if obj.get("email") is not None and not is_email(obj["email"]):
        raise E.invalid_field("user", "email", "valid email", "string")


def _check_keys(obj: dict[str, Any], allowed: tuple[str, ...]) -> None:
    for key in obj:
        if key not in allowed:
            raise E.unknown_field("user", key)


def create_user(call: Call) -> Reply:
    """POST /users: only callers that are site_admin AND site_manager (as NODE)."""
    obj, store, caller = call.obj, call.store, call.caller
    if not (caller.site_admin and caller.site_manager):
        raise E.authorization_failure(caller.username, "create users")
    _check_keys(obj, STRING_FIELDS + FLAG_FIELDS)
    for key in ("username", "password"):
        if obj.get(key) is None or obj.get(key) == "":
            raise E.missing_field("user", key)
    _check_values(obj)
    username = obj["username"]
    if not is_username(username):
        raise E.invalid_field("user", "username", "valid username", "string")
    if username in store.users:
        raise E.username_exists(username)
    user = User(
        username=username,
        password=obj["password"],
        display_name=obj.get("display_name"),
        email=obj.get("email"),
        meta=obj.get("meta"),
        site_spectator=obj.get("site_spectator", False),
        site_manager=obj.get("site_manager", False),
        site_admin=obj.get("site_admin", False),
        active=obj.get("active", True),
        created_at_ms=call.now_ms,
    )
    store.users[username] = user
    body = user.public()
    body["created_at"] = user.created_at_ms  # epoch ms in this one response, as NODE
    return written(body)


def update_user(call: Call, username: str) -> Reply:
    """POST /users/{username}: in place; undeletes; NODE's admin/manager/self rules."""
    obj, caller = call.obj, call.caller
    if not is_username(username):
        raise E.invalid_identifier("username", username)
    _check_keys(obj, UPDATE_FIELDS)
    user = _lookup(call, username, allow_deleted=True)
    promotes = bool(obj.get("site_manager")) or bool(obj.get("site_admin"))
    if caller.site_admin:
        pass
    elif caller.username == user.username or caller.site_manager:
        if promotes:
            raise E.authorization_failure(caller.username, f"set permissions of user {username}")
        if caller.username != user.username and any(
            obj.get(k) for k in ("display_name", "password", "active", "meta")
        ):
            raise E.authorization_failure(
                caller.username, f"modify fields of user {username} other than site_spectator"
            )
    else:
        raise E.authorization_failure(caller.username, f"modify user {username}")
    _check_values(obj)
    for key, value in obj.items():
        setattr(user, key, value)
    user.updated_at = call.today
    user.deleted_at = None
    return written(user.public())


def delete_user(call: Call, username: str) -> Reply:
    """DELETE /users/{username}: site manager or admin; sets deleted_at, not active."""
    caller = call.caller
    if not (caller.site_manager or caller.site_admin):
        raise E.authorization_failure(caller.username, f"delete user {username}")
    user = _lookup(call, username, allow_deleted=False)
    user.deleted_at = call.today
    user.updated_at = call.today
    return empty_ok()
