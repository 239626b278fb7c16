"""Pure input checks: the caller's payload or query in, a new normalised value out.

Nothing here touches the network or the disk, and nothing mutates its input: every
function returns a fresh object or raises :class:`~pymesync.errors.ValidationError` (or
:class:`~pymesync.errors.NotAuthenticatedError`, which the old library checked in the
middle of its validation, so its place in the order is kept here).

The messages and the order of the checks are the old pymesync 0.2.0 contract. After
them come the checks the old library left to the server (types, slugs, dates, URIs,
bounds, text that cannot be sent), with new messages in the same style, so that what is
queued is what the server can take.
"""

from __future__ import annotations

import datetime as dt
import functools
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, cast
from urllib.parse import urlsplit

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
_SLUG = re.compile(r"(?=[a-z0-9-]*[a-z])[a-z0-9]+(?:-[a-z0-9]+)*")  # with a letter
_USERNAME = re.compile(r"[A-Za-z0-9_~-]+")
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_SLUG_RULE = "lowercase letters and digits in groups joined by single hyphens"
_ROLES = frozenset({"member", "spectator", "manager"})

#: The longest duration one time entry may have: 7 days. No entry on one date can be
#: longer; bigger values are nearly always a unit slip (milliseconds, minutes).
MAX_DURATION = 7 * 24 * 3600
#: The longest text (in UTF-8 bytes) one field may hold: the server's request body
#: limit is about 100 kB.
MAX_TEXT_BYTES = 64 * 1024
#: How deeply lists and dicts may nest in a value (the real fields need 2).
MAX_DEPTH = 32
_BCRYPT_HASH = re.compile(r"\$2[abxy]\$[0-9]{2}\$[./A-Za-z0-9]{53}")


def validate_entity(entity: object) -> Entity:
    """``entity`` when it names one of the four kinds of object, else ValidationError."""
    if not isinstance(entity, str) or entity not in FIELDS:
        raise ValidationError(f"unknown entity: {entity}")
    return cast(Entity, entity)


def require_token(authenticated: bool) -> None:
    """Raise the old "Not authenticated" error when there is no token."""
    if not authenticated:
        raise NotAuthenticatedError(NOT_AUTHENTICATED)


def parse_duration(value: object) -> int:
    """Turn a duration into whole seconds, as the old library did.

    ints pass through; a string must be ``<H>h<M>m`` with 0-23 hours and 0-59 minutes,
    one or two digits each, case-insensitive, nothing around it. A bool is refused like
    any other non-number (the old library took ``True`` as 1 second).
    """
    if isinstance(value, int) and not isinstance(value, bool):
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


def text_problem(value: str) -> str | None:
    """Why the text ``value`` cannot be sent, or None when it can.

    Refused: lone surrogates (what Python makes of bytes that are not UTF-8, e.g. in a
    command line argument; they cannot be encoded), NUL characters (the server's
    database cannot store them) and more than :data:`MAX_TEXT_BYTES` bytes of UTF-8.
    """
    if value.isascii():  # the usual case: no surrogates possible, size known
        size = len(value)
    else:
        try:
            size = len(value.encode("utf-8"))
        except UnicodeEncodeError:
            return "text is not valid Unicode (a lone surrogate, as from a byte that is not UTF-8)"
    if "\x00" in value:
        return "text holds a NUL character, which the server cannot store"
    if size > MAX_TEXT_BYTES:
        return f"text is too long ({size} bytes of UTF-8, at most {MAX_TEXT_BYTES})"
    return None


def check_text(value: str, where: str) -> str:
    """``value`` itself when it can be sent (see :func:`text_problem`), else a
    ValidationError ``<where>: <why>``."""
    problem = text_problem(value)
    if problem is not None:
        raise ValidationError(f"{where}: {problem}")
    return value


def json_copy(value: object, where: str, depth: int = 0) -> Any:
    """A deep copy of ``value`` made of JSON types only, or a ValidationError.

    Tuples become lists; floats must be finite; mapping keys must be strings; text must
    pass :func:`check_text`; lists and dicts may nest at most :data:`MAX_DEPTH` deep
    (a deeper or self-containing value is refused, never a RecursionError).
    """
    cls = type(value)
    if cls is int or cls is bool or value is None:  # the usual: no copy
        return value
    if isinstance(value, str):
        return check_text(value, where)
    if isinstance(value, (bool, int)):
        return value
    if depth >= MAX_DEPTH and isinstance(value, (list, tuple, Mapping)):
        raise ValidationError(f"{where}: value nested too deeply (more than {MAX_DEPTH} levels)")
    if isinstance(value, float):
        if math.isfinite(value):
            return value
    elif isinstance(value, (list, tuple)):
        return [json_copy(item, where, depth + 1) for item in value]
    elif isinstance(value, Mapping):
        copied: dict[str, Any] = {}
        for key, item in value.items():
            if not isinstance(key, str):
                break
            copied[check_text(key, where)] = json_copy(item, where, depth + 1)
        else:
            return copied
    raise ValidationError(f"{where}: value cannot be sent as JSON")


