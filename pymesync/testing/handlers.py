"""The HTTP layer: request parsing, fault injection around each API call, dispatch to the
endpoint functions, and writing (or deliberately not writing) the response."""

from __future__ import annotations

import json
import socket
import threading
import time
import traceback
from contextlib import suppress
from http.server import BaseHTTPRequestHandler
from typing import TYPE_CHECKING, Any, cast
from urllib.parse import parse_qsl, urlsplit

from . import errors as E
from . import routing
from .admin import ADMIN_ROOT, handle_admin
from .auth import login_credentials, password_matches, token_from_body, token_from_query
from .clock import epoch_ms, today_of
from .context import Call, Reply
from .faults import PRE_KINDS, Fault
from .responses import (
    GARBAGE,
    HTML_TYPE,
    NO_CACHE,
    HttpResponse,
    cannot,
    error_response,
    json_response,
    proxy_page,
    reply_response,
    wrong_answer,
)

if TYPE_CHECKING:
    from .server import Emulator, EmulatorHTTPServer


def _is_json(content_type: str | None) -> bool:
    if not content_type:
        return False
    mime = content_type.split(";", 1)[0].strip().lower()
    return mime == "application/json" or mime.endswith("+json")


def parse_body(content_type: str | None, raw: bytes) -> Any:
    """Parse a body like express's ``bodyParser.json()``: only JSON content types are read
    (anything else gives ``{}``); a body that is not a JSON object or array is a 400."""
    if not _is_json(content_type) or not raw.strip():
        return {}
    try:
        body = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise E.unparseable_body() from None
    if not isinstance(body, (dict, list)):
        raise E.unparseable_body()
    return body


def _login(emu: Emulator, body: Any) -> HttpResponse:
    username, password = login_credentials(body)
    with emu.lock:
        user = emu.store.users.get(username)
        stored = user.password if user is not None else None
    if not password_matches(password, stored):
        raise E.authentication_failure("Incorrect username or password")
    token = emu.tokens.issue(username, epoch_ms(emu.clock()))
    return json_response(200, {"token": token}, headers=dict(NO_CACHE))


def dispatch_api(
    emu: Emulator,
    method: str,
    subpath: str,
    raw_path: str,
    query: list[tuple[str, str]],
    content_type: str | None,
    raw: bytes,
) -> HttpResponse:
    """Answer one API request as NODE would (no faults applied here)."""
    found = routing.match(subpath)
    if found is None:
        return cannot(method, raw_path)
    if method == "OPTIONS":
        allowed = ",".join(routing.allowed_methods(found.template))
        headers = {"X-Powered-By": "Express", "Allow": allowed, "Content-Type": HTML_TYPE}
        return HttpResponse(200, allowed.encode("ascii"), headers)
    verb = "GET" if method == "HEAD" else method
    try:
        if found.template == "/login":
            if verb != "POST":
                return cannot(method, raw_path)
            return _login(emu, parse_body(content_type, raw))
        endpoint = routing.ENDPOINTS.get((verb, found.template))
        if endpoint is None:
            return cannot(method, raw_path)
        body = parse_body(content_type, raw) if verb == "POST" else {}
        token = token_from_body(body) if verb == "POST" else token_from_query(query)
        now = emu.clock()
        username = emu.tokens.check(token, epoch_ms(now))
        if username is None:
            raise E.authentication_failure("Bad API token")
        obj = body.get("object") if isinstance(body, dict) else None
        with emu.lock:
            caller = emu.store.users.get(username)
            if caller is None:
                raise E.authentication_failure("Bad API token")
            call = Call(
                store=emu.store,
                caller=caller,
                today=today_of(now),
                query=query,
                obj=obj if isinstance(obj, dict) else {},
                now_ms=epoch_ms(now),
            )
            args = () if found.param is None else (found.param,)
            reply = cast(Reply, endpoint(call, *args))
            if reply.changed:
                emu.persist()
        return reply_response(reply)
    except E.ApiError as err:
        return error_response(err)


def fault_response(fault: Fault) -> HttpResponse:
    """The response of a ``fail`` or ``rate_limit`` fault."""
    if fault.kind == "rate_limit":
        return proxy_page(429, {"Retry-After": str(fault.retry_after)})
    if fault.status == 500:
        return error_response(E.server_error())
    return proxy_page(fault.status)


