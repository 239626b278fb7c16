"""Reading time entries out of other trackers' files, for ``pymesync import``.

Pure: text or bytes in, :class:`ImportedEntry` values and :class:`ImportProblem` lines out.
No network, no store, no command line; the standard library only. The formats, and every
decision below, are described for users in ``docs/import-formats.md``.

* ``watson``: Watson's ``frames`` file, a JSON list of frames ``[start, stop, project,
  id, tags, updated_at]`` (Unix timestamps; older files stop after ``id``).
* ``toggl``: a Toggl Track "Detailed report" CSV export.
* ``timewarrior``: the JSON array ``timew export`` prints.
* ``csv``: pymesync's own CSV (columns ``date``, ``duration``, ``project``, and optional
  ``activities``, ``notes``, ``issue_uri``, ``user``, ``start``).

A record that cannot be read becomes a problem (its line or record number and one line
of text) and the others still become entries; a file that cannot be read at all (not
UTF-8, not JSON, a CSV header that is not the format's) raises :class:`ImportFileError`.

**Import keys.** Every entry carries a ``key``, ``<format>:<identity>:<n>``, that is the
same each time the same record is read again, from the same file or from a later export
that still contains it; the command keeps the keys it has imported, so re-running an
import creates nothing twice. The identity is Watson's frame id; for Timewarrior (whose
ids are renumbered) a hash of start, end and tags; for Toggl (no id in the CSV) a hash of
who, start, end, duration, project, task and description; for the generic CSV a hash of
every cell. ``n`` counts the records with the same identity in the file (1 for the
first), so two identical rows ("1h standup" twice on one day) are two entries.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import hashlib
import io
import json
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import IO, Any, TypeAlias

from .durations import DurationError, parse_duration

__all__ = [
    "CSV_COLUMNS",
    "CSV_EXPORT_COLUMNS",
    "FORMATS",
    "ImportFileError",
    "ImportProblem",
    "ImportResult",
    "ImportedEntry",
    "apply_mapping",
    "detect_format",
    "parse_mapping",
    "read_csv",
    "read_import",
    "read_timewarrior",
    "read_toggl",
    "read_watson",
]

#: The format names, as ``--format`` takes them.
FORMATS = ("watson", "toggl", "timewarrior", "csv")

#: The generic CSV's columns: the required ones first.
CSV_COLUMNS = ("date", "duration", "project", "activities", "notes", "issue_uri", "user", "start")
_CSV_REQUIRED = ("date", "duration", "project")
#: Columns ``pymesync export --format csv`` writes besides :data:`CSV_COLUMNS`: read
#: past (an imported entry is a new entry, synced afresh), never refused.
CSV_EXPORT_COLUMNS = ("uuid", "sync_state", "revision", "created_at", "updated_at", "deleted_at")

#: What a data source is: the file's bytes, its text, or a binary file open for reading
#: (read in chunks where the format allows it).
Source: TypeAlias = bytes | str | IO[bytes]

_NUL_MARK = "\ufdd0"  # stands for a NUL inside a CSV record (a noncharacter)
_CHUNK = 1 << 16


class ImportFileError(ValueError):
    """The file as a whole cannot be read in the format asked for; the message is one
    clear line (what is wrong and, where it helps, where)."""


class _RecordError(ValueError):
    """One record cannot be read; becomes an :class:`ImportProblem`."""


@dataclass(frozen=True)
class ImportedEntry:
    """One time entry read from a file, before mapping and validation.

    ``project`` and ``activities`` are the source's names (see :func:`apply_mapping`);
    ``date_worked`` is the local date (machine time zone) of the start; ``duration`` is
    whole seconds, more than zero (it may be more than a day: the command decides);
    ``start``/``end`` are aware datetimes when the source has them; ``line`` is the line
    (CSV) or record (JSON, 1 = first) the entry comes from; ``uuid`` is the TimeSync
    uuid a row of ``pymesync export`` names (the command skips an entry it already
    knows under that uuid: exporting and importing again creates nothing twice).
    """

    key: str
    source: str
    line: int
    date_worked: dt.date
    duration: int
    project: str
    activities: tuple[str, ...] = ()
    notes: str | None = None
    issue_uri: str | None = None
    user: str | None = None
    start: dt.datetime | None = None
    end: dt.datetime | None = None
    uuid: str | None = None


@dataclass(frozen=True)
class ImportProblem:
    """A record that was not imported: where (line or record number) and why."""

    line: int
    message: str


@dataclass(frozen=True)
class ImportResult:
    """What a file gave: its entries and its problems, in file order.

    ``unit`` says what ``line`` counts: ``"line"`` for CSV files, ``"record"`` for JSON
    ones (the position in the list, 1 = first).
    """

    source: str
    entries: tuple[ImportedEntry, ...]
    problems: tuple[ImportProblem, ...]
    unit: str

    def describe(self, problem: ImportProblem) -> str:
        """``problem`` as one line: ``line 4: ...`` or ``record 4: ...``."""
        return f"{self.unit} {problem.line}: {problem.message}"


# ---------------------------------------------------------------------------------------
# common helpers


def _local_date(moment: dt.datetime) -> dt.date:
    """The machine's local date at ``moment`` (as :func:`pymesync.durations.local_today`)."""
    return moment.astimezone().date()


