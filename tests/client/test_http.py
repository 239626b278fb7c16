"""Every public method against a mocked server: URL, method, body, query, shapes, errors."""

from __future__ import annotations

import json
from typing import Any

import pytest
import requests
from conftest import BASE, ENC_TOKEN, TOKEN

import pymesync
from pymesync import errors

TIME = {
    "duration": 1200,
    "project": "gwm",
    "user": "alice",
    "date_worked": "2014-04-17",
    "activities": ["docs"],
    "notes": "Worked on docs",
    "issue_uri": "https://github.com/osuosl/ganeti_webmgr/issues",
}
SERVER_TIME = {**TIME, "uuid": "838853e3-3635-4076-a26f-7ef54e60981f", "revision": 1}
NOT_FOUND = {"status": 404, "error": "Object not found", "text": "Nonexistent time"}
AUTHZ = {
    "status": 401,
    "error": "Authorization failure",
    "text": "alice is not authorized to create time entries for bob",
}


def body_of(mock: Any) -> Any:
    return json.loads(mock.last_request.body)


def token_body(obj: dict[str, Any]) -> dict[str, Any]:
    return {"auth": {"type": "token", "token": TOKEN}, "object": obj}


# ---------------------------------------------------------------- construction


def test_constructor_keeps_public_attributes() -> None:
    ts = pymesync.TimeSync(BASE + "/", token="T", test=False)
    assert (ts.baseurl, ts.token, ts.test, ts.user, ts.error) == (
        BASE,
        "T",
        False,
        None,
        "pymesync error",
    )


def test_positional_constructor_arguments() -> None:
    ts = pymesync.TimeSync(BASE, "T", True)
    assert ts.token == "T" and ts.test is True


# ---------------------------------------------------------------- authenticate


def test_authenticate_posts_plaintext_credentials_and_keeps_token(requests_mock: Any) -> None:
    ts = pymesync.TimeSync(BASE)
    requests_mock.post(BASE + "/login", json={"token": TOKEN})
    assert ts.authenticate("alice", "pw", "password") == {"token": TOKEN}
    assert ts.token == TOKEN and ts.user == "alice"
    assert body_of(requests_mock) == {
        "auth": {"type": "password", "username": "alice", "password": "pw"}
    }


def test_authenticate_error_is_passed_through_and_token_not_set(requests_mock: Any) -> None:
    ts = pymesync.TimeSync(BASE)
    err = {
        "status": 401,
        "error": "Authentication failure",
        "text": "Incorrect username or password",
    }
    requests_mock.post(BASE + "/login", json=err, status_code=401)
    assert ts.authenticate(username="a", password="b", auth_type="password") == err
    assert ts.token is None


def test_authenticate_answer_without_token_is_returned_as_is(requests_mock: Any) -> None:
    ts = pymesync.TimeSync(BASE)
    requests_mock.post(BASE + "/login", json={"something": "else"})
    assert ts.authenticate("a", "b", "password") == {"something": "else"}
    assert ts.token is None


# ---------------------------------------------------------------- creates and updates

WRITES = [
    ("create_time", (TIME,), "/times"),
    (
        "update_time",
        ({"duration": 60}, "838853e3-3635-4076-a26f-7ef54e60981f"),
        "/times/838853e3-3635-4076-a26f-7ef54e60981f",
    ),
    ("create_project", ({"name": "P", "slugs": ["p"]},), "/projects"),
    ("update_project", ({"name": "Q"}, "p"), "/projects/p"),
    ("create_activity", ({"name": "A", "slug": "a"},), "/activities"),
    ("update_activity", ({"name": "B"}, "a"), "/activities/a"),
    ("create_user", ({"username": "bob", "display_name": "Bob"},), "/users"),
    ("update_user", ({"email": "bob@example.com"}, "bob"), "/users/bob"),
]


