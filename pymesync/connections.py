"""Keep-alive HTTP/1.1 connections to one origin, for the transport's direct path.

A small pool of sockets (TLS-wrapped for ``https``, verified against the same CA
bundle ``requests`` uses) shared by threads. A request takes an idle connection (one
the server closed meanwhile is dropped first), writes the request in one piece, reads
the whole response (``Content-Length``, chunked, or up to the end of the connection;
interim 1xx answers skipped; gzip/deflate decoded), and puts the connection back unless
either side asked to close it.

It speaks just the HTTP/1.1 a JSON API needs, which costs a third of the CPU time of
:mod:`http.client` per request (and a tenth of ``requests`` + ``urllib3``). A broken
exchange raises the same exception types as :mod:`http.client` would
(``RemoteDisconnected``, ``IncompleteRead``, ``BadStatusLine``...), or the socket's own;
turning those into readable errors stays in :mod:`pymesync.transport`.
"""

from __future__ import annotations

import select
import socket
import threading
import time
import zlib
from http.client import BadStatusLine, HTTPException, IncompleteRead, RemoteDisconnected

__all__ = ["ConnectError", "ConnectionPool", "Exchange", "HTTPException", "Headers"]
from typing import Any
from urllib.parse import urlsplit

#: Longest status or header line accepted, and most header lines.
MAX_LINE = 65536
MAX_HEADERS = 100


class ConnectError(Exception):
    """Opening a connection failed, so nothing was sent; ``error`` is the cause."""

    def __init__(self, error: Exception) -> None:
        super().__init__(str(error))
        self.error = error


class Headers(dict[str, str]):
    """Response headers, looked up case-insensitively (stored lower-cased; a repeated
    header keeps its values joined with ``", "``)."""

    def get(self, key: str, default: Any = None) -> Any:
        """The value of header ``key`` (any case), or ``default``."""
        return dict.get(self, key.lower(), default)


