"""An emulator in a separate process (``python -m pymesync.testing``), killable and
restartable on the same port and database."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress

from .remote import RemoteControl

_LISTENING = re.compile(r"listening on (\S+)")


class EmulatorProcess(RemoteControl):
    """A child process running the emulator; steer it with the :class:`RemoteControl`
    methods inherited by this class (same names as the in-process handle)."""

    def __init__(
        self,
        *,
        port: int = 0,
        seed_data: bool = False,
        db: str | None = None,
        prefix: str = "/v0",
        host: str = "127.0.0.1",
        startup_timeout: float = 20.0,
    ) -> None:
        """Configure; :meth:`start` launches the process."""
        self.port = port
        self.seed_data = seed_data
        self.db = db
        self.prefix = prefix
        self.host = host
        self.startup_timeout = startup_timeout
        self.base_url = ""
        self.root_url = ""
        self.admin_url = ""
        self.timeout = 10.0
        self._proc: subprocess.Popen[bytes] | None = None
        self._log_path: str | None = None

    @property
    def pid(self) -> int | None:
        """Process id of the running child, if any."""
        return self._proc.pid if self._proc is not None else None

    def is_running(self) -> bool:
        """True while the child process is alive."""
        return self._proc is not None and self._proc.poll() is None

    def output(self) -> str:
        """Everything the current child printed so far."""
        if self._log_path is None:
            return ""
        with open(self._log_path, encoding="utf-8", errors="replace") as handle:
            return handle.read()

    def start(self) -> EmulatorProcess:
        """Launch the child (on the same port as before, after the first start) and wait
        until it answers."""
        if self.is_running():
            raise RuntimeError("emulator process already running")
        self._cleanup_log()
        fd, self._log_path = tempfile.mkstemp(prefix="timesync-emulator-", suffix=".log")
        cmd = [
            sys.executable,
            "-m",
            "pymesync.testing",
            "--port",
            str(self.port),
            "--host",
            self.host,
            "--prefix",
            self.prefix,
        ]
        if self.seed_data:
            cmd.append("--seed-data")
        if self.db:
            cmd += ["--db", self.db]
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        with os.fdopen(fd, "wb") as log:
            self._proc = subprocess.Popen(
                cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env
            )
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            found = _LISTENING.search(self.output())
            if found:
                self.base_url = found.group(1)
                self._set_url(self.base_url)
                self.port = int(self.root_url.rsplit(":", 1)[1])
                return self
            if self._proc.poll() is not None:
                break
            time.sleep(0.02)
        output = self.output()
        self.kill()
        raise RuntimeError(f"emulator process did not start:\n{output}")

    def kill(self) -> None:
        """SIGKILL the child (a crash: nothing is flushed beyond committed writes)."""
        if self._proc is not None:
            if self._proc.poll() is None:
                self._proc.kill()
            self._proc.wait(timeout=10)

    def terminate(self, timeout: float = 10.0) -> None:
        """SIGTERM the child and wait for its clean shutdown (SIGKILL after ``timeout``)."""
        if self._proc is not None and self._proc.poll() is None:
            self._proc.send_signal(signal.SIGTERM)
            try:
                self._proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.kill()

    def restart_process(self, *, hard: bool = True) -> EmulatorProcess:
        """Kill (``hard``) or terminate the child, then start a new one on the same port."""
        if hard:
            self.kill()
        else:
            self.terminate()
        return self.start()

    def stop(self) -> None:
        """Terminate the child and remove its log file."""
        self.terminate()
        self._cleanup_log()

    def _cleanup_log(self) -> None:
        if self._log_path is not None:
            with suppress(OSError):
                os.unlink(self._log_path)
            self._log_path = None

    def __enter__(self) -> EmulatorProcess:
        """Start if needed."""
        if not self.is_running():
            self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        """Stop."""
        self.stop()


@contextmanager
def run_emulator_process(
    *,
    port: int = 0,
    seed_data: bool = False,
    db: str | None = None,
    prefix: str = "/v0",
    host: str = "127.0.0.1",
    startup_timeout: float = 20.0,
) -> Iterator[EmulatorProcess]:
    """Run an emulator in a child process for the duration of a ``with`` block."""
    emulator = EmulatorProcess(
        port=port,
        seed_data=seed_data,
        db=db,
        prefix=prefix,
        host=host,
        startup_timeout=startup_timeout,
    )
    try:
        emulator.start()
        yield emulator
    finally:
        emulator.stop()
