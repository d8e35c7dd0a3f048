"""Issue 21: text from the radio or a file never reaches the terminal raw.

A neighbour's device named ``ESC[1A ESC[2K...`` erased the real thermometer's row in
`portwatch scan`, so the user pinned the wrong one; the same name in a link event came out
of `portwatch log --events` as it was.
"""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from portwatch.ble.discovery import Seen
from portwatch.cli.commands.scan import table
from portwatch.log.store import Store
from portwatch.model import LinkEvent, LinkEventKind
from portwatch.printable import printable

HOSTILE = "\x1b[1A\x1b[2KThermo\u202eXYZ"


def test_printable_shows_escapes_and_bidi_overrides_as_text_and_keeps_the_rest() -> None:
    """The characters stay visible (a person can see something is off); none acts."""
    assert printable(HOSTILE) == "\\x1b[1A\\x1b[2KThermo\\u202eXYZ"
    assert printable("Thermomètre 37,2 °C") == "Thermomètre 37,2 °C"


def test_scan_table_shows_a_hostile_name_without_a_control_character() -> None:
    """The row of the device with the hostile name cannot move the cursor or erase a row."""
    lines = table(
        {
            "A4:C1:38:00:11:22": Seen("A4:C1:38:00:11:22", "Real thermometer", -50, "hts"),
            "66:66:66:66:66:66": Seen("66:66:66:66:66:66", HOSTILE, -40, "hts"),
        }
    )
    assert all(line.isprintable() for line in lines)
    assert any("Real thermometer" in line for line in lines)


def test_log_events_prints_a_hostile_device_name_escaped_when_run(tmp_path: Path) -> None:
    """`portwatch log --events`, as its own process: no ESC byte in what it prints."""
    db = tmp_path / "portwatch.db"
    at = datetime(2026, 11, 28, 9, 0, tzinfo=UTC)
    with Store.open(db) as store:
        store.add_event(
            LinkEvent(LinkEventKind.STRANGER_IGNORED, "66:66:66:66:66:66", at, detail=HOSTILE)
        )
    result = subprocess.run(
        [sys.executable, "-m", "portwatch", "log", "--events", "--db", str(db), "--placement",
         (at - timedelta(days=1)).isoformat(), "--since", (at - timedelta(hours=1)).isoformat(),
         "--until", (at + timedelta(hours=1)).isoformat()],
        capture_output=True, text=True, check=False, timeout=60,
        env={"PATH": "/usr/bin:/bin", "PORTWATCH_CONFIG": str(tmp_path / "none.toml")},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "\x1b" not in result.stdout
    assert "\\x1b[2KThermo" in result.stdout