@pytest.mark.parametrize(("method", "args", "path"), WRITES)
def test_write_posts_token_and_object(
    ts: pymesync.TimeSync, requests_mock: Any, method: str, args: tuple[Any, ...], path: str
) -> None:
    if method == "create_user":
        args = ({**args[0], "password": "pw"},)
    answer = {"uuid": "u", "revision": 1}
    requests_mock.post(BASE + path, json=answer)
    assert getattr(ts, method)(*args) == answer
    assert requests_mock.last_request.method == "POST"
    assert requests_mock.last_request.url == BASE + path
    sent = body_of(requests_mock)
    expected = dict(args[0])
    if method == "create_user":
        assert sent["object"]["password"].startswith("$2a$10$")
        expected["password"] = sent["object"]["password"]
    assert sent == token_body(expected)


@pytest.mark.parametrize(("method", "args", "path"), WRITES)
def test_write_passes_server_error_through(
    ts: pymesync.TimeSync, requests_mock: Any, method: str, args: tuple[Any, ...], path: str
) -> None:
    if method == "create_user":
        args = ({**args[0], "password": "pw"},)
    requests_mock.post(BASE + path, json=AUTHZ, status_code=401)
    assert getattr(ts, method)(*args) == AUTHZ


def test_create_time_converts_duration_string(ts: pymesync.TimeSync, requests_mock: Any) -> None:
    requests_mock.post(BASE + "/times", json=SERVER_TIME)
    ts.create_time({**TIME, "duration": "3h30m"})
    assert body_of(requests_mock)["object"]["duration"] == 12600


def test_update_path_identifier_is_percent_encoded(
    ts: pymesync.TimeSync, requests_mock: Any
) -> None:
    requests_mock.post(BASE + "/projects/a%2Fb%20c", json={})
    ts.update_project({"name": "x"}, "a/b c")
    assert requests_mock.last_request.url == BASE + "/projects/a%2Fb%20c"


def test_fix_update_without_identifier_is_refused_not_sent_as_create(
    ts: pymesync.TimeSync, requests_mock: Any
) -> None:
    # The old library POSTed to the create endpoint when the uuid/slug was missing.
    assert ts.update_time({"duration": 5}, "") == {
        "pymesync error": "missing uuid; please add to method call"
    }
    assert ts.update_project({"name": "x"}) == {
        "pymesync error": "missing slug; please add to method call"
    }
    assert not requests_mock.called


# ---------------------------------------------------------------- passwords


def test_fix_password_is_sent_as_bcrypt_text(ts: pymesync.TimeSync, requests_mock: Any) -> None:
    import bcrypt

    requests_mock.post(BASE + "/users", json={"username": "bob"})
    user = {"username": "bob", "password": "hunter2"}
    ts.create_user(user)
    sent = body_of(requests_mock)["object"]["password"]
    assert isinstance(sent, str) and sent.startswith("$2a$10$") and len(sent) == 60
    assert bcrypt.checkpw(b"hunter2", sent.encode("ascii"))
    assert user == {"username": "bob", "password": "hunter2"}  # caller's dict untouched


def test_fix_password_already_hashed_is_sent_unchanged(
    ts: pymesync.TimeSync, requests_mock: Any
) -> None:
    requests_mock.post(BASE + "/users/bob", json={"username": "bob"})
    hashed = "$2a$10$" + "N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWy"
    ts.update_user({"password": hashed}, "bob")
    assert body_of(requests_mock)["object"]["password"] == hashed


def test_bytes_password_is_hashed_too(ts: pymesync.TimeSync, requests_mock: Any) -> None:
    import bcrypt

    requests_mock.post(BASE + "/users/bob", json={})
    ts.update_user({"password": b"s3cret"}, "bob")
    assert bcrypt.checkpw(b"s3cret", body_of(requests_mock)["object"]["password"].encode())


# ---------------------------------------------------------------- deletes

