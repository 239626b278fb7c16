"""`pymesync config ...`, the global options and the errors that need no server."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

from .conftest import Run
from .helpers import one_error_line


def test_set_get_list_unset(run: Run, private_config: Path) -> None:
    result = run("config", "set", "base_url", "https://ts.example.com/v0/")
    assert result.exit_code == 0, result.output
    assert result.stdout == f"base_url = https://ts.example.com/v0 (saved in {private_config})\n"
    assert private_config.exists()
    assert run("config", "set", "username", "alice").exit_code == 0
    assert run("config", "get", "base_url").stdout == "https://ts.example.com/v0\n"
    assert run("config", "get", "auth_type").stdout == "password\n"

    listed = run("config", "list")
    assert listed.exit_code == 0
    lines = listed.stdout.splitlines()
    assert lines[0].split() == ["KEY", "VALUE", "FROM"]
    assert any(line.split() == ["base_url", "https://ts.example.com/v0", "file"] for line in lines)
    assert any(line.split() == ["auth_type", "password", "default"] for line in lines)
    assert any(line.split() == ["default_project", "(not", "set)"] for line in lines)
    assert str(private_config) in listed.stderr

    data = json.loads(run("config", "list", "--json").stdout)
    assert data["path"] == str(private_config)
    assert data["values"]["username"] == {"value": "alice", "source": "file"}

    assert run("config", "unset", "username").stdout == f"removed username from {private_config}\n"
    assert "was not set" in run("config", "unset", "username").stdout
    assert one_error_line(run("config", "get", "username"), 1) == "username is not set"


def test_unknown_keys_are_refused(run: Run, private_config: Path) -> None:
    message = one_error_line(run("config", "set", "colour", "red"), 1)
    assert message.startswith("unknown configuration key 'colour' (known keys: base_url,")
    assert one_error_line(run("config", "get", "colour"), 1).startswith("unknown configuration")
    assert one_error_line(run("config", "unset", "colour"), 1).startswith("unknown configuration")
    assert not private_config.exists()


def test_bad_values_are_refused(run: Run) -> None:
    assert "must be an http://" in one_error_line(run("config", "set", "base_url", "x"), 1)
    assert "auth_type must be" in one_error_line(run("config", "set", "auth_type", "sso"), 1)


def test_url_without_version_prefix_warns(run: Run) -> None:
    result = run("config", "set", "base_url", "https://ts.example.com")
    assert result.exit_code == 0
    assert "no API version prefix" in result.stderr


def test_environment_overrides_file_and_flags_override_both(
    run: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    run("config", "set", "username", "filer")
    monkeypatch.setenv("PYMESYNC_USERNAME", "enver")
    assert run("config", "get", "username").stdout == "enver\n"
    assert run("--user", "flagger", "config", "get", "username").stdout == "flagger\n"
    listed = run("config", "list").stdout
    assert "$PYMESYNC_USERNAME" in listed
    result = run("config", "set", "username", "other")
    assert "PYMESYNC_USERNAME is set and overrides it" in result.stderr
    assert "--url" in run("--url", "https://x/v0", "config", "list").stdout


def test_a_typo_in_the_file_is_one_clear_error_and_can_be_removed(
    run: Run, private_config: Path
) -> None:
    private_config.parent.mkdir(parents=True)
    private_config.write_text('base-url = "https://x/v0"\nusername = "alice"\n')
    message = one_error_line(run("status"), 1)
    assert "unknown key 'base-url'" in message and "config unset base-url" in message
    assert run("config", "unset", "base-url").exit_code == 0
    assert run("config", "get", "username").stdout == "alice\n"


def test_broken_file(run: Run, private_config: Path) -> None:
    private_config.parent.mkdir(parents=True)
    private_config.write_text("username = alice\n")
    assert "not valid TOML" in one_error_line(run("config", "list"), 1)


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        (b'base_url = "https://x/v0"\nusername = alice\n', "not valid TOML, line 2, column 12"),
        (b'base_url = "https://x/v0"\nusername = "al\xffice"\n', "line 2 is not UTF-8 text"),
    ],
)
def test_a_broken_file_is_one_line_with_its_line_and_is_left_as_it_is(
    run: Run, private_config: Path, content: bytes, fragment: str
) -> None:
    private_config.parent.mkdir(parents=True)
    private_config.write_bytes(content)
    for args in (
        ["status"],
        ["config", "list"],
        ["config", "set", "username", "bob"],
        ["config", "unset", "username"],
    ):
        message = one_error_line(run(*args), 1)
        assert str(private_config) in message and fragment in message, (args, message)
    assert private_config.read_bytes() == content
    assert sorted(p.name for p in private_config.parent.iterdir()) == ["config.toml"]


def test_every_key_set_by_the_cli_reads_back(
    run: Run, private_config: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("PYMESYNC_DB")  # config get/list never open the store
    given = {
        "base_url": "https://ts.example.com/v0/",
        "username": "zoë",
        "auth_type": "ldap",
        "default_project": "gwm",
        "default_activity": "dev",
        "db": '~/My "time" \\ files/pymesync.sqlite3',
    }
    for key, value in given.items():
        assert run("config", "set", key, value).exit_code == 0
    expected = {**given, "base_url": "https://ts.example.com/v0"}
    data = json.loads(run("config", "list", "--json").stdout)
    assert data["values"] == {k: {"value": v, "source": "file"} for k, v in expected.items()}
    for key, value in expected.items():
        assert run("config", "get", key).stdout == f"{value}\n"
    assert tomllib.loads(private_config.read_text(encoding="utf-8")) == expected


def test_config_path(run: Run, private_config: Path) -> None:
    assert run("config", "path").stdout == f"{private_config}\n"


@pytest.mark.parametrize(
    "args",
    [
        ["status"],
        ["times"],
        ["report"],
        ["export"],
        ["sync"],
        ["log", "1h", "-p", "gwm"],
        ["failed", "list"],
        ["projects"],
        ["login", "--password-stdin"],
        ["daemon"],
    ],
)
def test_no_base_url_configured(run: Run, args: list[str]) -> None:
    message = one_error_line(run(*args, input="pw\n"), 1)
    assert message == (
        "no base URL configured: run `pymesync config set base_url VALUE` or set PYMESYNC_URL"
    )


def test_no_username_configured(run: Run) -> None:
    run("config", "set", "base_url", "http://127.0.0.1:9/v0")
    assert one_error_line(run("status"), 1).startswith("no username configured")
    assert one_error_line(run("login", "--password-stdin", input="x\n"), 1).startswith(
        "no username configured"
    )


def test_bad_flag_values_and_usage_errors_are_one_line(run: Run) -> None:
    assert one_error_line(run("--url", "nope", "status"), 1).startswith("--url: base_url must be")
    message = one_error_line(run("log"), 2)
    assert "Missing argument 'DURATION'" in message and "pymesync log --help" in message
    assert "No such option" in one_error_line(run("times", "--bogus"), 2)
    assert "No such command" in one_error_line(run("frobnicate"), 2)
    assert "No such option" in one_error_line(run("--bogus", "status"), 2)
    assert "0.1" in one_error_line(run("daemon", "--interval", "0"), 2)


def test_help_lists_every_command(run: Run) -> None:
    result = run("--help")
    assert result.exit_code == 0
    for name in (
        "login", "logout", "log", "times", "edit", "rm", "projects", "activities", "users",
        "status", "sync", "daemon", "failed", "config", "demo", "emulator", "migrate",
        "doctor",
    ):  # fmt: skip
        assert f"  {name} " in result.stdout or f"  {name}\n" in result.stdout, name


def test_importing_the_cli_loads_no_heavy_modules() -> None:
    code = (
        "import sys, pymesync.cli; "
        "heavy = [m for m in ('requests', 'sqlalchemy', 'bcrypt', 'alembic', 'tenacity') "
        "if m in sys.modules]; print(heavy)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def test_migrate_uses_the_configured_store(run: Run, tmp_path: Path) -> None:
    target = tmp_path / "configured.sqlite3"
    result = run("--db", str(target), "migrate", env={"PYMESYNC_DB": ""})
    assert result.exit_code == 0, result.output
    assert target.exists()
    explicit = tmp_path / "explicit.sqlite3"
    assert run("migrate", "--db", str(explicit)).exit_code == 0
    assert explicit.exists()


def test_migrate_reports_store_errors_in_one_line(run: Run, tmp_path: Path) -> None:
    bad = tmp_path / "bad.sqlite3"
    bad.write_bytes(b"this is not a database" * 100)
    message = one_error_line(run("migrate", "--db", str(bad)), 1)
    assert message.startswith("local store:")
