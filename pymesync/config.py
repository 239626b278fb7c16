"""The command line's configuration: a flat TOML file, environment variables, flags.

The file is ``platformdirs.user_config_dir("pymesync")/config.toml`` (``$PYMESYNC_CONFIG``
overrides the path) and holds flat ``key = "string"`` pairs. Environment variables
override the file, and command-line flags override both.

| key | environment variable | default |
|---|---|---|
| ``base_url`` | ``PYMESYNC_URL`` | none |
| ``username`` | ``PYMESYNC_USERNAME`` | none |
| ``auth_type`` | ``PYMESYNC_AUTH_TYPE`` | ``password`` |
| ``default_project`` | ``PYMESYNC_DEFAULT_PROJECT`` | none |
| ``default_activity`` | ``PYMESYNC_DEFAULT_ACTIVITY`` | none |
| ``db`` | ``PYMESYNC_DB`` | the library's (user data dir) |

Reading uses :mod:`tomllib` where it exists (Python 3.11+) and a small reader for flat
string pairs otherwise; writing uses a small writer for flat string values.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pymesync import private

__all__ = [
    "CONFIG_ENV",
    "DEFAULTS",
    "ENV_VARS",
    "KEYS",
    "ConfigError",
    "Setting",
    "Settings",
    "check_key",
    "config_path",
    "dumps",
    "loads",
    "normalise",
    "read_file",
    "resolve",
    "write_file",
]

#: The environment variable naming the configuration file.
CONFIG_ENV = "PYMESYNC_CONFIG"
#: Every key the file may hold, in display order.
KEYS: tuple[str, ...] = (
    "base_url",
    "username",
    "auth_type",
    "default_project",
    "default_activity",
    "db",
)
#: The environment variable that overrides each key.
ENV_VARS: dict[str, str] = {
    "base_url": "PYMESYNC_URL",
    "username": "PYMESYNC_USERNAME",
    "auth_type": "PYMESYNC_AUTH_TYPE",
    "default_project": "PYMESYNC_DEFAULT_PROJECT",
    "default_activity": "PYMESYNC_DEFAULT_ACTIVITY",
    "db": "PYMESYNC_DB",
}
#: Values used when neither a flag, the environment nor the file gives one.
DEFAULTS: dict[str, str] = {"auth_type": "password"}
AUTH_TYPES = ("password", "ldap")

Source = Literal["flag", "env", "file", "default"]

_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")
_SLUG = re.compile(r"[^\s/?#]+")
_NO_TABLES = 'tables ([...]) are not supported: use flat key = "value" lines'
_HEADER = "# pymesync configuration: edit with `pymesync config set KEY VALUE`.\n"


class ConfigError(Exception):
    """A configuration problem; the message is one clear line."""


# --------------------------------------------------------------------------- location


def config_path(environ: Mapping[str, str] | None = None) -> Path:
    """The configuration file: ``$PYMESYNC_CONFIG``, else ``config.toml`` in the user
    config dir."""
    env = os.environ if environ is None else environ
    chosen = env.get(CONFIG_ENV, "")
    if chosen:
        return Path(chosen).expanduser()
    return _default_path()


def _default_path() -> Path:
    from platformdirs import user_config_dir

    return Path(user_config_dir("pymesync")) / "config.toml"


# --------------------------------------------------------------------------- values


def check_key(key: str) -> None:
    """Refuse a key that is not in :data:`KEYS` (:class:`ConfigError`)."""
    if key not in KEYS:
        raise ConfigError(f"unknown configuration key {key!r} (known keys: {', '.join(KEYS)})")


def normalise(key: str, value: str) -> str:
    """``value`` checked and tidied for ``key``; :class:`ConfigError` if it can't be used.

    Unknown keys are refused.
    """
    check_key(key)
    text = value.strip()
    if not text:
        raise ConfigError(f"{key} cannot be empty")
    if key == "base_url":
        if not re.match(r"https?://[^/\s]+", text) or any(c.isspace() for c in text):
            raise ConfigError(
                f"base_url must be an http:// or https:// URL with the API prefix,"
                f" e.g. https://timesync.example.com/v0 (got {text!r})"
            )
        return text.rstrip("/")
    if key == "auth_type":
        if text not in AUTH_TYPES:
            raise ConfigError(f"auth_type must be one of {', '.join(AUTH_TYPES)} (got {text!r})")
        return text
    if key in ("username", "default_project", "default_activity"):
        if not _SLUG.fullmatch(text):
            raise ConfigError(f"{key} cannot contain spaces, '/', '?' or '#' (got {text!r})")
        return text
    return text  # db: a path, expanded when used


# --------------------------------------------------------------------------- the file


def loads(text: str, *, where: str = "config") -> dict[str, str]:
    """The flat ``key = "string"`` pairs of a TOML document.

    Tables, arrays and non-string values are refused (:class:`ConfigError`); the keys
    themselves are not checked here.
    """
    try:
        tomllib: Any = importlib.import_module("tomllib")
    except ModuleNotFoundError:  # Python 3.10: the small reader below
        return _mini_loads(text, where=where)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{where}: not valid TOML ({error})") from None
    result: dict[str, str] = {}
    for key, value in data.items():
        if isinstance(value, dict):
            raise ConfigError(f"{where}: {_NO_TABLES}")
        if not isinstance(value, str):
            raise ConfigError(f"{where}: {key} must be a quoted string")
        result[key] = value
    return result


_ESCAPES = {"b": "\b", "t": "\t", "n": "\n", "f": "\f", "r": "\r", '"': '"', "\\": "\\"}


def _mini_loads(text: str, *, where: str = "config") -> dict[str, str]:
    """A reader for the flat subset of TOML this file uses: comments, blank lines and
    ``key = "basic string"`` or ``key = 'literal string'`` lines."""
    result: dict[str, str] = {}
    segments = text.split("\n")
    for number, raw in enumerate(segments, start=1):
        at = f"{where}: not valid TOML, line {number}"
        crlf = raw.endswith("\r") and number < len(segments)
        line = raw[:-1] if crlf else raw
        if any((ord(c) < 0x20 and c != "\t") or ord(c) == 0x7F for c in line):
            raise ConfigError(f"{at}: control character")
        stripped = line.strip(" \t")
        if not stripped or stripped.startswith("#"):
            continue
        if stripped.startswith("["):
            raise ConfigError(f"{where}: {_NO_TABLES}")
        key, sep, rest = stripped.partition("=")
        key = key.strip(" \t")
        if not sep or not _BARE_KEY.fullmatch(key):
            raise ConfigError(f'{at}: expected key = "value"')
        if key in result:
            raise ConfigError(f"{at}: {key} is set twice")
        rest = rest.strip(" \t")
        if rest.startswith("'"):
            end = rest.find("'", 1)
            if end < 0:
                raise ConfigError(f"{at}: unterminated string")
            value, tail = rest[1:end], rest[end + 1 :]
        elif rest.startswith('"'):
            value, tail = _basic_string(rest, at)
        else:
            raise ConfigError(f"{where}: {key} must be a quoted string")
        tail = tail.strip(" \t")
        if tail and not tail.startswith("#"):
            raise ConfigError(f"{at}: unexpected text after the value")
        result[key] = value
    return result


def _basic_string(rest: str, at: str) -> tuple[str, str]:
    chars: list[str] = []
    index = 1
    while index < len(rest):
        char = rest[index]
        if char == '"':
            return "".join(chars), rest[index + 1 :]
        if char == "\\":
            code = rest[index + 1 : index + 2]
            if code in _ESCAPES:
                chars.append(_ESCAPES[code])
                index += 2
                continue
            width = {"u": 4, "U": 8}.get(code)
            digits = rest[index + 2 : index + 2 + width] if width else ""
            if not width or not re.fullmatch(r"[0-9A-Fa-f]+", digits) or len(digits) != width:
                raise ConfigError(f"{at}: bad escape in string")
            point = int(digits, 16)
            if point > 0x10FFFF or 0xD800 <= point <= 0xDFFF:
                raise ConfigError(f"{at}: bad escape in string")
            chars.append(chr(point))
            index += 2 + width
            continue
        if (ord(char) < 0x20 and char != "\t") or ord(char) == 0x7F:
            raise ConfigError(f"{at}: control character in string")
        chars.append(char)
        index += 1
    raise ConfigError(f"{at}: unterminated string")


def _quote(value: str) -> str:
    out = ['"']
    for char in value:
        if char in ('"', "\\"):
            out.append("\\" + char)
        elif char in "\b\t\n\f\r":
            out.append({"\b": "\\b", "\t": "\\t", "\n": "\\n", "\f": "\\f", "\r": "\\r"}[char])
        elif ord(char) < 0x20 or ord(char) == 0x7F:
            out.append(f"\\u{ord(char):04X}")
        elif 0xD800 <= ord(char) <= 0xDFFF:
            raise ConfigError("value contains a lone surrogate and cannot be saved")
        else:
            out.append(char)
    out.append('"')
    return "".join(out)


def dumps(values: Mapping[str, str]) -> str:
    """A TOML document of flat string pairs (known keys first, in :data:`KEYS` order)."""
    order = [k for k in KEYS if k in values] + sorted(k for k in values if k not in KEYS)
    lines = [_HEADER]
    for key in order:
        if not _BARE_KEY.fullmatch(key):
            raise ConfigError(f"cannot save key {key!r}")
        lines.append(f"{key} = {_quote(values[key])}\n")
    return "".join(lines)


def read_file(path: Path, *, check_keys: bool = True) -> dict[str, str]:
    """The pairs in the file at ``path`` (``{}`` if it does not exist).

    With ``check_keys``, a key that is not in :data:`KEYS` is a :class:`ConfigError`.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(f"cannot read the config file {path}: {_reason(error)}") from None
    values = loads(text, where=str(path))
    if check_keys:
        unknown = [k for k in values if k not in KEYS]
        if unknown:
            raise ConfigError(
                f"{path}: unknown key {unknown[0]!r} (known keys: {', '.join(KEYS)};"
                f" remove it with `pymesync config unset {unknown[0]}`)"
            )
    return values


