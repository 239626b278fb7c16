"""The library's import API: ``TimeSync.import_batch()`` keeps each entry's import key
in the same transaction as its queued create, ``imported()`` finds them again, and a
key imported meanwhile by another client is skipped."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest

import pymesync
from pymesync.errors import ValidationError


def entry(i: int) -> dict[str, Any]:
    return {
        "duration": 600 + i,
        "project": "gwm",
        "user": "alice",
        "date_worked": "2026-11-30",
        "activities": ["dev"],
    }


def client(db: Path) -> pymesync.TimeSync:
    """alice, never logged in (queue only): nothing is sent."""
    return pymesync.TimeSync.resume(
        "http://127.0.0.1:9/v0", "alice", db=db, mode="queue", raise_errors=True
    )


def test_keys_are_kept_with_the_entries_and_found_again(tmp_path: Path) -> None:
    ts = client(tmp_path / "db.sqlite3")
    assert ts.imported(["csv:a:1"]) == {}
    with ts.import_batch() as keys:
        first = ts.create_time(entry(1))
        keys.record("csv:a:1", first["uuid"])
        second = ts.create_time(entry(2))
        keys.record("csv:b:1", second["uuid"])
    assert keys.taken == {}
    assert ts.imported(["csv:a:1", "csv:b:1", "csv:c:1"]) == {
        "csv:a:1": first["uuid"],
        "csv:b:1": second["uuid"],
    }
    assert ts.status()["pending"] == 2


def test_a_key_imported_meanwhile_elsewhere_is_skipped(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite3"
    one, two = client(path), client(path)
    assert one.imported(["w:x:1"]) == two.imported(["w:x:1"]) == {}  # both look first
    with one.import_batch() as keys:
        kept = one.create_time(entry(1))
        keys.record("w:x:1", kept["uuid"])
    with two.import_batch() as late:
        twice = two.create_time(entry(1))
        late.record("w:x:1", twice["uuid"])
        other = two.create_time(entry(2))
        late.record("w:y:1", other["uuid"])
    assert late.taken == {"w:x:1": kept["uuid"]}
    db = sqlite3.connect(path)
    try:
        targets = [r[0] for r in db.execute("SELECT target FROM operations ORDER BY id")]
    finally:
        db.close()
    assert targets == [kept["uuid"], other["uuid"]]


def test_an_error_inside_the_block_queues_nothing(tmp_path: Path) -> None:
    ts = client(tmp_path / "db.sqlite3")
    with pytest.raises(ValidationError, match="recorded twice"), ts.import_batch() as keys:
        made = ts.create_time(entry(1))
        keys.record("k", made["uuid"])
        keys.record("k", made["uuid"])
    with pytest.raises(ValidationError, match="import key"), ts.import_batch() as keys:
        keys.record("", "x")
    assert ts.imported(["k"]) == {} and ts.status()["pending"] == 0


def test_not_in_direct_mode_nor_inside_a_batch(tmp_path: Path) -> None:
    direct = pymesync.TimeSync("http://127.0.0.1:9/v0", token="t", mode="direct")
    assert direct.imported(["k"]) == {}
    with pytest.raises(ValidationError, match="no queue"), direct.import_batch():
        pass
    ts = client(tmp_path / "db.sqlite3")
    with pytest.raises(ValidationError, match="inside batch"), ts.batch(), ts.import_batch():
        pass
