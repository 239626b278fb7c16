"""The direct path's HTTP/1.1 (pymesync.connections) against a raw socket server that
answers with exactly the bytes each test gives: framing, keep-alive, broken answers."""

from __future__ import annotations

import gzip
import selectors
import socket
import threading
import time
from collections.abc import Callable, Iterator
from http.client import BadStatusLine, HTTPException, IncompleteRead, RemoteDisconnected

import pytest

from pymesync.connections import ConnectError, ConnectionPool, Exchange


class RawServer:
    """Answers the n-th request on a connection with ``answers[n]`` (raw bytes), then
    closes the connection when the answers run out. Keeps what it received."""

    def __init__(self, *answers: bytes | list[bytes]) -> None:
        self.answers = answers
        self.received: list[bytes] = []
        self.connections = 0
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._answer, args=(conn,), daemon=True).start()

    def _answer(self, conn: socket.socket) -> None:
        with conn:
            for answer in self.answers:
                data = b""
                while b"\r\n\r\n" not in data:
                    chunk = conn.recv(65536)
                    if not chunk:
                        return
                    data += chunk
                head, _, rest = data.partition(b"\r\n\r\n")
                length = next(
                    (
                        int(line.split(b":")[1])
                        for line in head.split(b"\r\n")
                        if line.lower().startswith(b"content-length:")
                    ),
                    0,
                )
                while len(rest) < length:
                    rest += conn.recv(65536)
                self.received.append(head + b"\r\n\r\n" + rest)
                for piece in answer if isinstance(answer, list) else [answer]:
                    conn.sendall(piece)
                    if isinstance(answer, list):
                        time.sleep(0.02)  # the answer arrives in pieces

    def close(self) -> None:
        self.listener.close()


Serve = Callable[..., tuple[RawServer, ConnectionPool]]


@pytest.fixture
def serve() -> Iterator[Serve]:
    servers: list[RawServer] = []

    def start(*answers: bytes) -> tuple[RawServer, ConnectionPool]:
        server = RawServer(*answers)
        servers.append(server)
        pool = ConnectionPool(
            f"http://127.0.0.1:{server.port}/v0",
            connect_timeout=2,
            read_timeout=2,
            headers={"User-Agent": "test"},
            maxsize=4,
        )
        return server, pool

    yield start
    for server in servers:
        server.close()


def ok(body: bytes, *extra: bytes) -> bytes:
    head = [b"HTTP/1.1 200 OK", b"Content-Length: " + str(len(body)).encode(), *extra]
    return b"\r\n".join(head) + b"\r\n\r\n" + body


def test_request_bytes_and_keep_alive(serve: Serve) -> None:
    server, pool = serve(ok(b'{"a":1}'), ok(b"[]"))
    status, body, headers = pool.request("POST", "/v0/times", b'{"x":1}', {"X-A": "b"})
    assert (status, body, headers.get("CONTENT-LENGTH")) == (200, b'{"a":1}', "7")
    assert pool.request("GET", "/v0/times?token=T", None, {})[1] == b"[]"
    assert server.connections == 1  # the second request reused the connection
    first, second = server.received
    assert first.startswith(b"POST /v0/times HTTP/1.1\r\nHost: 127.0.0.1:")
    assert b'\r\nUser-Agent: test\r\nX-A: b\r\nContent-Length: 7\r\n\r\n{"x":1}' in first
    assert second.startswith(b"GET /v0/times?token=T HTTP/1.1\r\n")
    assert b"Content-Length" not in second


def test_a_connection_the_server_closed_is_not_reused(serve: Serve) -> None:
    # the server closes each connection right after its one answer, without saying so
    server, pool = serve(ok(b"[1]"))
    for _ in range(3):
        assert pool.request("GET", "/v0/times", None, {})[1] == b"[1]"
        time.sleep(0.1)  # meanwhile the server hangs up on the idle connection
    assert server.connections == 3


def test_chunked_body_with_trailers(serve: Serve) -> None:
    answer = (
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"4;ext=1\r\n[1,2\r\n3\r\n,3]\r\n0\r\nX-Trailer: t\r\n\r\n"
    )
    server, pool = serve(answer, ok(b"{}"))
    assert pool.request("GET", "/v0/times", None, {})[1] == b"[1,2,3]"
    assert pool.request("GET", "/v0/times", None, {})[1] == b"{}"
    assert server.connections == 1


def test_interim_100_continue_is_skipped(serve: Serve) -> None:
    _, pool = serve(b"HTTP/1.1 100 Continue\r\n\r\n" + ok(b"{}"))
    assert pool.request("POST", "/v0/times", b"{}", {})[:2] == (200, b"{}")


def test_connection_close_and_http_1_0_are_not_reused(serve: Serve) -> None:
    _, pool = serve(ok(b"1", b"Connection: close"))
    assert pool.request("GET", "/v0/x", None, {})[1] == b"1"
    assert pool._idle == []
    _, pool2 = serve(b"HTTP/1.0 200 OK\r\nContent-Length: 1\r\n\r\n2")
    assert pool2.request("GET", "/v0/x", None, {})[1] == b"2"
    assert pool2._idle == []


