"""Local checks: exact messages, their order, the duration grammar, no mutation."""

from __future__ import annotations

import copy
import datetime as dt
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
    with pytest.raises(ValidationError, match=r"activities must hold slugs .*, not inf$"):
        validation.validate_write(
            "time", {**payload, "activities": [float("inf")]}, create=True, authenticated=True
        )


# --------------------------------------------------------------------------- issue 12:
# everything the client can check is checked before anything is sent or queued.

RULE = "lowercase letters and digits in groups joined by single hyphens, at least one letter"


@pytest.mark.parametrize("flag", [True, False])
def test_bool_durations_are_refused_in_every_shape(flag: bool) -> None:
    err = [{"pymesync error": "time object: invalid duration string"}]
    for client in (
        pymesync.TimeSync("http://x/v0", token=TOKEN, mode="direct"),
        pymesync.TimeSync("http://x/v0", token=TOKEN, test=True),
    ):
        assert client.create_time({**TIME, "duration": flag}) == err
        assert client.update_time({"duration": flag}, "u") == err
    raising = pymesync.TimeSync("http://x/v0", token=TOKEN, test=True, raise_errors=True)
    with pytest.raises(ValidationError, match="invalid duration string"):
        raising.create_time({**TIME, "duration": True})


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"duration": 0}, "time object: duration must be more than zero"),
        ({"duration": "0h0m"}, "time object: duration must be more than zero"),
        (
            {"duration": 7 * 86400 + 1},
            "time object: duration 604801 is too long (at most 604800 seconds, 7 days, per entry)",
        ),
        ({"duration": 10**30}, f"time object: duration {10**30} is too long"),
        ({"duration": 10**5000}, "time object: duration is too long (at most 604800 seconds"),
        ({"project": "GWM"}, f"time object: project must be a slug ({RULE}), not 'GWM'"),
        ({"project": "a_b"}, f"time object: project must be a slug ({RULE}), not 'a_b'"),
        ({"project": "1"}, f"time object: project must be a slug ({RULE}), not '1'"),
        ({"project": "-a"}, f"time object: project must be a slug ({RULE}), not '-a'"),
        ({"project": "a--b"}, f"time object: project must be a slug ({RULE}), not 'a--b'"),
        ({"project": ["gwm"]}, f"time object: project must be a slug ({RULE}), not a list"),
        ({"project": None}, f"time object: project must be a slug ({RULE}), not None"),
        (
            {"user": "al ice"},
            "time object: user must be a username (letters, digits, _, ~ and -), not 'al ice'",
        ),
        ({"user": 5}, "time object: user must be a username (letters, digits, _, ~ and -), not 5"),
        (
            {"date_worked": "2026-02-30"},
            "time object: date_worked is not a real date: '2026-02-30'",
        ),
        (
            {"date_worked": "2026-13-01"},
            "time object: date_worked is not a real date: '2026-13-01'",
        ),
        (
            {"date_worked": "17/04/2014"},
            "time object: date_worked must be a date as YYYY-MM-DD, not '17/04/2014'",
        ),
        (
            {"date_worked": "2014-04-17T10:00"},
            "time object: date_worked must be a date as YYYY-MM-DD, not '2014-04-17T10:00'",
        ),
        (
            {"date_worked": dt.date(2014, 4, 17)},
            "time object: date_worked must be a date as YYYY-MM-DD, not a date",
        ),
        (
            {"date_worked": "1970-01-01"},
            "time object: date_worked 1970-01-01 is refused by the server",
        ),
        ({"notes": 5}, "time object: notes must be a string, not 5"),
        ({"notes": ["a"]}, "time object: notes must be a string, not a list"),
        (
            {"issue_uri": "ftp://x.org/1"},
            "time object: issue_uri must be an http or https URL, not 'ftp://x.org/1'",
        ),
        (
            {"issue_uri": "github.com/x/1"},
            "time object: issue_uri must be an http or https URL, not 'github.com/x/1'",
        ),
        (
            {"issue_uri": "https://x.org/a b"},
            "time object: issue_uri must be an http or https URL, not 'https://x.org/a b'",
        ),
        (
            {"issue_uri": "https://x.org:port/"},
            "time object: issue_uri must be an http or https URL, not 'https://x.org:port/'",
        ),
        ({"issue_uri": 5}, "time object: issue_uri must be a string, not 5"),
        ({"activities": "dev"}, "time object: activities must be a list of slugs, not 'dev'"),
        (
            {"activities": []},
            "time object: activities cannot be empty (leave the field out to use the project's"
            " default activity)",
        ),
        (
            {"activities": ["dev", "Dev"]},
            f"time object: activities must hold slugs ({RULE}), not 'Dev'",
        ),
    ],
)
def test_time_fields_are_checked_before_anything_is_sent(
    ts: pymesync.TimeSync, requests_mock: Any, changes: dict[str, Any], message: str
) -> None:
    answer = ts.create_time({**TIME, **changes})
    assert isinstance(answer, dict) and answer["pymesync error"].startswith(message), answer
    assert not requests_mock.called


