"""What each operation looks like on the wire: method, path, query, body.

Pure data, no I/O: :class:`WireRequest` values are built here from validated input and
carried out by :mod:`pymesync.transport`. The sync worker builds its requests here too.
Parameter order follows the old library (alphabetical for times; ``user`` first for
projects), with the token always last; booleans go out as literal ``true``/``false``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from pymesync.validation import Entity, EntityQuery, TimesQuery

Method = Literal["GET", "POST", "DELETE"]

ENDPOINTS: dict[str, str] = {
    "time": "times",
    "project": "projects",
    "activity": "activities",
    "user": "users",
}


@dataclass(frozen=True)
class WireRequest:
    """One HTTP request to TimeSync, before the token and the base URL are added.

    ``path`` holds raw segments (the transport percent-encodes them); ``body`` is the
    ``object`` of a token-authenticated POST, or the whole body when ``token_auth`` is
    False (login).
    """

    method: Method
    path: tuple[str, ...]
    params: tuple[tuple[str, str], ...] = ()
    body: dict[str, Any] | None = None
    token_auth: bool = True


def _flag(value: bool) -> str:
    return "true" if value else "false"


def login_request(username: str, password: str, auth_type: str) -> WireRequest:
    """``POST /login`` with the password in plaintext, as the server requires."""
    body = {"auth": {"type": auth_type, "username": username, "password": password}}
    return WireRequest("POST", ("login",), body=body, token_auth=False)


def write_request(entity: Entity, ident: str | None, payload: dict[str, Any]) -> WireRequest:
    """``POST /{endpoint}`` (create) or ``POST /{endpoint}/{ident}`` (update)."""
    path = (ENDPOINTS[entity],) if ident is None else (ENDPOINTS[entity], ident)
    return WireRequest("POST", path, body=payload)


def delete_request(entity: Entity, ident: str) -> WireRequest:
    """``DELETE /{endpoint}/{ident}``."""
    return WireRequest("DELETE", (ENDPOINTS[entity], ident))


def times_request(query: TimesQuery) -> WireRequest:
    """``GET /times`` with filters, or ``GET /times/{uuid}``."""
    params: list[tuple[str, str]] = []
    if query.uuid is not None:
        path: tuple[str, ...] = ("times", query.uuid)
        if query.include_deleted is not None:
            params.append(("include_deleted", _flag(query.include_deleted)))
        if query.include_revisions is not None:
            params.append(("include_revisions", _flag(query.include_revisions)))
        return WireRequest("GET", path, tuple(params))
    flags = {"include_deleted": query.include_deleted, "include_revisions": query.include_revisions}
    keyed: list[tuple[str, list[tuple[str, str]]]] = [
        (key, [(key, value) for value in values]) for key, values in query.filters
    ]
    keyed += [(key, [(key, _flag(value))]) for key, value in flags.items() if value is not None]
    for _key, pairs in sorted(keyed, key=lambda item: item[0]):
        params.extend(pairs)
    return WireRequest("GET", ("times",), tuple(params))


def entity_request(query: EntityQuery) -> WireRequest:
    """``GET /projects|activities|users[/{slug}]`` with ``user`` values then flags."""
    endpoint = ENDPOINTS[query.entity]
    path = (endpoint,) if query.slug is None else (endpoint, query.slug)
    params = [("user", user) for user in query.users]
    params += [(key, _flag(value)) for key, value in query.flags]
    return WireRequest("GET", path, tuple(params))
