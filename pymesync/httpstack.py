"""The transport's own ``requests`` session: a total deadline per request, abandoning
requests in flight, and the environment read as ``requests`` reads it, cheaply.

``requests`` (through ``urllib3``) only has per-step timeouts: one for connecting and
one for each read from the socket, so a server that trickles its answer a byte at a
time keeps a request alive for as long as it likes. The transport's own session mounts a
:class:`DeadlineAdapter`, whose connection pools make :class:`WatchedConnection` /
:class:`WatchedHTTPSConnection` connections (``urllib3``'s own, subclassed through its
public ``ConnectionCls`` and ``pool_classes_by_scheme`` extension points). Before each
request :meth:`Watchdog.enter` notes the request's deadline for the sending thread; a
connection used for that request registers its socket with the request. One
:class:`Watchdog` thread per transport (started on the first request that opens or
reuses a connection, ended after a few idle seconds) shuts down (``SHUT_RDWR``) the
sockets of every request whose deadline passed, which makes the blocked read or write
fail at once; the transport then reports the deadline, not the error ``requests`` saw.
:meth:`Watchdog.abort` does the same at once for every request in flight.

:class:`OwnSession` is a ``requests.Session`` with ``trust_env`` on, as by default
(``HTTP(S)_PROXY``/``ALL_PROXY``/``NO_PROXY``, ``REQUESTS_CA_BUNDLE``/``CURL_CA_BUNDLE``,
``.netrc``), that skips ``requests``' scan of the whole environment for proxies when no
proxy variable for the request's scheme is set (that scan was a third of the client's
CPU time per request).

This module imports ``requests`` and ``urllib3``: it is imported only when the
transport makes its session.
"""

from __future__ import annotations

import contextlib
import os
import socket
import threading
import time
from typing import Any, Literal
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3 import connectionpool
from urllib3.connection import HTTPConnection, HTTPSConnection

__all__ = [
    "DeadlineAdapter",
    "Flight",
    "HTTPConnectionPool",
    "HTTPSConnectionPool",
    "OwnSession",
    "Watchdog",
    "WatchedConnection",
    "WatchedHTTPSConnection",
]

#: Seconds the watchdog thread waits with no request in flight before it ends (the
#: next request starts a new one).
IDLE_SECONDS = 5.0

Ending = Literal["deadline", "abort"]

_current = threading.local()  # .flight: the request the thread is sending, if any


class Flight:
    """One request in flight on the transport's own session."""

    __slots__ = ("connected", "conns", "deadline", "ended", "socks", "watchdog")

    def __init__(self, watchdog: Watchdog, deadline: float) -> None:
        self.watchdog = watchdog
        #: ``time.monotonic()`` by which the whole answer must be in.
        self.deadline = deadline
        #: Why the request was cut short, or None while it was not.
        self.ended: Ending | None = None
        #: Whether a connection was open for it (so the request may have been sent).
        self.connected = False
        self.conns: list[Any] = []
        self.socks: list[Any] = []


