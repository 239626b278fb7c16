"""What a hostile tester found (issue 14 review): Ctrl-C while a big file is read and
checked, CSV quoting that never closes, a pymesync JSON export given to import, editors
that misbehave."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from .conftest import Run
from .helpers import one_error_line
from .test_import import DATA, MAPS, db, store_counts


def test_ctrl_c_while_the_file_is_read_and_checked_imports_nothing(
    run: Run, alice: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Reading and checking 200,000 rows takes seconds: Ctrl-C then is the documented
    `interrupted: nothing was imported` (130), not click's bare `Aborted!` (1)."""
    from pymesync.cli import imports

    real = imports.Checker.__call__
    calls = []

    def pressed(self: Any, entry: Any) -> Any:
        calls.append(entry)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(self, entry)

    monkeypatch.setattr(imports.Checker, "__call__", pressed)
    done = run("import", str(DATA / "generic.csv"), *MAPS, "--file-user", "ada")
    assert one_error_line(done, 130) == "interrupted: nothing was imported"
    assert store_counts(db()) == (0, 0)


def test_a_quote_never_closed_is_a_problem_not_notes_swallowing_the_rows_after_it(
    run: Run, alice: Any, tmp_path: Path
) -> None:
    """A stray quote in one row made the csv module read every later row into that
    row's notes, silently: 2 "good" entries, one of them with the third row as notes."""
    import json

    path = tmp_path / "times.csv"
    path.write_text(
        "date,duration,project,activities,notes\n"
        "2026-12-01,1h,gwm,dev,good\n"
        '2026-12-01,2h,gwm,dev,"bad"quoting\n'
        "2026-12-02,3h,gwm,dev,fine\n"
        '2026-12-03,1h,gwm,dev,"never closed\n'
        "2026-12-04,4h,gwm,dev,swallowed\n",
        encoding="utf-8",
    )
    done = run("import", str(path), "--dry-run", "--json")
    assert done.exit_code == 6, done.output
    report = json.loads(done.stdout)
    assert report["counts"] == {"new": 2, "already_imported": 0, "problems": 2}
    notes = [e["time"]["notes"] for e in report["entries"] if e["status"] == "new"]
    assert notes == ["good", "fine"]
    problems = {e["line"]: e["problem"] for e in report["entries"] if e["status"] == "problem"}
    assert problems.keys() == {3, 5}
    assert "closing quote" in problems[3]
    assert "never closed" in problems[5] and "lines 5-6" in problems[5]


def test_a_huge_field_is_a_problem_of_its_row_not_of_the_file(
    run: Run, alice: Any, tmp_path: Path
) -> None:
    """One 10 MB notes cell stopped the whole import (`not a CSV file ... field larger
    than field limit`); the other rows are fine."""
    import json

    path = tmp_path / "times.csv"
    path.write_text(
        "date,duration,project,activities,notes\n"
        f"2026-12-01,1h,gwm,dev,{'x' * 10_000_000}\n"
        "2026-12-02,3h,gwm,dev,fine\n",
        encoding="utf-8",
    )
    done = run("import", str(path), "--dry-run", "--json")
    assert done.exit_code == 6, done.output
    report = json.loads(done.stdout)
    assert report["counts"] == {"new": 1, "already_imported": 0, "problems": 1}
    assert [e["line"] for e in report["entries"] if e["status"] == "problem"] == [2]


def _script(tmp_path: Path, name: str, body: str) -> str:
    import sys

    path = tmp_path / f"{name}.py"
    path.write_text("import pathlib, sys\npath = pathlib.Path(sys.argv[1])\n" + body)
    return f"{sys.executable} {path}"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("path.unlink()\n", "the editor removed the file instead of saving it: nothing changed"),
        (
            "path.write_bytes(b'notes = \"caf\\xff\"\\n')\n",
            "the editor saved text that is not UTF-8: nothing changed",
        ),
    ],
)
def test_an_editor_that_removes_the_file_or_saves_bytes_is_one_line(
    run: Run, alice: Any, tmp_path: Path, body: str, message: str
) -> None:
    """These gave tracebacks (FileNotFoundError, UnicodeDecodeError) from click.edit."""
    logged = run("log", "1h", "-p", "gwm", "-a", "dev", "-n", "kept", "--json")
    assert logged.exit_code == 0, logged.output
    import json

    uuid = json.loads(logged.stdout)["uuid"]
    done = run("edit", uuid[:8], env={"EDITOR": _script(tmp_path, "ed", body)})
    assert one_error_line(done, 1) == message
    assert "kept" in run("times", "--from", "today").stdout


