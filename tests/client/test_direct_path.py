"""The transport's direct path (keep-alive ``http.client`` connections) against the
path through ``requests``: which one is taken, and that both give the same answers and
the same errors, over real loopback HTTP."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from pymesync import errors, wire
from pymesync.testing import run_emulator
from pymesync.transport import Transport
from pymesync.validation import TimesQuery

TIME = {
    "duration": 600,
    "project": "gwm",
    "user": "alice",
    "date_worked": "2014-04-17",
    "activities": ["dev"],
}


@pytest.fixture(scope="module")
def emulator() -> Iterator[Any]:
    with run_emulator(seed_data=True) as emu:
        yield emu


@pytest.fixture
def emu(emulator: Any) -> Iterator[Any]:
    yield emulator
    emulator.clear_faults()


def token_of(emulator: Any) -> str:
    return str(emulator.issue_token("alice"))


class Counted(Transport):
    """A transport that records which path each request took."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.paths: list[str] = []

    def _send_direct(self, *args: Any) -> Any:
        self.paths.append("direct")
        return super()._send_direct(*args)

    def _send_session(self, *args: Any) -> Any:
        self.paths.append("session")
        return super()._send_session(*args)


def both(url: str, **options: Any) -> tuple[Counted, Counted]:
    """A transport on the direct path and one forced through ``requests``."""
    return Counted(url, **options), Counted(url, session=requests.Session(), **options)


def outcome(call: Any) -> Any:
    try:
        return ("ok", call())
    except errors.PymesyncError as error:
        return (
            type(error).__name__,
            str(error),
            error.transient,
            error.maybe_sent,
            getattr(error, "status", None),
            error.retry_after,
        )


# ---------------------------------------------------------------- which path


def test_own_session_takes_the_direct_path_and_keeps_its_connection(emu: Any) -> None:
    direct, via_requests = both(emu.base_url)
    token = token_of(emu)
    for transport in (direct, via_requests):
        for _ in range(5):
            transport.send(wire.times_request(TimesQuery()), token)
    assert direct.paths == ["direct"] * 5 and via_requests.paths == ["session"] * 5
    assert direct._pool is not None and len(direct._pool._idle) == 1  # one keep-alive


def test_requests_mock_sees_every_request(requests_mock: Any) -> None:
    transport = Counted("http://mocked.example/v0")
    requests_mock.get("http://mocked.example/v0/times?token=T", json=[])
    assert transport.send(wire.times_request(TimesQuery()), "T") == []
    assert transport.paths == ["session"] and requests_mock.call_count == 1