class Watchdog:
    """Ends the requests of one transport that passed their deadline, or all of them on
    :meth:`abort`. Thread-safe; its thread runs only while requests are being sent."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._wakeup = threading.Condition(self._lock)
        self._flights: set[Flight] = set()
        self._thread: threading.Thread | None = None
        self._wake_at: float | None = None  # when the thread will look next (None: idle)
        self._stopping = False

    def enter(self, seconds: float) -> Flight:
        """Note that the calling thread starts a request that must be over in
        ``seconds``; pass the result to :meth:`leave` when it is."""
        flight = Flight(self, time.monotonic() + seconds)
        with self._lock:
            self._flights.add(flight)
            if self._thread is not None and (
                self._wake_at is None or flight.deadline < self._wake_at
            ):
                self._wakeup.notify()
        _current.flight = flight
        return flight

    def leave(self, flight: Flight) -> None:
        """The request of ``flight`` is over (answered or failed)."""
        _current.flight = None
        with self._lock:
            self._flights.discard(flight)

    def watch(self, flight: Flight, conn: Any) -> None:
        """``conn`` carries ``flight``'s request: its socket is shut down if the request
        passes its deadline or is abandoned (at once if that already happened)."""
        sock = conn.sock
        with self._lock:
            if conn not in flight.conns:
                flight.conns.append(conn)
            if sock is not None:
                flight.connected = True
                if sock not in flight.socks:
                    flight.socks.append(sock)
                if flight.ended is not None:
                    _shutdown(sock)
            if self._thread is None or not self._thread.is_alive():
                self._stopping = False
                self._thread = threading.Thread(
                    target=self._run, name="pymesync-deadlines", daemon=True
                )
                self._thread.start()

    def abort(self) -> int:
        """Abandon every request in flight right now (their connections are shut down, so
        they fail at once); returns how many. Later requests are not affected."""
        with self._lock:
            flights = [flight for flight in self._flights if flight.ended is None]
            for flight in flights:
                _end(flight, "abort")
        return len(flights)

    def stop(self) -> None:
        """End the thread (a later request starts it again)."""
        with self._lock:
            self._stopping = True
            self._wakeup.notify()

    def _run(self) -> None:
        me = threading.current_thread()
        with self._lock:
            while not self._stopping:
                now = time.monotonic()
                pending: list[float] = []
                for flight in self._flights:
                    if flight.ended is not None:
                        continue
                    if flight.deadline <= now:
                        _end(flight, "deadline")
                    else:
                        pending.append(flight.deadline)
                if pending:
                    self._wake_at = min(pending)
                    self._wakeup.wait(self._wake_at - now)
                    continue
                self._wake_at = None
                if not self._wakeup.wait(IDLE_SECONDS) and not self._flights:
                    break
            self._wake_at = None
            if self._thread is me:
                self._thread = None


def _end(flight: Flight, why: Ending) -> None:
    """Cut ``flight`` short (with the watchdog's lock held)."""
    flight.ended = why
    for sock in flight.socks:
        _shutdown(sock)
    for conn in flight.conns:  # a socket still connecting (e.g. in the TLS handshake)
        sock = getattr(conn, "sock", None)
        if sock is not None and sock not in flight.socks:
            _shutdown(sock)


def _shutdown(sock: Any) -> None:
    """Shut a connection's socket down both ways: a read or write blocked on it in
    another thread returns at once. The socket stays open (its owner closes it)."""
    raw = sock if isinstance(sock, socket.socket) else getattr(sock, "socket", None)
    if isinstance(raw, socket.socket):
        # socket.socket's own shutdown, also for a TLS socket: ssl.SSLSocket.shutdown
        # would drop the TLS state under the feet of the thread reading from it.
        with contextlib.suppress(OSError):
            socket.socket.shutdown(raw, socket.SHUT_RDWR)


def _watch(conn: Any) -> None:
    flight: Flight | None = getattr(_current, "flight", None)
    if flight is not None:
        flight.watchdog.watch(flight, conn)


class WatchedConnection(HTTPConnection):
    """A ``urllib3`` HTTP connection that registers its socket with the request being
    sent by the current thread (see :class:`Watchdog`)."""

    def connect(self) -> None:
        """Connect as ``urllib3`` does, watched from the start."""
        _watch(self)
        super().connect()
        _watch(self)  # now with its socket

    def request(self, *args: Any, **kwargs: Any) -> None:
        """Send a request as ``urllib3`` does, on a watched connection."""
        _watch(self)
        super().request(*args, **kwargs)


class WatchedHTTPSConnection(WatchedConnection, HTTPSConnection):
    """:class:`WatchedConnection` for HTTPS."""


# Named as urllib3's own, whose name is in the text of its errors.
class HTTPConnectionPool(connectionpool.HTTPConnectionPool):
    """``urllib3``'s pool of :class:`WatchedConnection`."""

    ConnectionCls = WatchedConnection

    def urlopen(self, *args: Any, **kwargs: Any) -> Any:
        """As ``urllib3`` does, and a body shorter than its ``Content-Length`` is an
        error (the default of urllib3 2; urllib3 1.26 returned it as if complete)."""
        kwargs.setdefault("enforce_content_length", True)
        return super().urlopen(*args, **kwargs)


class HTTPSConnectionPool(HTTPConnectionPool, connectionpool.HTTPSConnectionPool):
    """``urllib3``'s pool of :class:`WatchedHTTPSConnection`."""

    ConnectionCls = WatchedHTTPSConnection


_POOL_CLASSES: dict[str, type[connectionpool.HTTPConnectionPool]] = {
    "http": HTTPConnectionPool,
    "https": HTTPSConnectionPool,
}


class DeadlineAdapter(HTTPAdapter):
    """``requests``' ``HTTPAdapter`` whose connections (also through an HTTP(S) proxy)
    are :class:`WatchedConnection`. SOCKS proxies keep their own connections: there only
    ``requests``' timeouts apply."""

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        """Make the pool manager as ``requests`` does, with watched connection pools."""
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = _POOL_CLASSES

    def proxy_manager_for(self, proxy: str, **proxy_kwargs: Any) -> Any:
        """The proxy manager ``requests`` makes for ``proxy``, with watched pools."""
        manager = super().proxy_manager_for(proxy, **proxy_kwargs)
        # (a SOCKS proxy manager has pools of its own: left as they are)
        if manager.pool_classes_by_scheme.get("http") is connectionpool.HTTPConnectionPool:
            manager.pool_classes_by_scheme = _POOL_CLASSES
        return manager


# The variables urllib (and so requests) takes a proxy for a URL of each scheme from
# (besides unusual spellings such as Http_Proxy, which the full scan also finds).
_PROXY_VARIABLES = {
    scheme: (f"{scheme}_proxy", f"{scheme.upper()}_PROXY", "all_proxy", "ALL_PROXY")
    for scheme in ("http", "https")
}


class OwnSession(requests.Session):
    """The transport's own session: ``requests.Session`` with a
    :class:`DeadlineAdapter` of ``pool_size`` connections per host for http and https."""

    def __init__(self, pool_size: int) -> None:
        super().__init__()
        adapter = DeadlineAdapter(pool_connections=4, pool_maxsize=pool_size)
        self.mount("http://", adapter)
        self.mount("https://", adapter)
        self._netrc: dict[str, Any] = {}

    def send_body(
        self, method: str, url: str, data: bytes | None, headers: dict[str, str], timeout: Any
    ) -> requests.Response:
        """``self.request(method, url, data=data, headers=headers, timeout=timeout)``,
        built as the requests documentation's "Prepared Requests" show: a
        :class:`requests.PreparedRequest` handed to :meth:`send` with the environment's
        settings. While the session's headers, auth, cookies and hooks are requests'
        defaults (they are: nothing changes them), that is the same request, without
        merging each of those defaults into every request (a fifth of the CPU time of
        a request). ``.netrc`` is read once per host for the session's lifetime."""
        prepared = requests.PreparedRequest()
        merged = dict(self.headers)
        merged.update(headers)
        prepared.prepare(
            method=method,
            url=url,
            headers=merged,
            data=data,
            auth=self._netrc_auth(url),
            cookies=self.cookies,
            hooks=self.hooks,
        )
        settings = self.merge_environment_settings(prepared.url, {}, None, None, None)
        return self.send(prepared, timeout=timeout, allow_redirects=True, **settings)

    def _netrc_auth(self, url: str) -> Any:
        """What ``requests`` would take from ``.netrc`` for ``url`` (with ``trust_env``)."""
        if not self.trust_env or self.auth is not None:
            return self.auth
        host = urlsplit(url).netloc
        if host not in self._netrc:
            self._netrc[host] = requests.utils.get_netrc_auth(url)
        return self._netrc[host]

    def merge_environment_settings(
        self, url: Any, proxies: Any, stream: Any, verify: Any, cert: Any
    ) -> Any:
        """As ``requests.Session`` does; when no proxy variable for ``url``'s scheme is
        set, without reading the whole environment (the result is the same)."""
        names = _PROXY_VARIABLES.get(str(url).partition(":")[0].lower())
        environ = os.environ
        if not self.trust_env or names is None or any(environ.get(name) for name in names):
            return super().merge_environment_settings(url, proxies, stream, verify, cert)
        # requests' own steps, but the proxy lookup (which would find none)
        merge: Any = requests.sessions.merge_setting
        if verify is True or verify is None:
            verify = environ.get("REQUESTS_CA_BUNDLE") or environ.get("CURL_CA_BUNDLE") or verify
        return {
            "proxies": merge(proxies, self.proxies),
            "stream": merge(stream, self.stream),
            "verify": merge(verify, self.verify),
            "cert": merge(cert, self.cert),
        }
