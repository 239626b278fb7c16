"""``pymesync import`` end to end: every sample format through the command line against
the emulator, online and offline and before any login; mappings, the dry run, bad
records, standard input, local dates in far time zones, importing twice (nothing is
created twice on the server), and a process killed mid-import."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from pymesync.cli.imports import EXIT_PROBLEMS

from .conftest import Run
from .helpers import offline, one_error_line, pymesync_executable, subprocess_env
from .test_timer import new_on_server, seeded

DATA = Path(__file__).resolve().parents[1] / "data" / "import"

#: The sample files' names mapped onto the emulator's projects and activities.
MAPS = (
    "--map-project",
    "website=gwm",
    "--map-project",
    "ops=gwm",
    "--map-activity",
    "review=docs",
    "--map-activity",
    "meeting=plan",
)

#: Each good sample: extra options, and what reaches the server (duration, activities,
#: notes), sorted.
SAMPLES = {
    "watson-frames.json": (
        (),
        [(1800, ["dev"], None), (3600, ["plan"], None), (5400, ["dev", "docs"], None)],
    ),
    "toggl.csv": (
        ("--file-user", "Ada Lovelace"),
        [
            (1800, ["dev"], "Design: Logo, second try"),
            (3600, ["plan"], "Night deploy"),
            (5400, ["dev", "docs"], "Homepage copy"),
        ],
    ),
    "timewarrior.json": (
        (
            "--map-project",
            "dev=gwm",
            "--map-project",
            "meeting=gwm",
            "--map-activity",
            "website=dev",
            "--map-activity",
            "ops=plan",
            "--map-activity",
            "planning=plan",
        ),
        [
            (1800, ["dev"], None),
            (3600, ["plan"], "quarterly plan"),
            (5400, ["dev"], "design review"),
        ],
    ),
    "generic.csv": (
        ("--file-user", "ada"),
        [
            (2700, ["dev"], 'notes with a comma, and "quotes"'),
            (3600, ["plan"], "standup"),
            (3600, ["plan"], "standup"),
            (5400, ["dev", "docs"], "design review"),
        ],
    ),
}


def shape(times: list[dict[str, Any]]) -> list[tuple[int, list[str], str | None]]:
    return sorted(
        (t["duration"], sorted(t["activities"] or []), t.get("notes") or None) for t in times
    )


def store_counts(path: Path) -> tuple[int, int]:
    """(operations queued, import keys kept) in the store file."""
    db = sqlite3.connect(path)
    try:
        ops = db.execute("SELECT COUNT(*) FROM operations").fetchone()[0]
        keys = db.execute("SELECT COUNT(*) FROM import_keys").fetchone()[0]
    finally:
        db.close()
    return int(ops), int(keys)


def db() -> Path:
    return Path(os.environ["PYMESYNC_DB"])


def queued(run: Run) -> int:
    return int(json.loads(run("status", "--json").stdout)["pending"])


# --------------------------------------------------------------------------- online


@pytest.mark.parametrize("sample", sorted(SAMPLES))
def test_every_sample_is_imported_once_even_when_imported_twice(
    run: Run, alice: Any, sample: str
) -> None:
    extra, expected = SAMPLES[sample]
    before = seeded(alice)
    first = run("import", str(DATA / sample), *MAPS, *extra)
    assert first.exit_code == 0, first.output
    count = len(expected)
    assert f"{count} new, 0 already imported, 0 problems: queued" in first.stdout
    assert run("sync").exit_code == 0
    made = new_on_server(alice, before)
    assert shape(made) == sorted(expected)
    assert all(t["user"] == "alice" for t in made)
    assert {p for t in made for p in (t["project"] if isinstance(t["project"], list) else [])} >= {
        "gwm"
    }
    again = run("import", str(DATA / sample), *MAPS, *extra)
    assert again.exit_code == 0, again.output
    assert f"imported nothing ({again.stdout.split('(')[1].split(')')[0]}): 0 new," in again.stdout
    assert f"{count} already imported" in again.stdout
    assert run("sync").exit_code == 0
    assert shape(new_on_server(alice, before)) == sorted(expected)  # still once each
    assert store_counts(db())[1] == count


def test_the_push_after_an_import_sends_what_it_can(run: Run, alice: Any) -> None:
    before = seeded(alice)
    done = run("import", str(DATA / "watson-frames.json"), *MAPS)
    assert done.exit_code == 0, done.output
    head, pushed = done.stdout.splitlines()[-2:]
    assert head == "imported (watson): 3 new, 0 already imported, 0 problems: queued"
    assert pushed == "synced (3 sent)"
    assert len(new_on_server(alice, before)) == 3 and queued(run) == 0


def test_the_format_is_guessed_or_given(run: Run, alice: Any, tmp_path: Path) -> None:
    odd = tmp_path / "export.txt"
    odd.write_text("when,how long\n2026-11-30,1h\n", encoding="utf-8")
    message = one_error_line(run("import", str(odd)), 1)
    assert message == (
        f"cannot tell the format of {odd}: give --format (watson, toggl, timewarrior, csv)"
    )
    bad = run("import", str(odd), "--format", "excel")
    assert bad.exit_code == 2 and "'excel' is not one of" in bad.stderr
    assert "watson" in bad.stderr and "timewarrior" in bad.stderr
    wrong = one_error_line(run("import", str(odd), "--format", "csv"), 1)
    assert wrong.startswith(f"{odd}: not a pymesync CSV header")
    missing = one_error_line(run("import", str(tmp_path / "nope.csv")), 1)
    assert missing == f"cannot read {tmp_path / 'nope.csv'}: No such file or directory"
    assert "a folder" in one_error_line(run("import", str(tmp_path)), 1)
    tag = one_error_line(run("import", str(DATA / "generic.csv"), "--project-tag", "2"), 1)
    assert tag == "--project-tag is for Timewarrior files only (this one is csv)"
    mapping = one_error_line(run("import", str(DATA / "generic.csv"), "--map-project", "gwm"), 1)
    assert mapping.startswith("--map-project 'gwm': use NAME=SLUG")
    assert store_counts(db()) == (0, 0)


def test_a_dry_run_shows_the_entries_and_changes_nothing(run: Run, alice: Any) -> None:
    path = str(DATA / "generic.csv")
    shown = run("import", path, *MAPS, "--dry-run")
    assert shown.exit_code == EXIT_PROBLEMS, shown.output  # line 2 is ada's
    lines = shown.stdout.splitlines()
    assert lines[0].split() == ["DATE", "DURATION", "PROJECT", "ACTIVITIES", "NOTES"]
    assert lines[1].split()[:4] == ["2026-11-30", "1:00", "gwm", "plan"]
    assert len(lines) == 1 + 3 + 1
    assert lines[-1] == ("dry run (csv): 3 new, 0 already imported, 1 problem; nothing was changed")
    assert "skipped line 2: an entry of 'ada', not yours (alice)" in shown.stderr
    assert one_error_line(shown, EXIT_PROBLEMS) == "1 record would not be imported (listed above)"
    assert store_counts(db()) == (0, 0)
    assert run("import", path, *MAPS, "--file-user", "ada").exit_code == 0
    after = store_counts(db())
    again = run("import", path, *MAPS, "--file-user", "ada", "--dry-run", "--json")
    assert again.exit_code == 0, again.output
    data = json.loads(again.stdout)
    assert data["counts"] == {"new": 0, "already_imported": 4, "problems": 0}
    assert data["dry_run"] is True and {e["status"] for e in data["entries"]} == {"imported"}
    assert store_counts(db()) == after


def test_unknown_names_are_problems_with_a_hint_to_map_them(run: Run, alice: Any) -> None:
    done = run("import", str(DATA / "watson-frames.json"))
    assert done.exit_code == EXIT_PROBLEMS
    assert "skipped record 1: unknown project 'website' (known: " in done.stderr
    assert "map it with --map-project 'website=SLUG'" in done.stderr
    assert "skipped record 3: unknown project 'ops'" in done.stderr
    assert one_error_line(done, EXIT_PROBLEMS).startswith("3 records not imported")
    activity = run("import", str(DATA / "watson-frames.json"), "--map-project", "website=gwm")
    assert "skipped record 1: unknown activity 'review'" in activity.stderr
    assert "--map-activity 'review=SLUG'" in activity.stderr
    assert "2 records not imported" in activity.stderr
    # the one good frame (website, no tags: gwm's default activity) was imported
    assert "1 new, 0 already imported, 2 problems: queued" in activity.stdout
    maps = (
        "--map-project",
        "website=gwm",
        "--map-project",
        "ops=ts",
        "--map-activity",
        "meeting=plan",
    )
    no_default = run(
        "import",
        str(DATA / "generic.csv"),
        *maps,
        "--map-activity",
        "review=docs",
        "--file-user",
        "ada",
    )
    assert "skipped line 5: no activity, and project 'ts' has no default activity" in (
        no_default.stderr
    )


@pytest.mark.parametrize(
    ("sample", "problems", "good"),
    [
        (
            "generic-bad.csv",
            [
                "line 3: duration must be more than zero",
                "line 4: ",
                "line 5: date is not a date (YYYY-MM-DD): '30/11/2026'",
                "line 6: no project",
            ],
            2,
        ),
        ("toggl-bad.csv", ["line 3: no project", "line 4: Start date is not a date"], 2),
        ("timewarrior-bad.json", ["record 2: still running", "record 3: start is not"], 2),
        ("watson-frames-bad.json", ["record 2: stop is not after start", "record 3: start"], 2),
    ],
)
def test_a_bad_record_is_reported_and_the_good_ones_imported(
    run: Run, alice: Any, sample: str, problems: list[str], good: int
) -> None:
    extra = [
        "--file-user",
        "Ada Lovelace",
        "--map-project",
        "dev=gwm",
        "--map-project",
        "meeting=gwm",
        "--map-activity",
        "ops=plan",
        "--map-activity",
        "website=dev",
    ]
    before = seeded(alice)
    done = run("import", str(DATA / sample), *MAPS, *extra)
    assert done.exit_code == EXIT_PROBLEMS, done.output
    skipped = [line for line in done.stderr.splitlines() if line.startswith("skipped ")]
    assert len(skipped) == len(problems), done.stderr
    for line, expected in zip(skipped, problems, strict=True):
        assert line.startswith(f"skipped {expected}"), (line, expected)
    assert f"{good} new, 0 already imported, {len(problems)} problems: queued" in done.stdout
    assert len(new_on_server(alice, before)) == good
    again = run("import", str(DATA / sample), *MAPS, *extra, "--json")
    assert again.exit_code == EXIT_PROBLEMS
    data = json.loads(again.stdout)
    assert data["counts"] == {"new": 0, "already_imported": good, "problems": len(problems)}
    assert all(e["problem"] for e in data["entries"] if e["status"] == "problem")


def test_long_and_future_entries_are_refused_as_log_refuses_them(
    run: Run, alice: Any, tmp_path: Path
) -> None:
    path = tmp_path / "mine.csv"
    path.write_text(
        "date,duration,project,activities\n"
        "2026-11-30,25h,gwm,dev\n"
        "2099-01-01,1h,gwm,dev\n"
        "2026-11-30,200h,gwm,dev\n"
        "2026-11-30,1h,gwm,Dev Work\n",
        encoding="utf-8",
    )
    done = run("import", str(path), "--json")
    assert done.exit_code == EXIT_PROBLEMS
    problems = [e["problem"] for e in json.loads(done.stdout)["entries"]]
    assert problems[0].startswith("25:00 is more than 24 hours for one entry: give --allow-long")
    assert problems[1].startswith("2099-01-01 is in the future")
    assert "more than 24 hours" in problems[2]
    assert problems[3].startswith("unknown activity 'Dev Work'")
    allowed = run("import", str(path), "--allow-long", "--json")
    found = [e["problem"] for e in json.loads(allowed.stdout)["entries"]]
    assert found[0] is None  # 25 h taken
    assert "7 days" in found[2]  # the library's own limit still applies
    assert store_counts(db())[1] == 1


def test_json_gives_the_counts_and_each_records_result(run: Run, alice: Any) -> None:
    done = run("import", str(DATA / "watson-frames.json"), *MAPS, "--json")
    assert done.exit_code == 0, done.output
    data = json.loads(done.stdout)  # stdout holds only the JSON
    assert data["format"] == "watson" and data["user"] == "alice"
    assert data["counts"] == {"new": 3, "already_imported": 0, "problems": 0}
    assert data["push"]["synced"] == 3 and data["push"]["queued"] == 0
    first = data["entries"][0]
    assert first["record"] == 1 and first["status"] == "new"
    assert first["key"] == "watson:5f0c2a9be1d44f3c9a51f1d0c2e4b7a1:1"
    assert first["time"]["project"] == "gwm" and first["uuid"]
    again = json.loads(run("import", str(DATA / "watson-frames.json"), *MAPS, "--json").stdout)
    assert [e["uuid"] for e in again["entries"]] == [e["uuid"] for e in data["entries"]]
    assert {e["status"] for e in again["entries"]} == {"imported"}


def test_standard_input(run: Run, alice: Any) -> None:
    text = (DATA / "generic.csv").read_text(encoding="utf-8")
    done = run("import", "-", *MAPS, "--file-user", "ada", input=text)
    assert done.exit_code == 0, done.output
    assert "imported (csv): 4 new" in done.stdout
    watson = (DATA / "watson-frames.json").read_text(encoding="utf-8")
    guessed = run("import", "-", *MAPS, input=watson)
    assert "imported (watson): 3 new" in guessed.stdout
    unclear = one_error_line(run("import", "-", input="hello\n"), 1)
    assert unclear.startswith("cannot tell the format of standard input: give --format")


# --------------------------------------------------------------------------- offline


def test_offline_the_import_is_queued_and_synced_later(run: Run, alice: Any) -> None:
    before = seeded(alice)
    offline(alice)
    done = run("import", str(DATA / "watson-frames.json"), *MAPS)
    assert done.exit_code == 0, done.output
    assert "3 new, 0 already imported, 0 problems: queued" in done.stdout
    assert "3 stay queued: `pymesync sync` or the daemon sends them" in done.stdout
    again = run("import", str(DATA / "watson-frames.json"), *MAPS)
    assert "0 new, 3 already imported" in again.stdout
    assert queued(run) == 3
    alice.clear_faults()
    assert run("sync").exit_code == 0
    assert len(new_on_server(alice, before)) == 3


def test_before_any_login_the_import_waits_for_one(run: Run, emu: Any) -> None:
    assert run("config", "set", "base_url", emu.base_url).exit_code == 0
    assert run("config", "set", "username", "alice").exit_code == 0
    before = seeded(emu)
    done = run("import", str(DATA / "watson-frames.json"), *MAPS)
    assert done.exit_code == 0, done.output
    assert done.stdout.rstrip().endswith(
        "3 new, 0 already imported, 0 problems: queued, will sync after `pymesync login`"
        " (not logged in)"
    )
    assert run("import", str(DATA / "watson-frames.json"), *MAPS).exit_code == 0
    assert queued(run) == 3
    assert run("login", "--password-stdin", input="alice\n").exit_code == 0
    assert run("sync").exit_code == 0
    assert len(new_on_server(emu, before)) == 3
    assert "3 already imported" in run("import", str(DATA / "watson-frames.json"), *MAPS).stdout


# --------------------------------------------------------------------------- time zones


@pytest.mark.parametrize(
    ("zone", "dates"),
    [
        # frames start 2026-11-30 09:00 and 13:15 UTC, 2026-12-01 23:30 UTC
        ("Pacific/Kiritimati", ["2026-11-30", "2026-12-01", "2026-12-02"]),
        ("Pacific/Pago_Pago", ["2026-11-29", "2026-11-30", "2026-12-01"]),
    ],
    indirect=["zone"],
)
def test_the_date_worked_is_the_local_date(
    run: Run, alice: Any, zone: str, dates: list[str]
) -> None:
    before = seeded(alice)
    done = run("import", str(DATA / "watson-frames.json"), *MAPS, "--dry-run", "--json")
    shown = [e["time"]["date_worked"] for e in json.loads(done.stdout)["entries"]]
    assert shown == dates
    assert run("import", str(DATA / "watson-frames.json"), *MAPS).exit_code == 0
    assert run("sync").exit_code == 0
    made = sorted(new_on_server(alice, before), key=lambda t: t["duration"])
    # durations 1800 (13:15), 3600 (23:30), 5400 (09:00)
    assert [t["date_worked"] for t in made] == [dates[1], dates[2], dates[0]]


# --------------------------------------------------------------------------- killed


def big_csv(path: Path, count: int) -> None:
    lines = ["date,duration,project,activities,notes"]
    lines += [f"2026-11-{1 + i % 28:02d},{1 + i % 90}m,gwm,dev,entry {i}" for i in range(count)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def test_an_import_killed_midway_creates_nothing_twice_and_loses_nothing(
    tmp_path: Path,
) -> None:
    """SIGKILL at several moments of a 20,000-entry import (not logged in: nothing is
    sent): each entry is queued with its key or neither, and running the import again
    completes it exactly once."""
    count = 20_000
    path = tmp_path / "big.csv"
    big_csv(path, count)
    env = subprocess_env(tmp_path)
    exe = pymesync_executable()
    for args in (
        ("config", "set", "base_url", "http://127.0.0.1:9/v0"),
        ("config", "set", "username", "alice"),
        ("migrate",),
    ):
        subprocess.run([exe, *args], env=env, check=True, capture_output=True)
    store = Path(env["PYMESYNC_DB"])
    for delay in (0.3, 0.8, 1.5, 2.5):
        process = subprocess.Popen(
            [exe, "import", str(path)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        time.sleep(delay)
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
        assert store_counts(store) in {(0, 0), (count, count)}  # all or nothing
        check_pairs(store)
    done = subprocess.run(
        [exe, "import", str(path), "--json"], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert data["counts"]["new"] + data["counts"]["already_imported"] == count
    check_pairs(store)
    assert store_counts(store) == (count, count)


def check_pairs(store: Path) -> None:
    """Every queued create has its import key and every key its queued create."""
    db = sqlite3.connect(store)
    try:
        targets = {r[0] for r in db.execute("SELECT target FROM operations")}
        locals_ = {r[0] for r in db.execute("SELECT local_id FROM import_keys")}
    finally:
        db.close()
    assert targets == locals_


def test_a_progress_bar_only_on_a_terminal(
    run: Run, alice: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pymesync.cli import imports

    path = tmp_path / "many.csv"
    big_csv(path, imports.PROGRESS_FROM)
    piped = run("import", str(path), "--dry-run")
    assert "importing" not in piped.stderr
    monkeypatch.setattr(imports.tables, "is_terminal", lambda stream: True)
    quiet = run("import", str(path), "--json")
    assert "importing" not in quiet.stderr
    assert json.loads(quiet.stdout)["counts"]["new"] == imports.PROGRESS_FROM
    path.write_text(path.read_text(encoding="utf-8").replace("gwm,dev", "gwm,docs"))
    shown = run("import", str(path))
    assert shown.exit_code == 0, shown.output
    assert "importing" in shown.stderr  # (click draws the bar itself only on a real one)


def test_ctrl_c_before_the_commit_imports_nothing(
    run: Run, alice: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pymesync.client import TimeSync

    real = TimeSync.create_time
    calls = []

    def pressed(self: TimeSync, time: dict[str, Any]) -> Any:
        calls.append(time)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real(self, time)

    monkeypatch.setattr(TimeSync, "create_time", pressed)
    done = run("import", str(DATA / "generic.csv"), *MAPS, "--file-user", "ada")
    assert one_error_line(done, 130) == "interrupted: nothing was imported"
    assert store_counts(db()) == (0, 0)
    monkeypatch.setattr(TimeSync, "create_time", real)
    again = run("import", str(DATA / "generic.csv"), *MAPS, "--file-user", "ada")
    assert "4 new, 0 already imported" in again.stdout


def test_the_command_takes_every_format_the_readers_read() -> None:
    from pymesync import importers
    from pymesync.cli import imports

    assert imports.FORMATS == importers.FORMATS


def test_an_export_imported_back_creates_nothing_twice(
    run: Run, alice: Any, tmp_path: Path
) -> None:
    """`export` then `import` of the same entries: each row names its uuid, which this
    account knows, so nothing is queued (the server never deduplicates creates); a row
    of a deleted entry (`export --deleted`) is a problem, not a live entry again."""
    before = seeded(alice)
    for notes in ("exported one", "exported two"):
        assert run("log", "25m", "-p", "gwm", "-a", "dev", "-n", notes).exit_code == 0
    assert run("sync").exit_code == 0
    mine = new_on_server(alice, before)
    assert len(mine) == 2
    out = tmp_path / "round.csv"
    assert run("export", "--from", "-7d", "-o", str(out)).exit_code == 0
    again = run("import", str(out))
    assert again.exit_code == 0, again.output
    assert "0 new," in again.stdout and "0 problems" in again.stdout, again.stdout
    assert queued(run) == 0
    assert run("sync").exit_code == 0
    assert len(new_on_server(alice, before)) == 2
    gone = str(mine[0]["uuid"])
    assert run("rm", "--yes", gone).exit_code == 0
    assert run("sync").exit_code == 0
    out_deleted = tmp_path / "with-deleted.csv"
    assert run("export", "--from", "-7d", "--deleted", "-o", str(out_deleted)).exit_code == 0
    back = run("import", str(out_deleted))
    assert back.exit_code == EXIT_PROBLEMS, back.output
    assert "a deleted entry (deleted_at" in back.output
    assert queued(run) == 0
