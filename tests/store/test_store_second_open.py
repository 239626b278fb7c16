"""A second ``Store.open`` of the same file in one process must not cost the first
Store its locks: closing any file descriptor of the database drops every POSIX lock
the process holds on it, and another process closing its own store then resets the
write-ahead log under the first Store's pooled connections, whose reads go stale."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from pymesync.store import NewOperation, Store


@pytest.mark.parametrize("pooled", [True, False])
def test_a_second_open_in_the_same_process_keeps_the_first_stores_view(
    tmp_path: Path, pooled: bool
) -> None:
    path = tmp_path / "s.sqlite3"
    with Store.open(path, pooled=pooled) as first:
        for i in range(3):
            first.enqueue(NewOperation("acct", "create", "time", f"t{i}", {"notes": "x"}))
        assert first.counts("acct")["pending"] == 3
        with Store.open(path) as second:  # (TimeSync.resume next to a long-lived client)
            assert second.counts("acct")["pending"] == 3
        child = (
            "import sys\n"
            "from pymesync.store import Store\n"
            "with Store.open(sys.argv[1]) as store:\n"
            "    for op in store.operations('acct'):\n"
            "        store.discard(op.op_id)\n"
        )
        subprocess.run([sys.executable, "-c", child, str(path)], check=True, timeout=60)
        assert first.counts("acct")["pending"] == 0
