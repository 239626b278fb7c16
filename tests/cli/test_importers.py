"""The readers behind ``pymesync import`` (pymesync.importers): the four formats, their
sample files in tests/data/import, the stable import keys, and the edge cases (time zones
at the day boundary, daylight saving, BOMs, CRLF, bytes that are not UTF-8, NULs, empty
and huge files)."""

from __future__ import annotations

import datetime as dt
import io
import json
import os
import time
from pathlib import Path

import pytest

from pymesync import importers
from pymesync.importers import (
    ImportedEntry,
    ImportFileError,
    ImportResult,
    apply_mapping,
    detect_format,
    parse_mapping,
    read_csv,
    read_import,
    read_timewarrior,
    read_toggl,
    read_watson,
)

DATA = Path(__file__).resolve().parents[1] / "data" / "import"
UTC = dt.timezone.utc


def sample(name: str) -> bytes:
    return (DATA / name).read_bytes()


def summary(result: ImportResult) -> list[tuple[str, str, int, str, tuple[str, ...], str | None]]:
    return [
        (
            e.date_worked.isoformat(),
            e.project,
            e.duration,
            e.key.split(":")[0],
            e.activities,
            e.notes,
        )
        for e in result.entries
    ]


def timestamp(text: str) -> int:
    return int(dt.datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp())


# --- the sample files -----------------------------------------------------------------


@pytest.mark.parametrize("zone", ["UTC"], indirect=True)
def test_the_watson_sample(zone: str) -> None:
    result = read_watson(sample("watson-frames.json"))
    assert result.problems == ()
    assert result.unit == "record"
    assert summary(result) == [
        ("2026-11-30", "website", 5400, "watson", ("dev", "review"), None),
        ("2026-11-30", "website", 1800, "watson", (), None),
        ("2026-12-01", "ops", 3600, "watson", ("meeting",), None),
    ]
    first = result.entries[0]
    assert first.key == "watson:5f0c2a9be1d44f3c9a51f1d0c2e4b7a1:1"
    assert first.start == dt.datetime(2026, 11, 30, 9, tzinfo=UTC)
    assert first.end == dt.datetime(2026, 11, 30, 10, 30, tzinfo=UTC)
    assert [e.line for e in result.entries] == [1, 2, 3]
    assert all(e.user is None and e.issue_uri is None for e in result.entries)


@pytest.mark.parametrize("zone", ["UTC"], indirect=True)
def test_the_timewarrior_sample(zone: str) -> None:
    result = read_timewarrior(sample("timewarrior.json"))
    assert result.problems == ()
    # tags are sorted by Timewarrior: the first one is the project by default
    assert summary(result) == [
        ("2026-11-30", "dev", 5400, "timewarrior", ("website",), "design review"),
        ("2026-11-30", "website", 1800, "timewarrior", (), None),
        ("2026-12-01", "meeting", 3600, "timewarrior", ("ops", "planning"), "quarterly plan"),
    ]
    by_position = read_timewarrior(sample("timewarrior.json"), project_tag=2)
    assert [e.project for e in by_position.entries] == ["website", "ops"]
    assert [p.line for p in by_position.problems] == [2]
    assert "no tag number 2" in by_position.problems[0].message


@pytest.mark.parametrize("zone", ["UTC"], indirect=True)
def test_the_toggl_sample_with_bom_and_crlf(zone: str) -> None:
    data = sample("toggl.csv")
    assert data.startswith(b"\xef\xbb\xbf") and b"\r\n" in data
    result = read_toggl(data)
    assert result.problems == ()
    assert result.unit == "line"
    assert summary(result) == [
        ("2026-11-30", "Website", 5400, "toggl", ("dev", "review"), "Homepage copy"),
        ("2026-11-30", "Website", 1800, "toggl", (), "Design: Logo, second try"),
        ("2026-12-01", "Ops", 3600, "toggl", ("meeting",), "Night deploy"),
    ]
    assert [e.line for e in result.entries] == [2, 3, 4]
    assert {e.user for e in result.entries} == {"Ada Lovelace"}
    last = result.entries[2]
    assert last.start == dt.datetime(2026, 12, 1, 23, 30, tzinfo=UTC)
    assert last.end == dt.datetime(2026, 12, 2, 0, 30, tzinfo=UTC)


