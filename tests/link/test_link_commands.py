"""`portwatch scan` and `portwatch pair` on the virtual radio (real bleak, short real scans)."""

from __future__ import annotations

from pathlib import Path

import pytest

from portwatch.ble.pin import load_pin
from portwatch.cli.main import main


def test_scan_lists_every_thermometer_with_driver_when_virtual(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The table names each thermometer heard and which driver fits it."""
    assert main(["scan", "--virtual", "--seconds", "0.2"]) == 0
    out = capsys.readouterr().out
    assert "D0:00:00:00:00:03" in out
    assert "core" in out
    assert out.count(" hts") == 3


def test_pair_writes_pin_with_identity_when_address_given(tmp_path: Path) -> None:
    """Pairing by address pins that thermometer with what it says it is."""
    status = main(
        ["pair", "D0:00:00:00:00:01", "--virtual", "--seconds", "0.2", "--state-dir", str(tmp_path)]
    )
    assert status == 0
    pin = load_pin(tmp_path)
    assert (pin.address, pin.driver) == ("D0:00:00:00:00:01", "hts")
    assert pin.identity["serial"] == "VT-0001"


def test_pair_fails_with_message_when_address_not_heard(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A mistyped address is named, and nothing is pinned."""
    status = main(
        ["pair", "D0:00:00:00:00:77", "--virtual", "--seconds", "0.2", "--state-dir", str(tmp_path)]
    )
    assert status == 1
    assert "not heard" in capsys.readouterr().err
    assert not (tmp_path / "pinned.json").exists()
