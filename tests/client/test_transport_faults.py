"""The transport over real loopback HTTP: raw socket servers that answer with exactly the
bytes (and at exactly the pace) each test gives, and the emulator's faults.

What users see: the error text, type and ``maybe_sent`` of every kind of broken answer,
keep-alive reuse, timeouts, the total deadline (a server that trickles its answer),
``Transport.abort()``, and many threads sharing one transport.
"""

from __future__ import annotations

import gzip
import shutil
import socket
import ssl
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests

from pymesync import errors, wire
from pymesync.testing import run_emulator
from pymesync.transport import Transport
from pymesync.validation import TimesQuery

TIME = {
    "duration": 600,
    "project": "gwm",
    "user": "alice",
    "date_worked": "2014-04-17",
    "activities": ["dev"],
}

#: What a server does with one request: gets the socket, sends what it likes; returns
#: False to hang up, anything else to wait for the next request on the connection.
Behaviour = Callable[[socket.socket], Any]


class RawServer:
    """Serves the n-th request it receives (on any connection) with ``behaviours[n]``,
    and every request after the last with the last. Counts connections, keeps what it
    received."""

    def __init__(self, *behaviours: Behaviour | bytes, tls: ssl.SSLContext | None = None) -> None:
        self.tls = tls
        self.behaviours = [
            b if callable(b) else (lambda conn, data=b: conn.sendall(data)) for b in behaviours
        ]
        self.received: list[bytes] = []
        self.connections = 0
        self._lock = threading.Lock()
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.url = f"{'https' if tls else 'http'}://127.0.0.1:{self.port}/v0"
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
        if self.tls is not None:
            try:
                conn = self.tls.wrap_socket(conn, server_side=True)
            except (OSError, ssl.SSLError):
                conn.close()
                return
        with conn:
            try:
                while self._read_request(conn):
                    with self._lock:
                        n = min(len(self.received), len(self.behaviours)) - 1
                    if self.behaviours[n](conn) is False:
                        return
            except OSError:
                return

    def _read_request(self, conn: socket.socket) -> bool:
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = conn.recv(65536)
            if not chunk:
                return False
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
        with self._lock:
            self.received.append(head + b"\r\n\r\n" + rest)
        return True

    def close(self) -> None:
        self.listener.close()


@pytest.fixture
def serve() -> Iterator[Callable[..., RawServer]]:
    servers: list[RawServer] = []

    def start(*behaviours: Behaviour | bytes, tls: ssl.SSLContext | None = None) -> RawServer:
        server = RawServer(*behaviours, tls=tls)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.close()


def ok(body: bytes, *extra: bytes) -> bytes:
    head = [b"HTTP/1.1 200 OK", b"Content-Length: " + str(len(body)).encode(), *extra]
    return b"\r\n".join(head) + b"\r\n\r\n" + body


def hang_up(data: bytes) -> Behaviour:
    """Send ``data``, then close the connection."""

    def send(conn: socket.socket) -> bool:
        conn.sendall(data)
        return False

    return send


def trickle(data: bytes, every: float = 0.3) -> Behaviour:
    """Send ``data`` one byte every ``every`` seconds."""

    def send(conn: socket.socket) -> None:
        for byte in data:
            conn.sendall(bytes([byte]))
            time.sleep(every)

    return send


def stall(after: bytes = b"", seconds: float = 30.0) -> Behaviour:
    """Send ``after`` (e.g. the headers), then nothing for ``seconds``; then hang up."""

    def send(conn: socket.socket) -> bool:
        conn.sendall(after)
        end = time.monotonic() + seconds
        conn.settimeout(0.1)
        while time.monotonic() < end:  # until the client gives up or the time is over
            try:
                if not conn.recv(1):
                    break
            except TimeoutError:
                continue
        return False

    return send


def get(transport: Transport, token: str = "T") -> Any:
    return transport.send(wire.times_request(TimesQuery()), token)


def outcome(call: Callable[[], Any]) -> tuple[Any, ...]:
    try:
        return ("ok", call())
    except errors.PymesyncError as error:
        return (type(error).__name__, str(error), error.maybe_sent)


