"""Every fault mode fires exactly as configured (in-process handle and admin HTTP API)."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
import requests

from pymesync.testing import Emulator, RemoteControl
from pymesync.testing.remote import RemoteControlError

from .helpers import Api, error

NOTE = "fault-test"


def post_time(api: Api, token: str, notes: str = NOTE) -> requests.Response:
    obj = {
        "duration": 60,
        "project": "gwm",
        "user": "alice",
        "date_worked": "2016-03-03",
        "notes": notes,
    }
    return api.post("/times", token, obj)


def stored(api: Api, token: str, notes: str = NOTE) -> list[dict[str, Any]]:
    r = api.get("/times", token, [("start", "2016-03-03"), ("end", "2016-03-03")])
    assert r.status_code == 200
    return [t for t in r.json() if t["notes"] == notes]


def test_latency_per_route_and_count(api: Api, emu: Emulator, tok: dict[str, str]) -> None:
    emu.add_latency(0.3, route="GET /projects")
    started = time.monotonic()
    assert api.get("/activities", tok["bob"]).status_code == 200
    assert time.monotonic() - started < 0.25
    for _ in range(2):
        started = time.monotonic()
        assert api.get("/projects", tok["bob"]).status_code == 200
        assert time.monotonic() - started >= 0.3
    emu.clear_faults()
    emu.add_latency(0.2, n=1)
    started = time.monotonic()
    api.get("/users", tok["bob"])
    api.get("/users", tok["bob"])
    assert 0.2 <= time.monotonic() - started < 0.39
    assert emu.faults() == []


def test_fail_next_500_commits_nothing(api: Api, emu: Emulator, tok: dict[str, str]) -> None:
    emu.fail_next(2)
    for _ in range(2):
        error(post_time(api, tok["alice"]), 500, "Server error", "Unexpected server error.")
    assert stored(api, tok["alice"]) == []
    assert post_time(api, tok["alice"]).status_code == 200
    assert len(stored(api, tok["alice"])) == 1
    assert emu.stats()["faults_fired"] == {"fail": 2}


@pytest.mark.parametrize("status", [502, 503, 504])
def test_fail_next_with_proxy_html_page(
    api: Api, emu: Emulator, tok: dict[str, str], status: int
) -> None:
    emu.fail_next(1, status=status)
    r = api.get("/projects", tok["bob"])
    assert r.status_code == status
    assert r.headers["Content-Type"].startswith("text/html")
    assert f"<title>{status} " in r.text
    with pytest.raises(ValueError):
        r.json()
    assert api.get("/projects", tok["bob"]).status_code == 200


def test_rate_limit_carries_retry_after(api: Api, emu: Emulator, tok: dict[str, str]) -> None:
    emu.rate_limit_next(2, retry_after=7)
    for _ in range(2):
        r = post_time(api, tok["alice"])
        assert r.status_code == 429
        assert r.headers["Retry-After"] == "7"
    assert stored(api, tok["alice"]) == []
    assert post_time(api, tok["alice"]).status_code == 200


def test_lose_response_commits_exactly_once(api: Api, emu: Emulator, tok: dict[str, str]) -> None:
    emu.lose_response_next(1, route="POST /times")
    # reads are never affected by a write fault
    assert api.get("/times", tok["alice"]).status_code == 200
    with pytest.raises(requests.exceptions.ConnectionError):
        post_time(api, tok["alice"], "lost-once")
    found = stored(api, tok["alice"], "lost-once")
    assert len(found) == 1
    assert emu.request_count("POST /times") == 1
    assert emu.stats()["faults_fired"] == {"lose_response": 1}
    # the fault is used up: the next write answers normally
    assert post_time(api, tok["alice"], "after").status_code == 200


def test_lose_response_on_delete(api: Api, emu: Emulator, tok: dict[str, str]) -> None:
    uuid = post_time(api, tok["alice"]).json()["uuid"]
    emu.lose_response_next(method="DELETE")
    with pytest.raises(requests.exceptions.ConnectionError):
        api.delete(f"/times/{uuid}", tok["alice"])
    error(api.get(f"/times/{uuid}", tok["alice"]), 404, "Object not found", "Nonexistent time")


def test_drop_before_commit_stores_nothing(api: Api, emu: Emulator, tok: dict[str, str]) -> None:
    emu.drop_before_commit_next(2)
    for _ in range(2):
        with pytest.raises(requests.exceptions.ConnectionError):
            post_time(api, tok["alice"])
    assert stored(api, tok["alice"]) == []
    assert post_time(api, tok["alice"]).status_code == 200
    assert len(stored(api, tok["alice"])) == 1
    assert emu.request_count("POST /times") == 3


def test_write_faults_skip_login_unless_targeted(api: Api, emu: Emulator) -> None:
    emu.drop_before_commit_next()
    assert api.login("alice")  # /login is not a "write"
    with pytest.raises(requests.exceptions.ConnectionError):
        api.post("/activities", emu.issue_token("admin"), {"name": "A", "slug": "a"})
    emu.lose_response_next(route="/login")
    with pytest.raises(requests.exceptions.ConnectionError):
        api.login("alice")


def test_garble_truncate_and_garbage_still_commit(
    api: Api, emu: Emulator, tok: dict[str, str]
) -> None:
    emu.garble_next(1, mode="truncate", route="POST /times")
    r = post_time(api, tok["alice"], "truncated")
    assert r.status_code == 200
    assert r.text.startswith('{"')
    with pytest.raises(ValueError):
        json.loads(r.content)
    assert len(stored(api, tok["alice"], "truncated")) == 1
    emu.garble_next(1, mode="garbage")
    r = api.get("/projects", tok["alice"])
    assert r.status_code == 200
    with pytest.raises(ValueError):
        json.loads(r.content)
    assert api.get("/projects", tok["alice"]).json()


def test_garble_short_breaks_the_read(api: Api, emu: Emulator, tok: dict[str, str]) -> None:
    emu.garble_next(mode="short")
    with pytest.raises(
        (requests.exceptions.ChunkedEncodingError, requests.exceptions.ConnectionError)
    ):
        api.get("/projects", tok["alice"])
    assert api.get("/projects", tok["alice"]).status_code == 200


def test_filters_target_method_and_route(api: Api, emu: Emulator, tok: dict[str, str]) -> None:
    emu.fail_next(1, method="POST", route="/times")
    assert api.get("/times", tok["alice"]).status_code == 200
    assert api.post("/activities", tok["admin"], {"name": "B", "slug": "b"}).status_code == 200
    assert (
        api.post(f"/times/{stored_uuid(api, tok)}", tok["alice"], {"notes": "x"}).status_code == 200
    )
    assert post_time(api, tok["alice"]).status_code == 500
    assert post_time(api, tok["alice"]).status_code == 200
    emu.fail_next(1, route="GET /times/{uuid}")
    assert api.get("/times", tok["alice"]).status_code == 200
    assert api.get(f"/times/{stored_uuid(api, tok)}", tok["alice"]).status_code == 500


def stored_uuid(api: Api, tok: dict[str, str]) -> str:
    uuid: str = api.get("/times", tok["alice"]).json()[0]["uuid"]
    return uuid


def test_faults_fire_in_the_order_added(api: Api, emu: Emulator, tok: dict[str, str]) -> None:
    emu.fail_next(1)
    emu.rate_limit_next(1, retry_after=3)
    emu.fail_next(1, status=503)
    assert [api.get("/users", tok["bob"]).status_code for _ in range(4)] == [500, 429, 503, 200]


def test_counters_count_exactly(api: Api, emu: Emulator, tok: dict[str, str]) -> None:
    emu.reset_stats()
    api.get("/times", tok["alice"])
    api.get("/times", tok["alice"], [("user", "alice")])
    api.get(f"/times/{stored_uuid(api, tok)}", tok["alice"])
    post_time(api, tok["alice"])
    api.delete("/projects/nope", tok["admin"])
    api.get("/activities/dev", tok["alice"])
    requests.get(emu.base_url + "/nowhere", timeout=10)
    RemoteControl(emu.base_url).stats()  # admin calls are not counted
    stats = emu.stats()
    assert stats["routes"] == {
        "GET /times": 3,
        "GET /times/{uuid}": 1,
        "POST /times": 1,
        "DELETE /projects/{slug}": 1,
        "GET /activities/{slug}": 1,
        "GET /v0/nowhere": 1,
    }
    assert stats["total"] == 8 == emu.request_count()
    assert emu.request_count("POST /times") == 1
    assert emu.request_count("POST /projects") == 0
    assert stats["log"][-1]["status"] == 404
    emu.reset_stats()
    assert emu.stats()["routes"] == {} and emu.request_count() == 0


def test_bad_fault_parameters_are_refused(emu: Emulator) -> None:
    with pytest.raises(ValueError):
        emu.fail_next(1, status=418)
    with pytest.raises(ValueError):
        emu.fail_next(1, route="POST /timez")
    with pytest.raises(ValueError):
        emu.garble_next(mode="sideways")
    with pytest.raises(ValueError):
        emu.add_fault("explode")
    remote = RemoteControl(emu.base_url)
    with pytest.raises(RemoteControlError):
        remote.fail_next(0)
    assert emu.faults() == []


def test_admin_http_endpoint(api: Api, emu: Emulator, tok: dict[str, str]) -> None:
    admin = emu.admin_url
    r = requests.post(
        admin + "/faults", json={"kind": "rate_limit", "n": 1, "retry_after": 9}, timeout=10
    )
    assert r.status_code == 200 and r.json()["fault"]["kind"] == "rate_limit"
    assert requests.get(admin + "/faults", timeout=10).json()["faults"][0]["retry_after"] == 9
    assert api.get("/users", tok["bob"]).headers["Retry-After"] == "9"
    assert requests.get(admin + "/stats", timeout=10).json()["faults_fired"] == {"rate_limit": 1}
    assert requests.delete(admin + "/stats", timeout=10).json() == {"ok": True}
    assert requests.get(admin + "/stats", timeout=10).json()["total"] == 0
    requests.post(admin + "/faults", json={"kind": "fail"}, timeout=10)
    assert requests.delete(admin + "/faults", timeout=10).status_code == 200
    assert emu.faults() == []
    assert requests.post(admin + "/restart", timeout=10).status_code == 200
    error(api.get("/users", tok["bob"]), 401, "Authentication failure", "Bad API token")
    token = requests.post(admin + "/token", json={"username": "bob"}, timeout=10).json()["token"]
    assert api.get("/users", token).status_code == 200
    health = requests.get(admin, timeout=10).json()
    assert health["ok"] is True and health["base_url"] == emu.base_url
    assert requests.get(admin + "/nothing", timeout=10).status_code == 404
    r = requests.post(admin + "/faults", json={"kind": "nope"}, timeout=10)
    assert r.status_code == 400 and "unknown fault kind" in r.json()["error"]


def test_remote_control_clock_and_reset(api: Api, emu: Emulator, tok: dict[str, str]) -> None:
    remote = RemoteControl(emu.base_url)
    token = api.login("alice")
    remote.advance_clock(3600)
    assert (remote.now() - emu.now()).total_seconds() < 5
    error(api.get("/times", token), 401, "Authentication failure", "Bad API token")
    remote.set_clock(None)  # back to real time: the token is valid again
    assert api.get("/times", token).status_code == 200
    assert (
        api.post("/activities", tok["admin"], {"name": "Gone", "slug": "gone"}).status_code == 200
    )
    remote.fail_next(3)
    remote.reset()
    assert remote.faults() == [] and remote.request_count() == 0
    admin_token = remote.issue_token("admin")
    error(api.get("/activities/gone", admin_token), 404, "Object not found", "Nonexistent activity")
    assert len(api.get("/times", admin_token).json()) == 4