@pytest.mark.parametrize("zone", ["UTC"], indirect=True)
def test_the_generic_sample(zone: str) -> None:
    result = read_csv(sample("generic.csv"))
    assert result.problems == ()
    assert summary(result) == [
        ("2026-11-30", "website", 5400, "csv", ("dev", "review"), "design review"),
        ("2026-11-30", "website", 3600, "csv", ("meeting",), "standup"),
        ("2026-11-30", "website", 3600, "csv", ("meeting",), "standup"),
        ("2026-12-01", "ops", 2700, "csv", (), 'notes with a comma, and "quotes"'),
    ]
    first = result.entries[0]
    assert first.issue_uri == "https://github.com/osuosl/gwm/issues/7"
    assert first.user == "ada"
    assert first.start == dt.datetime(2026, 11, 30, 9, tzinfo=UTC)
    assert first.end == dt.datetime(2026, 11, 30, 10, 30, tzinfo=UTC)
    assert result.entries[1].start is None and result.entries[1].user is None


@pytest.mark.parametrize(
    ("name", "reader", "problem_lines", "good_lines"),
    [
        ("watson-frames-bad.json", read_watson, [2, 3], [1, 4]),
        ("timewarrior-bad.json", read_timewarrior, [2, 3], [1, 4]),
        ("toggl-bad.csv", read_toggl, [3, 4], [2, 5]),
        ("generic-bad.csv", read_csv, [3, 4, 5, 6], [2, 7]),
    ],
)
def test_a_bad_record_is_a_problem_and_the_others_are_entries(
    name: str, reader: object, problem_lines: list[int], good_lines: list[int]
) -> None:
    result = reader(sample(name))  # type: ignore[operator]
    assert [p.line for p in result.problems] == problem_lines
    assert [e.line for e in result.entries] == good_lines
    for problem in result.problems:
        assert problem.message and "\n" not in problem.message
        assert result.describe(problem).startswith(f"{result.unit} {problem.line}: ")


def test_the_bad_samples_say_what_is_wrong() -> None:
    watson = read_watson(sample("watson-frames-bad.json")).problems
    assert "stop is not after start" in watson[0].message
    assert "start is not a timestamp: 'yesterday'" in watson[1].message
    timew = read_timewarrior(sample("timewarrior-bad.json")).problems
    assert "still running" in timew[0].message
    assert "'20261130T1315Z'" in timew[1].message
    toggl = read_toggl(sample("toggl-bad.csv")).problems
    assert "no project" in toggl[0].message
    assert "'2026-11-31'" in toggl[1].message
    generic = [p.message for p in read_csv(sample("generic-bad.csv")).problems]
    assert "more than zero" in generic[0]
    assert "not a whole number of seconds" in generic[1]
    assert "'30/11/2026'" in generic[2]
    assert "no project" in generic[3]


# --- keys -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "reader"),
    [
        ("watson-frames.json", read_watson),
        ("timewarrior.json", read_timewarrior),
        ("toggl.csv", read_toggl),
        ("generic.csv", read_csv),
    ],
)
def test_keys_are_the_same_on_every_read_and_distinct(name: str, reader: object) -> None:
    first = reader(sample(name))  # type: ignore[operator]
    again = reader((DATA / name).read_text(encoding="utf-8-sig"))  # type: ignore[operator]
    keys = [e.key for e in first.entries]
    assert keys == [e.key for e in again.entries]
    assert len(set(keys)) == len(keys)
    assert all(key.startswith(first.source + ":") for key in keys)


KEYED = [("toggl.csv", "toggl"), ("generic.csv", "csv"), ("timewarrior.json", "timewarrior")]


