"""Store benchmarks: ``.venv/bin/python tests/benchmarks/bench_store.py [--quick]``.

Not collected by pytest (no ``test_`` names). Measures, at the ``Store`` API:

1. one durable ``enqueue`` (a created time with its provisional object, as the offline
   facade passes it), median latency;
2. ``enqueue_many``: operations per second in one transaction;
3. ``put_objects``: cached objects per second in one transaction;
4. ``query_times`` selecting 500 of 50,000 cached times (one user among 100, one project
   among 100, a 5-day range), median end to end (rows -> records, payload decoded);
5. the same with 1,000,000 cached times (and the database file size);
6. the sync worker's calls (claim, ack, fail, release, ...) with 1,000 and 100,000
   queued operations, and the Python memory peak while draining 2,000 of them.

Where it can, it measures the store as it was before this work side by side (the
``--baseline`` revision, extracted from git into a temporary package), on the same data,
in the same run, and prints the ratio. Every figure is a median of several runs; run it
on an otherwise idle machine.
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import importlib
import os
import platform
import sqlite3
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
import tracemalloc
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from pymesync.store import CacheObject, NewOperation, Store

REPO = Path(__file__).resolve().parents[2]
#: The last commit before the store was reworked for speed.
BASELINE_REV = "66cbd760d7f8981dc922d1d0c193a39b9d36a603"
ACCOUNT = "http://timesync.example.com/v0|alice"
NOW = dt.datetime(2026, 11, 30, 12, 0, tzinfo=dt.timezone.utc)
DAY0 = dt.date(2000, 1, 1)


# ---------------------------------------------------------------- reporting


@dataclass
class Figure:
    section: str
    name: str
    value: float
    unit: str
    target: str = ""
    ok: bool | None = None
    before: float | None = None
    note: str = ""
    higher_is_better: bool = False

    def ratio(self) -> str:
        if self.before is None or not self.value:
            return ""
        ratio = self.value / self.before if self.higher_is_better else self.before / self.value
        return f"{ratio:.1f}x"


FIGURES: list[Figure] = []


def record(figure: Figure) -> None:
    FIGURES.append(figure)
    before = "" if figure.before is None else f"{_fmt(figure.before)} {figure.unit}"
    status = "" if figure.ok is None else ("ok" if figure.ok else "MISSED")
    print(
        f"  {figure.name:52} {_fmt(figure.value):>9} {figure.unit:6} {before:>16}"
        f" {figure.ratio():>7}  {figure.target:>10} {status}",
        flush=True,
    )
    if figure.note:
        print(f"  {'':52} ({figure.note})", flush=True)


def _fmt(value: float) -> str:
    return f"{value:.0f}" if value >= 1000 else f"{value:.3f}" if value < 10 else f"{value:.1f}"


def median_ms(call: Callable[[int], Any], count: int) -> float:
    samples = []
    for i in range(count):
        start = time.perf_counter()
        call(i)
        samples.append((time.perf_counter() - start) * 1000)
    return statistics.median(samples)


def runs(label: str, values: list[float], unit: str) -> float:
    """The median of several runs, printing them."""
    shown = ", ".join(_fmt(v) for v in values)
    print(f"    {label}: runs {shown} {unit}", flush=True)
    return statistics.median(values)


# ---------------------------------------------------------------- the store before


def load_baseline(rev: str, into: Path) -> ModuleType | None:
    """The ``pymesync.store`` package of ``rev`` as the module ``store_before`` (its
    own migrations next to it), or None when git cannot provide it."""
    archive = into / "before.tar"
    try:
        with archive.open("wb") as out:
            subprocess.run(
                ["git", "-C", str(REPO), "archive", rev, "pymesync/store", "migrations"],
                stdout=out,
                stderr=subprocess.PIPE,
                check=True,
            )
    except (OSError, subprocess.CalledProcessError) as exc:
        print(f"(no baseline: git archive {rev} failed: {exc})")
        return None
    root = into / "before"
    with tarfile.open(archive) as tar:
        if hasattr(tarfile, "data_filter"):
            tar.extractall(root, filter="data")
        else:  # pragma: no cover - Python before 3.11.4
            tar.extractall(root)
    package = root / "pkg" / "store_before"
    package.parent.mkdir()
    (root / "pymesync" / "store").rename(package)  # _migrations -> ../../migrations
    sys.path.insert(0, str(package.parent))
    return importlib.import_module("store_before")


# ---------------------------------------------------------------- data


def new_time(i: int) -> tuple[NewOperation, CacheObject]:
    """What the offline facade queues for ``create_time``: the operation and the
    provisional object shaped like the server's answer."""
    key = str(uuid.uuid4())
    payload = {
        "duration": 60 + i,
        "project": "gwm",
        "user": "alice",
        "date_worked": "2026-11-29",
        "activities": ["dev"],
        "notes": f"bench {i}",
    }
    shown = {
        **payload,
        "project": ["gwm"],
        "uuid": key,
        "revision": 1,
        "issue_uri": None,
        "created_at": "2026-11-30",
        "updated_at": None,
        "deleted_at": None,
    }
    return (
        NewOperation(ACCOUNT, "create", "time", key, payload),
        CacheObject(ACCOUNT, "time", key, shown, 1, False, NOW, local=True),
    )


