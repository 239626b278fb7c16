"""/projects: list, get, create, update, revisions, delete, slug reuse."""

from __future__ import annotations

from typing import Any

import requests

from pymesync.testing import GWM, PYMESYNC, SEED_TIMES, Emulator

from .helpers import Api, error


def new_project(**over: Any) -> dict[str, Any]:
    base: dict[str, Any] = {"name": "New Project", "slugs": ["newp", "np"]}
    base.update(over)
    return base


def test_list_and_get_shapes(api: Api, tok: dict[str, str]) -> None:
    listed = {p["name"]: p for p in api.get("/projects", tok["bob"]).json()}
    assert set(listed) == {"Ganeti Web Manager", "TimeSync", "pymesync"}
    gwm = listed["Ganeti Web Manager"]
    assert gwm["slugs"] == ["ganeti-webmgr", "gwm"]
    assert gwm["default_activity"] == "dev"
    assert gwm["users"] == {
        "alice": {"member": True, "spectator": False, "manager": True},
        "bob": {"member": True, "spectator": False, "manager": False},
    }
    assert gwm["uuid"] == GWM.uuid and gwm["revision"] == 1
    assert set(gwm) >= {"uri", "created_at", "updated_at", "deleted_at"}
    assert "users" not in listed["pymesync"]
    assert listed["TimeSync"]["default_activity"] is None
    got = api.get("/projects/ganeti-webmgr", tok["bob"]).json()
    assert got == gwm


def test_get_errors(api: Api, tok: dict[str, str]) -> None:
    error(
        api.get("/projects/bad.slug", tok["bob"]),
        400,
        "The provided identifier was invalid",
        "Expected slug but received bad.slug",
    )
    error(api.get("/projects/Nope_1", tok["bob"]), 404, "Object not found", "Nonexistent project")
    # NODE's quirk: unknown slug with include_revisions is an empty 200
    r = api.get("/projects/nope", tok["bob"], [("include_revisions", "true")])
    assert r.status_code == 200 and r.content == b""


def test_user_filter(api: Api, tok: dict[str, str]) -> None:
    def names(r: requests.Response) -> list[str]:
        return sorted(p["name"] for p in r.json())

    assert names(api.get("/projects", tok["bob"], [("user", "alice")])) == [
        "Ganeti Web Manager",
        "TimeSync",
    ]
    assert names(api.get("/projects", tok["bob"], [("user", "carol")])) == []
    assert names(api.get("/projects", tok["bob"], [("user", "carol"), ("user", "bob")])) == [
        "Ganeti Web Manager",
        "TimeSync",
    ]
    error(
        api.get("/projects", tok["bob"], [("user", "ghost")]),
        400,
        "Bad query value",
        "Parameter user contained invalid value ghost",
    )


def test_create_success_echo(api: Api, tok: dict[str, str], emu: Emulator) -> None:
    obj = new_project(
        uri="https://example.com/p",
        default_activity="plan",
        users={
            "bob": {"member": True, "spectator": False, "manager": False},
            "ghost": {"member": True},
        },
    )
    r = api.post("/projects", tok["dave"], obj)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["name"] == "New Project" and body["slugs"] == ["newp", "np"]
    assert body["users"] == {"bob": {"member": True, "spectator": False, "manager": False}}
    assert body["revision"] == 1 and body["created_at"] == emu.now().date().isoformat()
    assert body["updated_at"] is None and body["deleted_at"] is None
    got = api.get("/projects/np", tok["bob"]).json()
    assert got["slugs"] == ["newp", "np"] and got["default_activity"] == "plan"
    assert set(got["users"]) == {"bob"}
    # keys not sent are absent from the echo
    body = api.post("/projects", tok["admin"], new_project(name="Bare", slugs=["bare"])).json()
    assert "uri" not in body and "users" not in body and "default_activity" not in body
    got = api.get("/projects/bare", tok["admin"]).json()
    assert got["uri"] is None and got["default_activity"] is None and "users" not in got


def test_create_errors(api: Api, tok: dict[str, str]) -> None:
    admin = tok["admin"]
    error(
        api.post("/projects", tok["alice"], new_project()),
        401,
        "Authorization failure",
        "alice is not authorized to create projects",
    )
    error(
        api.post("/projects", admin, new_project(owner="x")),
        400,
        "Bad object",
        "project does not have a owner field",
    )
    error(
        api.post("/projects", admin, {"slugs": ["a"]}),
        400,
        "Bad object",
        "The project is missing a name",
    )
    error(
        api.post("/projects", admin, {"name": "x"}),
        400,
        "Bad object",
        "The project is missing a slugs",
    )
    error(
        api.post("/projects", admin, new_project(name="TimeSync")),
        400,
        "Bad object",
        "Field name of project should be unique name but was sent as name which already exists",
    )
    error(
        api.post("/projects", admin, new_project(slugs=["ok", "Not-OK"])),
        400,
        "Bad object",
        "Field slugs of project should be slugs but was sent as non-slug strings",
    )
    error(
        api.post("/projects", admin, new_project(uri="not a uri")),
        400,
        "Bad object",
        "Field uri of project should be uri but was sent as non-uri string",
    )
    body = error(
        api.post("/projects", admin, new_project(slugs=["ts", "newp", "gwm"])),
        409,
        "The slug provided already exists",
        "slugs gwm, ts already exist",
    )
    assert body["values"] == ["gwm", "ts"]
    error(
        api.post("/projects", admin, new_project(slugs=["ts"])),
        409,
        "The slug provided already exists",
        "slug ts already exists",
    )
    error(
        api.post("/projects", admin, new_project(default_activity="ghost")),
        409,
        "Invalid foreign key",
        "The project does not contain a valid activity reference.",
    )