def test_a_proxy_from_the_environment_goes_through_requests(
    emu: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")  # nothing listens there
    monkeypatch.setenv("NO_PROXY", "")
    transport = Counted(emu.base_url, timeout=2)
    result = outcome(lambda: transport.send(wire.times_request(TimesQuery()), "T"))
    assert transport.paths == ["session"]
    assert result[0] == "ConnectionFailedError"


# ---------------------------------------------------------------- same answers


def test_same_answers_on_both_paths(emu: Any) -> None:
    direct, via_requests = both(emu.base_url)
    token = token_of(emu)
    created = [
        transport.send(wire.write_request("time", None, TIME), token)
        for transport in (direct, via_requests)
    ]
    for answer in created:
        assert {k: answer[k] for k in TIME if k != "activities"} == {
            k: v for k, v in TIME.items() if k != "activities"
        }
    uuid = created[0]["uuid"]
    got = [
        transport.send(wire.times_request(TimesQuery(uuid=uuid)), token)
        for transport in (direct, via_requests)
    ]
    assert got[0] == got[1] and got[0]["uuid"] == uuid
    deleted = [
        outcome(lambda t=transport, u=answer["uuid"]: t.send(wire.delete_request("time", u), token))
        for transport, answer in zip((direct, via_requests), created, strict=True)
    ]
    assert deleted == [("ok", None), ("ok", None)]


FAULTS = [
    ("fail 500", lambda emu: emu.fail_next(status=500)),
    ("fail 502 html", lambda emu: emu.fail_next(status=502)),
    ("rate limited", lambda emu: emu.rate_limit_next(retry_after=7)),
    ("lost response", lambda emu: emu.lose_response_next()),
    ("dropped before commit", lambda emu: emu.drop_before_commit_next()),
    ("garbage body", lambda emu: emu.garble_next(mode="garbage")),
    ("truncated body", lambda emu: emu.garble_next(mode="truncate")),
    ("short body", lambda emu: emu.garble_next(mode="short")),
]


READABLE = {
    "lost response": "the connection was closed before a response arrived",
    "dropped before commit": "the connection was closed before a response arrived",
    "short body": "the connection broke before the whole response arrived",
}


@pytest.mark.parametrize("name,fault", FAULTS, ids=[name for name, _ in FAULTS])
def test_same_errors_on_both_paths(emu: Any, name: str, fault: Any) -> None:
    direct, via_requests = both(emu.base_url)
    token = token_of(emu)
    results = []
    for transport in (direct, via_requests):
        fault(emu)
        results.append(
            outcome(lambda t=transport: t.send(wire.write_request("time", None, TIME), token))
        )
    assert results[0][0] != "ok", results
    assert results[0] == results[1]
    if name in READABLE:
        assert results[0][1].endswith(" - " + READABLE[name]) and results[0][3] is True
    assert direct.paths == ["direct"] and via_requests.paths == ["session"]


def test_same_error_for_a_wrong_prefix(emu: Any) -> None:
    direct, via_requests = both(emu.root_url)  # without /v0: an HTML 404
    results = [
        outcome(lambda t=t: t.send(wire.times_request(TimesQuery()), "T"))
        for t in (direct, via_requests)
    ]
    assert results[0][0] == "WrongPrefixError" and results[0] == results[1]


def test_same_error_for_a_read_timeout(emu: Any) -> None:
    direct, via_requests = both(emu.base_url, timeout=0.3)
    emu.add_latency(1.0)
    results = [
        outcome(lambda t=t: t.send(wire.times_request(TimesQuery()), "T"))
        for t in (direct, via_requests)
    ]
    assert results[0][:2] == (
        "ConnectionFailedError",
        f"connection to TimeSync failed at baseurl {emu.base_url} - no response within 0.3 seconds",
    )
    assert results[0] == results[1] and results[0][3] is True  # maybe sent


def test_same_error_for_a_refused_connection() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"http://127.0.0.1:{port}/v0"
    direct, via_requests = both(url, timeout=2)
    results = [
        outcome(lambda t=t: t.send(wire.times_request(TimesQuery()), "T"))
        for t in (direct, via_requests)
    ]
    assert results[0][:2] == (
        "ConnectionFailedError",
        f"connection to TimeSync failed at baseurl {url} - could not connect: Connection refused",
    )
    assert results[0] == results[1] and results[0][3] is False  # certainly not sent
    assert direct.paths == ["direct"]


def test_the_token_is_never_in_a_direct_path_error(emu: Any) -> None:
    transport = Counted(emu.base_url)
    secret = "s3cr3t/token+value="
    emu.garble_next(mode="short", method="GET")
    result = outcome(lambda: transport.send(wire.times_request(TimesQuery()), secret))
    assert transport.paths == ["direct"] and result[0] != "ok"
    assert secret not in repr(result) and "s3cr3t" not in repr(result)


def test_importing_pymesync_loads_no_http_stack_or_database() -> None:
    import subprocess
    import sys

    heavy = (
        "http.client",
        "requests",
        "urllib3",
        "sqlalchemy",
        "alembic",
        "bcrypt",
        "tenacity",
        "click",
        "pymesync.connections",
        "pymesync.fastlane",
    )
    code = f"import sys, pymesync; print(sorted(m for m in {heavy!r} if m in sys.modules))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.stdout.strip() == "[]", done.stderr
