"""One exception tree for everything pymesync can report.

The core raises these; only the :class:`~pymesync.TimeSync` facade turns them into the
old library's ``{"pymesync error": ...}`` dicts (unless the caller opted in to exceptions
with ``TimeSync(..., raise_errors=True)``).

``from_response(status, body)`` is the single place where a TimeSync error response is
mapped to an exception class.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "AuthenticationError",
    "AuthorizationError",
    "BadObjectError",
    "BadQueryError",
    "BadResponseError",
    "ConfigurationError",
    "ConflictError",
    "ConnectionFailedError",
    "InvalidIdentifierError",
    "MethodNotAllowedError",
    "NotAuthenticatedError",
    "NotFoundError",
    "NothingToUndoError",
    "PymesyncError",
    "RateLimitedError",
    "ServerError",
    "StaleOperationError",
    "TimeSyncError",
    "TimerStateError",
    "TokenRejectedError",
    "TransportError",
    "ValidationError",
    "WrongPrefixError",
    "from_response",
]


class PymesyncError(Exception):
    """Root of every error pymesync raises.

    ``message`` is the human-readable text (for local errors, the exact string the old
    library returned). ``as_list`` says whether the old library wrapped this error in a
    one-element list even outside the ``get_*`` methods (the duration-string error).
    """

    #: Whether retrying the same request later may succeed (network trouble, 5xx, 429).
    transient: bool = False
    #: Seconds the server asked us to wait before retrying (``Retry-After``), if any.
    retry_after: float | None = None
    #: Whether the request may have reached the server and been carried out although no
    #: usable answer came back (a lost response): a write must then be reconciled, not
    #: blindly resent.
    maybe_sent: bool = False
    #: Whether no complete answer came in time (a read timeout or the request's
    #: deadline): a slow server may still be carrying the write out, so it is looked
    #: for only after waiting at least that long again.
    timed_out: bool = False

    def __init__(self, message: str, *, as_list: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.as_list = as_list

    def to_dict(self, error_key: str) -> dict[str, Any]:
        """The old library's dict for this error."""
        return {error_key: self.message}


class ValidationError(PymesyncError):
    """The caller's input was rejected locally; nothing was sent or stored."""


class TimerStateError(ValidationError):
    """A timer call that does not fit the timer's state: nothing running (stop, cancel),
    one running (a start without stopping it), nothing to restart, or a start or stop at
    a time that cannot be (in the future, before the running timer's start). Nothing was
    stored."""


class NotAuthenticatedError(PymesyncError):
    """A method needing a token was called before ``authenticate()``."""


class StaleOperationError(PymesyncError):
    """A queued operation is gone (acked or discarded) or in a state that does not allow
    the change: typically another sync worker took it over."""


class TransportError(PymesyncError):
    """The server could not be reached or did not answer like TimeSync."""

    transient = True

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class ConnectionFailedError(TransportError):
    """No HTTP response at all: refused, reset, DNS failure, timeout.

    ``maybe_sent`` is False when the connection was never made (refused, DNS, connect
    timeout) and True when it broke after the request went out (read timeout, reset).
    """

    def __init__(self, message: str, *, maybe_sent: bool = False) -> None:
        super().__init__(message)
        self.maybe_sent = maybe_sent


class BadResponseError(TransportError):
    """An HTTP response whose body is not JSON (a proxy page, a truncated body)."""


class ConfigurationError(TransportError):
    """The base URL cannot work (malformed, wrong scheme). Not transient."""

    transient = False


class WrongPrefixError(ConfigurationError, BadResponseError):
    """An HTML 404 page: almost always a base URL without the right ``/v0`` prefix."""

    transient = False


class TimeSyncError(PymesyncError):
    """An error object returned by the TimeSync server.

    ``status``, ``error``, ``text`` and ``values`` are the server's own fields; ``body``
    is the whole dict, which the facade returns unchanged (as the old library did).
    """

    def __init__(self, status: int, body: dict[str, Any]) -> None:
        self.status = status
        self.body = dict(body)
        self.error = str(body.get("error", ""))
        self.text = str(body.get("text", ""))
        self.values = body.get("values")
        super().__init__(f"{status} {self.error}: {self.text}")

    def to_dict(self, error_key: str) -> dict[str, Any]:
        """The server's own error dict, unchanged."""
        return dict(self.body)


class ServerError(TimeSyncError):
    """HTTP 5xx with a JSON error body: ``Server error``. Transient."""

    transient = True


class RateLimitedError(TimeSyncError):
    """HTTP 429 with a JSON body. Transient; ``retry_after`` holds the server's delay."""

    transient = True


class AuthenticationError(TimeSyncError):
    """401 ``Authentication failure``: missing or wrong credentials."""


class TokenRejectedError(AuthenticationError):
    """401 ``Authentication failure`` / ``Bad API token``: the token expired or the
    server restarted. Logging in again fixes it."""


class AuthorizationError(TimeSyncError):
    """401 ``Authorization failure``: the caller may not do this. Permanent."""


class BadObjectError(TimeSyncError):
    """400 ``Bad object``: the server rejected the payload."""


class InvalidIdentifierError(TimeSyncError):
    """400 ``The provided identifier was invalid`` (SPEC: ``Invalid identifier``)."""


class BadQueryError(TimeSyncError):
    """400 (or 401 for a wrong auth type) ``Bad query value``."""


class NotFoundError(TimeSyncError):
    """404 ``Object not found``."""


class MethodNotAllowedError(TimeSyncError):
    """405 ``Method not allowed``: the project or activity is still used by times."""


class ConflictError(TimeSyncError):
    """409: invalid foreign key, slug already exists, username already exists."""


# Error names as NODE and SPEC spell them, matched case-insensitively.
_BY_NAME: dict[str, type[TimeSyncError]] = {
    "authorization failure": AuthorizationError,
    "authentication failure": AuthenticationError,
    "invalid username": AuthenticationError,
    "bad object": BadObjectError,
    "the provided identifier was invalid": InvalidIdentifierError,
    "invalid identifier": InvalidIdentifierError,
    "bad query value": BadQueryError,
    "object not found": NotFoundError,
    "method not allowed": MethodNotAllowedError,
    "request failure": MethodNotAllowedError,
    "server error": ServerError,
}

_BY_STATUS: dict[int, type[TimeSyncError]] = {
    400: BadObjectError,
    401: AuthenticationError,
    404: NotFoundError,
    405: MethodNotAllowedError,
    409: ConflictError,
    429: RateLimitedError,
}


def from_response(status: int, body: dict[str, Any]) -> TimeSyncError:
    """Map a TimeSync error response (HTTP status + JSON body) to its exception."""
    name = str(body.get("error", "")).strip().lower()
    cls = _BY_NAME.get(name)
    if status == 409:
        cls = ConflictError
    elif status == 429:
        cls = RateLimitedError
    elif status >= 500:
        cls = ServerError
    if cls is None:
        cls = _BY_STATUS.get(status, TimeSyncError)
    if cls is AuthenticationError and "bad api token" in str(body.get("text", "")).lower():
        cls = TokenRejectedError
    return cls(status, body)


class NothingToUndoError(PymesyncError):
    """:meth:`TimeSync.undo() <pymesync.TimeSync.undo>` found nothing it can take back:
    no local change, or the last one was already synced, is being sent, was refused by
    the server or changed since. The message says which; nothing was changed."""
