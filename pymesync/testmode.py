"""Canned answers for ``TimeSync(..., test=True)``.

The facade picks this backend once, in its constructor; every validation step still
runs before a canned answer is given, and nothing touches the network or the disk. The
data is the old library's (pymesync 0.2.0) test-mode data, field for field. Unlike the
old library, the caller's dict is never modified: answers are always new objects.
"""

from __future__ import annotations

import copy
import datetime as dt
from typing import Any

from pymesync.validation import Entity, EntityQuery, TimesQuery

TEST_TOKEN = "TESTTOKEN"
TEST_EXPIRATION = dt.datetime(2016, 1, 13, 11, 45, 34)

_TIMES: list[dict[str, Any]] = [
    {
        "duration": 12,
        "user": "userone",
        "project": ["ganeti-webmgr", "gwm"],
        "activities": ["docs", "planning"],
        "notes": "Worked on documentation.",
        "issue_uri": "https://github.com/osuosl/ganeti_webmgr",
        "date_worked": "2014-04-17",
        "revision": 1,
        "created_at": "2014-04-17",
        "updated_at": None,
        "deleted_at": None,
        "uuid": "c3706e79-1c9a-4765-8d7f-89b4544cad56",
    },
    {
        "duration": 13,
        "user": "usertwo",
        "project": ["ganeti-webmgr", "gwm"],
        "activities": ["code", "planning"],
        "notes": "Worked on coding",
        "issue_uri": "https://github.com/osuosl/ganeti_webmgr",
        "date_worked": "2014-04-17",
        "revision": 1,
        "created_at": "2014-04-17",
        "updated_at": None,
        "deleted_at": None,
        "uuid": "12345676-1c9a-rrrr-bbbb-89b4544cad56",
    },
    {
        "duration": 14,
        "user": "userthree",
        "project": ["timesync", "ts"],
        "activities": ["code"],
        "notes": "Worked on coding",
        "issue_uri": "https://github.com/osuosl/timesync",
        "date_worked": "2014-04-17",
        "revision": 1,
        "created_at": "2014-04-17",
        "updated_at": None,
        "deleted_at": None,
        "uuid": "12345676-1c9a-ssss-cccc-89b4544cad56",
    },
]


def _roles(members: list[str], spectators: list[str], managers: list[str]) -> dict[str, Any]:
    """A project's ``users`` as the old library's canned data had it: username ->
    ``{"member", "spectator", "manager"}`` flags (callers index it by username)."""
    return {
        name: {"member": True, "spectator": name in spectators, "manager": name in managers}
        for name in members
    }


def _project(uri: str, name: str, slugs: list[str], uuid: str, revision: int) -> dict[str, Any]:
    return {
        "uri": f"https://code.osuosl.org/projects/{uri}",
        "name": name,
        "slugs": slugs,
        "uuid": uuid,
        "revision": revision,
        "created_at": "2014-07-17",
        "deleted_at": None,
        "updated_at": "2014-07-20",
    }


_PROJECTS: list[dict[str, Any]] = [
    {
        **_project(
            "ganeti-webmgr",
            "Ganeti Web Manager",
            ["gwm"],
            "a034806c-00db-4fe1-8de8-514575f31bfb",
            4,
        ),
        "users": _roles(["patcht", "tschuy"], ["tschuy"], ["tschuy"]),
    },
    {
        **_project(
            "timesync", "TimeSync", ["timesync", "ts"], "a034806c-rrrr-bbbb-8de8-514575f31bfb", 2
        ),
        "users": _roles(["patcht", "tschuy", "mrsj"], ["tschuy", "mrsj"], ["tschuy"]),
    },
    {
        **_project(
            "pymesync", "pymesync", ["pymesync", "ps"], "a034806c-ssss-cccc-8de8-514575f31bfb", 1
        ),
        "users": _roles(
            ["patcht", "tschuy", "mrsj", "MaraJade", "thai"], ["tschuy", "mrsj"], ["mrsj"]
        ),
    },
]


