"""pymesync benchmarks: ``.venv/bin/python tests/benchmarks/run.py [--rounds N]``.

Not collected by pytest (no ``test_`` names). Prints one table: each figure, its
target, and where there is a baseline measured in the same run, the ratio. Timings are
medians over many calls; run it on an otherwise idle machine and read the ratios.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pymesync
from pymesync.testing import run_emulator

YESTERDAY = (dt.datetime.now(dt.timezone.utc).date() - dt.timedelta(days=1)).isoformat()


@dataclass
class Figure:
    name: str
    value: float
    unit: str
    target: str
    ok: bool
    baseline: float | None = None
    baseline_name: str = ""


def median_ms(call: Callable[[int], Any], rounds: int) -> float:
    samples = []
    for i in range(rounds):
        start = time.perf_counter()
        call(i)
        samples.append((time.perf_counter() - start) * 1000)
    return statistics.median(samples)


def a_time(i: int) -> dict[str, Any]:
    return {
        "duration": 60 + i,
        "project": "gwm",
        "user": "alice",
        "date_worked": YESTERDAY,
        "activities": ["dev"],
        "notes": f"bench {i}",
    }


def offline_create(rounds: int, workdir: Path) -> list[Figure]:
    """Durable offline create_time (queue write, synchronous=FULL) vs. the old client's
    direct create_time over loopback to the emulator."""
    with run_emulator(seed_data=True) as emu:
        queued = pymesync.TimeSync(emu.base_url, mode="queue", db=workdir / "queue.sqlite3")
        queued.authenticate("alice", "alice", "password")
        queued.create_time(a_time(-1))  # open and migrate the store outside the timing
        direct = pymesync.TimeSync(emu.base_url, mode="direct")
        direct.authenticate("alice", "alice", "password")
        direct_ms = median_ms(lambda i: direct.create_time(a_time(i)), rounds)
        queued_ms = median_ms(lambda i: queued.create_time(a_time(i)), rounds)
    return [
        Figure(
            "durable offline create_time (median)",
            queued_ms,
            "ms",
            "<= 1 ms",
            queued_ms <= 1.0,
            direct_ms,
            "direct create_time to emulator",
        ),
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=300, help="calls per timing")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["PYMESYNC_DB"] = str(Path(tmp) / "default.sqlite3")
        figures = offline_create(args.rounds, Path(tmp))
    print(
        f"pymesync benchmarks on {platform.machine()} {platform.system()}, "
        f"{os.cpu_count()} CPUs, Python {platform.python_version()}"
    )
    header = f"{'figure':44} {'measured':>12} {'target':>10} {'baseline':>12} {'ratio':>7}  ok"
    print(header)
    print("-" * len(header))
    failures = 0
    for f in figures:
        base = "" if f.baseline is None else f"{f.baseline:.3f} {f.unit}"
        ratio = "" if f.baseline is None else f"{f.baseline / f.value:.1f}x"
        print(
            f"{f.name:44} {f.value:9.3f} {f.unit:2} {f.target:>10} {base:>12} {ratio:>7}  "
            f"{'yes' if f.ok else 'NO'}"
        )
        if f.baseline is not None:
            print(f"{'':44} (baseline: {f.baseline_name})")
        failures += not f.ok
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
