"""The ``pymesync`` command's entry point (``pymesync.launch``): a Ctrl-C while Python
imports the client and the command line is one line and exit status 130."""

from __future__ import annotations

import subprocess
import sys

#: Raises KeyboardInterrupt when pymesync.cli.entries is imported (a Ctrl-C at that moment),
#: then runs the console script's entry point as the installed ``pymesync`` does.
INTERRUPTED_IMPORT = """
import sys

class CtrlC:
    def find_spec(self, name, path=None, target=None):
        if name == "pymesync.cli.entries":
            raise KeyboardInterrupt
        return None

sys.meta_path.insert(0, CtrlC())
sys.argv = ["pymesync", "log", "1h", "-p", "gwm"]
from pymesync.launch import main
main()
"""


def test_ctrl_c_during_the_start_up_imports_is_one_line() -> None:
    done = subprocess.run(
        [sys.executable, "-c", INTERRUPTED_IMPORT], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 130, done.stderr
    assert done.stderr == "Error: interrupted: nothing was done\n"
    assert done.stdout == ""


def test_the_package_imports_the_client_only_when_it_is_used() -> None:
    code = (
        "import sys, pymesync\n"
        "assert 'pymesync.client' not in sys.modules\n"
        "from pymesync import TimeSync\n"
        "assert TimeSync.__module__ == 'pymesync.client' and pymesync.TimeSync is TimeSync\n"
        "try:\n"
        "    pymesync.Nope\n"
        "except AttributeError as error:\n"
        "    assert 'Nope' in str(error)\n"
        "else:\n"
        "    raise SystemExit('no AttributeError')\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr


def test_the_console_script_runs_the_launcher() -> None:
    done = subprocess.run(
        [sys.executable, "-c", "from pymesync.launch import main; main()", "--version"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("pymesync, version ")
