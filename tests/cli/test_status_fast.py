"""`pymesync status` reads the store read-only, without SQLAlchemy, Alembic, requests or
bcrypt, and says what the library's ``status()`` says."""

from __future__ import annotations

import base64
import datetime as dt
import json
import shutil
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from pymesync.client import TimeSync
from pymesync.store import NewOperation, Store

from .conftest import Run
from .helpers import one_error_line, pymesync_executable, subprocess_env

URL = "http://127.0.0.1:9/v0"
ACCOUNT = f"{URL}|alice"
HEAVY = ("sqlalchemy", "alembic", "requests", "bcrypt")
DATA = Path(__file__).resolve().parents[1] / "data"


def make_token(sub: str, expires: dt.datetime) -> str:
    """A token in TimeSync's format (standard base64 segments) for ``sub``."""

    def segment(value: object) -> str:
        return base64.b64encode(json.dumps(value).encode()).decode()

    payload = {"iss": "test", "sub": sub, "exp": int(expires.timestamp() * 1000)}
    return f"{segment({'typ': 'JWT'})}.{segment(payload)}.c2lnbmF0dXJl"


def fill(path: Path, token: str | None) -> None:
    """A store with alice's queue in every state, some sync state and her token."""
    now = dt.datetime.now(dt.timezone.utc)
    with Store.open(path) as store:
        for i in range(4):
            new = NewOperation(ACCOUNT, "update", "time", f"t{i}", {"notes": str(i)})
            store.enqueue(new, now=now - dt.timedelta(minutes=10 - i))
        other = NewOperation(f"{URL}|bob", "update", "time", "x", {"notes": "b"})
        store.enqueue(other, now=now)
        first, second = store.claim(ACCOUNT, "w", 30, now=now, limit=2)
        later = now + dt.timedelta(seconds=40)
        store.fail(first.op_id, error={"e": 1}, permanent=False, next_attempt_at=later, now=now)
        store.fail(second.op_id, error={"e": 2}, permanent=True, conflict=True, now=now)
        store.set_state(ACCOUNT, "last_success", now.isoformat(), now=now)
        error = {"at": now.isoformat(), "message": "connection to TimeSync failed"}
        store.set_state(ACCOUNT, "last_error", error, now=now)
        store.set_state(ACCOUNT, "conflicts", [{"op_id": second.op_id}], now=now)
        if token is not None:
            store.save_token(ACCOUNT, token, now=now)


def env_for(tmp_path: Path, db: Path) -> dict[str, str]:
    return subprocess_env(
        tmp_path, PYMESYNC_DB=str(db), PYMESYNC_URL=URL + "/", PYMESYNC_USERNAME="alice"
    )


def library_status(db: Path) -> dict[str, Any]:
    """What ``status`` showed before: the library's own answer."""
    with TimeSync.resume(URL + "/", "alice", raise_errors=True, db=db) as ts:
        data = dict(ts.status())
        data["logged_in"] = bool(ts.token)
        return data


def without_age(data: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in data.items() if k != "oldest_pending_age"}


# --------------------------------------------------------------------------- imports


def test_status_loads_no_sqlalchemy_alembic_requests_or_bcrypt(tmp_path: Path) -> None:
    db = tmp_path / "store.sqlite3"
    fill(db, make_token("alice", dt.datetime.now() + dt.timedelta(hours=1)))
    env = env_for(tmp_path, db)
    code = (
        "import sys\n"
        "from pymesync.cli import main\n"
        "try:\n"
        "    main(sys.argv[1:])\n"
        "except SystemExit as exit:\n"
        "    assert not exit.code, exit.code\n"
        f"print(sorted(m for m in {HEAVY!r} if m in sys.modules), file=sys.stderr)\n"
    )
    for args in (["status"], ["status", "--json"]):
        done = subprocess.run(
            [sys.executable, "-c", code, *args], capture_output=True, text=True, env=env
        )
        assert done.returncode == 0, done.stderr
        assert done.stderr.strip().splitlines()[-1] == "[]", (args, done.stderr)
    # The installed executable itself, as Python's import profiler sees it.
    done = subprocess.run(
        [pymesync_executable(), "status"],
        capture_output=True,
        text=True,
        env={**env, "PYTHONPROFILEIMPORTTIME": "1"},
    )
    assert done.returncode == 0, done.stderr
    imported = {
        line.rsplit("|", 1)[-1].strip()
        for line in done.stderr.splitlines()
        if line.startswith("import time:")
    }
    assert "pymesync.store.peek" in imported
    assert not {name for name in imported if name.split(".")[0] in HEAVY}


# --------------------------------------------------------------------------- the truth


def test_status_says_what_the_library_says(tmp_path: Path) -> None:
    db = tmp_path / "store.sqlite3"
    token = make_token("alice", dt.datetime.now() + dt.timedelta(hours=1))
    fill(db, token)
    env = env_for(tmp_path, db)
    exe = pymesync_executable()
    started = time.time()
    done = subprocess.run([exe, "status", "--json"], capture_output=True, text=True, env=env)
    assert done.returncode == 0, done.stderr
    assert token not in done.stdout + done.stderr
    data = json.loads(done.stdout)
    expected = library_status(db)
    assert without_age(data) == without_age(expected) | {
        "token_expires": data["token_expires"],
        "token_expired": False,
        "store": str(db),
    }
    assert data["pending"] == 3 and data["failed"] == 0 and data["conflicts"] == 1
    assert data["next_retry"] is not None and data["conflict_log"]
    assert expected["oldest_pending_age"] - 1 <= data["oldest_pending_age"]
    assert data["oldest_pending_age"] <= expected["oldest_pending_age"] + time.time() - started
    expiry = dt.datetime.fromisoformat(data["token_expires"])
    assert abs((expiry - dt.datetime.now().astimezone()).total_seconds() - 3600) < 60

    text = subprocess.run([exe, "status"], capture_output=True, text=True, env=env)
    assert text.returncode == 0 and token not in text.stdout + text.stderr
    lines = dict(
        line.split(None, 1) for line in text.stdout.replace("in flight", "inflight").splitlines()
    )
    assert lines["account"] == f"alice at {URL}"
    assert lines["login"].startswith("logged in until ")
    assert lines["pending"].startswith("3 (oldest queued ")
    assert lines["conflicts"] == "1" and lines["failed"] == "0" and lines["inflight"] == "0"
    assert lines["store"] == str(db)
    assert "see `pymesync failed list`" in text.stderr