def server_times(total: int, users: int, projects: int, days: int) -> Iterator[dict[str, Any]]:
    """``total`` server-shaped times, spread evenly over users, projects and days."""
    for n in range(total):
        yield {
            "uuid": str(uuid.uuid4()),
            "revision": 1,
            "user": f"u{n % users}",
            "duration": 60 + n % 600,
            "project": [f"p{n % projects}", f"proj-{n % projects}"],
            "activities": ["dev"] if n % 3 else ["dev", "docs"],
            "notes": f"worked on {n}",
            "issue_uri": None,
            "date_worked": (DAY0 + dt.timedelta(days=n % days)).isoformat(),
            "created_at": DAY0.isoformat(),
            "updated_at": None,
            "deleted_at": None,
        }


def fill_queue(path: Path, count: int) -> None:
    """``count`` pending updates on distinct times, written straight into the file
    (same rows for the old and the new schema)."""
    stamp = "2026-11-30T12:00:00.000000Z"
    conn = sqlite3.connect(path)
    with conn:
        conn.executemany(
            "INSERT INTO operations (op_id, account, kind, entity, target, payload,"
            " base_revision, state, attempts, created_at, updated_at)"
            " VALUES (?, ?, 'update', 'time', ?, ?, 1, 'pending', 0, ?, ?)",
            (
                (str(uuid.uuid4()), ACCOUNT, f"t{i}", '{"duration":60}', stamp, stamp)
                for i in range(count)
            ),
        )
    conn.close()


# ---------------------------------------------------------------- 1. enqueue


def bench_enqueue(args: argparse.Namespace, tmp: Path, before: ModuleType | None) -> None:
    print("1. one durable enqueue (create_time + provisional object), median", flush=True)
    calls = 150 if args.quick else 400

    def latency(store_class: Any, tag: str) -> float:
        values = []
        for run in range(args.runs):
            store = store_class.open(tmp / f"enqueue-{tag}-{run}.sqlite3")
            items = [new_time(i) for i in range(calls + 20)]
            for item in items[:20]:  # warm up: statement cache, pool
                store.enqueue(*item)
            values.append(median_ms(lambda i, s=store, it=items: s.enqueue(*it[20 + i]), calls))
            store.close()
        return runs(tag, values, "ms")

    after = latency(Store, "after")
    old = None if before is None else latency(before.Store, "before")
    record(Figure("enqueue", "Store.enqueue median", after, "ms", "< 1 ms", after < 1.0, old))
    raw = raw_commit_ms(tmp, calls)
    record(Figure("enqueue", "  for scale: bare sqlite3 INSERT+COMMIT (FULL)", raw, "ms"))
    if args.facade:
        facade_ms = bench_facade(tmp, calls)
        if facade_ms is not None:
            record(
                Figure(
                    "enqueue",
                    "  TimeSync(mode='queue').create_time median",
                    facade_ms,
                    "ms",
                    "<= 1 ms",
                    facade_ms <= 1.0,
                    note="the whole facade, current code",
                )
            )