def _activity(name: str, slug: str, uuid: str, revision: int) -> dict[str, Any]:
    return {
        "name": name,
        "slug": slug,
        "uuid": uuid,
        "revision": revision,
        "created_at": "2014-04-17",
        "deleted_at": None,
        "updated_at": None,
    }


_ACTIVITIES: list[dict[str, Any]] = [
    _activity("Documentation", "docs", "adf036f5-3d49-4a84-bef9-062b46380bbf", 5),
    _activity("Coding", "dev", "adf036f5-3d49-bbbb-rrrr-062b46380bbf", 1),
    _activity("Planning", "plan", "adf036f5-3d49-cccc-ssss-062b46380bbf", 1),
]


def _user(username: str, display_name: str, email: str) -> dict[str, Any]:
    return {
        "username": username,
        "display_name": display_name,
        "email": email,
        "active": True,
        "site_admin": False,
        "site_manager": False,
        "site_spectator": False,
        "created_at": "2015-02-29",
        "deleted_at": None,
    }


_USERS: list[dict[str, Any]] = [
    _user("userone", "One Is The Loneliest Number", "exampleone@example.com"),
    _user("usertwo", "Two Can Be As Bad As One", "exampletwo@example.com"),
    _user("userthree", "Yes It's The Saddest Experience", "examplethree@example.com"),
    _user("userfour", "You'll Ever Do", "examplefour@example.com"),
]

#: project_users() in test mode: username -> the roles that are exactly True.
PROJECT_USERS: dict[str, list[str]] = {
    "malcolm": ["member", "manager"],
    "jayne": ["member"],
    "kaylee": ["member"],
    "zoe": ["member"],
    "hoban": ["member"],
    "simon": ["spectator"],
    "river": ["spectator"],
    "derrial": ["spectator"],
    "inara": ["spectator"],
}


def _flags_or_false(payload: dict[str, Any]) -> dict[str, Any]:
    return {
        flag: payload.get(flag, False) for flag in ("site_admin", "site_manager", "site_spectator")
    }


def _created_time(payload: dict[str, Any]) -> dict[str, Any]:
    return {
        **payload,
        "created_at": "2015-05-23",
        "updated_at": None,
        "deleted_at": None,
        "uuid": "838853e3-3635-4076-a26f-7efr4e60981f",
        "revision": 1,
        # The old library raised KeyError when either key was absent; absent now means None.
        "notes": payload.get("notes") or None,
        "issue_uri": payload.get("issue_uri") or None,
    }


def _updated_time(payload: dict[str, Any], uuid: str) -> dict[str, Any]:
    return {
        "duration": payload.get("duration", 18),
        "user": payload.get("user", "example-user"),
        "activities": payload.get("activities", ["qa"]),
        "project": payload.get("project", ["ganeti"]),
        "notes": payload.get("notes"),
        "issue_uri": payload.get("issue_uri", "https://github.com/osuosl/ganeti_webmgr/issues/56"),
        "date_worked": payload.get("date_worked", "2015-08-07"),
        "created_at": "2014-06-12",
        "updated_at": "2015-10-18",
        "deleted_at": None,
        "uuid": uuid,
        "revision": 2,
    }


def _created_project(payload: dict[str, Any]) -> dict[str, Any]:
    default_users = {
        "mrsj": {"member": True, "spectator": True, "manager": True},
        "tschuy": {"member": True, "spectator": False, "manager": False},
    }
    return {
        **payload,
        "users": payload.get("users", default_users),
        "uuid": "309eae69-21dc-4538-9fdc-e6892a9c4dd4",
        "revision": 1,
        "created_at": "2015-05-23",
        "updated_at": None,
        "deleted_at": None,
        "uri": payload.get("uri"),
    }


def _updated_project(payload: dict[str, Any], slug: str) -> dict[str, Any]:
    return {
        "uri": payload.get("uri"),
        "name": payload.get("name", "TimeSync API"),
        "slugs": payload.get("slugs", [slug]),
        "created_at": "2014-04-16",
        "updated_at": "2014-04-18",
        "deleted_at": None,
        "uuid": "309eae69-21dc-4538-9fdc-e6892a9c4dd4",
        "revision": 2,
        "users": _roles(["patcht", "tschuy"], ["tschuy"], ["tschuy"]),
    }