@pytest.mark.parametrize("zone", ["Pacific/Kiritimati"], indirect=True)
def test_keys_do_not_depend_on_the_machine_time_zone(zone: str) -> None:
    """The same file read in UTC+14 and in UTC-11 gives the same keys (the dates and
    offsets of the entries differ; the records are the same)."""
    keys = {name: [e.key for e in read_import(sample(name), fmt).entries] for name, fmt in KEYED}
    offsets = [e.start.utcoffset() for e in read_import(sample("toggl.csv"), "toggl").entries]
    os.environ["TZ"] = "Pacific/Pago_Pago"
    time.tzset()
    for name, fmt in KEYED:
        assert [e.key for e in read_import(sample(name), fmt).entries] == keys[name]
    toggl = read_import(sample("toggl.csv"), "toggl").entries
    assert [e.start.utcoffset() for e in toggl] != offsets  # type: ignore[union-attr]


def test_identical_rows_are_two_entries_with_their_occurrence_in_the_key() -> None:
    entries = read_csv(sample("generic.csv")).entries
    second, third = entries[1], entries[2]
    assert second.key.rsplit(":", 1)[0] == third.key.rsplit(":", 1)[0]
    assert (second.key.rsplit(":", 1)[1], third.key.rsplit(":", 1)[1]) == ("1", "2")


def test_a_later_timewarrior_export_keeps_the_keys_though_ids_are_renumbered() -> None:
    old = json.loads(sample("timewarrior.json"))
    later = [
        {"id": 1, "start": "20261203T080000Z", "end": "20261203T090000Z", "tags": ["ops"]},
        *({**interval, "id": interval["id"] + 1} for interval in old),
    ]
    before = {e.key for e in read_timewarrior(json.dumps(old)).entries}
    after = [e.key for e in read_timewarrior(json.dumps(later)).entries]
    assert before <= set(after)
    assert after[0] not in before


def test_a_later_toggl_export_with_other_rates_keeps_the_keys() -> None:
    text = sample("toggl.csv").decode("utf-8-sig")
    repriced = text.replace("150.00", "175.00").replace(",Yes,", ",No,")
    assert [e.key for e in read_toggl(text).entries] == [
        e.key for e in read_toggl(repriced).entries
    ]
    retimed = text.replace(
        "09:00:00,2026-11-30,10:30:00,01:30:00", "09:05:00,2026-11-30,10:30:00,01:25:00"
    )
    assert read_toggl(retimed).entries[0].key != read_toggl(text).entries[0].key


# --- time zones and daylight saving ---------------------------------------------------

# (zone, a UTC instant just before/after local midnight, the local date then)
BOUNDARIES = [
    ("Pacific/Pago_Pago", "2026-12-07T10:59:30", "2026-12-06"),
    ("Pacific/Pago_Pago", "2026-12-07T11:00:30", "2026-12-07"),
    ("UTC", "2026-12-07T23:59:30", "2026-12-07"),
    ("Pacific/Kiritimati", "2026-12-07T09:59:30", "2026-12-07"),
    ("Pacific/Kiritimati", "2026-12-07T10:00:30", "2026-12-08"),
]


@pytest.mark.parametrize(("zone", "instant", "local"), BOUNDARIES, indirect=["zone"])
def test_the_date_worked_is_the_local_date_of_the_start(
    zone: str, instant: str, local: str
) -> None:
    start = timestamp(instant)
    frames = json.dumps([[start, start + 600, "p", "abc", [], start + 600]])
    assert read_watson(frames).entries[0].date_worked.isoformat() == local
    stamp = dt.datetime.fromtimestamp(start, UTC)
    interval = {
        "start": f"{stamp:%Y%m%dT%H%M%SZ}",
        "end": f"{stamp + dt.timedelta(minutes=10):%Y%m%dT%H%M%SZ}",
        "tags": ["p"],
    }
    entry = read_timewarrior(json.dumps([interval])).entries[0]
    assert entry.date_worked.isoformat() == local
    assert entry.start is not None and entry.start.utcoffset() == stamp.astimezone().utcoffset()


@pytest.mark.parametrize("zone", ["Pacific/Kiritimati", "Pacific/Pago_Pago"], indirect=True)
def test_toggl_and_csv_wall_times_are_local_times(zone: str) -> None:
    toggl = read_toggl(sample("toggl.csv")).entries[2]
    assert toggl.date_worked == dt.date(2026, 12, 1)
    assert toggl.start is not None and toggl.start.replace(tzinfo=None) == dt.datetime(
        2026, 12, 1, 23, 30
    )
    assert toggl.start.utcoffset() == dt.datetime(2026, 12, 1, 23, 30).astimezone().utcoffset()
    generic = read_csv(sample("generic.csv")).entries[3]
    assert generic.date_worked == dt.date(2026, 12, 1)
    assert generic.start is not None and f"{generic.start:%H:%M}" == "23:30"
    assert generic.end is not None and f"{generic.end:%Y-%m-%d %H:%M}" == "2026-12-02 00:15"


