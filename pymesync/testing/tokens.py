"""Login tokens in NODE's format, held in memory so that a restart invalidates them all.

A token is ``header.payload.signature`` where each segment is STANDARD base64 with ``=``
padding (not base64url): header ``{"typ":"JWT","alg":"HMAC-SHA512"}``, payload
``{"iss", "sub", "exp", "iat"}`` with times in epoch milliseconds, and an HMAC-SHA512
signature over ``header.payload``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import threading

TOKEN_LIFETIME_MS = 30 * 60 * 1000
"""Token lifetime: 30 minutes, in milliseconds."""

_HEADER = {"typ": "JWT", "alg": "HMAC-SHA512"}


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _json_b64(obj: object) -> str:
    return _b64(json.dumps(obj, separators=(",", ":")).encode("utf-8"))


class TokenTable:
    """Issues, checks and forgets tokens; thread-safe."""

    def __init__(self, instance_name: str) -> None:
        """Create an empty table signing with a fresh random secret."""
        self.instance_name = instance_name
        self._lock = threading.Lock()
        self._secret = secrets.token_bytes(64)
        self._issued: dict[str, str] = {}

    def issue(self, username: str, now_ms: int) -> str:
        """Return a new token for ``username`` issued at ``now_ms``."""
        payload = {
            "iss": self.instance_name,
            "sub": username,
            "exp": now_ms + TOKEN_LIFETIME_MS,
            "iat": now_ms,
        }
        head = _json_b64(_HEADER) + "." + _json_b64(payload)
        with self._lock:
            sig = hmac.new(self._secret, head.encode("ascii"), hashlib.sha512).digest()
            token = head + "." + _b64(sig)
            self._issued[token] = username
        return token

    def check(self, token: str, now_ms: int) -> str | None:
        """Return the username of a valid token, or None if it is bad, unknown or expired."""
        with self._lock:
            username = self._issued.get(token)
            secret = self._secret
        if username is None:
            return None
        parts = token.split(".")
        if len(parts) != 3:
            return None
        head = parts[0] + "." + parts[1]
        expected = _b64(hmac.new(secret, head.encode("ascii"), hashlib.sha512).digest())
        if not hmac.compare_digest(expected, parts[2]):
            return None
        try:
            header = json.loads(base64.b64decode(parts[0], validate=True))
            payload = json.loads(base64.b64decode(parts[1], validate=True))
        except ValueError:
            return None
        if not isinstance(header, dict) or header.get("alg") != "HMAC-SHA512":
            return None
        if not isinstance(payload, dict) or payload.get("iss") != self.instance_name:
            return None
        exp, iat = payload.get("exp"), payload.get("iat")
        if not isinstance(exp, int) or not isinstance(iat, int):
            return None
        if now_ms >= exp or now_ms - iat >= TOKEN_LIFETIME_MS:
            return None
        return username

    def invalidate_all(self) -> None:
        """Forget every issued token and change the secret (a simulated server restart)."""
        with self._lock:
            self._issued.clear()
            self._secret = secrets.token_bytes(64)

    def __len__(self) -> int:
        """Number of tokens currently held."""
        with self._lock:
            return len(self._issued)
