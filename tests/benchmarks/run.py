"""pymesync benchmarks: ``.venv/bin/python tests/benchmarks/run.py [--quick] [--only NAME]``.

Not collected by pytest (no ``test_`` names). Prints one table: each figure, its target,
and where there is one, the baseline measured side by side in the same run and the
ratio. Timings are medians over many calls (these machines are noisy: read the ratios).
The emulator runs in a separate process wherever client CPU or memory is measured; the
sync figures go through a 20 ms latency proxy in a third process (``latency_proxy.py``)
and are compared with a bare ``requests`` client pushing the same creates in the same run.
"""

from __future__ import annotations

import argparse
import datetime as dt
import functools
import inspect
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
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from latency_proxy import ProxyURL, check, latency_proxy  # tests/benchmarks/, next to this script

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
        account = ts.account
        assert account is not None
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


SYNC_LATENCY = 0.020  # seconds, added by the proxy to every answer


def _process_cpu(pid: int) -> float:
    """CPU seconds (user + system, all threads) used so far by another process (Linux)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return float("nan")
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Meter:
    """Wall time and CPU over one push: this process's (``time.process_time``: every
    thread of the client) and, for the notes, the emulator's and the proxy's."""

    def __init__(self, others: tuple[int, ...]) -> None:
        self.others = others

    def __enter__(self) -> Meter:
        self.others_cpu = [_process_cpu(pid) for pid in self.others]
        self.cpu = time.process_time()
        self.wall = time.perf_counter()
        return self

    def __exit__(self, *exc: object) -> None:
        self.wall = time.perf_counter() - self.wall
        self.cpu = time.process_time() - self.cpu
        after = [_process_cpu(pid) for pid in self.others]
        self.others_cpu = [a - b for a, b in zip(after, self.others_cpu, strict=True)]


@dataclass
class Push:
    """One timed push of ``count`` creates: a bare-client run or a sync drain."""

    kind: str
    count: int
    wall: float  # seconds
    cpu: float  # seconds of this process's CPU (all threads) over the same span
    others_cpu: list[float]  # seconds of CPU of the emulator and the proxy, same span
    requests: dict[str, int]  # the emulator's counts per route for the push

    @property
    def rate(self) -> float:
        return self.count / self.wall

    @property
    def cpu_ms(self) -> float:
        return self.cpu / self.count * 1000


def _default_concurrency() -> int:
    default = inspect.signature(pymesync.TimeSync).parameters["sync_concurrency"].default
    assert isinstance(default, int), default
    return default


def _check_stored(emu: Any, token: str, count: int, what: str) -> None:
    """The emulator holds exactly one time per pushed create: ``bench 0`` .. ``bench
    count-1``, each once (the emulator was reset before the push, so nothing else is
    called that). Asked directly, not through the proxy."""
    import requests

    answer = requests.get(
        emu.base_url + "/times", params={"token": token, "user": "alice"}, timeout=60
    )
    answer.raise_for_status()
    notes = Counter(
        t.get("notes") for t in answer.json() if str(t.get("notes", "")).startswith("bench ")
    )
    twice = sum(1 for n in notes.values() if n > 1)
    expected = {f"bench {i}" for i in range(count)}
    assert set(notes) == expected and not twice, (
        f"{what}: the emulator holds {sum(notes.values())} bench times "
        f"({len(set(notes) & expected)} of the {count} expected, {twice} more than once)"
    )


def _push_bare(emu: Any, url: ProxyURL, count: int, concurrency: int) -> Push:
    """The limit: ``requests`` over one keep-alive Session from a thread pool, no store."""
    import requests
    from requests.adapters import HTTPAdapter

    emu.reset()
    with requests.Session() as session:
        adapter = HTTPAdapter(pool_connections=1, pool_maxsize=concurrency)
        session.mount("http://", adapter)
        session.mount("https://", adapter)
        login = session.post(
            url + emu.prefix + "/login",
            json={"auth": {"type": "password", "username": "alice", "password": "alice"}},
            timeout=30,
        )
        login.raise_for_status()
        token = login.json()["token"]
        times_url = url + emu.prefix + "/times"

        def create(i: int) -> str:
            body = {"auth": {"type": "token", "token": token}, "object": a_time(i)}
            answer = session.post(times_url, json=body, timeout=60)
            if answer.status_code != 200:
                raise AssertionError(f"bare POST /times: {answer.status_code} {answer.text}")
            return str(answer.json()["uuid"])

        emu.reset_stats()
        with Meter((emu.pid, url.pid)) as meter, ThreadPoolExecutor(concurrency) as pool:
            keys = list(pool.map(create, range(count)))
    assert len(set(keys)) == count
    routes = emu.stats()["routes"]
    _check_stored(emu, token, count, "bare client")
    return Push("bare", count, meter.wall, meter.cpu, meter.others_cpu, routes)


def _push_sync(
    emu: Any, url: ProxyURL, db: Path, count: int, concurrency: int, *, cached: bool
) -> Push:
    """Queue ``count`` creates offline, then time one ``sync()`` that drains them."""
    emu.reset()
    ts = login(url + emu.prefix, mode="queue", db=db, sync_concurrency=concurrency)
    try:
        if cached:
            ts.get_projects()  # the project is cached, as after any normal use
        with ts.batch() as batch:
            for i in range(count):
                batch.create_time(a_time(i))
        assert ts.status()["pending"] == count, ts.status()
        emu.reset_stats()
        with Meter((emu.pid, url.pid)) as meter:
            report = ts.sync()
        routes = emu.stats()["routes"]
        what = f"drain ({'cached' if cached else 'not cached'}, concurrency {concurrency})"
        assert report.synced == count, (what, report.totals, report.stopped)
        assert ts.status()["pending"] == 0, (what, ts.status())
        assert ts.token is not None
        _check_stored(emu, ts.token, count, what)
    finally:
        ts.close()
    kind = "one at a time" if concurrency == 1 else ("cached" if cached else "uncached")
    return Push(kind, count, meter.wall, meter.cpu, meter.others_cpu, routes)


def _requests_note(pushes: list[Push]) -> str:
    seen: Counter[str] = Counter()
    for push in pushes:
        seen.update(push.requests)
    per_op = {route: n / sum(p.count for p in pushes) for route, n in seen.items()}
    return ", ".join(f"{route} {n:.2f}" for route, n in sorted(per_op.items()))


def _spread(pushes: list[Push]) -> str:
    rates = [p.rate for p in pushes]
    if len(rates) == 1:
        return f"{rates[0]:.0f} op/s"
    return f"{len(rates)} runs, {min(rates):.0f}-{max(rates):.0f} op/s"


def _busy(pushes: list[Push]) -> str:
    """CPUs kept busy during the pushes, per process (of os.cpu_count())."""
    wall = sum(p.wall for p in pushes)
    client = sum(p.cpu for p in pushes) / wall
    emulator, proxy = (sum(p.others_cpu[i] for p in pushes) / wall for i in (0, 1))
    return f"CPUs busy: client {client:.2f}, emulator {emulator:.2f}, proxy {proxy:.2f}"


_SYNC_FIGURES: dict[bool, list[Figure]] = {}


def _sync_figures(args: argparse.Namespace, tmp: Path) -> list[Figure]:
    """Everything the sync figures need, measured once per run (``sync`` and ``cpu``
    both report from it).

    The emulator runs in another process, behind the latency proxy (a third process)
    that holds every answer 20 ms. The emulator is reset before each push (fresh data,
    fresh login), so every push starts from the same server state. Order: ``rounds``
    times (bare, drain with the project cached, drain without), then bare once more, so
    the bare figure brackets the drains; each figure is the mean of its runs' rates.
    Then the one-at-a-time drain.
    """
    if args.quick in _SYNC_FIGURES:
        return _SYNC_FIGURES[args.quick]
    count = 300 if args.quick else 2000
    sequential_count = 50 if args.quick else 200
    rounds = 1 if args.quick else 3
    concurrency = _default_concurrency()

    bare: list[Push] = []
    cached: list[Push] = []
    uncached: list[Push] = []
    with (
        run_emulator_process(seed_data=True) as emu,
        latency_proxy("127.0.0.1", emu.port, SYNC_LATENCY) as url,
    ):
        check(url, "/_emulator/health", SYNC_LATENCY)
        for r in range(rounds):
            bare.append(_push_bare(emu, url, count, concurrency))
            db = tmp / f"cached{r}.sqlite3"
            cached.append(_push_sync(emu, url, db, count, concurrency, cached=True))
            db = tmp / f"fresh{r}.sqlite3"
            uncached.append(_push_sync(emu, url, db, count, concurrency, cached=False))
        bare.append(_push_bare(emu, url, count, concurrency))
        one = _push_sync(emu, url, tmp / "one.sqlite3", sequential_count, 1, cached=True)
    bare_rate = statistics.fmean(p.rate for p in bare)
    cached_rate = statistics.fmean(p.rate for p in cached)
    uncached_rate = statistics.fmean(p.rate for p in uncached)
    bare_name = (
        f"bare requests, thread pool of {concurrency}, one Session, {_spread(bare)}\n"
        f"{_busy(bare)}; client CPU {statistics.fmean(p.cpu_ms for p in bare):.2f} ms/op"
    )
    setting = f"{count} creates, {SYNC_LATENCY * 1000:.0f} ms proxy, concurrency {concurrency}"

    def drain_note(pushes: list[Push]) -> str:
        return (
            f"{setting}, {_spread(pushes)}\n{_busy(pushes)}\n"
            f"requests per op: {_requests_note(pushes)}"
        )

    cpu_cached = statistics.fmean(p.cpu_ms for p in cached)
    cpu_uncached = statistics.fmean(p.cpu_ms for p in uncached)
    cpu = max(cpu_cached, cpu_uncached)
    figures = [
        Figure(
            "sync drain, project cached, vs bare client",
            cached_rate,
            "op/s",
            ">= 0.9x bare",
            cached_rate / bare_rate >= 0.9,
            bare_rate,
            bare_name,
            higher_is_better=True,
            note=drain_note(cached),
        ),
        Figure(
            "sync drain, project not cached, vs bare client",
            uncached_rate,
            "op/s",
            ">= 0.9x bare",
            uncached_rate / bare_rate >= 0.9,
            bare_rate,
            bare_name,
            higher_is_better=True,
            note=drain_note(uncached),
        ),
        Figure(
            "sync drain (cached) vs one at a time",
            cached_rate,
            "op/s",
            ">= 8x",
            cached_rate / one.rate >= 8,
            one.rate,
            f"sync_concurrency=1, {sequential_count} creates, same proxy",
            higher_is_better=True,
            note=f"not cached vs one at a time: {uncached_rate / one.rate:.1f}x",
        ),
        Figure(
            "client CPU per pushed operation",
            cpu,
            "ms",
            "<= 1.5 ms",
            cpu <= 1.5,
            note=(
                f"the worse of the two drains (cached {cpu_cached:.2f} ms, not cached "
                f"{cpu_uncached:.2f} ms; one at a time {one.cpu_ms:.2f} ms):\n"
                "time.process_time() of the client process over sync(), through the proxy"
            ),
        ),
    ]
    _SYNC_FIGURES[args.quick] = figures
    return figures


def sync_throughput(args: argparse.Namespace, tmp: Path) -> list[Figure]:
    return _sync_figures(args, tmp)[:3]


def client_overhead(args: argparse.Namespace, tmp: Path) -> list[Figure]:
    return _sync_figures(args, tmp)[3:]


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


def _log_once(exe: str, env: dict[str, str]) -> tuple[float, float]:
    """One ``pymesync log``: ms until its answer line is printed, ms until it exits."""
    start = time.perf_counter()
    proc = subprocess.Popen(
        [exe, "log", "1h", "-p", "gwm", "-a", "dev", "-n", "bench"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert proc.stdout is not None
    answered = None
    for line in proc.stdout:
        if answered is None and line.startswith("logged "):
            answered = (time.perf_counter() - start) * 1000
    proc.wait()
    exited = (time.perf_counter() - start) * 1000
    if answered is None:
        raise RuntimeError(f"pymesync log printed no answer (exit {proc.returncode})")
    return answered, exited


def _answer_once(
    exe: str, env: dict[str, str], args: list[str], prefix: str
) -> tuple[float, float]:
    """One ``pymesync ARGS``: ms until a line starting with ``prefix`` is printed, ms
    until it exits."""
    start = time.perf_counter()
    proc = subprocess.Popen(
        [exe, *args], env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
    )
    assert proc.stdout is not None
    answered = None
    for line in proc.stdout:
        if answered is None and line.startswith(prefix):
            answered = (time.perf_counter() - start) * 1000
    proc.wait()
    exited = (time.perf_counter() - start) * 1000
    if answered is None:
        raise RuntimeError(f"pymesync {args[0]} printed no answer (exit {proc.returncode})")
    return answered, exited


def _timer_rounds(exe: str, env: dict[str, str], rounds: int) -> tuple[list[float], list[float]]:
    """``pymesync start`` then ``pymesync stop``, ``rounds`` times: the ms until each
    answered (``started ...``; ``logged ...``, the stop's entry queued)."""
    starts, stops = [], []
    for _ in range(rounds):
        args = ["start", "-p", "gwm", "-a", "dev", "-n", "bench-timer", "--at", "-1h"]
        starts.append(_answer_once(exe, env, args, "started ")[0])
        stops.append(_answer_once(exe, env, ["stop"], "logged ")[0])
    return starts, stops


def cli_log(args: argparse.Namespace, tmp: Path) -> list[Figure]:
    """``pymesync log`` wall time against a server that accepts connections and never
    answers, side by side with a reachable one (the emulator in another process)."""
    rounds = 5 if args.quick else 15
    exe = str(Path(sys.executable).parent / "pymesync")
    with run_emulator_process(seed_data=True, db=str(tmp / "server.sqlite3")) as emu:
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("PYMESYNC_")},
            "PYMESYNC_DB": str(tmp / "log.sqlite3"),
            "PYMESYNC_URL": emu.base_url,
            "PYMESYNC_USERNAME": "alice",
            "PYMESYNC_CONFIG": str(tmp / "config.toml"),
        }
        subprocess.run(
            [exe, "login", "--password-stdin"], input="alice\n", env=env, check=True,
            capture_output=True, text=True,
        )  # fmt: skip
        reachable = [_log_once(exe, env) for _ in range(rounds)]
        timer_online = _timer_rounds(exe, env, rounds)
        emu.hang_next(10**6)  # every request is read and never answered
        holed = [_log_once(exe, env) for _ in range(rounds)]
        timer_holed = _timer_rounds(exe, env, rounds)
        emu.clear_faults()
        on_server = len(_server_times(emu, "bench"))
    bare = statistics.median(_timed([sys.executable, "-c", "pass"]) for _ in range(rounds))
    answer = statistics.median(a for a, _ in holed)
    exit_ = statistics.median(e for _, e in holed)
    worst = max(e for _, e in holed)
    online = statistics.median(a for a, _ in reachable)
    online_exit = statistics.median(e for _, e in reachable)
    return [
        Figure(
            "pymesync log, black-holed server: answer (median)",
            answer,
            "ms",
            "<= 250 ms",
            answer <= 250,
            online,
            "the same against a reachable server (answer)",
            note=f"python -c pass: {bare:.0f} ms",
        ),
        Figure(
            "pymesync log, black-holed server: exit (median)",
            exit_,
            "ms",
            "<= 2500 ms",
            exit_ <= 2500 and worst <= 3000,
            online_exit,
            "the same against a reachable server (exit)",
            note=f"slowest of {rounds}: {worst:.0f} ms; entries on the server after all"
            f" runs: {on_server} of {2 * rounds} (the rest stay queued)",
        ),
        *_timer_figures(timer_online, timer_holed, answer, online),
    ]


