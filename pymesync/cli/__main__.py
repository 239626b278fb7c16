"""``python -m pymesync.cli``: the same as the ``pymesync`` command."""

from pymesync.cli import main

main(prog_name="pymesync")
