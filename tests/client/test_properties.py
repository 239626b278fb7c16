"""Hypothesis: whatever goes into a public method, it returns a documented shape.

No exception escapes; an error is ``{"pymesync error": <str>}`` (in a list for the
``get_*`` methods and the duration error) or the server's own error dict.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import requests_mock as rm
from conftest import TOKEN
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import pymesync

KEY = "pymesync error"

json_scalars = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8)
odd = st.sampled_from([object(), {1, 2}, b"bytes", (1, "a"), float("nan"), -3, "3h30m", "1h"])
values = st.recursive(
    json_scalars | odd,
    lambda children: (
        st.lists(children, max_size=3)
        | st.dictionaries(st.text(max_size=6) | st.integers(), children, max_size=3)
    ),
    max_leaves=8,
)
field_names = st.sampled_from(
    [
        "duration",
        "project",
        "user",
        "date_worked",
        "notes",
        "issue_uri",
        "activities",
        "name",
        "slugs",
        "slug",
        "uri",
        "users",
        "default_activity",
        "username",
        "display_name",
        "email",
        "site_admin",
        "site_spectator",
        "site_manager",
        "active",
        "meta",
        "uuid",
        "start",
        "end",
        "activity",
        "include_deleted",
        "include_revisions",
        "bogus",
    ]
)
payloads = st.dictionaries(field_names, values, max_size=6) | values
identifiers = st.none() | st.text(max_size=10) | st.integers() | st.just("a/b?c")

server_bodies = st.one_of(
    st.just(b""),
    st.just(b"<html>502 Bad Gateway</html>"),
    st.just(b'{"status": 400, "error": "Bad object", "text": "nope"}'),
    st.just(b"[]"),
    st.just(b'{"uuid": "x", "users": {"a": {"member": true}}}'),
    st.just(b"{truncated"),
    st.binary(max_size=10),
)
statuses = st.sampled_from([200, 400, 401, 404, 409, 429, 500, 502])

METHODS: list[tuple[str, Any]] = [
    ("create_time", st.tuples(payloads)),
    ("update_time", st.tuples(payloads, identifiers)),
    ("create_project", st.tuples(payloads)),
    ("update_project", st.tuples(payloads, identifiers)),
    ("create_activity", st.tuples(payloads)),
    ("update_activity", st.tuples(payloads, identifiers)),
    ("create_user", st.tuples(payloads)),
    ("update_user", st.tuples(payloads, identifiers)),
    ("get_times", st.tuples(payloads | st.none())),
    ("get_projects", st.tuples(payloads | st.none())),
    ("get_activities", st.tuples(payloads | st.none())),
    ("get_users", st.tuples(identifiers)),
    ("delete_time", st.tuples(identifiers)),
    ("delete_project", st.tuples(identifiers)),
    ("delete_activity", st.tuples(identifiers)),
    ("delete_user", st.tuples(identifiers)),
    ("project_users", st.tuples(identifiers)),
    ("token_expiration_time", st.tuples()),
    ("authenticate", st.tuples(identifiers, identifiers, identifiers)),
]
calls = st.one_of([st.tuples(st.just(name), args) for name, args in METHODS])


def is_error(value: Any) -> bool:
    if not isinstance(value, dict):
        return False
    if KEY in value:
        return set(value) == {KEY} and isinstance(value[KEY], str)
    return "error" in value


def check_shape(method: str, result: Any) -> None:
    if method.startswith("get_"):
        assert isinstance(result, list)
        return
    if method == "token_expiration_time":
        assert isinstance(result, dt.datetime) or is_error(result)
        return
    if isinstance(result, list):  # duration error or test-mode delete
        assert result in ([{"status": 200}],) or (len(result) == 1 and is_error(result[0]))
        return
    assert isinstance(result, dict)
    if KEY in result:
        assert is_error(result)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    call=calls,
    test_mode=st.booleans(),
    authenticated=st.booleans(),
    status=statuses,
    body=server_bodies,
    mode=st.sampled_from(["direct", "auto"]),
)
def test_public_methods_never_raise(
    call: tuple[str, tuple[Any, ...]],
    test_mode: bool,
    authenticated: bool,
    status: int,
    body: bytes,
    mode: str,
) -> None:
    method, args = call
    with rm.Mocker() as mock:
        for verb in ("GET", "POST", "DELETE"):
            mock.register_uri(verb, re.compile(".*"), content=body, status_code=status)
        ts = pymesync.TimeSync(
            "http://x/v0", token=TOKEN if authenticated else None, test=test_mode, mode=mode
        )
        snapshot = repr(args)
        result = getattr(ts, method)(*args)
        check_shape(method, result)
        assert repr(args) == snapshot  # not mutated
        if test_mode:
            assert not mock.called
