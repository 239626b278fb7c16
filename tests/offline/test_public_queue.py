"""The public queue surface of ``TimeSync`` (``account``, ``store_path``,
``sync_worker()``, the ``lease_seconds`` and ``offline_retry`` options), the one owner
of account identity (:mod:`pymesync.accounts`), and ``sync()`` of a client resumed
without a token: a report saying ``needs_login``, never an exception."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import pymesync
from pymesync import accounts
from pymesync.errors import NotAuthenticatedError, ValidationError
from pymesync.store import Store
from pymesync.testing import run_emulator

YESTERDAY = (dt.datetime.now(dt.timezone.utc).date() - dt.timedelta(days=1)).isoformat()


@pytest.fixture
def emu() -> Iterator[Any]:
    with run_emulator(seed_data=True) as emulator:
        yield emulator


@pytest.fixture(autouse=True)
def no_credentials_in_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("PYMESYNC_USERNAME", "PYMESYNC_PASSWORD", "PYMESYNC_PASSWORD_COMMAND"):
        monkeypatch.delenv(name, raising=False)


def a_time(notes: str) -> dict[str, Any]:
    return {
        "duration": 600,
        "project": "gwm",
        "user": "alice",
        "date_worked": YESTERDAY,
        "notes": notes,
    }


def notes_on_server(emu: Any) -> list[str]:
    admin = pymesync.TimeSync(emu.base_url, mode="direct")
    admin.authenticate("admin", "admin", "password")
    return [str(t.get("notes")) for t in admin.get_times({"user": "alice"})]


# ---------------------------------------------------------------- sync() without a token


def test_sync_of_a_resumed_client_without_a_token_reports_needs_login(
    emu: Any, private_store: Path
) -> None:
    with pymesync.TimeSync.resume(emu.base_url, "alice", mode="queue") as ts:
        assert ts.token is None
        assert ts.sync().as_dict()["stopped"] is None  # nothing queued: nothing needed
        made = ts.create_time(a_time("queued before any login"))
        report = ts.sync()
        assert report.stopped == "needs_login" and report.synced == 0
        assert [r.outcome for r in report.results] == ["needs_login"]
        status = ts.status()
        assert status["pending"] == 1 and status["needs_login"] is True
        assert ts.sync_status("time", made["uuid"])["state"] == "pending"
        assert ts.wait_synced(timeout=5) is False
    assert "queued before any login" not in notes_on_server(emu)


def test_sync_of_a_resumed_client_uses_a_login_made_elsewhere_meanwhile(
    emu: Any, private_store: Path
) -> None:
    with pymesync.TimeSync.resume(emu.base_url, "alice", mode="queue") as ts:
        ts.create_time(a_time("sent after a login elsewhere"))
        with pymesync.TimeSync(emu.base_url, mode="queue") as elsewhere:
            assert "token" in elsewhere.authenticate("alice", "alice", "password")
        assert ts.sync().synced == 1
        assert ts.status()["needs_login"] is False
    assert "sent after a login elsewhere" in notes_on_server(emu)


def test_sync_of_a_resumed_client_logs_in_with_the_environments_credentials(
    emu: Any, private_store: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PYMESYNC_PASSWORD", "alice")
    with pymesync.TimeSync.resume(emu.base_url, "alice", mode="queue") as ts:
        ts.create_time(a_time("sent after an automatic login"))
        assert ts.sync().synced == 1
        assert ts.token  # the new token is the client's now
    assert "sent after an automatic login" in notes_on_server(emu)


def test_sync_of_a_client_made_without_a_token_still_raises(emu: Any) -> None:
    with pymesync.TimeSync(emu.base_url, mode="queue") as ts:
        with pytest.raises(NotAuthenticatedError):
            ts.sync()
        with pytest.raises(NotAuthenticatedError):
            ts.wait_synced(timeout=1)


# ---------------------------------------------------------------- account identity


def test_account_names_the_tokens_user_else_the_resumed_one(emu: Any) -> None:
    base = emu.base_url
    with pymesync.TimeSync(base + "/", mode="queue") as ts:
        assert ts.account is None
        ts.authenticate("alice", "alice", "password")
        assert ts.account == f"{base}|alice"
        assert ts.status()["account"] == {"base_url": base, "username": "alice"}
        ts.logout()
    with pymesync.TimeSync.resume(base, "bob", mode="queue") as bob:
        assert bob.token is None and bob.account == f"{base}|bob"
    with pymesync.TimeSync(base, mode="direct") as direct:
        direct.authenticate("alice", "alice", "password")
        assert direct.account == f"{base}|alice"


def test_resumed_finds_what_timesync_resume_finds(emu: Any, private_store: Path) -> None:
    """``pymesync status`` reads the store without SQLAlchemy through
    ``accounts.resumed``: the same account and token as ``TimeSync.resume``."""
    with pymesync.TimeSync(emu.base_url, mode="queue") as ts:
        ts.authenticate("alice", "alice", "password")
    with Store.open() as store:  # (PYMESYNC_DB: the test's store, on either backend)
        for user in ("alice", "nobody"):
            with pymesync.TimeSync.resume(emu.base_url + "/", user, mode="queue") as resumed:
                expected = (resumed.account, resumed.token)
            assert accounts.resumed(emu.base_url + "/", user, store.load_token) == expected
    assert expected == (f"{emu.base_url}|nobody", None)


def test_account_key_of_a_token_without_a_subject_is_its_own() -> None:
    one, two = "a.bm90IGpzb24.c", "a.eyJleHAiOiAxfQ==.c"  # not JSON; JSON without "sub"
    keys = {accounts.account_key("https://h/v0", token) for token in (one, two)}
    assert len(keys) == 2 and all(k.startswith("https://h/v0|token-") for k in keys)
    assert accounts.split("https://h/v0|token-1|x") == ("https://h/v0|token-1", "x")


def test_the_accounts_module_imports_nothing_heavy() -> None:
    code = (
        "import sys, pymesync.accounts\n"
        "print(sorted(m for m in ('requests', 'sqlalchemy', 'alembic', 'bcrypt', "
        "'pymesync.store') if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


# ---------------------------------------------------------------- store_path, sync_worker


def test_store_path_is_the_stores_file_and_reading_it_creates_nothing(
    tmp_path: Path, private_store: Path, store_backend: str
) -> None:
    with pymesync.TimeSync("http://127.0.0.1:9/v0", mode="queue") as ts:
        if store_backend == "sqlite":
            assert ts.store_path == private_store and not private_store.exists()
            assert ts.store_location == str(private_store)
        else:  # (a store on PostgreSQL has no file; its URL is shown without password)
            assert ts.store_path is None
            assert ts.store_location == os.environ["PYMESYNC_DB"]  # (the tests' has none)
    url = "postgresql+psycopg://alice:s3cr3t-pw@db.invalid/pymesync"
    with pymesync.TimeSync("http://127.0.0.1:9/v0", mode="queue", db=url) as ts:
        assert ts.store_path is None  # (and nothing is opened: db.invalid is never asked)
        assert ts.store_location == "postgresql+psycopg://alice:***@db.invalid/pymesync"
    db = tmp_path / "elsewhere" / "s.sqlite3"
    with pymesync.TimeSync("http://127.0.0.1:9/v0", mode="queue", db=db) as ts:
        assert ts.store_path == db
    assert not db.parent.exists()
    for options in ({"mode": "direct"}, {"test": True}):
        with pymesync.TimeSync("http://127.0.0.1:9/v0", **options) as ts:
            assert ts.store_path is None


def test_sync_worker_runs_passes_on_this_accounts_queue(emu: Any) -> None:
    from pymesync.sync import RetryPolicy

    with pymesync.TimeSync(emu.base_url, mode="queue", lease_seconds=33.0) as ts:
        ts.authenticate("alice", "alice", "password")
        made = ts.create_time(a_time("through a worker"))
        worker = ts.sync_worker()
        assert worker.account == ts.account and worker.lease_seconds == 33.0
        assert worker.store.path == ts.store_path
        worker.sleep, worker.policy = (lambda seconds: None), RetryPolicy(base=1000, cap=1000)
        emu.fail_next(1000, status=503)
        first = worker.run_once()
        assert first.stopped == "offline" and ts.status()["next_retry"] is not None
        emu.clear_faults()
        assert worker.run_once().results == ()  # backing off: nothing due
        assert worker.expedite() == 1
        assert worker.run_once().synced == 1
        assert ts.sync_status("time", made["uuid"])["state"] == "synced"


def test_sync_worker_needs_a_queue_and_an_account(emu: Any) -> None:
    with pymesync.TimeSync(emu.base_url, mode="direct") as ts:
        ts.authenticate("alice", "alice", "password")
        with pytest.raises(ValidationError, match="no queue in direct mode"):
            ts.sync_worker()
    with pymesync.TimeSync(emu.base_url, mode="queue") as ts, pytest.raises(NotAuthenticatedError):
        ts.sync_worker()


# ---------------------------------------------------------------- constructor options


def test_offline_retry_zero_tries_the_server_on_the_next_write(emu: Any) -> None:
    for retry, tried in ((0, True), (10, False)):
        with pymesync.TimeSync(emu.base_url, offline_retry=retry) as ts:
            ts.authenticate("alice", "alice", "password")
            emu.fail_next(1000, status=503)
            down = ts.create_time(a_time(f"down, retry {retry}"))  # queued: unreachable
            emu.clear_faults()
            before = emu.request_count("POST /times")
            back = ts.create_time(a_time(f"back, retry {retry}"))
            assert (emu.request_count("POST /times") > before) is tried
            states = {ts.sync_status("time", t["uuid"])["state"] for t in (down, back)}
            assert states == ({"synced"} if tried else {"pending"})


@pytest.mark.parametrize(
    "options",
    [
        {"lease_seconds": 0},
        {"lease_seconds": -1},
        {"lease_seconds": "60"},
        {"lease_seconds": True},
        {"lease_seconds": float("nan")},
        {"offline_retry": -1},
        {"offline_retry": None},
        {"offline_retry": float("nan")},
    ],
)
def test_bad_lease_or_offline_retry_is_refused(options: dict[str, Any]) -> None:
    name = next(iter(options))
    with pytest.raises(ValueError, match=name):
        pymesync.TimeSync("http://127.0.0.1:9/v0", mode="queue", **options)