def _localize(wall: dt.datetime) -> dt.datetime:
    """A naive local wall time as an aware datetime in the machine's zone; a time that a
    daylight-saving change skips is refused, one that it repeats is the earlier."""
    moment = wall.astimezone()
    if moment.replace(tzinfo=None) != wall:
        raise _RecordError(
            f"{wall:%Y-%m-%d %H:%M:%S} does not exist in this time zone (daylight-saving gap)"
        )
    return moment


def _text(value: Any) -> str | None:
    """A cell or JSON string stripped, or None when empty."""
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def _digest(*parts: object) -> str:
    """A short stable hash of ``parts`` (JSON, so that no separator can be forged)."""
    raw = json.dumps([str(part) if part is not None else None for part in parts])
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()[:32]


class _Keys:
    """Gives ``<format>:<identity>:<n>``, ``n`` counting repeats of one identity."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.seen: dict[str, int] = {}

    def __call__(self, identity: str) -> str:
        count = self.seen.get(identity, 0) + 1
        self.seen[identity] = count
        return f"{self.source}:{identity}:{count}"


class _Collector:
    """Accumulates entries and problems for one file."""

    def __init__(self, source: str, unit: str) -> None:
        self.source = source
        self.unit = unit
        self.entries: list[ImportedEntry] = []
        self.problems: list[ImportProblem] = []

    def problem(self, line: int, message: str) -> None:
        self.problems.append(ImportProblem(line, " ".join(message.split())))

    def result(self) -> ImportResult:
        return ImportResult(self.source, tuple(self.entries), tuple(self.problems), self.unit)


def _check_duration(seconds: int) -> int:
    if seconds <= 0:
        raise _RecordError(f"duration must be more than zero (got {seconds} s)")
    return seconds


def _read_all(data: Source) -> str:
    """The whole text of ``data`` (UTF-8, an optional BOM dropped), for the JSON formats."""
    if isinstance(data, str):
        text = data.removeprefix("\ufeff")
    else:
        raw = data if isinstance(data, bytes) else data.read()
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            line = raw.count(b"\n", 0, exc.start) + 1
            raise ImportFileError(
                f"not UTF-8 text (a byte that is not UTF-8 on line {line}); save the file as UTF-8"
            ) from None
    if not text.strip():
        raise ImportFileError("the file is empty: nothing to import")
    if "\x00" in text:
        raise ImportFileError("the file contains NUL bytes: not a JSON text file")
    return text


def _load_json_list(data: Source, what: str) -> list[Any]:
    text = _read_all(data)
    try:
        loaded = json.loads(text)
    except json.JSONDecodeError as exc:
        # Some Timewarrior versions' examples end the list with "},\n]".
        fixed = re.sub(r",\s*\]\s*$", "]", text)
        try:
            loaded = json.loads(fixed) if fixed != text else None
        except json.JSONDecodeError:
            loaded = None
        if loaded is None:
            raise ImportFileError(
                f"not JSON ({exc.msg} at line {exc.lineno}, column {exc.colno}): not {what}"
            ) from None
    if not isinstance(loaded, list):
        raise ImportFileError(
            f"not {what}: the file holds a JSON {type(loaded).__name__}, not a list"
        )
    return loaded


def _chunks(data: Source) -> Iterator[str]:
    """The text of ``data`` in pieces, decoded as UTF-8 (a BOM dropped) without reading a
    binary file whole. Raises :class:`ImportFileError` on bytes that are not UTF-8."""
    if isinstance(data, str):
        yield data.removeprefix("\ufeff")
        return
    binary: IO[bytes] = io.BytesIO(data) if isinstance(data, bytes) else data
    decoder = codecs.getincrementaldecoder("utf-8-sig")(errors="strict")
    line = 1
    while True:
        chunk = binary.read(_CHUNK)
        try:
            text = decoder.decode(chunk, final=not chunk)
        except UnicodeDecodeError as exc:
            line += chunk.count(b"\n", 0, max(exc.start, 0))
            raise ImportFileError(
                f"not UTF-8 text (a byte that is not UTF-8 near line {line});"
                " save the file as UTF-8 (Excel: 'CSV UTF-8')"
            ) from None
        line += chunk.count(b"\n")
        if text:
            yield text
        if not chunk:
            return


def _lines(data: Source) -> Iterator[str]:
    """The lines of ``data`` (split at ``\\n`` only, ends kept), NULs replaced by a mark
    that records are checked for."""
    pending = ""
    for text in _chunks(data):
        pending += text
        cut = pending.rfind("\n")
        if cut < 0:
            continue
        block, pending = pending[: cut + 1], pending[cut + 1 :]
        start = 0
        while start < len(block):
            end = block.index("\n", start) + 1
            yield block[start:end].replace("\x00", _NUL_MARK)
            start = end
    if pending:
        yield pending.replace("\x00", _NUL_MARK)


def _csv_header(data: Source) -> tuple[_Rows, Iterator[tuple[int, list[str]]], list[str]]:
    """A CSV file's rows (their delimiter picked from the header line), the iterator
    past the header, and the header's column names; an empty file is an error."""
    rows = _Rows(data)
    header_line = rows.header_text()
    if not header_line:
        raise ImportFileError("the file is empty: nothing to import")
    rows.delimiter = _pick_delimiter(header_line)
    iterator = iter(rows)
    _, header = next(iterator)
    return rows, iterator, _header_names(header)


