"""The ``pymesync`` command's entry point: imports the command line, then runs it.

Importing the client and the command line takes about 0.1-0.2 s; a Ctrl-C in that time
(nothing has been read or written yet) is one line and exit status 130, like a Ctrl-C
anywhere else, not a traceback. The package's ``__init__`` imports nothing heavy, so
the guard is in place before any of it is imported.
"""

from __future__ import annotations

import sys

__all__ = ["main"]

#: The exit status of an interrupted command (as ``pymesync.cli.app.EXIT_INTERRUPTED``).
EXIT_INTERRUPTED = 130


def main() -> None:
    """Import :mod:`pymesync.cli` and run its group; Ctrl-C during the imports says
    ``Error: interrupted: nothing was done`` and exits with status 130."""
    try:
        from pymesync.cli import main as command_line
    except KeyboardInterrupt:
        sys.stderr.write("Error: interrupted: nothing was done\n")
        raise SystemExit(EXIT_INTERRUPTED) from None
    command_line(prog_name="pymesync")
