"""Pure input checks: the caller's payload or query in, a new normalised value out.

Nothing here touches the network or the disk, and nothing mutates its input: every
function returns a fresh object or raises :class:`~pymesync.errors.ValidationError` (or
:class:`~pymesync.errors.NotAuthenticatedError`, which the old library checked in the
middle of its validation, so its place in the order is kept here).

The messages and the order of the checks are the old pymesync 0.2.0 contract.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, cast

from pymesync.errors import NotAuthenticatedError, ValidationError

Entity = Literal["time", "project", "activity", "user"]
WriteKind = Literal["create", "update"]

NOT_AUTHENTICATED = "Not authenticated with TimeSync, call self.authenticate() first"

#: Required and optional fields per entity; the required order is the order of the
#: "missing required field(s)" message.
FIELDS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "time": (("duration", "project", "user", "date_worked"), ("notes", "issue_uri", "activities")),
    "project": (("name", "slugs"), ("uri", "users", "default_activity")),
    "activity": (("name", "slug"), ()),
    "user": (
        ("username", "password"),
        (
            "display_name",
            "email",
            "site_admin",
            "site_spectator",
            "site_manager",
            "meta",
            "active",
        ),
    ),
}

#: The name the old library used for each entity's identifier in its messages.
ID_NAMES: dict[str, str] = {
    "time": "uuid",
    "project": "slug",
    "activity": "slug",
    "user": "username",
}

USER_FLAGS = ("site_admin", "site_manager", "site_spectator", "active")
TIMES_QUERY_KEYS = frozenset(
    {"user", "project", "activity", "start", "end", "include_revisions", "include_deleted", "uuid"}
)
_LIST_QUERY_KEYS = ("activity", "end", "project", "start", "user")
_DURATION = re.compile(r"([0-9]{1,2})[hH]([0-9]{1,2})[mM]")
_BCRYPT_HASH = re.compile(r"\$2[abxy]\$[0-9]{2}\$[./A-Za-z0-9]{53}")


def require_token(authenticated: bool) -> None:
    """Raise the old "Not authenticated" error when there is no token."""
    if not authenticated:
        raise NotAuthenticatedError(NOT_AUTHENTICATED)


def parse_duration(value: object) -> int:
    """Turn a duration into whole seconds, as the old library did.

    ints (and bools) pass through; a string must be ``<H>h<M>m`` with 0-23 hours and
    0-59 minutes, one or two digits each, case-insensitive, nothing around it.
    """
    if isinstance(value, int):
        if value < 0:
            raise ValidationError("time object: duration cannot be negative")
        return int(value)
    if isinstance(value, str):
        match = _DURATION.fullmatch(value)
        if match:
            hours, minutes = int(match.group(1)), int(match.group(2))
            if hours <= 23 and minutes <= 59:
                return hours * 3600 + minutes * 60
    raise ValidationError("time object: invalid duration string", as_list=True)


def is_bcrypt_hash(value: str) -> bool:
    """Whether ``value`` already is a bcrypt hash (``$2a$10$`` + 53 characters)."""
    return _BCRYPT_HASH.fullmatch(value) is not None


def hash_password(password: str | bytes) -> str:
    """Hash a password the way TimeSync expects: bcrypt, prefix ``2a``, cost 10, as text.

    A value that already is a bcrypt hash is returned unchanged, so callers (and the
    offline queue) can pass a hash they made earlier without it being hashed twice.
    """
    text = password.decode("utf-8", "surrogateescape") if isinstance(password, bytes) else password
    if is_bcrypt_hash(text):
        return text
    import bcrypt  # imported lazily: it is only needed for user writes

    raw = password if isinstance(password, bytes) else password.encode("utf-8", "surrogatepass")
    # bcrypt only reads the first 72 bytes; newer bcrypt releases refuse longer input.
    hashed: bytes = bcrypt.hashpw(raw[:72], bcrypt.gensalt(rounds=10, prefix=b"2a"))
    return hashed.decode("ascii")


def json_copy(value: object, where: str) -> Any:
    """A deep copy of ``value`` made of JSON types only, or a ValidationError.

    Tuples become lists; floats must be finite; mapping keys must be strings.
    """
    cls = type(value)
    if cls is str or cls is int or cls is bool or value is None:  # the usual: no copy
        return value
    if cls is list:  # (the usual container: its plain strings need no call each)
        return [item if type(item) is str else json_copy(item, where) for item in value]  # type: ignore[attr-defined]
    if isinstance(value, (str, bool, int)):
        return value
    if isinstance(value, float):
        if math.isfinite(value):
            return value
    elif isinstance(value, (list, tuple)):
        return [json_copy(item, where) for item in value]
    elif isinstance(value, Mapping):
        copied: dict[str, Any] = {}
        for key, item in value.items():
            if not isinstance(key, str):
                break
            copied[key] = json_copy(item, where)
        else:
            return copied
    raise ValidationError(f"{where}: value cannot be sent as JSON")


def validate_write(
    entity: Entity,
    payload: object,
    *,
    create: bool,
    authenticated: bool,
) -> dict[str, Any]:
    """Check a create/update payload in the old library's order and return a new dict.

    Order: duration (times) or permission flags and password type (users); then the
    token; then "must be python dictionary"; then the first invalid field in dict order;
    then, for creates, the missing required fields. A ``password`` comes back as its
    bcrypt hash text.
    """
    is_mapping = type(payload) is dict or isinstance(payload, Mapping)
    if is_mapping:
        if entity == "time" and "duration" in payload:  # type: ignore[operator]
            parse_duration(payload["duration"])  # type: ignore[index]
        if entity == "user":
            _check_user_types(cast(Mapping[Any, Any], payload))
    require_token(authenticated)
    if not is_mapping:
        raise ValidationError(f"{entity} object: must be python dictionary")
    payload = cast(Mapping[Any, Any], payload)
    required, optional = FIELDS[entity]
    for key in payload:
        if key not in required and key not in optional:
            raise ValidationError(f"{entity} object: invalid field: {key}")
    if create:
        missing = [name for name in required if name not in payload]
        if missing:
            raise ValidationError(
                f"{entity} object: missing required field(s): {', '.join(missing)}"
            )
    result: dict[str, Any] = {}
    for key, value in payload.items():
        if key == "duration" and entity == "time":
            result[key] = parse_duration(value)
        elif key == "password" and entity == "user":
            result[key] = hash_password(value)
        elif type(value) is str or value is None:  # (the usual: no copy, no call)
            result[key] = value
        else:
            result[key] = json_copy(value, f"{entity} object: field {key}")
    return result


def _check_user_types(payload: Mapping[Any, Any]) -> None:
    for flag in USER_FLAGS:
        if flag in payload and not isinstance(payload[flag], bool):
            raise ValidationError(f"user object: {flag} must be True or False")
    password = payload.get("password")
    if "password" in payload and (not isinstance(password, (str, bytes)) or not password):
        raise ValidationError("user object: password must be a non-empty string")


def validate_identifier(entity: Entity, ident: object) -> str:
    """The uuid / slug / username an update or delete names, or the old "missing" error."""
    name = ID_NAMES[entity]
    if not ident:
        raise ValidationError(f"missing {name}; please add to method call")
    if not isinstance(ident, str):
        raise ValidationError(f"invalid {name}: must be a string")
    return ident


@dataclass(frozen=True)
class TimesQuery:
    """A validated ``get_times`` query.

    ``filters`` holds the list-valued keys (activity, end, project, start, user) in
    alphabetical order, each with its values in the caller's order.
    """

    uuid: str | None = None
    filters: tuple[tuple[str, tuple[str, ...]], ...] = ()
    include_deleted: bool | None = None
    include_revisions: bool | None = None

    def values(self, key: str) -> tuple[str, ...]:
        """The values given for one filter key (empty when absent)."""
        return dict(self.filters).get(key, ())


@dataclass(frozen=True)
class EntityQuery:
    """A validated ``get_projects`` / ``get_activities`` / ``get_users`` query."""

    entity: Entity
    slug: str | None = None
    users: tuple[str, ...] = ()
    flags: tuple[tuple[str, bool], ...] = field(default=())

    def flag(self, name: str) -> bool | None:
        """The boolean value given for ``name`` (``include_deleted`` ...), or None."""
        return dict(self.flags).get(name)


def _query_dict(query: object) -> Mapping[Any, Any]:
    """The query's keys that are given: a value of ``None`` or ``[None]`` (what callers
    pass for "not given") counts as absent, as the old library's test mode took it."""
    if not isinstance(query, Mapping):
        raise ValidationError("invalid query: must be python dictionary", as_list=True)
    return {key: value for key, value in query.items() if not _not_given(value)}


