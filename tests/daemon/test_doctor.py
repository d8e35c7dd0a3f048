"""`portwatch doctor`: each check passes or fails with what to do.

/sys and /run are system edges: the tests build a small tree that mimics them under
tmp_path (the kernel's and systemd's files cannot be created for real in a test).
"""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from portwatch.doctor import (
    check_adapter,
    check_clock,
    check_free_disk,
    check_log,
    check_state_directory,
    run_checks,
)
from portwatch.store import Store

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
SETTINGS = """
[patient]
reference = "Patient/1"
placement = 2026-11-27T13:30:00Z
[clinic]
url = "http://127.0.0.1:8471/alerts"
recipient = "Organization/clinic-1"
secret_file = "{secret}"
[store]
state_directory = "{state}"
"""


@pytest.fixture
def setup(tmp_path: Path) -> tuple[Path, Path]:
    """A valid settings file with a secret and a writable state directory."""
    (tmp_path / "secret").write_text("whsec_dGVzdA==")
    state = tmp_path / "state"
    state.mkdir()
    path = tmp_path / "portwatch.toml"
    path.write_text(SETTINGS.format(secret=tmp_path / "secret", state=state))
    return path, state


def sysfs(root: Path, *, blocked: bool = False) -> Path:
    rfkill = root / "sys/class/bluetooth/hci0/rfkill0"
    rfkill.mkdir(parents=True)
    (rfkill / "soft").write_text("1\n" if blocked else "0\n")
    (rfkill / "hard").write_text("0\n")
    return root


def test_all_checks_pass_when_machine_is_ready(setup: tuple[Path, Path], tmp_path: Path) -> None:
    """The happy path a new installation should reach."""
    path, _ = setup
    root = sysfs(tmp_path / "root")
    checks = run_checks(path, NOW, {}, root=root, run=lambda argv: "yes\n")
    assert [c.name for c in checks] == [
        "settings",
        "clinic secret",
        "state directory",
        "log",
        "free disk",
        "bluetooth adapter",
        "clock",
    ]
    assert all(c.passed for c in checks), [c.line() for c in checks]


def test_adapter_fails_with_unblock_advice_when_rfkill_soft_blocked(tmp_path: Path) -> None:
    """A blocked radio is the commonest Pi problem; the advice names the command."""
    check = check_adapter("hci0", sysfs(tmp_path, blocked=True))
    assert not check.passed
    assert "rfkill unblock bluetooth" in check.advice


def test_adapter_fails_when_absent(tmp_path: Path) -> None:
    """No adapter at all: point at raspi-config."""
    check = check_adapter("hci1", sysfs(tmp_path))
    assert (check.passed, check.detail) == (False, "hci1 not found")


def test_clock_fails_when_not_synchronised(tmp_path: Path) -> None:
    """A Pi without network time has no idea of the date; say so."""
    assert not check_clock(tmp_path, run=lambda argv: "no\n").passed
    assert check_clock(tmp_path, run=lambda argv: "yes\n").passed


def test_clock_passes_when_timesyncd_marker_exists(tmp_path: Path) -> None:
    """systemd-timesyncd's marker file is enough, without asking timedatectl."""
    marker = tmp_path / "run/systemd/timesync/synchronized"
    marker.parent.mkdir(parents=True)
    marker.touch()

    def refuse(argv: list[str]) -> str:
        raise AssertionError("timedatectl should not be needed")

    assert check_clock(tmp_path, run=refuse).passed


def test_state_directory_fails_when_missing(tmp_path: Path) -> None:
    """The log has nowhere to go: say how to create it."""
    check = check_state_directory(tmp_path / "nope")
    assert not check.passed
    assert "StateDirectory" in check.advice


def test_free_disk_reports_mebibytes_when_measured(tmp_path: Path) -> None:
    """The figure a person compares with the advice."""
    check = check_free_disk(tmp_path)
    assert "MiB free" in check.detail


def test_settings_failure_stops_other_checks_when_file_is_bad(tmp_path: Path) -> None:
    """Without valid settings the rest cannot be judged; the one failure says why."""
    path = tmp_path / "portwatch.toml"
    path.write_text("[patient]\nreference = 'Patient/x'\n")
    (check,) = run_checks(path, NOW, {}, root=tmp_path)
    assert not check.passed
    assert "patient.placement: missing" in check.detail


def test_doctor_config_only_exits_2_when_settings_are_bad(tmp_path: Path) -> None:
    """The issue: a bad settings file gives exit status 2, from doctor as from config check."""
    path = tmp_path / "portwatch.toml"
    path.write_text("[patient]\nreference = 'Patient/x'\n")
    result = subprocess.run(
        [sys.executable, "-m", "portwatch", "doctor", "--config-only", "--config", str(path)],
        capture_output=True,
        text=True,
        check=False,
        env={"PATH": "/usr/bin:/bin"},
    )
    assert result.returncode == 2
    assert result.stdout.startswith("FAIL settings: patient.placement: missing")


def test_log_fails_with_recovery_advice_when_file_is_not_a_database(tmp_path: Path) -> None:
    """A damaged log is named, with the store's own recovery steps, and never written to."""
    db = tmp_path / "portwatch.db"
    db.write_bytes(b"this is not sqlite" * 100)
    check = check_log(db)
    assert not check.passed
    assert "recover" in check.detail
    assert db.read_bytes() == b"this is not sqlite" * 100


def test_log_passes_with_its_schema_when_intact(tmp_path: Path) -> None:
    """A log written by this portwatch passes."""
    db = tmp_path / "portwatch.db"
    Store.open(db).close()
    check = check_log(db)
    assert check.passed
    assert "schema version" in check.detail