def raw_commit_ms(tmp: Path, calls: int) -> float:
    """What one durable commit costs on this disk: a plain sqlite3 INSERT + COMMIT in WAL
    with synchronous=FULL."""
    conn = sqlite3.connect(tmp / "raw.sqlite3", isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = FULL")
    conn.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, body TEXT)")

    def one(i: int) -> None:
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("INSERT INTO t (body) VALUES (?)", ("x" * 300,))
        conn.execute("COMMIT")

    try:
        return median_ms(one, calls)
    finally:
        conn.close()


def bench_facade(tmp: Path, calls: int) -> float | None:
    try:
        import pymesync
        from pymesync.testing import run_emulator
    except ImportError:
        return None
    yesterday = (dt.datetime.now(dt.timezone.utc).date() - dt.timedelta(days=1)).isoformat()
    with run_emulator(seed_data=True) as emu:
        ts = pymesync.TimeSync(emu.base_url, mode="queue", db=tmp / "facade.sqlite3")
        ts.authenticate("alice", "alice", "password")

        def create(i: int) -> None:
            ts.create_time(
                {
                    "duration": 60 + i,
                    "project": "gwm",
                    "user": "alice",
                    "date_worked": yesterday,
                    "activities": ["dev"],
                    "notes": f"bench {i}",
                }
            )

        for i in range(20):
            create(i)
        return median_ms(create, calls)


# ---------------------------------------------------------------- 2. enqueue_many


def bench_enqueue_many(args: argparse.Namespace, tmp: Path, before: ModuleType | None) -> None:
    count = 5000 if args.quick else 20000
    print(f"2. enqueue_many: {count} created times (+ provisional) in one transaction", flush=True)
    listed, streamed = [], []
    for run in range(args.runs):
        items = [new_time(i) for i in range(count)]
        with Store.open(tmp / f"many-{run}.sqlite3") as store:
            start = time.perf_counter()
            store.enqueue_many(items)
            listed.append(count / (time.perf_counter() - start))
        with Store.open(tmp / f"many-gen-{run}.sqlite3") as store:
            start = time.perf_counter()
            store.enqueue_many(new_time(i) for i in range(count))
            streamed.append(count / (time.perf_counter() - start))
    after = runs("after, from a list", listed, "ops/s")
    gen = runs("after, from a generator (making the items counted too)", streamed, "ops/s")
    old = None
    if before is not None:
        baseline = []
        for run in range(args.runs):
            items = [new_time(i) for i in range(1000)]
            old_store = before.Store.open(tmp / f"many-before-{run}.sqlite3")
            start = time.perf_counter()
            for item in items:  # no bulk API before: one transaction each
                old_store.enqueue(*item)
            baseline.append(len(items) / (time.perf_counter() - start))
            old_store.close()
        old = runs("before (enqueue one by one, 1000)", baseline, "ops/s")
    record(
        Figure(
            "enqueue_many",
            "enqueue_many throughput",
            after,
            "ops/s",
            ">= 20000",
            after >= 20000,
            old,
            higher_is_better=True,
        )
    )
    record(
        Figure(
            "enqueue_many",
            "  the same, items made by a generator meanwhile",
            gen,
            "ops/s",
            higher_is_better=True,
        )
    )


# ---------------------------------------------------------------- 3-4. cache


QUERIES = {
    "one user of 100": {"users": ["u7"]},
    "one project of 100": {"projects": ["p8"]},
    "a 5-day range": {"start": "2000-03-01", "end": "2000-03-05"},
}


def _load(store: Any, total: int, users: int, projects: int, days: int) -> float:
    start = time.perf_counter()
    store.put_objects(ACCOUNT, "time", server_times(total, users, projects, days), now=NOW)
    return total / (time.perf_counter() - start)


def _queries(store: Any, calls: int, queries: dict[str, dict[str, Any]]) -> dict[str, float]:
    result = {}
    for label, query in queries.items():
        found = len(store.query_times(ACCOUNT, **query))
        assert found == 500, (label, found)
        result[label] = median_ms(lambda i, q=query: store.query_times(ACCOUNT, **q), calls)
    return result