class _Connection:
    """One socket and its buffered reader."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.reader = sock.makefile("rb")

    def close(self) -> None:
        self.reader.close()
        self.sock.close()


class ConnectionPool:
    """Up to ``maxsize`` idle keep-alive connections to the origin of ``baseurl``.

    ``connect_timeout`` limits opening a connection, ``read_timeout`` each wait for
    the server afterwards (as in ``requests``). ``headers`` go with every request.
    """

    def __init__(
        self,
        baseurl: str,
        *,
        connect_timeout: float | None,
        read_timeout: float | None,
        headers: dict[str, str],
        maxsize: int,
    ) -> None:
        split = urlsplit(baseurl)
        if split.scheme not in ("http", "https") or not split.hostname:
            raise ValueError(f"not an http(s) URL: {baseurl!r}")
        if split.query or split.fragment or split.username or split.password:
            raise ValueError(f"a base URL with a query, fragment or user: {baseurl!r}")
        #: The base URL's path (request targets start with it).
        self.path = split.path
        self.https = split.scheme == "https"
        self.host = split.hostname
        self.port = split.port or (443 if self.https else 80)
        self.connect_timeout = connect_timeout
        self.read_timeout = read_timeout
        default_port = self.port == (443 if self.https else 80)
        host = f"[{self.host}]" if ":" in self.host else self.host
        self._host_header = host if default_port else f"{host}:{self.port}"
        self.headers = {name: value for name, value in headers.items() if name.lower() != "host"}
        self.maxsize = maxsize
        self._idle: list[_Connection] = []
        self._lock = threading.Lock()
        self._context: Any = None
        self._fixed: str | None = None

    def request(
        self, method: str, target: str, body: bytes | None, headers: dict[str, str]
    ) -> tuple[int, bytes, Headers]:
        """Send one request and return ``(status, body, headers)``.

        Raises :class:`ConnectError` when no connection could be opened, and the
        socket's or an :mod:`http.client` exception when it broke afterwards.
        """
        conn = self._send(method, target, body, headers)
        try:
            status, response_headers, content, keep = _read_response(conn.reader)
        except BaseException:
            conn.close()
            raise
        if keep:
            self._give_back(conn)
        else:
            conn.close()
        return status, _decoded(content, response_headers), response_headers

    def begin(
        self, method: str, target: str, body: bytes | None, headers: dict[str, str]
    ) -> Exchange:
        """Send one request and return the :class:`Exchange` that reads its answer as it
        arrives (for callers that wait for many at once with a selector).

        Raises like :meth:`request` (:class:`ConnectError` when nothing was sent).
        """
        return Exchange(self, self._send(method, target, body, headers))

    def _send(
        self, method: str, target: str, body: bytes | None, headers: dict[str, str]
    ) -> _Connection:
        """Write the request on a connection taken from the pool; the connection."""
        message = self._message(method, target, body, headers)
        conn = self._take()
        try:
            conn.sock.sendall(message)
        except BaseException:
            conn.close()
            raise
        return conn

    def close(self) -> None:
        """Close every idle connection."""
        with self._lock:
            idle, self._idle = self._idle, []
        for conn in idle:
            conn.close()

    def _message(
        self, method: str, target: str, body: bytes | None, headers: dict[str, str]
    ) -> bytes:
        if any(char in target for char in " \r\n") or not target.startswith("/"):
            raise ValueError(f"invalid request target {target!r}")
        if self._fixed is None:  # the Host and pool headers, checked and joined once
            self._fixed = f"Host: {self._host_header}\r\n" + _header_lines(self.headers)
        lines = f"{method} {target} HTTP/1.1\r\n{self._fixed}{_header_lines(headers)}"
        if body is not None or method in ("POST", "PUT", "PATCH"):
            lines += f"Content-Length: {len(body or b'')}\r\n"
        head = (lines + "\r\n").encode("latin-1")
        return head + body if body else head

    def _take(self) -> _Connection:
        while True:
            with self._lock:
                conn = self._idle.pop() if self._idle else None
            if conn is None:
                return self._open()
            if not _dropped(conn.sock):
                return conn
            conn.close()

    def _give_back(self, conn: _Connection) -> None:
        with self._lock:
            if len(self._idle) < self.maxsize:
                self._idle.append(conn)
                return
        conn.close()

    def _open(self) -> _Connection:
        try:
            sock = socket.create_connection((self.host, self.port), timeout=self.connect_timeout)
        except (OSError, ValueError) as exc:
            raise ConnectError(exc) from exc
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if self.https:
                sock = self._ssl().wrap_socket(sock, server_hostname=self.host)
        except (OSError, ValueError) as exc:
            sock.close()
            raise ConnectError(exc) from exc
        sock.settimeout(self.read_timeout)
        return _Connection(sock)

    def _ssl(self) -> Any:
        if self._context is None:
            import ssl

            import certifi  # the bundle requests verifies against

            self._context = ssl.create_default_context(cafile=certifi.where())
        return self._context


class Exchange:
    """A request sent on a pooled connection, its answer not read yet.

    Call :meth:`on_readable` whenever the socket (:meth:`fileno`) is readable: it
    returns ``(status, body, headers)`` once the whole answer is in (the connection
    then goes back to the pool or is closed), None while more is to come, and raises
    like :meth:`ConnectionPool.request` when the exchange broke. :meth:`abort` drops it.
    """

    def __init__(self, pool: ConnectionPool, conn: _Connection) -> None:
        self.pool = pool
        self.conn = conn
        self.buffer = b""
        #: When the answer is overdue (``time.monotonic()``), or None: never.
        self.deadline = None if pool.read_timeout is None else time.monotonic() + pool.read_timeout

    def fileno(self) -> int:
        """The socket's file descriptor."""
        return self.conn.sock.fileno()

    def on_readable(self) -> tuple[int, bytes, Headers] | None:
        """Read what has arrived; the answer once it is complete, else None."""
        try:
            data = self.conn.sock.recv(65536)
            pending = getattr(self.conn.sock, "pending", None)  # TLS: decrypted, unread
            while data and pending is not None and pending():
                data += self.conn.sock.recv(65536)
        except (BlockingIOError, InterruptedError):
            return None
        except BaseException as exc:
            if type(exc).__name__ in ("SSLWantReadError", "SSLWantWriteError"):
                return None
            self.abort()
            raise
        self.buffer += data
        reader = _BufferReader(self.buffer, eof=not data)
        try:
            status, headers, content, keep = _read_response(reader)
        except _NeedMore:
            return None
        except BaseException:
            self.abort()
            raise
        if keep and reader.pos == len(self.buffer):
            self.pool._give_back(self.conn)
        else:
            self.conn.close()  # asked to close, or it sent more than one answer
        return status, _decoded(content, headers), headers

    def abort(self) -> None:
        """Close the connection (the answer, if any, is never read)."""
        self.conn.close()


class _NeedMore(Exception):
    """The answer is not complete yet."""


class _BufferReader:
    """The reader :func:`_read_response` reads from, over the bytes received so far:
    asking for more than there is raises :class:`_NeedMore` until the peer closed."""

    def __init__(self, data: bytes, *, eof: bool) -> None:
        self.data = data
        self.eof = eof
        self.pos = 0

    def readline(self, limit: int = -1) -> bytes:
        end = self.data.find(b"\n", self.pos)
        stop = len(self.data) if end < 0 else end + 1
        if limit >= 0 and stop - self.pos > limit:
            stop = self.pos + limit  # too long a line: the parser refuses it
        elif end < 0 and not self.eof:
            raise _NeedMore
        line = self.data[self.pos : stop]
        self.pos = stop
        return line

    def header_block(self) -> bytes | None:
        """The header lines up to the blank line (each with its CRLF; the blank line
        consumed), or None when they are not all here or not CRLF-terminated (then
        :meth:`readline` it is)."""
        end = self.data.find(b"\r\n\r\n", max(0, self.pos - 2))
        if end < 0:
            return None
        if end + 2 < self.pos:  # no header at all: the blank line comes first
            return None
        block = self.data[self.pos : end + 2]
        self.pos = end + 4
        return block

    def read(self, size: int = -1) -> bytes:
        available = len(self.data) - self.pos
        if (size < 0 or available < size) and not self.eof:
            raise _NeedMore
        stop = len(self.data) if size < 0 else self.pos + min(size, available)
        chunk = self.data[self.pos : stop]
        self.pos = stop
        return chunk


