"""The emulator's error objects, spelled the way the real TimeSync server (NODE) spells them.

Every API error is a JSON object ``{"status", "error", "text"}`` plus, for some, ``values``.
Handlers raise :class:`ApiError`; the HTTP layer turns it into the response.
"""

from __future__ import annotations

from typing import Any


class ApiError(Exception):
    """An error response: HTTP status, ``error`` name, ``text`` and optional ``values``."""

    def __init__(
        self,
        status: int,
        error: str,
        text: str,
        values: list[Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        """Build the error; ``headers`` are extra HTTP headers (e.g. ``Allow``)."""
        super().__init__(f"{status} {error}: {text}")
        self.status = status
        self.error = error
        self.text = text
        self.values = values
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        """Return the JSON body of the error response."""
        out: dict[str, Any] = {"status": self.status, "error": self.error, "text": self.text}
        if self.values is not None:
            out["values"] = self.values
        return out


def not_found(thing: str) -> ApiError:
    """404 ``Object not found``, "Nonexistent <thing>"."""
    return ApiError(404, "Object not found", f"Nonexistent {thing}")


def server_error() -> ApiError:
    """500 ``Server error``, "Unexpected server error."."""
    return ApiError(500, "Server error", "Unexpected server error.")


def foreign_key(object_type: str, key: str) -> ApiError:
    """409 ``Invalid foreign key``, "The <type> does not contain a valid <key> reference."."""
    return ApiError(
        409,
        "Invalid foreign key",
        f"The {object_type} does not contain a valid {key} reference.",
    )


def unknown_field(object_type: str, field: str) -> ApiError:
    """400 ``Bad object``, "<type> does not have a <field> field"."""
    return ApiError(400, "Bad object", f"{object_type} does not have a {field} field")


def missing_field(object_type: str, field: str) -> ApiError:
    """400 ``Bad object``, "The <type> is missing a <field>"."""
    return ApiError(400, "Bad object", f"The {object_type} is missing a {field}")


def invalid_field(object_type: str, field: str, expected: str, received: str) -> ApiError:
    """400 ``Bad object``, "Field <f> of <type> should be <expected> but was sent as <got>"."""
    return ApiError(
        400,
        "Bad object",
        f"Field {field} of {object_type} should be {expected} but was sent as {received}",
    )


def unparseable_body() -> ApiError:
    """400 ``Bad object`` for a body that is not valid JSON."""
    return ApiError(400, "Bad object", "The request body could not be parsed as valid JSON")


def invalid_identifier(expected: str, received: str) -> ApiError:
    """400 ``The provided identifier was invalid``, "Expected <kind> but received <x>"."""
    return ApiError(
        400,
        "The provided identifier was invalid",
        f"Expected {expected} but received {received}",
        [received],
    )


def authentication_failure(text: str) -> ApiError:
    """401 ``Authentication failure`` with the strategy's message."""
    return ApiError(401, "Authentication failure", text)


def bad_auth_type(auth_type: Any) -> ApiError:
    """401 ``Bad query value``, "<type> is not a valid authentication type"."""
    return ApiError(
        401, "Bad query value", f"{js_string(auth_type)} is not a valid authentication type"
    )


def authorization_failure(caller: str, action: str) -> ApiError:
    """401 ``Authorization failure``, "<caller> is not authorized to <action>"."""
    return ApiError(401, "Authorization failure", f"{caller} is not authorized to {action}")


def slugs_exist(slugs: list[str]) -> ApiError:
    """409 ``The slug provided already exists`` (sorted, lowercase, with ``values``)."""
    ordered = sorted(slugs)
    if len(ordered) == 1:
        text = f"slug {ordered[0]} already exists"
    else:
        text = f"slugs {', '.join(ordered)} already exist"
    return ApiError(409, "The slug provided already exists", text, ordered)


def method_not_allowed(object_type: str) -> ApiError:
    """405 ``Method not allowed`` with the header ``Allow: GET, POST``."""
    return ApiError(
        405,
        "Method not allowed",
        f"The method specified is not allowed for the {object_type} identified",
        headers={"Allow": "GET, POST"},
    )


def bad_query_value(key: str, value: str) -> ApiError:
    """400 ``Bad query value``, "Parameter <key> contained invalid value <value>"."""
    return ApiError(400, "Bad query value", f"Parameter {key} contained invalid value {value}")


def username_exists(username: str) -> ApiError:
    """409 ``Username already exists``, "username <u> already exists"."""
    return ApiError(
        409, "Username already exists", f"username {username} already exists", [username]
    )


def js_string(value: Any) -> str:
    """Render ``value`` the way JavaScript string concatenation would."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, list):
        return ",".join("" if v is None else js_string(v) for v in value)
    if isinstance(value, dict):
        return "[object Object]"
    return str(value)