def _shown(value: object) -> str:
    """A short, one-line picture of a refused value for a message."""
    if isinstance(value, str):
        text = value if len(value) <= 40 else value[:40] + "..."
        return repr(text)
    if value is None or isinstance(value, (bool, int, float)):
        return repr(value)
    name = type(value).__name__
    return f"an {name}" if name[:1] in "aeiou" else f"a {name}"


def _text(entity: str, key: str, value: object) -> str:
    if not isinstance(value, str):
        raise ValidationError(f"{entity} object: {key} must be a string, not {_shown(value)}")
    return check_text(value, f"{entity} object: field {key}")


def _is_slug(value: object) -> bool:
    return type(value) is str and _slug_text(value)


@functools.lru_cache(maxsize=4096)  # the same few slugs come again and again
def _slug_text(value: str) -> bool:
    return _SLUG.fullmatch(value) is not None


@functools.lru_cache(maxsize=4096)
def _username_text(value: str) -> bool:
    return _USERNAME.fullmatch(value) is not None


@functools.lru_cache(maxsize=4096)
def _date_problem(value: str) -> str | None:
    """Why ``value`` is no date the server takes ("format", "calendar", "epoch")."""
    if _DATE.fullmatch(value) is None:
        return "format"
    try:
        dt.date.fromisoformat(value)
    except ValueError:
        return "calendar"
    return "epoch" if value == "1970-01-01" else None


def _slug(entity: str, key: str, value: object, create: bool) -> str:
    if not _is_slug(value):
        raise ValidationError(
            f"{entity} object: {key} must be a slug ({_SLUG_RULE}, at least one letter),"
            f" not {_shown(value)}"
        )
    return cast(str, value)


def _optional_slug(entity: str, key: str, value: object, create: bool) -> str | None:
    return None if value is None else _slug(entity, key, value, create)


def _slug_list(entity: str, key: str, value: object, create: bool) -> list[str]:
    if not isinstance(value, (list, tuple)):
        raise ValidationError(
            f"{entity} object: {key} must be a list of slugs, not {_shown(value)}"
        )
    if not value:
        hint = (
            " (leave the field out to use the project's default activity)"
            if key == "activities"
            else ""
        )
        raise ValidationError(f"{entity} object: {key} cannot be empty{hint}")
    for item in value:
        if not _is_slug(item):
            raise ValidationError(
                f"{entity} object: {key} must hold slugs ({_SLUG_RULE}, at least one letter),"
                f" not {_shown(item)}"
            )
    return list(value)


def _username(entity: str, key: str, value: object, create: bool) -> str:
    if type(value) is not str or not _username_text(value):
        raise ValidationError(
            f"{entity} object: {key} must be a username (letters, digits, _, ~ and -),"
            f" not {_shown(value)}"
        )
    return value


def _date(entity: str, key: str, value: object, create: bool) -> str:
    problem = _date_problem(value) if type(value) is str else "format"
    if problem is None:
        return cast(str, value)
    if problem == "format":
        raise ValidationError(
            f"{entity} object: {key} must be a date as YYYY-MM-DD, not {_shown(value)}"
        )
    if problem == "calendar":
        raise ValidationError(f"{entity} object: {key} is not a real date: {_shown(value)}")
    # NODE reads 1970-01-01 as 0 ms, which it takes for "no date"
    raise ValidationError(f"{entity} object: {key} 1970-01-01 is refused by the server")


def _name(entity: str, key: str, value: object, create: bool) -> str:
    text = _text(entity, key, value)
    if not text.strip():
        raise ValidationError(f"{entity} object: {key} cannot be empty")
    return text


def _cleared(entity: str, key: str) -> ValidationError:
    return ValidationError(
        f"{entity} object: {key} cannot be cleared with an empty value"
        " (the server keeps the old one)"
    )


def _notes(entity: str, key: str, value: object, create: bool) -> str | None:
    if value is None:
        return None
    text = _text(entity, key, value)
    if not create and not text:
        raise _cleared(entity, key)
    return text


def _optional_text(entity: str, key: str, value: object, create: bool) -> str | None:
    return None if value is None else _text(entity, key, value)


def _uri(entity: str, key: str, value: object, create: bool) -> str | None:
    if value is None:
        return None
    text = _text(entity, key, value)
    if not text:
        if create:
            return text
        raise _cleared(entity, key)
    if not _is_web_uri(text):
        raise ValidationError(
            f"{entity} object: {key} must be an http or https URL, not {_shown(text)}"
        )
    return text


def _is_web_uri(text: str) -> bool:
    if any(c.isspace() or ord(c) < 32 or ord(c) == 127 for c in text):
        return False
    try:
        parts = urlsplit(text)
        host = parts.hostname
        parts.port  # noqa: B018 - a port that is not a number raises ValueError
    except ValueError:
        return False
    return parts.scheme.lower() in ("http", "https") and bool(host)


