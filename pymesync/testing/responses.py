"""Raw HTTP responses: JSON (as ``application/json`` or, like NODE's writes, ``text/html``),
express's HTML 404 page, proxy error pages, and the fault-injection bodies."""

from __future__ import annotations

import html
import json
from dataclasses import dataclass, field
from typing import Any

from .context import Reply
from .errors import ApiError

JSON_TYPE = "application/json; charset=utf-8"
HTML_TYPE = "text/html; charset=utf-8"
NO_CACHE = {
    "Cache-Control": "no-cache, no-store, must-revalidate",
    "Pragma": "no-cache",
    "Expires": "0",
}

_REASONS = {
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}


@dataclass
class HttpResponse:
    """Status, headers and body bytes of one response."""

    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)


def dumps(obj: Any) -> bytes:
    """Compact JSON, as express sends it."""
    return json.dumps(obj, separators=(",", ":")).encode("utf-8")


def json_response(
    status: int, obj: Any, *, html_type: bool = False, headers: dict[str, str] | None = None
) -> HttpResponse:
    """JSON body; ``html_type`` labels it ``text/html`` the way NODE does for writes."""
    out = {"X-Powered-By": "Express", "Content-Type": HTML_TYPE if html_type else JSON_TYPE}
    out.update(headers or {})
    return HttpResponse(status, dumps(obj), out)


def error_response(err: ApiError) -> HttpResponse:
    """The JSON error object with the error's status and extra headers."""
    return json_response(err.status, err.body(), headers=err.headers)


def reply_response(reply: Reply) -> HttpResponse:
    """Turn an endpoint's :class:`Reply` into bytes."""
    if reply.empty:
        return HttpResponse(reply.status, b"", {"X-Powered-By": "Express", **reply.headers})
    return json_response(reply.status, reply.body, html_type=reply.html, headers=reply.headers)


def cannot(method: str, path: str) -> HttpResponse:
    """express's default 404 page: "Cannot GET /path" as ``text/html``."""
    page = (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        "<title>Error</title>\n</head>\n<body>\n"
        f"<pre>Cannot {html.escape(method)} {html.escape(path)}</pre>\n</body>\n</html>\n"
    )
    return HttpResponse(
        404,
        page.encode("utf-8"),
        {
            "X-Powered-By": "Express",
            "Content-Security-Policy": "default-src 'none'",
            "X-Content-Type-Options": "nosniff",
            "Content-Type": HTML_TYPE,
        },
    )


def proxy_page(status: int, headers: dict[str, str] | None = None) -> HttpResponse:
    """An nginx-style HTML error page (used for injected 502/503/504 and 429)."""
    title = f"{status} {_REASONS.get(status, 'Error')}"
    page = (
        f"<html>\r\n<head><title>{title}</title></head>\r\n<body>\r\n"
        f"<center><h1>{title}</h1></center>\r\n<hr><center>nginx</center>\r\n"
        "</body>\r\n</html>\r\n"
    )
    out = {"Server": "nginx", "Content-Type": "text/html"}
    out.update(headers or {})
    return HttpResponse(status, page.encode("ascii"), out)


GARBAGE = b'\x1f\x8b\x08\x00<<garbage>>\xff\xfe{"status":2\x00\x00'
"""The body sent by the ``garbage`` garble mode: neither JSON nor UTF-8."""

OK_PAGE = b"<html><body>OK</body></html>"
"""The body sent by the ``html`` garble mode."""


def wrong_answer(response: HttpResponse, mode: str) -> HttpResponse:
    """The well-formed but wrong answer of the ``null``, ``list``, ``html`` and ``no_uuid``
    garble modes, in place of ``response``: status 200 unless the real answer was another
    success status, JSON (or, for ``html``, an HTML page)."""
    status = response.status if 200 <= response.status < 300 else 200
    headers = {**response.headers, "Content-Type": HTML_TYPE if mode == "html" else JSON_TYPE}
    if mode == "html":
        return HttpResponse(status, OK_PAGE, headers)
    obj: Any = None if mode == "null" else [] if mode == "list" else {}
    if mode == "no_uuid":
        try:
            answer = json.loads(response.body)
        except ValueError:
            answer = None
        if isinstance(answer, dict):
            obj = {key: value for key, value in answer.items() if key != "uuid"}
    return HttpResponse(status, dumps(obj), headers)
