"""Package rules: independence from the rest of pymesync, cheap imports, public names."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pymesync.testing
from pymesync.testing import EmulatorProcess, RemoteControl, run_emulator
from pymesync.testing.control import EmulatorControls

PACKAGE = Path(pymesync.testing.__file__).parent


def test_emulator_imports_nothing_from_the_rest_of_pymesync() -> None:
    offenders = []
    for path in PACKAGE.rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom):
                if node.level > 1 or (
                    node.level == 0
                    and (node.module or "").startswith("pymesync")
                    and not (node.module or "").startswith("pymesync.testing")
                ):
                    offenders.append(f"{path.name}: from {'.' * node.level}{node.module}")
            elif isinstance(node, ast.Import):
                offenders += [
                    f"{path.name}: import {a.name}"
                    for a in node.names
                    if a.name.startswith("pymesync") and not a.name.startswith("pymesync.testing")
                ]
    assert offenders == []


def test_importing_the_plugin_is_cheap() -> None:
    code = (
        "import sys, pymesync.testing.pytest_plugin;"
        "print(sorted(m for m in sys.modules if m.startswith('pymesync.testing.')))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "['pymesync.testing.pytest_plugin']"


def test_public_names_resolve() -> None:
    for name in pymesync.testing.__all__:
        assert getattr(pymesync.testing, name) is not None
        assert getattr(pymesync.testing, name).__doc__ or name.isupper(), name


def test_thread_and_remote_handles_share_the_control_surface() -> None:
    assert issubclass(RemoteControl, EmulatorControls)
    assert issubclass(EmulatorProcess, RemoteControl)
    with run_emulator() as emu:
        assert isinstance(emu, EmulatorControls)
        remote = RemoteControl(emu.base_url)
        remote.fail_next(2, route="GET /times")
        assert [f["kind"] for f in emu.faults()] == ["fail"]
        assert remote.faults() == emu.faults()
        remote.clear_faults()
        assert emu.faults() == []
