"""A TCP proxy on loopback that adds a fixed latency, for the sync benchmarks.

Standard library only. It runs in its own process (``latency_proxy()`` starts it with
``subprocess``), so its CPU is never counted as the client's.

What is delayed: every chunk going **server -> client** is held for ``delay`` seconds
from the moment the proxy reads it, then written in order; the client -> server direction
is forwarded at once. So each request/answer exchange takes ``delay`` longer, however many
are in flight: the delay is a pipe, not a queue (a second answer read 1 ms after the first
goes out 1 ms after it, not ``delay`` after it). EOF and close from the server are delayed
the same way, behind the data. Each client connection gets its own upstream connection,
so keep-alive connections stay keep-alive end to end, and any number of them can be open
at once (one asyncio event loop; TCP_NODELAY on both sides, as asyncio sets it).

Use::

    with latency_proxy("127.0.0.1", emu.port, delay=0.020) as url:   # "http://127.0.0.1:PORT"
        check(url, "/_emulator/health")    # each GET takes >= 20 ms and < 60 ms
        ...

From a shell: ``python tests/benchmarks/latency_proxy.py HOST PORT [--delay 0.02]`` serves
until SIGTERM/SIGINT (``--exit-on-stdin-eof``: or until its stdin is closed, which is how
``latency_proxy()`` makes sure it never outlives the benchmark); ``--self-check`` instead starts an
emulator process and a proxy in front of it and prints a few GET timings.
"""

from __future__ import annotations

import argparse
import asyncio
import http.client
import os
import signal
import subprocess
import sys
import time
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit

# asyncio may run a timer up to the clock's resolution early; allow for it.
_SLACK = time.get_clock_info("monotonic").resolution


class _Downstream(asyncio.Protocol):
    """One client connection, plus the delayed answers going back to it."""

    def __init__(self, target: tuple[str, int], delay: float) -> None:
        self.loop = asyncio.get_running_loop()
        self.target = target
        self.delay = delay
        self.transport: asyncio.Transport | None = None
        self.upstream: asyncio.Transport | None = None
        self.early: list[bytes] = []  # client bytes read before the upstream connected
        self.early_eof = False
        self.later: deque[tuple[float, bytes | None]] = deque()  # b"" = EOF, None = close
        self.timer: asyncio.TimerHandle | None = None
        self.closed = False

    # client -> server: at once
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self.loop.create_task(self._connect())

    async def _connect(self) -> None:
        try:
            upstream, _ = await self.loop.create_connection(lambda: _Upstream(self), *self.target)
        except OSError:
            if self.transport is not None:
                self.transport.close()
            return
        if self.closed:
            upstream.close()
            return
        self.upstream = upstream
        for chunk in self.early:
            upstream.write(chunk)
        self.early.clear()
        if self.early_eof and upstream.can_write_eof():
            upstream.write_eof()

    def data_received(self, data: bytes) -> None:
        if self.upstream is None:
            self.early.append(data)
        else:
            self.upstream.write(data)

    def eof_received(self) -> bool:
        if self.upstream is None:
            self.early_eof = True
        elif self.upstream.can_write_eof():
            self.upstream.write_eof()
        return True  # keep our side open: answers may still be on their way

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.later.clear()
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        if self.upstream is not None:
            self.upstream.close()

    # flow control: a slow client pauses reading from the server, and the other way round
    def pause_writing(self) -> None:
        if self.upstream is not None:
            self.upstream.pause_reading()

    def resume_writing(self) -> None:
        if self.upstream is not None:
            self.upstream.resume_reading()

    # server -> client: after the delay, in order
    def send_later(self, data: bytes | None) -> None:
        if self.closed:
            return
        due = self.loop.time() + self.delay
        self.later.append((due, data))
        if self.timer is None:
            self.timer = self.loop.call_at(due, self._flush)

    def _flush(self) -> None:
        self.timer = None
        now = self.loop.time() + _SLACK
        transport = self.transport
        while self.later and self.later[0][0] <= now and not self.closed:
            _, data = self.later.popleft()
            assert transport is not None
            if data:
                transport.write(data)
            elif data is None:
                transport.close()
                self.closed = True
            elif transport.can_write_eof():
                transport.write_eof()
        if self.later and not self.closed:
            self.timer = self.loop.call_at(self.later[0][0], self._flush)