def test_expired_and_missing_logins(
    tmp_path: Path, run: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = tmp_path / "store.sqlite3"
    fill(db, make_token("alice", dt.datetime.now() - dt.timedelta(minutes=5)))
    monkeypatch.setenv("PYMESYNC_DB", str(db))
    monkeypatch.setenv("PYMESYNC_URL", URL)
    monkeypatch.setenv("PYMESYNC_USERNAME", "alice")
    data = json.loads(run("status", "--json").stdout)
    assert data["logged_in"] is True and data["token_expired"] is True
    assert "expired at " in run("status").stdout
    with Store.open(db) as store:
        store.save_token(ACCOUNT, "not.a-token", now=dt.datetime.now(dt.timezone.utc))
    data = json.loads(run("status", "--json").stdout)
    assert data["logged_in"] is True and data["token_expires"] is None
    assert data["token_expired"] is None
    assert "logged in\n" in run("status").stdout
    with Store.open(db) as store:
        store.forget_token(ACCOUNT)
    data = json.loads(run("status", "--json").stdout)
    assert data["logged_in"] is False and data["pending"] == 3
    assert (
        "not logged in: waiting for login (3 queued); run `pymesync login`" in run("status").stdout
    )


def test_the_account_is_the_tokens(
    tmp_path: Path, run: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As TimeSync.resume: the token stored for the configured user, then the account
    the token names."""
    db = tmp_path / "store.sqlite3"
    fill(db, make_token("carol", dt.datetime.now() + dt.timedelta(hours=1)))
    monkeypatch.setenv("PYMESYNC_DB", str(db))
    monkeypatch.setenv("PYMESYNC_URL", URL)
    monkeypatch.setenv("PYMESYNC_USERNAME", "alice")
    data = json.loads(run("status", "--json").stdout)
    assert data["account"] == {"base_url": URL, "username": "carol"}
    assert without_age(data) | {"token_expires": None} == without_age(library_status(db)) | {
        "token_expires": None,
        "token_expired": False,
        "store": str(db),
    }


# --------------------------------------------------------------------------- the file


def test_no_store_yet_creates_nothing(
    tmp_path: Path, run: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = tmp_path / "not" / "yet" / "store.sqlite3"
    monkeypatch.setenv("PYMESYNC_DB", str(db))
    monkeypatch.setenv("PYMESYNC_URL", URL)
    monkeypatch.setenv("PYMESYNC_USERNAME", "alice")
    text = run("status")
    assert text.exit_code == 0, text.output
    assert f"store         {db} (no store yet)" in text.stdout
    assert "pending       0\n" in text.stdout and "not logged in" in text.stdout
    data = json.loads(run("status", "--json").stdout)
    assert data["pending"] == data["inflight"] == data["failed"] == data["conflicts"] == 0
    assert data["store"] == str(db) and data["logged_in"] is False
    assert not (tmp_path / "not").exists()


def test_a_newer_store_is_refused_untouched(
    tmp_path: Path, run: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = tmp_path / "store.sqlite3"
    fill(db, None)
    conn = sqlite3.connect(db)
    conn.execute("UPDATE alembic_version SET version_num = '0099'")
    conn.commit()
    conn.close()
    before = db.read_bytes()
    monkeypatch.setenv("PYMESYNC_DB", str(db))
    monkeypatch.setenv("PYMESYNC_URL", URL)
    monkeypatch.setenv("PYMESYNC_USERNAME", "alice")
    message = one_error_line(run("status"), 1)
    assert message.startswith(f"local store: The database {db} has schema revision '0099'")
    assert "newer pymesync" in message
    assert db.read_bytes() == before


def test_an_old_store_is_read_without_upgrading(
    tmp_path: Path, run: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    copies = [tmp_path / "store.sqlite3", tmp_path / "upgraded.sqlite3"]
    for copy in copies:
        shutil.copyfile(DATA / "store_v0001.sqlite3", copy)
        conn = sqlite3.connect(copy)  # (its token names no user: status would show
        conn.execute("DELETE FROM credentials")  # the token's account, not alice's)
        conn.commit()
        conn.close()
    db, upgraded = copies
    before = db.read_bytes()
    monkeypatch.setenv("PYMESYNC_DB", str(db))
    monkeypatch.setenv("PYMESYNC_URL", "http://host/v0")
    monkeypatch.setenv("PYMESYNC_USERNAME", "alice")
    data = json.loads(run("status", "--json").stdout)
    assert db.read_bytes() == before  # still at 0001: status never migrates
    # (the sample's inflight operation has a lease that ran out long ago: nobody is
    # sending it, so it counts as pending)
    assert data["pending"] == 2 and data["inflight"] == 0 and data["failed"] == 1
    with TimeSync.resume("http://host/v0", "alice", raise_errors=True, db=upgraded) as ts:
        expected = ts.status()
    assert without_age(data) == without_age(expected) | {
        "logged_in": False,
        "token_expires": None,
        "token_expired": None,
        "store": str(db),
    }
