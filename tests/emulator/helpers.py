"""A thin ``requests`` wrapper speaking the TimeSync wire protocol (never the client)."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import requests


class Api:
    """Raw HTTP calls against an emulator's API base URL."""

    def __init__(self, base_url: str) -> None:
        self.base = base_url
        self.session = requests.Session()

    def login(self, username: str, password: str | None = None) -> str:
        r = self.raw_login(
            {"type": "password", "username": username, "password": password or username}
        )
        assert r.status_code == 200, r.text
        token = r.json()["token"]
        assert isinstance(token, str)
        return token

    def raw_login(self, auth: Any) -> requests.Response:
        body = {} if auth is None else {"auth": auth}
        return self.session.post(self.base + "/login", json=body, timeout=10)

    def get(
        self, path: str, token: str | None, params: list[tuple[str, str]] | None = None
    ) -> requests.Response:
        query = list(params or [])
        url = self.base + path
        if token is not None:
            query.append(("token", token))
        if query:
            url += "?" + "&".join(f"{quote(k, safe='')}={quote(v, safe='')}" for k, v in query)
        return self.session.get(url, timeout=10)

    def post(
        self, path: str, token: str | None, obj: Any, auth_type: str = "token"
    ) -> requests.Response:
        body: dict[str, Any] = {"object": obj}
        if token is not None:
            body["auth"] = {"type": auth_type, "token": token}
        return self.session.post(self.base + path, json=body, timeout=10)

    def delete(self, path: str, token: str | None) -> requests.Response:
        url = self.base + path
        if token is not None:
            url += "?token=" + quote(token, safe="")
        return self.session.delete(url, timeout=10)


def error(r: requests.Response, status: int, name: str, text: str | None = None) -> dict[str, Any]:
    """Assert an error response and return its body."""
    assert r.status_code == status, (r.status_code, r.text)
    body: dict[str, Any] = r.json()
    assert body["status"] == status
    assert body["error"] == name, body
    if text is not None:
        assert body["text"] == text, body
    return body