class _Upstream(asyncio.Protocol):
    """The connection to the server for one client connection."""

    def __init__(self, down: _Downstream) -> None:
        self.down = down

    def data_received(self, data: bytes) -> None:
        self.down.send_later(data)

    def eof_received(self) -> bool:
        self.down.send_later(b"")
        return True

    def connection_lost(self, exc: Exception | None) -> None:
        self.down.send_later(None)

    def pause_writing(self) -> None:
        if self.down.transport is not None:
            self.down.transport.pause_reading()

    def resume_writing(self) -> None:
        if self.down.transport is not None:
            self.down.transport.resume_reading()


async def serve(
    target_host: str,
    target_port: int,
    delay: float,
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    announce: bool = True,
    exit_on_stdin_eof: bool = False,
) -> None:
    """Serve until SIGTERM/SIGINT (or, with ``exit_on_stdin_eof``, until stdin reaches
    EOF: the parent that holds the other end of the pipe went away)."""
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: _Downstream((target_host, target_port), delay), host, port, backlog=512
    )
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)

    def stdin_readable() -> None:
        if not os.read(sys.stdin.fileno(), 4096):
            loop.remove_reader(sys.stdin.fileno())
            stop.set()

    if exit_on_stdin_eof:
        loop.add_reader(sys.stdin.fileno(), stdin_readable)
    if announce:
        bound = server.sockets[0].getsockname()[1]
        print(f"latency proxy listening on {host}:{bound}", flush=True)
    async with server:
        await stop.wait()


class ProxyURL(str):
    """The proxy's root URL, ``http://HOST:PORT``; ``pid`` is the proxy's process."""

    pid: int


@contextmanager
def latency_proxy(
    target_host: str, target_port: int, delay: float = 0.020, *, host: str = "127.0.0.1"
) -> Iterator[ProxyURL]:
    """Run the proxy in a child process; yields its root URL (a ``ProxyURL``)."""
    proc = subprocess.Popen(
        [
            *(sys.executable, str(Path(__file__).resolve()), target_host, str(target_port)),
            *("--delay", repr(delay), "--host", host, "--exit-on-stdin-eof"),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        if not line.startswith("latency proxy listening on "):
            raise RuntimeError(f"the latency proxy did not start (said {line!r})")
        url = ProxyURL(f"http://{host}:{int(line.rsplit(':', 1)[1])}")
        url.pid = proc.pid
        yield url
    finally:
        if proc.stdin is not None:
            proc.stdin.close()
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()


def check(url: str, path: str = "/", delay: float = 0.020, rounds: int = 5) -> list[float]:
    """GET ``path`` through the proxy ``rounds`` times over one keep-alive connection;
    every one must take at least ``delay`` and less than ``delay + 40 ms``. Returns the
    timings in ms."""
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=10)
    timings = []
    try:
        for _ in range(rounds):
            start = time.perf_counter()
            conn.request("GET", path)
            response = conn.getresponse()
            response.read()
            took = time.perf_counter() - start
            timings.append(took * 1000)
            if response.status != 200:
                raise AssertionError(f"GET {path} through the proxy: HTTP {response.status}")
            if not delay <= took < delay + 0.040:
                raise AssertionError(
                    f"GET {path} through the proxy took {took * 1000:.1f} ms "
                    f"(expected >= {delay * 1000:.0f} and < {delay * 1000 + 40:.0f} ms)"
                )
    finally:
        conn.close()
    return timings


def _self_check(delay: float) -> None:
    from pymesync.testing import run_emulator_process

    with run_emulator_process(seed_data=True) as emu:
        direct = urlsplit(emu.base_url)
        with latency_proxy(direct.hostname or "127.0.0.1", emu.port, delay) as url:
            timings = check(url, "/_emulator/health", delay)
    print(f"ok: GET through {url}: " + ", ".join(f"{t:.1f}" for t in timings) + " ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("target_host", nargs="?", default="127.0.0.1")
    parser.add_argument("target_port", nargs="?", type=int)
    parser.add_argument("--delay", type=float, default=0.020, help="seconds (default 0.020)")
    parser.add_argument("--host", default="127.0.0.1", help="listen address")
    parser.add_argument("--port", type=int, default=0, help="listen port (default: any free)")
    parser.add_argument(
        "--exit-on-stdin-eof", action="store_true", help="stop when stdin is closed"
    )
    parser.add_argument("--self-check", action="store_true", help="start an emulator and check")
    args = parser.parse_args()
    if args.self_check:
        _self_check(args.delay)
        return
    if args.target_port is None:
        parser.error("target_port is required")
    asyncio.run(
        serve(
            args.target_host,
            args.target_port,
            args.delay,
            args.host,
            args.port,
            exit_on_stdin_eof=args.exit_on_stdin_eof,
        )
    )


if __name__ == "__main__":
    main()
