"""Test mode returns the old library's canned data exactly, and still validates."""

from __future__ import annotations

import datetime as dt
import socket
from typing import Any

import pytest

import pymesync

TIME = {"duration": 1200, "project": "gwm", "user": "alice", "date_worked": "2014-04-17"}


@pytest.fixture(autouse=True)
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Test mode must never open a socket."""

    def refuse(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("test mode touched the network")

    monkeypatch.setattr(socket.socket, "connect", refuse)


def test_authenticate(test_ts: pymesync.TimeSync) -> None:
    ts = pymesync.TimeSync("http://x/v0", test=True)
    assert ts.authenticate("u", "p", "password") == {"token": "TESTTOKEN"}
    assert ts.token == "TESTTOKEN"
    assert ts.authenticate("u", "", "password") == {
        "pymesync error": "Missing password; please add to method call"
    }


def test_authenticate_missing_names_in_order() -> None:
    ts = pymesync.TimeSync("http://x/v0", test=True)
    assert ts.authenticate(password="p") == {
        "pymesync error": "Missing username, auth_type; please add to method call"
    }
    assert ts.authenticate() == {
        "pymesync error": "Missing username, password, auth_type; please add to method call"
    }


def test_token_expiration_time(test_ts: pymesync.TimeSync) -> None:
    assert test_ts.token_expiration_time() == dt.datetime(2016, 1, 13, 11, 45, 34)


def test_create_time(test_ts: pymesync.TimeSync) -> None:
    given = {**TIME, "duration": "3h30m", "notes": "", "activities": ["docs"]}
    before = dict(given)
    assert test_ts.create_time(given) == {
        "duration": 12600,
        "project": "gwm",
        "user": "alice",
        "date_worked": "2014-04-17",
        "activities": ["docs"],
        "notes": None,
        "issue_uri": None,
        "created_at": "2015-05-23",
        "updated_at": None,
        "deleted_at": None,
        "uuid": "838853e3-3635-4076-a26f-7efr4e60981f",
        "revision": 1,
    }
    assert given == before


def test_fix_create_time_without_notes_or_issue_uri(test_ts: pymesync.TimeSync) -> None:
    # The old test mode raised KeyError when notes or issue_uri was absent.
    answer = test_ts.create_time(TIME)
    assert answer["notes"] is None and answer["issue_uri"] is None


def test_update_time(test_ts: pymesync.TimeSync) -> None:
    assert test_ts.update_time({"duration": 1900, "user": "red-leader"}, "some-uuid") == {
        "duration": 1900,
        "user": "red-leader",
        "activities": ["qa"],
        "project": ["ganeti"],
        "notes": None,
        "issue_uri": "https://github.com/osuosl/ganeti_webmgr/issues/56",
        "date_worked": "2015-08-07",
        "created_at": "2014-06-12",
        "updated_at": "2015-10-18",
        "deleted_at": None,
        "uuid": "some-uuid",
        "revision": 2,
    }


def test_create_project(test_ts: pymesync.TimeSync) -> None:
    assert test_ts.create_project({"name": "TimeSync API", "slugs": ["timesync", "time"]}) == {
        "name": "TimeSync API",
        "slugs": ["timesync", "time"],
        "users": {
            "mrsj": {"member": True, "spectator": True, "manager": True},
            "tschuy": {"member": True, "spectator": False, "manager": False},
        },
        "uuid": "309eae69-21dc-4538-9fdc-e6892a9c4dd4",
        "revision": 1,
        "created_at": "2015-05-23",
        "updated_at": None,
        "deleted_at": None,
        "uri": None,
    }
    users = {"oz": {"member": False, "spectator": True, "manager": False}}
    given = {"name": "n", "slugs": ["n"], "users": users, "uri": "https://x.org"}
    answer = test_ts.create_project(given)
    assert answer["users"] == users and answer["uri"] == "https://x.org"


def test_update_project(test_ts: pymesync.TimeSync) -> None:
    assert test_ts.update_project({"name": "pymesync"}, "ps") == {
        "uri": None,
        "name": "pymesync",
        "slugs": ["ps"],
        "created_at": "2014-04-16",
        "updated_at": "2014-04-18",
        "deleted_at": None,
        "uuid": "309eae69-21dc-4538-9fdc-e6892a9c4dd4",
        "revision": 2,
        "users": {
            "patcht": {"member": True, "spectator": False, "manager": False},
            "tschuy": {"member": True, "spectator": True, "manager": True},
        },
    }
    assert test_ts.update_project({}, "ps")["name"] == "TimeSync API"


def test_create_and_update_activity(test_ts: pymesync.TimeSync) -> None:
    assert test_ts.create_activity({"name": "Quality Assurance/Testing", "slug": "qa"}) == {
        "name": "Quality Assurance/Testing",
        "slug": "qa",
        "uuid": "cfa07a4f-d446-4078-8d73-2f77560c35c0",
        "created_at": "2013-07-27",
        "updated_at": None,
        "deleted_at": None,
        "revision": 1,
    }
    assert test_ts.update_activity({"name": "Code in the wild"}, "ciw") == {
        "name": "Code in the wild",
        "slug": "ciw",
        "uuid": "3cf78d25-411c-4d1f-80c8-a09e5e12cae3",
        "created_at": "2014-04-16",
        "updated_at": "2014-04-17",
        "deleted_at": None,
        "revision": 2,
    }
    assert test_ts.update_activity({}, "ciw")["name"] == "Testing Infra"


def test_create_user(test_ts: pymesync.TimeSync) -> None:
    given = {
        "username": "example",
        "password": "password",
        "display_name": "X. Ample User",
        "email": "example@example.com",
        "site_admin": True,
        "active": False,
    }
    assert test_ts.create_user(given) == {
        "username": "example",
        "display_name": "X. Ample User",
        "email": "example@example.com",
        "active": True,
        "site_admin": True,
        "site_manager": False,
        "site_spectator": False,
        "created_at": "2015-05-23",
        "deleted_at": None,
    }
    assert given["password"] == "password"


def test_update_user(test_ts: pymesync.TimeSync) -> None:
    assert test_ts.update_user({"email": "red-leader@yavin.com"}, "example") == {
        "username": "example",
        "display_name": "Mr. Example",
        "email": "red-leader@yavin.com",
        "active": True,
        "site_admin": False,
        "site_manager": False,
        "site_spectator": False,
        "created_at": "2015-02-29",
        "deleted_at": None,
    }


def test_get_times(test_ts: pymesync.TimeSync) -> None:
    times = test_ts.get_times()
    assert [t["uuid"] for t in times] == [
        "c3706e79-1c9a-4765-8d7f-89b4544cad56",
        "12345676-1c9a-rrrr-bbbb-89b4544cad56",
        "12345676-1c9a-ssss-cccc-89b4544cad56",
    ]
    assert [(t["user"], t["duration"], t["project"]) for t in times] == [
        ("userone", 12, ["ganeti-webmgr", "gwm"]),
        ("usertwo", 13, ["ganeti-webmgr", "gwm"]),
        ("userthree", 14, ["timesync", "ts"]),
    ]
    assert times[0] == {
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
    }
    assert times[1]["activities"] == ["code", "planning"]
    assert times[2]["activities"] == ["code"]
    assert times[2]["issue_uri"] == "https://github.com/osuosl/timesync"
    assert test_ts.get_times({"uuid": "some-uuid"}) == [{**times[0], "uuid": "some-uuid"}]


def test_get_projects(test_ts: pymesync.TimeSync) -> None:
    projects = test_ts.get_projects()
    assert [p["slugs"] for p in projects] == [["gwm"], ["timesync", "ts"], ["pymesync", "ps"]]
    assert projects[0] == {
        "uri": "https://code.osuosl.org/projects/ganeti-webmgr",
        "name": "Ganeti Web Manager",
        "slugs": ["gwm"],
        "uuid": "a034806c-00db-4fe1-8de8-514575f31bfb",
        "revision": 4,
        "created_at": "2014-07-17",
        "deleted_at": None,
        "updated_at": "2014-07-20",
        "users": {
            "patcht": {"member": True, "spectator": False, "manager": False},
            "tschuy": {"member": True, "spectator": True, "manager": True},
        },
    }
    # username -> flags, as the old library's canned data (callers index by username)
    assert projects[1]["users"] == {
        "patcht": {"member": True, "spectator": False, "manager": False},
        "mrsj": {"member": True, "spectator": True, "manager": False},
        "tschuy": {"member": True, "spectator": True, "manager": True},
    }
    assert projects[2]["users"] == {
        "patcht": {"member": True, "spectator": False, "manager": False},
        "tschuy": {"member": True, "spectator": True, "manager": False},
        "mrsj": {"member": True, "spectator": True, "manager": True},
        "MaraJade": {"member": True, "spectator": False, "manager": False},
        "thai": {"member": True, "spectator": False, "manager": False},
    }
    assert test_ts.get_projects({"slug": "xyz"}) == [{**projects[0], "slugs": ["xyz"]}]


def test_get_activities(test_ts: pymesync.TimeSync) -> None:
    activities = test_ts.get_activities()
    assert [(a["name"], a["slug"], a["revision"]) for a in activities] == [
        ("Documentation", "docs", 5),
        ("Coding", "dev", 1),
        ("Planning", "plan", 1),
    ]
    assert activities[0] == {
        "name": "Documentation",
        "slug": "docs",
        "uuid": "adf036f5-3d49-4a84-bef9-062b46380bbf",
        "revision": 5,
        "created_at": "2014-04-17",
        "deleted_at": None,
        "updated_at": None,
    }
    assert test_ts.get_activities({"slug": "qa"}) == [{**activities[0], "slug": "qa"}]


def test_get_users(test_ts: pymesync.TimeSync) -> None:
    users = test_ts.get_users()
    assert [(u["username"], u["display_name"], u["email"]) for u in users] == [
        ("userone", "One Is The Loneliest Number", "exampleone@example.com"),
        ("usertwo", "Two Can Be As Bad As One", "exampletwo@example.com"),
        ("userthree", "Yes It's The Saddest Experience", "examplethree@example.com"),
        ("userfour", "You'll Ever Do", "examplefour@example.com"),
    ]
    for user in users:
        assert (
            user["active"],
            user["site_admin"],
            user["site_manager"],
            user["site_spectator"],
            user["created_at"],
            user["deleted_at"],
        ) == (True, False, False, False, "2015-02-29", None)


@pytest.mark.parametrize(
    ("name", "flags"),
    [
        ("admin", (True, False, False)),
        ("manager", (False, True, False)),
        ("spectator", (False, False, True)),
        ("someone", (False, False, False)),
    ],
)
def test_get_one_user(test_ts: pymesync.TimeSync, name: str, flags: tuple[bool, ...]) -> None:
    [user] = test_ts.get_users(name)
    assert user == {
        "username": name,
        "display_name": "X. Ample User",
        "email": "example@example.com",
        "active": True,
        "site_admin": flags[0],
        "site_manager": flags[1],
        "site_spectator": flags[2],
        "created_at": "2015-02-29",
        "deleted_at": None,
    }


@pytest.mark.parametrize(
    ("method", "ident"),
    [("delete_time", "u"), ("delete_project", "p"), ("delete_activity", "a"), ("delete_user", "x")],
)
def test_delete_returns_a_list_in_test_mode(
    test_ts: pymesync.TimeSync, method: str, ident: str
) -> None:
    assert getattr(test_ts, method)(ident) == [{"status": 200}]


def test_project_users(test_ts: pymesync.TimeSync) -> None:
    assert test_ts.project_users("ff") == {
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


def test_validation_still_runs_in_test_mode(test_ts: pymesync.TimeSync) -> None:
    assert test_ts.create_time({**TIME, "bogus": 1}) == {
        "pymesync error": "time object: invalid field: bogus"
    }
    assert test_ts.create_user({"username": "x", "password": "y", "active": "yes"}) == {
        "pymesync error": "user object: active must be True or False"
    }
    assert test_ts.get_times({"nope": 1}) == [{"pymesync error": "invalid query: nope"}]
    unauthenticated = pymesync.TimeSync("http://x/v0", test=True)
    assert unauthenticated.get_users() == [
        {"pymesync error": "Not authenticated with TimeSync, call self.authenticate() first"}
    ]


def test_test_mode_touches_no_disk(
    test_ts: pymesync.TimeSync, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    import builtins

    def refuse(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("test mode opened a file")

    monkeypatch.setattr(builtins, "open", refuse)
    test_ts.create_time(TIME)
    test_ts.get_times()
    test_ts.delete_time("x")
