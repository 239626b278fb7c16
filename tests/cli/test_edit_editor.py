"""``pymesync edit ID`` with no field option: the entry as TOML text in $EDITOR (here a
small Python script that plays the user), checked on save as the options are, opened
again with the error on top, and "nothing changed" when saved unchanged or emptied."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest

import pymesync

from .conftest import Run
from .helpers import offline, one_error_line

EDITOR = """\
import json, os, pathlib, sys
path = pathlib.Path(sys.argv[1])
plan = pathlib.Path({plan!r})
seen = pathlib.Path({seen!r})
steps = json.loads(plan.read_text())
shown = json.loads(seen.read_text()) if seen.exists() else []
text = path.read_text()
shown.append(text)
seen.write_text(json.dumps(shown))
kind, *args = steps.pop(0)
plan.write_text(json.dumps(steps))
if kind == "replace":
    for old, new in zip(args[::2], args[1::2]):
        assert old in text, (old, text)
        text = text.replace(old, new)
    path.write_text(text)
elif kind == "empty":
    path.write_text("")
elif kind == "resave":  # saved as it was
    path.write_text(text)
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
# "quit": not saved
"""


class Editor:
    """The editor script and what it was shown."""

    def __init__(self, tmp_path: Path) -> None:
        self.plan = tmp_path / "plan.json"
        self.seen = tmp_path / "seen.json"
        script = tmp_path / "editor.py"
        script.write_text(EDITOR.format(plan=str(self.plan), seen=str(self.seen)))
        self.command = f"{sys.executable} {script}"

    def will(self, *steps: list[str]) -> dict[str, str]:
        """Play ``steps`` (one per opening); the environment to run with."""
        self.plan.write_text(json.dumps(list(steps)))
        if self.seen.exists():
            self.seen.unlink()
        return {"EDITOR": self.command}

    @property
    def shown(self) -> list[str]:
        return list(json.loads(self.seen.read_text())) if self.seen.exists() else []

    @property
    def left(self) -> list[Any]:
        return list(json.loads(self.plan.read_text()))


@pytest.fixture
def editor(tmp_path: Path) -> Editor:
    return Editor(tmp_path)


def logged(run: Run, notes: str = "design review") -> str:
    result = run("log", "1h30m", "-p", "gwm", "-a", "dev", "-n", notes)
    assert result.exit_code == 0, result.output
    return str(result.stdout.split("synced as ")[1].strip())


def on_server(emu: Any, uuid: str) -> dict[str, Any]:
    admin = pymesync.TimeSync(emu.base_url, mode="direct", raise_errors=True)
    admin.authenticate("admin", "admin", "password")
    return dict(admin.get_times({"uuid": uuid})[0])


def queued(run: Run) -> int:
    status = json.loads(run("status", "--json").stdout)
    return int(status["pending"]) + int(status["inflight"])


def test_a_valid_edit_is_queued_and_synced(run: Run, alice: Any, editor: Editor) -> None:
    uuid = logged(run)
    env = editor.will(["replace", '"1h30m"', '"2h"', "design review", "reviewed"])
    result = run("edit", uuid[:8], env=env)
    assert result.exit_code == 0, result.output
    assert f"updated {uuid} (duration, notes): queued" in result.stdout
    assert result.stdout.splitlines()[-1] == "synced"
    [text] = editor.shown
    assert text.startswith(f"# Edit the time entry {uuid}, save and quit")
    assert '#   duration   as on the command line: "1h30m"' in text
    assert "#   date       YYYY-MM-DD" in text
    fields = text[text.index('duration = "') :]
    assert fields.splitlines()[:3] == ['duration = "1h30m"', 'project = "gwm"', "activities = ["]
    assert '"dev",' in fields and f'date = "{on_server(alice, uuid)["date_worked"]}"' in fields
    assert 'notes = "design review"' in fields
    server = on_server(alice, uuid)
    assert (server["duration"], server["notes"]) == (7200, "reviewed")


def test_an_invalid_text_opens_again_with_the_error_on_top(
    run: Run, alice: Any, editor: Editor
) -> None:
    uuid = logged(run)
    env = editor.will(
        ["replace", '"1h30m"', '"25h"'],
        ["replace", '"25h"', '"3h"', '"gwm"', '"nope"'],
        ["replace", '"nope"', '"gwm"', "activities = [", "activities = [[["],
        ["replace", "activities = [[[", "activities = [", "design review", "fixed"],
    )
    result = run("edit", uuid[:8], env=env)
    assert result.exit_code == 0, result.output
    _, second, third, fourth = editor.shown
    assert second.startswith(
        "# Error: 25:00 is more than 24 hours for one entry: give --allow-long if you mean it\n"
        "# Edit the time entry"
    )
    assert 'duration = "25h"' in second  # the user's text kept
    assert third.startswith("# Error: unknown project 'nope' (known: ")
    assert third.count("# Error:") == 1  # the old error gone
    assert fourth.startswith("# Error: not valid TOML: ")
    assert editor.left == []
    server = on_server(alice, uuid)
    assert (server["duration"], server["notes"], server["project"][0]) == (
        10800,
        "fixed",
        "ganeti-webmgr",
    )


def test_saved_unchanged_or_not_saved_changes_nothing(run: Run, alice: Any, editor: Editor) -> None:
    uuid = logged(run)
    puts = alice.request_count("POST /times/:uuid")
    for step in ("resave", "quit"):
        result = run("edit", uuid[:8], env=editor.will([step]))
        assert result.exit_code == 0, result.output
        assert result.stdout == f"nothing changed: {uuid} is as it was\n"
    written_the_same = editor.will(["replace", '"1h30m"', '"90m"'])  # the same duration
    result = run("edit", uuid[:8], env=written_the_same)
    assert result.stdout == f"nothing changed: {uuid} is as it was\n"
    assert queued(run) == 0 and alice.request_count("POST /times/:uuid") == puts


def test_an_emptied_text_changes_nothing(run: Run, alice: Any, editor: Editor) -> None:
    uuid = logged(run)
    result = run("edit", uuid[:8], env=editor.will(["empty"]))
    assert result.exit_code == 0, result.output
    assert result.stdout == f"nothing changed: the text was emptied ({uuid} is as it was)\n"
    assert queued(run) == 0


def test_an_error_saved_unchanged_gives_up_with_it(run: Run, alice: Any, editor: Editor) -> None:
    uuid = logged(run)
    env = editor.will(["replace", 'notes = "design review"', "mood = 3"], ["resave"])
    message = one_error_line(run("edit", uuid[:8], env=env), 1)
    assert message == (
        "unknown field 'mood' (the fields: duration, project, activities, date, notes,"
        " issue) (the text was saved unchanged: nothing changed)"
    )
    assert queued(run) == 0
    assert on_server(alice, uuid)["notes"] == "design review"


def test_visual_wins_over_editor_and_no_editor_is_a_clear_error(
    run: Run, alice: Any, editor: Editor
) -> None:
    uuid = logged(run)
    env = editor.will(["replace", "design review", "from visual"])
    result = run("edit", uuid[:8], env={"VISUAL": env["EDITOR"], "EDITOR": "false"})
    assert result.exit_code == 0, result.output
    assert on_server(alice, uuid)["notes"] == "from visual"
    message = one_error_line(run("edit", uuid[:8]), 1)
    assert message.endswith("or set $VISUAL or $EDITOR to edit the entry as text")


def test_offline_the_edit_folds_into_the_queue_and_undo_takes_it_back(
    run: Run, alice: Any, editor: Editor
) -> None:
    offline(alice)
    logged_offline = run("log", "1h", "-p", "gwm", "-a", "dev", "-n", "offline")
    local = logged_offline.stdout.split(" as ")[1].split(":")[0]
    env = editor.will(
        [
            "replace",
            '"1h"',
            '"45m"',
            'activities = [\n    "dev",\n]',
            'activities = ["dev", "docs"]',
        ]
    )
    result = run("edit", local[:8], env=env)
    assert result.exit_code == 0, result.output
    assert f"updated {local} (activities, duration): queued" in result.stdout
    assert queued(run) == 1
    assert "undid the edit: 1h gwm dev 'offline'" in run("undo").stdout


def test_json_says_what_the_editor_changed(run: Run, alice: Any, editor: Editor) -> None:
    uuid = logged(run)
    env = editor.will(["replace", "design review", "as json"])
    result = run("edit", uuid[:8], "--json", env=env)
    assert result.exit_code == 0, result.output
    answer = json.loads(result.stdout)
    assert answer["changes"] == {"notes": "as json"}