DELETES = [
    (
        "delete_time",
        "838853e3-3635-4076-a26f-7ef54e60981f",
        "/times/838853e3-3635-4076-a26f-7ef54e60981f",
    ),
    ("delete_project", "gwm", "/projects/gwm"),
    ("delete_activity", "dev", "/activities/dev"),
    ("delete_user", "bob", "/users/bob"),
]


@pytest.mark.parametrize(("method", "ident", "path"), DELETES)
def test_delete_empty_200_becomes_status_dict(
    ts: pymesync.TimeSync, requests_mock: Any, method: str, ident: str, path: str
) -> None:
    requests_mock.delete(BASE + path, text="")
    assert getattr(ts, method)(ident) == {"status": 200}
    assert requests_mock.last_request.url == f"{BASE}{path}?token={ENC_TOKEN}"


@pytest.mark.parametrize(("method", "ident", "path"), DELETES)
def test_delete_server_error_passed_through(
    ts: pymesync.TimeSync, requests_mock: Any, method: str, ident: str, path: str
) -> None:
    err = {
        "status": 405,
        "error": "Method not allowed",
        "text": "The method specified is not allowed for the project identified",
    }
    requests_mock.delete(BASE + path, json=err, status_code=405)
    assert getattr(ts, method)(ident) == err


@pytest.mark.parametrize(
    ("method", "name"),
    [
        ("delete_time", "uuid"),
        ("delete_project", "slug"),
        ("delete_activity", "slug"),
        ("delete_user", "username"),
    ],
)
def test_delete_missing_identifier(ts: pymesync.TimeSync, method: str, name: str) -> None:
    assert getattr(ts, method)() == {"pymesync error": f"missing {name}; please add to method call"}


# ---------------------------------------------------------------- get_times


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        (None, "/times?token=T"),
        ({}, "/times?token=T"),
        ({"project": ["gwm"], "activity": ["dev"]}, "/times?activity=dev&project=gwm&token=T"),
        (
            {"user": ["a", "b"], "start": ["2015-01-01"], "end": ["2015-02-01"]},
            "/times?end=2015-02-01&start=2015-01-01&user=a&user=b&token=T",
        ),
        (
            {"include_deleted": True, "include_revisions": 0},
            "/times?include_deleted=true&include_revisions=false&token=T",
        ),
        ({"start": "2015-01-01"}, "/times?start=2015-01-01&token=T"),
        (
            {"uuid": "abc", "user": ["ignored"], "include_revisions": True},
            "/times/abc?include_revisions=true&token=T",
        ),
        (
            {"uuid": "abc", "include_deleted": 1, "include_revisions": False},
            "/times/abc?include_deleted=true&include_revisions=false&token=T",
        ),
    ],
)
def test_get_times_urls(
    ts: pymesync.TimeSync, requests_mock: Any, query: Any, expected: str
) -> None:
    requests_mock.get(requests_mock_any(), json=[SERVER_TIME])
    assert ts.get_times(query) == [SERVER_TIME]
    assert requests_mock.last_request.url == BASE + expected.replace(
        "token=T", f"token={ENC_TOKEN}"
    )
    assert requests_mock.last_request.method == "GET"


def requests_mock_any() -> Any:
    import re

    return re.compile(".*")


def test_fix_bare_string_query_value_is_one_value(
    ts: pymesync.TimeSync, requests_mock: Any
) -> None:
    requests_mock.get(requests_mock_any(), json=[])
    ts.get_times({"user": "bob", "project": "gwm", "activity": "dev"})
    assert requests_mock.last_request.url == (
        f"{BASE}/times?activity=dev&project=gwm&user=bob&token={ENC_TOKEN}"
    )


def test_fix_token_and_query_values_are_percent_encoded(
    ts: pymesync.TimeSync, requests_mock: Any
) -> None:
    requests_mock.get(requests_mock_any(), json=[])
    ts.get_times({"user": ["a&b=c", "d e+f"]})
    url = requests_mock.last_request.url
    assert url == f"{BASE}/times?user=a%26b%3Dc&user=d%20e%2Bf&token={ENC_TOKEN}"
    assert TOKEN not in url


