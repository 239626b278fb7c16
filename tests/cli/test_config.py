"""The configuration module: the flat TOML file, checks and precedence."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
import tomli
from hypothesis import given
from hypothesis import strategies as st

from pymesync import config as cfg
from pymesync.config import ConfigError
from pymesync.errors import PymesyncError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib


@pytest.fixture(params=["tomllib", "tomli"])
def reader(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Run a test with the standard library's reader and with ``tomli`` (Python 3.10)."""
    if request.param == "tomli":
        monkeypatch.setattr(cfg, "_parser", lambda: (tomli.loads, tomli.TOMLDecodeError))
    return str(request.param)


def test_path_from_environment_or_platform_dir(tmp_path: Path) -> None:
    assert cfg.config_path({"PYMESYNC_CONFIG": str(tmp_path / "c.toml")}) == tmp_path / "c.toml"
    default = cfg.config_path({})
    assert default.name == "config.toml" and "pymesync" in str(default.parent)


def test_missing_file_is_empty(tmp_path: Path) -> None:
    assert cfg.read_file(tmp_path / "nope.toml") == {}


def test_write_then_read(tmp_path: Path, reader: str) -> None:
    path = tmp_path / "deep" / "er" / "config.toml"
    values = {"username": "alice", "base_url": "https://ts.example.com/v0", "db": "~/x.db"}
    cfg.write_file(path, values)
    text = path.read_text(encoding="utf-8")
    assert text.startswith("# pymesync configuration")
    assert text.index("base_url") < text.index("username") < text.index("db =")
    assert cfg.read_file(path) == values
    assert tomllib.loads(text) == values
    assert not list(path.parent.glob(".*.tmp"))


def test_unknown_key_in_file_is_refused_clearly(tmp_path: Path, reader: str) -> None:
    path = tmp_path / "config.toml"
    path.write_text('base-url = "https://x/v0"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match=r"unknown key 'base-url'.*pymesync config unset"):
        cfg.read_file(path)
    assert cfg.read_file(path, check_keys=False) == {"base-url": "https://x/v0"}


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("username = 3\n", "username must be a quoted string"),
        ("[section]\nusername = 'a'\n", "tables .* are not supported"),
        ("name = [1]\n", "name must be a quoted string"),
        ('username = "alice\n', "not valid TOML"),
        ('username = "a"\nusername = "b"\n', "not valid TOML"),
        ("username\n", "not valid TOML"),
    ],
)
def test_bad_files(tmp_path: Path, text: str, fragment: str, reader: str) -> None:
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError, match=fragment) as caught:
        cfg.read_file(path)
    assert str(path) in str(caught.value)


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ('base_url = "https://x/v0"\nusername = alice\n', "line 2, column 12: Invalid value"),
        ('username = "a"\nusername = "b"\n', "line 2, column 15: Cannot overwrite a value"),
        ("\n\nusername\n", "line 3, column 9: Expected '=' after a key"),
        # at the end: tomllib (3.11-3.13) says so, tomli 2.1+ and 3.14 give the position
        ('username = """alice\n', "(at the end of the file|line 2, column 1): Unterminated"),
    ],
)
def test_broken_toml_is_one_line_with_the_file_and_line(
    tmp_path: Path, text: str, where: str, reader: str
) -> None:
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        cfg.read_file(path)
    message = str(caught.value)
    assert re.match(re.escape(f"{path}: not valid TOML, ") + where, message), message
    assert "\n" not in message and "(at " not in message


