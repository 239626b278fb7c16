"""A faithful TimeSync server emulator with fault injection, for tests and demos.

``with run_emulator(seed_data=True) as emu:`` serves the TimeSync API (as the real Node
server behaves) on ``emu.base_url``; ``emu`` also injects faults and counts requests.
See ``docs/emulator.md``.  This package imports nothing from the rest of ``pymesync``;
names are loaded lazily so that importing it (or the pytest plugin) stays cheap.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .control import EmulatorControls
    from .process import EmulatorProcess, run_emulator_process
    from .remote import RemoteControl, RemoteControlError
    from .seed import (
        ADMIN,
        ADMIN_PASSWORD,
        ADMIN_USERNAME,
        ALICE,
        BOB,
        CAROL,
        DAVE,
        DEV,
        DOCS,
        GWM,
        PLAN,
        PYMESYNC,
        SEED_ACTIVITIES,
        SEED_PROJECTS,
        SEED_TIMES,
        SEED_USERS,
        TIMESYNC,
        SeedActivity,
        SeedProject,
        SeedTime,
        SeedUser,
    )
    from .server import Emulator, run_emulator, serve

__all__ = [
    "ADMIN",
    "ADMIN_PASSWORD",
    "ADMIN_USERNAME",
    "ALICE",
    "BOB",
    "CAROL",
    "DAVE",
    "DEV",
    "DOCS",
    "GWM",
    "PLAN",
    "PYMESYNC",
    "SEED_ACTIVITIES",
    "SEED_PROJECTS",
    "SEED_TIMES",
    "SEED_USERS",
    "TIMESYNC",
    "Emulator",
    "EmulatorControls",
    "EmulatorProcess",
    "RemoteControl",
    "RemoteControlError",
    "SeedActivity",
    "SeedProject",
    "SeedTime",
    "SeedUser",
    "run_emulator",
    "run_emulator_process",
    "serve",
]

_SEED_NAMES = frozenset(__all__) - {
    "EmulatorControls",
    "EmulatorProcess",
    "run_emulator_process",
    "RemoteControl",
    "RemoteControlError",
    "Emulator",
    "run_emulator",
    "serve",
}
_WHERE = {
    "EmulatorControls": "control",
    "EmulatorProcess": "process",
    "run_emulator_process": "process",
    "RemoteControl": "remote",
    "RemoteControlError": "remote",
    "Emulator": "server",
    "run_emulator": "server",
    "serve": "server",
    **{name: "seed" for name in _SEED_NAMES},
}


def __getattr__(name: str) -> Any:
    """Load public names on first use."""
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    """Public names."""
    return __all__
