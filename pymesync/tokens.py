"""What a TimeSync token says about itself.

A token is three dot-separated segments of standard base64 (with ``=`` padding, unlike
a real JWT); the second is a JSON payload whose ``exp`` is the expiry in epoch
milliseconds.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json

from pymesync.errors import ValidationError

IMPROPER = "improperly encoded token"


def token_payload(token: str) -> dict[str, object]:
    """The decoded JSON payload of ``token``, or ``ValidationError("improperly encoded token")``."""
    parts = token.split(".")
    if len(parts) < 2 or not parts[1]:
        raise ValidationError(IMPROPER)
    segment = parts[1].strip()
    segment += "=" * (-len(segment) % 4)
    try:
        raw = base64.b64decode(segment.replace("-", "+").replace("_", "/"), validate=True)
        payload = json.loads(raw.decode("utf-8"))
    except (binascii.Error, ValueError):
        raise ValidationError(IMPROPER) from None
    if not isinstance(payload, dict):
        raise ValidationError(IMPROPER)
    return payload


def expiration_ms(token: str) -> int:
    """The token's ``exp`` in epoch milliseconds."""
    exp = token_payload(token).get("exp")
    if isinstance(exp, bool) or not isinstance(exp, (int, float)):
        raise ValidationError(IMPROPER)
    return int(exp)


def expiration_time(token: str) -> dt.datetime:
    """The expiry as a naive local ``datetime``, as the old library returned it."""
    try:
        return dt.datetime.fromtimestamp(expiration_ms(token) / 1000)
    except (OverflowError, OSError, ValueError):
        raise ValidationError(IMPROPER) from None
