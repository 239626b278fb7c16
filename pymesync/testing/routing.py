"""The API's route templates and the endpoint function behind each ``METHOD template``."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import unquote

from . import activities, projects, times, users

TEMPLATES = (
    "/login",
    "/times",
    "/times/{uuid}",
    "/projects",
    "/projects/{slug}",
    "/activities",
    "/activities/{slug}",
    "/users",
    "/users/{username}",
)
"""Every route template, relative to the API prefix."""

_ITEM = {"times": "{uuid}", "projects": "{slug}", "activities": "{slug}", "users": "{username}"}

Endpoint = Callable[..., object]

ENDPOINTS: dict[tuple[str, str], Endpoint] = {
    ("GET", "/times"): times.list_times,
    ("POST", "/times"): times.create_time,
    ("GET", "/times/{uuid}"): times.get_time,
    ("POST", "/times/{uuid}"): times.update_time,
    ("DELETE", "/times/{uuid}"): times.delete_time,
    ("GET", "/projects"): projects.list_projects,
    ("POST", "/projects"): projects.create_project,
    ("GET", "/projects/{slug}"): projects.get_project,
    ("POST", "/projects/{slug}"): projects.update_project,
    ("DELETE", "/projects/{slug}"): projects.delete_project,
    ("GET", "/activities"): activities.list_activities,
    ("POST", "/activities"): activities.create_activity,
    ("GET", "/activities/{slug}"): activities.get_activity,
    ("POST", "/activities/{slug}"): activities.update_activity,
    ("DELETE", "/activities/{slug}"): activities.delete_activity,
    ("GET", "/users"): users.list_users,
    ("POST", "/users"): users.create_user,
    ("GET", "/users/{username}"): users.get_user,
    ("POST", "/users/{username}"): users.update_user,
    ("DELETE", "/users/{username}"): users.delete_user,
}
"""``(method, template)`` to endpoint function; ``POST /login`` is handled separately."""


@dataclass(frozen=True)
class Match:
    """A path matched to a template, with the decoded path parameter if any."""

    template: str
    param: str | None = None


def match(subpath: str) -> Match | None:
    """Match a path below the prefix (express-style: one trailing slash is ignored)."""
    if subpath.endswith("/") and len(subpath) > 1:
        subpath = subpath[:-1]
    parts = subpath.split("/")
    if len(parts) < 2 or parts[0] != "":
        return None
    if len(parts) == 2:
        if parts[1] == "login" or parts[1] in _ITEM:
            return Match("/" + parts[1])
        return None
    if len(parts) == 3 and parts[1] in _ITEM and parts[2]:
        return Match(f"/{parts[1]}/{_ITEM[parts[1]]}", unquote(parts[2]))
    return None


def allowed_methods(template: str) -> list[str]:
    """Methods the API answers on a template (for OPTIONS)."""
    if template == "/login":
        return ["POST"]
    return [m for (m, t) in ENDPOINTS if t == template]