def test_update(api: Api, tok: dict[str, str], emu: Emulator) -> None:
    sent_users = {
        "carol": {"member": True, "spectator": True, "manager": False},
        "ghost": {"member": True},
    }
    r = api.post(
        "/projects/gwm",
        tok["alice"],  # project manager of gwm
        {"slugs": ["gwm2", "ganeti"], "users": sent_users, "uri": "", "name": ""},
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["revision"] == 2 and body["updated_at"] == emu.now().date().isoformat()
    assert body["slugs"] == ["ganeti", "gwm2"]
    assert body["users"] == sent_users  # echoed exactly
    assert body["name"] == "Ganeti Web Manager" and body["uri"] == GWM.uri  # "" ignored
    error(api.get("/projects/gwm", tok["alice"]), 404, "Object not found", "Nonexistent project")
    got = api.get("/projects/gwm2", tok["carol"]).json()
    assert got["users"] == {"carol": {"member": True, "spectator": True, "manager": False}}
    # alice lost her manager role with the users replacement
    error(
        api.post("/projects/gwm2", tok["alice"], {"name": "x"}),
        401,
        "Authorization failure",
        "alice is not authorized to make changes to Ganeti Web Manager",
    )
    body = api.post("/projects/gwm2", tok["dave"], {"default_activity": None}).json()
    assert body["default_activity"] is None


def test_update_errors(api: Api, tok: dict[str, str]) -> None:
    admin = tok["admin"]
    error(
        api.post("/projects/ts", tok["bob"], {"name": "x"}),
        401,
        "Authorization failure",
        "bob is not authorized to make changes to TimeSync",
    )
    error(
        api.post("/projects/nope", admin, {"name": "x"}),
        404,
        "Object not found",
        "Nonexistent project",
    )
    error(
        api.post("/projects/ts", admin, {"owner": "x"}),
        400,
        "Bad object",
        "project does not have a owner field",
    )
    error(
        api.post("/projects/ts", admin, {"slugs": []}),
        400,
        "Bad object",
        "Field slugs of project should be array of slugs but was sent as empty array",
    )
    error(
        api.post("/projects/ts", admin, {"slugs": ["ts", "gwm"]}),
        409,
        "The slug provided already exists",
        "slug gwm already exists",
    )
    error(
        api.post("/projects/ts", admin, {"name": "pymesync"}),
        400,
        "Bad object",
        "Field name of project should be unique name but was sent as name which already exists",
    )
    error(
        api.post("/projects/ts", admin, {"default_activity": "ghost"}),
        409,
        "Invalid foreign key",
        "The project does not contain a valid activity reference.",
    )


def test_revisions(api: Api, tok: dict[str, str]) -> None:
    api.post("/projects/ps", tok["admin"], {"name": "pymesync 2"})
    api.post("/projects/ps", tok["admin"], {"name": "pymesync 3"})
    got = api.get("/projects/ps", tok["bob"], [("include_revisions", "true")]).json()
    assert [p["revision"] for p in got["parents"]] == [2, 1]
    assert [p["name"] for p in got["parents"]] == ["pymesync 2", "pymesync"]
    assert all("slugs" not in p and "users" not in p for p in got["parents"])
    listed = api.get("/projects", tok["bob"], [("include_revisions", "")]).json()
    assert all("parents" in p for p in listed)
    assert all(
        "parents" not in p
        for p in api.get("/projects", tok["bob"], [("include_revisions", "1")]).json()
    )


def test_delete_order_405_and_slug_reuse(api: Api, tok: dict[str, str]) -> None:
    # authorization is checked before the slug format and existence
    error(
        api.delete("/projects/bad.slug", tok["alice"]),
        401,
        "Authorization failure",
        "alice is not authorized to delete project bad.slug",
    )
    error(
        api.delete("/projects/bad.slug", tok["dave"]),
        400,
        "The provided identifier was invalid",
        "Expected slug but received bad.slug",
    )
    error(api.delete("/projects/nope", tok["dave"]), 404, "Object not found", "Nonexistent slug")
    r = api.delete("/projects/gwm", tok["dave"])
    error(
        r,
        405,
        "Method not allowed",
        "The method specified is not allowed for the project identified",
    )
    assert r.headers["Allow"] == "GET, POST"
    # pymesync has no times: it can go, its slugs become free
    r = api.delete("/projects/pymesync", tok["dave"])
    assert r.status_code == 200 and r.content == b""
    error(api.get("/projects/ps", tok["dave"]), 404, "Object not found", "Nonexistent project")
    names = [p["name"] for p in api.get("/projects", tok["dave"]).json()]
    assert "pymesync" not in names
    deleted = [
        p
        for p in api.get("/projects", tok["dave"], [("include_deleted", "true")]).json()
        if p["name"] == "pymesync"
    ]
    assert deleted[0]["slugs"] == [] and deleted[0]["deleted_at"] is not None
    assert deleted[0]["uuid"] == PYMESYNC.uuid
    r = api.post("/projects", tok["dave"], {"name": "pymesync", "slugs": ["pymesync", "ps"]})
    assert r.status_code == 200, r.text
    assert r.json()["uuid"] != PYMESYNC.uuid


def test_delete_after_times_are_gone(api: Api, tok: dict[str, str]) -> None:
    for t in SEED_TIMES:
        if t.project == "gwm":
            assert api.delete(f"/times/{t.uuid}", tok["admin"]).status_code == 200
    assert api.delete("/projects/gwm", tok["admin"]).status_code == 200
