"""HTTP to TimeSync: one ``requests.Session``, timeouts, encoding, redaction, error mapping.

:meth:`Transport.send` carries out a :class:`~pymesync.wire.WireRequest` and returns the
parsed JSON body (``None`` for an empty 200). Every failure comes out as a typed
:class:`~pymesync.errors.PymesyncError`, never as a ``requests`` or ``urllib3``
exception, and no message ever contains the token.

The direct path: when the session is the transport's own, no proxy applies and nothing
has patched ``requests`` (requests-mock, responses, instrumentation), a request goes
through :class:`pymesync.connections.ConnectionPool` (keep-alive connections
speaking plain HTTP/1.1, with the same CA bundle, headers and timeouts), which costs a
tenth of the CPU time of ``requests`` + ``urllib3`` per request. Anything else goes through
``session.request``.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from pymesync import errors
from pymesync.wire import WireRequest

if TYPE_CHECKING:
    import requests

    from pymesync.connections import ConnectionPool

#: Seconds to wait for a connection and for each read, unless the caller says otherwise.
DEFAULT_TIMEOUT = 10.0
REDACTED = "<redacted>"
#: Connections kept alive per host (at least the sync concurrency).
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


@dataclass(frozen=True)
class DirectRequest:
    """A request ready for the direct path: what :meth:`ConnectionPool.begin` takes."""

    pool: ConnectionPool
    method: str
    target: str
    body: bytes | None
    headers: dict[str, str]


class Transport:
    """Sends TimeSync requests over one reusable ``requests.Session``.

    ``timeout`` is seconds (a number, or a ``(connect, read)`` pair) and applies to
    every request. Pass ``session`` to reuse or instrument your own session.
    """

    def __init__(
        self,
        baseurl: str,
        *,
        timeout: float | tuple[float, float] = DEFAULT_TIMEOUT,
        session: requests.Session | None = None,
    ) -> None:
        self.baseurl = baseurl
        self.timeout = timeout
        self._session = session
        self._own_session = session is None
        self._adapter: Any = None  # the HTTPAdapter mounted on our own session
        self._pool: ConnectionPool | None = None  # the direct path, made on first use

    @property
    def session(self) -> requests.Session:
        """The session every request goes through (created on first use)."""
        if self._session is None:
            import requests  # the HTTP stack is imported only when first needed
            from requests.adapters import HTTPAdapter

            session = requests.Session()
            # Proxy settings from the environment are read once for our one base URL,
            # not again on every request (that lookup was a third of the client's CPU
            # time per request).
            session.proxies.update(_environment_proxies(self.baseurl))
            session.trust_env = False
            # One keep-alive pool, large enough for a concurrent sync pass.
            adapter = HTTPAdapter(pool_connections=4, pool_maxsize=POOL_SIZE)
            session.mount("http://", adapter)
            session.mount("https://", adapter)
            self._adapter = adapter
            self._session = session
        return self._session

    def close(self) -> None:
        """Close the session's pooled connections (and the direct path's)."""
        if self._session is not None:
            self._session.close()
        if self._pool is not None:
            self._pool.close()

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
        prepared = self.direct(request, token)
        if prepared is not None:
            status, content, headers = self._send_direct(prepared, token)
        else:
            url, data = self.url(request, token), self._body(request, token)
            status, content, headers = self._send_session(request.method, url, data, token)
        return self.answer(status, content, headers)

    def direct(self, request: WireRequest, token: str | None) -> DirectRequest | None:
        """``request`` ready for the direct path (for a caller that sends it with
        :meth:`ConnectionPool.begin` and hands the outcome to :meth:`answer` or
        :meth:`failure`), or None when it must go through :meth:`send`."""
        url = self.url(request, token)
        pool = self._direct_pool(url)
        if pool is None:
            return None
        data = self._body(request, token)
        target = pool.path + url[len(self.baseurl) :]  # every URL starts with the base
        return DirectRequest(pool, request.method, target, data, _JSON if data else {})

    @staticmethod
    def _body(request: WireRequest, token: str | None) -> bytes | None:
        body: dict[str, Any] | None = request.body
        if request.method == "POST" and request.token_auth:
            body = {"auth": {"type": "token", "token": token}, "object": request.body}
        return None if body is None else json.dumps(body).encode("utf-8")

    def _send_session(
        self, method: str, url: str, data: bytes | None, token: str | None
    ) -> tuple[int, bytes, Any]:
        import requests

        try:
            response = self.session.request(
                method,
                url,
                data=data,
                headers=None if data is None else _JSON,
                timeout=self.timeout,
            )
        except requests.Timeout as exc:
            connect = isinstance(exc, requests.ConnectTimeout)
            raise errors.ConnectionFailedError(
                self._failure(self._timeout_reason(connect)), maybe_sent=not connect
            ) from None
        except (
            requests.exceptions.InvalidURL,
            requests.exceptions.MissingSchema,
            requests.exceptions.InvalidSchema,
        ) as exc:
            raise errors.ConfigurationError(
                self._failure(f"invalid URL: {redact(str(exc), token)}")
            ) from None
        except requests.RequestException as exc:
            raise self._broken(exc, token) from None
        return response.status_code, response.content, response.headers

    def _direct_pool(self, url: str) -> ConnectionPool | None:
        """The pool to send ``url`` through directly, or None when the request must go
        through ``session.request`` (see the module's docstring)."""
        if not self._own_session:
            return None
        session = self.session
        adapter: Any = self._adapter
        if session.proxies or not _requests_unpatched():
            return None
        try:
            if session.get_adapter(url) is not adapter:
                return None
        except Exception:  # e.g. an unknown scheme: requests says what is wrong
            return None
        if self._pool is None:
            from pymesync.connections import ConnectionPool  # (with http.client)

            connect, read = self.timeout if isinstance(self.timeout, tuple) else (self.timeout,) * 2
            headers = {str(k): str(v) for k, v in session.headers.items()}
            try:
                self._pool = ConnectionPool(
                    self.baseurl,
                    connect_timeout=connect,
                    read_timeout=read,
                    headers=headers,
                    maxsize=POOL_SIZE,
                )
            except ValueError:
                return None
        return self._pool

    def _send_direct(self, prepared: DirectRequest, token: str | None) -> tuple[int, bytes, Any]:
        from pymesync.connections import ConnectError, HTTPException  # loaded by now

        try:
            return prepared.pool.request(
                prepared.method, prepared.target, prepared.body, prepared.headers
            )
        except (OSError, ValueError, HTTPException, ConnectError) as exc:
            raise self.failure(exc, token) from None

    def failure(self, exc: Exception, token: str | None) -> errors.PymesyncError:
        """The typed error for what :class:`ConnectionPool` raised (the direct path)."""
        from pymesync.connections import ConnectError  # loaded by now

        if isinstance(exc, ConnectError):
            if isinstance(exc.error, TimeoutError):
                return errors.ConnectionFailedError(
                    self._failure(self._timeout_reason(True)), maybe_sent=False
                )
            reason = self._reason(exc.error, token)
            if not reason.startswith("could not connect"):
                reason = f"could not connect: {reason}"
            return errors.ConnectionFailedError(self._failure(reason), maybe_sent=False)
        if isinstance(exc, TimeoutError):
            return errors.ConnectionFailedError(
                self._failure(self._timeout_reason(False)), maybe_sent=True
            )
        if isinstance(exc, ValueError):  # a header or target that cannot go out as is
            return errors.ConfigurationError(
                self._failure(f"invalid request: {redact(str(exc), token)}")
            )
        return self._broken(exc, token)

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


def _retry_after(headers: Any) -> float | None:
    """The ``Retry-After`` header in seconds (only the delay-seconds form)."""
    value = str(headers.get("Retry-After", "")).strip()
    try:
        return max(0.0, float(value)) if value else None
    except ValueError:
        return None


def _environment_proxies(url: str) -> dict[str, str]:
    """The proxies the environment asks for ``url`` (``HTTPS_PROXY``, ``NO_PROXY``...)."""
    from requests.utils import get_environ_proxies

    return dict(get_environ_proxies(url))


def _requests_unpatched() -> bool:
    """Whether ``requests`` sends as shipped: a library that intercepts it
    (requests-mock, responses, tracing) replaces one of these methods, and then every
    request goes through the session so that it sees them all."""
    session, adapter = _REQUESTS_CLASSES or _requests_classes()
    return (
        getattr(session.send, "__module__", None) == "requests.sessions"
        and getattr(session.request, "__module__", None) == "requests.sessions"
        and getattr(adapter.send, "__module__", None) == "requests.adapters"
    )


_REQUESTS_CLASSES: tuple[Any, Any] | None = None


def _requests_classes() -> tuple[Any, Any]:
    global _REQUESTS_CLASSES
    import requests
    from requests.adapters import HTTPAdapter

    _REQUESTS_CLASSES = (requests.Session, HTTPAdapter)
    return _REQUESTS_CLASSES
