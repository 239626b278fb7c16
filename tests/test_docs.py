"""Every public method and every CLI command is documented in docs/."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import click

import pymesync
from pymesync import cli

DOCS = Path(__file__).resolve().parent.parent / "docs"


def headings(page: str) -> str:
    text = (DOCS / page).read_text(encoding="utf-8")
    return "\n".join(line for line in text.splitlines() if line.startswith("#"))


def test_every_public_method_is_documented() -> None:
    documented = headings("api.md")
    public = [
        name
        for name, _ in inspect.getmembers(pymesync.TimeSync, inspect.isfunction)
        if not name.startswith("_")
    ]
    assert len(public) >= 19
    missing = [name for name in public if not re.search(rf"`{name}\(", documented)]
    assert not missing, f"undocumented in docs/api.md: {missing}"


def command_paths(group: click.Group, prefix: str = "pymesync") -> list[str]:
    paths = []
    for name, command in group.commands.items():
        path = f"{prefix} {name}"
        paths.append(path)
        if isinstance(command, click.Group):
            paths.extend(command_paths(command, path))
    return paths


def test_every_cli_command_is_documented() -> None:
    documented = headings("cli.md")
    paths = command_paths(cli.main)
    assert paths
    missing = [path for path in paths if f"`{path}" not in documented]
    assert not missing, f"undocumented in docs/cli.md: {missing}"


def test_docs_links_resolve() -> None:
    """The docs "build": every relative link in README.md and docs/ points at a file
    that exists (and an anchor-free page), and every page is linked from the README."""
    root = DOCS.parent
    pages = [root / "README.md", *sorted(DOCS.glob("*.md"))]
    broken = []
    for page in pages:
        for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", page.read_text("utf-8")):
            if "://" in target or target.startswith("mailto:"):
                continue
            if not (page.parent / target).resolve().exists():
                broken.append(f"{page.name} -> {target}")
    assert not broken, broken
    readme = (root / "README.md").read_text("utf-8")
    unlinked = [p.name for p in DOCS.glob("*.md") if f"docs/{p.name}" not in readme]
    assert not unlinked, f"docs pages not linked from README.md: {unlinked}"


def test_docs_point_at_nothing_outside_the_repository() -> None:
    """A reader of the docs has the repository, not our machines: no absolute paths of
    a workstation, no files beside the checkout (public URLs are fine)."""
    root = DOCS.parent
    outside = []
    for page in [root / "README.md", *sorted(DOCS.glob("*.md"))]:
        text = page.read_text("utf-8")
        for pattern in (r"/work/", r"\.\./shared", r"\]\(\.\./\.\."):
            if re.search(pattern, text):
                outside.append(f"{page.name}: {pattern}")
    assert not outside, outside


def commands(group: click.Group, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    """Every command's words below ``pymesync`` (groups included)."""
    found = []
    for name, command in group.commands.items():
        found.append((*prefix, name))
        if isinstance(command, click.Group):
            found.extend(commands(command, (*prefix, name)))
    return found


def test_every_command_and_option_has_help() -> None:
    """sqlite-utils' habit: `--help` works for every command, which says what it does,
    and every option says what it is for."""
    from click.testing import CliRunner

    runner = CliRunner()
    silent = []
    for words in commands(cli.main):
        command: click.Command = cli.main
        for word in words:
            assert isinstance(command, click.Group)
            command = command.commands[word]
        if not (command.help or "").strip():
            silent.append(" ".join(words))
        for param in command.params:
            if isinstance(param, click.Option) and not (param.help or "").strip():
                silent.append(f"{' '.join(words)} {param.opts[0]}")
        shown = runner.invoke(cli.main, [*words, "--help"])
        assert shown.exit_code == 0, (words, shown.output)
        assert "Usage:" in shown.output and " ".join(words) in shown.output, shown.output
    assert not silent, f"without help: {silent}"
