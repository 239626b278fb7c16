"""How long the acks hold an account's lock on PostgreSQL, from the server's own log.

``.venv/bin/python tests/benchmarks/pg_ack_lock.py [DAEMONS] [CONCURRENCY] [COUNT]``
(defaults 1 16 600): one drain of ``run.py --only pg_drain`` (same set-up: emulator
process, 20 ms proxy, daemon processes, the server checked for each time exactly once)
with ``log_min_duration_statement = 0``, so that the server logs every statement with
its end time and duration. From the log: each ack transaction's hold of the account
lock (from its ``pg_advisory_xact_lock`` to its ``COMMIT``) and the operations it acked
(its ``DELETE FROM operations``), the time spent waiting for that lock, and the
statements per operation by kind. Logging every statement costs time itself: the drain
rate printed here is not a benchmark figure (``run.py`` measures that).
"""

from __future__ import annotations

import collections
import datetime as dt
import re
import sys
import tempfile
import time
from pathlib import Path

from latency_proxy import latency_proxy  # tests/benchmarks/, next to this script
from run import SYNC_LATENCY, _drain, _postgres

from pymesync.store import Store
from pymesync.testing import run_emulator_process

_LINE = re.compile(
    r"^(\S+ \S+) \S+ (\d+) LOG:  duration: ([\d.]+) ms  (?:statement|execute [^:]*): (.*)$",
    re.M,
)


def main() -> int:
    daemons, concurrency, count = (
        int(a) for a in (sys.argv[1:] + ["1", "16", "600"][len(sys.argv) - 1 :])
    )
    with (
        tempfile.TemporaryDirectory() as folder,
        _postgres("pg_ack_lock") as pg,
        run_emulator_process(seed_data=True) as emu,
        latency_proxy("127.0.0.1", emu.port, SYNC_LATENCY) as url,
    ):
        if pg is None:
            return 1
        logs = Path(folder)
        pg.create_database("template_ack")
        Store.open(pg.url("template_ack")).close()
        db = pg.new_database("ack", template="template_ack")
        with pg.connect(autocommit=True) as conn:
            conn.execute("ALTER SYSTEM SET log_min_duration_statement = 0")
            conn.execute("ALTER SYSTEM SET log_line_prefix = '%m %p '")
            conn.execute("SELECT pg_reload_conf()")
        time.sleep(0.5)
        offset = pg.log_path.stat().st_size
        drain = _drain(emu, url, db, "postgresql", daemons, concurrency, count, logs, pg)
        text = pg.log_path.read_text(errors="replace")[offset:]
    print(
        f"{daemons} daemon(s), concurrency {concurrency}, {count} creates: {drain.rate:.0f} op/s"
        f" (every statement logged), drained in {drain.wall:.2f} s; each time on the server"
        " exactly once"
    )
    holding: dict[str, list[float]] = {}
    held: list[tuple[float, int]] = []
    waited = 0.0
    kinds: collections.Counter[str] = collections.Counter()
    for match in _LINE.finditer(text):
        ended = dt.datetime.strptime(match.group(1), "%Y-%m-%d %H:%M:%S.%f").timestamp()
        pid, took, sql = match.group(2), float(match.group(3)), match.group(4)
        kinds[re.sub(r"\s+", " ", sql)[:80]] += 1
        if sql.startswith("SELECT pg_advisory_xact_lock"):
            holding[pid] = [ended, 0]
            waited += took
        elif sql.startswith("DELETE FROM operations") and pid in holding:
            holding[pid][1] += 1
        elif sql.startswith(("COMMIT", "ROLLBACK")) and pid in holding:
            start, acked = holding.pop(pid)
            held.append((ended - start, int(acked)))
    acks = [(t, n) for t, n in held if n]
    ops = sum(n for _, n in acks)
    hold = sum(t for t, _ in acks)
    if not ops:
        print("no ack transaction found in the log")
        return 1
    print(
        f"ack transactions {len(acks)}, operations acked {ops}; the account lock held by"
        f" them {hold * 1000:.0f} ms in all ({hold / drain.wall:.0%} of the drain) ="
        f" {hold / ops * 1000:.2f} ms per acked operation -> at most {ops / hold:.0f}"
        f" acks/s per account; time spent waiting for the lock, all connections:"
        f" {waited:.0f} ms"
    )
    print(f"statements per operation (set-up included): {sum(kinds.values()) / count:.1f}")
    for sql, n in kinds.most_common(15):
        print(f"  {n / count:5.2f}  {sql}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
