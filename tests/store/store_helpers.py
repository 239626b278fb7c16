"""Helpers shared by the store tests (imported as ``store_helpers``; fixtures are in conftest)."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from pymesync.store import CacheObject, NewOperation

ACCOUNT = "http://host/v0|alice"
OTHER = "http://host/v0|bob"
T0 = datetime(2026, 11, 30, 12, 0, 0, tzinfo=timezone.utc)
HERE = Path(__file__).resolve().parent
WORKER = HERE / "store_worker.py"
REPO = HERE.parents[1]


def at(seconds: float) -> datetime:
    """T0 plus some seconds."""
    return T0 + timedelta(seconds=seconds)


def time_obj(uuid: str, **fields: Any) -> dict[str, Any]:
    """A server-shaped time."""
    obj: dict[str, Any] = {
        "uuid": uuid,
        "revision": 1,
        "user": "alice",
        "duration": 600,
        "project": ["gwm"],
        "activities": ["dev"],
        "notes": "",
        "issue_uri": None,
        "date_worked": "2026-11-01",
        "created_at": "2026-11-01",
        "updated_at": None,
        "deleted_at": None,
    }
    obj.update(fields)
    return obj


def op(kind: str, target: str, payload: dict[str, Any] | None = None, **kw: Any) -> NewOperation:
    """A NewOperation on a time of ACCOUNT."""
    kw.setdefault("account", ACCOUNT)
    kw.setdefault("entity", "time")
    return NewOperation(kind=kind, target=target, payload=payload, **kw)  # type: ignore[arg-type]


def provisional(key: str, payload: dict[str, Any], entity: str = "time") -> CacheObject:
    """A provisional cache object of ACCOUNT."""
    return CacheObject(
        account=ACCOUNT,
        entity=entity,  # type: ignore[arg-type]
        key=key,
        payload=payload,
        revision=payload.get("revision"),
        deleted=False,
        fetched_at=T0,
        local=True,
    )


def run_worker(*args: str, env: dict[str, str] | None = None, **kw: Any) -> subprocess.Popen[str]:
    """Start tests/store/store_worker.py in a fresh interpreter."""
    full_env = dict(os.environ)
    if env:
        full_env.update(env)
    return subprocess.Popen(
        [sys.executable, str(WORKER), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=full_env,
        **kw,
    )
