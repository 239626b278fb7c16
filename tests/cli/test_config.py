"""The configuration module: the flat TOML file, checks and precedence."""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pymesync import config as cfg
from pymesync.config import ConfigError

try:  # Python 3.11+; on 3.10 the small reader is all there is
    tomllib: Any = importlib.import_module("tomllib")
except ModuleNotFoundError:  # pragma: no cover - Python 3.10
    tomllib = None

needs_tomllib = pytest.mark.skipif(tomllib is None, reason="tomllib is Python 3.11+")


@pytest.fixture(params=["tomllib", "mini"])
def reader(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Run a test with tomllib (where it exists) and with the Python 3.10 reader."""
    if request.param == "tomllib" and tomllib is None:
        pytest.skip("tomllib is Python 3.11+")
    if request.param == "mini":
        real = importlib.import_module

        def without_tomllib(name: str, package: str | None = None) -> Any:
            if name == "tomllib":
                raise ModuleNotFoundError(name)
            return real(name, package)

        monkeypatch.setattr(cfg.importlib, "import_module", without_tomllib)
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
    if tomllib is not None:
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


# ---- the small reader (Python 3.10) against tomllib


MINI_CASES = [
    "",
    "# just a comment\n\n",
    'username = "alice"\n',
    "username = 'lit\\eral'  # comment\n",
    'a = "tab\\there \\"quoted\\" back\\\\slash \\u00e9 \\U0001F600"\n',
    '  spaced   =   "x"   \n',
    'a = "#not a comment"\n',
]


@needs_tomllib
@pytest.mark.parametrize("text", MINI_CASES)
def test_mini_reader_agrees_with_tomllib(text: str) -> None:
    assert cfg._mini_loads(text) == tomllib.loads(text)


@pytest.mark.parametrize(
    "text",
    [
        "username\n",
        'username = "open\n',
        "username = 'open\n",
        "username = 3\n",
        'a = "x"\na = "y"\n',
        'a = "x" trailing\n',
        'a = "bad \\q escape"\n',
        'a = "\\u12"\n',
        'a = "\\uD800"\n',
        'a = "ctrl \x01"\n',
        'bad key = "x"\n',
    ],
)
def test_mini_reader_refuses_what_it_does_not_know(text: str) -> None:
    with pytest.raises(ConfigError):
        cfg._mini_loads(text)


values_strategy = st.dictionaries(
    st.sampled_from(cfg.KEYS),
    st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=30),
)


@given(values_strategy)
def test_writer_output_reads_back_with_both_readers(values: dict[str, str]) -> None:
    text = cfg.dumps(values)
    if tomllib is not None:
        assert tomllib.loads(text) == values
    assert cfg._mini_loads(text) == values
    assert cfg.loads(text) == values


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


@needs_tomllib
@given(
    st.text(
        alphabet=st.sampled_from(list("ab_= \t\"'#\\\nuU0123456789ADxe\r\x01\x7f\x85é")),
        max_size=40,
    )
)
def test_what_the_mini_reader_accepts_tomllib_reads_the_same(text: str) -> None:
    try:
        mine = cfg._mini_loads(text)
    except ConfigError:
        return
    assert tomllib.loads(text) == mine