@pytest.mark.parametrize("zone", ["Europe/Berlin"], indirect=True)
def test_daylight_saving(zone: str) -> None:
    # 2026-03-29: 02:00-03:00 does not exist in Berlin; 2026-10-25: 02:00-03:00 twice
    gap = read_csv("date,duration,project,start\n2026-03-29,1h,p,02:30\n2026-03-29,1h,p,03:30\n")
    assert [p.line for p in gap.problems] == [2]
    assert "does not exist" in gap.problems[0].message
    assert [e.line for e in gap.entries] == [3]
    # Toggl across the autumn change: 01:30 to 03:30 wall time is 3 hours really;
    # the Duration column (what Toggl measured) wins over the wall-clock difference
    header = (
        "User,Email,Project,Description,Start date,Start time,End date,End time,Duration,Tags\n"
    )
    row = "a,a@x,P,night,2026-10-25,01:30:00,2026-10-25,03:30:00,03:00:00,\n"
    entry = read_toggl(header + row).entries[0]
    assert entry.duration == 3 * 3600
    assert entry.end is not None and entry.start is not None
    assert (entry.end - entry.start).total_seconds() == 3 * 3600
    # Timewarrior is in UTC: a duration across the change is exact
    interval = {"start": "20261025T000000Z", "end": "20261025T020000Z", "tags": ["p"]}
    assert read_timewarrior(json.dumps([interval])).entries[0].duration == 7200


# --- durations ------------------------------------------------------------------------


def test_watson_frames_from_before_tags() -> None:
    frames = [[1796029200, 1796030100, "p", "a"], [1796029200, 1796030100, "p", "b", 1796030100]]
    result = read_watson(json.dumps(frames))
    assert result.problems == ()
    assert [(e.key, e.activities) for e in result.entries] == [
        ("watson:a:1", ()),
        ("watson:b:1", ()),
    ]
    bad = read_watson(json.dumps([[1796029200, 1796030100, "p", "c", "dev", 0]]))
    assert "tags are not a list" in bad.problems[0].message


def test_watson_fractions_of_a_second_are_dropped_and_zero_or_negative_refused() -> None:
    frames = [
        [1796029200.75, 1796030100.25, "p", "a", [], 0],
        [1796029200, 1796029200, "p", "b", [], 0],
        [1796029200, 1796029100, "p", "c", [], 0],
    ]
    result = read_watson(json.dumps(frames))
    assert [e.duration for e in result.entries] == [900]
    assert [p.line for p in result.problems] == [2, 3]


def test_toggl_duration_column_wins_and_its_other_forms() -> None:
    header = (
        "User,Email,Project,Description,Start date,Start time,End date,End time,Duration,Tags\n"
    )
    rows = [
        # disagrees with start/end: the Duration column wins
        "a,a@x,P,rounded,2026-11-30,09:00:00,2026-11-30,09:07:00,00:15:00,\n",
        # decimal hours with an end time: end minus start
        "a,a@x,P,decimal,2026-11-30,10:00:00,2026-11-30,10:45:00,0.75,\n",
        # more than 24 hours: carried (the command decides)
        "a,a@x,P,long,2026-11-30,09:00:00,2026-12-01,11:00:00,26:00:00,\n",
        # zero
        "a,a@x,P,zero,2026-11-30,09:00:00,2026-11-30,09:00:00,00:00:00,\n",
    ]
    result = read_toggl(header + "".join(rows))
    assert [e.duration for e in result.entries] == [900, 2700, 26 * 3600]
    assert [p.line for p in result.problems] == [5]
    assert "more than zero" in result.problems[0].message


