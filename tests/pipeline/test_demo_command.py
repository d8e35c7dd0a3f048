"""`portwatch demo --json`: README's first command, shortened to the confirmed fever."""

from __future__ import annotations

import json
import subprocess
import sys


def test_demo_json_reports_one_confirmed_alert_when_the_fever_of_day_four_is_played() -> None:
    """A newcomer's first run: the inbox receives exactly one fever.confirmed, no duplicate."""
    result = subprocess.run(
        [sys.executable, "-m", "portwatch", "demo", "--json", "--days", "3.4", "--speed", "0"],
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
