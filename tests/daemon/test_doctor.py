"""`portwatch doctor`: each check passes or fails with what to do.

/sys and /run are system edges: the tests build a small tree that mimics them under
tmp_path (the kernel's and systemd's files cannot be created for real in a test).
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from aiohttp import web

from portwatch.alerts.signing import parse_secret
from portwatch.ble.pin import Pin, save_pin
from portwatch.clock import VirtualClock
from portwatch.config import load_settings
from portwatch.log.store import Store
from portwatch.model import Reading, ReadingKind, Unit
from portwatch.service.doctor import (
    check_adapter,
    check_clinic,
    check_clock,
    check_free_disk,
    check_log,
    check_pin,
    check_state_directory,
    check_thermometer,
    run_checks,
)
from portwatch.sim.inbox import InboxStore, make_app

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
SETTINGS = """
[patient]
reference = "Patient/1"
placement = 2026-11-27T13:30:00Z
[clinic]
url = "{url}"
recipient = "Organization/clinic-1"
secret_file = "{secret}"
[store]
state_directory = "{state}"
"""


@pytest.fixture
async def inbox(tmp_path: Path) -> AsyncIterator[tuple[str, InboxStore]]:
    """portwatch's reference clinic inbox on loopback: real HTTP, real signature checks."""
    store = InboxStore(tmp_path / "inbox.db")
    app = make_app(parse_secret(SECRET), store, VirtualClock(NOW))  # the clinic agrees on now
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield f"http://127.0.0.1:{port}/webhook", store
    finally:
        await runner.cleanup()
        store.close()


def write_settings(tmp_path: Path, url: str) -> tuple[Path, Path]:
    """A valid settings file with a secret and a writable state directory."""
    (tmp_path / "secret").write_text(SECRET)
    (tmp_path / "secret").chmod(0o600)
    state = tmp_path / "state"
    state.mkdir(exist_ok=True)
    path = tmp_path / "portwatch.toml"
    path.write_text(SETTINGS.format(url=url, secret=tmp_path / "secret", state=state))
    return path, state


@pytest.fixture
def setup(tmp_path: Path) -> tuple[Path, Path]:
    return write_settings(tmp_path, "http://127.0.0.1:9/webhook")


def log_reading(state: Path, at: datetime, kind: ReadingKind = ReadingKind.SPOT) -> None:
    """What the daemon would have logged: one reading from the thermometer."""
    with Store.open(state / "portwatch.db") as store:
        store.add_readings(
            [
                Reading(
                    "AA:BB:CC:DD:EE:FF",
                    kind,
                    Decimal("36.9"),
                    Unit.CELSIUS,
                    36.9,
                    at,
                    at,
                )
            ]
        )


def sysfs(root: Path, *, blocked: bool = False) -> Path:
    rfkill = root / "sys/class/bluetooth/hci0/rfkill0"
    rfkill.mkdir(parents=True)
    (rfkill / "soft").write_text("1\n" if blocked else "0\n")
    (rfkill / "hard").write_text("0\n")
    return root


async def test_all_checks_pass_when_machine_is_ready(
    tmp_path: Path, inbox: tuple[str, InboxStore]
) -> None:
    """The happy path a new installation should reach, up to the clinic's inbox."""
    url, received = inbox
    path, state = write_settings(tmp_path, url)
    log_reading(state, NOW - timedelta(minutes=3))
    save_pin(state, Pin("AA:BB:CC:DD:EE:FF", "Thermo", "hts"))
    root = sysfs(tmp_path / "root")
    checks = await run_checks(path, NOW, {}, root=root, run=lambda argv: "yes\n")
    assert [c.name for c in checks] == [
        "settings",
        "state directory",
        "log",
        "free disk",
        "bluetooth adapter",
        "clock",
        "pinned thermometer",
        "thermometer",
        "notifications",
        "clinic",
    ]
    assert [c.line() for c in checks if not c.passed] == []
    assert received.count() == 1


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


def test_clock_says_the_clinic_may_refuse_signatures_when_not_synchronised(tmp_path: Path) -> None:
    """Issue 19: an unsynchronised clock can make the clinic refuse signed alerts; say so."""
    check = check_clock(tmp_path, run=lambda argv: "no\n")
    assert (check.passed, check.detail) == (False, "not synchronised")
    assert "the clinic may refuse alerts signed by a wrong clock" in check.advice


