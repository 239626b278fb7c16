"""Every fault mode fires exactly as configured (in-process handle and admin HTTP API)."""

from __future__ import annotations

import json
import re
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor
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


# --- slow answers, trickled answers, hung requests, wrong-but-wellformed answers ---------


def post_time_within(
    emu: Emulator, token: str, notes: str, timeout: float, method_url: str = "/times"
) -> requests.Response:
    """POST a time with a client timeout of ``timeout`` seconds (a fresh connection)."""
    obj = {
        "duration": 60,
        "project": "gwm",
        "user": "alice",
        "date_worked": "2016-03-03",
        "notes": notes,
    }
    body = {"object": obj, "auth": {"type": "token", "token": token}}
    return requests.post(emu.base_url + method_url, json=body, timeout=timeout)


def raw_get(emu: Emulator, path: str, read_timeout: float) -> tuple[bytes, float]:
    """GET ``path`` over a raw socket (``Connection: close``); the bytes and the seconds
    until the server hung up.  Every single recv must come within ``read_timeout``."""
    request = f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode()
    with socket.create_connection(("127.0.0.1", emu.port), timeout=5) as sock:
        sock.settimeout(read_timeout)
        started = time.monotonic()
        sock.sendall(request)
        chunks: list[bytes] = []
        while chunk := sock.recv(4096):
            chunks.append(chunk)
        return b"".join(chunks), time.monotonic() - started


def test_slow_answer_commits_before_a_late_answer(
    api: Api, emu: Emulator, tok: dict[str, str]
) -> None:
    rule = emu.slow_answer_next(route="POST /times", seconds=1.0)
    assert rule["kind"] == "slow_answer" and rule["seconds"] == 1.0 and rule["method"] == "POST"
    with pytest.raises(requests.exceptions.ReadTimeout):
        post_time_within(emu, tok["alice"], "slow", timeout=0.3)
    # committed although the client gave up; the server answers other requests meanwhile
    assert len(stored(api, tok["alice"], "slow")) == 1
    # the rule is used up
    assert post_time_within(emu, tok["alice"], "fast", timeout=0.5).status_code == 200
    stats = emu.stats()
    assert stats["faults_fired"] == {"slow_answer": 1}
    assert [e["fault"] for e in stats["log"] if e["route"] == "POST /times"] == [
        "slow_answer",
        None,
    ]


def test_slow_answer_matches_writes_only_and_answers_intact(
    api: Api, emu: Emulator, tok: dict[str, str]
) -> None:
    emu.slow_answer_next(2, seconds=0.4)
    started = time.monotonic()
    assert api.get("/times", tok["alice"]).status_code == 200  # reads are not slowed
    assert api.login("bob")  # nor /login
    assert time.monotonic() - started < 0.35
    uuid = post_time(api, tok["alice"], "late").json()["uuid"]
    started = time.monotonic()
    r = api.delete(f"/times/{uuid}", tok["alice"])
    assert r.status_code == 200 and r.content == b""
    assert time.monotonic() - started >= 0.4
    assert emu.faults() == []
    error(api.get(f"/times/{uuid}", tok["alice"]), 404, "Object not found", "Nonexistent time")


def test_slow_answers_count_as_concurrent(emu: Emulator, tok: dict[str, str]) -> None:
    emu.reset_stats()
    emu.slow_answer_next(2, route="POST /times", seconds=0.5)
    with ThreadPoolExecutor(2) as pool:
        answers = list(
            pool.map(lambda i: post_time_within(emu, tok["alice"], f"c{i}", 5).status_code, [1, 2])
        )
    assert answers == [200, 200]
    stats = emu.stats()
    assert stats["most_at_once"] == 2
    assert stats["faults_fired"] == {"slow_answer": 2}
    assert [(e["status"], e["fault"]) for e in stats["log"]] == [(200, "slow_answer")] * 2


def test_trickle_sends_every_byte_slowly_and_intact(
    api: Api, emu: Emulator, tok: dict[str, str]
) -> None:
    path = f"{emu.prefix}/activities/dev?token={tok['alice']}"
    normal, _ = raw_get(emu, path, read_timeout=5)
    emu.trickle_next(route="GET /activities/{slug}", seconds=0.002)
    # a per-read timeout of 0.5 s never fires although the whole answer takes longer
    trickled, took = raw_get(emu, path, read_timeout=0.5)
    assert len(trickled) > 300
    assert took >= (len(trickled) - 1) * 0.002 > 0.5
    head, _, body = trickled.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 OK\r\n")
    assert b"Content-Length: %d" % len(body) in head
    assert json.loads(body) == json.loads(normal.partition(b"\r\n\r\n")[2])
    assert emu.stats()["faults_fired"] == {"trickle": 1}
    # the next request is answered at once
    started = time.monotonic()
    assert raw_get(emu, path, read_timeout=0.5)[0].partition(b"\r\n\r\n")[2] == body
    assert time.monotonic() - started < 0.3


