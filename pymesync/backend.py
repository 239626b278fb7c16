"""Where the facade's validated calls go: the :class:`Backend` interface and the backend
that talks to the server directly.

The facade chooses one backend in its constructor (direct, or the canned test-mode one
in :mod:`pymesync.testmode`); methods return the server's parsed answer or raise a
:class:`~pymesync.errors.PymesyncError`. The shaping into the old library's return
values is the facade's job, not the backend's.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Protocol

from pymesync import tokens, wire
from pymesync.transport import Transport
from pymesync.validation import Entity, EntityQuery, TimesQuery


class Backend(Protocol):
    """What the facade needs from whatever answers its calls."""

    def login(self, username: str, password: str, auth_type: str) -> Any:
        """Log in; the answer holds ``token`` on success."""

    def write(self, entity: Entity, ident: str | None, payload: dict[str, Any], token: str) -> Any:
        """Create (``ident`` None) or update an object; the answer is the object."""

    def delete(self, entity: Entity, ident: str, token: str) -> Any:
        """Delete an object; ``None`` for the server's empty 200."""

    def times(self, query: TimesQuery, token: str) -> Any:
        """Times matching ``query`` (a list, or one object)."""

    def entities(self, query: EntityQuery, token: str) -> Any:
        """Projects, activities or users matching ``query``."""

    def project_users(self, slug: str, token: str) -> dict[str, list[str]]:
        """The project's users, each with the list of its roles."""

    def token_expiration(self, token: str) -> dt.datetime:
        """When ``token`` expires, as a naive local time."""


def roles_by_user(project: Any) -> dict[str, list[str]]:
    """Reshape a project's ``users`` map into ``username -> [roles that are exactly True]``.

    Role order is the server's key order (member, spectator, manager); a project without
    a ``users`` key gives ``{}``.
    """
    users = project.get("users") if isinstance(project, dict) else None
    if not isinstance(users, dict):
        return {}
    return {
        name: [role for role, value in flags.items() if value is True]
        for name, flags in users.items()
        if isinstance(flags, dict)
    }


class DirectBackend:
    """Every call is one HTTP request to the server, as in the old library."""

    def __init__(self, transport: Transport) -> None:
        self.transport = transport

    def login(self, username: str, password: str, auth_type: str) -> Any:
        """``POST /login``."""
        return self.transport.send(wire.login_request(username, password, auth_type), None)

    def write(self, entity: Entity, ident: str | None, payload: dict[str, Any], token: str) -> Any:
        """``POST /{endpoint}[/{ident}]``."""
        return self.transport.send(wire.write_request(entity, ident, payload), token)

    def delete(self, entity: Entity, ident: str, token: str) -> Any:
        """``DELETE /{endpoint}/{ident}``."""
        return self.transport.send(wire.delete_request(entity, ident), token)

    def times(self, query: TimesQuery, token: str) -> Any:
        """``GET /times[/{uuid}]``."""
        return self.transport.send(wire.times_request(query), token)

    def entities(self, query: EntityQuery, token: str) -> Any:
        """``GET /projects|activities|users[/{slug}]``."""
        return self.transport.send(wire.entity_request(query), token)

    def project_users(self, slug: str, token: str) -> dict[str, list[str]]:
        """``GET /projects/{slug}``, reshaped (there is no project-users endpoint)."""
        return roles_by_user(self.entities(EntityQuery("project", slug=slug), token))

    def token_expiration(self, token: str) -> dt.datetime:
        """Decoded locally from the token's payload; no request."""
        return tokens.expiration_time(token)