class Handler(BaseHTTPRequestHandler):
    """One connection to the emulator (HTTP/1.1, keep-alive)."""

    protocol_version = "HTTP/1.1"
    server_version = "TimeSyncEmulator/1.0"

    @property
    def emulator(self) -> Emulator:
        """The emulator this server belongs to."""
        return cast("EmulatorHTTPServer", self.server).emulator

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet unless the emulator is verbose."""
        if self.emulator.verbose:
            super().log_message(format, *args)

    def do_GET(self) -> None:
        """Handle GET."""
        self._handle("GET")

    def do_POST(self) -> None:
        """Handle POST."""
        self._handle("POST")

    def do_DELETE(self) -> None:
        """Handle DELETE."""
        self._handle("DELETE")

    def do_PUT(self) -> None:
        """Handle PUT (never an API route: express's 404)."""
        self._handle("PUT")

    def do_PATCH(self) -> None:
        """Handle PATCH (never an API route: express's 404)."""
        self._handle("PATCH")

    def do_HEAD(self) -> None:
        """Handle HEAD like GET without a body."""
        self._handle("HEAD")

    def do_OPTIONS(self) -> None:
        """Handle OPTIONS (express's automatic ``Allow`` answer)."""
        self._handle("OPTIONS")

    def setup(self) -> None:
        """Disable Nagle's algorithm on the connection."""
        super().setup()
        with suppress(OSError):
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def _read_body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            chunks: list[bytes] = []
            while True:
                size = int(self.rfile.readline().split(b";", 1)[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline().strip():
                        pass
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def _handle(self, method: str) -> None:
        emu = self.emulator
        try:
            raw = self._read_body()
        except (ValueError, OSError):
            self.close_connection = True
            return
        parts = urlsplit(self.path)
        path = parts.path or "/"
        if path == ADMIN_ROOT or path.startswith(ADMIN_ROOT + "/"):
            self._send(handle_admin(emu, method, path[len(ADMIN_ROOT) :], raw), method)
            return
        query = parse_qsl(parts.query, keep_blank_values=True)
        subpath = emu.api_subpath(path)
        found = routing.match(subpath) if subpath is not None else None
        template = found.template if found is not None else None
        entry = emu.request_stats.count(f"{method} {template or path}", self.path)
        emu.request_stats.started()
        try:
            self._answer(method, path, subpath, query, template, raw, entry)
        finally:
            emu.request_stats.ended()

    def _answer(
        self,
        method: str,
        path: str,
        subpath: str | None,
        query: list[tuple[str, str]],
        template: str | None,
        raw: bytes,
        entry: dict[str, Any],
    ) -> None:
        emu = self.emulator
        delay = emu.fault_plan.latency(method, template)
        if delay > 0:
            time.sleep(delay)
        fault = emu.fault_plan.take(method, template)
        if fault is not None:
            entry["fault"] = fault.kind
            emu.request_stats.fault_fired(fault.kind)
        if fault is not None and fault.kind in PRE_KINDS:
            if fault.kind == "hang":
                self._stopped_within(fault.seconds)
                self._drop()
                return
            if fault.kind == "drop_before_commit":
                self._drop()
                return
            if fault.kind == "commit_after_look":
                ctype = self.headers.get("Content-Type")
                held = (emu, method, subpath or "", path, query, ctype, raw)
                emu.fault_plan.commit_after_look(template, lambda: dispatch_api(*held))
                self._stopped_within(fault.seconds)
                self._drop()
                return
            response = fault_response(fault)
        elif subpath is None:
            response = cannot(method, path)
        else:
            try:
                response = dispatch_api(
                    emu, method, subpath, path, query, self.headers.get("Content-Type"), raw
                )
            except Exception:
                if emu.verbose:
                    traceback.print_exc()
                response = error_response(E.server_error())
            if method in ("GET", "HEAD"):
                emu.fault_plan.looked(template)  # (writes held until the client looked)
        entry["status"] = response.status
        if fault is None:
            self._send(response, method)
        elif fault.kind == "lose_response":
            self._drop()
        elif fault.kind == "garble":
            self._send_garbled(response, fault.mode, method)
        elif fault.kind == "trickle":
            self._trickle(response, method, fault.seconds)
        elif fault.kind == "slow_answer" and self._stopped_within(fault.seconds):
            self._drop()  # the emulator is stopping
        else:
            self._send(response, method)

    def _send(self, response: HttpResponse, method: str) -> None:
        body = b"" if method == "HEAD" else response.body
        self._write(response, body, len(response.body))

    def _write(self, response: HttpResponse, body: bytes, length: int) -> None:
        """Send status line, headers and ``body`` in ONE write: a separate small write for
        the body would wait on Nagle + delayed ACK (~40 ms a request)."""
        self.wfile.write(self._head(response, length) + body)

    def _head(self, response: HttpResponse, length: int) -> bytes:
        """Status line and headers of ``response`` (logged as sent)."""
        reason = self.responses.get(response.status, ("",))[0]
        lines = [
            f"{self.protocol_version} {response.status} {reason}",
            f"Server: {self.version_string()}",
            f"Date: {self.date_time_string()}",
        ]
        lines += [f"{key}: {value}" for key, value in response.headers.items()]
        lines.append(f"Content-Length: {length}")
        if self.close_connection:
            lines.append("Connection: close")
        self.log_request(response.status)
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")

    def _trickle(self, response: HttpResponse, method: str, seconds: float) -> None:
        """Send the whole answer one byte at a time, ``seconds`` apart; stop quietly if the
        client hangs up (or hang up if the emulator stops)."""
        body = b"" if method == "HEAD" else response.body
        data = self._head(response, len(response.body)) + body
        try:
            for i in range(len(data)):
                if i > 0 and self._stopped_within(seconds):
                    self._drop()
                    return
                self.wfile.write(data[i : i + 1])
        except OSError:
            self.close_connection = True

    def _stopped_within(self, seconds: float) -> bool:
        """Wait ``seconds``, or less if the emulator stops meanwhile (then True)."""
        stopping = cast("EmulatorHTTPServer", self.server).stopping
        return stopping.wait(min(seconds, threading.TIMEOUT_MAX))

    def _send_garbled(self, response: HttpResponse, mode: str, method: str) -> None:
        body = response.body
        if mode == "garbage":
            self._send(HttpResponse(response.status, GARBAGE, response.headers), method)
        elif mode == "truncate":
            cut = HttpResponse(response.status, body[: len(body) // 2], response.headers)
            self._send(cut, method)
        elif mode == "short":  # promise the full length, send half, hang up
            self._write(response, body[: len(body) // 2], max(len(body), 2))
            self._drop()
        else:
            self._send(wrong_answer(response, mode), method)

    def _drop(self) -> None:
        """Hang up without (further) response bytes."""
        self.close_connection = True
        try:
            self.wfile.flush()
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