def _created_activity(payload: dict[str, Any]) -> dict[str, Any]:
    return {
        **payload,
        "uuid": "cfa07a4f-d446-4078-8d73-2f77560c35c0",
        "created_at": "2013-07-27",
        "updated_at": None,
        "deleted_at": None,
        "revision": 1,
    }


def _updated_activity(payload: dict[str, Any], slug: str) -> dict[str, Any]:
    return {
        "name": payload.get("name", "Testing Infra"),
        "slug": payload.get("slug", slug),
        "uuid": "3cf78d25-411c-4d1f-80c8-a09e5e12cae3",
        "created_at": "2014-04-16",
        "updated_at": "2014-04-17",
        "deleted_at": None,
        "revision": 2,
    }


def _created_user(payload: dict[str, Any]) -> dict[str, Any]:
    user = {key: value for key, value in payload.items() if key != "password"}
    return {
        **user,
        "active": True,
        **_flags_or_false(payload),
        "created_at": "2015-05-23",
        "deleted_at": None,
    }


def _updated_user(payload: dict[str, Any], username: str) -> dict[str, Any]:
    return {
        "username": payload.get("username", username),
        "display_name": payload.get("display_name", "Mr. Example"),
        "email": payload.get("email", "examplej@example.com"),
        "active": True,
        **_flags_or_false(payload),
        "created_at": "2015-02-29",
        "deleted_at": None,
    }


_CREATED = {
    "time": _created_time,
    "project": _created_project,
    "activity": _created_activity,
    "user": _created_user,
}
_UPDATED = {
    "time": _updated_time,
    "project": _updated_project,
    "activity": _updated_activity,
    "user": _updated_user,
}


class TestModeBackend:
    """Answers every call with the old library's canned data."""

    __test__ = False  # not a pytest test class, whatever its name says

    def login(self, username: str, password: str, auth_type: str) -> Any:
        """Always succeeds with ``{"token": "TESTTOKEN"}``."""
        return {"token": TEST_TOKEN}

    def write(self, entity: Entity, ident: str | None, payload: dict[str, Any], token: str) -> Any:
        """The canned created (``ident`` None) or updated object."""
        if ident is None:
            return _CREATED[entity](payload)
        return _UPDATED[entity](payload, ident)

    def delete(self, entity: Entity, ident: str, token: str) -> Any:
        """``[{"status": 200}]``: a list, as the old test mode returned it."""
        return [{"status": 200}]

    def times(self, query: TimesQuery, token: str) -> Any:
        """Three canned times, or one with the asked-for uuid."""
        if query.uuid is not None:
            return [{**copy.deepcopy(_TIMES[0]), "uuid": query.uuid}]
        return copy.deepcopy(_TIMES)

    def entities(self, query: EntityQuery, token: str) -> Any:
        """Canned projects, activities or users; one when a slug/username is given."""
        if query.entity == "project":
            if query.slug is not None:
                return [{**copy.deepcopy(_PROJECTS[0]), "slugs": [query.slug]}]
            return copy.deepcopy(_PROJECTS)
        if query.entity == "activity":
            if query.slug is not None:
                return [{**copy.deepcopy(_ACTIVITIES[0]), "slug": query.slug}]
            return copy.deepcopy(_ACTIVITIES)
        if query.slug is not None:
            return [
                {
                    **_user(query.slug, "X. Ample User", "example@example.com"),
                    "site_admin": query.slug == "admin",
                    "site_spectator": query.slug == "spectator",
                    "site_manager": query.slug == "manager",
                }
            ]
        return copy.deepcopy(_USERS)

    def project_users(self, slug: str, token: str) -> dict[str, list[str]]:
        """The canned crew of Serenity."""
        return copy.deepcopy(PROJECT_USERS)

    def token_expiration(self, token: str) -> dt.datetime:
        """Always 2016-01-13 11:45:34."""
        return TEST_EXPIRATION
