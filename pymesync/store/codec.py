"""How the store writes values into SQLite text columns, and reads them back.

JSON is stored as compact TEXT; datetimes as fixed-width UTC ISO-8601 text
(``2026-11-30T10:00:00.000000Z``) so that SQL comparisons on them are correct.

This module imports nothing but the standard library: the plain-SQL modules
(:mod:`~pymesync.store.queue`, :mod:`~pymesync.store.state`,
:mod:`~pymesync.store.cache`) and the read-only :mod:`~pymesync.store.peek` use it
without loading SQLAlchemy. :mod:`pymesync.store.schema` re-exports these names and
builds its column types on them, so that the models and the plain SQL agree on every
stored value.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any

__all__ = ["dump_json", "format_utc", "load_json", "parse_utc"]

_UTC = timezone.utc
_JSON_ENCODER = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False)
_JSON_DECODER = json.JSONDecoder()


def format_utc(value: datetime) -> str:
    """``value`` (timezone-aware) as the fixed-width UTC text stored in the database:
    ``YYYY-MM-DDTHH:MM:SS.ffffffZ``."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"naive datetime {value!r}: the store needs timezone-aware times")
    utc = value.astimezone(_UTC).replace(tzinfo=None)
    return utc.isoformat(timespec="microseconds") + "Z"


def parse_utc(text: str) -> datetime:
    """The aware UTC datetime for text written by :func:`format_utc`."""
    return datetime.fromisoformat(text[:-1] if text.endswith("Z") else text).replace(tzinfo=_UTC)


def dump_json(value: Any) -> str:
    """A JSON value as the compact text stored in the database."""
    return _JSON_ENCODER.encode(value)


def load_json(text: str) -> Any:
    """The value of JSON text written by :func:`dump_json` (``JSONDecodeError`` on
    anything else)."""
    return _JSON_DECODER.decode(text)