def test_trickle_over_requests_commits_and_survives_a_hang_up(
    api: Api, emu: Emulator, tok: dict[str, str]
) -> None:
    emu.trickle_next(route="POST /times", seconds=0.001)
    r = post_time_within(emu, tok["alice"], "trickled", timeout=0.5)
    assert r.status_code == 200 and r.json()["notes"] == "trickled"
    assert len(stored(api, tok["alice"], "trickled")) == 1
    # a client that hangs up mid-answer: the server stops quietly and keeps serving
    emu.trickle_next(route="GET /projects", seconds=0.01)
    request = f"GET {emu.prefix}/projects?token={tok['alice']} HTTP/1.1\r\nHost: x\r\n\r\n"
    with socket.create_connection(("127.0.0.1", emu.port), timeout=5) as sock:
        sock.sendall(request.encode())
        assert sock.recv(1) == b"H"
    time.sleep(0.1)
    assert api.get("/projects", tok["alice"]).status_code == 200


def test_hang_commits_nothing_and_never_answers(
    api: Api, emu: Emulator, tok: dict[str, str]
) -> None:
    emu.reset_stats()
    rule = emu.hang_next(route="POST /times")
    assert rule["seconds"] == 3600.0
    with pytest.raises(requests.exceptions.ReadTimeout):
        post_time_within(emu, tok["alice"], "hung", timeout=0.3)
    assert stored(api, tok["alice"], "hung") == []
    assert post_time_within(emu, tok["alice"], "after", timeout=5).status_code == 200
    stats = emu.stats()
    assert stats["faults_fired"] == {"hang": 1}
    first = stats["log"][0]
    assert (first["route"], first["status"], first["fault"]) == ("POST /times", None, "hang")


def test_hang_hangs_up_after_seconds_on_its_route(
    api: Api, emu: Emulator, tok: dict[str, str]
) -> None:
    emu.hang_next(2, route="GET /projects", seconds=0.3)
    assert api.get("/activities", tok["bob"]).status_code == 200
    assert post_time(api, tok["alice"], "other").status_code == 200
    for _ in range(2):
        started = time.monotonic()
        with pytest.raises(requests.exceptions.ConnectionError):
            requests.get(f"{emu.base_url}/projects?token={tok['bob']}", timeout=5)
        assert 0.3 <= time.monotonic() - started < 3
    assert api.get("/projects", tok["bob"]).status_code == 200
    assert emu.stats()["faults_fired"] == {"hang": 2}


def handler_threads() -> set[threading.Thread]:
    return {t for t in threading.enumerate() if "process_request" in t.name}


def test_stop_is_prompt_while_requests_hang() -> None:
    emu = Emulator(seed_data=True).start()
    try:
        before = handler_threads()
        token = emu.issue_token("alice")
        emu.hang_next(3, route="GET /times")
        url = f"{emu.base_url}/times?token={token}"
        with ThreadPoolExecutor(3) as pool:
            calls = [pool.submit(requests.get, url, timeout=30) for _ in range(3)]
            deadline = time.monotonic() + 5
            while emu.stats()["most_at_once"] < 3 and time.monotonic() < deadline:
                time.sleep(0.01)
            assert emu.stats()["most_at_once"] == 3
            started = time.monotonic()
            emu.stop()
            assert time.monotonic() - started < 2
            for call in calls:
                with pytest.raises(requests.exceptions.ConnectionError):
                    call.result(timeout=2)
        # the held handler threads end too (none lingers for an hour)
        deadline = time.monotonic() + 2
        while handler_threads() - before and time.monotonic() < deadline:
            time.sleep(0.01)
        assert not handler_threads() - before
        assert emu.stats()["faults_fired"] == {"hang": 3}
        # and it starts again on the same port
        emu.start()
        assert requests.get(url, timeout=5).status_code == 200
    finally:
        emu.stop()


@pytest.mark.parametrize(
    ("mode", "content_type", "body"),
    [
        ("null", "application/json", b"null"),
        ("list", "application/json", b"[]"),
        ("html", "text/html", b"<html><body>OK</body></html>"),
    ],
)
def test_garble_wrong_answers_after_commit(
    api: Api, emu: Emulator, tok: dict[str, str], mode: str, content_type: str, body: bytes
) -> None:
    emu.garble_next(mode=mode, route="POST /times")
    r = post_time(api, tok["alice"], f"garbled-{mode}")
    assert r.status_code == 200
    assert r.headers["Content-Type"].startswith(content_type)
    assert r.content == body
    assert len(stored(api, tok["alice"], f"garbled-{mode}")) == 1
    # an error answer becomes a 200 too
    emu.garble_next(mode=mode)
    r = api.get("/times/not-a-uuid", tok["alice"])
    assert (r.status_code, r.content) == (200, body)