def test_an_editor_saving_the_same_refused_text_again_gives_up(
    run: Run, alice: Any, tmp_path: Path
) -> None:
    """A scripted or broken editor that writes the same bad TOML at every opening (the
    error comment dropped) re-opened it forever."""
    import json

    logged = run("log", "1h", "-p", "gwm", "-a", "dev", "-n", "kept", "--json")
    uuid = json.loads(logged.stdout)["uuid"]
    body = (
        f"count = pathlib.Path({str(tmp_path / 'openings')!r})\n"
        "n = int(count.read_text()) if count.exists() else 0\n"
        "if n > 5: raise SystemExit(0)  # (the old code kept opening it)\n"
        "count.write_text(str(n + 1))\n"
        "path.write_text('duration = \"1h\\n')\n"
    )
    done = run("edit", uuid[:8], env={"EDITOR": _script(tmp_path, "bad", body)})
    message = one_error_line(done, 1)
    assert message.endswith("(the text was saved unchanged: nothing changed)"), message
    assert (tmp_path / "openings").read_text() == "2"
    assert "kept" in run("times", "--from", "today").stdout


def test_a_pymesync_json_export_is_named_not_read_as_timewarrior(
    run: Run, alice: Any, tmp_path: Path
) -> None:
    """`pymesync export --format json` then `pymesync import` guessed Timewarrior and
    listed every record as `start is not a Timewarrior time (...): None`."""
    assert run("log", "1h", "-p", "gwm", "-a", "dev").exit_code == 0
    path = tmp_path / "times.json"
    assert run("export", "--format", "json", "-o", str(path)).exit_code == 0
    done = run("import", str(path), "--dry-run")
    message = one_error_line(done, 1)
    assert "is a `pymesync export --format json` file" in message
    assert "--format csv" in message


def test_an_editor_saving_a_new_refused_text_each_time_gives_up_after_ten(
    run: Run, alice: Any, tmp_path: Path
) -> None:
    """A script writing a different invalid text at every opening was opened forever."""
    import json

    logged = run("log", "1h", "-p", "gwm", "-a", "dev", "-n", "kept", "--json")
    uuid = json.loads(logged.stdout)["uuid"]
    body = (
        f"count = pathlib.Path({str(tmp_path / 'openings')!r})\n"
        "n = int(count.read_text()) if count.exists() else 0\n"
        "if n > 20: raise SystemExit(0)  # (the old code kept opening it)\n"
        "count.write_text(str(n + 1))\n"
        "path.write_text(f'duration = \"{n}fortnights\"\\n')\n"
    )
    done = run("edit", uuid[:8], env={"EDITOR": _script(tmp_path, "new", body)})
    message = one_error_line(done, 1)
    assert message.endswith("(refused 10 times in a row: nothing changed)"), message
    assert (tmp_path / "openings").read_text() == "10"
    assert "kept" in run("times", "--from", "today").stdout


def test_an_editor_that_exits_with_an_error_changes_nothing(
    run: Run, alice: Any, tmp_path: Path
) -> None:
    import json

    logged = run("log", "1h", "-p", "gwm", "-a", "dev", "-n", "kept", "--json")
    uuid = json.loads(logged.stdout)["uuid"]
    body = "path.write_text('notes = \"changed\"\\n')\nraise SystemExit(3)\n"
    done = run("edit", uuid[:8], env={"EDITOR": _script(tmp_path, "fails", body)})
    message = one_error_line(done, 1)
    assert message.startswith("the editor failed (") and message.endswith("nothing changed")
    assert "kept" in run("times", "--from", "today").stdout