def _timer_figures(
    online: tuple[list[float], list[float]],
    holed: tuple[list[float], list[float]],
    log_holed: float,
    log_online: float,
) -> list[Figure]:
    """``start`` and ``stop`` answers (medians), side by side with ``log``'s."""
    figures = []
    for i, command in enumerate(("start", "stop")):
        value = statistics.median(holed[i])
        figures.append(
            Figure(
                f"pymesync {command}, black-holed server: answer (median)",
                value,
                "ms",
                "<= 250 ms",
                value <= 250,
                log_holed,
                "pymesync log, the same (answer)",
                note=f"reachable server: {statistics.median(online[i]):.0f} ms"
                f" (log: {log_online:.0f} ms); slowest of {len(holed[i])} black-holed:"
                f" {max(holed[i]):.0f} ms",
            )
        )
    return figures


def _fill_report_store(db: Path, account: str, total: int, days: int) -> tuple[str, str]:
    """``total`` cached times of alice over ``days`` days ending yesterday, of four
    projects and four activity lists (one of two activities): straight into the store,
    as a long history read from the server leaves it. Returns the first and last day."""
    from pymesync.store import Store

    last = dt.date.today() - dt.timedelta(days=1)
    first = last - dt.timedelta(days=days - 1)
    projects = [["ganeti-webmgr", "gwm"], ["timesync", "ts"], ["ps", "pymesync"], ["pgd"]]
    activities = [["dev"], ["docs"], ["plan"], ["dev", "docs"]]

    def objects() -> Iterator[dict[str, Any]]:
        for n in range(total):
            yield {
                "uuid": str(uuid.uuid4()),
                "revision": 1,
                "user": "alice",
                "duration": 600 + 60 * (n % 50),
                "project": projects[n % 4],
                "activities": activities[(n // 4) % 4],
                "notes": f"report bench {n}",
                "issue_uri": None,
                "date_worked": (first + dt.timedelta(days=n % days)).isoformat(),
                "created_at": first.isoformat(),
                "updated_at": None,
                "deleted_at": None,
            }

    store = Store.open(db)
    try:
        store.put_objects(account, "time", objects())
        store.set_state(account, "fetched:time", dt.datetime.now(dt.timezone.utc).isoformat())
    finally:
        store.close()
    return first.isoformat(), last.isoformat()


def cli_report(args: argparse.Namespace, tmp: Path) -> list[Figure]:
    """``pymesync report`` over 50,000 cached times (the whole command, wall), the
    server down since the login (connections refused: the cache answers), side by side
    with ``pymesync times`` over the same period and ``python -c pass``."""
    total = 10_000 if args.quick else 50_000
    rounds = 3 if args.quick else 7
    exe = str(Path(sys.executable).parent / "pymesync")
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("PYMESYNC_")},
        "PYMESYNC_DB": str(tmp / "report.sqlite3"),
        "PYMESYNC_USERNAME": "alice",
        "PYMESYNC_CONFIG": str(tmp / "config.toml"),
    }
    with run_emulator_process(seed_data=True, db=str(tmp / "server.sqlite3")) as emu:
        env["PYMESYNC_URL"] = emu.base_url
        subprocess.run(
            [exe, "login", "--password-stdin"], input="alice\n", env=env, check=True,
            capture_output=True, text=True,
        )  # fmt: skip
    # (the emulator has stopped: every request now has its connection refused)
    first, last = _fill_report_store(Path(env["PYMESYNC_DB"]), f"{emu.base_url}|alice", total, 100)

    def timed(*words: str) -> tuple[float, str]:
        samples, out = [], ""
        for _ in range(rounds):
            start = time.perf_counter()
            done = subprocess.run([exe, *words], env=env, capture_output=True, text=True)
            samples.append((time.perf_counter() - start) * 1000)
            if done.returncode != 0 or "from the local cache" not in done.stderr:
                raise RuntimeError(f"pymesync {words[0]}: {done.returncode} {done.stderr}")
            out = done.stdout
        return statistics.median(samples), out

    report_ms, shown = timed("report", "--from", first, "--to", last)
    if f"  {total}  " not in shown.splitlines()[-1]:
        raise RuntimeError(f"the report does not count {total} entries: {shown}")
    chart_ms, _ = timed("report", "--from", first, "--to", last, "--by", "day", "--chart")
    times_ms, _ = timed("times", "--from", first, "--to", last)
    subprocess.run([exe, "logout"], env=env, check=True, capture_output=True)
    alone_ms, _ = timed("report", "--from", first, "--to", last)  # (no server to ask)
    bare = statistics.median(_timed([sys.executable, "-c", "pass"]) for _ in range(rounds))
    return [
        Figure(
            f"pymesync report, {total} cached times (median wall)",
            report_ms,
            "ms",
            "<= 500 ms",
            report_ms <= 500,
            times_ms,
            "pymesync times over the same period",
            note=f"--by day --chart: {chart_ms:.0f} ms; logged out (the server not asked):"
            f" {alone_ms:.0f} ms; python -c pass: {bare:.0f} ms",
        )
    ]