def test_get_times_single_object_wrapped_in_list(ts: pymesync.TimeSync, requests_mock: Any) -> None:
    requests_mock.get(requests_mock_any(), json=SERVER_TIME)
    assert ts.get_times({"uuid": SERVER_TIME["uuid"]}) == [SERVER_TIME]


def test_get_times_server_error_wrapped_in_list(ts: pymesync.TimeSync, requests_mock: Any) -> None:
    requests_mock.get(requests_mock_any(), json=NOT_FOUND, status_code=404)
    assert ts.get_times({"uuid": "x"}) == [NOT_FOUND]


def test_get_times_empty_200_quirk(ts: pymesync.TimeSync, requests_mock: Any) -> None:
    requests_mock.get(requests_mock_any(), text="")
    assert ts.get_times() == [{"status": 200}]


def test_get_times_invalid_key(ts: pymesync.TimeSync, requests_mock: Any) -> None:
    assert ts.get_times({"user": ["a"], "bogus": 1}) == [{"pymesync error": "invalid query: bogus"}]
    assert not requests_mock.called


def test_get_times_invalid_value(ts: pymesync.TimeSync) -> None:
    assert ts.get_times({"user": [1]}) == [{"pymesync error": "invalid query value: user"}]


# ---------------------------------------------------------------- projects, activities, users


@pytest.mark.parametrize(
    ("method", "query", "expected"),
    [
        ("get_projects", None, "/projects?token=T"),
        ("get_projects", {"slug": "gwm"}, "/projects/gwm?token=T"),
        (
            "get_projects",
            {"user": ["a"], "include_revisions": True, "include_deleted": False},
            "/projects?user=a&include_deleted=false&include_revisions=true&token=T",
        ),
        ("get_projects", {"user": "a"}, "/projects?user=a&token=T"),
        (
            "get_projects",
            {"slug": "gwm", "include_revisions": True},
            "/projects/gwm?include_revisions=true&token=T",
        ),
        ("get_projects", {"revisions": True}, "/projects?revisions=true&token=T"),
        ("get_activities", None, "/activities?token=T"),
        ("get_activities", {"slug": "dev"}, "/activities/dev?token=T"),
        ("get_activities", {"include_deleted": True}, "/activities?include_deleted=true&token=T"),
    ],
)
def test_entity_query_urls(
    ts: pymesync.TimeSync, requests_mock: Any, method: str, query: Any, expected: str
) -> None:
    requests_mock.get(requests_mock_any(), json=[{"slug": "x"}])
    assert getattr(ts, method)(query) == [{"slug": "x"}]
    assert requests_mock.last_request.url == BASE + expected.replace(
        "token=T", f"token={ENC_TOKEN}"
    )


@pytest.mark.parametrize("method", ["get_projects", "get_activities"])
def test_slug_with_include_deleted_refused(ts: pymesync.TimeSync, method: str) -> None:
    assert getattr(ts, method)({"slug": "x", "include_deleted": False}) == [
        {"pymesync error": "invalid combination: slug and include_deleted"}
    ]


def test_get_users(ts: pymesync.TimeSync, requests_mock: Any) -> None:
    requests_mock.get(requests_mock_any(), json={"username": "bob"})
    assert ts.get_users("bob") == [{"username": "bob"}]
    assert requests_mock.last_request.url == f"{BASE}/users/bob?token={ENC_TOKEN}"
    requests_mock.get(requests_mock_any(), json=[{"username": "bob"}])
    assert ts.get_users() == [{"username": "bob"}]
    assert requests_mock.last_request.url == f"{BASE}/users?token={ENC_TOKEN}"