def test_garble_no_uuid_drops_only_the_uuid(api: Api, emu: Emulator, tok: dict[str, str]) -> None:
    emu.garble_next(mode="no_uuid", route="POST /times")
    r = post_time(api, tok["alice"], "anonymous")
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("application/json")
    answer = r.json()
    assert "uuid" not in answer and answer["notes"] == "anonymous" and answer["revision"] == 1
    [time_] = stored(api, tok["alice"], "anonymous")
    normal = post_time(api, tok["alice"], "anonymous-2").json()
    assert answer == {k: v for k, v in normal.items() if k not in ("uuid", "notes")} | {
        "notes": "anonymous"
    }
    # not an object (a list, an empty DELETE answer): {}
    emu.garble_next(2, mode="no_uuid")
    assert api.get("/times", tok["alice"]).json() == {}
    r = api.delete(f"/times/{time_['uuid']}", tok["alice"])
    assert (r.status_code, r.json()) == (200, {})
    error(api.get(f"/times/{time_['uuid']}", tok["alice"]), 404, "Object not found")


def test_bad_parameters_of_the_new_kinds_are_refused(emu: Emulator) -> None:
    for call, message in [
        (lambda: emu.slow_answer_next(seconds=-1), "seconds must not be negative"),
        (lambda: emu.trickle_next(seconds="slow"), "seconds must be a number"),  # type: ignore[arg-type]
        (lambda: emu.hang_next(seconds=float("inf")), "seconds must be finite"),
        (lambda: emu.hang_next(seconds=float("nan")), "seconds must be finite"),
        (lambda: emu.hang_next(0), "n must be at least 1"),
        (lambda: emu.add_fault("hang", status=500), "unknown parameter(s) for hang: status"),
        (lambda: emu.add_fault("trickle", mode="null"), "unknown parameter(s) for trickle"),
        (lambda: emu.slow_answer_next(route="POST /timez"), "unknown route"),
        (lambda: emu.garble_next(mode="xml"), "mode must be one of"),
    ]:
        with pytest.raises(ValueError, match=re.escape(message)):
            call()
    assert emu.faults() == []


def test_new_kinds_over_the_admin_endpoint(api: Api, emu: Emulator, tok: dict[str, str]) -> None:
    admin = emu.admin_url + "/faults"
    defaults = {}
    for kind in ("slow_answer", "trickle", "hang"):
        r = requests.post(admin, json={"kind": kind}, timeout=10)
        assert r.status_code == 200, r.text
        defaults[kind] = r.json()["fault"]["seconds"]
    assert defaults == {"slow_answer": 1.0, "trickle": 0.5, "hang": 3600.0}
    assert requests.delete(admin, timeout=10).status_code == 200
    r = requests.post(admin, json={"kind": "hang", "seconds": -1}, timeout=10)
    assert r.status_code == 400 and r.json()["error"] == "seconds must not be negative"
    r = requests.post(admin, json={"kind": "garble", "mode": "nope"}, timeout=10)
    assert r.status_code == 400 and "no_uuid" in r.json()["error"]
    r = requests.post(
        admin, json={"kind": "slow_answer", "route": "POST /times", "seconds": 0.5}, timeout=10
    )
    assert r.json()["fault"]["route"] == "/times" and r.json()["fault"]["seconds"] == 0.5
    with pytest.raises(requests.exceptions.ReadTimeout):
        post_time_within(emu, tok["alice"], "slow-remote", timeout=0.2)
    assert len(stored(api, tok["alice"], "slow-remote")) == 1
    # RemoteControl has the same helpers
    remote = RemoteControl(emu.base_url)
    assert remote.hang_next(route="GET /users", seconds=0.2)["kind"] == "hang"
    assert remote.trickle_next(route="GET /users", seconds=0.0001)["seconds"] == 0.0001
    assert remote.garble_next(mode="list", route="GET /users")["mode"] == "list"
    with pytest.raises(requests.exceptions.ConnectionError):
        api.get("/users", tok["bob"])
    assert api.get("/users", tok["bob"]).json()[0]["username"]
    assert api.get("/users", tok["bob"]).json() == []
    with pytest.raises(RemoteControlError, match="seconds must be finite"):
        remote.call("POST", "/faults", {"kind": "trickle", "seconds": float("inf")})
    assert remote.faults() == []
    assert remote.stats()["faults_fired"] == {
        "slow_answer": 1,
        "hang": 1,
        "trickle": 1,
        "garble": 1,
    }
