"""Sending the simple creates of a sync pass from the pass's own thread.

Most operations of a long queue are creates of times whose project is cached: one POST
each, whose answer is all there is to record. :class:`FastLane` sends those over the
transport's direct path, many at once, and waits for their answers with a selector in
the thread that runs the pass, instead of handing each to a sending thread: switching
threads and waiting for the GIL cost more CPU than the request itself.

The lane only ever makes the first attempt. Whatever goes wrong (an error answer, a
connection that breaks, a timeout) comes back as a :class:`Prior` failure, and the
operation goes on in a sending thread exactly as if that thread had made the attempt
(:meth:`pymesync.sync.SyncWorker._push`): retried, reconciled, or recorded as failed.
"""

from __future__ import annotations

import contextlib
import selectors
import socket
import time
from dataclasses import dataclass
from http.client import HTTPException
from typing import TYPE_CHECKING, Any

from pymesync import errors, wire
from pymesync.connections import ConnectError, Exchange
from pymesync.sender import server_key

if TYPE_CHECKING:
    from pymesync.sender import Sender
    from pymesync.store import Operation
    from pymesync.sync import OpResult
    from pymesync.transport import Transport


@dataclass(frozen=True)
class Prior:
    """The lane's attempt failed with ``error`` (``error.maybe_sent`` says whether the
    server may have carried it out)."""

    error: errors.PymesyncError


class FastLane:
    """The exchanges of one pass in flight on its own thread. Not thread-safe, except
    :meth:`wake`, which any thread may call to end a :meth:`wait` early."""

    def __init__(self, transport: Transport, sender: Sender) -> None:
        self.transport = transport
        self.sender = sender
        #: False once the direct path is not available or the server not reachable:
        #: everything then goes to the sending threads for the rest of the pass.
        self.enabled = True
        self._selector = selectors.DefaultSelector()
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._wake_w.setblocking(False)
        self._selector.register(self._wake_r, selectors.EVENT_READ, None)
        self._exchanges: dict[Exchange, tuple[Operation, str]] = {}

    def __len__(self) -> int:
        """How many exchanges are in flight."""
        return len(self._exchanges)

    def start(self, op: Operation, token: str) -> bool | Prior:
        """Send the create ``op``: True once sent, False when it cannot go this way
        (nothing was sent), or the :class:`Prior` failure of sending it."""
        request = wire.write_request(op.entity, None, dict(op.payload or {}))
        prepared = self.transport.direct(request, token)
        if prepared is None:
            self.enabled = False
            return False
        try:
            exchange = prepared.pool.begin(
                prepared.method, prepared.target, prepared.body, prepared.headers
            )
        except (ConnectError, OSError, HTTPException, ValueError) as exc:
            if isinstance(exc, ConnectError):
                self.enabled = False  # no more blocking connects to it in this pass
            return Prior(self.transport.failure(exc, token))
        self._exchanges[exchange] = (op, token)
        self._selector.register(exchange.conn.sock, selectors.EVENT_READ, exchange)
        return True

    def wait(self, timeout: float | None) -> list[tuple[Operation, OpResult | Prior]]:
        """Wait up to ``timeout`` seconds (None: until something happens) for answers,
        a timeout or a :meth:`wake`; return the exchanges that ended."""
        deadlines = [e.deadline for e in self._exchanges if e.deadline is not None]
        if deadlines:
            due = max(0.0, min(deadlines) - time.monotonic())
            timeout = due if timeout is None else min(timeout, due)
        ended: list[tuple[Operation, OpResult | Prior]] = []
        for key, _ in self._selector.select(timeout):
            exchange = key.data
            if exchange is None:
                self._drain_wake()
                continue
            try:
                answer = exchange.on_readable()
            except (OSError, HTTPException, ValueError) as exc:
                op, token = self._end(exchange)
                ended.append((op, Prior(self.transport.failure(exc, token))))
                continue
            if answer is not None:
                op, token = self._end(exchange)
                ended.append((op, self._result(op, token, *answer)))
        now = time.monotonic()
        overdue = [e for e in self._exchanges if e.deadline is not None and e.deadline <= now]
        for exchange in overdue:
            op, token = self._end(exchange)
            exchange.abort()
            ended.append((op, Prior(self.transport.failure(TimeoutError(), token))))
        return ended

    def wake(self) -> None:
        """End the current (or next) :meth:`wait` early; safe from any thread."""
        with contextlib.suppress(OSError):  # full: a wake-up is pending anyway
            self._wake_w.send(b"\0")

    def close(self) -> None:
        """Drop every exchange still in flight (their connections are closed)."""
        for exchange in list(self._exchanges):
            self._end(exchange)
            exchange.abort()
        self._selector.close()
        self._wake_r.close()
        self._wake_w.close()

    def _end(self, exchange: Exchange) -> tuple[Operation, str]:
        with contextlib.suppress(KeyError, ValueError, OSError):
            self._selector.unregister(exchange.conn.sock)
        return self._exchanges.pop(exchange)

    def _drain_wake(self) -> None:
        with contextlib.suppress(OSError):
            while self._wake_r.recv(4096):
                pass

    def _result(
        self, op: Operation, token: str, status: int, content: bytes, headers: Any
    ) -> OpResult | Prior:
        from pymesync.sync import OpResult

        try:
            answer = self.sender.written(self.transport.answer(status, content, headers))
        except errors.PymesyncError as error:
            return Prior(error)
        canonical = self.sender.created_time(answer)
        if canonical is None:  # the project left the cache meanwhile: ask the server
            canonical = self.sender.canonical(op.entity, answer, token)
        return OpResult(
            op.op_id,
            op.entity,
            op.kind,
            op.target,
            "synced",
            answer=answer,
            canonical=canonical,
            server_key=server_key(op.entity, canonical),
        )
