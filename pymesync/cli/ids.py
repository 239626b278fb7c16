"""Naming a time entry or a failed operation on the command line: a full id or a
unique prefix, looked up locally (never the network)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from pymesync.cli.app import CliError

if TYPE_CHECKING:
    from pymesync.client import TimeSync


_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def short(ident: Any) -> str:
    """The first 8 characters of an id (enough to name it: prefixes are accepted)."""
    return str(ident or "")[:8]


def resolve_prefix(
    prefix: str, candidates: Sequence[str], what: str, plural: str | None = None
) -> str:
    """The one candidate that starts with ``prefix`` (case-insensitive); a full uuid is
    taken as given (the library resolves local uuids). One clear error otherwise."""
    wanted = prefix.strip().lower()
    if not wanted:
        raise CliError(f"empty {what} id")
    if _UUID.fullmatch(wanted):
        return wanted
    found = sorted({c for c in candidates if c.lower().startswith(wanted)})
    if not found:
        raise CliError(f"no {what} with an id starting with {prefix!r}")
    if len(found) > 1:
        listed = ", ".join(short(c) if len(short(c)) > len(wanted) else c for c in found[:5])
        more = ", ..." if len(found) > 5 else ""
        raise CliError(
            f"{prefix!r} is ambiguous: {len(found)} {plural or what + 's'} start with it"
            f" ({listed}{more});"
            " give more characters"
        )
    return found[0]


def resolve_time(ts: TimeSync, ident: str) -> str:
    """A time's uuid from a full uuid or a unique prefix of one in the local cache (the
    entries `pymesync times` showed, and those logged here): no network, so that a
    write never waits on the server."""
    if _UUID.fullmatch(ident.strip().lower()):
        return ident.strip().lower()
    wanted = ident.strip().lower()
    if not wanted:
        raise CliError("empty time entry id")
    # (the local uuid `log` printed names its entry too; a lookup, not a read of all)
    matches = ts.ids_starting("time", wanted)
    if not matches:
        raise CliError(
            f"no time entry with an id starting with {ident!r} in the local cache"
            " (run `pymesync times` to refresh it, or give the full uuid)"
        )
    found = set(matches.values())
    if len(found) == 1:
        return found.pop()
    return resolve_prefix(ident, sorted(found), "time entry", "time entries")


def resolve_op(ts: TimeSync, ident: str) -> str:
    """An operation id from a full id or a unique prefix of a failed one."""
    ops = [str(op["op_id"]) for op in ts.failed() if isinstance(op, dict)]
    return resolve_prefix(ident, ops, "failed operation")
