"""/activities: list, get, create, update, revisions, delete, slug reuse."""

from __future__ import annotations

from pymesync.testing import DEV, Emulator

from .helpers import Api, error


def test_list_and_get(api: Api, tok: dict[str, str]) -> None:
    listed = api.get("/activities", tok["bob"]).json()
    assert sorted(a["slug"] for a in listed) == ["dev", "docs", "plan"]
    dev = api.get("/activities/dev", tok["bob"]).json()
    assert dev["uuid"] == DEV.uuid and dev["name"] == "Development" and dev["revision"] == 1
    assert set(dev) == {
        "uuid",
        "name",
        "slug",
        "revision",
        "created_at",
        "updated_at",
        "deleted_at",
    }
    error(api.get("/activities/ghost", tok["bob"]), 404, "Object not found", "Nonexistent activity")
    error(
        api.get("/activities/a.b", tok["bob"]),
        400,
        "The provided identifier was invalid",
        "Expected slug but received a.b",
    )
    r = api.get("/activities/ghost", tok["bob"], [("include_revisions", "")])
    assert r.status_code == 200 and r.content == b""


def test_create(api: Api, tok: dict[str, str], emu: Emulator) -> None:
    r = api.post("/activities", tok["dave"], {"name": "Testing", "slug": "test"})
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("text/html")
    body = r.json()
    assert body["name"] == "Testing" and body["slug"] == "test" and body["revision"] == 1
    assert body["created_at"] == emu.now().date().isoformat()
    assert body["updated_at"] is None and body["deleted_at"] is None
    assert api.get("/activities/test", tok["bob"]).json()["uuid"] == body["uuid"]


def test_create_errors(api: Api, tok: dict[str, str]) -> None:
    admin = tok["admin"]
    error(
        api.post("/activities", tok["alice"], {"name": "x", "slug": "x"}),
        401,
        "Authorization failure",
        "alice is not authorized to create activities",
    )
    error(
        api.post("/activities", admin, {"name": "x", "slug": "x", "slugs": ["x"]}),
        400,
        "Bad object",
        "activity does not have a slugs field",
    )
    error(
        api.post("/activities", admin, {"slug": "x"}),
        400,
        "Bad object",
        "The activity is missing a name",
    )
    error(
        api.post("/activities", admin, {"name": "", "slug": "x"}),
        400,
        "Bad object",
        "The activity is missing a name",
    )
    error(
        api.post("/activities", admin, {"name": "x"}),
        400,
        "Bad object",
        "The activity is missing a slug",
    )
    error(
        api.post("/activities", admin, {"name": "x", "slug": "X_1"}),
        400,
        "Bad object",
        "Field slug of activity should be slug but was sent as non-slug string",
    )
    body = error(
        api.post("/activities", admin, {"name": "x", "slug": "dev"}),
        409,
        "The slug provided already exists",
        "slug dev already exists",
    )
    assert body["values"] == ["dev"]
    error(
        api.post("/activities", admin, {"name": "Development", "slug": "develop"}),
        400,
        "Bad object",
        "Field name of activity should be unique name but was sent as name which already exists",
    )


def test_update(api: Api, tok: dict[str, str], emu: Emulator) -> None:
    r = api.post("/activities/dev", tok["dave"], {"slug": "develop"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert set(body) == {
        "uuid",
        "name",
        "slug",
        "revision",
        "created_at",
        "updated_at",
    }  # no deleted_at
    assert body["slug"] == "develop" and body["revision"] == 2
    assert body["updated_at"] == emu.now().date().isoformat()
    error(api.get("/activities/dev", tok["bob"]), 404, "Object not found", "Nonexistent activity")
    got = api.get("/activities/develop", tok["bob"], [("include_revisions", "true")]).json()
    assert got["parents"][0]["slug"] == "dev" and got["parents"][0]["revision"] == 1
    # the old slug is free again
    assert (
        api.post("/activities", tok["dave"], {"name": "Dev again", "slug": "dev"}).status_code
        == 200
    )


def test_update_errors(api: Api, tok: dict[str, str]) -> None:
    admin = tok["admin"]
    error(
        api.post("/activities/dev", tok["bob"], {"name": "x"}),
        401,
        "Authorization failure",
        "bob is not authorized to update activity dev",
    )
    error(
        api.post("/activities/ghost", admin, {"name": "x"}),
        404,
        "Object not found",
        "Nonexistent activity",
    )
    error(
        api.post("/activities/dev", admin, {"uri": "x"}),
        400,
        "Bad object",
        "activity does not have a uri field",
    )
    error(
        api.post("/activities/dev", admin, {"name": ""}),
        400,
        "Bad object",
        "Field name of activity should be string but was sent as empty string",
    )
    error(
        api.post("/activities/dev", admin, {"slug": ""}),
        400,
        "Bad object",
        "Field slug of activity should be slug but was sent as empty string",
    )
    error(
        api.post("/activities/dev", admin, {"slug": "No Way"}),
        400,
        "Bad object",
        "Field slug of activity should be valid slug but was sent as invalid slug No Way",
    )
    # resending the current slug or name is a duplicate
    error(
        api.post("/activities/dev", admin, {"slug": "dev"}),
        409,
        "The slug provided already exists",
        "slug dev already exists",
    )
    error(
        api.post("/activities/dev", admin, {"name": "Development"}),
        400,
        "Bad object",
        "Field name of activity should be unique name but was sent as name which already exists",
    )


def test_delete(api: Api, tok: dict[str, str]) -> None:
    error(
        api.delete("/activities/plan", tok["alice"]),
        401,
        "Authorization failure",
        "alice is not authorized to delete activity plan",
    )
    error(api.delete("/activities/ghost", tok["dave"]), 404, "Object not found", "Nonexistent slug")
    r = api.delete("/activities/plan", tok["dave"])  # seed time 3 uses it
    error(
        r,
        405,
        "Method not allowed",
        "The method specified is not allowed for the activity identified",
    )
    assert r.headers["Allow"] == "GET, POST"
    api.post("/activities", tok["dave"], {"name": "Unused", "slug": "unused"})
    r = api.delete("/activities/unused", tok["dave"])
    assert r.status_code == 200 and r.content == b""
    error(
        api.get("/activities/unused", tok["dave"]), 404, "Object not found", "Nonexistent activity"
    )
    assert "unused" not in [a["slug"] for a in api.get("/activities", tok["dave"]).json()]
    # include_deleted on /activities follows the strict rule (true or empty only)
    for off in ("0", "1", "false", "yes"):
        got = api.get("/activities", tok["dave"], [("include_deleted", off)]).json()
        assert len(got) == 3
    got = api.get("/activities", tok["dave"], [("include_deleted", "true")]).json()
    deleted = [a for a in got if a["deleted_at"] is not None]
    assert len(deleted) == 1 and deleted[0]["slug"] is None and deleted[0]["name"] == "Unused"
    assert len(api.get("/activities", tok["dave"], [("include_deleted", "")]).json()) == 4
    # the slug can be reused
    assert (
        api.post("/activities", tok["dave"], {"name": "Unused 2", "slug": "unused"}).status_code
        == 200
    )