def test_project_users_reshapes_roles(ts: pymesync.TimeSync, requests_mock: Any) -> None:
    project = {
        "slugs": ["gwm"],
        "users": {
            "malcolm": {"member": True, "spectator": False, "manager": True},
            "simon": {"member": False, "spectator": True, "manager": False},
            "odd": {"member": 1, "spectator": None, "manager": False},
        },
    }
    requests_mock.get(requests_mock_any(), json=project)
    assert ts.project_users("gwm") == {
        "malcolm": ["member", "manager"],
        "simon": ["spectator"],
        "odd": [],
    }
    assert requests_mock.last_request.url == f"{BASE}/projects/gwm?token={ENC_TOKEN}"


def test_project_users_without_users_key(ts: pymesync.TimeSync, requests_mock: Any) -> None:
    requests_mock.get(requests_mock_any(), json={"slugs": ["gwm"]})
    assert ts.project_users(project="gwm") == {}


def test_project_users_error_passed_through(ts: pymesync.TimeSync, requests_mock: Any) -> None:
    err = {"status": 404, "error": "Object not found", "text": "Nonexistent project"}
    requests_mock.get(requests_mock_any(), json=err, status_code=404)
    assert ts.project_users("nope") == err


def test_project_users_missing_slug(ts: pymesync.TimeSync) -> None:
    assert ts.project_users() == {
        "pymesync error": "Missing project slug, please include in method call"
    }


# ---------------------------------------------------------------- transport failures


def test_non_json_response_reports_status(ts: pymesync.TimeSync, requests_mock: Any) -> None:
    requests_mock.post(BASE + "/times", text="<html>Bad Gateway</html>", status_code=502)
    failed = f"connection to TimeSync failed at baseurl {BASE} - response status was"
    assert ts.create_time(TIME) == {"pymesync error": f"{failed} 502"}
    requests_mock.get(requests_mock_any(), text="oops", status_code=503)
    assert ts.get_activities() == [{"pymesync error": f"{failed} 503"}]


def test_json_sent_as_text_html_is_parsed(ts: pymesync.TimeSync, requests_mock: Any) -> None:
    requests_mock.get(
        requests_mock_any(),
        text=json.dumps([{"slug": "a"}]),
        headers={"Content-Type": "text/html; charset=utf-8"},
    )
    assert ts.get_activities() == [{"slug": "a"}]


def test_fix_html_404_hints_at_version_prefix(ts: pymesync.TimeSync, requests_mock: Any) -> None:
    requests_mock.get(
        requests_mock_any(),
        text="<!DOCTYPE html><pre>Cannot GET /v1/times</pre>",
        status_code=404,
        headers={"Content-Type": "text/html"},
    )
    [answer] = ts.get_times()
    message = answer["pymesync error"]
    assert message.startswith(
        f"connection to TimeSync failed at baseurl {BASE} - response status was 404"
    )
    assert "/v0" in message and "prefix" in message


@pytest.mark.parametrize(
    ("exc", "fragment"),
    [
        (requests.exceptions.ConnectTimeout, "could not connect within 10.0 seconds"),
        (requests.exceptions.ReadTimeout, "no response within 10.0 seconds"),
        (requests.exceptions.ConnectionError, "ConnectionError"),
    ],
)
def test_fix_connection_failures_are_readable_strings(
    ts: pymesync.TimeSync, requests_mock: Any, exc: type[Exception], fragment: str
) -> None:
    requests_mock.post(BASE + "/times", exc=exc(f"boom at /times?token={TOKEN}"))
    answer = ts.create_time(TIME)
    message = answer["pymesync error"]
    assert isinstance(message, str)
    assert message.startswith(f"connection to TimeSync failed at baseurl {BASE} - ")
    assert fragment in message
    assert TOKEN not in message


def test_fix_connection_refused_against_a_closed_port() -> None:
    import socket

    with socket.socket() as sock:  # find a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    ts = pymesync.TimeSync(f"http://127.0.0.1:{port}/v0", token=TOKEN, timeout=2, mode="direct")
    [answer] = ts.get_times()
    assert answer == {
        "pymesync error": f"connection to TimeSync failed at baseurl http://127.0.0.1:{port}/v0"
        " - could not connect: Connection refused"
    }


