"""Transport behaviour: unknown routes, body parsing, keep-alive, concurrency, prefix."""

from __future__ import annotations

import http.client
import json
import threading
from urllib.parse import urlsplit

import requests

from pymesync.testing import Emulator, run_emulator

from .helpers import Api, error


def test_unknown_routes_give_express_html_404(api: Api, emu: Emulator, tok: dict[str, str]) -> None:
    root = emu.base_url[: -len("/v0")]
    for method, url, shown in [
        ("GET", root + "/v1/times", "GET /v1/times"),
        ("GET", emu.base_url + "/nothing", "GET /v0/nothing"),
        ("GET", emu.base_url + "/times/a/b", "GET /v0/times/a/b"),
        ("DELETE", emu.base_url + "/times", "DELETE /v0/times"),
        ("PUT", emu.base_url + "/times/x", "PUT /v0/times/x"),
        ("GET", emu.base_url + "/login", "GET /v0/login"),
    ]:
        r = requests.request(method, url + "?token=" + tok["alice"], timeout=10)
        assert r.status_code == 404, url
        assert r.headers["Content-Type"].startswith("text/html")
        assert f"<pre>Cannot {shown}</pre>" in r.text


def test_trailing_slash_is_ignored(api: Api, tok: dict[str, str]) -> None:
    assert api.get("/projects/", tok["alice"]).status_code == 200


def test_non_json_content_type_means_empty_body(api: Api, tok: dict[str, str]) -> None:
    body = json.dumps(
        {"auth": {"type": "token", "token": tok["admin"]}, "object": {"name": "a", "slug": "a"}}
    )
    r = api.session.post(
        api.base + "/activities", data=body, headers={"Content-Type": "text/plain"}
    )
    error(r, 401, "Authentication failure", "Missing credentials")
    r = api.session.post(
        api.base + "/activities", data=body, headers={"Content-Type": "application/json"}
    )
    assert r.status_code == 200


def test_scalar_json_body_is_unparseable(api: Api) -> None:
    r = api.session.post(
        api.base + "/login", data=b'"x"', headers={"Content-Type": "application/json"}
    )
    error(r, 400, "Bad object", "The request body could not be parsed as valid JSON")


def test_reads_json_as_text_html_for_writes_and_json_for_reads(
    api: Api, tok: dict[str, str]
) -> None:
    assert api.get("/projects", tok["bob"]).headers["Content-Type"].startswith("application/json")
    r = api.post("/activities", tok["admin"], {"name": "Z", "slug": "z"})
    assert r.headers["Content-Type"].startswith("text/html")
    assert r.json()["slug"] == "z"


def test_head_and_options(emu: Emulator, tok: dict[str, str]) -> None:
    r = requests.head(emu.base_url + "/projects?token=" + tok["bob"], timeout=10)
    assert r.status_code == 200 and r.content == b"" and int(r.headers["Content-Length"]) > 0
    r = requests.options(emu.base_url + "/times/x", timeout=10)
    assert r.status_code == 200 and r.headers["Allow"] == "GET,POST,DELETE"


def test_keep_alive_serves_several_requests_on_one_connection(
    emu: Emulator, tok: dict[str, str]
) -> None:
    parts = urlsplit(emu.base_url)
    conn = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=10)
    try:
        for _ in range(3):
            conn.request("GET", f"{parts.path}/activities?token={tok['bob']}")
            response = conn.getresponse()
            assert response.status == 200
            assert len(json.loads(response.read())) == 3
            assert response.getheader("Connection") != "close"
        conn.request(
            "DELETE", f"{parts.path}/times/00000000-0000-0000-0000-000000000000?token={tok['bob']}"
        )
        response = conn.getresponse()
        assert response.status == 404
        response.read()
        sock = conn.sock
        conn.request("GET", f"{parts.path}/users/bob?token={tok['bob']}")
        assert conn.getresponse().status == 200
        assert conn.sock is sock  # still the same connection
    finally:
        conn.close()
    assert emu.request_count("GET /activities") == 3


def test_concurrent_clients(emu: Emulator, tok: dict[str, str]) -> None:
    errors: list[str] = []
    created: list[str] = []
    lock = threading.Lock()

    def worker(user: str, n: int) -> None:
        api = Api(emu.base_url)
        for i in range(n):
            r = api.post(
                "/times",
                tok[user],
                {"duration": i + 1, "project": "gwm", "user": user, "date_worked": "2016-02-02"},
            )
            with lock:
                if r.status_code != 200:
                    errors.append(r.text)
                else:
                    created.append(r.json()["uuid"])
        api.session.close()

    threads = [threading.Thread(target=worker, args=(u, 15)) for u in ("alice", "bob") * 4]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(created) == len(set(created)) == 120
    listed = Api(emu.base_url).get(
        "/times", tok["admin"], [("start", "2016-02-02"), ("end", "2016-02-02")]
    )
    assert len(listed.json()) == 120
    assert emu.request_count("POST /times") == 120


def test_custom_prefix() -> None:
    with run_emulator(prefix="/api/v9") as emu:
        assert emu.base_url.endswith("/api/v9")
        api = Api(emu.base_url)
        assert api.login("admin", "admin")
        r = requests.get(emu.base_url.replace("/api/v9", "/v0") + "/users", timeout=10)
        assert r.status_code == 404 and "Cannot GET /v0/users" in r.text


def test_without_seed_only_admin_exists() -> None:
    with run_emulator() as emu:
        token = emu.issue_token("admin")
        api = Api(emu.base_url)
        assert [u["username"] for u in api.get("/users", token).json()] == ["admin"]
        assert api.get("/projects", token).json() == []
        assert api.get("/activities", token).json() == []
        assert api.get("/times", token).json() == []


def test_chunked_request_body(api: Api, tok: dict[str, str]) -> None:
    payload = json.dumps(
        {"auth": {"type": "token", "token": tok["admin"]}, "object": {"name": "C", "slug": "c"}}
    ).encode()
    chunks = iter([payload[:10], payload[10:]])
    r = api.session.post(
        api.base + "/activities", data=chunks, headers={"Content-Type": "application/json"}
    )
    assert r.status_code == 200, r.text
    assert r.json()["slug"] == "c"


def test_date_is_stored_as_the_contained_day(api: Api, tok: dict[str, str]) -> None:
    obj = {"duration": 1, "project": "gwm", "user": "alice", "date_worked": "2016-05-02T10:00"}
    body = api.post("/times", tok["alice"], obj).json()
    assert body["date_worked"] == "2016-05-02T10:00"  # echoed as sent
    assert api.get(f"/times/{body['uuid']}", tok["alice"]).json()["date_worked"] == "2016-05-02"
