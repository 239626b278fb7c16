"""Local checks: exact messages, their order, the duration grammar, no mutation."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from conftest import TOKEN

import pymesync
from pymesync import validation
from pymesync.errors import ValidationError

NOT_AUTH = {"pymesync error": "Not authenticated with TimeSync, call self.authenticate() first"}
TIME = {"duration": 1200, "project": "gwm", "user": "alice", "date_worked": "2014-04-17"}


@pytest.fixture
def anon() -> pymesync.TimeSync:
    return pymesync.TimeSync("http://x/v0")


@pytest.fixture
def ts(requests_mock: Any) -> pymesync.TimeSync:
    """Authenticated; any request that does go out gets a harmless answer."""
    import re

    for method in ("GET", "POST", "DELETE"):
        requests_mock.register_uri(method, re.compile(".*"), json={"ok": True})
    return pymesync.TimeSync("http://x/v0", token=TOKEN, mode="direct")


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("3h30m", 12600),
        ("0h30m", 1800),
        ("1h5m", 3900),
        ("03h05m", 11100),
        ("23h59m", 86340),
        ("3H30M", 12600),
        ("0h0m", 0),
        ("9h09M", 32940),
    ],
)
def test_duration_strings(text: str, seconds: int) -> None:
    assert validation.parse_duration(text) == seconds


@pytest.mark.parametrize(
    "value",
    [
        "3h",
        "30m",
        "24h00m",
        "3h60m",
        "3hh30m",
        "3h30m15h",
        "junktime",
        " 3h30m",
        "3h30m ",
        "+3h30m",
        "-3h30m",
        "123h1m",
        "",
        "３h30m",
        1.5,
        None,
        b"3h30m",
        [],
        {},
    ],
)
def test_bad_durations(value: Any) -> None:
    with pytest.raises(ValidationError) as info:
        validation.parse_duration(value)
    assert info.value.message == "time object: invalid duration string" and info.value.as_list


def test_ints_pass_through_bools_and_negatives_refused() -> None:
    assert validation.parse_duration(7) == 7
    # The old library took True as 1 second (bool is an int subclass); now refused.
    for flag in (True, False):
        with pytest.raises(ValidationError, match=r"^time object: invalid duration string$"):
            validation.parse_duration(flag)
    with pytest.raises(ValidationError, match=r"^time object: duration cannot be negative$"):
        validation.parse_duration(-1)


def test_duration_error_is_a_list_even_from_create_and_update(ts: pymesync.TimeSync) -> None:
    err = [{"pymesync error": "time object: invalid duration string"}]
    assert ts.create_time({**TIME, "duration": "3h"}) == err
    assert ts.update_time({"duration": "x"}, "uuid") == err
    assert ts.create_time({**TIME, "duration": -5}) == {
        "pymesync error": "time object: duration cannot be negative"
    }


def test_fix_time_without_duration_gets_missing_field_error(ts: pymesync.TimeSync) -> None:
    time = {k: v for k, v in TIME.items() if k != "duration"}
    assert ts.create_time(time) == {
        "pymesync error": "time object: missing required field(s): duration"
    }


def test_missing_fields_listed_in_contract_order(ts: pymesync.TimeSync) -> None:
    assert ts.create_time({"notes": "x"}) == {
        "pymesync error": "time object: missing required field(s): duration, project, user, "
        "date_worked"
    }
    assert ts.create_project({"uri": "https://x.org"}) == {
        "pymesync error": "project object: missing required field(s): name, slugs"
    }
    assert ts.create_activity({}) == {
        "pymesync error": "activity object: missing required field(s): name, slug"
    }
    assert ts.create_user({"display_name": "x"}) == {
        "pymesync error": "user object: missing required field(s): username, password"
    }


def test_first_invalid_field_in_dict_order(ts: pymesync.TimeSync) -> None:
    assert ts.create_project({"zzz": 1, "aaa": 2, "name": "n"}) == {
        "pymesync error": "project object: invalid field: zzz"
    }
    # invalid field is reported before missing fields; updates check fields too
    assert ts.update_activity({"slugs": ["x"]}, "a") == {
        "pymesync error": "activity object: invalid field: slugs"
    }
    assert ts.update_time({"uuid": "x"}, "u") == {
        "pymesync error": "time object: invalid field: uuid"
    }


@pytest.mark.parametrize(
    "method", ["create_time", "create_project", "create_activity", "create_user"]
)
def test_must_be_dict(ts: pymesync.TimeSync, method: str) -> None:
    entity = method.split("_")[1]
    assert getattr(ts, method)(["not", "a", "dict"]) == {
        "pymesync error": f"{entity} object: must be python dictionary"
    }


def test_user_flag_checks_in_order(ts: pymesync.TimeSync) -> None:
    user = {
        "username": "u",
        "password": "p",
        "active": 1,
        "site_spectator": "x",
        "site_manager": None,
        "site_admin": 0,
    }
    assert ts.create_user(user) == {
        "pymesync error": "user object: site_admin must be True or False"
    }
    del user["site_admin"]
    assert ts.update_user(user, "u") == {
        "pymesync error": "user object: site_manager must be True or False"
    }


def test_order_duration_before_auth_before_fields(anon: pymesync.TimeSync) -> None:
    assert anon.create_time({"duration": "bad", "bogus": 1}) == [
        {"pymesync error": "time object: invalid duration string"}
    ]
    assert anon.create_time({"duration": 5, "bogus": 1}) == NOT_AUTH
    assert anon.create_user({"username": "u", "password": "p", "active": "no"}) == {
        "pymesync error": "user object: active must be True or False"
    }
    assert anon.create_user({"username": "u", "bogus": 1}) == NOT_AUTH


def test_every_method_needs_a_token(anon: pymesync.TimeSync) -> None:
    for method, args in [
        ("create_time", (TIME,)),
        ("update_time", ({"notes": "x"}, "u")),
        ("create_project", ({},)),
        ("update_project", ({}, "p")),
        ("create_activity", ({},)),
        ("update_activity", ({}, "a")),
        ("create_user", ({},)),
        ("update_user", ({}, "u")),
        ("delete_time", ()),
        ("delete_project", ("p",)),
        ("delete_activity", ()),
        ("delete_user", ("u",)),
        ("token_expiration_time", ()),
        ("project_users", ()),
    ]:
        assert getattr(anon, method)(*args) == NOT_AUTH, method
    for method in ["get_times", "get_projects", "get_activities", "get_users"]:
        assert getattr(anon, method)() == [NOT_AUTH], method


def test_get_times_auth_before_query_keys(anon: pymesync.TimeSync) -> None:
    assert anon.get_times({"bogus": 1}) == [NOT_AUTH]


@pytest.mark.parametrize(
    ("method", "args"),
    [
        ("create_time", ({**TIME, "duration": "1h1m", "activities": ["a"]},)),
        ("update_time", ({"duration": "2h0m", "activities": ["a"]}, "u")),
        ("create_project", ({"name": "n", "slugs": ["a"], "users": {"x": {"member": True}}},)),
        ("update_project", ({"slugs": ["b"]}, "a")),
        ("create_user", ({"username": "u", "password": "pw"},)),
        ("update_user", ({"password": "pw"}, "u")),
        ("get_times", ({"user": ["a"], "include_deleted": True, "uuid": "x"},)),
        ("get_times", ({"user": ["a"], "include_deleted": True},)),
        ("get_projects", ({"slug": "a", "include_revisions": True},)),
        ("get_activities", ({"slug": "a"},)),
    ],
)
def test_fix_callers_dicts_are_never_mutated(
    ts: pymesync.TimeSync, method: str, args: tuple[Any, ...]
) -> None:
    before = copy.deepcopy(args)
    getattr(ts, method)(*args)
    assert args == before


def test_fix_callers_dicts_not_mutated_in_test_mode() -> None:
    ts = pymesync.TimeSync("http://x/v0", token="T", test=True)
    time = {**TIME, "duration": "1h0m", "notes": "n", "issue_uri": "https://x.org"}
    before = dict(time)
    created = ts.create_time(time)
    created["notes"] = "changed"
    assert time == before


def test_values_that_cannot_be_json_are_refused(ts: pymesync.TimeSync) -> None:
    assert ts.create_time({**TIME, "notes": {1, 2}}) == {
        "pymesync error": "time object: notes must be a string, not a set"
    }
    assert ts.create_project({"name": "n", "slugs": ["a"], "users": {1: {}}}) == {
        "pymesync error": "project object: users key must be a username (letters, digits, _, ~"
        " and -), not 1"
    }
    assert ts.create_time({**TIME, "notes": float("nan")}) == {
        "pymesync error": "time object: notes must be a string, not nan"
    }


def test_tuples_are_sent_as_lists(ts: pymesync.TimeSync, requests_mock: Any) -> None:
    ts.create_project({"name": "n", "slugs": ("a", "b")})
    import json

    assert json.loads(requests_mock.last_request.body)["object"]["slugs"] == ["a", "b"]


def test_bad_password_type(ts: pymesync.TimeSync) -> None:
    assert ts.create_user({"username": "u", "password": 5}) == {
        "pymesync error": "user object: password must be a non-empty string"
    }


def test_is_bcrypt_hash() -> None:
    assert validation.is_bcrypt_hash("$2a$10$" + "a" * 53)
    assert not validation.is_bcrypt_hash("$2a$10$" + "a" * 52)
    assert not validation.is_bcrypt_hash("password")


class _Text(str):
    pass


def test_json_copy_copies_containers_and_keeps_scalars() -> None:
    inner = ["dev", 3, None, True, 1.5, _Text("sub"), ("a", "b"), {"k": ["x"]}]
    value = {"list": inner, "text": _Text("t"), "none": None}
    copied = validation.json_copy(value, "here")
    assert copied == {
        "list": ["dev", 3, None, True, 1.5, "sub", ["a", "b"], {"k": ["x"]}],
        "text": "t",
        "none": None,
    }
    assert copied is not value and copied["list"] is not inner
    assert copied["list"][7] is not inner[7] and copied["list"][7]["k"] is not inner[7]["k"]
    assert type(copied["list"][5]) is _Text and type(copied["list"][6]) is list
    for bad in (["ok", float("nan")], ["ok", object()], [{1: "x"}]):
        with pytest.raises(ValidationError, match="here: value cannot be sent as JSON"):
            validation.json_copy(bad, "here")


def test_validate_write_copies_every_container() -> None:
    payload = {
        "duration": "1h0m",
        "project": "gwm",
        "user": "alice",
        "date_worked": "2026-11-29",
        "activities": ["dev"],
        "notes": None,
    }
    checked = validation.validate_write("time", payload, create=True, authenticated=True)
    assert checked == {**payload, "duration": 3600}
    assert checked["activities"] is not payload["activities"]
    with pytest.raises(ValidationError, match="activities must hold slugs .*, not inf$"):
        validation.validate_write(
            "time", {**payload, "activities": [float("inf")]}, create=True, authenticated=True
        )