def test_fix_every_request_has_a_timeout_and_one_session(requests_mock: Any) -> None:
    ts = pymesync.TimeSync(BASE, token=TOKEN, timeout=(1.5, 7), mode="direct")
    requests_mock.get(requests_mock_any(), json=[])
    requests_mock.post(requests_mock_any(), json={})
    ts.get_times()
    ts.create_activity({"name": "a", "slug": "a"})
    ts.get_users()
    assert [r.timeout for r in requests_mock.request_history] == [(1.5, 7)] * 3
    session = ts._transport.session
    assert ts._transport.session is session


def test_default_timeout_is_ten_seconds(ts: pymesync.TimeSync, requests_mock: Any) -> None:
    requests_mock.get(requests_mock_any(), json=[])
    ts.get_projects()
    assert requests_mock.last_request.timeout == 10.0


def test_raise_errors_opt_in(requests_mock: Any) -> None:
    ts = pymesync.TimeSync(BASE, token=TOKEN, raise_errors=True, mode="direct")
    requests_mock.get(requests_mock_any(), json=NOT_FOUND, status_code=404)
    with pytest.raises(errors.NotFoundError) as info:
        ts.get_times({"uuid": "x"})
    assert info.value.status == 404 and info.value.body == NOT_FOUND
    assert info.value.text == "Nonexistent time"
    with pytest.raises(errors.ValidationError, match="invalid duration string"):
        ts.create_time({**TIME, "duration": "x"})
    requests_mock.post(requests_mock_any(), status_code=502, text="bad gateway")
    with pytest.raises(errors.BadResponseError) as bad:
        ts.create_time(TIME)
    assert bad.value.status == 502 and bad.value.transient
    unauthenticated = pymesync.TimeSync(BASE, raise_errors=True)
    with pytest.raises(errors.NotAuthenticatedError):
        unauthenticated.get_users()


# ---------------------------------------------------------------- the environment (trust_env)


def clean_proxy_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("http_proxy", "https_proxy", "all_proxy", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.upper(), raising=False)


@pytest.mark.parametrize("variable", ["REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"])
def test_a_ca_bundle_from_the_environment_reaches_verify(
    requests_mock: Any, monkeypatch: pytest.MonkeyPatch, variable: str
) -> None:
    monkeypatch.delenv("REQUESTS_CA_BUNDLE", raising=False)
    monkeypatch.delenv("CURL_CA_BUNDLE", raising=False)
    monkeypatch.setenv(variable, "/etc/ssl/our-ca.pem")
    ts = pymesync.TimeSync(BASE, token=TOKEN, mode="direct")
    requests_mock.get(requests_mock_any(), json=[])
    ts.get_projects()
    assert requests_mock.last_request.verify == "/etc/ssl/our-ca.pem"
    assert ts._transport.session.trust_env is True


