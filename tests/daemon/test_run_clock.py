"""`portwatch run` times everything with a TrustedClock anchored in the real log (issue 7)."""

from __future__ import annotations

import importlib
import importlib.util
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from portwatch.ble.radio import SYSTEM_RADIO
from portwatch.clock import VirtualClock
from portwatch.config import Settings, load_settings
from portwatch.log.store import DB_FILE_NAME, Store
from portwatch.model import Reading, ReadingKind, Unit
from portwatch.service.timekeeping import TrustedClock, kernel_synchronised

PLACEMENT = datetime(2026, 11, 27, 13, 30, tzinfo=UTC)
SETTINGS = """
[patient]
reference = "Patient/1"
placement = 2026-11-27T13:30:00Z
timezone = "Europe/Berlin"
[clinic]
url = "http://127.0.0.1:8471/alerts"
recipient = "Organization/clinic-1"
secret_file = "{secret}"
[store]
state_directory = "{state}"
"""
BOOT_WALL = datetime(1970, 1, 1, tzinfo=UTC)  # a Pi without a real-time clock


def _settings(tmp_path: Path) -> Settings:
    (tmp_path / "secret").write_text("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
    path = tmp_path / "portwatch.toml"
    path.write_text(SETTINGS.format(state=tmp_path / "state", secret=tmp_path / "secret"))
    return load_settings(path, now=PLACEMENT, environ={})


def test_run_clock_counts_from_the_logs_latest_reading_when_the_pi_boots_in_1970(
    tmp_path: Path,
) -> None:
    """After a reboot the daemon's time continues from the log, not from 1970."""
    settings = _settings(tmp_path)
    received = PLACEMENT + timedelta(days=2, hours=8, minutes=30)
    with Store.open(settings.store.state_directory / DB_FILE_NAME) as log:
        log.add_readings(
            [
                Reading(
                    "AA:BB:CC:DD:EE:FF", ReadingKind.SPOT, Decimal("38.4"), Unit.CELSIUS, 38.4,
                    received, received,
                )
            ]
        )  # fmt: skip
    run = importlib.import_module("portwatch.cli.commands.run")
    clock = run._trusted_clock(settings, VirtualClock(BOOT_WALL), synchronised=lambda: False)
    assert isinstance(clock, TrustedClock)
    assert clock.now() == received


def test_run_clock_starts_at_placement_when_there_is_no_log_yet(tmp_path: Path) -> None:
    """A new gateway with a wrong clock never times anything before the placement."""
    run = importlib.import_module("portwatch.cli.commands.run")
    clock = run._trusted_clock(_settings(tmp_path), VirtualClock(BOOT_WALL), lambda: False)
    assert isinstance(clock, TrustedClock)
    assert clock.now() == PLACEMENT


def test_kernel_synchronised_answers_a_bool_when_asked_on_this_machine() -> None:
    """The probe runs unprivileged and answers rather than raising (adjtimex, read-only)."""
    assert kernel_synchronised() in (True, False)


def test_clock_benchmark_keeps_the_runners_contract_when_run_quick() -> None:
    """bench_clock.py: each figure has its baseline from the same run (a smoke run, no timing)."""
    path = Path(__file__).resolve().parents[2] / "benchmarks" / "bench_clock.py"
    spec = importlib.util.spec_from_file_location("portwatch_bench_clock", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    figures = module.measure(quick=True)
    assert [f["baseline"] for f in figures] == ["SystemClock.now()"] * 2
    assert all(f["value"] > 0 and f["baseline_value"] > 0 for f in figures)


def test_status_line_says_clock_not_synchronised_when_the_daemon_only_estimates_time(
    tmp_path: Path,
) -> None:
    """systemctl status shows a person that reading times are estimated (issue 7)."""
    from portwatch.service.daemon import Daemon

    settings = _settings(tmp_path)
    system = VirtualClock(BOOT_WALL)
    clock = TrustedClock(
        system, synchronised=lambda: False, last_trusted=None,
        not_before=PLACEMENT, hold_after_jump=True,
    )  # fmt: skip
    daemon = Daemon(settings, clock=clock, radio=SYSTEM_RADIO, signing_clock=system,
                    gateway_id="test")  # fmt: skip
    assert "clock not synchronised" in daemon.status_text()
    virtual = VirtualClock(PLACEMENT)
    right = Daemon(settings, clock=virtual, radio=SYSTEM_RADIO, signing_clock=virtual,
                   gateway_id="test")  # fmt: skip
    assert "clock not synchronised" not in right.status_text()


def test_run_clock_holds_from_the_logs_latest_reading_when_restarted_with_clock_set_back(
    tmp_path: Path,
) -> None:
    """Issue 7: a restart while the synchronised clock is an hour back times nothing earlier."""
    from portwatch.service.daemon import Daemon

    settings = _settings(tmp_path)
    received = PLACEMENT + timedelta(days=2, hours=8, minutes=30)
    with Store.open(settings.store.state_directory / DB_FILE_NAME) as log:
        log.add_readings(
            [
                Reading(
                    "AA:BB:CC:DD:EE:FF", ReadingKind.SPOT, Decimal("38.4"), Unit.CELSIUS, 38.4,
                    received, received,
                )
            ]
        )  # fmt: skip
    run = importlib.import_module("portwatch.cli.commands.run")
    # A VirtualClock set an hour back and a synchronised() that says yes stand in for the
    # system clock and timesyncd: system edges.
    system = VirtualClock(received - timedelta(hours=1))
    clock = run._trusted_clock(settings, system, synchronised=lambda: True)
    assert isinstance(clock, TrustedClock)
    assert clock.now() == received
    assert clock.held
    daemon = Daemon(settings, clock=clock, radio=SYSTEM_RADIO, signing_clock=system,
                    gateway_id="test")  # fmt: skip
    assert "clock not synchronised" in daemon.status_text()
