"""The import rules of docs/architecture.md, read from that page: every module is in a
layer, imports go only to the same or a lower layer (lazy imports inside functions
count too), no cycles within a layer, the emulator stands alone, the store knows no
HTTP, the transport no SQL, and SQLAlchemy stays in the store."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "pymesync"
PAGE = ROOT / "docs" / "architecture.md"
#: The packages that count as one entry of the layer table.
UNITS = ("store", "testing")


def layers() -> dict[str, int]:
    """``{unit: layer}`` from the page's table (rows ``| N | `a`, `b` | ... |``)."""
    found: dict[str, int] = {}
    for line in PAGE.read_text(encoding="utf-8").splitlines():
        row = re.match(r"\|\s*(\d+)\s*\|([^|]*)\|", line)
        if row:
            for name in re.findall(r"`([\w.]+)`", row.group(2)):
                found[name] = int(row.group(1))
    return found


def unit(module: str) -> str:
    """The layer table's entry for a dotted module name below ``pymesync``."""
    first = module.split(".")[0]
    return first if first in UNITS else module


def modules() -> dict[str, Path]:
    """Every module of the package but its own ``__init__``, the ``__main__`` scripts and
    the shipped migrations, by its name below ``pymesync`` (``store.queue``); a
    subpackage's ``__init__`` is the subpackage itself (``cli``)."""
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        relative = path.relative_to(PACKAGE).with_suffix("")
        if "_migrations" in relative.parts or relative.name == "__main__":
            continue
        if relative.name == "__init__":
            relative = relative.parent
            if not relative.parts:  # (pymesync/__init__.py: the package itself)
                continue
        found[".".join(relative.parts)] = path
    return found


def imports(name: str, path: Path) -> tuple[set[str], set[str]]:
    """(the pymesync modules, the outside top-level packages) ``path`` imports, lazy
    imports included; pymesync names are below ``pymesync`` (``store.queue``)."""
    if path.name == "__init__.py":  # (a package's relative imports start from itself)
        package = "" if name == "__init__" else name
    else:
        package = name.rsplit(".", 1)[0] if "." in name else ""
    inside: set[str] = set()
    outside: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: resolved against this module's package
                base = package.split(".") if package else []
                base = base[: len(base) - (node.level - 1)] if node.level > 1 else base
                parts = [*base, node.module] if node.module else base
                module = ".".join(["pymesync", *parts])
            else:
                module = node.module or ""
            # ``from pymesync import client``: the module imported is pymesync.client
            targets = [
                f"{module}.{alias.name}" if _is_module(f"{module}.{alias.name}") else module
                for alias in node.names
            ]
        for target in targets:
            if target == "pymesync" or target.startswith("pymesync."):
                below = target.removeprefix("pymesync").lstrip(".")
                if below:
                    inside.add(below)
            else:
                outside.add(target.split(".")[0])
    return inside, outside


def _is_module(dotted: str) -> bool:
    """Whether ``pymesync.x.y`` names a module or package of the package."""
    if not dotted.startswith("pymesync."):
        return False
    path = ROOT.joinpath(*dotted.split("."))
    return path.with_suffix(".py").exists() or (path / "__init__.py").exists()


def test_every_module_is_in_a_layer() -> None:
    table = layers()
    assert table, "no layer table found in docs/architecture.md"
    missing = sorted({unit(name) for name in modules()} - set(table))
    assert not missing, f"modules in no layer of docs/architecture.md: {missing}"
    stale = sorted(set(table) - {unit(name) for name in modules()})
    assert not stale, f"docs/architecture.md names modules that do not exist: {stale}"


def test_imports_go_down_the_layers_and_never_in_a_circle() -> None:
    table = layers()
    wrong = []
    edges: dict[str, set[str]] = {}
    for name, path in modules().items():
        inside, _ = imports(name, path)
        source = unit(name)
        for target in inside:
            to = unit(target)
            if to == source or to not in table or source not in table:
                continue
            if table[to] > table[source]:
                wrong.append(f"{name} imports {target} (layer {table[source]} -> {table[to]})")
            edges.setdefault(source, set()).add(to)
    assert not wrong, "imports that go up the layers:\n" + "\n".join(sorted(wrong))
    # no cycle within a layer (between layers, the order above already forbids one)
    for start in edges:
        seen, todo = set(), [start]
        while todo:
            node = todo.pop()
            for nxt in edges.get(node, ()):
                if table.get(nxt) != table.get(start):
                    continue
                assert nxt != start, f"an import cycle through {start} (layer {table[start]})"
                if nxt not in seen:
                    seen.add(nxt)
                    todo.append(nxt)


@pytest.mark.parametrize(
    ("where", "forbidden_inside", "forbidden_outside"),
    [
        # the emulator stands alone
        ("testing", {"*"}, set()),
        # the store knows nothing about HTTP
        ("store", {"transport", "httpstack", "wire", "sender", "backend"}, {"requests", "urllib3"}),
        # the transport knows nothing about SQL
        ("transport", {"store"}, {"sqlite3", "sqlalchemy", "alembic"}),
        ("httpstack", {"store"}, {"sqlite3", "sqlalchemy", "alembic"}),
        ("wire", {"store"}, {"sqlite3", "sqlalchemy", "alembic"}),
    ],
)
def test_the_rules_besides_the_layers(
    where: str, forbidden_inside: set[str], forbidden_outside: set[str]
) -> None:
    bad = []
    for name, path in modules().items():
        if unit(name) != where:
            continue
        inside, outside = imports(name, path)
        for target in inside:
            if unit(target) == where:
                continue
            if "*" in forbidden_inside or unit(target) in forbidden_inside:
                bad.append(f"{name} imports pymesync.{target}")
        bad += [f"{name} imports {pkg}" for pkg in sorted(outside & forbidden_outside)]
    assert not bad, bad


def test_sqlalchemy_and_alembic_stay_in_the_store() -> None:
    bad = [
        f"{name} imports {pkg}"
        for name, path in modules().items()
        if unit(name) != "store"
        for pkg in sorted(imports(name, path)[1] & {"sqlalchemy", "alembic"})
    ]
    assert not bad, bad


def test_psycopg_stays_in_the_postgres_modules() -> None:
    """psycopg (the PostgreSQL driver, an optional extra) is imported by the store's
    PostgreSQL module (and the places that hand a store on PostgreSQL its errors) and by
    the tests' PostgreSQL server, nowhere else: a SQLite user never needs it."""
    allowed = {"store.postgres", "store.store", "testing.postgres"}
    bad = [
        f"{name} imports psycopg"
        for name, path in modules().items()
        if name not in allowed and "psycopg" in imports(name, path)[1]
    ]
    assert not bad, bad


def test_the_checks_see_lazy_and_relative_imports() -> None:
    """The parser itself: a lazy import inside a function and a relative one count."""
    inside, outside = imports("store.store", PACKAGE / "store" / "store.py")
    assert "store.migrator" in inside  # relative, at module level
    assert "sqlalchemy" in outside  # lazy, inside Store.open / _borrow
    inside, _ = imports("offline.syncing", PACKAGE / "offline" / "syncing.py")
    assert "sync" in inside  # lazy, inside Syncing.worker_for
    inside, _ = imports("__init__", PACKAGE / "__init__.py")
    assert {"client", "errors"} <= inside  # ``from pymesync import errors``; client lazily
