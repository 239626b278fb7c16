"""/users: list, get, create, update in place, delete, and NODE's permission rules."""

from __future__ import annotations

import bcrypt

from pymesync.testing import Emulator

from .helpers import Api, error

USER_KEYS = {
    "username",
    "display_name",
    "email",
    "site_spectator",
    "site_manager",
    "site_admin",
    "active",
    "meta",
    "created_at",
    "updated_at",
    "deleted_at",
}


def hashed(plain: str) -> str:
    return bcrypt.hashpw(plain.encode(), bcrypt.gensalt(rounds=4, prefix=b"2a")).decode()


def test_list_and_get(api: Api, tok: dict[str, str], emu: Emulator) -> None:
    listed = api.get("/users", tok["bob"]).json()
    assert sorted(u["username"] for u in listed) == ["admin", "alice", "bob", "carol", "dave"]
    assert all(set(u) == USER_KEYS for u in listed)
    carol = api.get("/users/carol", tok["bob"]).json()
    assert carol["site_spectator"] is True and carol["site_admin"] is False
    assert carol["created_at"] == emu.now().date().isoformat()
    error(api.get("/users/ghost", tok["bob"]), 404, "Object not found", "Nonexistent user")
    error(
        api.get("/users/a.b", tok["bob"]),
        400,
        "The provided identifier was invalid",
        "Expected username but received a.b",
    )


def test_create_stores_password_as_sent(api: Api, tok: dict[str, str], emu: Emulator) -> None:
    r = api.post(
        "/users",
        tok["admin"],
        {"username": "erin", "password": hashed("s3cret"), "email": "e@example.com"},
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert "password" not in body
    assert isinstance(body["created_at"], int)  # epoch ms in this one response
    assert abs(body["created_at"] - emu.now().timestamp() * 1000) < 60_000
    assert body["active"] is True and body["site_admin"] is False and body["display_name"] is None
    assert body["meta"] is None and body["updated_at"] is None and body["deleted_at"] is None
    assert api.get("/users/erin", tok["bob"]).json()["created_at"] == emu.now().date().isoformat()
    assert api.login("erin", "s3cret")
    # a plaintext password is stored as sent, so bcrypt never matches it
    api.post("/users", tok["admin"], {"username": "frank", "password": "plain"})
    error(
        api.raw_login({"type": "password", "username": "frank", "password": "plain"}),
        401,
        "Authentication failure",
        "Incorrect username or password",
    )


def test_create_errors(api: Api, tok: dict[str, str]) -> None:
    admin = tok["admin"]
    error(
        api.post("/users", tok["dave"], {"username": "x", "password": "x"}),
        401,
        "Authorization failure",
        "dave is not authorized to create users",
    )
    error(
        api.post("/users", admin, {"password": "x"}),
        400,
        "Bad object",
        "The user is missing a username",
    )
    error(
        api.post("/users", admin, {"username": "x"}),
        400,
        "Bad object",
        "The user is missing a password",
    )
    error(
        api.post("/users", admin, {"username": "x", "password": "x", "created_at": "2016-01-01"}),
        400,
        "Bad object",
        "user does not have a created_at field",
    )
    error(
        api.post("/users", admin, {"username": "x.y", "password": "x"}),
        400,
        "Bad object",
        "Field username of user should be valid username but was sent as string",
    )
    error(
        api.post("/users", admin, {"username": "xy", "password": "x", "email": "x@example.info"}),
        400,
        "Bad object",
        "Field email of user should be valid email but was sent as string",
    )
    error(
        api.post("/users", admin, {"username": "xy", "password": "x", "site_admin": "yes"}),
        400,
        "Bad object",
        "Field site_admin of user should be boolean but was sent as string",
    )
    body = error(
        api.post("/users", admin, {"username": "alice", "password": "x"}),
        409,
        "Username already exists",
        "username alice already exists",
    )
    assert body["values"] == ["alice"]


def test_update_permissions(api: Api, tok: dict[str, str], emu: Emulator) -> None:
    # self: anything but promotion to manager/admin
    r = api.post("/users/alice", tok["alice"], {"display_name": "Alice B", "site_spectator": True})
    assert r.status_code == 200, r.text
    body = r.json()
    assert (
        set(body) == USER_KEYS
        and body["display_name"] == "Alice B"
        and body["site_spectator"] is True
    )
    assert body["updated_at"] == emu.now().date().isoformat()
    error(
        api.post("/users/alice", tok["alice"], {"site_admin": True}),
        401,
        "Authorization failure",
        "alice is not authorized to set permissions of user alice",
    )
    # other users: no
    error(
        api.post("/users/bob", tok["alice"], {"email": "b@example.com"}),
        401,
        "Authorization failure",
        "alice is not authorized to modify user bob",
    )
    # non-admin site manager: email and site_spectator only
    assert (
        api.post(
            "/users/bob", tok["dave"], {"email": "b2@example.com", "site_spectator": True}
        ).status_code
        == 200
    )
    error(
        api.post("/users/bob", tok["dave"], {"display_name": "B"}),
        401,
        "Authorization failure",
        "dave is not authorized to modify fields of user bob other than site_spectator",
    )
    error(
        api.post("/users/bob", tok["dave"], {"site_manager": True}),
        401,
        "Authorization failure",
        "dave is not authorized to set permissions of user bob",
    )
    # admin: anything
    body = api.post("/users/bob", tok["admin"], {"site_manager": True, "active": False}).json()
    assert body["site_manager"] is True and body["active"] is False


def test_update_errors_and_undelete(api: Api, tok: dict[str, str]) -> None:
    admin = tok["admin"]
    error(
        api.post("/users/bob", admin, {"username": "robert"}),
        400,
        "Bad object",
        "user does not have a username field",
    )
    error(
        api.post("/users/ghost", admin, {"email": "g@example.com"}),
        404,
        "Object not found",
        "Nonexistent user",
    )
    assert api.delete("/users/bob", admin).status_code == 200
    body = api.post("/users/bob", admin, {"meta": "back"}).json()
    assert body["deleted_at"] is None and body["meta"] == "back"


def test_new_password_works_at_login(api: Api, tok: dict[str, str]) -> None:
    assert api.post("/users/alice", tok["alice"], {"password": hashed("n3w")}).status_code == 200
    assert api.login("alice", "n3w")


def test_delete(api: Api, tok: dict[str, str], emu: Emulator) -> None:
    error(
        api.delete("/users/bob", tok["alice"]),
        401,
        "Authorization failure",
        "alice is not authorized to delete user bob",
    )
    r = api.delete("/users/bob", tok["dave"])  # managers may delete users on NODE
    assert r.status_code == 200 and r.content == b""
    error(api.get("/users/bob", tok["dave"]), 404, "Object not found", "Nonexistent user")
    got = api.get("/users/bob", tok["dave"], [("include_deleted", "0")]).json()
    assert got["deleted_at"] == emu.now().date().isoformat() and got["active"] is True
    assert "bob" not in [u["username"] for u in api.get("/users", tok["dave"]).json()]
    assert "bob" in [
        u["username"] for u in api.get("/users", tok["dave"], [("include_deleted", "true")]).json()
    ]
    error(api.delete("/users/bob", tok["dave"]), 404, "Object not found", "Nonexistent user")