def bench_cache(args: argparse.Namespace, tmp: Path, before: ModuleType | None) -> None:
    total = 50000
    print(f"3. put_objects: {total} server times in one transaction", flush=True)
    loads = []
    for run in range(args.runs):
        with Store.open(tmp / f"cache-{run}.sqlite3") as store:
            loads.append(_load(store, total, 100, 100, 500))
    after = runs("after", loads, "objects/s")
    old_store = None
    old = None
    if before is not None:
        old_store = before.Store.open(tmp / "cache-before.sqlite3")
        old = runs("before", [_load(old_store, total, 100, 100, 500)], "objects/s")
    record(
        Figure(
            "put_objects",
            "put_objects throughput",
            after,
            "objects/s",
            ">= 20000",
            after >= 20000,
            old,
            higher_is_better=True,
        )
    )
    print(f"4. query_times: 500 of {total} cached times, median", flush=True)
    calls = 20 if args.quick else 50
    with Store.open(tmp / "cache-0.sqlite3") as store:
        new = _queries(store, calls, QUERIES)
    old_times = {} if old_store is None else _queries(old_store, max(5, calls // 5), QUERIES)
    if old_store is not None:
        old_store.close()
    for label, value in new.items():
        record(
            Figure(
                "query_times",
                f"query_times 500/{total}: {label}",
                value,
                "ms",
                "<= 5 ms",
                value <= 5.0,
                old_times.get(label),
            )
        )


def bench_million(args: argparse.Namespace, tmp: Path) -> None:
    total = 200_000 if args.quick else 1_000_000
    days = total // 100
    print(
        f"5. {total} cached times (users, projects: {total // 500} each; {days} days)", flush=True
    )
    path = tmp / "million.sqlite3"
    with Store.open(path) as store:
        rate = _load(store, total, total // 500, total // 500, days)
    size = path.stat().st_size / 2**20
    record(
        Figure(
            "million",
            f"put_objects of {total} (one call, a generator)",
            rate,
            "objects/s",
            higher_is_better=True,
        )
    )
    record(Figure("million", "database file size", size, "MiB"))
    start = DAY0 + dt.timedelta(days=days // 2)
    queries = {
        f"one user of {total // 500}": {"users": ["u7"]},
        f"one project of {total // 500}": {"projects": ["p8"]},
        "a 5-day range": {
            "start": start.isoformat(),
            "end": (start + dt.timedelta(days=4)).isoformat(),
        },
    }
    calls = 20 if args.quick else 50
    with Store.open(path, quick_check=False) as store:
        got = _queries(store, calls, queries)
    for label, value in got.items():
        record(
            Figure(
                "million",
                f"query_times 500/{total}: {label}",
                value,
                "ms",
                "<= 20 ms",
                value <= 20.0,
            )
        )


# ---------------------------------------------------------------- 6. the worker's calls


def _worker_calls(store: Any, rounds: int, *, new_api: bool) -> dict[str, float]:
    """Median ms of each call a sync worker makes, round after round."""
    samples: dict[str, list[float]] = {}

    def timed(name: str, call: Callable[[], Any]) -> Any:
        start = time.perf_counter()
        result = call()
        samples.setdefault(name, []).append((time.perf_counter() - start) * 1000)
        return result

    for _ in range(rounds):
        claimed = timed("claim (limit 8)", lambda: store.claim(ACCOUNT, "w", 120, limit=8))
        assert len(claimed) == 8
        first, transient, permanent, released = claimed[0], claimed[5], claimed[6], claimed[7]
        timed("get_operation", lambda o=first: store.get_operation(o.op_id))
        for op in claimed[:5]:
            body = {"uuid": op.target, "revision": 2, "duration": 60}
            timed(
                "ack (server object cached)",
                lambda o=op, b=body: store.ack(o.op_id, server_object=b),
            )
        retry_at = dt.datetime.now(dt.timezone.utc) + dt.timedelta(seconds=60)
        timed(
            "fail (transient)",
            lambda o=transient, r=retry_at: store.fail(
                o.op_id, error={"status": 503}, permanent=False, next_attempt_at=r
            ),
        )
        timed(
            "fail (permanent)",
            lambda o=permanent: store.fail(o.op_id, error={"status": 400}, permanent=True),
        )
        timed("release", lambda o=released: store.release(o.op_id))
        if new_api:
            timed("expedite", lambda: store.expedite(ACCOUNT))
            timed("pending_targets", lambda: store.pending_targets(ACCOUNT, "project"))
    return {name: statistics.median(values) for name, values in samples.items()}


def _drain_peak(store: Store, count: int) -> float:
    """Peak Python memory (KiB, tracemalloc) while claiming and acking ``count`` ops."""
    gc.collect()
    tracemalloc.start()
    try:
        done = 0
        while done < count:
            for op in store.claim(ACCOUNT, "drain", 120, limit=8):
                store.ack(op.op_id, server_object={"uuid": op.target, "revision": 2})
                done += 1
        return tracemalloc.get_traced_memory()[1] / 1024
    finally:
        tracemalloc.stop()


def bench_queue(args: argparse.Namespace, tmp: Path, before: ModuleType | None) -> None:
    big = 20_000 if args.quick else 100_000
    print(f"6. the sync worker's calls, with 1000 and {big} queued operations, median", flush=True)
    rounds = 30 if args.quick else 100
    results: dict[str, dict[str, float]] = {}
    peaks: dict[int, float] = {}
    for size in (1000, big):
        path = tmp / f"queue-{size}.sqlite3"
        Store.open(path).close()
        fill_queue(path, size + rounds * 8 + 2000)  # never fewer than `size` left
        with Store.open(path) as store:
            results[f"after-{size}"] = _worker_calls(store, rounds, new_api=True)
            peaks[size] = _drain_peak(store, 2000)
    if before is not None:
        path = tmp / "queue-before.sqlite3"
        before.Store.open(path).close()
        fill_queue(path, big + 10 * 8)
        old_store = before.Store.open(path)
        results["before"] = _worker_calls(old_store, 10, new_api=False)
        old_store.close()
    for name, value in results[f"after-{big}"].items():
        small = results["after-1000"][name]
        record(
            Figure(
                "queue",
                f"{name} @ {big}",
                value,
                "ms",
                before=results.get("before", {}).get(name),
                note=f"{_fmt(small)} ms @ 1000",
            )
        )
    record(
        Figure(
            "queue",
            f"Python memory peak draining 2000 of {big}",
            peaks[big],
            "KiB",
            "flat",
            peaks[big] <= peaks[1000] * 1.2 + 64,
            note=f"{_fmt(peaks[1000])} KiB draining 2000 of 1000+",
        )
    )


# ---------------------------------------------------------------- main


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes, fewer calls")
    parser.add_argument("--runs", type=int, default=3, help="runs per figure (default 3)")
    parser.add_argument("--baseline", default=BASELINE_REV, help="git revision to compare to")
    parser.add_argument("--no-baseline", action="store_true", help="measure this code only")
    parser.add_argument("--no-million", action="store_true", help="skip the 1,000,000 times")
    parser.add_argument("--facade", action="store_true", help="also time the facade")
    parser.add_argument("--only", help="comma-separated sections: enqueue,many,cache,million,queue")
    args = parser.parse_args()
    sections = set((args.only or "enqueue,many,cache,million,queue").split(","))
    if args.no_million:
        sections.discard("million")
    print(
        f"pymesync store benchmarks: {platform.machine()} {platform.system()}, "
        f"{os.cpu_count()} CPUs, Python {platform.python_version()}, "
        f"SQLite {sqlite3.sqlite_version}"
    )
    print(f"  {'figure':52} {'after':>9} {'':6} {'before':>16} {'ratio':>7}  {'target':>10}")
    with tempfile.TemporaryDirectory(prefix="bench-store-") as name:
        tmp = Path(name)
        before = None if args.no_baseline else load_baseline(args.baseline, tmp)
        if before is not None:
            print(f"  (before = the store at {args.baseline[:12]}, same data, same run)")
        if "enqueue" in sections:
            bench_enqueue(args, tmp, before)
        if "many" in sections:
            bench_enqueue_many(args, tmp, before)
        if "cache" in sections:
            bench_cache(args, tmp, before)
        if "million" in sections:
            bench_million(args, tmp)
        if "queue" in sections:
            bench_queue(args, tmp, before)
    missed = [f for f in FIGURES if f.ok is False]
    print(f"{len(FIGURES)} figures, {len(missed)} missed: {', '.join(f.name for f in missed)}")
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
