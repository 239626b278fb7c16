"""Keep-alive HTTP/1.1 connections to one origin, for the transport's direct path.

A small pool of :class:`http.client.HTTPConnection` (or ``HTTPSConnection``, verified
against the same CA bundle ``requests`` uses) shared by threads: a request takes an idle
connection (one the server closed meanwhile is dropped first), sends, reads the whole
response, and puts the connection back unless either side asked to close it. This is
what ``requests`` + ``urllib3`` do per request, at a fraction of their CPU time; the
error mapping stays in :mod:`pymesync.transport`.
"""

from __future__ import annotations

import select
import threading
import zlib
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

if TYPE_CHECKING:
    import http.client


class ConnectError(Exception):
    """Opening a connection failed, so nothing was sent; ``error`` is the cause."""

    def __init__(self, error: Exception) -> None:
        super().__init__(str(error))
        self.error = error


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
        self.https = split.scheme == "https"
        self.host = split.hostname
        self.port = split.port or (443 if self.https else 80)
        self.connect_timeout = connect_timeout
        self.read_timeout = read_timeout
        self.headers = dict(headers)
        self.maxsize = maxsize
        self._idle: list[http.client.HTTPConnection] = []
        self._lock = threading.Lock()
        self._context: Any = None

    def request(
        self, method: str, target: str, body: bytes | None, headers: dict[str, str]
    ) -> tuple[int, bytes, http.client.HTTPMessage]:
        """Send one request and return ``(status, body, headers)``.

        Raises :class:`ConnectError` when no connection could be opened, and the
        socket's or :mod:`http.client`'s own exception when it broke afterwards.
        """
        conn = self._take()
        try:
            conn.request(method, target, body=body, headers={**self.headers, **headers})
            response = conn.getresponse()
            content = response.read()
        except BaseException:
            conn.close()
            raise
        if response.will_close:
            conn.close()
        else:
            self._give_back(conn)
        encoding = (response.headers.get("Content-Encoding") or "").strip().lower()
        if encoding in ("gzip", "deflate") and content:
            content = zlib.decompress(content, 47 if encoding == "gzip" else zlib.MAX_WBITS)
        return response.status, content, response.headers

    def close(self) -> None:
        """Close every idle connection."""
        with self._lock:
            idle, self._idle = self._idle, []
        for conn in idle:
            conn.close()

    def _take(self) -> http.client.HTTPConnection:
        while True:
            with self._lock:
                conn = self._idle.pop() if self._idle else None
            if conn is None:
                return self._open()
            if not _dropped(conn):
                return conn
            conn.close()

    def _give_back(self, conn: http.client.HTTPConnection) -> None:
        with self._lock:
            if len(self._idle) < self.maxsize:
                self._idle.append(conn)
                return
        conn.close()

    def _open(self) -> http.client.HTTPConnection:
        import http.client

        conn: http.client.HTTPConnection
        if self.https:
            conn = http.client.HTTPSConnection(
                self.host, self.port, timeout=self.connect_timeout, context=self._ssl()
            )
        else:
            conn = http.client.HTTPConnection(self.host, self.port, timeout=self.connect_timeout)
        try:
            conn.connect()
        except (OSError, ValueError) as exc:
            conn.close()
            raise ConnectError(exc) from exc
        assert conn.sock is not None
        conn.sock.settimeout(self.read_timeout)
        return conn

    def _ssl(self) -> Any:
        if self._context is None:
            import ssl

            import certifi  # the bundle requests verifies against

            self._context = ssl.create_default_context(cafile=certifi.where())
        return self._context


def _dropped(conn: http.client.HTTPConnection) -> bool:
    """Whether an idle connection was closed by the server (readable means EOF or an
    unsolicited answer: either way it cannot carry another request)."""
    sock = conn.sock
    if sock is None:
        return True
    try:
        if hasattr(select, "poll"):  # no limit on descriptor numbers, unlike select()
            poller = select.poll()
            poller.register(sock, select.POLLIN)
            return bool(poller.poll(0))
        readable, _, _ = select.select([sock], [], [], 0)
    except (OSError, ValueError):
        return True
    return bool(readable)