def _users(entity: str, key: str, value: object, create: bool) -> dict[str, dict[str, bool]]:
    if not isinstance(value, Mapping):
        raise ValidationError(
            f"{entity} object: {key} must map usernames to roles, not {_shown(value)}"
        )
    copied: dict[str, dict[str, bool]] = {}
    for name, roles in value.items():
        _username(entity, f"{key} key", name, create)
        if not isinstance(roles, Mapping) or not all(
            role in _ROLES and isinstance(flag, bool) for role, flag in roles.items()
        ):
            raise ValidationError(
                f"{entity} object: {key}[{name!r}] must map member, spectator and manager"
                f" to True or False, not {_shown(roles)}"
            )
        copied[name] = dict(roles)
    return copied


def _duration(entity: str, key: str, value: object, create: bool) -> int:
    return check_duration(parse_duration(value), create)


def _password(entity: str, key: str, value: object, create: bool) -> str:
    return hash_password(cast("str | bytes", value))  # its type was checked first


def _as_is(entity: str, key: str, value: object, create: bool) -> object:
    return value  # a permission flag: checked to be a bool first


FieldCheck = Callable[[str, str, object, bool], Any]

#: The check (and normalisation) of each field, after the old library's checks.
FIELD_CHECKS: dict[str, dict[str, FieldCheck]] = {
    "time": {
        "duration": _duration,
        "project": _slug,
        "user": _username,
        "date_worked": _date,
        "notes": _notes,
        "issue_uri": _uri,
        "activities": _slug_list,
    },
    "project": {
        "name": _name,
        "slugs": _slug_list,
        "uri": _uri,
        "users": _users,
        "default_activity": _optional_slug,
    },
    "activity": {"name": _name, "slug": _slug},
    "user": {
        "username": _username,
        "password": _password,
        "site_admin": _as_is,
        "site_manager": _as_is,
        "site_spectator": _as_is,
        "active": _as_is,
        "display_name": _optional_text,
        "email": _optional_text,
        "meta": _optional_text,
    },
}


def check_duration(seconds: int, create: bool) -> int:
    """A parsed duration within bounds: more than 0 and at most :data:`MAX_DURATION`."""
    if seconds == 0:
        if create:
            raise ValidationError("time object: duration must be more than zero")
        raise _cleared("time", "duration")
    if seconds > MAX_DURATION:
        shown = f" {seconds}" if seconds < 10**40 else ""  # (no 5000-digit numbers)
        raise ValidationError(
            f"time object: duration{shown} is too long"
            f" (at most {MAX_DURATION} seconds, 7 days, per entry)"
        )
    return seconds


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
    then, for creates, the missing required fields; then, field by field in dict order,
    the value checks the old library left to the server (:data:`FIELD_CHECKS`, the
    duration's bounds, text that cannot be sent). A ``password`` comes back as its
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
    checks = FIELD_CHECKS[entity]
    result: dict[str, Any] = {}
    for key, value in payload.items():
        check = checks.get(key)
        if check is not None:
            result[key] = check(entity, key, value, create)
        else:  # (every allowed field has a check; this is for a field added later)
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
    return check_text(ident, f"invalid {name}")


def validate_op_id(op_id: object) -> str:
    """The id of a queued operation given to ``retry``/``discard``."""
    if not op_id:
        raise ValidationError("missing op_id; please add to method call")
    if not isinstance(op_id, str):
        raise ValidationError("invalid op_id: must be a string")
    return check_text(op_id, "invalid op_id")


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
    if isinstance(value, str) and text_problem(value) is None:
        return (value,)
    if isinstance(value, (list, tuple)) and all(
        isinstance(item, str) and text_problem(item) is None for item in value
    ):
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
    if "uuid" in params and (not isinstance(uuid, str) or not uuid or text_problem(uuid)):
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
    if "slug" in params and (not isinstance(slug, str) or not slug or text_problem(slug)):
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
    if not isinstance(username, str) or text_problem(username):
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
        check_text(value, f"invalid {name}")
    return str(username), str(password), str(auth_type)


def validate_project_slug(project: object, *, authenticated: bool) -> str:
    """Check ``project_users(project)``: token first, then the slug."""
    require_token(authenticated)
    if not project:
        raise ValidationError("Missing project slug, please include in method call")
    if not isinstance(project, str):
        raise ValidationError("invalid slug: must be a string")
    return check_text(project, "invalid slug")


#: The longest import key (``pymesync.importers`` makes them of about 50 characters).
MAX_IMPORT_KEY = 1024


def check_import_key(key: object) -> str:
    """An import key (``watson:<frame id>:1``, ...): non-empty text that can be stored,
    at most :data:`MAX_IMPORT_KEY` characters; else :class:`ValidationError`."""
    if not isinstance(key, str) or not key.strip():
        raise ValidationError("invalid import key: must be a non-empty string")
    if len(key) > MAX_IMPORT_KEY:
        raise ValidationError(f"invalid import key: longer than {MAX_IMPORT_KEY} characters")
    check_text(key, "invalid import key")
    return key
