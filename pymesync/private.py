"""Private files: every folder pymesync creates is 0700, every file it writes 0600.

The modes are set explicitly, whatever the process's umask (which pymesync never
changes: it is process-wide state). A file pymesync writes that already exists with a
looser mode (left by an older version, or created under a permissive umask) is
tightened to 0600 when pymesync next opens it for writing. Standard library only: the
read-only store peek imports it.
"""

from __future__ import annotations

import contextlib
import os
import stat
from pathlib import Path

__all__ = ["FILE_MODE", "FOLDER_MODE", "make_folder", "open_private", "tighten"]

#: The mode of every file pymesync writes (owner read and write only).
FILE_MODE = 0o600
#: The mode of every folder pymesync creates (owner only).
FOLDER_MODE = 0o700


def make_folder(folder: Path) -> list[Path]:
    """Create ``folder`` and its missing parents, each with mode 0700; returns the
    folders created (outermost first). Existing folders are left as they are; one made
    meanwhile by another process is theirs and left alone too. ``OSError`` propagates."""
    missing = [p for p in (folder, *folder.parents) if not p.exists()]
    made: list[Path] = []
    for new_folder in reversed(missing):
        try:
            new_folder.mkdir(mode=FOLDER_MODE)
        except FileExistsError:
            continue
        os.chmod(new_folder, FOLDER_MODE)  # mkdir's mode went through the umask
        made.append(new_folder)
    return made


def open_private(path: Path, flags: int) -> int:
    """``os.open(path, flags | O_CREAT, 0o600)``, the file's mode then set to 0600
    whatever the umask (an existing file is tightened; a file owned by someone else,
    whose mode cannot be changed, is used as it is). Returns the descriptor."""
    fd = os.open(path, flags | os.O_CREAT, FILE_MODE)
    try:
        if stat.S_IMODE(os.fstat(fd).st_mode) != FILE_MODE:
            with contextlib.suppress(PermissionError):
                if hasattr(os, "fchmod"):
                    os.fchmod(fd, FILE_MODE)
                else:  # pragma: no cover - Windows before Python 3.13
                    os.chmod(path, FILE_MODE)
    except BaseException:
        os.close(fd)
        raise
    return fd


def tighten(path: Path) -> None:
    """Take group and other permissions away from the existing file ``path`` (nothing
    when it is missing, already private, or not ours to change)."""
    try:
        mode = stat.S_IMODE(os.stat(path).st_mode)
        if mode & 0o077:
            os.chmod(path, mode & 0o700)
    except OSError:
        pass
