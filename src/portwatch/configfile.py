"""Where the settings file is, without reading it.

Apart from :mod:`portwatch.config` (which validates the file with pydantic) so that a
command typed by a person learns whether there is a file to read without importing the
validation (issue 20: ``portwatch status`` without a settings file imports no pydantic).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Final

__all__ = ["DEFAULT_CONFIG_PATH", "config_path"]

DEFAULT_CONFIG_PATH: Final = Path("/etc/portwatch/portwatch.toml")


def config_path(argument: str | None, environ: Mapping[str, str] = os.environ) -> Path:
    """The settings file: ``--config FILE``, else ``$PORTWATCH_CONFIG``, else the default."""
    if argument:
        return Path(argument)
    return Path(environ.get("PORTWATCH_CONFIG", str(DEFAULT_CONFIG_PATH)))
