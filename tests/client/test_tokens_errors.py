"""token_expiration_time decoding and the status -> exception mapping."""

from __future__ import annotations

import base64
import datetime as dt
from typing import Any

import pytest
from conftest import make_token

import pymesync
from pymesync import errors

IMPROPER = {"pymesync error": "improperly encoded token"}


def test_expiration_is_local_naive_datetime_from_ms() -> None:
    ts = pymesync.TimeSync("http://x/v0", token=make_token(1452714334087))
    expected = dt.datetime.fromtimestamp(1452714334.087)
    assert ts.token_expiration_time() == expected
    assert ts.token_expiration_time().tzinfo is None


def test_fix_payload_decoded_as_json_not_python_literal() -> None:
    # JSON's true/null are not Python literals: ast.literal_eval failed on them.
    payload = base64.b64encode(b'{"exp": 1452714334087, "admin": true, "x": null}').decode()
    ts = pymesync.TimeSync("http://x/v0", token=f"h.{payload}.s")
    assert ts.token_expiration_time() == dt.datetime.fromtimestamp(1452714334.087)
    # ...and a Python literal that is not JSON is refused, not evaluated.
    payload = base64.b64encode(b"{'exp': 1452714334087}").decode()
    assert pymesync.TimeSync("http://x/v0", token=f"h.{payload}.s").token_expiration_time() == (
        IMPROPER
    )


@pytest.mark.parametrize(
    "token",
    [
        "nodots",
        "a..b",
        "a.!!!notbase64.c",
        "a." + base64.b64encode(b"\xff\xfe").decode() + ".c",
        "a." + base64.b64encode(b"[1,2]").decode() + ".c",
        "a." + base64.b64encode(b'{"exp": "soon"}').decode() + ".c",
        "a." + base64.b64encode(b'{"iat": 1}').decode() + ".c",
        "a." + base64.b64encode(b'{"exp": 1e300}').decode() + ".c",
    ],
)
def test_improperly_encoded_tokens(token: str) -> None:
    assert pymesync.TimeSync("http://x/v0", token=token).token_expiration_time() == IMPROPER


@pytest.mark.parametrize(
    ("status", "body", "cls", "transient"),
    [
        (400, {"error": "Bad object", "text": "x"}, errors.BadObjectError, False),
        (
            400,
            {"error": "The provided identifier was invalid"},
            errors.InvalidIdentifierError,
            False,
        ),
        (400, {"error": "Invalid identifier"}, errors.InvalidIdentifierError, False),
        (400, {"error": "Bad query value"}, errors.BadQueryError, False),
        (401, {"error": "Bad query value"}, errors.BadQueryError, False),
        (
            401,
            {"error": "Authentication failure", "text": "Bad API token"},
            errors.TokenRejectedError,
            False,
        ),
        (
            401,
            {"error": "Authentication failure", "text": "Missing credentials"},
            errors.AuthenticationError,
            False,
        ),
        (401, {"error": "Authorization failure"}, errors.AuthorizationError, False),
        (404, {"error": "Object not found"}, errors.NotFoundError, False),
        (405, {"error": "Method not allowed"}, errors.MethodNotAllowedError, False),
        (409, {"error": "Invalid foreign key"}, errors.ConflictError, False),
        (409, {"error": "The slug provided already exists"}, errors.ConflictError, False),
        (409, {"error": "Username already exists"}, errors.ConflictError, False),
        (429, {"error": "Too many requests"}, errors.RateLimitedError, True),
        (500, {"error": "Server error"}, errors.ServerError, True),
        (503, {"error": "Something"}, errors.ServerError, True),
        (418, {"error": "Teapot"}, errors.TimeSyncError, False),
    ],
)
def test_from_response(status: int, body: dict[str, Any], cls: type, transient: bool) -> None:
    error = errors.from_response(status, {"status": status, **body})
    assert type(error) is cls
    assert error.transient is transient
    assert isinstance(error, errors.PymesyncError)
    assert error.status == status and error.body["status"] == status


def test_retry_after_is_read_from_429(requests_mock: Any) -> None:
    ts = pymesync.TimeSync("http://x/v0", token="T", raise_errors=True, mode="direct")
    requests_mock.get(
        "http://x/v0/users?token=T", status_code=429, text="slow down", headers={"Retry-After": "7"}
    )
    with pytest.raises(errors.BadResponseError) as info:
        ts.get_users()
    assert info.value.transient and info.value.retry_after == 7.0
    requests_mock.get(
        "http://x/v0/users?token=T",
        status_code=429,
        json={"status": 429, "error": "Too many requests"},
        headers={"Retry-After": "2"},
    )
    with pytest.raises(errors.RateLimitedError) as limited:
        ts.get_users()
    assert limited.value.retry_after == 2.0


def test_all_public_errors_share_one_root() -> None:
    for name in errors.__all__:
        obj = getattr(errors, name)
        if isinstance(obj, type):
            assert issubclass(obj, errors.PymesyncError), name