async def test_clinic_fails_naming_the_clock_when_the_signed_time_is_a_day_off(
    tmp_path: Path, inbox: tuple[str, InboxStore]
) -> None:
    """The inbox's clock is NOW; this gateway's reads a day earlier: the clinic refuses the
    signature's time, and doctor says it is the clock, not the secret."""
    url, received = inbox
    path, _ = write_settings(tmp_path, url)
    settings = load_settings(path, now=NOW, environ={})
    check = await check_clinic(settings, {}, NOW - timedelta(days=1), "test-gateway")
    assert not check.passed
    assert check.detail == 'refused the test message\'s signed time: HTTP 401: {"error": "expired"}'
    assert "clock" in check.advice
    assert "secret" not in check.advice
    assert received.count() == 0


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


async def test_settings_failure_stops_other_checks_when_file_is_bad(tmp_path: Path) -> None:
    """Without valid settings the rest cannot be judged; the one failure says why."""
    path = tmp_path / "portwatch.toml"
    path.write_text("[patient]\nreference = 'Patient/x'\n")
    (check,) = await run_checks(path, NOW, {}, root=tmp_path)
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


async def test_clinic_fails_with_advice_when_secret_is_not_the_clinics(
    tmp_path: Path, inbox: tuple[str, InboxStore]
) -> None:
    """A wrong secret is refused by the clinic: a permanent failure a person must fix."""
    url, received = inbox
    path, _ = write_settings(tmp_path, url)
    (tmp_path / "secret").write_text("whsec_" + "QUJD" * 11)  # 33 bytes, not the clinic's
    settings = load_settings(path, now=NOW, environ={})
    check = await check_clinic(settings, {}, NOW, "test-gateway")
    assert not check.passed
    assert check.detail.startswith("refused the test message: HTTP 4")
    assert "secret" in check.advice
    assert received.count() == 0


async def test_clinic_fails_as_unreachable_when_nobody_listens(setup: tuple[Path, Path]) -> None:
    """No answer is not a refusal: the advice points at the network."""
    path, _ = setup
    settings = load_settings(path, now=NOW, environ={})
    check = await check_clinic(settings, {}, NOW, "test-gateway")
    assert (check.passed, check.detail.startswith("did not answer")) == (False, True)


def test_thermometer_fails_when_last_reading_is_older_than_stale_limit(
    setup: tuple[Path, Path],
) -> None:
    """A thermometer silent for 40 min is what the stale-data watch would report."""
    _, state = setup
    log_reading(state, NOW - timedelta(minutes=40))
    check = check_thermometer(state / "portwatch.db", None, timedelta(minutes=30), NOW)
    assert (check.passed, check.detail) == (False, "any thermometer last heard 40 min ago")


@pytest.mark.parametrize(
    ("kind", "age", "passed"),
    [
        (ReadingKind.SPOT, timedelta(hours=3), True),
        (ReadingKind.SPOT, timedelta(hours=17), False),
        (ReadingKind.STREAM, timedelta(minutes=40), False),
    ],
)
def test_thermometer_check_takes_the_spot_limit_when_the_last_reading_was_a_spot_one(
    setup: tuple[Path, Path], kind: ReadingKind, age: timedelta, passed: bool
) -> None:
    """Issue 19: a spot thermometer 3 h after its last reading is working, as the watch
    says; a wearable 40 min silent is not."""
    _, state = setup
    log_reading(state, NOW - age, kind)
    check = check_thermometer(
        state / "portwatch.db", None, timedelta(minutes=30), NOW, spot_within=timedelta(hours=16)
    )
    assert check.passed is passed


def test_thermometer_fails_when_pinned_one_never_reported(setup: tuple[Path, Path]) -> None:
    """Readings from another device do not count for the pinned one."""
    _, state = setup
    log_reading(state, NOW - timedelta(minutes=1))
    check = check_thermometer(
        state / "portwatch.db", "11:22:33:44:55:66", timedelta(minutes=30), NOW
    )
    assert not check.passed
    assert check.detail == "nothing from 11:22:33:44:55:66 in the last day"


def test_pin_fails_when_settings_name_another_thermometer(tmp_path: Path) -> None:
    """Two sources naming two thermometers: readings of one would all be ignored."""
    save_pin(tmp_path, Pin("AA:BB:CC:DD:EE:FF", "Thermo", "hts"))
    check = check_pin(tmp_path, "11:22:33:44:55:66")
    assert not check.passed
    assert check.detail == "pinned AA:BB:CC:DD:EE:FF, but bluetooth.address is 11:22:33:44:55:66"


def test_pin_fails_with_pair_advice_when_nothing_is_pinned(tmp_path: Path) -> None:
    """A fresh install: the advice is the command that pins."""
    check = check_pin(tmp_path, None)
    assert (check.passed, check.advice) == (False, "pin the patient's thermometer: portwatch pair")
