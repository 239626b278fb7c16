"""Hypothesis state machine: random creates, updates, deletes, outages, lost responses
and server restarts; after a final sync the server holds exactly what a simple model
says, whatever happened in between."""

from __future__ import annotations

import datetime as dt
import itertools
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    consumes,
    initialize,
    invariant,
    rule,
)

import pymesync
from pymesync.testing import run_emulator

YESTERDAY = (dt.datetime.now(dt.timezone.utc).date() - dt.timedelta(days=1)).isoformat()
_run = itertools.count()


class SyncMachine(RuleBasedStateMachine):
    """The model: local id -> the notes the server must end with (None once deleted)."""

    entries = Bundle("entries")

    def __init__(self) -> None:
        super().__init__()
        self._emulator = run_emulator(seed_data=True)
        self.emu = self._emulator.__enter__()
        self.tmp = tempfile.TemporaryDirectory()
        self.model: dict[str, str | None] = {}
        self.run = next(_run)
        self.serial = itertools.count()

    @initialize(mode=st.sampled_from(["auto", "queue"]), projects_cached=st.booleans())
    def login(self, mode: str, projects_cached: bool) -> None:
        self.ts = pymesync.TimeSync(
            self.emu.base_url,
            mode=mode,  # type: ignore[arg-type]
            db=Path(self.tmp.name) / "db.sqlite3",
        )
        assert "token" in self.ts.authenticate("alice", "alice", "password")
        self.ts._queue().offline_retry = 0
        if projects_cached:  # creates of times then take the sync's fast lane
            assert self.ts.get_projects()

    def _notes(self) -> str:
        return f"sm{self.run}-{next(self.serial)}"

    @rule(target=entries)
    def create(self) -> str:
        notes = self._notes()
        made = self.ts.create_time(
            {
                "duration": 60,
                "project": "gwm",
                "user": "alice",
                "date_worked": YESTERDAY,
                "notes": notes,
            }
        )
        assert "uuid" in made, made
        self.model[made["uuid"]] = notes
        return str(made["uuid"])

    @rule(entry=entries)
    def update(self, entry: str) -> None:
        if self.model.get(entry) is None:
            return
        notes = self._notes()
        answer = self.ts.update_time({"notes": notes}, entry)
        assert answer.get("notes") == notes, answer
        self.model[entry] = notes

    @rule(entry=consumes(entries))
    def delete(self, entry: str) -> None:
        if self.model.get(entry) is None:
            return
        assert self.ts.delete_time(entry) == {"status": 200}
        self.model[entry] = None

    @rule(n=st.integers(1, 3))
    def outage(self, n: int) -> None:
        self.emu.fail_next(n, status=503)

    @rule(n=st.integers(1, 2))
    def lose_responses(self, n: int) -> None:
        self.emu.lose_response_next(n)

    @rule()
    def restart_server(self) -> None:
        self.emu.restart()

    @rule()
    def sync(self) -> None:
        self.ts.sync()

    @invariant()
    def nothing_failed(self) -> None:
        if hasattr(self, "ts"):
            assert self.ts.status()["failed"] == 0, self.ts.failed()

    def teardown(self) -> None:
        try:
            if hasattr(self, "ts"):
                self.emu.clear_faults()
                assert self.ts.wait_synced(timeout=30), self.ts.status()
                self._check_server()
        finally:
            self._emulator.__exit__(None, None, None)
            self.tmp.cleanup()

    def _check_server(self) -> None:
        admin = pymesync.TimeSync(self.emu.base_url, mode="direct")
        admin.authenticate("admin", "admin", "password")
        mine = [
            t
            for t in admin.get_times({"user": "alice"})
            if str(t.get("notes", "")).startswith(f"sm{self.run}-")
        ]
        expected = sorted(n for n in self.model.values() if n is not None)
        assert sorted(t["notes"] for t in mine) == expected


SyncMachine.TestCase.settings = settings(
    max_examples=25,
    stateful_step_count=15,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
TestSyncMachine = SyncMachine.TestCase
