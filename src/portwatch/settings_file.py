"""Reading the settings file itself; the error every settings problem is raised as, and
how a value is shown in one (never a URL's password).

Apart from :mod:`portwatch.config` so that a file that cannot be read at all (missing, a
directory, not UTF-8, not TOML) is told in one line before anything is validated.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final
from urllib.parse import urlsplit, urlunsplit

__all__ = [
    "DEFAULT_CONFIG_PATH",
    "ConfigError",
    "config_path",
    "credentials_beside",
    "read_toml",
    "without_credentials",
]

DEFAULT_CONFIG_PATH: Final = Path("/etc/portwatch/portwatch.toml")
MAX_BYTES: Final = 1024 * 1024  # the example is 8 KiB


class ConfigError(ValueError):
    """The settings cannot be used; ``problems`` holds one line per problem.

    Each line names the setting (as a dotted path, ``clinic.url``), its value and what
    is allowed, so that ``portwatch config check`` can print them as they are.
    """

    def __init__(self, problems: list[str] | tuple[str, ...]) -> None:
        self.problems: tuple[str, ...] = tuple(problems)
        super().__init__("\n".join(self.problems))


def read_toml(path: Path) -> dict[str, Any]:
    """The file's TOML table, or :class:`ConfigError` with one line saying why not."""
    import tomllib  # here: a command without a settings file only asks config_path (issue 20)

    try:
        with path.open("rb") as file:
            if not stat.S_ISREG(os.fstat(file.fileno()).st_mode):
                raise ConfigError([f"{path}: not a regular file; name the settings file"])
            data = file.read(MAX_BYTES + 1)  # /dev/zero would be read forever
        if len(data) > MAX_BYTES:
            raise ConfigError([f"{path}: larger than {MAX_BYTES // 1024} KiB; not a settings file"])
        return tomllib.loads(data.decode("utf-8"))
    except FileNotFoundError as exc:
        raise ConfigError([f"{path}: no such settings file (--config FILE names another)"]) from exc
    except PermissionError as exc:
        raise ConfigError([f"{path}: cannot be read by this user ({exc.strerror})"]) from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError([f"{path}: not valid TOML: {exc}"]) from exc
    except UnicodeDecodeError as exc:
        raise ConfigError(
            [f"{path}: not UTF-8 text (byte {exc.start + 1}); save it as UTF-8"]
        ) from exc
    except IsADirectoryError as exc:
        raise ConfigError([f"{path}: a directory, not a settings file"]) from exc
    except OSError as exc:
        raise ConfigError([f"{path}: cannot be read ({exc.strerror or exc})"]) from exc


def without_credentials(text: str) -> str:
    """A URL with its user and password (a secret, bound for journald) masked; other text as is."""
    if "@" not in text:
        return text
    try:
        parts = urlsplit(text)
        if not (parts.username or parts.password):
            return text
        host = parts.netloc.rpartition("@")[2]
    except ValueError:
        return "(value not shown)"
    return urlunsplit(parts._replace(netloc=f"***@{host}"))


def config_path(argument: str | None, environ: Mapping[str, str] = os.environ) -> Path:
    """The settings file: ``--config FILE``, else ``$PORTWATCH_CONFIG``, else the default."""
    if argument:
        return Path(argument)
    return Path(environ.get("PORTWATCH_CONFIG", str(DEFAULT_CONFIG_PATH)))


def credentials_beside(settings: Path) -> Path:
    """Where the secrets of a settings file live: ``credentials/`` beside it.

    ``portwatch setup`` writes them there (0700, files 0600), the unit hands them to the
    service from there (``LoadCredential=…:/etc/portwatch/credentials/…``), and a command a
    person runs (``doctor``, ``config check``, ``alerts test``, ``run`` by hand) reads them
    from there when systemd gave it none, so each finds the secret the others do.
    """
    return settings.parent / "credentials"