def test_proxy_from_the_environment_is_used_and_no_proxy_excludes(
    requests_mock: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    clean_proxy_environment(monkeypatch)
    ts = pymesync.TimeSync(BASE, token=TOKEN, mode="direct")
    requests_mock.get(requests_mock_any(), json=[])
    ts.get_projects()
    assert "http" not in requests_mock.last_request.proxies
    # read on every request, as requests does: no new client needed
    monkeypatch.setenv("HTTP_PROXY", "http://proxy.example:3128")
    ts.get_projects()
    assert requests_mock.last_request.proxies["http"] == "http://proxy.example:3128"
    monkeypatch.setenv("NO_PROXY", "ts.example.com")
    ts.get_projects()
    assert "http" not in requests_mock.last_request.proxies


@pytest.mark.parametrize(
    "environment",
    [
        {},
        {"HTTP_PROXY": "http://p:1"},
        {"https_proxy": "http://p:2"},
        {"ALL_PROXY": "socks5://p:3"},
        {"HTTP_PROXY": "http://p:1", "NO_PROXY": "ts.example.com"},
        {"NO_PROXY": "*"},
        {"REQUESTS_CA_BUNDLE": "/ca.pem", "CURL_CA_BUNDLE": "/other.pem"},
        {"CURL_CA_BUNDLE": "/other.pem", "FTP_PROXY": "http://p:4"},
    ],
)
@pytest.mark.parametrize("url", [BASE + "/times", "https://ts.example.com/v0/times"])
def test_own_session_reads_the_environment_as_requests_does(
    monkeypatch: pytest.MonkeyPatch, environment: dict[str, str], url: str
) -> None:
    from requests.utils import select_proxy

    from pymesync.httpstack import OwnSession

    clean_proxy_environment(monkeypatch)
    monkeypatch.delenv("REQUESTS_CA_BUNDLE", raising=False)
    monkeypatch.delenv("CURL_CA_BUNDLE", raising=False)
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    ours = OwnSession(4).merge_environment_settings(url, {}, None, None, None)
    theirs = requests.Session().merge_environment_settings(url, {}, None, None, None)
    assert select_proxy(url, ours["proxies"]) == select_proxy(url, theirs["proxies"])
    assert {k: v for k, v in ours.items() if k != "proxies"} == {
        k: v for k, v in theirs.items() if k != "proxies"
    }


def test_netrc_credentials_are_sent(
    requests_mock: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    netrc = tmp_path / "netrc"
    netrc.write_text("machine ts.example.com login proxyuser password proxypass\n")
    netrc.chmod(0o600)
    monkeypatch.setenv("NETRC", str(netrc))
    ts = pymesync.TimeSync(BASE, token=TOKEN, mode="direct")
    requests_mock.get(requests_mock_any(), json=[])
    ts.get_projects()
    assert requests_mock.last_request.headers["Authorization"].startswith("Basic ")


def test_the_own_sessions_prepared_requests_equal_what_session_request_sends(
    requests_mock: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    """The transport's own session builds each request as a PreparedRequest (cheaper);
    what goes out must be what ``session.request`` would send: method, URL, headers,
    body, and the environment's settings (CA bundle, .netrc)."""
    from pymesync.transport import Transport

    netrc = tmp_path / "netrc"
    netrc.write_text("machine ts.example.com login u password p\n")
    netrc.chmod(0o600)
    monkeypatch.setenv("NETRC", str(netrc))
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(tmp_path / "ca.pem"))
    url = BASE + "/times?token=abc"
    body = b'{"object": {"notes": "x"}}'
    requests_mock.post(requests_mock_any(), json={})
    own = Transport(BASE).session
    own.send_body("POST", url, body, {"Content-Type": "application/json"}, 5)  # type: ignore[attr-defined]
    ours = requests_mock.last_request
    requests.Session().request(
        "POST", url, data=body, headers={"Content-Type": "application/json"}, timeout=5
    )
    theirs = requests_mock.last_request
    assert (ours.method, ours.url, ours.body) == (theirs.method, theirs.url, theirs.body)
    assert dict(ours.headers) == dict(theirs.headers)
    assert "Authorization" in ours.headers
    assert (ours.verify, ours.timeout, ours.cert) == (theirs.verify, theirs.timeout, theirs.cert)


# ---------------------------------------------------------------- sessions and pools


def test_a_callers_session_sees_every_request(requests_mock: Any) -> None:
    import functools

    session = requests.Session()
    calls: list[str] = []
    original = session.send

    @functools.wraps(original)
    def counted(request: Any, **kwargs: Any) -> Any:
        calls.append(request.method)
        return original(request, **kwargs)

    session.send = counted  # type: ignore[method-assign]
    ts = pymesync.TimeSync(BASE, token=TOKEN, mode="direct", session=session)
    requests_mock.get(requests_mock_any(), json=[])
    requests_mock.post(requests_mock_any(), json={})
    ts.get_times()
    ts.create_activity({"name": "a", "slug": "a"})
    ts.get_users()
    assert calls == ["GET", "POST", "GET"] and requests_mock.call_count == 3
    assert ts._transport.session is session


def test_pool_size_follows_the_sync_concurrency() -> None:
    from pymesync.transport import POOL_SIZE, Transport

    adapter: Any = Transport(BASE, pool_size=7).session.get_adapter(BASE)
    assert adapter._pool_maxsize == 7
    assert Transport(BASE).pool_size == POOL_SIZE == 32
    ts = pymesync.TimeSync(BASE, token=TOKEN, mode="direct")
    assert ts._transport.pool_size == POOL_SIZE
    many = pymesync.TimeSync(BASE, token=TOKEN, mode="direct", sync_concurrency=64)
    assert many._transport.pool_size == 64


# ---------------------------------------------------------------- Retry-After


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("7", 7.0),
        ("0", 0.0),
        ("-3", 0.0),
        ("Wed, 21 Oct 2026 07:28:00 GMT", 30.0),
        ("Wed, 21 Oct 2026 07:28:00 -0000", 30.0),
        ("Wednesday, 21-Oct-26 07:28:00 GMT", 30.0),  # RFC 850, still to be accepted
        ("Wed Oct 21 07:28:00 2026", 30.0),  # asctime
        ("Wed, 21 Oct 2026 07:27:00 GMT", 0.0),  # in the past
        ("soon", None),
        ("", None),
    ],
)
def test_retry_after_seconds_or_http_date(value: str, seconds: float | None) -> None:
    from freezegun import freeze_time

    from pymesync.transport import _retry_after

    with freeze_time("2026-10-21 07:27:30"):
        assert _retry_after({"Retry-After": value}) == seconds


