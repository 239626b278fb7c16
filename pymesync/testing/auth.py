"""Login (``POST /login``, password strategy) and token extraction for other requests."""

from __future__ import annotations

import re
from typing import Any

import bcrypt

from . import errors as E

_WHITESPACE = re.compile(r"\s")

ENABLED_AUTH_TYPES = ("password",)
"""Login strategies the emulator accepts (NODE's default; ``ldap`` is not enabled)."""


def login_credentials(body: Any) -> tuple[str, str]:
    """Validate a login body; return ``(username, password)`` or raise the NODE 401."""
    auth = body.get("auth") if isinstance(body, dict) else None
    if not isinstance(auth, dict):
        raise E.authentication_failure("Missing credentials")
    auth_type = auth.get("type")
    if auth_type is None or auth_type == "":
        raise E.authentication_failure("Authentication type required")
    if auth_type not in ENABLED_AUTH_TYPES:
        raise E.bad_auth_type(auth_type)
    username, password = auth.get("username"), auth.get("password")
    if not isinstance(username, str) or not isinstance(password, str):
        raise E.authentication_failure("Missing credentials")
    if not username or not password:
        raise E.authentication_failure("Missing credentials")
    return username, password


def password_matches(plain: str, stored: str | None) -> bool:
    """``bcrypt.checkpw(plain, stored)``; a stored value that is not a hash never matches."""
    if stored is None:
        return False
    try:
        return bcrypt.checkpw(plain.encode("utf-8"), stored.encode("utf-8"))
    except ValueError:
        return False


def normalise_token(token: str) -> str:
    """Turn whitespace back into ``+``, as NODE does with an unencoded token."""
    return _WHITESPACE.sub("+", token)


def token_from_query(query: list[tuple[str, str]]) -> str:
    """The ``?token=`` of a GET or DELETE, or raise 401 Missing credentials."""
    for key, value in query:
        if key == "token" and value:
            return normalise_token(value)
    raise E.authentication_failure("Missing credentials")


def token_from_body(body: Any) -> str:
    """The ``auth.token`` of a POST body, or raise NODE's 401."""
    auth = body.get("auth") if isinstance(body, dict) else None
    if not isinstance(auth, dict):
        raise E.authentication_failure("Missing credentials")
    auth_type = auth.get("type", "undefined")
    if auth_type != "token":
        raise E.bad_auth_type(auth_type)
    token = auth.get("token")
    if not isinstance(token, str) or not token:
        raise E.authentication_failure("Missing credentials")
    return normalise_token(token)