def _not_given(value: object) -> bool:
    if value is None:
        return True
    return isinstance(value, (list, tuple)) and bool(value) and all(v is None for v in value)


def _string_list(key: str, value: object) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,)
    if isinstance(value, (list, tuple)) and all(isinstance(item, str) for item in value):
        return tuple(value)
    raise ValidationError(f"invalid query value: {key}", as_list=True)


def validate_times_query(query: object, *, authenticated: bool) -> TimesQuery:
    """Check a ``get_times`` query: token first, then unknown keys, then value types.

    A bare string for ``user``, ``project`` or ``activity`` is one value (the old
    library iterated it character by character).
    """
    require_token(authenticated)
    if query is None or (isinstance(query, Mapping) and not query):
        return TimesQuery()
    params = _query_dict(query)
    if not params:
        return TimesQuery()
    for key in params:
        if key not in TIMES_QUERY_KEYS:
            raise ValidationError(f"invalid query: {key}", as_list=True)
    uuid = params.get("uuid")
    if "uuid" in params and (not isinstance(uuid, str) or not uuid):
        raise ValidationError("invalid query value: uuid", as_list=True)
    filters = tuple(
        (key, _string_list(key, params[key])) for key in _LIST_QUERY_KEYS if key in params
    )
    return TimesQuery(
        uuid=uuid,
        filters=filters,
        include_deleted=bool(params["include_deleted"]) if "include_deleted" in params else None,
        include_revisions=(
            bool(params["include_revisions"]) if "include_revisions" in params else None
        ),
    )