def reason(result: tuple[Any, ...]) -> str:
    return str(result[1]).split(" - ", 1)[1]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


# ---------------------------------------------------------------- framing, keep-alive


def test_requests_and_answers_on_one_keep_alive_connection(serve: Any) -> None:
    server = serve(ok(b'{"a":1}'), ok(b"[]"), ok(b"[2]"))
    transport = Transport(server.url, timeout=2)
    assert transport.send(wire.write_request("time", None, TIME), "T") == {"a": 1}
    assert get(transport) == []
    assert get(transport) == [2]
    assert server.connections == 1  # the later requests reused the connection
    post, first_get, _ = server.received
    assert post.startswith(b"POST /v0/times HTTP/1.1\r\n")
    assert b"\r\nContent-Type: application/json\r\n" in post
    assert b'{"auth": {"type": "token", "token": "T"}, "object": {"duration": 600' in post
    assert first_get.startswith(b"GET /v0/times?token=T HTTP/1.1\r\n")


def test_a_connection_the_server_closed_is_not_reused(serve: Any) -> None:
    server = serve(hang_up(ok(b"[1]")))  # after each answer, without saying so
    transport = Transport(server.url, timeout=2)
    for _ in range(3):
        assert get(transport) == [1]
        time.sleep(0.1)  # meanwhile the server hangs up on the idle connection
    assert server.connections == 3


def test_chunked_body_with_trailers_then_reuse(serve: Any) -> None:
    chunked = (
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"4;ext=1\r\n[1,2\r\n3\r\n,3]\r\n0\r\nX-Trailer: t\r\n\r\n"
    )
    server = serve(chunked, ok(b"{}"))
    transport = Transport(server.url, timeout=2)
    assert get(transport) == [1, 2, 3]
    assert get(transport) == {}
    assert server.connections == 1


def test_interim_100_continue_is_skipped(serve: Any) -> None:
    server = serve(b"HTTP/1.1 100 Continue\r\n\r\n" + ok(b"{}"))
    assert Transport(server.url, timeout=2).send(wire.write_request("time", None, TIME), "T") == {}


def test_connection_close_and_http_1_0_answers(serve: Any) -> None:
    server = serve(ok(b"[1]", b"Connection: close"), ok(b"[2]"))
    transport = Transport(server.url, timeout=2)
    assert get(transport) == [1] and get(transport) == [2]
    assert server.connections == 2  # "Connection: close" is honoured
    old = serve(b"HTTP/1.0 200 OK\r\nContent-Length: 3\r\n\r\n[3]", ok(b"[4]"))
    transport = Transport(old.url, timeout=2)
    assert get(transport) == [3] and get(transport) == [4]
    assert old.connections == 2