def test_good_time_fields_pass() -> None:
    good = {
        **TIME,
        "duration": 7 * 86400,
        "project": "a1b2-c3",
        "user": "Al_i~ce-2",
        "date_worked": "2024-02-29",
        "notes": "line one\nline two\ttabbed",
        "issue_uri": "HTTPS://github.com/osuosl/pymesync/issues/12?x=1#y",
        "activities": ("dev", "1a"),
    }
    checked = validation.validate_write("time", good, create=True, authenticated=True)
    assert checked == {**good, "activities": ["dev", "1a"]}
    # the old test mode's empty values still pass on create
    for empty in ({"notes": ""}, {"issue_uri": ""}, {"notes": None, "issue_uri": None}):
        validation.validate_write("time", {**TIME, **empty}, create=True, authenticated=True)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"duration": 0}, "time object: duration cannot be cleared with an empty value"),
        ({"notes": ""}, "time object: notes cannot be cleared with an empty value"),
        ({"issue_uri": ""}, "time object: issue_uri cannot be cleared with an empty value"),
        ({"activities": []}, "time object: activities cannot be empty"),
        ({"project": "Nope"}, "time object: project must be a slug"),
    ],
)
def test_updates_that_the_server_would_ignore_or_break_on_are_refused(
    ts: pymesync.TimeSync, requests_mock: Any, change: dict[str, Any], message: str
) -> None:
    answer = ts.update_time(change, "u")
    assert answer["pymesync error"].startswith(message), answer
    assert not requests_mock.called


@pytest.mark.parametrize(
    ("method", "args", "message"),
    [
        (
            "create_project",
            ({"name": "n", "slugs": []},),
            "project object: slugs cannot be empty",
        ),
        (
            "create_project",
            ({"name": "n", "slugs": ["ok", "Not_ok"]},),
            f"project object: slugs must hold slugs ({RULE}), not 'Not_ok'",
        ),
        ("create_project", ({"name": "", "slugs": ["a"]},), "project object: name cannot be empty"),
        (
            "create_project",
            ({"name": 5, "slugs": ["a"]},),
            "project object: name must be a string, not 5",
        ),
        (
            "create_project",
            ({"name": "n", "slugs": ["a"], "uri": "x"},),
            "project object: uri must be an http or https URL, not 'x'",
        ),
        (
            "create_project",
            ({"name": "n", "slugs": ["a"], "default_activity": "Dev"},),
            f"project object: default_activity must be a slug ({RULE}), not 'Dev'",
        ),
        (
            "create_project",
            ({"name": "n", "slugs": ["a"], "users": {"bob": {"member": 1}}},),
            "project object: users['bob'] must map member, spectator and manager to True or"
            " False, not a dict",
        ),
        (
            "create_project",
            ({"name": "n", "slugs": ["a"], "users": {"bob": {"owner": True}}},),
            "project object: users['bob'] must map member, spectator and manager",
        ),
        (
            "create_project",
            ({"name": "n", "slugs": ["a"], "users": ["bob"]},),
            "project object: users must map usernames to roles, not a list",
        ),
        ("update_project", ({"uri": ""}, "p"), "project object: uri cannot be cleared"),
        ("update_project", ({"name": " "}, "p"), "project object: name cannot be empty"),
        (
            "create_activity",
            ({"name": "Dev", "slug": "Dev"},),
            f"activity object: slug must be a slug ({RULE}), not 'Dev'",
        ),
        ("update_activity", ({"name": ""}, "dev"), "activity object: name cannot be empty"),
        (
            "create_user",
            ({"username": "a b", "password": "pw"},),
            "user object: username must be a username (letters, digits, _, ~ and -), not 'a b'",
        ),
        (
            "update_user",
            ({"display_name": ["x"]}, "u"),
            "user object: display_name must be a string, not a list",
        ),
        (
            "update_user",
            ({"meta": {"k": 1}}, "u"),
            "user object: meta must be a string, not a dict",
        ),
    ],
)
def test_project_activity_and_user_fields_are_checked(
    ts: pymesync.TimeSync, requests_mock: Any, method: str, args: tuple[Any, ...], message: str
) -> None:
    answer = getattr(ts, method)(*args)
    assert answer["pymesync error"].startswith(message), answer
    assert not requests_mock.called


def test_good_project_passes_and_is_copied() -> None:
    users = {"bob": {"member": True, "spectator": False, "manager": False}}
    project = {
        "name": "n",
        "slugs": ["a", "b-2"],
        "uri": "https://x.org",
        "users": users,
        "default_activity": None,
    }
    checked = validation.validate_write("project", project, create=True, authenticated=True)
    assert checked == project and checked["users"]["bob"] is not users["bob"]
    assert (
        validation.validate_write(
            "project", {"name": "n", "slugs": ["a"], "uri": ""}, create=True, authenticated=True
        )["uri"]
        == ""
    )


