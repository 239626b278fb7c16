"""Plain-text tables and colour for the command line.

Colour is used only on a terminal, never when ``NO_COLOR`` is set (to anything but the
empty string) or ``TERM=dumb``. Tables are plain text either way: columns separated by
two spaces, a header line, and an optional footer under a rule.
"""

from __future__ import annotations

import os
import unicodedata
from collections.abc import Mapping, Sequence
from typing import IO, Any

__all__ = [
    "Column",
    "colour_enabled",
    "is_terminal",
    "paint",
    "render_table",
    "shorten",
    "width",
]

_CODES = {
    "red": "31",
    "green": "32",
    "yellow": "33",
    "blue": "34",
    "magenta": "35",
    "cyan": "36",
    "dim": "2",
    "bold": "1",
}


def is_terminal(stream: IO[Any] | None) -> bool:
    """Whether ``stream`` is a terminal (False for closed or detached streams)."""
    isatty = getattr(stream, "isatty", None)
    try:
        return bool(isatty is not None and isatty())
    except (ValueError, OSError):
        return False


def colour_enabled(stream: IO[Any] | None, environ: Mapping[str, str] | None = None) -> bool:
    """Whether to colour what is written to ``stream``: a terminal, no ``NO_COLOR``,
    not ``TERM=dumb``."""
    env = os.environ if environ is None else environ
    if env.get("NO_COLOR", "") != "" or env.get("TERM") == "dumb":
        return False
    return is_terminal(stream)


def paint(text: str, colour: str | None, enabled: bool) -> str:
    """``text`` in ``colour`` (a name from red, green, yellow, blue, magenta, cyan, dim,
    bold) when ``enabled``, else unchanged."""
    if not enabled or not colour or not text:
        return text
    return f"\x1b[{_CODES[colour]}m{text}\x1b[0m"


def width(text: str) -> int:
    """Columns ``text`` takes on a terminal (wide East Asian characters count two,
    combining marks none)."""
    total = 0
    for char in text:
        if unicodedata.combining(char):
            continue
        total += 2 if unicodedata.east_asian_width(char) in ("W", "F") else 1
    return total


def shorten(text: str, limit: int | None) -> str:
    """``text`` on one line, cut to ``limit`` columns with ``...`` if longer."""
    flat = " ".join(text.split())
    if limit is None or width(flat) <= limit:
        return flat
    kept: list[str] = []
    used = 0
    for char in flat:
        size = width(char)
        if used + size > max(0, limit - 3):
            break
        kept.append(char)
        used += size
    return "".join(kept).rstrip() + "..."


class Column:
    """A table column: a header, alignment (``"left"`` or ``"right"``) and an optional
    maximum width (longer cells are shortened)."""

    def __init__(self, header: str, *, align: str = "left", limit: int | None = None) -> None:
        self.header = header
        self.align = align
        self.limit = limit


def _pad(text: str, size: int, align: str, shade: str | None = None, colour: bool = False) -> str:
    gap = " " * max(0, size - width(text))
    shown = paint(text, shade, colour)
    return gap + shown if align == "right" else shown + gap


def render_table(
    columns: Sequence[Column],
    rows: Sequence[Sequence[str]],
    *,
    footer: Sequence[str] | None = None,
    colours: Sequence[Sequence[str | None]] | None = None,
    colour: bool = False,
) -> str:
    """The table as text (no trailing newline).

    ``colours``, parallel to ``rows``, names a colour per cell (used only when
    ``colour`` is true); padding is computed on the plain text, so columns line up
    either way. Trailing spaces are stripped from every line.
    """
    cells = [
        [shorten(str(cell), col.limit) for cell, col in zip(row, columns, strict=False)]
        for row in rows
    ]
    foot = (
        [shorten(str(cell), col.limit) for cell, col in zip(footer, columns, strict=False)]
        if footer
        else []
    )
    sizes = [width(col.header) for col in columns]
    for row in [*cells, foot]:
        for index, cell in enumerate(row):
            sizes[index] = max(sizes[index], width(cell))
    lines = [
        "  ".join(
            _pad(col.header, size, col.align, "bold", colour)
            for col, size in zip(columns, sizes, strict=True)
        )
    ]
    for number, row in enumerate(cells):
        shades = colours[number] if colours else [None] * len(row)
        lines.append(
            "  ".join(
                _pad(cell, size, col.align, shade, colour)
                for cell, size, col, shade in zip(row, sizes, columns, shades, strict=False)
            )
        )
    if foot:
        lines.append("  ".join("-" * size for size in sizes))
        lines.append(
            "  ".join(
                _pad(cell, size, col.align)
                for cell, size, col in zip(foot, sizes, columns, strict=False)
            )
        )
    return "\n".join(line.rstrip() for line in lines)