def test_body_up_to_the_end_of_the_connection(serve: Serve) -> None:
    _, pool = serve(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\r\n[1]")
    # the server closes after its answers: the body ends there
    assert pool.request("GET", "/v0/x", None, {})[1] == b"[1]"
    assert pool._idle == []


def test_no_body_for_204(serve: Serve) -> None:
    server, pool = serve(b"HTTP/1.1 204 No Content\r\n\r\n", ok(b"x"))
    assert pool.request("DELETE", "/v0/x", None, {})[:2] == (204, b"")
    assert pool.request("GET", "/v0/x", None, {})[1] == b"x"
    assert server.connections == 1


def test_repeated_headers_are_joined_and_gzip_decoded(serve: Serve) -> None:
    body = gzip.compress(b'{"z":1}')
    _, pool = serve(ok(body, b"Content-Encoding: gzip", b"X-R: 1", b"x-r: 2"))
    _, content, headers = pool.request("GET", "/v0/x", None, {})
    assert content == b'{"z":1}' and headers.get("X-R") == "1, 2"


@pytest.mark.parametrize(
    "answer,error",
    [
        (b"", RemoteDisconnected),
        (b"garbage\r\n\r\n", BadStatusLine),
        (b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort", IncompleteRead),
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", HTTPException),
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab", IncompleteRead),
        (b"HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n", HTTPException),
        (b"HTTP/1.1 200 OK\r\n" + b"X: y\r\n" * 101 + b"\r\n", HTTPException),
    ],
)
def test_broken_answers_raise_and_drop_the_connection(
    serve: Serve, answer: bytes, error: type[Exception]
) -> None:
    _, pool = serve(answer)
    with pytest.raises(error):
        pool.request("GET", "/v0/x", None, {})
    assert pool._idle == []


def test_read_timeout_raises_timeout_error() -> None:
    listener = socket.create_server(("127.0.0.1", 0))  # accepts, never answers
    try:
        pool = ConnectionPool(
            f"http://127.0.0.1:{listener.getsockname()[1]}",
            connect_timeout=2,
            read_timeout=0.2,
            headers={},
            maxsize=1,
        )
        with pytest.raises(TimeoutError):
            pool.request("GET", "/x", None, {})
    finally:
        listener.close()


def test_refused_connection_is_a_connect_error() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    pool = ConnectionPool(
        f"http://127.0.0.1:{port}", connect_timeout=2, read_timeout=2, headers={}, maxsize=1
    )
    with pytest.raises(ConnectError) as raised:
        pool.request("GET", "/x", None, {})
    assert isinstance(raised.value.error, ConnectionRefusedError)


def test_header_injection_is_refused_before_connecting() -> None:
    pool = ConnectionPool(
        "http://127.0.0.1:9", connect_timeout=1, read_timeout=1, headers={}, maxsize=1
    )
    with pytest.raises(ValueError):
        pool.request("GET", "/x", None, {"X": "a\r\nEvil: 1"})
    with pytest.raises(ValueError):
        pool.request("GET", "/x y", None, {})


def test_host_header_for_default_ports_and_ipv6() -> None:
    plain = ConnectionPool(
        "http://example.org/v0", connect_timeout=1, read_timeout=1, headers={"Host": "x"}, maxsize=1
    )
    assert plain._message("GET", "/v0", None, {}).startswith(
        b"GET /v0 HTTP/1.1\r\nHost: example.org\r\n\r\n"
    )
    six = ConnectionPool(
        "https://[::1]:8443/v0", connect_timeout=1, read_timeout=1, headers={}, maxsize=1
    )
    assert b"\r\nHost: [::1]:8443\r\n" in six._message("GET", "/v0", None, {})
    with pytest.raises(ValueError):
        ConnectionPool(
            "ftp://example.org", connect_timeout=1, read_timeout=1, headers={}, maxsize=1
        )


# ---------------------------------------------------------------- exchanges (selector)


def finish(exchange: Exchange, timeout: float = 2.0) -> tuple[int, bytes, object]:
    """Wait for ``exchange``'s answer the way the fast lane does."""
    with selectors.DefaultSelector() as selector:
        selector.register(exchange.conn.sock, selectors.EVENT_READ)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if selector.select(0.1):
                answer = exchange.on_readable()
                if answer is not None:
                    return answer
    raise AssertionError("no answer")


@pytest.mark.parametrize(
    "pieces",
    [
        [b"HTTP/1.1 200 OK\r\nContent-Le", b'ngth: 7\r\n\r\n{"a"', b":1}"],
        [
            b'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4\r\n{"a',
            b'"\r\n4\r\n:1}\n\r\n',
            b"0\r\n\r\n",
        ],
        [b"HTTP/1.1 100 Continue\r\n\r\n", b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}"],
    ],
    ids=["content-length", "chunked", "interim"],
)
def test_an_exchange_reads_an_answer_arriving_in_pieces(serve: Serve, pieces: list[bytes]) -> None:
    server, pool = serve(pieces, ok(b"[]"))
    exchange = pool.begin("POST", "/v0/times", b"{}", {})
    status, body, _ = finish(exchange)
    assert status == 200 and body.strip() in (b'{"a":1}', b"{}")
    assert pool.request("GET", "/v0/x", None, {})[1] == b"[]"  # connection reused
    assert server.connections == 1


def test_an_exchange_broken_midway_raises_and_closes(serve: Serve) -> None:
    _, pool = serve([b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc"])
    exchange = pool.begin("GET", "/v0/x", None, {})
    with pytest.raises(IncompleteRead):
        finish(exchange)
    assert pool._idle == []


def test_an_exchange_whose_server_hangs_up_raises_remote_disconnected(serve: Serve) -> None:
    _, pool = serve(b"")
    exchange = pool.begin("GET", "/v0/x", None, {})
    with pytest.raises(RemoteDisconnected):
        finish(exchange)
    assert exchange.deadline is not None and exchange.deadline > time.monotonic()
