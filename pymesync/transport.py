"""HTTP to TimeSync: one ``requests.Session``, timeouts and a total deadline, encoding,
redaction, error mapping.

:meth:`Transport.send` carries out a :class:`~pymesync.wire.WireRequest` and returns the
parsed JSON body (``None`` for an empty 200). Every failure comes out as a typed
:class:`~pymesync.errors.PymesyncError`, never as a ``requests`` or ``urllib3``
exception, and no message ever contains the token.

Every request goes through ``session.request``, so whatever the session does applies:
its adapters and hooks, and (``trust_env``, as ``requests`` does by default) the proxies
of ``HTTP(S)_PROXY``/``NO_PROXY``, the CA bundle of ``REQUESTS_CA_BUNDLE`` or
``CURL_CA_BUNDLE`` and credentials from ``.netrc``. On the transport's own session a
:class:`~pymesync.httpstack.Watchdog` also ends any request still unanswered at its
deadline (connect and the whole answer; see :mod:`pymesync.httpstack`), and
:meth:`Transport.abort` abandons the requests in flight.
"""

from __future__ import annotations

import json
import re
import threading
import time
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from pymesync import errors
from pymesync.wire import WireRequest

if TYPE_CHECKING:
    import requests

    from pymesync.httpstack import Flight, Watchdog

#: Seconds to wait for a connection and for each read, unless the caller says otherwise.
DEFAULT_TIMEOUT = 10.0
REDACTED = "<redacted>"
#: Connections kept alive per host by default (at least the sync concurrency).
POOL_SIZE = 32

_JSON = {"Content-Type": "application/json"}
_ERRNO = re.compile(r"\[Errno -?\d+\] ([^'\")\]]+)")
# Socket errors that happen after the request may have gone out.
_AFTER_SENDING = ("reset", "broken pipe", "aborted")
_PREFIX_HINT = (
    " (the server answered with an HTML 404 page: check that the base URL ends with the"
    " API version prefix the server mounts, e.g. /v0)"
)


def encode(value: str) -> str:
    """Percent-encode one path segment or query value (``+``, ``/``, ``=`` included)."""
    return quote(value, safe="")


def redact(text: str, token: str | None) -> str:
    """``text`` with every raw or percent-encoded copy of ``token`` replaced."""
    if token:
        for form in {token, encode(token), quote(token), token.replace("+", " ")}:
            text = text.replace(form, REDACTED)
    return text


def default_deadline(timeout: float | tuple[float, float] | None) -> float | None:
    """The total deadline that goes with ``timeout``: connect plus read timeout (20
    seconds for 10; ``c + r`` for a ``(c, r)`` pair), None (none) without a timeout."""
    connect, read = timeout if isinstance(timeout, tuple) else (timeout, timeout)
    if connect is None or read is None:
        return None
    return connect + read


