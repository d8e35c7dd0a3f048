"""Fixtures for the settings tests: a clean environment and a credentials directory."""

from __future__ import annotations

import os
from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """No PORTWATCH_* or systemd credential variables leak in from the developer's shell."""
    for name in list(os.environ):
        if name.startswith("PORTWATCH_") or name == "CREDENTIALS_DIRECTORY":
            monkeypatch.delenv(name)


@pytest.fixture
def credentials(tmp_path: Path) -> dict[str, str]:
    """A systemd-style credentials directory holding the clinic's signing secret."""
    directory = tmp_path / "credentials"
    directory.mkdir()
    (directory / "clinic-secret").write_text("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\n")
    return {"CREDENTIALS_DIRECTORY": str(directory)}
