"""Hypothesis state machine: random creates (some of them identical entries), updates,
deletes, poison operations, outages, lost responses, answers slower than the client's
timeout and server restarts; after a final sync the server holds exactly what a simple
model says, whatever happened in between, and only the poison operations failed."""

from __future__ import annotations

import datetime as dt
import itertools
import tempfile
import time
from pathlib import Path
from typing import Any, ClassVar

import pytest
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
from pymesync.store import NewOperation, Store
from pymesync.testing import run_emulator

YESTERDAY = (dt.datetime.now(dt.timezone.utc).date() - dt.timedelta(days=1)).isoformat()
_run = itertools.count()


class SyncMachine(RuleBasedStateMachine):
    """The model: local id -> the notes the server must end with (None once deleted)."""

    entries = Bundle("entries")
    #: The tests' PostgreSQL server (PostgresSyncMachine), set by a fixture below.
    server: ClassVar[Any] = None

    def __init__(self) -> None:
        super().__init__()
        self._emulator = run_emulator(seed_data=True)
        self.emu = self._emulator.__enter__()
        self.tmp = tempfile.TemporaryDirectory()
        self.model: dict[str, str | None] = {}
        self.poisons: set[str] = set()
        self.run = next(_run)
        self.serial = itertools.count()
        self.store_url = ""  # (PostgresSyncMachine: this example's database)

    @initialize(mode=st.sampled_from(["auto", "queue"]), projects_cached=st.booleans())
    def login(self, mode: str, projects_cached: bool) -> None:
        self.ts = pymesync.TimeSync(
            self.emu.base_url,
            mode=mode,  # type: ignore[arg-type]
            db=self.new_store(),
            timeout=0.5,
            offline_retry=0,
        )
        assert "token" in self.ts.authenticate("alice", "alice", "password")
        if projects_cached:  # creates of times then take the sync's fast lane
            assert self.ts.get_projects()

    def new_store(self) -> str | Path:
        """Where this example's client keeps its store: a new SQLite file."""
        return Path(self.tmp.name) / "db.sqlite3"

    def store_again(self) -> str | Path | None:
        """What ``Store.open`` takes to open the client's store a second time."""
        return self.ts.store_path or self.store_url

    def _notes(self) -> str:
        return f"sm{self.run}-{next(self.serial)}"

    @rule(target=entries, identical=st.booleans())
    def create(self, identical: bool) -> str:
        # identical entries: the same payload every time ("1h standup" every day)
        notes = f"sm{self.run}-standup" if identical else self._notes()
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

    @rule()
    def poison(self) -> None:
        """A queued create the server refuses for good (a list where a slug belongs),
        put straight into the store: it must fail alone."""
        assert self.ts.account is not None and self.ts.store_location is not None
        op = NewOperation(
            self.ts.account,
            "create",
            "time",
            f"poison-{self.run}-{next(self.serial)}",
            {
                "duration": 60,
                "project": ["gwm", "ts"],
                "user": "alice",
                "date_worked": YESTERDAY,
                "notes": self._notes(),
            },
        )
        with Store.open(self.store_again()) as store:
            store.enqueue(op)
        self.poisons.add(op.op_id)

    @rule(n=st.integers(1, 2))
    def slow_commits(self, n: int) -> None:
        """The next writes are committed only after the client's timeout (0.5 s)."""
        self.emu.add_latency(0.8, route="POST /times", n=n)

    @rule(n=st.integers(1, 2))
    def slow_answers(self, n: int) -> None:
        """The next writes are committed but answered after the client's timeout."""
        self.emu.add_fault("slow_answer", n=n, seconds=0.8)

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
    def only_poison_failed(self) -> None:
        if hasattr(self, "ts"):
            failed = {op["op_id"] for op in self.ts.failed()}
            assert failed <= self.poisons, self.ts.failed()

    def teardown(self) -> None:
        try:
            if hasattr(self, "ts"):
                self.emu.clear_faults()
                self._discard_poisons()
                assert self.ts.wait_synced(timeout=30), self.ts.status()
                self._check_server()
        finally:
            if hasattr(self, "ts"):
                self.ts.close()
            self._emulator.__exit__(None, None, None)
            self.tmp.cleanup()
            if self.store_url:
                assert self.server is not None
                self.server.drop_database(self.store_url.rsplit("/", 1)[1])

    def _discard_poisons(self) -> None:
        """Each poison operation ends failed (refused by the server): then it goes."""
        ends = time.monotonic() + 30
        left = set(self.poisons)
        while left and time.monotonic() < ends:
            failed = {op["op_id"] for op in self.ts.failed() if op["state"] == "failed"}
            with Store.open(self.store_again()) as store:
                gone = {op_id for op_id in left if store.get_operation(op_id) is None}
            for op_id in left & failed:
                self.ts.discard(op_id)
            left -= failed | gone
            if left:
                self.ts.sync()
                time.sleep(0.1)
        assert not left, left

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


class PostgresSyncMachine(SyncMachine):
    """The same machine on a store on PostgreSQL: a new database per example."""

    def new_store(self) -> str | Path:
        """A new database of the tests' PostgreSQL server (dropped at teardown)."""
        assert self.server is not None
        self.store_url = str(self.server.new_database())
        return self.store_url


PostgresSyncMachine.TestCase.settings = SyncMachine.TestCase.settings
TestPostgresSyncMachine = PostgresSyncMachine.TestCase


@pytest.fixture(autouse=True)
def _postgres_for_the_machine(request: pytest.FixtureRequest) -> None:
    """Hand the tests' PostgreSQL server to the machine that needs it (skipped, or
    failed under PYMESYNC_REQUIRE_POSTGRES, like every test on it, without one)."""
    if request.cls is TestPostgresSyncMachine:
        SyncMachine.server = request.getfixturevalue("postgres_server")