def test_toggl_import_style_csv_without_end_columns() -> None:
    text = (
        "Email,Start date,Start time,Duration,Project,Description\n"
        "a@x,2026-11-30,09:00:00,1.5,P,x\n"
    )
    entry = read_toggl(text).entries[0]
    assert entry.duration == 5400
    assert entry.user == "a@x"
    assert entry.end is not None and entry.start is not None
    assert entry.end - entry.start == dt.timedelta(hours=1, minutes=30)


# --- encodings, NULs, empty and huge files --------------------------------------------


@pytest.mark.parametrize(
    ("reader", "good"),
    [
        (read_csv, b"date,duration,project\n2026-11-30,1h,p\n"),
        (read_toggl, b"Project,Start date,Start time,Duration\np,2026-11-30,09:00:00,01:00:00\n"),
        (read_watson, b'[[1796029200, 1796030100, "p", "a", [], 0]]'),
        (read_timewarrior, b'[{"start":"20261130T090000Z","end":"20261130T100000Z","tags":["p"]}]'),
    ],
)
def test_whole_file_errors(reader: object, good: bytes) -> None:
    assert len(reader(good).entries) == 1  # type: ignore[operator]
    assert len(reader(b"\xef\xbb\xbf" + good.replace(b"\n", b"\r\n")).entries) == 1  # type: ignore[operator]
    for bad, words in [
        (b"", "empty"),
        (b"\xef\xbb\xbf \r\n", "empty"),
        (good.replace(b"p", b"\xe9", 1), "not UTF-8"),
    ]:
        with pytest.raises(ImportFileError, match=words):
            reader(bad)  # type: ignore[operator]


def test_latin1_late_in_a_big_file_names_its_line() -> None:
    rows = b"".join(b"2026-11-30,1h,p,row %d\n" % n for n in range(5000))
    data = b"date,duration,project,notes\n" + rows + b"2026-11-30,1h,p,caf\xe9\n"
    with pytest.raises(ImportFileError, match="near line 5002"):
        read_csv(data)


def test_nul_characters() -> None:
    result = read_csv(b"date,duration,project,notes\n2026-11-30,1h,p,a\x00b\n2026-11-30,1h,p,ok\n")
    assert [p.line for p in result.problems] == [2]
    assert "NUL" in result.problems[0].message
    assert [e.notes for e in result.entries] == ["ok"]
    with pytest.raises(ImportFileError, match="NUL"):
        read_watson(b"[\x00]")
    # UTF-16 (a NUL after every ASCII byte) is refused as a whole
    with pytest.raises(ImportFileError):
        read_csv("date,duration,project\n".encode("utf-16"))


class ChunkedOnly(io.RawIOBase):
    """A binary file that refuses to be read whole (read() or read(-1))."""

    def __init__(self, data: bytes) -> None:
        self.inner = io.BytesIO(data)
        self.biggest = 0

    def readable(self) -> bool:
        return True

    def read(self, size: int | None = -1) -> bytes:
        assert size is not None and 0 < size <= 1 << 20, f"read({size}) reads the file whole"
        self.biggest = max(self.biggest, size)
        return self.inner.read(size)


def test_csv_files_are_read_in_chunks() -> None:
    rows = 50_000
    body = b"".join(b"2026-11-30,%dm,p%d,note\r\n" % (n % 90 + 1, n % 7) for n in range(rows))
    source = ChunkedOnly(b"\xef\xbb\xbfdate,duration,project,notes\r\n" + body)
    result = read_csv(source)  # type: ignore[arg-type]
    assert len(result.entries) == rows and result.problems == ()
    assert result.entries[-1].line == rows + 1
    assert source.biggest <= 1 << 20


# --- the generic CSV's header ---------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "words"),
    [
        ("date,duration,project,acitvities", "unknown column(s) 'acitvities'"),
        ("date,duration,project,notes,notes", "given twice 'notes'"),
        ("date,duration,notes", "missing column(s) 'project'"),
        ("date,duration,project,", "unknown column(s) '(empty)'"),
    ],
)
def test_the_generic_header_is_checked(header: str, words: str) -> None:
    with pytest.raises(ImportFileError, match=words.replace("(", r"\(").replace(")", r"\)")):
        read_csv(header + "\n2026-11-30,1h,p,x\n")