def test_body_up_to_the_end_of_the_connection(serve: Any) -> None:
    server = serve(hang_up(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\r\n[1]"))
    assert get(Transport(server.url, timeout=2)) == [1]


def test_gzip_body_is_decoded(serve: Any) -> None:
    server = serve(ok(gzip.compress(b'{"z":1}'), b"Content-Encoding: gzip"))
    assert get(Transport(server.url, timeout=2)) == {"z": 1}


SHORT = "the connection broke before the whole response arrived"
CLOSED = "the connection was closed before a response arrived"


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        (b"", CLOSED),
        (b"garbage\r\n\r\n", CLOSED),
        (b"HTTP/1.1 200 OK\r\n" + b"X: y\r\n" * 101 + b"\r\n", CLOSED),
        # Content-Length promises more than arrives before the server hangs up
        (b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n[1,2]", SHORT),
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab", SHORT),
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", "ChunkedEncodingError"),
    ],
    ids=["nothing", "no-status-line", "too-many-headers", "short-body", "short-chunk", "bad-chunk"],
)
def test_broken_answers(serve: Any, answer: bytes, expected: str) -> None:
    server = serve(hang_up(answer), ok(b"[]"))
    transport = Transport(server.url, timeout=2)
    result = outcome(lambda: get(transport, "s3cr3t"))
    assert result[0] == "ConnectionFailedError", result
    assert reason(result).startswith(expected) and result[2] is True  # maybe sent
    assert "s3cr3t" not in result[1]
    assert get(transport) == []  # the broken connection was dropped, not reused


def test_more_body_than_content_length_is_a_bad_response(serve: Any) -> None:
    server = serve(hang_up(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n[1]"))
    result = outcome(lambda: get(Transport(server.url, timeout=2)))
    assert result[:2] == (
        "BadResponseError",
        f"connection to TimeSync failed at baseurl {server.url} - response status was 200",
    )


def test_read_timeout(serve: Any) -> None:
    server = serve(stall())  # reads the request, never answers
    transport = Transport(server.url, timeout=0.3)
    started = time.monotonic()
    result = outcome(lambda: get(transport))
    assert time.monotonic() - started < 0.3 + 2
    assert result == (
        "ConnectionFailedError",
        f"connection to TimeSync failed at baseurl {server.url} - no response within 0.3 seconds",
        True,
    )


def test_read_timeout_in_the_body(serve: Any) -> None:
    server = serve(stall(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n[1,"))
    result = outcome(lambda: get(Transport(server.url, timeout=0.3)))
    assert result[0] == "ConnectionFailedError" and result[2] is True
    assert reason(result) == "no response within 0.3 seconds"


def test_refused_connection_was_certainly_not_sent() -> None:
    url = f"http://127.0.0.1:{free_port()}/v0"
    result = outcome(lambda: get(Transport(url, timeout=2)))
    assert result == (
        "ConnectionFailedError",
        f"connection to TimeSync failed at baseurl {url} - could not connect: Connection refused",
        False,
    )


# ---------------------------------------------------------------- the total deadline

ANSWER = ok(b"[" + b"1," * 9 + b"1]")  # 79 bytes: 24 s at one byte every 0.3 s


def test_a_trickled_answer_ends_at_the_deadline(serve: Any) -> None:
    server = serve(trickle(ANSWER))
    transport = Transport(server.url, timeout=1)
    assert transport.deadline == 2  # connect + read timeout
    started = time.monotonic()
    result = outcome(lambda: get(transport))
    assert time.monotonic() - started < 2 + 2
    assert result == (
        "ConnectionFailedError",
        f"connection to TimeSync failed at baseurl {server.url}"
        " - no complete response within 2 seconds",
        True,
    )


def test_a_trickled_body_ends_at_the_deadline(serve: Any) -> None:
    head, _, body = ANSWER.partition(b"\r\n\r\n")

    def headers_then_trickle(conn: socket.socket) -> None:
        conn.sendall(head + b"\r\n\r\n")
        trickle(body)(conn)

    server = serve(headers_then_trickle)
    transport = Transport(server.url, timeout=(0.5, 1), deadline=1.5)
    started = time.monotonic()
    result = outcome(lambda: get(transport))
    assert time.monotonic() - started < 1.5 + 2
    assert reason(result) == "no complete response within 1.5 seconds" and result[2] is True


def test_a_body_up_to_the_end_of_the_connection_is_not_cut_silently(serve: Any) -> None:
    # no Content-Length: what arrived by the deadline must not pass for the whole body
    body = b"[" + b"1," * 50 + b"1]"
    server = serve(trickle(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n" + body, every=0.05))
    transport = Transport(server.url, timeout=(0.5, 1), deadline=1)
    result = outcome(lambda: get(transport))
    assert reason(result) == "no complete response within 1 seconds"


def test_headers_then_a_stall_with_a_long_read_timeout(serve: Any) -> None:
    server = serve(stall(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n"))
    transport = Transport(server.url, timeout=(1, 30), deadline=1.5)
    started = time.monotonic()
    result = outcome(lambda: get(transport))
    assert time.monotonic() - started < 1.5 + 2
    assert reason(result) == "no complete response within 1.5 seconds" and result[2] is True


def test_the_deadline_on_a_reused_connection_and_after_it(serve: Any) -> None:
    server = serve(ok(b"[1]"), trickle(ANSWER), ok(b"[3]"))
    transport = Transport(server.url, timeout=0.5)  # deadline 1 s
    assert get(transport) == [1]
    result = outcome(lambda: get(transport))  # the second request of the connection
    assert reason(result) == "no complete response within 1.0 seconds"
    assert get(transport) == [3]  # a new connection: the pool was not poisoned
    assert server.connections == 2


def test_a_caller_session_gets_the_deadline_as_a_cap_on_its_timeouts(serve: Any) -> None:
    server = serve(stall(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n"))
    transport = Transport(server.url, timeout=(1, 30), deadline=1.5, session=requests.Session())
    started = time.monotonic()
    result = outcome(lambda: get(transport))
    assert time.monotonic() - started < 1.5 + 2
    assert reason(result) == "no complete response within 1.5 seconds"


def test_the_deadline_applies_through_a_proxy_from_the_environment(
    serve: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    proxy = serve(trickle(ANSWER))  # the "proxy" answers itself, slowly
    monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{proxy.port}")
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    transport = Transport("http://timesync.invalid/v0", timeout=0.5)
    started = time.monotonic()
    result = outcome(lambda: get(transport))
    assert time.monotonic() - started < 1 + 2
    assert reason(result) == "no complete response within 1.0 seconds"
    assert proxy.received[0].startswith(b"GET http://timesync.invalid/v0/times?token=T HTTP/1.1")


def test_a_tls_handshake_that_never_comes_ends_at_the_deadline_unsent() -> None:
    listener = socket.create_server(("127.0.0.1", 0))  # accepts, never speaks TLS
    accepted: list[socket.socket] = []
    threading.Thread(target=lambda: accepted.append(listener.accept()[0]), daemon=True).start()
    try:
        url = f"https://127.0.0.1:{listener.getsockname()[1]}/v0"
        transport = Transport(url, timeout=(5, 5), deadline=1)
        started = time.monotonic()
        result = outcome(lambda: get(transport))
        assert time.monotonic() - started < 1 + 2
        assert reason(result) == "no complete response within 1 seconds"
        assert result[2] is False  # the connection never opened: nothing went out
    finally:
        listener.close()
        for conn in accepted:
            conn.close()


def test_deadline_validation_and_default() -> None:
    assert Transport("http://x/v0").deadline == 20.0
    assert Transport("http://x/v0", timeout=(3, 4.5)).deadline == 7.5
    assert Transport("http://x/v0", deadline=2).deadline == 2
    with pytest.raises(ValueError):
        Transport("http://x/v0", deadline=0)
    with pytest.raises(ValueError):
        Transport("http://x/v0", pool_size=0)


def test_the_deadline_caps_the_timeouts_handed_to_requests(requests_mock: Any) -> None:
    requests_mock.get("http://x/v0/times?token=T", json=[])
    get(Transport("http://x/v0", timeout=(1.5, 7)))
    assert requests_mock.last_request.timeout == (1.5, 7)  # unchanged: deadline 8.5
    get(Transport("http://x/v0", timeout=10, deadline=4))
    assert requests_mock.last_request.timeout == (4, 4)


# ---------------------------------------------------------------- abort


def test_abort_ends_a_hanging_request_at_once_and_the_pool_still_works(serve: Any) -> None:
    server = serve(ok(b"[1]"), stall(), ok(b"[3]"))
    transport = Transport(server.url, timeout=30)
    assert get(transport) == [1]
    results: list[tuple[Any, ...]] = []
    thread = threading.Thread(target=lambda: results.append(outcome(lambda: get(transport))))
    thread.start()
    time.sleep(0.5)  # the request is out, its answer awaited
    aborted_at = time.monotonic()
    assert transport.abort() == 1
    thread.join(5)
    assert time.monotonic() - aborted_at < 1
    assert results == [
        (
            "ConnectionFailedError",
            f"connection to TimeSync failed at baseurl {server.url} - the request was abandoned",
            True,
        )
    ]
    assert get(transport) == [3]  # a new connection; later requests are not affected
    assert transport.abort() == 0


def test_abort_ends_every_request_in_flight(serve: Any) -> None:
    server = serve(trickle(ANSWER, every=0.5))
    transport = Transport(server.url, timeout=30)
    results: list[tuple[Any, ...]] = []
    threads = [
        threading.Thread(target=lambda: results.append(outcome(lambda: get(transport))))
        for _ in range(4)
    ]
    for thread in threads:
        thread.start()
    time.sleep(0.5)
    assert transport.abort() == 4
    for thread in threads:
        thread.join(5)
    assert [reason(result) for result in results] == ["the request was abandoned"] * 4


def test_abort_does_nothing_for_a_caller_session() -> None:
    assert Transport("http://x/v0", session=requests.Session()).abort() == 0


# ---------------------------------------------------------------- HTTPS


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    """A self-signed certificate for 127.0.0.1 and its key (made with openssl)."""
    if shutil.which("openssl") is None:
        pytest.skip("no openssl command to make a certificate with")
    folder = tmp_path_factory.mktemp("tls")
    cert, key = str(folder / "cert.pem"), str(folder / "key.pem")
    subprocess.run(
        [
            *("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2"),
            *("-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"),
            *("-keyout", key, "-out", cert),
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


@pytest.fixture
def tls(certificate: tuple[str, str], monkeypatch: pytest.MonkeyPatch) -> ssl.SSLContext:
    """The server's TLS context; the client trusts it through REQUESTS_CA_BUNDLE."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(*certificate)
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", certificate[0])
    return context


def test_https_with_a_ca_bundle_from_the_environment(serve: Any, tls: ssl.SSLContext) -> None:
    server = serve(ok(b"[1]"), ok(b"[2]"), tls=tls)
    transport = Transport(server.url, timeout=2)
    assert get(transport) == [1] and get(transport) == [2]
    assert server.connections == 1


def test_https_without_the_ca_is_refused(
    serve: Any, tls: ssl.SSLContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("REQUESTS_CA_BUNDLE")
    server = serve(ok(b"[1]"), tls=tls)
    result = outcome(lambda: get(Transport(server.url, timeout=2), "s3cr3t"))
    assert result[0] == "ConnectionFailedError" and "CERTIFICATE_VERIFY_FAILED" in result[1]


def test_https_trickled_answer_ends_at_the_deadline(serve: Any, tls: ssl.SSLContext) -> None:
    server = serve(trickle(ANSWER), ok(b"[2]"), tls=tls)
    transport = Transport(server.url, timeout=(1, 0.5), deadline=1.5)
    started = time.monotonic()
    result = outcome(lambda: get(transport))
    assert time.monotonic() - started < 1.5 + 2
    assert reason(result) == "no complete response within 1.5 seconds" and result[2] is True
    assert get(transport) == [2]


def test_https_abort(serve: Any, tls: ssl.SSLContext) -> None:
    server = serve(stall(), ok(b"[2]"), tls=tls)
    transport = Transport(server.url, timeout=30)
    results: list[tuple[Any, ...]] = []
    thread = threading.Thread(target=lambda: results.append(outcome(lambda: get(transport))))
    thread.start()
    time.sleep(0.7)
    aborted_at = time.monotonic()
    assert transport.abort() == 1
    thread.join(5)
    assert time.monotonic() - aborted_at < 1
    assert [reason(result) for result in results] == ["the request was abandoned"]
    assert get(transport) == [2]


# ---------------------------------------------------------------- the emulator's faults


@pytest.fixture(scope="module")
def emulator() -> Iterator[Any]:
    with run_emulator(seed_data=True) as emu:
        yield emu


@pytest.fixture
def emu(emulator: Any) -> Iterator[Any]:
    yield emulator
    emulator.clear_faults()


def token_of(emulator: Any) -> str:
    return str(emulator.issue_token("alice"))


def full_outcome(call: Callable[[], Any]) -> tuple[Any, ...]:
    try:
        return ("ok", call())
    except errors.PymesyncError as error:
        return (
            type(error).__name__,
            str(error).split(" - ", 1)[-1],
            error.transient,
            error.maybe_sent,
            getattr(error, "status", None),
            error.retry_after,
        )


FAULTS = [
    (
        "fail 500",
        lambda emu: emu.fail_next(status=500),
        ("ServerError", None, True, False, 500, None),
    ),
    (
        "fail 502 html",
        lambda emu: emu.fail_next(status=502),
        ("BadResponseError", "response status was 502", True, False, 502, None),
    ),
    (
        "rate limited",
        lambda emu: emu.rate_limit_next(retry_after=7),
        ("BadResponseError", "response status was 429", True, False, 429, 7.0),
    ),
    (
        "lost response",
        lambda emu: emu.lose_response_next(),
        ("ConnectionFailedError", CLOSED, True, True, None, None),
    ),
    (
        "dropped before commit",
        lambda emu: emu.drop_before_commit_next(),
        ("ConnectionFailedError", CLOSED, True, True, None, None),
    ),
    (
        "garbage body",
        lambda emu: emu.garble_next(mode="garbage"),
        ("BadResponseError", "response status was 200", True, True, 200, None),
    ),
    (
        "truncated body",
        lambda emu: emu.garble_next(mode="truncate"),
        ("BadResponseError", "response status was 200", True, True, 200, None),
    ),
    (
        "short body",
        lambda emu: emu.garble_next(mode="short"),
        ("ConnectionFailedError", SHORT, True, True, None, None),
    ),
]


@pytest.mark.parametrize(("name", "fault", "expected"), FAULTS, ids=[name for name, _, _ in FAULTS])
def test_each_emulator_fault(emu: Any, name: str, fault: Any, expected: tuple[Any, ...]) -> None:
    transport = Transport(emu.base_url)
    token = token_of(emu)
    fault(emu)
    result = full_outcome(lambda: transport.send(wire.write_request("time", None, TIME), token))
    if expected[1] is None:  # the server's own error text
        result = (*result[:1], None, *result[2:])
    assert result == expected
    # the connection (or a new one) serves the next request
    assert transport.send(wire.times_request(TimesQuery()), token)


def test_wrong_prefix_is_an_html_404(emu: Any) -> None:
    result = outcome(lambda: get(Transport(emu.root_url)))  # without /v0
    assert result[0] == "WrongPrefixError"


def test_latency_past_the_read_timeout(emu: Any) -> None:
    transport = Transport(emu.base_url, timeout=0.3)
    emu.add_latency(1.0)
    result = outcome(lambda: get(transport))
    assert result == (
        "ConnectionFailedError",
        f"connection to TimeSync failed at baseurl {emu.base_url} - no response within 0.3 seconds",
        True,
    )


def test_the_token_is_never_in_an_error(emu: Any) -> None:
    secret = "s3cr3t/token+value="
    emu.garble_next(mode="short", method="GET")
    result = outcome(lambda: get(Transport(emu.base_url), secret))
    assert result[0] != "ok" and "s3cr3t" not in repr(result)


def test_sixteen_threads_share_one_transport(emu: Any) -> None:
    transport = Transport(emu.base_url, pool_size=16)
    token = token_of(emu)
    failures: list[BaseException] = []
    answers: list[int] = []

    def work() -> None:
        try:
            for _ in range(25):
                answers.append(len(transport.send(wire.times_request(TimesQuery()), token)))
        except BaseException as exc:
            failures.append(exc)

    threads = [threading.Thread(target=work) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert failures == [] and len(answers) == 16 * 25
    assert transport._watchdog is not None and not transport._watchdog._flights


def test_importing_pymesync_loads_no_http_stack_or_database() -> None:
    import subprocess
    import sys

    heavy = (
        "http.client",
        "requests",
        "urllib3",
        "sqlalchemy",
        "alembic",
        "bcrypt",
        "tenacity",
        "click",
        "pymesync.httpstack",
    )
    code = f"import sys, pymesync; print(sorted(m for m in {heavy!r} if m in sys.modules))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.stdout.strip() == "[]", done.stderr
