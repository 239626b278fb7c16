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

Reading uses :mod:`tomllib` (``tomli`` on Python 3.10), writing uses ``tomli_w``: both
imported only when needed. Saving rewrites the whole file from its values, so comments
and layout are not kept (unknown keys are).
"""

from __future__ import annotations

import contextlib
import os
import re
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pymesync import private
from pymesync.errors import PymesyncError

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

_SLUG = re.compile(r"[^\s/?#]+")
_NO_TABLES = 'tables ([...]) are not supported: use flat key = "value" lines'
_HEADER = "# pymesync configuration: edit with `pymesync config set KEY VALUE`.\n"


class ConfigError(PymesyncError):
    """A configuration problem (the file, a key or a value); the message is one clear
    line. Part of the one error tree: a :class:`~pymesync.errors.PymesyncError`, never
    transient."""


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
    """The flat ``key = "string"`` pairs of a TOML document, read with :mod:`tomllib`
    (``tomli`` on Python 3.10).

    A document that is not valid TOML is a :class:`ConfigError` of one line naming
    ``where`` and, when the parser gives it, the line and column. Tables, arrays and
    non-string values are refused too; the keys themselves are not checked here.
    """
    parse, decode_error = _parser()
    try:
        data = parse(text)
    except decode_error as error:
        raise ConfigError(f"{where}: not valid TOML{_position(error)}") from None
    result: dict[str, str] = {}
    for key, value in data.items():
        if isinstance(value, dict):
            raise ConfigError(f"{where}: {_NO_TABLES}")
        if not isinstance(value, str):
            raise ConfigError(f"{where}: {_one_line(key)} must be a quoted string")
        result[key] = value
    return result


def _parser() -> tuple[Callable[[str], dict[str, Any]], type[ValueError]]:
    """The TOML reader's ``loads`` and its error class, imported when first needed (a
    command that finds no config file never pays for the import)."""
    if sys.version_info >= (3, 11):
        import tomllib

        return tomllib.loads, tomllib.TOMLDecodeError
    import tomli

    return tomli.loads, tomli.TOMLDecodeError


_AT = re.compile(
    r"^(?P<msg>.*?) \((?:at line (?P<line>\d+), column (?P<col>\d+)|at end of document)\)$"
)


def _position(error: ValueError) -> str:
    """``, line N, column M: what`` from a TOML decode error (its attributes where the
    parser has them, Python 3.14 and tomli 2.1+, else its message)."""
    text = _one_line(str(error))
    line, column = getattr(error, "lineno", None), getattr(error, "colno", None)
    message = getattr(error, "msg", None)
    if not (isinstance(line, int) and isinstance(column, int) and isinstance(message, str)):
        found = _AT.match(text)
        if found is None:
            return f": {text}"
        message = found["msg"]
        if found["line"] is None:
            return f", at the end of the file: {message}"
        line, column = int(found["line"]), int(found["col"])
    return f", line {line}, column {column}: {_one_line(message)}"


def _one_line(text: str) -> str:
    return " ".join(text.split()) or repr(text)


def dumps(values: Mapping[str, str]) -> str:
    """A TOML document of flat string pairs (known keys first, in :data:`KEYS` order,
    then any others sorted), written with ``tomli_w`` after a one-line header comment.

    :class:`ConfigError` if a key or value cannot be saved (a lone surrogate).
    """
    import tomli_w  # only writing needs it: reading commands never import it

    order = [k for k in KEYS if k in values] + sorted(k for k in values if k not in KEYS)
    text = _HEADER + tomli_w.dumps({key: values[key] for key in order})
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise ConfigError("a key or value contains a lone surrogate and cannot be saved") from None
    return text


def read_file(path: Path, *, check_keys: bool = True) -> dict[str, str]:
    """The pairs in the file at ``path`` (``{}`` if it does not exist).

    The file must be UTF-8 TOML (:func:`loads`); anything else is a one-line
    :class:`ConfigError` naming the file and the line. With ``check_keys``, a key that
    is not in :data:`KEYS` is a :class:`ConfigError` too.
    """
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return {}
    except OSError as error:
        raise ConfigError(f"cannot read the config file {path}: {_reason(error)}") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        raise ConfigError(
            f"cannot read the config file {path}: line {line} is not UTF-8 text"
            f" (byte 0x{data[error.start]:02x}); save it as UTF-8"
        ) from None
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
