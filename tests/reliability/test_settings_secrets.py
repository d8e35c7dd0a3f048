"""A settings problem line never carries a password (found by the settings campaign)."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

import pytest

from portwatch.config import ConfigError, load_settings

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


def test_load_settings_masks_the_password_when_the_clinic_url_carries_credentials(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`portwatch config check` prints each problem to stderr, which is the journal."""
    for name in [k for k in os.environ if k.startswith("PORTWATCH_")]:
        monkeypatch.delenv(name)
    path = tmp_path / "portwatch.toml"
    path.write_text(
        "[patient]\n"
        'reference = "Patient/1"\n'
        "placement = 2026-11-27T14:30:00+00:00\n"
        "[clinic]\n"
        'url = "https://nurse:s3cr3t-pw@clinic.example.org/alerts"\n'
        'recipient = "Organization/clinic-1"\n'
        'secret_file = "/nonexistent"\n',
        encoding="utf-8",
    )
    with pytest.raises(ConfigError) as info:
        load_settings(path, now=NOW, environ={})
    (line,) = [p for p in info.value.problems if p.startswith("clinic.url")]
    assert "s3cr3t-pw" not in line
    assert "***@clinic.example.org" in line
