"""/times: create, get, filters, visibility, update, revisions, delete."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from pymesync.testing import SEED_TIMES, Emulator

from .helpers import Api, error

T1, T2, T3, T4 = (t.uuid for t in SEED_TIMES)


def new_time(**over: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "duration": 1200,
        "project": "gwm",
        "user": "alice",
        "date_worked": "2016-06-01",
    }
    base.update(over)
    return {k: v for k, v in base.items() if v is not None}


def uuids(r: Any) -> set[str]:
    assert r.status_code == 200, r.text
    return {t["uuid"] for t in r.json()}


# --- create -------------------------------------------------------------------------------


def test_create_echoes_single_project_slug_and_omits_default_activities(
    api: Api, tok: dict[str, str], emu: Emulator
) -> None:
    r = api.post("/times", tok["alice"], new_time(uuid="client-made", extra="ignored"))
    assert r.status_code == 200
    assert r.headers["Content-Type"].startswith("text/html")
    body = r.json()
    assert body["project"] == "gwm"
    assert "activities" not in body and "notes" not in body and "issue_uri" not in body
    assert body["uuid"] != "client-made"
    assert body["revision"] == 1
    assert body["created_at"] == emu.now().date().isoformat()
    assert body["updated_at"] is None and body["deleted_at"] is None
    got = api.get(f"/times/{body['uuid']}", tok["alice"]).json()
    assert got["project"] == ["ganeti-webmgr", "gwm"]
    assert got["activities"] == ["dev"]  # gwm's default_activity
    assert got["notes"] is None and got["issue_uri"] is None
    assert got["user"] == "alice" and got["duration"] == 1200


def test_create_with_activities_notes_uri(api: Api, tok: dict[str, str]) -> None:
    obj = new_time(
        project="ganeti-webmgr",
        activities=["docs", "dev"],
        notes="n",
        issue_uri="https://example.com/i/1",
    )
    body = api.post("/times", tok["alice"], obj).json()
    assert body["activities"] == ["docs", "dev"] and body["project"] == "ganeti-webmgr"
    got = api.get(f"/times/{body['uuid']}", tok["alice"]).json()
    assert got["activities"] == ["dev", "docs"]
    assert got["notes"] == "n" and got["issue_uri"] == "https://example.com/i/1"


@pytest.mark.parametrize("field", ["duration", "project", "user", "date_worked"])
def test_create_missing_field(api: Api, tok: dict[str, str], field: str) -> None:
    obj = new_time()
    del obj[field]
    error(
        api.post("/times", tok["alice"], obj), 400, "Bad object", f"The time is missing a {field}"
    )


@pytest.mark.parametrize(
    ("over", "text"),
    [
        ({"duration": "1h"}, "Field duration of time should be number but was sent as string"),
        (
            {"duration": -1},
            "Field duration of time should be positive number but was sent as negative number",
        ),
        ({"project": 5}, "Field project of time should be string but was sent as number"),
        (
            {"project": "Bad_Slug"},
            "Field project of time should be slug but was sent as invalid slug Bad_Slug",
        ),
        ({"activities": "dev"}, "Field activities of time should be array but was sent as string"),
        (
            {"activities": ["dev", "a--b"]},
            "Field activities of time should be slugs but was sent as "
            "array containing at least 1 invalid slug",
        ),
        (
            {"activities": [3]},
            "Field activities of time should be slugs but was sent as "
            "array containing at least 1 number",
        ),
        (
            {"issue_uri": "ftp://x.org/1"},
            "Field issue_uri of time should be URI but was sent as invalid URI ftp://x.org/1",
        ),
        (
            {"date_worked": "yesterday"},
            "Field date_worked of time should be ISO-8601 date but was sent as yesterday",
        ),
        (
            {"date_worked": "2016-02-30"},
            "Field date_worked of time should be ISO-8601 date but was sent as 2016-02-30",
        ),
        (
            {"date_worked": "1970-01-01"},
            "Field date_worked of time should be ISO-8601 date but was sent as 1970-01-01",
        ),
    ],
)
def test_create_invalid_field(
    api: Api, tok: dict[str, str], over: dict[str, Any], text: str
) -> None:
    error(api.post("/times", tok["alice"], new_time(**over)), 400, "Bad object", text)


def test_create_authorization_and_references(api: Api, tok: dict[str, str]) -> None:
    error(
        api.post("/times", tok["alice"], new_time(user="bob")),
        401,
        "Authorization failure",
        "alice is not authorized to create time entries for bob",
    )
    error(
        api.post("/times", tok["admin"], new_time(user="alice")),
        401,
        "Authorization failure",
        "admin is not authorized to create time entries for alice",
    )
    error(
        api.post("/times", tok["carol"], new_time(user="carol")),
        401,
        "Authorization failure",
        "carol is not authorized to create time entries for project gwm.",
    )
    error(
        api.post("/times", tok["alice"], new_time(project="nope")),
        409,
        "Invalid foreign key",
        "The time does not contain a valid project reference.",
    )
    error(
        api.post("/times", tok["alice"], new_time(activities=["nope"])),
        409,
        "Invalid foreign key",
        "The time does not contain a valid activities reference.",
    )
    error(
        api.post("/times", tok["alice"], new_time(project="ts")),
        400,
        "Bad object",
        "The time is missing a activities",
    )
    # a site admin need not be a member
    r = api.post("/times", tok["admin"], new_time(user="admin", project="ps"))
    assert r.status_code == 200, r.text


def test_create_with_bad_json_body(api: Api) -> None:
    r = api.session.post(
        api.base + "/times", data=b"{not json", headers={"Content-Type": "application/json"}
    )
    error(r, 400, "Bad object", "The request body could not be parsed as valid JSON")


# --- get and visibility ------------------------------------------------------------------


def test_visibility(api: Api, tok: dict[str, str]) -> None:
    assert uuids(api.get("/times", tok["alice"])) == {T1, T3}
    assert uuids(api.get("/times", tok["bob"])) == {T2, T3, T4}  # spectator of timesync
    assert uuids(api.get("/times", tok["carol"])) == {T1, T2, T3, T4}  # site spectator
    assert uuids(api.get("/times", tok["admin"])) == {T1, T2, T3, T4}
    assert uuids(api.get("/times", tok["dave"])) == set()  # site manager only sees own
    error(api.get(f"/times/{T2}", tok["alice"]), 404, "Object not found", "Nonexistent time")
    assert api.get(f"/times/{T3}", tok["bob"]).status_code == 200


def test_get_single_errors(api: Api, tok: dict[str, str]) -> None:
    body = error(
        api.get("/times/not-a-uuid", tok["alice"]),
        400,
        "The provided identifier was invalid",
        "Expected UUID but received not-a-uuid",
    )
    assert body["values"] == ["not-a-uuid"]
    error(
        api.get("/times/00000000-0000-0000-0000-000000000000", tok["alice"]),
        404,
        "Object not found",
        "Nonexistent time",
    )
    assert api.get(f"/times/{T1.upper()}", tok["alice"]).json()["uuid"] == T1


def test_filters(api: Api, tok: dict[str, str]) -> None:
    carol = tok["carol"]
    assert uuids(api.get("/times", carol, [("user", "alice")])) == {T1, T3}
    assert uuids(api.get("/times", carol, [("user", "alice"), ("user", "bob")])) == {T1, T2, T3, T4}
    assert uuids(api.get("/times", carol, [("user", "alice"), ("user", "ghost")])) == {T1, T3}
    assert uuids(api.get("/times", carol, [("project", "ganeti-webmgr")])) == {T1, T2}
    assert uuids(api.get("/times", carol, [("project", "gwm")])) == {T1, T2}
    assert uuids(api.get("/times", carol, [("activity", "dev")])) == {T1, T2, T4}
    assert uuids(api.get("/times", carol, [("activity", "docs"), ("activity", "plan")])) == {T2, T3}
    assert uuids(api.get("/times", carol, [("user", "bob"), ("project", "ts")])) == {T4}
    assert uuids(api.get("/times", carol, [("start", "2016-05-03"), ("end", "2016-05-04")])) == {
        T2,
        T3,
    }
    assert uuids(api.get("/times", carol, [("start", "2016-05-05")])) == {T4}
    assert uuids(api.get("/times", carol, [("end", "2016-05-02")])) == {T1}
    assert uuids(api.get("/times", carol, [("unknown", "x")])) == {T1, T2, T3, T4}
    # visibility still applies on top of filters
    assert uuids(api.get("/times", tok["alice"], [("user", "bob")])) == set()


def test_filter_errors(api: Api, tok: dict[str, str], emu: Emulator) -> None:
    carol = tok["carol"]
    error(
        api.get("/times", carol, [("user", "ghost"), ("user", "spook")]),
        400,
        "Bad query value",
        "Parameter user contained invalid value ghost,spook",
    )
    error(
        api.get("/times", carol, [("project", "nope")]),
        400,
        "Bad query value",
        "Parameter project contained invalid value nope",
    )
    error(
        api.get("/times", carol, [("activity", "nope")]),
        400,
        "Bad query value",
        "Parameter activity contained invalid value nope",
    )
    error(
        api.get("/times", carol, [("start", "May 3")]),
        400,
        "Bad query value",
        "Parameter start contained invalid value May 3",
    )
    error(
        api.get("/times", carol, [("end", "2016-13-01")]),
        400,
        "Bad query value",
        "Parameter end contained invalid value 2016-13-01",
    )
    error(
        api.get("/times", carol, [("start", "2016-05-05"), ("end", "2016-05-01")]),
        400,
        "Bad query value",
        "Parameter start contained invalid value 2016-05-05",
    )
    tomorrow = (emu.now() + timedelta(days=1)).date().isoformat()
    error(
        api.get("/times", carol, [("start", tomorrow)]),
        400,
        "Bad query value",
        f"Parameter start contained invalid value {tomorrow}",
    )


def test_start_in_future_follows_the_injected_clock(
    api: Api, tok: dict[str, str], emu: Emulator
) -> None:
    emu.set_clock(datetime(2016, 5, 3, 23, 59, tzinfo=timezone.utc))
    assert api.get("/times", tok["carol"], [("start", "2016-05-03")]).status_code == 200
    assert api.get("/times", tok["carol"], [("start", "2016-05-04")]).status_code == 400
    emu.set_clock(None)


# --- update ------------------------------------------------------------------------------


def test_update_creates_revision(api: Api, tok: dict[str, str], emu: Emulator) -> None:
    r = api.post(f"/times/{T1}", tok["alice"], {"duration": "15", "notes": "changed"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["revision"] == 2 and body["duration"] == 15 and body["notes"] == "changed"
    assert body["updated_at"] == emu.now().date().isoformat()
    assert body["project"] == ["ganeti-webmgr", "gwm"]
    assert body["activities"] == []  # NODE's response quirk when activities are not sent
    got = api.get(f"/times/{T1}", tok["alice"]).json()
    assert got["activities"] == ["dev"] and got["revision"] == 2


def test_update_ignores_falsy_values(api: Api, tok: dict[str, str]) -> None:
    body = api.post(
        f"/times/{T1}", tok["alice"], {"duration": 0, "notes": "", "issue_uri": ""}
    ).json()
    assert body["duration"] == 3600
    assert body["notes"] == "Worked on the VM list"
    assert body["issue_uri"] == "https://github.com/osuosl/ganeti_webmgr/issues/1"


def test_update_fields_and_references(api: Api, tok: dict[str, str]) -> None:
    alice = tok["alice"]
    body = api.post(
        f"/times/{T1}",
        alice,
        {"project": "ps", "activities": ["plan", "docs"], "date_worked": "2016-01-02"},
    ).json()
    assert body["project"] == ["ps", "pymesync"]  # membership of the new project is not checked
    assert body["activities"] == ["docs", "plan"] and body["date_worked"] == "2016-01-02"
    error(
        api.post(f"/times/{T1}", alice, {"owner": "x"}),
        400,
        "Bad object",
        "time does not have a owner field",
    )
    error(
        api.post(f"/times/{T1}", alice, {"project": "Not A Slug"}),
        409,
        "Invalid foreign key",
        "The time does not contain a valid project reference.",
    )
    error(
        api.post(f"/times/{T1}", alice, {"user": "ghost"}),
        409,
        "Invalid foreign key",
        "The time does not contain a valid user reference.",
    )
    error(
        api.post(f"/times/{T1}", alice, {"activities": ["ghost"]}),
        409,
        "Invalid foreign key",
        "The time does not contain a valid activities reference.",
    )
    error(
        api.post(f"/times/{T1}", alice, {"activities": []}),
        400,
        "Bad object",
        "Field activities of time should be non-empty array of slugs but was sent as empty array",
    )
    error(
        api.post(f"/times/{T1}", alice, {"duration": "abc"}),
        400,
        "Bad object",
        "Field duration of time should be number but was sent as string",
    )


def test_update_authorization_and_lookup(api: Api, tok: dict[str, str]) -> None:
    error(
        api.post(f"/times/{T1}", tok["bob"], {"notes": "x"}),
        401,
        "Authorization failure",
        "bob is not authorized to create objects for alice",
    )
    error(
        api.post(f"/times/{T1}", tok["dave"], {"notes": "x"}),
        401,
        "Authorization failure",
        "dave is not authorized to create objects for alice",
    )
    assert api.post(f"/times/{T1}", tok["admin"], {"notes": "by admin"}).status_code == 200
    error(
        api.post("/times/00000000-0000-0000-0000-000000000000", tok["alice"], {"notes": "x"}),
        404,
        "Object not found",
        "Nonexistent time",
    )
    error(
        api.post("/times/xyz", tok["alice"], {"notes": "x"}),
        400,
        "The provided identifier was invalid",
        "Expected UUID but received xyz",
    )


def test_revisions_parents_newest_first(api: Api, tok: dict[str, str]) -> None:
    for n in (2, 3):
        assert api.post(f"/times/{T1}", tok["alice"], {"duration": n * 100}).status_code == 200
    got = api.get(f"/times/{T1}", tok["alice"], [("include_revisions", "true")]).json()
    assert got["revision"] == 3 and got["duration"] == 300
    assert [p["revision"] for p in got["parents"]] == [2, 1]
    assert [p["duration"] for p in got["parents"]] == [200, 3600]
    assert got["parents"][0]["uuid"] == T1 and "parents" not in got["parents"][0]
    listed = api.get("/times", tok["alice"], [("include_revisions", "")]).json()
    assert all("parents" in t for t in listed)
    for off in ("1", "yes", "True"):
        got = api.get(f"/times/{T1}", tok["alice"], [("include_revisions", off)]).json()
        assert "parents" not in got
    never_updated = api.get(f"/times/{T3}", tok["alice"], [("include_revisions", "true")]).json()
    assert never_updated["parents"] == []


# --- delete ------------------------------------------------------------------------------


def test_delete_and_include_deleted(api: Api, tok: dict[str, str], emu: Emulator) -> None:
    r = api.delete(f"/times/{T1}", tok["alice"])
    assert r.status_code == 200 and r.content == b""
    error(api.get(f"/times/{T1}", tok["alice"]), 404, "Object not found", "Nonexistent time")
    assert uuids(api.get("/times", tok["alice"])) == {T3}
    for on in ("true", "0", "", "no"):
        assert T1 in uuids(api.get("/times", tok["alice"], [("include_deleted", on)]))
    assert uuids(api.get("/times", tok["alice"], [("include_deleted", "false")])) == {T3}
    got = api.get(f"/times/{T1}", tok["alice"], [("include_deleted", "true")]).json()
    assert got["deleted_at"] == emu.now().date().isoformat()
    error(api.delete(f"/times/{T1}", tok["alice"]), 404, "Object not found", "Nonexistent uuid")
    # an update undeletes
    body = api.post(f"/times/{T1}", tok["alice"], {"notes": "back"}).json()
    assert body["deleted_at"] is None and body["revision"] == 2
    assert api.get(f"/times/{T1}", tok["alice"]).status_code == 200


def test_delete_errors_and_permissions(api: Api, tok: dict[str, str]) -> None:
    error(
        api.delete("/times/nope", tok["alice"]),
        400,
        "The provided identifier was invalid",
        "Expected uuid but received nope",
    )
    error(
        api.delete("/times/00000000-0000-0000-0000-000000000000", tok["alice"]),
        404,
        "Object not found",
        "Nonexistent uuid",
    )
    error(
        api.delete(f"/times/{T1}", tok["bob"]),
        401,
        "Authorization failure",
        f"bob is not authorized to delete time {T1}",
    )
    assert api.delete(f"/times/{T1}", tok["dave"]).status_code == 200  # site manager
    assert api.delete(f"/times/{T2}", tok["admin"]).status_code == 200
