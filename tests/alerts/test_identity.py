"""The gateway's identity (issue 18): every "raspberrypi" was one Device at the clinic."""

from __future__ import annotations

from pathlib import Path

from portwatch.identity import gateway_id


def test_gateway_id_differs_per_installation_and_patient_and_hides_the_machine_id(
    tmp_path: Path,
) -> None:
    one, two = tmp_path / "one", tmp_path / "two"
    one.write_text("0123456789abcdef0123456789abcdef\n", encoding="ascii")
    two.write_text("fedcba9876543210fedcba9876543210\n", encoding="ascii")
    first = gateway_id("Patient/1", machine_id=one, hostname="raspberrypi")
    assert first.startswith("raspberrypi-")
    assert first == gateway_id("Patient/1", machine_id=one, hostname="raspberrypi")  # stable
    assert first != gateway_id("Patient/1", machine_id=two, hostname="raspberrypi")
    assert first != gateway_id("Patient/2", machine_id=one, hostname="raspberrypi")
    assert "0123456789abcdef" not in first


def test_gateway_id_is_the_hostname_when_there_is_no_machine_id(tmp_path: Path) -> None:
    assert gateway_id("Patient/1", machine_id=tmp_path / "none", hostname="pi") == "pi"