def test_the_generic_header_ignores_case_and_takes_semicolons() -> None:
    result = read_csv('DATE;Duration;Project;Activities\n2026-11-30;90m;p;"dev;docs"\n')
    assert result.problems == ()
    assert result.entries[0].activities == ("dev", "docs")
    assert result.entries[0].duration == 5400


def test_a_row_with_more_cells_than_the_header_is_a_problem() -> None:
    result = read_csv("date,duration,project\n2026-11-30,1h,p,stray\n2026-11-30,1h,p\n")
    assert [p.line for p in result.problems] == [2]


def test_toggl_header_and_json_shape_errors() -> None:
    with pytest.raises(ImportFileError, match="not a Toggl Track detailed CSV export"):
        read_toggl("date,duration,project\n2026-11-30,1h,p\n")
    with pytest.raises(ImportFileError, match="not JSON"):
        read_watson("date,duration,project\n")
    with pytest.raises(ImportFileError, match="JSON dict, not a list"):
        read_timewarrior('{"start": "20261130T090000Z"}')
    # a list ending "},\n]" (as in Timewarrior's manual) is read
    text = '[\n{"start":"20261130T090000Z","end":"20261130T100000Z","tags":["p"]},\n]'
    assert len(read_timewarrior(text).entries) == 1


def test_timewarrior_project_by_prefix_and_without_tags() -> None:
    intervals = [
        {"start": "20261130T090000Z", "end": "20261130T100000Z", "tags": ["dev", "project:gwm"]},
        {"start": "20261130T100000Z", "end": "20261130T110000Z", "tags": ["dev"]},
        {"start": "20261130T110000Z", "end": "20261130T120000Z"},
    ]
    result = read_timewarrior(json.dumps(intervals), project_tag="project:")
    assert [(e.project, e.activities) for e in result.entries] == [("gwm", ("dev",))]
    assert [p.line for p in result.problems] == [2, 3]
    assert "no tags" in result.problems[1].message
    with pytest.raises(ValueError, match="counts from 1"):
        read_timewarrior("[]", project_tag=0)


# --- detection, dispatch and mapping --------------------------------------------------


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("watson-frames.json", "watson"),
        ("watson-frames-bad.json", "watson"),
        ("timewarrior.json", "timewarrior"),
        ("toggl.csv", "toggl"),
        ("toggl-bad.csv", "toggl"),
        ("generic.csv", "csv"),
        ("generic-bad.csv", "csv"),
    ],
)
def test_detect_format_on_the_samples(name: str, expected: str) -> None:
    assert detect_format(name, sample(name)[:4096]) == expected
    assert read_import(sample(name), expected).source == expected


def test_detect_format_when_unclear() -> None:
    assert detect_format("frames", b"[]") == "watson"
    assert detect_format("export.json", b"[]") is None
    assert detect_format("notes.txt", b"hello, world\n") is None
    assert detect_format("empty.csv", b"") is None
    with pytest.raises(ValueError, match="unknown import format"):
        read_import(b"", "harvest")
    assert set(importers.FORMATS) == {"watson", "toggl", "timewarrior", "csv"}


def test_apply_mapping() -> None:
    entries = read_toggl(sample("toggl.csv")).entries
    projects = parse_mapping(["website=gwm", "OPS = infra"])
    activities = parse_mapping(["DEV=development", "review=development"], "activity")
    mapped = apply_mapping(entries, projects, activities)
    assert [(e.project, e.activities) for e in mapped] == [
        ("gwm", ("development",)),
        ("gwm", ()),
        ("infra", ("meeting",)),
    ]
    assert entries[0].project == "Website"  # the input is not changed
    assert [e.key for e in mapped] == [e.key for e in entries]
    assert isinstance(mapped[0], ImportedEntry)


@pytest.mark.parametrize(
    ("options", "words"),
    [(["website"], "use NAME=SLUG"), (["=gwm"], "use NAME=SLUG"), (["a=b", "A=c"], "mapped twice")],
)
def test_parse_mapping_refuses(options: list[str], words: str) -> None:
    with pytest.raises(ValueError, match=words):
        parse_mapping(options)
