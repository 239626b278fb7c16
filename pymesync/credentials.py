"""Where a new token comes from when the server refuses the old one.

In order: the running process's own ``authenticate()`` call (kept in memory only), the
environment (``PYMESYNC_USERNAME``, ``PYMESYNC_PASSWORD``, ``PYMESYNC_AUTH_TYPE``), or a
password command (``PYMESYNC_PASSWORD_COMMAND``, whose first line of output is the
password, e.g. ``pass show timesync``). Credentials are never written to the store.
"""

from __future__ import annotations

import os
import shlex
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Credentials:
    """A username, password and auth type; the password never shows in ``repr``."""

    username: str
    password: str = field(repr=False)
    auth_type: str = "password"


def _command_password(command: str) -> str | None:
    try:
        done = subprocess.run(
            shlex.split(command), capture_output=True, text=True, timeout=30, check=False
        )
    except (OSError, ValueError, subprocess.TimeoutExpired):
        return None
    if done.returncode != 0:
        return None
    first = done.stdout.splitlines()[0] if done.stdout else ""
    return first or None


def from_environment(
    username: str | None, environ: Mapping[str, str] | None = None
) -> Credentials | None:
    """Credentials for ``username`` from the environment, or None.

    ``PYMESYNC_USERNAME`` must name the same user (when ``username`` is known), so one
    account's credentials are never used for another's queue.
    """
    env = os.environ if environ is None else environ
    name = env.get("PYMESYNC_USERNAME") or username
    if not name or (username is not None and name != username):
        return None
    password = env.get("PYMESYNC_PASSWORD")
    if not password and env.get("PYMESYNC_PASSWORD_COMMAND"):
        password = _command_password(env["PYMESYNC_PASSWORD_COMMAND"])
    if not password:
        return None
    return Credentials(name, password, env.get("PYMESYNC_AUTH_TYPE") or "password")
