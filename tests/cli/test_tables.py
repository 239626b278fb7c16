"""Plain-text tables and the colour rules."""

from __future__ import annotations

import io

from pymesync.tables import Column, colour_enabled, is_terminal, paint, render_table, shorten, width


class Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_table_aligns_columns_and_strips_trailing_spaces() -> None:
    text = render_table(
        [Column("ID"), Column("TIME", align="right"), Column("NOTES")],
        [["abc", "1:30", "x"], ["d", "12:05", ""]],
        footer=["total", "13:35"],
    )
    assert text.splitlines() == [
        "ID      TIME  NOTES",
        "abc     1:30  x",
        "d      12:05",
        "-----  -----  -----",
        "total  13:35",
    ]


def test_limits_cut_long_cells_and_newlines_never_break_rows() -> None:
    text = render_table([Column("NOTES", limit=10)], [["a very long note indeed"], ["two\nlines"]])
    assert text.splitlines() == ["NOTES", "a very...", "two lines"]


def test_wide_characters_count_double() -> None:
    assert width("日本") == 4
    assert width("e\u0301") == 1
    text = render_table([Column("A"), Column("B")], [["日本", "x"], ["ab", "y"]])
    assert text.splitlines() == ["A     B", "日本  x", "ab    y"]


def test_shorten() -> None:
    assert shorten("abc", None) == "abc"
    assert shorten("abcdef", 5) == "ab..."
    assert shorten("日本語テキスト", 7) == "日本..."
    assert shorten("  spaced   out ", 20) == "spaced out"


def test_colour_codes_only_when_enabled_and_padding_stays_right() -> None:
    plain = render_table([Column("S"), Column("X")], [["ok", "1"]], colours=[["green", None]])
    assert "\x1b" not in plain
    coloured = render_table(
        [Column("S"), Column("X")], [["ok", "1"]], colours=[["green", None]], colour=True
    )
    assert "\x1b[32mok\x1b[0m  1" in coloured
    assert "\x1b[1mS\x1b[0m " in coloured
    assert paint("x", "red", False) == "x"
    assert paint("x", None, True) == "x"
    assert paint("x", "red", True) == "\x1b[31mx\x1b[0m"


def test_colour_only_on_a_terminal_and_never_with_no_color() -> None:
    assert colour_enabled(Tty(), {})
    assert not colour_enabled(io.StringIO(), {})
    assert not colour_enabled(Tty(), {"NO_COLOR": "1"})
    assert colour_enabled(Tty(), {"NO_COLOR": ""})  # the convention: set and non-empty
    assert not colour_enabled(Tty(), {"TERM": "dumb"})
    assert not colour_enabled(None, {})
    closed = io.StringIO()
    closed.close()
    assert not is_terminal(closed)
