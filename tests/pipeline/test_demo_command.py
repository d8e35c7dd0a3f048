"""`portwatch demo --json`: README's first command, shortened to the confirmed fever."""

from __future__ import annotations

import asyncio
import json
import logging
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest

from portwatch.sim.sandbox import Sandbox


def test_demo_json_reports_one_confirmed_alert_when_the_fever_of_day_four_is_played(
    tmp_path: Path,
) -> None:
    """A newcomer's first run: the inbox receives exactly one fever.confirmed, no duplicate.

    With --state-dir the log stays, with a portwatch.toml the terminal commands read."""
    state = tmp_path / "demo"
    result = subprocess.run(
        [
            *PORTWATCH,
            "demo",
            "--json",
            "--days",
            "3.4",
            "--speed",
            "0",
            "--state-dir",
            str(state),
        ],
        capture_output=True,
        text=True,
        timeout=110,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    summary = json.loads(result.stdout)
    assert summary["alerts_received_kinds"].count("fever.confirmed") == 1
    assert summary["duplicates_received"] == 0
    assert summary["decisions"] == ["elevated.first", "fever.confirmed"]
    for key in ("readings", "alerts_sent", "notifications", "alert_latency_ms"):
        assert key in summary
    # Progress went to stderr, one plain line per simulated day (not a terminal).
    assert "-- day 4" in result.stderr
    assert "Traceback" not in result.stderr
    assert "ERROR" not in result.stderr
    _check_kept_state(state)


PORTWATCH = (sys.executable, "-m", "portwatch")


def _check_kept_state(state: Path) -> None:
    """status, summary and alerts read the kept log through --config DIR/portwatch.toml."""
    config = ("--config", str(state / "portwatch.toml"))

    def portwatch(*argv: str) -> str:
        done = subprocess.run(
            [*PORTWATCH, *argv, *config], capture_output=True, text=True, timeout=60, check=False
        )
        assert done.returncode == 0, done.stdout + done.stderr
        return done.stdout

    facts = json.loads(portwatch("status", "--json"))
    assert facts["fever"] == "confirmed"
    assert facts["clinic_undelivered"] == 0
    assert facts["thermometer"]["address"]
    assert "<h2>Fever episodes</h2>" in portwatch("summary")
    listed = portwatch("alerts", "list")
    assert "fever alert" in listed
    assert "fever.confirmed" not in listed  # no internal names in human text
    assert "heartbeat" not in listed
    assert "clinic last reached at" in listed


async def test_sandbox_stops_without_error_record_when_the_wearable_is_connected_at_the_end(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Issue 9: the demo must not end with Bumble's InvalidStateError traceback.

    With one reading a second the wearable is connected when the course ends, so the
    shutdown makes it re-advertise while the radio stops: the case that logged it.
    """
    caplog.set_level(logging.WARNING)
    async with Sandbox(interval_s=1.0, page=False) as sandbox:
        await sandbox.play(speed=None, until=sandbox.placement + timedelta(minutes=3))
    for _ in range(20):  # late HCI responses arrive on later loop turns
        await asyncio.sleep(0)
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert errors == []