class _Rows:
    """CSV rows with the line each starts on; blank lines skipped."""

    def __init__(self, data: Source, delimiter: str | None = None) -> None:
        self.lines = _lines(data)
        self.first = next(self.lines, None)
        self.delimiter = delimiter
        #: Records that are not CSV (a quote never closed, text after a closing quote,
        #: a field over the csv module's limit): (line, why), each skipped.
        self.errors: list[tuple[int, str]] = []

    def header_text(self) -> str:
        return (self.first or "").strip()

    def __iter__(self) -> Iterator[tuple[int, list[str]]]:
        if self.first is None:
            return

        def all_lines() -> Iterator[str]:
            assert self.first is not None
            yield self.first
            yield from self.lines

        reader = csv.reader(all_lines(), delimiter=self.delimiter or ",", strict=True)
        previous = 0
        while True:
            start = previous + 1
            try:
                row = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                previous = reader.line_num
                if start == 1:
                    raise ImportFileError(f"not a CSV file (line 1: {exc})") from None
                self.errors.append((start, _csv_error(exc, start, previous)))
                continue
            previous = reader.line_num
            if not row or all(not cell.strip() for cell in row):
                continue
            yield start, row


def _csv_error(exc: csv.Error, start: int, end: int) -> str:
    """Why the record from line ``start`` to ``end`` is not CSV, in one line."""
    text = str(exc)
    if "unexpected end of data" in text:
        return "a quoted field is never closed: the file's end came first" + (
            f" (lines {start}-{end} were read as this one record)" if end > start else ""
        )
    if "expected after" in text:
        return 'text after a closing quote (a quote inside a quoted field is written twice: "")'
    if "field limit" in text:
        return f"a field longer than {csv.field_size_limit()} characters"
    return f"not CSV ({text})"


def _header_names(row: Sequence[str]) -> list[str]:
    return [" ".join(cell.replace(_NUL_MARK, "").split()).lower() for cell in row]


def _pick_delimiter(header: str) -> str:
    """``,`` unless the header line has none and has ``;`` or tabs (Excel in some
    languages writes ``;``)."""
    if "," in header:
        return ","
    for candidate in (";", "\t"):
        if candidate in header:
            return candidate
    return ","


def _has_nul(row: Sequence[str]) -> bool:
    return any(_NUL_MARK in cell for cell in row)