def validate_entity_query(entity: Entity, query: object, *, authenticated: bool) -> EntityQuery:
    """Check a ``get_projects`` / ``get_activities`` query.

    As before there is no key whitelist: every key other than ``slug`` (and ``user`` for
    projects) is sent as ``key=true|false`` by truthiness. ``slug`` together with
    ``include_deleted`` is refused.
    """
    require_token(authenticated)
    if query is None or (isinstance(query, Mapping) and not query):
        return EntityQuery(entity)
    params = _query_dict(query)
    if not params:
        return EntityQuery(entity)
    if "slug" in params and "include_deleted" in params:
        raise ValidationError("invalid combination: slug and include_deleted", as_list=True)
    slug = params.get("slug")
    if "slug" in params and (not isinstance(slug, str) or not slug):
        raise ValidationError("invalid query value: slug", as_list=True)
    users: tuple[str, ...] = ()
    flags: list[tuple[str, bool]] = []
    for key, value in params.items():
        if not isinstance(key, str) or not key:
            raise ValidationError(f"invalid query: {key}", as_list=True)
        if key == "slug":
            continue
        if key == "user" and entity == "project":
            users = _string_list(key, value)
        else:
            flags.append((key, bool(value)))
    return EntityQuery(entity, slug=slug, users=users, flags=tuple(sorted(flags)))


def validate_username_query(username: object, *, authenticated: bool) -> EntityQuery:
    """Check ``get_users(username)``: None or "" lists everyone."""
    require_token(authenticated)
    if not username:
        return EntityQuery("user")
    if not isinstance(username, str):
        raise ValidationError("invalid query value: username", as_list=True)
    return EntityQuery("user", slug=username)


def validate_login(username: object, password: object, auth_type: object) -> tuple[str, str, str]:
    """Check ``authenticate()``'s arguments; empty counts as missing."""
    given = {"username": username, "password": password, "auth_type": auth_type}
    missing = [name for name, value in given.items() if not value]
    if missing:
        raise ValidationError(f"Missing {', '.join(missing)}; please add to method call")
    for name, value in given.items():
        if not isinstance(value, str):
            raise ValidationError(f"invalid {name}: must be a string")
    return str(username), str(password), str(auth_type)


def validate_project_slug(project: object, *, authenticated: bool) -> str:
    """Check ``project_users(project)``: token first, then the slug."""
    require_token(authenticated)
    if not project:
        raise ValidationError("Missing project slug, please include in method call")
    if not isinstance(project, str):
        raise ValidationError("invalid slug: must be a string")
    return project