def test_retry_after_date_on_a_429(requests_mock: Any) -> None:
    from freezegun import freeze_time

    ts = pymesync.TimeSync(BASE, token=TOKEN, raise_errors=True, mode="direct")
    requests_mock.get(
        requests_mock_any(),
        status_code=429,
        json={"status": 429, "error": "Too many requests", "text": "slow down"},
        headers={"Retry-After": "Wed, 21 Oct 2026 07:28:00 GMT"},
    )
    with freeze_time("2026-10-21 07:27:00"), pytest.raises(errors.RateLimitedError) as raised:
        ts.get_projects()
    assert raised.value.retry_after == 60.0


@pytest.mark.parametrize(
    ("query", "path"),
    [
        ({"uuid": None, "start": [None]}, "/times?token="),
        ({"user": None, "project": ["gwm"]}, "/times?project=gwm&token="),
        ({"uuid": [None, None]}, "/times?token="),
    ],
)
def test_none_or_list_of_none_counts_as_not_given_in_get_times(
    requests_mock: Any, ts: pymesync.TimeSync, query: dict[str, Any], path: str
) -> None:
    """Callers build queries like ``{"uuid": None, "start": [None]}`` for "not given":
    the old library's test mode took them so (online it sent ``/times/None``)."""
    requests_mock.get(requests_mock_any(), json=[])
    assert ts.get_times(query) == []
    assert requests_mock.last_request.url.startswith(BASE + path)


def test_none_counts_as_not_given_in_entity_queries(
    requests_mock: Any, ts: pymesync.TimeSync
) -> None:
    requests_mock.get(requests_mock_any(), json=[])
    ts.get_projects({"slug": None, "include_deleted": None, "user": [None]})
    assert requests_mock.last_request.url.startswith(BASE + "/projects?token=")
    ts.get_activities({"slug": [None], "include_revisions": True})
    assert requests_mock.last_request.url.startswith(
        BASE + "/activities?include_revisions=true&token="
    )


def test_none_counts_as_not_given_in_test_mode() -> None:
    ts = pymesync.TimeSync(BASE, token=TOKEN, test=True)
    assert ts.get_times({"uuid": None, "start": [None]}) == ts.get_times()
    assert ts.get_projects({"slug": None}) == ts.get_projects()