def _timed(cmd: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, capture_output=True, check=False)
    return (time.perf_counter() - start) * 1000


def _server_times(emu: Any, notes: str) -> list[Any]:
    token = emu.issue_token("alice")
    ts = pymesync.TimeSync(emu.base_url, token=token, mode="direct")
    try:
        return [t for t in ts.get_times({"user": ["alice"]}) if t.get("notes") == notes]
    finally:
        ts.close()


_BATCH_SCRIPT = """
import sys, time
from pymesync import TimeSync
count = int(sys.argv[1])
ts = TimeSync.resume("http://127.0.0.1:9/v0", "alice", mode="queue", store_pool=False,
                     raise_errors=True)
with ts.batch():
    for i in range(count):
        ts.create_time({"duration": 60 * (1 + i % 90), "project": "gwm", "user": "alice",
                        "date_worked": f"2026-11-{1 + i % 28:02d}", "activities": ["dev"],
                        "notes": f"entry {i}"})
"""


def cli_import(args: argparse.Namespace, tmp: Path) -> list[Figure]:
    """``pymesync import`` of a generic CSV (not logged in: read, check, queue with the
    import keys in one transaction; no push), side by side with a script that queues
    the same entries with ``batch()`` and ``create_time`` (both whole processes)."""
    count = 5000 if args.quick else 50000
    rounds = 1 if args.quick else 3
    exe = str(Path(sys.executable).parent / "pymesync")
    path = tmp / "import.csv"
    lines = ["date,duration,project,activities,notes"]
    lines += [f"2026-11-{1 + i % 28:02d},{1 + i % 90}m,gwm,dev,entry {i}" for i in range(count)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    imports, batches = [], []
    for round_ in range(rounds):
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("PYMESYNC_")},
            "PYMESYNC_URL": "http://127.0.0.1:9/v0",
            "PYMESYNC_USERNAME": "alice",
            "PYMESYNC_CONFIG": str(tmp / "config.toml"),
        }
        for kind in ("import", "batch"):
            env["PYMESYNC_DB"] = str(tmp / f"{kind}-{round_}.sqlite3")
            subprocess.run([exe, "migrate"], env=env, capture_output=True, check=True)
            cmd = (
                [exe, "import", str(path), "--json"]
                if kind == "import"
                else [sys.executable, "-c", _BATCH_SCRIPT, str(count)]
            )
            start = time.perf_counter()
            done = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
            took = time.perf_counter() - start
            if done.returncode != 0:
                raise RuntimeError(f"{kind} failed: {done.stderr.strip()}")
            if kind == "import":
                assert json.loads(done.stdout)["counts"]["new"] == count
                imports.append(took)
            else:
                batches.append(took)
    value, base = statistics.median(imports), statistics.median(batches)
    return [
        Figure(
            f"pymesync import, {count} generic-CSV rows (median wall)",
            value,
            "s",
            "<= 10 s",
            value <= 10,
            base,
            f"a script queueing the same {count} entries with batch() + create_time",
            note="the import also reads, maps and checks the file and keeps the import keys",
        )
    ]


