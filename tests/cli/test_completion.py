"""Shell completion as the shells run it: the real executable with click's completion
variables (``_PYMESYNC_COMPLETE=bash_complete``, ``COMP_WORDS``, ``COMP_CWORD``),
offering project and activity slugs, entry ids and failed operation ids from the local
store only; and nothing, silently, with no store, no configuration or a damaged one."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from .helpers import Pymesync


def complete(
    pymesync: Pymesync, line: str, shell: str = "bash", env: dict[str, str] | None = None
) -> tuple[list[str], subprocess.CompletedProcess[str]]:
    """The values the shell would offer for the command line ``line`` (the cursor at
    its end), and the finished process."""
    words = line.split()
    incomplete = "" if line.endswith(" ") else words[-1]
    if shell == "fish":
        extra = {"COMP_WORDS": line, "COMP_CWORD": incomplete}
    else:
        cword = len(words) if line.endswith(" ") else len(words) - 1
        extra = {"COMP_WORDS": line, "COMP_CWORD": str(cword)}
    done = subprocess.run(
        [pymesync.exe],
        capture_output=True,
        text=True,
        env={**pymesync.env, "_PYMESYNC_COMPLETE": f"{shell}_complete", **extra, **(env or {})},
        timeout=30,
        stdin=subprocess.DEVNULL,
    )
    if shell == "bash":
        values = [line.split(",", 1)[1] for line in done.stdout.splitlines() if line]
    elif shell == "zsh":
        lines = done.stdout.splitlines()
        values = [lines[i + 1] for i in range(0, len(lines) - 2, 3)]
    else:
        values = [line.split(",", 1)[1] for line in done.stdout.splitlines() if line]
    return values, done


@pytest.fixture
def alice(pymesync: Pymesync, emu: Any) -> Any:
    """alice logged in (the project and activity lists cached), one entry synced, one
    logged while the server was down (queued under its local uuid) and one the server
    refused (a failed operation)."""
    pymesync("config", "set", "base_url", emu.base_url)
    pymesync("config", "set", "username", "alice")
    pymesync("login", "--password-stdin", input="alice\n")
    synced = pymesync("log", "1h30m", "-p", "gwm", "-a", "dev", "-n", "design review")
    emu.synced = synced.stdout.split("synced as ")[1].strip()
    pymesync("log", "1h", "-p", "ps", "-a", "dev", "-n", "not a member", code=4)
    emu.fail_next(10**6, status=503)
    queued = pymesync("log", "20m", "-p", "ts", "-a", "docs", "-n", "offline")
    emu.local = queued.stdout.split(" as ")[1].split(":")[0]
    emu.clear_faults()
    return emu


def test_project_and_activity_slugs_come_from_the_cache(pymesync: Pymesync, alice: Any) -> None:
    requests = alice.request_count()
    values, done = complete(pymesync, "pymesync log 1h -p g")
    assert values == ["ganeti-webmgr", "gwm"], done
    assert done.returncode == 0 and done.stderr == ""
    assert complete(pymesync, "pymesync start --project ")[0] == [
        "ganeti-webmgr",
        "gwm",
        "ps",
        "pymesync",
        "timesync",
        "ts",
    ]
    assert complete(pymesync, "pymesync log 1h -a d")[0] == ["dev", "docs"]
    assert complete(pymesync, "pymesync edit abc --activity ")[0] == ["dev", "docs", "plan"]
    assert complete(pymesync, "pymesync times -p t")[0] == ["timesync", "ts"]
    assert complete(pymesync, "pymesync report -p t")[0] == ["timesync", "ts"]
    assert complete(pymesync, "pymesync export --activity p")[0] == ["plan"]
    assert complete(pymesync, "pymesync log 1h -p nothing-like-it")[0] == []
    assert alice.request_count() == requests  # never the network


def test_entry_ids_with_what_they_are(pymesync: Pymesync, alice: Any) -> None:
    values, _ = complete(pymesync, "pymesync edit ")
    assert alice.synced in values and alice.local in values
    assert complete(pymesync, f"pymesync rm {alice.synced[:3]}")[0] == [alice.synced]
    assert complete(pymesync, f"pymesync edit {alice.local[:5]}")[0] == [alice.local]
    done = complete(pymesync, f"pymesync rm {alice.synced[:6]}", shell="zsh")[1]
    assert done.stdout.splitlines()[1:3] == [
        alice.synced,
        f"1h30m gwm dev 'design review' on {_today()}",
    ]
    fish = complete(pymesync, f"pymesync rm {alice.synced[:6]}", shell="fish")[1]
    assert fish.stdout.startswith(f"plain,{alice.synced}\t1h30m gwm dev"), fish.stdout


def test_failed_operation_ids(pymesync: Pymesync, alice: Any) -> None:
    failed = pymesync.json("failed", "list")
    assert len(failed) == 1
    assert complete(pymesync, "pymesync failed discard ")[0] == [failed[0]["op_id"]]
    assert complete(pymesync, f"pymesync failed retry {failed[0]['op_id'][:4]}")[0] == [
        failed[0]["op_id"]
    ]


def test_a_completion_answers_fast(pymesync: Pymesync, alice: Any) -> None:
    took = []
    for _ in range(3):
        start = time.perf_counter()
        values, _ = complete(pymesync, "pymesync log 1h -p ")
        took.append(time.perf_counter() - start)
        assert values
    assert min(took) < 1.0, took  # (about 0.2 s on a quiet machine: start-up included)
    imported = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "pymesync.cli"],
        capture_output=True,
        text=True,
        env={
            **pymesync.env,
            "_PYMESYNC_COMPLETE": "bash_complete",
            "COMP_WORDS": "pymesync edit ",
            "COMP_CWORD": "2",
        },
        timeout=30,
    )
    modules = {line.rsplit("|", 1)[-1].strip() for line in imported.stderr.splitlines()}
    assert alice.synced in imported.stdout
    assert not {"sqlalchemy", "requests", "alembic"} & modules


def test_nothing_and_no_noise_without_a_usable_store(
    pymesync: Pymesync, alice: Any, tmp_path: Path
) -> None:
    broken = tmp_path / "broken.sqlite3"
    broken.write_bytes(b"this is not a database" * 100)
    missing = tmp_path / "missing.sqlite3"
    for env in (
        {"PYMESYNC_DB": str(broken)},
        {"PYMESYNC_DB": str(missing)},
        {"PYMESYNC_DB": str(tmp_path)},  # a folder
        {"PYMESYNC_CONFIG": str(tmp_path / "none.toml")},  # no account configured
        {"PYMESYNC_CONFIG": str(broken)},  # a configuration file that is not TOML
    ):
        for line in ("pymesync log 1h -p ", "pymesync edit ", "pymesync failed discard "):
            values, done = complete(pymesync, line, env=env)
            assert (values, done.returncode, done.stderr) == ([], 0, ""), (env, line, done)
    assert not missing.exists()  # never created
    assert broken.read_bytes().startswith(b"this is not a database")


def test_completion_prints_the_script_of_each_shell(pymesync: Pymesync) -> None:
    bash = pymesync("completion", "bash").stdout
    assert "_PYMESYNC_COMPLETE=bash_complete" in bash and "complete -o" in bash
    assert "compdef" in pymesync("completion", "zsh").stdout
    assert "complete --no-files --command pymesync" in pymesync("completion", "fish").stdout
    pymesync.env["SHELL"] = "/usr/bin/zsh"
    assert "compdef" in pymesync("completion").stdout
    pymesync.env["SHELL"] = "/bin/tcsh"
    refused = pymesync("completion", code=1)
    assert refused.stderr == "Error: which shell? give one of bash, zsh, fish ($SHELL is 'tcsh')\n"
    assert pymesync("completion", "csh", code=2).stderr.startswith("Error: ")
    # the same script click's variable gives
    same = subprocess.run(
        [pymesync.exe],
        capture_output=True,
        text=True,
        env={**pymesync.env, "_PYMESYNC_COMPLETE": "bash_source"},
        timeout=30,
    )
    assert same.stdout == bash


def _today() -> str:
    import datetime as dt

    return dt.date.today().isoformat()
