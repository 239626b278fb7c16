"""pymesync benchmarks: ``.venv/bin/python tests/benchmarks/run.py [--quick] [--only NAME]``.

Not collected by pytest (no ``test_`` names). Prints one table: each figure, its target,
and where there is one, the baseline measured side by side in the same run and the
ratio. Timings are medians over many calls (these machines are noisy: read the ratios).
The emulator runs in a separate process wherever client CPU or memory is measured.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pymesync
from pymesync.testing import run_emulator, run_emulator_process

HERE = Path(__file__).resolve().parent
YESTERDAY = (dt.datetime.now(dt.timezone.utc).date() - dt.timedelta(days=1)).isoformat()


@dataclass
class Figure:
    """One measured figure."""

    name: str
    value: float
    unit: str
    target: str
    ok: bool
    baseline: float | None = None
    baseline_name: str = ""
    higher_is_better: bool = False
    note: str = ""

    def ratio(self) -> float | None:
        if self.baseline is None or not self.value:
            return None
        return self.value / self.baseline if self.higher_is_better else self.baseline / self.value


def median_ms(call: Callable[[int], Any], rounds: int) -> float:
    samples = []
    for i in range(rounds):
        start = time.perf_counter()
        call(i)
        samples.append((time.perf_counter() - start) * 1000)
    return statistics.median(samples)


def a_time(i: int, user: str = "alice", project: str = "gwm") -> dict[str, Any]:
    return {
        "duration": 60 + i % 1000,
        "project": project,
        "user": user,
        "date_worked": YESTERDAY,
        "activities": ["dev"],
        "notes": f"bench {i}",
    }


@contextmanager
def workdir() -> Iterator[Path]:
    with tempfile.TemporaryDirectory() as tmp:
        yield Path(tmp)


def login(url: str, user: str = "alice", **options: Any) -> pymesync.TimeSync:
    ts = pymesync.TimeSync(url, **options)
    answer = ts.authenticate(user, user if user != "admin" else "admin", "password")
    assert "token" in answer, answer
    return ts


# ---------------------------------------------------------------- 1. durable writes


def offline_writes(args: argparse.Namespace, tmp: Path) -> list[Figure]:
    rounds = 100 if args.quick else 300
    with run_emulator(seed_data=True) as emu:
        queued = login(emu.base_url, mode="queue", db=tmp / "writes.sqlite3")
        queued.create_time(a_time(-1))  # open and migrate outside the timing
        direct = login(emu.base_url, mode="direct")
        direct_ms = median_ms(lambda i: direct.create_time(a_time(i)), rounds)
        queued_ms = median_ms(lambda i: queued.create_time(a_time(i)), rounds)
        figures = [
            Figure(
                "durable offline create_time (median)",
                queued_ms,
                "ms",
                "<= 1 ms",
                queued_ms <= 1.0,
                direct_ms,
                "old-style direct create_time, emulator on loopback",
            )
        ]
        count = 2000 if args.quick else 20000
        batch_db = tmp / "batch.sqlite3"
        bulk = login(emu.base_url, mode="queue", db=batch_db)
        bulk.create_time(a_time(-1))
        start = time.perf_counter()
        with bulk.batch() as batch:
            for i in range(count):
                batch.create_time(a_time(i))
        rate = count / (time.perf_counter() - start)
        single = 1000 / queued_ms
        figures.append(
            Figure(
                "batch create_time (one transaction)",
                rate,
                "op/s",
                ">= 20000/s",
                rate >= 20000,
                single,
                "one create_time per call",
                higher_is_better=True,
            )
        )
    return figures


# ---------------------------------------------------------------- 2. cached reads


def _fill_emulator(emu: Any, users: int, per_user: int) -> None:
    from pymesync.testing.state import Time, User

    with emu.lock:
        store = emu.store
        gwm = store.project_by_slug("gwm")
        dev = store.activity_by_slug("dev")
        day0 = dt.date.today() - dt.timedelta(days=400)
        for u in range(users):
            name = f"u{u}"
            store.users[name] = User(name, "x", created_at_ms=0)
            for i in range(per_user):
                key = str(uuid.uuid4())
                store.times[key] = [
                    Time(
                        key,
                        1,
                        name,
                        60 + i,
                        gwm.uuid,
                        [dev.uuid],
                        f"n{i}",
                        None,
                        (day0 + dt.timedelta(days=i % 365)).isoformat(),
                        day0.isoformat(),
                    )
                ]


def cached_reads(args: argparse.Namespace, tmp: Path) -> list[Figure]:
    users, per_user = (20, 500) if args.quick else (100, 500)
    rounds = 30 if args.quick else 100
    with run_emulator(seed_data=True) as emu:
        _fill_emulator(emu, users, per_user)
        cached = login(emu.base_url, "admin", db=tmp / "reads.sqlite3", max_age=10**9)
        assert len(cached.get_times()) >= users * per_user  # one full fetch fills the cache
        direct = login(emu.base_url, "admin", mode="direct")
        query = {"user": "u7"}
        assert len(cached.get_times(query)) == per_user
        assert cached.last_read is not None and cached.last_read.source == "cache"
        server_ms = median_ms(lambda i: direct.get_times(query), rounds)
        cache_ms = median_ms(lambda i: cached.get_times(query), rounds)
    total = users * per_user
    return [
        Figure(
            f"cached get_times: {per_user} of {total} (median)",
            cache_ms,
            "ms",
            "<= 5 ms, >= 2x",
            cache_ms <= 5.0 and server_ms / cache_ms >= 2,
            server_ms,
            "same query answered by the emulator",
        )
    ]


def big_cache(args: argparse.Namespace, tmp: Path) -> list[Figure]:
    """get_times from a cache of 1,000,000 times (filled straight into the store)."""
    from pymesync.store import Store

    total = 100_000 if args.quick else 1_000_000
    db = tmp / "big.sqlite3"
    with run_emulator(seed_data=True) as emu:
        ts = login(emu.base_url, "admin", db=db, max_age=10**9)
        ts.get_times()
        account = ts._account()
        store = Store.open(db)
        day0 = dt.date.today() - dt.timedelta(days=400)

        def objects() -> Iterator[dict[str, Any]]:
            for n in range(total):
                yield {
                    "uuid": str(uuid.uuid4()),
                    "revision": 1,
                    "user": f"u{n % 2000}",
                    "duration": 60,
                    "project": ["ganeti-webmgr", "gwm"],
                    "activities": ["dev"],
                    "notes": f"n{n}",
                    "issue_uri": None,
                    "date_worked": (day0 + dt.timedelta(days=n % 365)).isoformat(),
                    "created_at": day0.isoformat(),
                    "updated_at": None,
                    "deleted_at": None,
                }

        start = time.perf_counter()
        store.put_objects(account, "time", objects())
        load = time.perf_counter() - start
        store.close()
        query = {"user": "u7"}
        found = len(ts.get_times(query))
        cache_ms = median_ms(lambda i: ts.get_times(query), 30)
    size = db.stat().st_size / 2**20
    return [
        Figure(
            f"cached get_times: {found} of {total} (median)",
            cache_ms,
            "ms",
            "<= 20 ms",
            cache_ms <= 20.0,
            note=f"database {size:.0f} MiB; loaded {total / load:.0f} objects/s",
        )
    ]


# ---------------------------------------------------------------- 3-4. sync


def _queue(url: str, db: Path, count: int) -> pymesync.TimeSync:
    ts = login(url, mode="queue", db=db)
    ts.get_projects()  # the project is cached, as after any normal use
    with ts.batch() as batch:
        for i in range(count):
            batch.create_time(a_time(i))
    return ts


def sync_throughput(args: argparse.Namespace, tmp: Path) -> list[Figure]:
    count = 300 if args.quick else 2000
    baseline_count = 50 if args.quick else 200
    with run_emulator_process(seed_data=True) as emu:
        emu.add_latency(0.020)
        one = _queue(emu.base_url, tmp / "one.sqlite3", baseline_count)
        one._queue().concurrency = 1
        start = time.perf_counter()
        report = one.sync()
        assert report.synced == baseline_count, report.as_dict()
        sequential = baseline_count / (time.perf_counter() - start)
        many = _queue(emu.base_url, tmp / "many.sqlite3", count)
        start = time.perf_counter()
        report = many.sync()
        assert report.synced == count, report.as_dict()
        concurrent = count / (time.perf_counter() - start)
    default = many._queue().concurrency
    return [
        Figure(
            f"sync {count} creates, 20 ms latency, concurrency {default}",
            concurrent,
            "op/s",
            ">= 8x",
            concurrent / sequential >= 8,
            sequential,
            f"one at a time ({baseline_count} ops)",
            higher_is_better=True,
        )
    ]


def client_overhead(args: argparse.Namespace, tmp: Path) -> list[Figure]:
    count = 300 if args.quick else 2000
    with run_emulator_process(seed_data=True) as emu:
        ts = _queue(emu.base_url, tmp / "cpu.sqlite3", count)
        cpu = time.process_time()
        wall = time.perf_counter()
        report = ts.sync()
        cpu = time.process_time() - cpu
        wall = time.perf_counter() - wall
        assert report.synced == count
    per_op = cpu / count * 1000
    return [
        Figure(
            "client CPU per pushed operation",
            per_op,
            "ms",
            "<= 1.5 ms",
            per_op <= 1.5,
            note=f"{count / wall:.0f} op/s wall, emulator in another process",
        )
    ]


# ---------------------------------------------------------------- 5. memory


def _drain_rss(url: str, db: Path, count: int) -> float:
    # VmHWM, not ru_maxrss: on Linux ru_maxrss carries the parent's peak across exec
    code = (
        "import sys, pymesync\n"
        "ts = pymesync.TimeSync.resume(sys.argv[1], 'alice', mode='queue', db=sys.argv[2])\n"
        "r = ts.sync()\n"
        "assert ts.status()['pending'] == 0, ts.status()\n"
        "hwm = [l for l in open('/proc/self/status') if l.startswith('VmHWM')][0]\n"
        "print(int(hwm.split()[1]))\n"
    )
    _queue(url, db, count)
    done = subprocess.run(
        [sys.executable, "-c", code, url, str(db)],
        capture_output=True,
        text=True,
        check=True,
        timeout=3600,
    )
    return int(done.stdout.strip().splitlines()[-1]) / 1024


def memory(args: argparse.Namespace, tmp: Path) -> list[Figure]:
    small, big = (2000, 20000) if args.quick else (10000, 100000)
    with run_emulator_process(seed_data=True) as emu:
        small_mb = _drain_rss(emu.base_url, tmp / "small.sqlite3", small)
        big_mb = _drain_rss(emu.base_url, tmp / "big.sqlite3", big)
    ok = big_mb < 150 and big_mb <= small_mb * 1.2
    return [
        Figure(
            f"peak RSS draining {big} queued ops",
            big_mb,
            "MB",
            "< 150, <= +20%",
            ok,
            small_mb,
            f"peak RSS draining {small}",
        )
    ]


# ---------------------------------------------------------------- 6. start-up


def startup(args: argparse.Namespace, tmp: Path) -> list[Figure]:
    rounds = 5 if args.quick else 15
    env = {
        **os.environ,
        "PYMESYNC_DB": str(tmp / "startup.sqlite3"),
        "PYMESYNC_URL": "http://127.0.0.1:9/v0",
        "PYMESYNC_USERNAME": "alice",
        "PYMESYNC_CONFIG": str(tmp / "config.toml"),
    }
    exe = Path(sys.executable).parent / "pymesync"

    def run(cmd: list[str]) -> float:
        samples = []
        for _ in range(rounds):
            start = time.perf_counter()
            subprocess.run(cmd, env=env, capture_output=True, check=False)
            samples.append((time.perf_counter() - start) * 1000)
        return statistics.median(samples)

    subprocess.run([str(exe), "migrate"], env=env, capture_output=True, check=False)
    bare = run([sys.executable, "-c", "pass"])
    imported = run([sys.executable, "-c", "import pymesync"])
    status = run([str(exe), "status"])
    return [
        Figure(
            "import pymesync (median wall)",
            imported,
            "ms",
            "<= 150 ms",
            imported <= 150,
            bare,
            "python -c pass",
        ),
        Figure(
            "pymesync status (median wall)",
            status,
            "ms",
            "<= 300 ms",
            status <= 300,
            bare,
            "python -c pass",
        ),
    ]


BENCHES: dict[str, Callable[[argparse.Namespace, Path], list[Figure]]] = {
    "writes": offline_writes,
    "reads": cached_reads,
    "bigcache": big_cache,
    "sync": sync_throughput,
    "cpu": client_overhead,
    "memory": memory,
    "startup": startup,
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="smaller sizes (a smoke run)")
    parser.add_argument("--only", action="append", choices=sorted(BENCHES))
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args()
    figures: list[Figure] = []
    for name in args.only or list(BENCHES):
        with workdir() as tmp:
            os.environ["PYMESYNC_DB"] = str(tmp / "default.sqlite3")
            started = time.perf_counter()
            figures += BENCHES[name](args, tmp)
            print(f"[{name}: {time.perf_counter() - started:.0f} s]", file=sys.stderr)
    print(
        f"pymesync benchmarks, {platform.machine()} {platform.system()}, {os.cpu_count()} "
        f"CPUs, Python {platform.python_version()}, {dt.date.today()}"
    )
    header = f"{'figure':52} {'measured':>13} {'target':>15} {'baseline':>13} {'ratio':>7}  ok"
    print(header)
    print("-" * len(header))
    for f in figures:
        base = "" if f.baseline is None else f"{f.baseline:.2f} {f.unit}"
        ratio = f.ratio()
        shown = "" if ratio is None else f"{ratio:.1f}x"
        print(
            f"{f.name:52} {f.value:10.2f} {f.unit:>4} {f.target:>15} {base:>13} {shown:>7}  "
            f"{'yes' if f.ok else 'NO'}"
        )
        if f.baseline_name:
            print(f"{'':52}   baseline: {f.baseline_name}")
        if f.note:
            print(f"{'':52}   {f.note}")
    if args.json:
        args.json.write_text(json.dumps([f.__dict__ for f in figures], indent=2))
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"(benchmark process peak RSS {rss:.0f} MB)")
    return 0 if all(f.ok for f in figures) else 1


if __name__ == "__main__":
    sys.exit(main())