# ---------------------------------------------------------------- 7. the store on PostgreSQL

PG_DRAIN_INTERVAL = 0.25  # seconds between a daemon's passes when its pass found nothing


@contextmanager
def _postgres(section: str) -> Iterator[Any]:
    """A durable throw-away PostgreSQL server, or None (said on stderr) on a machine
    without PostgreSQL's server binaries or psycopg: the section is then skipped."""
    from pymesync.testing.postgres import PostgresServer, PostgresUnavailable

    server = PostgresServer(durable=True)
    try:
        server.start()
    except PostgresUnavailable as error:
        print(f"[{section}: skipped, {error}]", file=sys.stderr)
        yield None
        return
    try:
        yield server
    finally:
        server.stop()


def _postgres_cpu(data_dir: Path) -> float:
    """CPU seconds used so far by the PostgreSQL server: its postmaster and every process
    it forked that is still alive (the backends of open connections, the writers)."""
    try:
        postmaster = int((data_dir / "postmaster.pid").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return float("nan")
    total = _process_cpu(postmaster)
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == postmaster:
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def _machine_busy() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine so far, every process (Linux)."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    tick = os.sysconf("SC_CLK_TCK")
    return (sum(fields) - idle) / tick, sum(fields) / tick


@dataclass
class Drain:
    """One timed drain of ``count`` queued creates by ``daemons`` daemon processes."""

    backend: str
    daemons: int
    concurrency: int
    count: int
    wall: float  # seconds from "go" until the queue was empty (every operation acked)
    cpu: dict[str, float]  # CPU seconds over the same span: daemons, emulator, proxy, postgres
    machine_busy: float  # CPUs busy on the whole machine over the span (other work too)
    requests: dict[str, int]  # the emulator's counts per route over the drain
    waits: dict[str, float]  # PostgreSQL: mean connections in each state, sampled

    @property
    def rate(self) -> float:
        return self.count / self.wall

    def cpu_ms(self, who: str | None = None) -> float:
        """CPU per operation in ms: one party's, or all four's."""
        spent = self.cpu[who] if who else sum(self.cpu.values())
        return spent / self.count * 1000


def _start_daemons(url: str, db: str, daemons: int, concurrency: int, logs: Path) -> list[Any]:
    """``daemons`` processes of drain_worker.py, each ready (its store open)."""
    script = str(HERE / "drain_worker.py")
    procs = []
    for n in range(daemons):
        log = open(logs / f"daemon-{n}.log", "ab")  # noqa: SIM115 (closed with the process)
        proc = subprocess.Popen(
            [sys.executable, script, url, "alice", db, str(concurrency), str(PG_DRAIN_INTERVAL)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=log,
            text=True,
        )
        proc.log = log  # type: ignore[attr-defined]
        procs.append(proc)
    for proc in procs:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        if line.strip() != "ready":
            _stop_daemons(procs)
            raise RuntimeError(f"a drain daemon did not start: {line!r}; see {logs}")
    return procs


def _stop_daemons(procs: list[Any]) -> list[int]:
    """SIGTERM each daemon (its own pid), wait for it; their exit codes."""
    codes = []
    for proc in procs:
        if proc.poll() is None:
            proc.terminate()
    for proc in procs:
        try:
            codes.append(proc.wait(timeout=60))
        except subprocess.TimeoutExpired:
            proc.kill()
            codes.append(proc.wait())
        proc.log.close()
    return codes


def _drain(
    emu: Any,
    url: ProxyURL,
    db: str,
    backend: str,
    daemons: int,
    concurrency: int,
    count: int,
    logs: Path,
    pg: Any,
) -> Drain:
    """Queue ``count`` creates in ``db``, then time ``daemons`` daemon processes draining
    them through the proxy; check that the emulator holds each time exactly once. On
    PostgreSQL (``pg``, the server), ``pg_stat_activity`` is sampled as the queue is
    watched: how many of the store's connections wait for an account's lock (advisory),
    for a row's lock, or run a statement."""
    emu.reset()
    base = url + emu.prefix
    ts = login(base, mode="queue", db=db, sync_concurrency=concurrency)
    what = f"{backend} drain, {daemons} daemon(s), concurrency {concurrency}"
    try:
        ts.get_projects()  # the project is cached, as after any normal use
        with ts.batch() as batch:
            for i in range(count):
                batch.create_time(a_time(i))
        assert ts.status()["pending"] == count, ts.status()
        procs = _start_daemons(base, db, daemons, concurrency, logs)
        try:
            pids = {f"daemon{n}": p.pid for n, p in enumerate(procs)}

            def cpu_now() -> dict[str, float]:
                now = {name: _process_cpu(pid) for name, pid in pids.items()}
                now["emulator"] = _process_cpu(emu.pid)
                now["proxy"] = _process_cpu(url.pid)
                if pg is not None:
                    now["postgres"] = _postgres_cpu(pg.data_dir)
                return now

            samples: list[tuple[int, int, int]] = []
            watcher = None if pg is None else pg.connect(autocommit=True)

            emu.reset_stats()
            before, machine = cpu_now(), _machine_busy()
            start = time.perf_counter()
            for proc in procs:
                proc.stdin.write("go\n")
                proc.stdin.flush()
            while True:
                status = ts.status()
                if status["failed"] or status["conflicts"]:
                    raise AssertionError(f"{what}: operations failed: {status}")
                if status["pending"] == 0 and status["inflight"] == 0:
                    break
                if watcher is not None:
                    samples.append(watcher.execute(_PG_WAITS, (db.rsplit("/", 1)[1],)).fetchone())
                if any(p.poll() is not None for p in procs):
                    raise AssertionError(f"{what}: a daemon exited early; see {logs}")
                if time.perf_counter() - start > 600:
                    raise AssertionError(f"{what}: not drained after 600 s: {status}")
                time.sleep(0.05)  # (each look is a read transaction on the store)
            wall = time.perf_counter() - start
            after, machine_after = cpu_now(), _machine_busy()
            routes = emu.stats()["routes"]
        finally:
            codes = _stop_daemons(procs)
            if watcher is not None:
                watcher.close()
        assert all(code == 0 for code in codes), (what, codes, logs)
        assert ts.token is not None
        _check_stored(emu, ts.token, count, what)
    finally:
        ts.close()
    spent = {name: after[name] - before[name] for name in before}
    cpu = {"daemons": sum(v for k, v in spent.items() if k.startswith("daemon"))}
    cpu.update({k: v for k, v in spent.items() if not k.startswith("daemon")})
    busy = (machine_after[0] - machine[0]) / (machine_after[1] - machine[1]) * (os.cpu_count() or 1)
    waits = {
        name: statistics.fmean(sample[i] for sample in samples) if samples else 0.0
        for i, name in enumerate(("account lock", "row lock", "running"))
    }
    return Drain(backend, daemons, concurrency, count, wall, cpu, busy, routes, waits)


_PG_WAITS = (
    "SELECT count(*) FILTER (WHERE wait_event_type = 'Lock' AND wait_event = 'advisory'),"
    " count(*) FILTER (WHERE wait_event_type = 'Lock' AND wait_event <> 'advisory'),"
    " count(*) FILTER (WHERE state = 'active')"
    " FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()"
)


def _drain_note(runs: list[Drain]) -> str:
    """Spread, CPU per operation by party, what limits the rate."""
    rates = [r.rate for r in runs]
    spread = (
        f"{rates[0]:.0f} op/s"
        if len(rates) == 1
        else (f"{len(rates)} runs: " + ", ".join(f"{x:.0f}" for x in rates) + " op/s")
    )
    parties = [p for p in ("daemons", "emulator", "proxy", "postgres") if p in runs[0].cpu]
    per_op = ", ".join(f"{p} {statistics.fmean(r.cpu_ms(p) for r in runs):.2f}" for p in parties)
    total = statistics.fmean(r.cpu_ms() for r in runs)
    busy = statistics.fmean(r.machine_busy for r in runs)
    posts = statistics.fmean(r.requests.get("POST /times", 0) / r.count for r in runs)
    d, c = runs[0].daemons, runs[0].concurrency
    latency_cap = d * c / SYNC_LATENCY
    cpu_cap = (os.cpu_count() or 1) / total * 1000
    emu_cap = 1000 / statistics.fmean(r.cpu_ms("emulator") for r in runs)
    caps = {"the 20 ms latency": latency_cap, f"{os.cpu_count()} CPUs": cpu_cap,
            "the emulator (one lock, 1 CPU at most)": emu_cap}  # fmt: skip
    limit = min(caps, key=lambda k: caps[k])
    if busy >= 0.95 * (os.cpu_count() or 1):
        limit = "the machine's CPUs (saturated, other work on the machine included)"
    waits = ""
    if runs[0].backend == "postgresql":
        mean = {k: statistics.fmean(r.waits[k] for r in runs) for k in runs[0].waits}
        waits = (
            f"\nPostgreSQL connections (mean of samples every 50 ms): {mean['running']:.2f}"
            f" running a statement, {mean['account lock']:.2f} waiting for the account"
            f" lock, {mean['row lock']:.2f} for a row lock"
        )
    return (
        f"{spread}; POST /times per op {posts:.2f}\n"
        f"CPU ms/op: {per_op} (sum {total:.2f}); machine CPUs busy {busy:.2f}"
        f" of {os.cpu_count()}\n"
        f"ceilings: latency {d}x{c}/20 ms = {latency_cap:.0f}, CPU {cpu_cap:.0f} (if the"
        f" machine were ours), emulator {emu_cap:.0f} op/s\n-> limited by {limit}{waits}"
    )


def pg_drain(args: argparse.Namespace, tmp: Path) -> list[Figure]:
    """One queue in one PostgreSQL store drained by 1, 2 and 4 daemon processes (each
    running ``run_daemon``, as ``pymesync daemon``) through the 20 ms latency proxy;
    1 daemon on SQLite for reference. At the default concurrency and, to show the
    claims scaling where the latency is the limit, at concurrency 2."""
    from pymesync.store import Store

    rounds = 1 if args.quick else 2
    concurrency = _default_concurrency()
    series = [(concurrency, 300 if args.quick else 800), (2, 100 if args.quick else 300)]
    logs = tmp / "logs"
    logs.mkdir()
    runs: dict[tuple[str, int, int], list[Drain]] = {}
    with (
        _postgres("pg_drain") as pg,
        run_emulator_process(seed_data=True) as emu,
        latency_proxy("127.0.0.1", emu.port, SYNC_LATENCY) as url,
    ):
        if pg is None:
            return []
        check(url, "/_emulator/health", SYNC_LATENCY)
        template = "pgdrain_template"
        pg.create_database(template)
        Store.open(pg.url(template)).close()  # migrated once, copied for each run
        for round_ in range(rounds):
            for c, count in series:
                for daemons in (1, 2, 4):
                    db = pg.new_database("pgdrain", template=template)
                    try:
                        run = _drain(emu, url, db, "postgresql", daemons, c, count, logs, pg)
                    finally:
                        pg.drop_database(db.rsplit("/", 1)[1])
                    runs.setdefault(("postgresql", c, daemons), []).append(run)
                if c == concurrency:
                    db = str(tmp / f"drain-{round_}.sqlite3")
                    run = _drain(emu, url, db, "sqlite", 1, c, count, logs, None)
                    runs.setdefault(("sqlite", c, 1), []).append(run)

    def rate(key: tuple[str, int, int]) -> float:
        return statistics.fmean(r.rate for r in runs[key])

    figures = []
    for c, count in series:
        one = rate(("postgresql", c, 1))
        setting = f"{count} creates, 20 ms proxy, concurrency {c}"
        if c == concurrency:
            sqlite = rate(("sqlite", c, 1))
            figures.append(
                Figure(
                    f"pg_drain c={c}: 1 daemon, PostgreSQL vs SQLite",
                    one,
                    "op/s",
                    ">= 0.8x SQLite",
                    one / sqlite >= 0.8,
                    sqlite,
                    f"1 daemon on a SQLite file, {_drain_note(runs[('sqlite', c, 1)])}",
                    higher_is_better=True,
                    note=f"{setting}\n{_drain_note(runs[('postgresql', c, 1)])}",
                )
            )
        else:
            figures.append(
                Figure(
                    f"pg_drain c={c}: 1 daemon, PostgreSQL",
                    one,
                    "op/s",
                    "",
                    True,
                    higher_is_better=True,
                    note=f"{setting}\n{_drain_note(runs[('postgresql', c, 1)])}",
                )
            )
        for daemons in (2, 4):
            value = rate(("postgresql", c, daemons))
            # where the latency is the limit, N daemons should come close to N times
            # one; where the machine is, more daemons must at least not lose throughput
            need = 0.9 if c == concurrency else 0.75 * daemons
            figures.append(
                Figure(
                    f"pg_drain c={c}: {daemons} daemons vs 1, PostgreSQL",
                    value,
                    "op/s",
                    f">= {need:.2f}x 1 daemon",
                    value / one >= need,
                    one,
                    "1 daemon on the same store",
                    higher_is_better=True,
                    note=f"{setting}\n{_drain_note(runs[('postgresql', c, daemons)])}",
                )
            )
    return figures


def _interleaved(calls: dict[str, Callable[[], Any]], rounds: int) -> dict[str, float]:
    """Median ms of each call, the calls taking turns within each round."""
    samples: dict[str, list[float]] = {name: [] for name in calls}
    for _ in range(rounds):
        for name, call in calls.items():
            start = time.perf_counter()
            call()
            samples[name].append((time.perf_counter() - start) * 1000)
    return {name: statistics.median(s) for name, s in samples.items()}


def pg_reads(args: argparse.Namespace, tmp: Path) -> list[Figure]:
    """Cached reads from a cache of 50,000 times (a full fetch of the emulator's times,
    as ``reads``): the same calls on a PostgreSQL store and on a SQLite file, taking
    turns, medians."""
    from pymesync.store import Store

    users, per_user = (20, 500) if args.quick else (100, 500)
    rounds = 30 if args.quick else 100
    total = users * per_user
    last = dt.date.today() - dt.timedelta(days=400 - 364)  # _fill_emulator's last day
    week = ((last - dt.timedelta(days=6)).isoformat(), last.isoformat())
    with _postgres("pg_reads") as pg, run_emulator(seed_data=True) as emu:
        if pg is None:
            return []
        _fill_emulator(emu, users, per_user)
        dbs = {"postgresql": pg.new_database("pgreads"), "sqlite": str(tmp / "reads.sqlite3")}
        clients, stores, fetch = {}, {}, {}
        for backend, db in dbs.items():
            ts = login(emu.base_url, "admin", db=db, max_age=10**9)
            start = time.perf_counter()
            assert len(ts.get_times()) >= total  # one full fetch fills the cache
            fetch[backend] = time.perf_counter() - start
            assert ts.account is not None
            clients[backend], stores[backend] = ts, Store.open(db)
        account = clients["sqlite"].account
        assert account == clients["postgresql"].account
        queries: list[tuple[str, dict[str, Any]]] = [
            (f"get_times user: {per_user} of {total}", {"user": "u7"}),
            ("get_times project + 1 week: {found} of " + str(total),
             {"project": "gwm", "start": week[0], "end": week[1]}),
        ]  # fmt: skip
        checks = {}
        for label, query in queries:
            for backend, ts in clients.items():
                checks[(label, backend)] = len(ts.get_times(query))
                assert ts.last_read is not None and ts.last_read.source == "cache", label
            assert checks[(label, "sqlite")] == checks[(label, "postgresql")], checks
        assert checks[(queries[0][0], "sqlite")] == per_user

        def by_backend(call: Callable[[str], Any]) -> dict[str, Callable[[], Any]]:
            return {backend: functools.partial(call, backend) for backend in dbs}

        measured: list[tuple[str, dict[str, float], str]] = []
        for label, query in queries:
            ms = _interleaved(by_backend(lambda b, q=query: clients[b].get_times(q)), rounds)
            name = "pg_reads " + label.format(found=checks[(label, "sqlite")])
            measured.append((name, ms, "TimeSync.get_times, max_age: cache"))
        store_query = by_backend(lambda b: stores[b].query_times(account, users=["u7"]))
        ms = _interleaved(store_query, rounds)
        measured.append((f"pg_reads Store.query_times user: {per_user}", ms, "the store alone"))
        entries = {
            b: sum(r["entries"] for r in clients[b].time_totals({}, cached_only=True)) for b in dbs
        }  # (the emulator's seed data holds a few times more)
        assert entries["sqlite"] == entries["postgresql"] >= total, entries
        totals = by_backend(lambda b: clients[b].time_totals({}, cached_only=True))
        ms = _interleaved(totals, max(5, rounds // 5))
        measured.append(
            (f"pg_reads time_totals: all {total}", ms, "report totals, summed in SQL, cached_only")
        )
        ms = _interleaved(by_backend(lambda b: stores[b].get_state(account, "fetched:time")), 500)
        measured.append(("pg_reads Store.get_state: one row", ms, "one read transaction"))
        for ts in clients.values():
            ts.close()
        for store in stores.values():
            store.close()
    figures = []
    for name, ms, what in measured:
        figures.append(
            Figure(
                name,
                ms["postgresql"],
                "ms",
                "",
                True,
                ms["sqlite"],
                f"the same on a SQLite file ({what})",
                note=""
                if "get_state" not in name
                else (
                    f"filling the cache (full fetch of {total}): PostgreSQL"
                    f" {fetch['postgresql']:.1f} s, SQLite {fetch['sqlite']:.1f} s"
                ),
            )
        )
    return figures


BENCHES: dict[str, Callable[[argparse.Namespace, Path], list[Figure]]] = {
    "writes": offline_writes,
    "reads": cached_reads,
    "bigcache": big_cache,
    "sync": sync_throughput,
    "cpu": client_overhead,
    "memory": memory,
    "startup": startup,
    "cli_log": cli_log,
    "report": cli_report,
    "import": cli_import,
    "pg_drain": pg_drain,
    "pg_reads": pg_reads,
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
        shown = "" if ratio is None else f"{ratio:.2f}x" if ratio < 10 else f"{ratio:.1f}x"
        print(
            f"{f.name:52} {f.value:10.2f} {f.unit:>4} {f.target:>15} {base:>13} {shown:>7}  "
            f"{'yes' if f.ok else 'NO'}"
        )
        for i, line in enumerate(f.baseline_name.splitlines()):
            print(f"{'':52}   {'baseline: ' if i == 0 else '          '}{line}")
        for line in f.note.splitlines():
            print(f"{'':52}   {line}")
    if args.json:
        args.json.write_text(json.dumps([f.__dict__ for f in figures], indent=2))
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"(benchmark process peak RSS {rss:.0f} MB)")
    return 0 if all(f.ok for f in figures) else 1


if __name__ == "__main__":
    sys.exit(main())