# ---------------------------------------------------------------------------------------
# Watson


def read_watson(data: Source) -> ImportResult:
    """Watson's ``frames`` file (``~/.config/watson/frames``).

    Each frame is ``[start, stop, project, id, tags, updated_at]``: start and stop are
    Unix timestamps (UTC; fractions of a second are dropped, each is rounded down), the
    id is Watson's own (a hex uuid, kept as the import key), tags become activities.
    Files from Watson before tags (``[start, stop, project, id]``, then with
    ``updated_at`` fifth) are read too, and a 7th field (a note,
    written by some Watson front ends) becomes the notes. ``updated_at`` is not used.
    """
    records = _load_json_list(data, "a Watson frames file")
    out = _Collector("watson", "record")
    keys = _Keys("watson")
    for number, frame in enumerate(records, start=1):
        try:
            out.entries.append(_watson_frame(frame, number, keys))
        except _RecordError as exc:
            out.problem(number, str(exc))
    return out.result()


def _timestamp(value: Any, what: str) -> dt.datetime:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _RecordError(f"{what} is not a timestamp: {value!r}")
    try:
        return dt.datetime.fromtimestamp(int(value // 1), dt.timezone.utc)
    except (OverflowError, OSError, ValueError):
        raise _RecordError(f"{what} is out of range: {value!r}") from None


def _watson_frame(frame: Any, number: int, keys: _Keys) -> ImportedEntry:
    if not isinstance(frame, list) or not 4 <= len(frame) <= 7:
        raise _RecordError(
            "not a Watson frame (expected [start, stop, project, id, tags, updated_at])"
        )
    start = _timestamp(frame[0], "start")
    stop = _timestamp(frame[1], "stop")
    project, frame_id = frame[2], frame[3]
    if not isinstance(project, str) or not project.strip():
        raise _RecordError(f"no project name: {project!r}")
    if not isinstance(frame_id, str) or not frame_id.strip():
        raise _RecordError(f"no frame id: {frame_id!r}")
    tags = frame[4] if len(frame) > 4 and frame[4] is not None else []
    if len(frame) == 5 and isinstance(tags, int | float):  # Watson before tags: updated_at
        tags = []
    if not isinstance(tags, list) or not all(isinstance(tag, str) for tag in tags):
        raise _RecordError(f"tags are not a list of names: {tags!r}")
    note = frame[6] if len(frame) > 6 else None
    if note is not None and not isinstance(note, str):
        raise _RecordError(f"the note is not text: {note!r}")
    duration = int((stop - start).total_seconds())
    if duration <= 0:
        raise _RecordError(f"stop is not after start (duration {duration} s)")
    return ImportedEntry(
        key=keys(frame_id.strip()),
        source="watson",
        line=number,
        date_worked=_local_date(start),
        duration=duration,
        project=project.strip(),
        activities=tuple(tag.strip() for tag in tags if tag.strip()),
        notes=_text(note),
        start=start.astimezone(),
        end=stop.astimezone(),
    )


# ---------------------------------------------------------------------------------------
# Timewarrior

_TIMEW_MOMENT = re.compile(r"(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z")


def read_timewarrior(data: Source, *, project_tag: int | str = 1) -> ImportResult:
    """The JSON array ``timew export`` prints.

    Each interval has ``start`` and ``end`` (UTC, ``YYYYMMDDTHHMMSSZ``), ``tags`` and an
    optional ``annotation`` (the notes). An interval without ``end`` is still running:
    it is a problem, not an entry (stop it, export again).

    Timewarrior has no projects, only tags, and keeps each interval's tags sorted
    alphabetically. ``project_tag`` says which tag is the project: a position (1 = the
    first tag, the default) or a prefix (``"project:"``: the tag that starts with it,
    prefix removed). The other tags, in Timewarrior's order, are the activities.
    Timewarrior's ids are renumbered as intervals come and go, so the import key is a
    hash of start, end and tags.
    """
    if isinstance(project_tag, int) and project_tag < 1:
        raise ValueError("project_tag: a position counts from 1")
    if isinstance(project_tag, str) and not project_tag:
        raise ValueError("project_tag: give a non-empty prefix")
    records = _load_json_list(data, "a Timewarrior export")
    out = _Collector("timewarrior", "record")
    keys = _Keys("timewarrior")
    for number, interval in enumerate(records, start=1):
        try:
            out.entries.append(_timew_interval(interval, number, keys, project_tag))
        except _RecordError as exc:
            out.problem(number, str(exc))
    return out.result()


def _timew_moment(value: Any, what: str) -> dt.datetime:
    match = _TIMEW_MOMENT.fullmatch(value) if isinstance(value, str) else None
    if match is None:
        raise _RecordError(f"{what} is not a Timewarrior time (YYYYMMDDTHHMMSSZ): {value!r}")
    try:
        year, month, day, hour, minute, second = (int(part) for part in match.groups())
        return dt.datetime(year, month, day, hour, minute, second, tzinfo=dt.timezone.utc)
    except ValueError:
        raise _RecordError(f"{what} is not a real time: {value!r}") from None


def _timew_interval(
    interval: Any, number: int, keys: _Keys, project_tag: int | str
) -> ImportedEntry:
    if not isinstance(interval, dict):
        raise _RecordError("not a Timewarrior interval (expected an object with start, end, tags)")
    start = _timew_moment(interval.get("start"), "start")
    if interval.get("end") is None:
        raise _RecordError(
            f"still running (started {start.astimezone():%Y-%m-%d %H:%M}, no end):"
            " stop it and export again"
        )
    end = _timew_moment(interval.get("end"), "end")
    tags = interval.get("tags") or []
    if not isinstance(tags, list) or not all(isinstance(tag, str) for tag in tags):
        raise _RecordError(f"tags are not a list of names: {tags!r}")
    annotation = interval.get("annotation")
    if annotation is not None and not isinstance(annotation, str):
        raise _RecordError(f"the annotation is not text: {annotation!r}")
    duration = int((end - start).total_seconds())
    if duration <= 0:
        raise _RecordError(f"end is not after start (duration {duration} s)")
    if not tags:
        raise _RecordError("no tags, so no project (Timewarrior's tags give the project)")
    if isinstance(project_tag, int):
        if project_tag > len(tags):
            raise _RecordError(
                f"no tag number {project_tag} to take the project from (tags: {', '.join(tags)})"
            )
        index = project_tag - 1
        project = tags[index]
    else:
        found = [i for i, tag in enumerate(tags) if tag.startswith(project_tag)]
        if not found or not tags[found[0]][len(project_tag) :].strip():
            raise _RecordError(
                f"no tag starting with {project_tag!r} to take the project from"
                f" (tags: {', '.join(tags)})"
            )
        index = found[0]
        project = tags[index][len(project_tag) :]
    activities = tuple(tag.strip() for i, tag in enumerate(tags) if i != index and tag.strip())
    identity = _digest(interval["start"], interval["end"], *sorted(tags))
    return ImportedEntry(
        key=keys(identity),
        source="timewarrior",
        line=number,
        date_worked=_local_date(start),
        duration=duration,
        project=project.strip(),
        activities=activities,
        notes=_text(annotation),
        start=start.astimezone(),
        end=end.astimezone(),
    )


# ---------------------------------------------------------------------------------------
# Toggl Track

#: Toggl's column names (lower case) -> what this reader calls them.
_TOGGL_COLUMNS = {
    "user": "user",
    "email": "email",
    "client": "client",
    "project": "project",
    "task": "task",
    "description": "description",
    "billable": "billable",
    "start date": "start_date",
    "start time": "start_time",
    "end date": "end_date",
    "end time": "end_time",
    "duration": "duration",
    "tags": "tags",
}
_HMS = re.compile(r"(\d+):([0-5]\d):([0-5]\d)")
_DECIMAL_HOURS = re.compile(r"(\d+(?:\.\d+)?)\s*h?")
_TIME_OF_DAY = re.compile(r"(\d{1,2}):(\d{2})(?::(\d{2}))?")


def read_toggl(data: Source) -> ImportResult:
    """A Toggl Track "Detailed report" exported as CSV.

    The header is Toggl's ``User, Email, Client, Project, Task, Description, Billable,
    Start date, Start time, End date, End time, Duration, Tags, Amount (USD)`` (any
    order, any case: ``Start Date`` and ``Start date`` are one column; ``Amount ()`` in
    older exports, ``Amount (USD)``/``Amount (EUR)`` in newer ones). The columns Toggl's
    own CSV import takes (no ``End date``/``End time``: start and ``Duration``) are read
    too. Columns this reader does not use (``Client``, ``Billable``, amounts) are
    ignored: a newer export may add some. Dates are ``YYYY-MM-DD`` and times
    ``HH:MM:SS`` (24-hour), as Toggl writes them.

    * project: ``Project`` (required); activities: the ``Tags`` (comma-separated);
      notes: ``Description``, after ``Task: `` when the entry has a task; user: ``User``,
      else ``Email``.
    * Start and end are wall times of the Toggl profile's time zone, read as the
      machine's local time; ``date_worked`` is the ``Start date``.
    * Duration: the ``Duration`` column (``H:MM:SS``) wins over end minus start: it is
      what Toggl measured and totals (a report's rounding included, and right across a
      daylight-saving change where the wall times are not). A decimal-hours ``Duration``
      (``1.50``) is only used when the row has no end time; otherwise end minus start.
    """
    rows, iterator, names = _csv_header(data)
    columns: dict[str, int] = {}
    for index, name in enumerate(names):
        known = _TOGGL_COLUMNS.get(name)
        if known is not None and known not in columns:
            columns[known] = index
    missing = [
        label
        for label, column in (
            ("Project", "project"),
            ("Start date", "start_date"),
            ("Start time", "start_time"),
        )
        if column not in columns
    ]
    if "duration" not in columns and not {"end_date", "end_time"} <= columns.keys():
        missing.append("Duration (or End date and End time)")
    if missing:
        raise ImportFileError(
            f"not a Toggl Track detailed CSV export: no {', '.join(missing)} column"
            f" (header: {rows.header_text()[:120]})"
        )
    out = _Collector("toggl", "line")
    keys = _Keys("toggl")
    for line, row in iterator:
        try:
            out.entries.append(_toggl_row(row, columns, line, keys))
        except _RecordError as exc:
            out.problem(line, str(exc))
    for line, message in rows.errors:
        out.problem(line, message)
    return out.result()


_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def _iso_date(text: str | None, what: str) -> dt.date:
    if text and _ISO_DATE.fullmatch(text):
        try:
            return dt.date.fromisoformat(text)
        except ValueError:
            pass
    raise _RecordError(f"{what} is not a date (YYYY-MM-DD): {text!r}")


def _time_of_day(text: str | None, what: str) -> dt.time:
    match = _TIME_OF_DAY.fullmatch(text) if text else None
    if match:
        hour, minute, second = (int(part or 0) for part in match.groups())
        if hour <= 23 and minute <= 59 and second <= 59:
            return dt.time(hour, minute, second)
    raise _RecordError(f"{what} is not a time of day (HH:MM or HH:MM:SS): {text!r}")


def _toggl_row(row: list[str], columns: dict[str, int], line: int, keys: _Keys) -> ImportedEntry:
    if _has_nul(row):
        raise _RecordError("the row contains a NUL character")

    def cell(name: str) -> str | None:
        index = columns.get(name)
        return _text(row[index]) if index is not None and index < len(row) else None

    project = cell("project")
    if project is None:
        raise _RecordError("no project (Toggl's '(no project)' entries cannot be imported)")
    start_date = _iso_date(cell("start_date"), "Start date")
    start = _localize(
        dt.datetime.combine(start_date, _time_of_day(cell("start_time"), "Start time"))
    )
    end: dt.datetime | None = None
    has_end = bool(cell("end_date") or cell("end_time"))
    if has_end:
        end_date = _iso_date(cell("end_date") or cell("start_date"), "End date")
        end = _localize(dt.datetime.combine(end_date, _time_of_day(cell("end_time"), "End time")))
    duration_text = cell("duration")
    duration: int | None = None
    if duration_text and (match := _HMS.fullmatch(duration_text)):
        hours, minutes, seconds = (int(part) for part in match.groups())
        duration = hours * 3600 + minutes * 60 + seconds
    elif end is not None:
        duration = int((end - start).total_seconds())
    elif duration_text and (match := _DECIMAL_HOURS.fullmatch(duration_text)):
        duration = round(float(match.group(1)) * 3600)
    if duration is None:
        raise _RecordError(f"Duration is not H:MM:SS and there is no end time: {duration_text!r}")
    _check_duration(duration)
    if end is None:
        end = start + dt.timedelta(seconds=duration)
    task, description = cell("task"), cell("description")
    notes = f"{task}: {description}" if task and description else task or description
    tags = tuple(tag.strip() for tag in (cell("tags") or "").split(",") if tag.strip())
    user = cell("user") or cell("email")
    # who, when and what: not tags, billable or amounts (rates change), and the duration
    # only when there is no end time (a report's rounding may change it)
    identity = _digest(
        cell("email") or cell("user"),
        f"{start:%Y-%m-%d %H:%M:%S}",  # wall times: the same in any machine zone
        f"{end:%Y-%m-%d %H:%M:%S}" if has_end else duration,
        project,
        task,
        description,
    )
    return ImportedEntry(
        key=keys(identity),
        source="toggl",
        line=line,
        date_worked=start_date,
        duration=duration,
        project=project,
        activities=tags,
        notes=notes,
        user=user,
        start=start,
        end=end,
    )


# ---------------------------------------------------------------------------------------
# the generic CSV


def read_csv(data: Source) -> ImportResult:
    """pymesync's own CSV: a header row, then one entry a row.

    Columns (names in any case and order): ``date`` (``YYYY-MM-DD``), ``duration`` (as
    ``pymesync log`` takes it: ``1h30m``, ``90m``, ``1:30``, ``5400``...), ``project``;
    optional ``activities`` (separated by ``;``), ``notes``, ``issue_uri``, ``user``,
    ``start`` (the local time of day the work started, ``HH:MM`` or ``HH:MM:SS``). The
    columns of :data:`CSV_EXPORT_COLUMNS` (what ``pymesync export`` writes besides) are
    read past; any other column is refused (a misspelt column must not drop its data
    silently), and so is a column given twice. Comma-separated; a file whose header has no comma but
    semicolons (Excel in some languages) or tabs is read with those.
    """
    rows, iterator, names = _csv_header(data)
    known = (*CSV_COLUMNS, *CSV_EXPORT_COLUMNS)
    unknown = [name or "(empty)" for name in names if name not in known]
    doubled = sorted({name for name in names if names.count(name) > 1})
    missing = [name for name in _CSV_REQUIRED if name not in names]
    if unknown or doubled or missing:
        reasons = []
        if unknown:
            reasons.append(f"unknown column(s) {', '.join(map(repr, unknown))}")
        if doubled:
            reasons.append(f"column(s) given twice {', '.join(map(repr, doubled))}")
        if missing:
            reasons.append(f"missing column(s) {', '.join(map(repr, missing))}")
        raise ImportFileError(
            f"not a pymesync CSV header: {'; '.join(reasons)} (columns: {', '.join(CSV_COLUMNS)};"
            f" the first three are required)"
        )
    columns = {name: index for index, name in enumerate(names)}
    out = _Collector("csv", "line")
    keys = _Keys("csv")
    for line, row in iterator:
        try:
            out.entries.append(_csv_row(row, columns, len(names), line, keys))
        except _RecordError as exc:
            out.problem(line, str(exc))
    for line, message in rows.errors:
        out.problem(line, message)
    return out.result()


def _csv_row(
    row: list[str], columns: dict[str, int], width: int, line: int, keys: _Keys
) -> ImportedEntry:
    if _has_nul(row):
        raise _RecordError("the row contains a NUL character")
    if len(row) > width and any(cell.strip() for cell in row[width:]):
        raise _RecordError(f"{len(row)} cells but the header names {width} columns")

    def cell(name: str) -> str | None:
        index = columns.get(name)
        return _text(row[index]) if index is not None and index < len(row) else None

    date_worked = _iso_date(cell("date"), "date")
    duration_text = cell("duration")
    if not duration_text:
        raise _RecordError("no duration")
    try:
        duration = parse_duration(duration_text)
    except DurationError as exc:
        raise _RecordError(str(exc)) from None
    project = cell("project")
    if not project:
        raise _RecordError("no project")
    start = end = None
    start_text = cell("start")
    if start_text:
        clock = _time_of_day(start_text, "start")
        start = _localize(dt.datetime.combine(date_worked, clock))
        end = start + dt.timedelta(seconds=duration)
    activities = tuple(
        part.strip() for part in (cell("activities") or "").split(";") if part.strip()
    )
    notes, issue_uri, user = cell("notes"), cell("issue_uri"), cell("user")
    deleted_at = cell("deleted_at")
    if deleted_at:
        raise _RecordError(f"a deleted entry (deleted_at {deleted_at}): not imported")
    when = f"{date_worked} {start:%H:%M:%S}" if start else str(date_worked)
    identity = _digest(when, duration, project, notes, issue_uri, user, *activities)
    return ImportedEntry(
        key=keys(identity),
        source="csv",
        line=line,
        date_worked=date_worked,
        duration=duration,
        project=project,
        activities=activities,
        notes=notes,
        issue_uri=issue_uri,
        user=user,
        start=start,
        end=end,
        uuid=cell("uuid") or None,
    )


# ---------------------------------------------------------------------------------------
# dispatch, detection, mapping

_READERS = {
    "watson": read_watson,
    "toggl": read_toggl,
    "csv": read_csv,
}


def read_import(data: Source, fmt: str, *, project_tag: int | str = 1) -> ImportResult:
    """Read ``data`` in format ``fmt`` (one of :data:`FORMATS`); ``project_tag`` is for
    Timewarrior only (see :func:`read_timewarrior`). Raises :class:`ImportFileError` for
    an unreadable file and :class:`ValueError` for an unknown format."""
    if fmt == "timewarrior":
        return read_timewarrior(data, project_tag=project_tag)
    reader = _READERS.get(fmt)
    if reader is None:
        raise ValueError(f"unknown import format {fmt!r} (one of {', '.join(FORMATS)})")
    return reader(data)


def detect_format(name: str, head: bytes) -> str | None:
    """The format a file seems to be in, from its name and its first bytes (a few KB),
    or None when it is not clear (the command then asks for ``--format``).

    JSON whose first record is a list is Watson's, an object Timewarrior's; an empty
    JSON list goes by the name (``frames`` is Watson's). A CSV header with ``Start
    date`` is Toggl's, one with ``date``, ``duration`` and ``project`` the generic one.
    """
    text = head.decode("utf-8", errors="replace").removeprefix("\ufeff").lstrip()
    base = re.split(r"[\\/]", name)[-1].lower()
    if text.startswith("["):
        rest = text[1:].lstrip()
        if rest.startswith("["):
            return "watson"
        if rest.startswith("{"):
            return "timewarrior"
        if rest.startswith("]") and base == "frames":
            return "watson"
        return None
    first = text.splitlines()[0] if text else ""
    if not first:
        return None
    try:
        header = next(csv.reader([first], delimiter=_pick_delimiter(first)))
    except (csv.Error, StopIteration):  # pragma: no cover - one line always parses
        return None
    names = set(_header_names(header))
    if {"start date", "project"} <= names:
        return "toggl"
    if set(_CSV_REQUIRED) <= names:
        return "csv"
    return None


def parse_mapping(options: Iterable[str], what: str = "project") -> dict[str, str]:
    """``["Toggl name=gwm", ...]`` (the ``--map-project`` values) as ``{source name
    (lower case): target}``. Raises :class:`ValueError` with one clear line for a value
    without ``=``, with an empty side, or for one name mapped to two targets."""
    mapping: dict[str, str] = {}
    for option in options:
        source, sep, target = option.rpartition("=")
        source, target = source.strip(), target.strip()
        if not sep or not source or not target:
            raise ValueError(f"--map-{what} {option!r}: use NAME=SLUG (e.g. 'Website=gwm')")
        folded = source.casefold()
        if folded in mapping and mapping[folded] != target:
            raise ValueError(
                f"--map-{what}: {source!r} is mapped twice ({mapping[folded]!r} and {target!r})"
            )
        mapping[folded] = target
    return mapping


def apply_mapping(
    entries: Iterable[ImportedEntry],
    project_map: Mapping[str, str],
    activity_map: Mapping[str, str],
) -> list[ImportedEntry]:
    """New entries whose project and activities are renamed by the maps (source name ->
    name to use; names compared case-insensitively, by exact name otherwise). Names no
    map mentions are left as they are (the command checks them against the cache);
    an activity mapped onto one already there is kept once."""
    projects = {name.casefold(): target for name, target in project_map.items()}
    activities = {name.casefold(): target for name, target in activity_map.items()}
    mapped = []
    for entry in entries:
        renamed: list[str] = []
        for activity in entry.activities:
            target = activities.get(activity.casefold(), activity)
            if target not in renamed:
                renamed.append(target)
        mapped.append(
            replace(
                entry,
                project=projects.get(entry.project.casefold(), entry.project),
                activities=tuple(renamed),
            )
        )
    return mapped