def _decoded(content: bytes, headers: Headers) -> bytes:
    encoding = (headers.get("content-encoding") or "").strip().lower()
    if encoding in ("gzip", "deflate") and content:
        return zlib.decompress(content, 47 if encoding == "gzip" else zlib.MAX_WBITS)
    return content


def _header_lines(headers: dict[str, str]) -> str:
    """``Name: value`` lines, each ending in CRLF; a CR or LF in a header is refused."""
    text = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
    if text.count("\r") != len(headers) or text.count("\n") != len(headers):
        raise ValueError(f"invalid header in {sorted(headers)!r}")
    return text


def _read_response(reader: Any) -> tuple[int, Headers, bytes, bool]:
    """``(status, headers, body, keep_alive)`` of the next response on ``reader``."""
    while True:
        line = reader.readline(MAX_LINE + 1)
        if not line:
            raise RemoteDisconnected("Remote end closed connection without response")
        parts = line.decode("latin-1").rstrip("\r\n").split(None, 2)
        if len(parts) < 2 or not parts[0].startswith("HTTP/") or not parts[1].isdigit():
            raise BadStatusLine(repr(line[:100]))
        version, status = parts[0], int(parts[1])
        headers = _read_headers(reader)
        if not 100 <= status < 200 or status == 101:
            break  # an interim answer (100 Continue...) is followed by the real one
    connection = (headers.get("connection") or "").lower()
    keep = "close" not in connection and (version != "HTTP/1.0" or "keep-alive" in connection)
    if status in (101, 204, 304):
        return status, headers, b"", keep and status != 101
    if "chunked" in (headers.get("transfer-encoding") or "").lower():
        return status, headers, _read_chunked(reader), keep
    length = headers.get("content-length")
    if length is not None:
        try:
            size = int(length.split(",")[0])
        except ValueError:
            raise HTTPException(f"invalid Content-Length {length!r}") from None
        content = reader.read(size)
        if len(content) < size:
            raise IncompleteRead(content, size - len(content))
        return status, headers, content, keep
    return status, headers, reader.read(), False  # delimited by the end of the connection


def _read_headers(reader: Any) -> Headers:
    block = reader.header_block() if isinstance(reader, _BufferReader) else None
    if block is not None:  # all the header lines at once, split in one go
        lines = block.decode("latin-1").split("\r\n")[:-1]
        if len(lines) > MAX_HEADERS:
            raise HTTPException(f"more than {MAX_HEADERS} headers")
        headers = Headers()
        for line in lines:
            _add_header(headers, line)
        return headers
    headers = Headers()
    for _ in range(MAX_HEADERS + 1):
        raw = reader.readline(MAX_LINE + 1)
        if raw in (b"\r\n", b"\n", b""):
            return headers
        _add_header(headers, raw.decode("latin-1"))
    raise HTTPException(f"more than {MAX_HEADERS} headers")


def _add_header(headers: Headers, line: str) -> None:
    if len(line) > MAX_LINE:
        raise HTTPException("header line too long")
    name, sep, value = line.partition(":")
    if not sep:
        return  # not a header (e.g. an obsolete folded line): ignored
    key, text = name.strip().lower(), value.strip()
    headers[key] = f"{headers[key]}, {text}" if key in headers else text


def _read_chunked(reader: Any) -> bytes:
    parts: list[bytes] = []
    while True:
        line = reader.readline(MAX_LINE + 1)
        if not line:
            raise IncompleteRead(b"".join(parts))
        try:
            size = int(line.split(b";", 1)[0].strip(), 16)
        except ValueError:
            raise HTTPException(f"invalid chunk size {line[:40]!r}") from None
        if size == 0:
            _read_headers(reader)  # trailers, if any, up to the blank line
            return b"".join(parts)
        chunk = reader.read(size)
        if len(chunk) < size:
            raise IncompleteRead(b"".join(parts) + chunk, size - len(chunk))
        parts.append(chunk)
        reader.readline(MAX_LINE + 1)  # the CRLF after the chunk


def _dropped(sock: socket.socket) -> bool:
    """Whether an idle connection was closed by the server (readable means EOF or an
    unsolicited answer: either way it cannot carry another request)."""
    try:
        if hasattr(select, "poll"):  # no limit on descriptor numbers, unlike select()
            poller = select.poll()
            poller.register(sock, select.POLLIN)
            return bool(poller.poll(0))
        readable, _, _ = select.select([sock], [], [], 0)
    except (OSError, ValueError):
        return True
    return bool(readable)
