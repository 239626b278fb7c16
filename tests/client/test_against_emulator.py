"""The documented API against the emulator over real loopback HTTP (no requests-mock).

The same return shapes, server error dicts and local error strings as the mocked tests,
checked against a real server, in the old library's direct mode and in the default
offline-first mode, so that the client and the emulator are checked against each other.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest

import pymesync
from pymesync.testing import run_emulator

MODES = ["direct", "auto"]
TODAY = dt.datetime.now(dt.timezone.utc).date()
YESTERDAY = (TODAY - dt.timedelta(days=1)).isoformat()


@pytest.fixture(scope="module")
def emulator() -> Iterator[Any]:
    with run_emulator(seed_data=True) as emu:
        yield emu


@pytest.fixture(params=MODES)
def mode(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def login(emulator: Any, mode: str, username: str = "alice") -> pymesync.TimeSync:
    ts = pymesync.TimeSync(emulator.base_url, mode=mode)  # type: ignore[arg-type]
    answer = ts.authenticate(username, username if username != "admin" else "admin", "password")
    assert set(answer) == {"token"}
    return ts


def a_time(**changes: Any) -> dict[str, Any]:
    return {
        "duration": "1h30m",
        "project": "gwm",
        "user": "alice",
        "date_worked": YESTERDAY,
        "activities": ["dev"],
        "notes": "contract",
        **changes,
    }


def test_authenticate_and_token_expiry(emulator: Any, mode: str) -> None:
    ts = login(emulator, mode)
    expires = ts.token_expiration_time()
    assert isinstance(expires, dt.datetime) and expires.tzinfo is None
    minutes = (expires - dt.datetime.now()).total_seconds() / 60
    assert 28 < minutes <= 30.1
    bad = pymesync.TimeSync(emulator.base_url, mode=mode)  # type: ignore[arg-type]
    assert bad.authenticate("alice", "wrong", "password") == {
        "status": 401,
        "error": "Authentication failure",
        "text": "Incorrect username or password",
    }
    assert bad.token is None


def test_time_lifecycle(emulator: Any, mode: str) -> None:
    ts = login(emulator, mode)
    created = ts.create_time(a_time())
    assert created["duration"] == 5400 and created["revision"] == 1
    assert created["project"] == "gwm"  # the create response echoes the single slug
    assert created["deleted_at"] is None and created["updated_at"] is None
    uuid = created["uuid"]
    [fetched] = ts.get_times({"uuid": uuid})
    assert fetched["project"] == ["ganeti-webmgr", "gwm"] and fetched["activities"] == ["dev"]
    updated = ts.update_time({"notes": "changed", "duration": 60}, uuid)
    assert (updated["revision"], updated["notes"], updated["duration"]) == (2, "changed", 60)
    mine = ts.get_times({"user": "alice", "project": "ganeti-webmgr", "start": YESTERDAY})
    assert uuid in [t["uuid"] for t in mine]
    assert ts.delete_time(uuid) == {"status": 200}
    assert ts.get_times({"uuid": uuid}) == [
        {"status": 404, "error": "Object not found", "text": "Nonexistent time"}
    ]
    [gone] = ts.get_times({"uuid": uuid, "include_deleted": True})
    assert gone["deleted_at"] == TODAY.isoformat()


def test_server_errors_are_passed_through(emulator: Any, mode: str) -> None:
    ts = login(emulator, mode)
    assert ts.create_time(a_time(user="bob")) == {
        "status": 401,
        "error": "Authorization failure",
        "text": "alice is not authorized to create time entries for bob",
    }
    answer = ts.create_time(a_time(project="nope"))
    assert answer["status"] == 409 and answer["error"] == "Invalid foreign key"
    [listed] = ts.get_times({"user": "nobody-at-all"})
    assert listed["status"] == 400 and listed["error"] == "Bad query value"
    assert ts.get_projects({"slug": "no-such-project"}) == [
        {"status": 404, "error": "Object not found", "text": "Nonexistent project"}
    ]


def test_local_errors_are_the_same_as_before(emulator: Any, mode: str) -> None:
    ts = login(emulator, mode)
    assert ts.create_time(a_time(duration="3h")) == [
        {"pymesync error": "time object: invalid duration string"}
    ]
    assert ts.create_time({"project": "gwm"}) == {
        "pymesync error": "time object: missing required field(s): duration, user, date_worked"
    }
    assert ts.get_times({"bogus": 1}) == [{"pymesync error": "invalid query: bogus"}]
    assert ts.delete_time() == {"pymesync error": "missing uuid; please add to method call"}


def test_admin_objects_and_project_users(emulator: Any, mode: str) -> None:
    admin = login(emulator, mode, "admin")
    suffix = mode
    activity = admin.create_activity({"name": f"Review {suffix}", "slug": f"review-{suffix}"})
    assert activity["slug"] == f"review-{suffix}" and activity["revision"] == 1
    project = admin.create_project(
        {
            "name": f"Contract {suffix}",
            "slugs": [f"contract-{suffix}"],
            "default_activity": f"review-{suffix}",
            "users": {"alice": {"member": True, "spectator": False, "manager": True}},
        }
    )
    assert project["revision"] == 1
    assert admin.project_users(f"contract-{suffix}") == {"alice": ["member", "manager"]}
    renamed = admin.update_project({"name": f"Contract {suffix} 2"}, f"contract-{suffix}")
    assert renamed["revision"] == 2 and renamed["name"] == f"Contract {suffix} 2"
    [found] = admin.get_activities({"slug": f"review-{suffix}"})
    assert found["name"] == f"Review {suffix}"
    duplicate = admin.create_activity({"name": "Other", "slug": f"review-{suffix}"})
    assert duplicate["status"] == 409 and duplicate["error"] == "The slug provided already exists"
    user = admin.create_user({"username": f"erin-{suffix}", "password": "pw"})
    assert user["username"] == f"erin-{suffix}" and "password" not in user
    erin = pymesync.TimeSync(emulator.base_url, mode=mode)  # type: ignore[arg-type]
    assert set(erin.authenticate(f"erin-{suffix}", "pw", "password")) == {"token"}
    [erin_row] = admin.get_users(f"erin-{suffix}")
    assert erin_row["active"] is True
    # a project in use by a time cannot be deleted
    alice = login(emulator, mode)
    alice.create_time(a_time(project=f"contract-{suffix}", activities=[f"review-{suffix}"]))
    blocked = admin.delete_project(f"contract-{suffix}")
    assert blocked["status"] == 405 and blocked["error"] == "Method not allowed"
    assert admin.delete_user(f"erin-{suffix}") == {"status": 200}


def test_wrong_prefix_gets_the_hint(emulator: Any, mode: str) -> None:
    url = emulator.base_url.replace("/v0", "/v1")
    ts = pymesync.TimeSync(url, token="x", mode=mode)  # type: ignore[arg-type]
    [answer] = ts.get_activities()
    message = answer["pymesync error"]
    assert message.startswith(
        f"connection to TimeSync failed at baseurl {url} - response status was 404"
    )
    assert "/v0" in message
