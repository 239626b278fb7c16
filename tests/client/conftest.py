"""Shared fixtures for the facade's tests."""

from __future__ import annotations

import base64
import json

import pytest

import pymesync

BASE = "http://ts.example.com/v0"


def make_token(exp_ms: int = 1452714334087, sub: str = "alice") -> str:
    """A token in TimeSync's format: standard padded base64 segments."""

    def seg(obj: object) -> str:
        return base64.b64encode(json.dumps(obj).encode()).decode()

    header = seg({"typ": "JWT", "alg": "HMAC-SHA512"})
    payload = seg({"iss": "osuosl-timesync", "sub": sub, "exp": exp_ms, "iat": exp_ms - 1800000})
    # A signature with every character that needs percent-encoding in a query string.
    return f"{header}.{payload}.QP2F+bY3I6e2/eN436h=="


TOKEN = make_token()
ENC_TOKEN = TOKEN.replace("+", "%2B").replace("/", "%2F").replace("=", "%3D")


@pytest.fixture
def ts() -> pymesync.TimeSync:
    """A client that already holds a token (as after authenticate()), sending every
    call straight to the server so that each request can be inspected."""
    return pymesync.TimeSync(BASE + "/", token=TOKEN, mode="direct")


@pytest.fixture
def test_ts() -> pymesync.TimeSync:
    """A test-mode client that has authenticated."""
    client = pymesync.TimeSync(BASE, test=True)
    client.authenticate("alice", "secret", "password")
    return client