class Transport:
    """Sends TimeSync requests over one reusable ``requests.Session``; safe to use from
    many threads at once.

    ``timeout`` is seconds (a number, or a ``(connect, read)`` pair) for connecting and
    for each wait for the server, as in ``requests``. ``deadline`` is seconds for the
    whole request, connect and complete answer (default: connect plus read timeout); a
    request still unanswered then fails with
    :class:`~pymesync.errors.ConnectionFailedError` ("no complete response within ...
    seconds"). ``pool_size`` is how many keep-alive connections the own session keeps.

    Pass ``session`` to reuse or instrument your own session: every request then goes
    through it as it is (its adapters, hooks, proxies), and since its connections are
    its own, the deadline applies only as a cap on ``requests``' timeouts and
    :meth:`abort` does nothing.
    """

    def __init__(
        self,
        baseurl: str,
        *,
        timeout: float | tuple[float, float] = DEFAULT_TIMEOUT,
        session: requests.Session | None = None,
        pool_size: int = POOL_SIZE,
        deadline: float | None = None,
    ) -> None:
        if deadline is not None and not deadline > 0:
            raise ValueError("deadline must be a number of seconds above 0")
        if pool_size < 1:
            raise ValueError("pool_size must be at least 1")
        self.baseurl = baseurl
        self.timeout = timeout
        #: Seconds for a whole request (None: no limit beyond ``timeout``).
        self.deadline = default_deadline(timeout) if deadline is None else deadline
        self.pool_size = pool_size
        self._session = session
        self._watchdog: Watchdog | None = None  # with our own session only
        self._making = threading.Lock()

    @property
    def session(self) -> requests.Session:
        """The session every request goes through (created on first use)."""
        session = self._session
        if session is None:
            with self._making:
                if self._session is None:
                    own, self._watchdog = _own_session(self.pool_size)
                    self._session = own  # (last: a thread that sees it sees the watchdog)
                session = self._session
        return session

    def close(self) -> None:
        """Close the session's pooled connections (a later request opens new ones)."""
        if self._session is not None:
            self._session.close()
        if self._watchdog is not None:
            self._watchdog.stop()

    def abort(self) -> int:
        """Abandon every request in flight on the own session right now: their
        connections are shut down and each fails at once with
        :class:`~pymesync.errors.ConnectionFailedError` ("the request was abandoned",
        ``maybe_sent`` True once it had a connection). Returns how many; later requests
        are not affected. Safe from any thread. A request still opening its connection
        ends as soon as it is open (within the connect timeout). Does nothing for a
        session passed by the caller."""
        return 0 if self._watchdog is None else self._watchdog.abort()

    def url(self, request: WireRequest, token: str | None) -> str:
        """The full URL of ``request``: base, encoded path, query, token last."""
        path = "/".join(encode(segment) for segment in request.path)
        params = list(request.params)
        if request.token_auth and request.method != "POST":
            params.append(("token", token or ""))
        query = "&".join(f"{encode(key)}={encode(value)}" for key, value in params)
        return f"{self.baseurl}/{path}" + (f"?{query}" if query else "")

    def send(self, request: WireRequest, token: str | None) -> Any:
        """Carry out ``request`` and return its JSON body (``None`` for an empty 200)."""
        url, data = self.url(request, token), self._body(request, token)
        status, content, headers = self._send_session(request.method, url, data, token)
        return self.answer(status, content, headers)

    @staticmethod
    def _body(request: WireRequest, token: str | None) -> bytes | None:
        body: dict[str, Any] | None = request.body
        if request.method == "POST" and request.token_auth:
            body = {"auth": {"type": "token", "token": token}, "object": request.body}
        return None if body is None else json.dumps(body).encode("utf-8")

    def _timeouts(self) -> tuple[float | tuple[float, float], bool, bool]:
        """The timeout to hand ``requests`` (capped by the deadline), and whether its
        connect and its read part were capped."""
        timeout, deadline = self.timeout, self.deadline
        if deadline is None:
            return timeout, False, False
        connect, read = timeout if isinstance(timeout, tuple) else (timeout, timeout)
        if (connect is None or connect <= deadline) and (read is None or read <= deadline):
            return timeout, False, False
        capped = (
            deadline if connect is None else min(connect, deadline),
            deadline if read is None else min(read, deadline),
        )
        return capped, capped[0] != connect, capped[1] != read

    def _send_session(
        self, method: str, url: str, data: bytes | None, token: str | None
    ) -> tuple[int, bytes, Any]:
        import requests

        session = self.session
        timeout, connect_capped, read_capped = self._timeouts()
        watchdog, flight = self._watchdog, None
        if watchdog is not None and self.deadline is not None:
            flight = watchdog.enter(self.deadline)
        try:
            try:
                if watchdog is not None:  # our own session (an OwnSession)
                    response = session.send_body(  # type: ignore[attr-defined]
                        method, url, data, {} if data is None else _JSON, timeout
                    )
                else:  # the caller's session: exactly as they set it up
                    response = session.request(
                        method,
                        url,
                        data=data,
                        headers=None if data is None else _JSON,
                        timeout=timeout,
                    )
            finally:
                if flight is not None:  # (after this the watchdog leaves it alone)
                    flight.watchdog.leave(flight)
        except requests.RequestException as exc:
            if flight is not None and (flight.ended or time.monotonic() >= flight.deadline):
                # (a timeout of requests' own that went off with the deadline, too)
                raise self._cut_short(flight) from None
            if not isinstance(exc, requests.Timeout) and not _read_timeout(exc):
                raise self._mapped(exc, token) from None
            connect = isinstance(exc, requests.ConnectTimeout)
            if connect_capped if connect else read_capped:
                reason = f"no complete response within {self.deadline} seconds"
            else:
                reason = self._timeout_reason(connect)
            error = errors.ConnectionFailedError(self._failure(reason), maybe_sent=not connect)
            error.timed_out = not connect  # a slow server may still be carrying it out
            raise error from None
        if flight is not None and flight.ended is not None:
            # e.g. a body delimited by the end of the connection, cut at the deadline
            raise self._cut_short(flight)
        return response.status_code, response.content, response.headers

    def _mapped(self, exc: Exception, token: str | None) -> errors.PymesyncError:
        """The typed error for what ``requests`` raised (but a timeout)."""
        import requests

        invalid = (
            requests.exceptions.InvalidURL,
            requests.exceptions.MissingSchema,
            requests.exceptions.InvalidSchema,
        )
        if isinstance(exc, invalid):
            return errors.ConfigurationError(
                self._failure(f"invalid URL: {redact(str(exc), token)}")
            )
        return self._broken(exc, token)

    def _cut_short(self, flight: Flight) -> errors.ConnectionFailedError:
        """The error for a request the watchdog ended (its deadline, or :meth:`abort`)."""
        if flight.ended == "abort":
            reason = "the request was abandoned"
        else:
            reason = f"no complete response within {self.deadline} seconds"
        # once connected, the request may have gone out (or be carried out meanwhile)
        error = errors.ConnectionFailedError(self._failure(reason), maybe_sent=flight.connected)
        error.timed_out = flight.connected  # the server may still be carrying it out
        return error

    def _broken(self, exc: Exception, token: str | None) -> errors.ConnectionFailedError:
        """A connection that failed or broke, as its readable reason."""
        reason = self._reason(exc, token)
        return errors.ConnectionFailedError(
            self._failure(reason), maybe_sent=not reason.startswith("could not connect")
        )

    def _failure(self, reason: str) -> str:
        return f"connection to TimeSync failed at baseurl {self.baseurl} - {reason}"

    def _timeout_reason(self, connect: bool) -> str:
        if connect:
            return f"could not connect within {self.timeout} seconds"
        return f"no response within {self.timeout} seconds"

    @staticmethod
    def _reason(exc: Exception, token: str | None) -> str:
        text = str(exc)
        match = _ERRNO.search(text)
        if match and not any(word in match.group(1).lower() for word in _AFTER_SENDING):
            return f"could not connect: {match.group(1).strip()}"
        if match:
            return f"the connection broke: {match.group(1).strip()}"
        named = f"{type(exc).__name__}: {text}"
        if "RemoteDisconnected" in named or "Connection aborted" in named:
            return "the connection was closed before a response arrived"
        if "IncompleteRead" in named:
            return "the connection broke before the whole response arrived"
        return redact(named, token)

    def answer(self, status: int, content: bytes, headers: Any) -> Any:
        """The JSON body of a response, or the typed error it stands for."""
        if not content.strip():
            if status == 200:
                return None
            raise self._bad_response(status, content, headers)
        try:
            parsed = json.loads(content.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            raise self._bad_response(status, content, headers) from None
        if isinstance(parsed, dict) and "error" in parsed:
            error = errors.from_response(status, parsed)
            if isinstance(error, errors.RateLimitedError):
                error.retry_after = _retry_after(headers)
            raise error
        if status >= 400:
            raise self._bad_response(status, content, headers)
        return parsed

    def _bad_response(self, status: int, content: bytes, headers: Any) -> errors.PymesyncError:
        message = self._failure(f"response status was {status}")
        content_type = str(headers.get("Content-Type", "")).lower()
        looks_html = "html" in content_type or content.lstrip()[:1] == b"<"
        if status == 404 and looks_html:
            return errors.WrongPrefixError(message + _PREFIX_HINT, status=status)
        error = errors.BadResponseError(message, status=status)
        error.transient = status >= 500 or status in (408, 429) or status < 400
        # A success status with an unreadable body: the write was carried out.
        error.maybe_sent = status < 400
        error.retry_after = _retry_after(headers)
        return error


def _read_timeout(exc: Exception) -> bool:
    """Whether ``exc`` is a read timeout that ``requests`` raised as a
    ``ConnectionError`` (one while reading the body, after the headers)."""
    from urllib3.exceptions import ReadTimeoutError

    return bool(exc.args) and isinstance(exc.args[0], ReadTimeoutError)


def _retry_after(headers: Any) -> float | None:
    """The ``Retry-After`` header as seconds from now (at least 0): delay-seconds, or an
    HTTP date (RFC 7231, e.g. ``Wed, 21 Oct 2026 07:28:00 GMT``); None without one."""
    value = str(headers.get("Retry-After", "")).strip()
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    import datetime as dt
    from email.utils import parsedate_to_datetime

    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:  # "-0000": UTC, source unknown
        when = when.replace(tzinfo=dt.timezone.utc)
    return max(0.0, (when - dt.datetime.now(dt.timezone.utc)).total_seconds())


def _own_session(pool_size: int) -> tuple[requests.Session, Watchdog]:
    """A new session for the transport (``requests``' defaults, ``trust_env``
    included, with ``pool_size`` keep-alive connections per host) and its watchdog."""
    from pymesync.httpstack import OwnSession, Watchdog  # (imports requests)

    return OwnSession(pool_size), Watchdog()