def test_decode_error_attributes_are_used_where_the_parser_has_them(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    class Located(ValueError):  # as Python 3.14's tomllib and tomli 2.1+ raise
        def __init__(self) -> None:
            super().__init__("Odd thing\n(at line 4, column 2)")
            self.msg, self.lineno, self.colno = "Odd\nthing", 4, 2

    def parse(text: str) -> dict[str, str]:
        raise Located()

    monkeypatch.setattr(cfg, "_parser", lambda: (parse, Located))
    with pytest.raises(
        ConfigError, match=r"^c\.toml: not valid TOML, line 4, column 2: Odd thing$"
    ):
        cfg.loads("x", where="c.toml")


def test_config_errors_belong_to_the_one_error_tree() -> None:
    assert issubclass(ConfigError, PymesyncError)
    error = ConfigError("c.toml: bad")
    assert error.message == str(error) == "c.toml: bad" and not error.transient


def test_bytes_that_are_not_utf8_name_the_line(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    original = b'base_url = "https://x/v0"\n# caf\xe9\nusername = "alice"\n'
    path.write_bytes(original)
    with pytest.raises(ConfigError) as caught:
        cfg.read_file(path)
    assert str(caught.value) == (
        f"cannot read the config file {path}: line 2 is not UTF-8 text (byte 0xe9);"
        " save it as UTF-8"
    )
    assert path.read_bytes() == original


def test_reading_never_imports_the_writer(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text('username = "alice"\n', encoding="utf-8")
    code = (
        "import sys; from pymesync import config as cfg; "
        "print(sorted(m for m in ('tomllib', 'tomli', 'tomli_w') if m in sys.modules)); "
        f"cfg.read_file(cfg.Path({str(tmp_path / 'missing.toml')!r})); "
        "print(sorted(m for m in ('tomllib', 'tomli', 'tomli_w') if m in sys.modules)); "
        f"cfg.read_file(cfg.Path({str(path)!r})); "
        "print('tomli_w' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.split("\n")[:3] == ["[]", "[]", "False"]


def test_unwritable_place(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(ConfigError, match="cannot write the config file"):
        cfg.write_file(blocker / "config.toml", {"username": "a"})


def test_unreadable_file(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_bytes(b"\xff\xfe not utf-8")
    with pytest.raises(ConfigError, match="cannot read the config file"):
        cfg.read_file(path)


# ---- the writer


values_strategy = st.dictionaries(
    st.sampled_from(cfg.KEYS),
    st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=30),
)


@given(values_strategy)
def test_writer_output_reads_back_with_both_readers(values: dict[str, str]) -> None:
    text = cfg.dumps(values)
    assert text.startswith("# pymesync configuration")
    assert tomllib.loads(text) == values
    assert tomli.loads(text) == values
    assert cfg.loads(text) == values


def test_every_key_round_trips_through_the_file(tmp_path: Path, reader: str) -> None:
    path = tmp_path / "config.toml"
    values = {
        "base_url": "https://ts.example.com/v0",
        "username": "zoë",
        "auth_type": "ldap",
        "default_project": "gwm",
        "default_activity": "dev",
        "db": 'C:\\Users\\zoë\\"time" db\u0007.sqlite3',
    }
    assert set(values) == set(cfg.KEYS)
    assert {k: cfg.normalise(k, v) for k, v in values.items()} == values
    cfg.write_file(path, values)
    assert cfg.read_file(path) == values
    assert tomllib.loads(path.read_text(encoding="utf-8")) == values
    settings = cfg.resolve(path, cfg.read_file(path), {})
    assert {k: (s.value, s.source) for k, s in settings.values.items()} == {
        k: (v, "file") for k, v in values.items()
    }


def test_unknown_content_is_kept_and_comments_are_not(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text(
        '# my notes\nusername = "alice" # me\n"odd key" = "kept"\nbase-url = "typo"\n',
        encoding="utf-8",
    )
    stored = cfg.read_file(path, check_keys=False)
    cfg.write_file(path, {**stored, "default_project": "gwm"})
    text = path.read_text(encoding="utf-8")
    assert cfg.read_file(path, check_keys=False) == {
        "username": "alice",
        "default_project": "gwm",
        "base-url": "typo",
        "odd key": "kept",
    }
    assert "my notes" not in text and "# me" not in text
    assert text.splitlines()[0].startswith("# pymesync configuration")


def test_writer_refuses_lone_surrogates() -> None:
    with pytest.raises(ConfigError):
        cfg.dumps({"username": "\ud800"})


# ---- values


@pytest.mark.parametrize(
    ("key", "value", "expected"),
    [
        ("base_url", " https://ts.example.com/v0/ ", "https://ts.example.com/v0"),
        ("base_url", "http://127.0.0.1:8000/v0", "http://127.0.0.1:8000/v0"),
        ("auth_type", "ldap", "ldap"),
        ("username", "alice", "alice"),
        ("default_project", "gwm", "gwm"),
        ("default_activity", "dev", "dev"),
        ("db", "~/time.sqlite3", "~/time.sqlite3"),
    ],
)
def test_normalise_accepts(key: str, value: str, expected: str) -> None:
    assert cfg.normalise(key, value) == expected


@pytest.mark.parametrize(
    ("key", "value", "fragment"),
    [
        ("colour", "red", "unknown configuration key 'colour'"),
        ("base_url", "timesync.example.com/v0", "must be an http:// or https:// URL"),
        ("base_url", "ftp://x/v0", "must be an http:// or https:// URL"),
        ("base_url", "https://x/v0 y", "must be an http:// or https:// URL"),
        ("auth_type", "token", "auth_type must be one of password, ldap"),
        ("username", "al ice", "cannot contain spaces"),
        ("default_project", "a/b", "cannot contain"),
        ("db", "  ", "cannot be empty"),
    ],
)
def test_normalise_refuses(key: str, value: str, fragment: str) -> None:
    with pytest.raises(ConfigError, match=fragment):
        cfg.normalise(key, value)


# ---- precedence


def test_flags_over_environment_over_file_over_defaults(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    file_values = {"base_url": "https://file/v0", "username": "filer", "db": "file.db"}
    env = {"PYMESYNC_URL": "https://env/v0", "PYMESYNC_USERNAME": "enver"}
    flags = {"base_url": "https://flag/v0", "username": None, "db": ""}
    settings = cfg.resolve(path, file_values, env, flags)
    assert settings.path == path
    assert settings.values["base_url"] == cfg.Setting("base_url", "https://flag/v0", "flag")
    assert settings.values["username"] == cfg.Setting("username", "enver", "env")
    assert settings.values["db"] == cfg.Setting("db", "file.db", "file")
    assert settings.values["auth_type"] == cfg.Setting("auth_type", "password", "default")
    assert settings.values["default_project"] == cfg.Setting("default_project", None, None)
    assert settings.require("base_url") == "https://flag/v0"


def test_require_says_how_to_set_it(tmp_path: Path) -> None:
    settings = cfg.resolve(tmp_path / "c.toml", {}, {})
    with pytest.raises(ConfigError) as caught:
        settings.require("base_url")
    assert str(caught.value) == (
        "no base URL configured: run `pymesync config set base_url VALUE` or set PYMESYNC_URL"
    )


def test_bad_values_name_their_origin(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"^PYMESYNC_AUTH_TYPE: auth_type must be"):
        cfg.resolve(tmp_path / "c.toml", {}, {"PYMESYNC_AUTH_TYPE": "magic"})
    with pytest.raises(ConfigError, match=r"^--url: base_url must be"):
        cfg.resolve(tmp_path / "c.toml", {}, {}, {"base_url": "nope"})
    with pytest.raises(ConfigError, match=r"c\.toml: base_url must be"):
        cfg.resolve(tmp_path / "c.toml", {"base_url": "nope"}, {})