@pytest.mark.parametrize(
    ("notes", "fragment"),
    [
        ("caf\udcff", "time object: field notes: text is not valid Unicode (a lone surrogate"),
        ("\ud800", "time object: field notes: text is not valid Unicode"),
        ("a\x00b", "time object: field notes: text holds a NUL character"),
        ("x" * (64 * 1024 + 1), "time object: field notes: text is too long (65537 bytes"),
        ("é" * (32 * 1024 + 1), "time object: field notes: text is too long (65538 bytes"),
    ],
)
def test_text_that_cannot_be_sent_is_refused_as_a_dict_or_exception(
    notes: str, fragment: str, tmp_path: Any, requests_mock: Any
) -> None:
    direct = pymesync.TimeSync("http://x/v0", token=TOKEN, mode="direct")
    answer = direct.create_time({**TIME, "notes": notes})
    assert answer["pymesync error"].startswith(fragment), answer
    queue = pymesync.TimeSync(
        "http://x/v0", token=TOKEN, mode="queue", db=tmp_path / "s.db", raise_errors=True
    )
    with pytest.raises(ValidationError, match=fragment[:30]):
        queue.create_time({**TIME, "notes": notes})
    with pytest.raises(ValidationError):
        queue.update_time({"notes": notes}, "u")
    assert queue.status()["pending"] == 0
    queue.close()
    assert not requests_mock.called


def test_deeply_nested_values_are_refused_not_a_recursion_error() -> None:
    deep: Any = "x"
    for _ in range(10_000):
        deep = [deep]
    ts = pymesync.TimeSync("http://x/v0", token=TOKEN, test=True)
    assert ts.create_time({**TIME, "notes": deep}) == {
        "pymesync error": "time object: notes must be a string, not a list"
    }
    nested: Any = {}
    for _ in range(10_000):
        nested = {"k": nested}
    assert ts.create_project({"name": "n", "slugs": ["a"], "users": nested})[
        "pymesync error"
    ].startswith("project object: users['k'] must map member, spectator and manager")
    for value in (deep, nested):
        with pytest.raises(ValidationError, match=r"^here: value nested too deeply \(more than 32"):
            validation.json_copy(value, "here")
    looped: list[Any] = []
    looped.append(looped)
    with pytest.raises(ValidationError, match="nested too deeply"):
        validation.json_copy(looped, "here")
    with pytest.raises(ValidationError, match="not valid Unicode"):
        validation.json_copy({"k\udcff": 1}, "here")


def test_bad_text_in_queries_and_identifiers(ts: pymesync.TimeSync, requests_mock: Any) -> None:
    assert ts.get_times({"user": "\udcff"}) == [{"pymesync error": "invalid query value: user"}]
    assert ts.get_times({"project": ["gwm", "a\x00"]}) == [
        {"pymesync error": "invalid query value: project"}
    ]
    assert ts.get_times({"uuid": "\udcff"}) == [{"pymesync error": "invalid query value: uuid"}]
    assert ts.get_projects({"slug": "\udcff"}) == [{"pymesync error": "invalid query value: slug"}]
    assert ts.get_users("\udcff") == [{"pymesync error": "invalid query value: username"}]
    assert ts.delete_time("\udcff")["pymesync error"].startswith(
        "invalid uuid: text is not valid Unicode"
    )
    assert ts.update_project({"name": "n"}, "\udcff")["pymesync error"].startswith(
        "invalid slug: text is not valid Unicode"
    )
    assert ts.project_users("\udcff")["pymesync error"].startswith("invalid slug: text is not")
    anon = pymesync.TimeSync("http://x/v0", mode="direct")
    assert anon.authenticate("al\udcffice", "pw", "password")["pymesync error"].startswith(
        "invalid username: text is not valid Unicode"
    )
    assert not requests_mock.called


def test_checks_run_in_test_mode_too() -> None:
    ts = pymesync.TimeSync("http://x/v0", token=TOKEN, test=True)
    assert ts.create_time({**TIME, "date_worked": "2026-02-30"}) == {
        "pymesync error": "time object: date_worked is not a real date: '2026-02-30'"
    }
    assert ts.update_time({"notes": "\udcff"}, "u")["pymesync error"].startswith(
        "time object: field notes: text is not valid Unicode"
    )


def test_bad_operation_ids_are_refused_not_a_traceback(tmp_path: Any) -> None:
    ts = pymesync.TimeSync("http://x/v0", token=TOKEN, mode="queue", db=tmp_path / "s.db")
    for method in (ts.retry, ts.discard):
        assert method("\udcff")["pymesync error"].startswith(
            "invalid op_id: text is not valid Unicode"
        )
        assert method(5) == {"pymesync error": "invalid op_id: must be a string"}  # type: ignore[arg-type]
        assert method("") == {"pymesync error": "missing op_id; please add to method call"}
    ts.close()
