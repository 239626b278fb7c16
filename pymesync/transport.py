"""HTTP to TimeSync: one ``requests.Session``, timeouts, encoding, redaction, error mapping.

:meth:`Transport.send` carries out a :class:`~pymesync.wire.WireRequest` and returns the
parsed JSON body (``None`` for an empty 200). Every failure comes out as a typed
:class:`~pymesync.errors.PymesyncError`, never as a ``requests`` exception, and no
message ever contains the token.
"""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from pymesync import errors
from pymesync.wire import WireRequest

if TYPE_CHECKING:
    import requests

#: Seconds to wait for a connection and for each read, unless the caller says otherwise.
DEFAULT_TIMEOUT = 10.0
REDACTED = "<redacted>"
#: Connections kept alive per host (at least the sync concurrency).
POOL_SIZE = 32

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
            self._session = session
        return self._session

    def close(self) -> None:
        """Close the session's pooled connections."""
        if self._session is not None:
            self._session.close()

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
        import requests

        body: dict[str, Any] | None = request.body
        if request.method == "POST" and request.token_auth:
            body = {"auth": {"type": "token", "token": token}, "object": request.body}
        try:
            response = self.session.request(
                request.method,
                self.url(request, token),
                data=None if body is None else json.dumps(body),
                headers={"Content-Type": "application/json"} if body is not None else None,
                timeout=self.timeout,
            )
        except requests.Timeout as exc:
            raise errors.ConnectionFailedError(
                self._failure(self._timeout_reason(exc)),
                maybe_sent=not isinstance(exc, requests.ConnectTimeout),
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
            reason = self._reason(exc, token)
            raise errors.ConnectionFailedError(
                self._failure(reason), maybe_sent=not reason.startswith("could not connect")
            ) from None
        return self._parse(response.status_code, response.content, response.headers)

    def _failure(self, reason: str) -> str:
        return f"connection to TimeSync failed at baseurl {self.baseurl} - {reason}"

    def _timeout_reason(self, exc: Exception) -> str:
        import requests

        if isinstance(exc, requests.ConnectTimeout):
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
        if "RemoteDisconnected" in text or "Connection aborted" in text:
            return "the connection was closed before a response arrived"
        return f"{type(exc).__name__}: {redact(text, token)}"

    def _parse(self, status: int, content: bytes, headers: Any) -> Any:
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