def write_file(path: Path, values: Mapping[str, str]) -> None:
    """Write ``values`` to ``path`` atomically (a temporary file, then a rename).

    The file is written with mode 0600 and missing folders are created with mode 0700,
    whatever the umask; the default config folder is tightened to 0700 if an older
    version left it looser (a folder named by ``$PYMESYNC_CONFIG`` is left alone).
    """
    text = dumps(values)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        private.make_folder(path.parent)
        if path.absolute() == _default_path().absolute():
            private.tighten(path.parent)
        fd = private.open_private(temporary, os.O_WRONLY | os.O_TRUNC)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(temporary, path)
    except OSError as error:
        with contextlib.suppress(OSError):
            temporary.unlink()
        raise ConfigError(f"cannot write the config file {path}: {_reason(error)}") from None


def _reason(error: BaseException) -> str:
    if isinstance(error, OSError) and error.strerror:
        return error.strerror
    return str(error) or type(error).__name__


# --------------------------------------------------------------------------- resolution


@dataclass(frozen=True)
class Setting:
    """One effective value and where it came from."""

    key: str
    value: str | None
    source: Source | None


@dataclass(frozen=True)
class Settings:
    """The effective configuration: flags over environment over file over defaults."""

    path: Path
    values: Mapping[str, Setting]

    def get(self, key: str) -> str | None:
        """The effective value of ``key``, or None."""
        return self.values[key].value

    def require(self, key: str) -> str:
        """The effective value of ``key``; :class:`ConfigError` saying how to set it if
        there is none."""
        value = self.get(key)
        if value is None:
            what = "base URL" if key == "base_url" else key.replace("_", " ")
            raise ConfigError(
                f"no {what} configured: run `pymesync config set {key} VALUE`"
                f" or set {ENV_VARS[key]}"
            )
        return value


