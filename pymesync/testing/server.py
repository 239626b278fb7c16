"""Starting and stopping an emulator: :class:`Emulator`, :func:`run_emulator`, :func:`serve`."""

from __future__ import annotations

import signal
import socket
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from datetime import datetime
from http.server import ThreadingHTTPServer
from types import FrameType
from typing import Any

from .admin import ADMIN_ROOT
from .clock import Clock, FrozenClock, OffsetClock, as_utc, utc_now
from .control import EmulatorControls
from .faults import FaultPlan, make_fault
from .handlers import Handler
from .persist import SnapshotFile
from .seed import ADMIN_PASSWORD, ADMIN_USERNAME, initial_store
from .state import Store
from .stats import RequestStats
from .tokens import TokenTable

DEFAULT_INSTANCE_NAME = "timesync-emulator"
"""The token ``iss`` of an emulator unless told otherwise."""


class EmulatorHTTPServer(ThreadingHTTPServer):
    """A threaded HTTP server that knows its emulator and its open connections."""

    daemon_threads = True
    allow_reuse_address = True
    block_on_close = False
    # Node's default listen backlog (socketserver's is 5: a client opening a few dozen
    # keep-alive connections at once would see SYNs dropped and retried a second later)
    request_queue_size = 511

    def __init__(self, address: tuple[str, int], emulator: Emulator) -> None:
        """Bind ``address`` for ``emulator``."""
        self.emulator = emulator
        # set by shutdown(): ends the waits of hang, slow_answer and trickle faults
        self.stopping = threading.Event()
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        super().__init__(address, Handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        """Remember the connection, then serve it in a thread."""
        with self._connections_lock:
            self._connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        """Forget the connection and close it."""
        with self._connections_lock:
            self._connections.discard(request)
        super().shutdown_request(request)

    def shutdown(self) -> None:
        """Release the requests held by a fault, then stop the serve loop."""
        self.stopping.set()
        super().shutdown()

    def close_connections(self) -> None:
        """Hang up every open connection (idle keep-alive ones included)."""
        with self._connections_lock:
            connections = list(self._connections)
        for conn in connections:
            with suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Ignore clients that hang up; report other errors only when verbose."""
        exc = sys.exc_info()[1]
        if isinstance(exc, OSError) or not self.emulator.verbose:
            return
        super().handle_error(request, client_address)


class Emulator(EmulatorControls):
    """A TimeSync server emulator; also the in-process control handle.

    ``clock`` is a public attribute: assign any callable returning a datetime (naive =
    UTC) to control "now" (dates and token expiry), or use :meth:`set_clock`.
    """

    def __init__(
        self,
        *,
        seed_data: bool = False,
        db: str | None = None,
        prefix: str = "/v0",
        host: str = "127.0.0.1",
        port: int = 0,
        instance_name: str = DEFAULT_INSTANCE_NAME,
        clock: Clock | None = None,
        verbose: bool = False,
    ) -> None:
        """Configure an emulator; :meth:`start` binds the port."""
        self.seed_data = seed_data
        self.prefix = "/" + prefix.strip("/") if prefix.strip("/") else ""
        self.host = host
        self.port = port
        self.verbose = verbose
        self.clock: Clock = clock or utc_now
        self.lock = threading.RLock()
        self.tokens = TokenTable(instance_name)
        self.fault_plan = FaultPlan()
        self.request_stats = RequestStats()
        self._db = SnapshotFile(db) if db else None
        stored = self._db.load() if self._db else None
        self.store: Store = (
            Store.restore(stored) if stored is not None else initial_store(seed_data, self.clock())
        )
        if stored is None:
            self.persist()
        self._server: EmulatorHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # --- lifecycle -----------------------------------------------------------------------

    def start(self) -> Emulator:
        """Bind and serve in a daemon thread; returns self."""
        if self._server is not None:
            raise RuntimeError("emulator already started")
        self._server = EmulatorHTTPServer((self.host, self.port), self)
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.01},
            name=f"timesync-emulator-{self.port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving, hang up open connections and close the database."""
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.close_connections()
            server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        if self._db is not None:
            self._db.close()
            self._db = None

    def __enter__(self) -> Emulator:
        """Start if needed."""
        if self._server is None:
            self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        """Stop."""
        self.stop()

    @property
    def root_url(self) -> str:
        """``http://host:port`` of the server."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def base_url(self) -> str:
        """The API base URL, e.g. ``http://127.0.0.1:PORT/v0``."""
        return self.root_url + self.prefix

    @property
    def admin_url(self) -> str:
        """The admin endpoint, e.g. ``http://127.0.0.1:PORT/_emulator``."""
        return self.root_url + ADMIN_ROOT

    def api_subpath(self, path: str) -> str | None:
        """``path`` relative to the API prefix, or None if it is outside it."""
        if not self.prefix:
            return path
        if path == self.prefix:
            return "/"
        if path.startswith(self.prefix + "/"):
            return path[len(self.prefix) :]
        return None

    def persist(self) -> None:
        """Write the store to the database, if there is one (call with the lock held)."""
        if self._db is not None:
            with self.lock:
                self._db.save(self.store.snapshot())

    # --- controls ------------------------------------------------------------------------

    def add_fault(self, kind: str, **params: Any) -> dict[str, Any]:
        """Activate a fault rule; raises ValueError for bad parameters."""
        return self.fault_plan.add(make_fault(kind, params)).describe()

    def faults(self) -> list[dict[str, Any]]:
        """The active fault rules."""
        return self.fault_plan.describe()

    def clear_faults(self) -> None:
        """Remove every fault rule."""
        self.fault_plan.clear()

    def stats(self) -> dict[str, Any]:
        """Request counters."""
        return self.request_stats.snapshot()

    def request_count(self, route: str | None = None) -> int:
        """Requests counted for ``"METHOD /template"``, or in total."""
        return self.request_stats.get(route)

    def reset_stats(self) -> None:
        """Zero the counters."""
        self.request_stats.reset()

    def restart(self) -> None:
        """Invalidate every token (a simulated restart); data and faults are kept."""
        self.tokens.invalidate_all()

    def reset(self) -> None:
        """Initial data again; no tokens, faults or counters."""
        with self.lock:
            self.store = initial_store(self.seed_data, self.clock())
            self.persist()
        self.tokens.invalidate_all()
        self.fault_plan.clear()
        self.request_stats.reset()

    def set_clock(self, now: datetime | None) -> None:
        """Freeze the clock at ``now``, or return to real time with None."""
        self.clock = utc_now if now is None else FrozenClock(now)

    def advance_clock(self, seconds: float) -> None:
        """Move the clock by ``seconds``."""
        if isinstance(self.clock, (FrozenClock, OffsetClock)):
            self.clock.advance(seconds)
        else:
            self.clock = OffsetClock(self.clock, seconds)

    def now(self) -> datetime:
        """The emulator's current time (aware, UTC)."""
        return as_utc(self.clock())

    def issue_token(self, username: str) -> str:
        """A valid token for an existing user; ValueError for an unknown one."""
        with self.lock:
            if username not in self.store.users:
                raise ValueError(f"no user {username!r}")
        return self.tokens.issue(username, int(self.now().timestamp() * 1000))


@contextmanager
def run_emulator(
    *,
    seed_data: bool = False,
    db: str | None = None,
    prefix: str = "/v0",
    host: str = "127.0.0.1",
    port: int = 0,
    instance_name: str = DEFAULT_INSTANCE_NAME,
    clock: Clock | None = None,
    verbose: bool = False,
) -> Iterator[Emulator]:
    """Run an emulator in a background thread for the duration of a ``with`` block."""
    emulator = Emulator(
        seed_data=seed_data,
        db=db,
        prefix=prefix,
        host=host,
        port=port,
        instance_name=instance_name,
        clock=clock,
        verbose=verbose,
    )
    try:
        emulator.start()
        yield emulator
    finally:
        emulator.stop()


def serve(
    port: int = 0,
    seed_data: bool = False,
    db: str | None = None,
    prefix: str = "/v0",
    host: str = "127.0.0.1",
) -> None:
    """Run an emulator until SIGINT or SIGTERM, printing its URLs and the admin login."""
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    emulator = Emulator(seed_data=seed_data, db=db, prefix=prefix, host=host, port=port)
    try:
        emulator.start()
        print(f"TimeSync emulator listening on {emulator.base_url}", flush=True)
        print(f"Admin controls: {emulator.admin_url}", flush=True)
        print(f"Admin account: username={ADMIN_USERNAME} password={ADMIN_PASSWORD}", flush=True)
        while not stop.wait(0.2):
            pass
    finally:
        emulator.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        print("TimeSync emulator stopped", flush=True)
