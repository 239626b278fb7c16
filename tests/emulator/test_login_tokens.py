"""POST /login, the token format, token errors, expiry and restarts."""

from __future__ import annotations

import base64
import json
from datetime import timedelta
from urllib.parse import quote

from pymesync.testing import ADMIN_PASSWORD, ADMIN_USERNAME, Emulator

from .helpers import Api, error


def _segments(token: str) -> list[dict[str, object]]:
    parts = token.split(".")
    assert len(parts) == 3
    for part in parts:
        assert "-" not in part and "_" not in part  # standard alphabet, not base64url
        assert len(part) % 4 == 0  # '=' padded
    return [json.loads(base64.b64decode(p, validate=True)) for p in parts[:2]]


def test_login_success_token_format_and_no_cache(api: Api, emu: Emulator) -> None:
    r = api.raw_login({"type": "password", "username": ADMIN_USERNAME, "password": ADMIN_PASSWORD})
    assert r.status_code == 200
    assert set(r.json()) == {"token"}
    assert "no-cache" in r.headers["Cache-Control"]
    header, payload = _segments(r.json()["token"])
    assert header == {"typ": "JWT", "alg": "HMAC-SHA512"}
    assert payload["iss"] == "timesync-emulator"
    assert payload["sub"] == "admin"
    assert isinstance(payload["exp"], int) and isinstance(payload["iat"], int)
    assert payload["exp"] - payload["iat"] == 30 * 60 * 1000
    now_ms = emu.now().timestamp() * 1000
    assert abs(payload["iat"] - now_ms) < 60_000
    assert len(base64.b64decode(r.json()["token"].split(".")[2])) == 64  # SHA-512


def test_login_errors(api: Api) -> None:
    error(api.raw_login(None), 401, "Authentication failure", "Missing credentials")
    error(
        api.raw_login({"username": "alice", "password": "alice"}),
        401,
        "Authentication failure",
        "Authentication type required",
    )
    error(
        api.raw_login({"type": "ldap", "username": "alice", "password": "alice"}),
        401,
        "Bad query value",
        "ldap is not a valid authentication type",
    )
    error(
        api.raw_login({"type": "password", "username": "alice", "password": "wrong"}),
        401,
        "Authentication failure",
        "Incorrect username or password",
    )
    error(
        api.raw_login({"type": "password", "username": "nobody", "password": "x"}),
        401,
        "Authentication failure",
        "Incorrect username or password",
    )
    error(
        api.raw_login({"type": "password", "username": "Alice", "password": "alice"}),
        401,
        "Authentication failure",
        "Incorrect username or password",
    )
    error(
        api.raw_login({"type": "password", "username": "alice"}),
        401,
        "Authentication failure",
        "Missing credentials",
    )
    error(
        api.raw_login({"type": "password", "password": "alice"}),
        401,
        "Authentication failure",
        "Missing credentials",
    )


def test_login_token_works_for_get_and_post(api: Api) -> None:
    token = api.login("alice")
    assert api.get("/projects", token).status_code == 200
    r = api.post(
        "/times",
        token,
        {"duration": 60, "project": "gwm", "user": "alice", "date_worked": "2016-01-01"},
    )
    assert r.status_code == 200, r.text


def test_token_errors(api: Api, tok: dict[str, str]) -> None:
    error(api.get("/times", None), 401, "Authentication failure", "Missing credentials")
    error(api.get("/times", "bogus"), 401, "Authentication failure", "Bad API token")
    error(api.delete("/times/x", None), 401, "Authentication failure", "Missing credentials")
    r = api.session.post(api.base + "/activities", json={"object": {"name": "n", "slug": "n"}})
    error(r, 401, "Authentication failure", "Missing credentials")
    r = api.session.post(api.base + "/activities", json={"auth": {"type": "token"}, "object": {}})
    error(r, 401, "Authentication failure", "Missing credentials")
    error(
        api.post("/activities", tok["admin"], {}, auth_type="password"),
        401,
        "Bad query value",
        "password is not a valid authentication type",
    )
    error(api.post("/activities", "bogus", {}), 401, "Authentication failure", "Bad API token")
    # POST never takes the token from the query string
    r = api.session.post(
        api.base + "/activities?token=" + quote(tok["admin"], safe=""),
        json={"object": {"name": "x", "slug": "x"}},
    )
    error(r, 401, "Authentication failure", "Missing credentials")


def test_tampered_token_is_rejected(api: Api, tok: dict[str, str]) -> None:
    head, payload, sig = tok["alice"].split(".")
    forged = json.loads(base64.b64decode(payload))
    forged["sub"] = "admin"
    forged_b64 = base64.b64encode(json.dumps(forged).encode()).decode()
    error(
        api.get("/times", f"{head}.{forged_b64}.{sig}"),
        401,
        "Authentication failure",
        "Bad API token",
    )


def _token_with_plus(emu: Emulator) -> str:
    """A token of alice's with a '+' in it: tokens issued in the same millisecond are the
    same token, so the emulator's clock moves on between tries (and back after)."""
    start = emu.now()
    try:
        for second in range(500):
            emu.set_clock(start + timedelta(seconds=second))
            token = str(emu.issue_token("alice"))
            if "+" in token:
                return token
    finally:
        emu.set_clock(None)
    raise AssertionError("no token with a '+' in 500 tries")


def test_raw_token_with_plus_works(api: Api, emu: Emulator) -> None:
    token = _token_with_plus(emu)
    # unencoded: '+' arrives as a space and is turned back into '+'
    r = api.session.get(api.base + "/projects?token=" + token)
    assert r.status_code == 200, r.text
    assert api.get("/projects", token).status_code == 200  # percent-encoded


def test_token_expires_after_30_minutes_by_injected_clock(api: Api, emu: Emulator) -> None:
    start = emu.now()
    emu.set_clock(start)
    token = api.login("alice")
    emu.set_clock(start + timedelta(minutes=29, seconds=59))
    assert api.get("/times", token).status_code == 200
    emu.set_clock(start + timedelta(minutes=30))
    error(api.get("/times", token), 401, "Authentication failure", "Bad API token")
    emu.set_clock(None)


def test_clock_attribute_is_injectable(api: Api, emu: Emulator) -> None:
    fixed = emu.now()
    emu.clock = lambda: fixed
    token = api.login("alice")
    emu.clock = lambda: fixed + timedelta(hours=1)
    error(api.get("/times", token), 401, "Authentication failure", "Bad API token")


def test_advance_clock(api: Api, emu: Emulator) -> None:
    token = api.login("bob")
    emu.advance_clock(31 * 60)
    error(api.get("/times", token), 401, "Authentication failure", "Bad API token")


def test_restart_invalidates_every_token_but_keeps_data(
    api: Api, emu: Emulator, tok: dict[str, str]
) -> None:
    r = api.post("/activities", tok["admin"], {"name": "Kept", "slug": "kept"})
    assert r.status_code == 200
    emu.restart()
    for token in tok.values():
        error(api.get("/activities", token), 401, "Authentication failure", "Bad API token")
    fresh = api.login("admin")
    assert api.get("/activities/kept", fresh).status_code == 200


def test_deleted_user_can_still_log_in(api: Api, tok: dict[str, str]) -> None:
    assert api.delete("/users/bob", tok["admin"]).status_code == 200
    assert api.login("bob")
