"""Optional SQLite persistence: the whole store is written as one JSON snapshot per commit.

Tokens are never written, so a new process on the same file starts with no valid tokens,
like a restarted real server.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from typing import Any

SCHEMA_VERSION = 1
"""Format version of the stored snapshot."""


class SnapshotFile:
    """A SQLite file holding the latest store snapshot."""

    def __init__(self, path: str) -> None:
        """Open (creating if needed) the database at ``path``."""
        self.path = path
        self._lock = threading.Lock()
        self._conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._conn.execute(
            "CREATE TABLE IF NOT EXISTS emulator_state ("
            "id INTEGER PRIMARY KEY CHECK (id = 1), version INTEGER NOT NULL, data TEXT NOT NULL)"
        )

    def load(self) -> dict[str, Any] | None:
        """The stored snapshot, or None for a new file."""
        with self._lock:
            row = self._conn.execute(
                "SELECT version, data FROM emulator_state WHERE id = 1"
            ).fetchone()
        if row is None:
            return None
        if row[0] != SCHEMA_VERSION:
            raise RuntimeError(f"{self.path}: unsupported emulator state version {row[0]}")
        data = json.loads(row[1])
        if not isinstance(data, dict):
            raise RuntimeError(f"{self.path}: corrupt emulator state")
        return data

    def save(self, data: dict[str, Any]) -> None:
        """Replace the stored snapshot atomically."""
        text = json.dumps(data, separators=(",", ":"))
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                self._conn.execute(
                    "INSERT OR REPLACE INTO emulator_state (id, version, data) VALUES (1, ?, ?)",
                    (SCHEMA_VERSION, text),
                )
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    def close(self) -> None:
        """Close the database connection."""
        with self._lock:
            self._conn.close()
