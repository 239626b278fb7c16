"""Format rules for slugs, identifiers, dates, URIs, usernames and e-mail addresses (NODE)."""

from __future__ import annotations

import re
from datetime import date
from typing import Any
from urllib.parse import urlsplit

_SLUG = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")
_LOOSE_SLUG = re.compile(r"[A-Za-z0-9_-]+")
_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
_USERNAME = re.compile(r"[a-z0-9_~-]+")
_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[a-z]{2,3}")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def is_slug(value: Any) -> bool:
    """Strict slug (create/update bodies): lowercase alnum groups joined by single hyphens,
    with at least one letter."""
    return (
        isinstance(value, str)
        and _SLUG.fullmatch(value) is not None
        and any("a" <= c <= "z" for c in value)
    )


def is_path_slug(value: str) -> bool:
    """Loose slug accepted in a URL path: ``[A-Za-z0-9_-]+``."""
    return _LOOSE_SLUG.fullmatch(value) is not None


def is_uuid(value: str) -> bool:
    """Hex uuid in 8-4-4-4-12 form, any case."""
    return _UUID.fullmatch(value) is not None


def is_username(value: str) -> bool:
    """Username (compared lowercased): letters, digits, ``_``, ``~`` and ``-``."""
    return _USERNAME.fullmatch(value.lower()) is not None


def is_email(value: str) -> bool:
    """Strict e-mail pattern with a 2-3 lowercase-letter top-level domain."""
    return _EMAIL.fullmatch(value) is not None


def is_web_uri(value: Any) -> bool:
    """Absolute http or https URL with a host and no whitespace."""
    if not isinstance(value, str) or not value or any(c.isspace() for c in value):
        return False
    try:
        parts = urlsplit(value)
    except ValueError:
        return False
    return parts.scheme.lower() in ("http", "https") and bool(parts.hostname)


def parse_date(value: Any) -> str | None:
    """Return the ``YYYY-MM-DD`` found in ``value`` if it is a real date, else None.

    Like NODE the pattern is not anchored, and ``1970-01-01`` is rejected (NODE's
    ``Date.parse`` gives 0 for it, which is falsy).
    """
    if not isinstance(value, str):
        return None
    found = _DATE.search(value)
    if found is None:
        return None
    try:
        parsed = date.fromisoformat(found.group(0))
    except ValueError:
        return None
    if value == "1970-01-01":
        return None
    return parsed.isoformat()


def js_type(value: Any) -> str:
    """Name the JSON type of ``value`` as NODE's helpers do (``array`` and ``null`` apart)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def is_number(value: Any) -> bool:
    """True for a JSON number (bools excluded)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool)