def resolve(
    path: Path,
    file_values: Mapping[str, str],
    environ: Mapping[str, str] | None = None,
    flags: Mapping[str, str | None] | None = None,
) -> Settings:
    """The effective settings. Values from the environment and flags are checked with
    :func:`normalise` (:class:`ConfigError` names where a bad one came from)."""
    env = os.environ if environ is None else environ
    given = flags or {}
    values: dict[str, Setting] = {}
    for key in KEYS:
        setting = Setting(key, None, None)
        if key in DEFAULTS:
            setting = Setting(key, DEFAULTS[key], "default")
        if file_values.get(key):
            setting = Setting(key, _checked(key, file_values[key], str(path)), "file")
        if env.get(ENV_VARS[key]):
            setting = Setting(key, _checked(key, env[ENV_VARS[key]], ENV_VARS[key]), "env")
        flag = given.get(key)
        if flag:
            setting = Setting(key, _checked(key, flag, "--" + _FLAG_NAMES.get(key, key)), "flag")
        values[key] = setting
    return Settings(path, values)


_FLAG_NAMES = {"base_url": "url", "username": "user"}


def _checked(key: str, value: str, where: str) -> str:
    try:
        return normalise(key, value)
    except ConfigError as error:
        raise ConfigError(f"{where}: {error}") from None
