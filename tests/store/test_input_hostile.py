"""Issue 21 and fever-rule.md §8: what a person types or a file holds, through the commands
as a person runs them (each `portwatch` its own process).

Unreadable input is one line and exit status 2, never a traceback, and nothing is stored;
a readable but implausible CSV row is kept as invalid with its reason; a row without a
device is a manual reading that counts.
"""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from portwatch.clock import SystemClock
from portwatch.fever.rule import FeverRule, RuleSettings
from portwatch.log.store import Store
from portwatch.model import MANUAL_DEVICE, DecisionType, Reading

HEADER = "time,temperature,unit,kind"
EPOCH = datetime(1, 1, 2, tzinfo=UTC)
FAR = datetime(9999, 1, 1, tzinfo=UTC)
PLACED = SystemClock().now() - timedelta(days=2)  # the commands run on the real clock
SETTINGS = f"""
[patient]
reference = "Patient/1"
placement = {PLACED.isoformat(timespec="seconds")}
[clinic]
url = "https://clinic.test/alerts"
recipient = "Organization/clinic-1"
"""


def portwatch(
    tmp_path: Path, *argv: str, credentials: bool = True
) -> subprocess.CompletedProcess[str]:
    folder = tmp_path / "credentials"
    folder.mkdir(exist_ok=True)
    (folder / "clinic-secret").write_text("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\n")
    (folder / "clinic-secret").chmod(0o600)
    env = {"PATH": "/usr/bin:/bin", "PORTWATCH_CONFIG": str(tmp_path / "none.toml")}
    if credentials:
        env["CREDENTIALS_DIRECTORY"] = str(folder)
    return subprocess.run(
        [sys.executable, "-m", "portwatch", *argv],
        capture_output=True,
        text=True,
        check=False,
        env=env,
        timeout=60,
    )


def refused(result: subprocess.CompletedProcess[str], says: str) -> None:
    assert result.returncode == 2, (result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, lines
    assert "Traceback" not in result.stderr
    assert says in lines[0], lines[0]


def stored(db: Path) -> list[Reading]:
    with Store.open(db) as store:
        return [s.reading for s in store.readings(EPOCH, FAR)]


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        pytest.param(["1E9999999F"], "not a temperature", id="decimal overflow"),
        pytest.param(
            ["38.0C", "--at", "0001-01-01T00:00:00+05:00"], "out of range", id="time overflow"
        ),
        pytest.param(["101F", "--at", "0001-01-01"], "before any placement", id="year 1"),
        pytest.param(["38,5C"], "decimal point as a point: 38.5C", id="decimal comma"),
        pytest.param(["120F"], "impossible for a person", id="outside 25-47"),
    ],
)
def test_add_refuses_in_one_line_with_status_2(tmp_path: Path, argv: list[str], says: str) -> None:
    """These were tracebacks (decimal.Overflow, OverflowError) or accepted (year 1)."""
    db = tmp_path / "portwatch.db"
    refused(portwatch(tmp_path, "add", *argv, "--db", str(db)), says)
    assert not db.exists()


def test_add_refuses_a_time_before_the_placement_less_a_day(tmp_path: Path) -> None:
    """fever-rule.md §1: such a reading is invalid; typed by hand it is a typing error."""
    config = tmp_path / "portwatch.toml"
    config.write_text(SETTINGS)
    db = tmp_path / "portwatch.db"
    early = (PLACED - timedelta(days=1, minutes=1)).isoformat()
    result = portwatch(
        tmp_path, "add", "101F", "--at", early, "--config", str(config), "--db", str(db)
    )
    refused(result, "before the placement")
    assert not db.exists()
    fine = (PLACED - timedelta(hours=23)).isoformat()
    result = portwatch(
        tmp_path, "add", "101F", "--at", fine, "--config", str(config), "--db", str(db)
    )
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize(
    ("content", "says"),
    [
        pytest.param(
            f"{HEADER}\n2026-11-04T07:00:00Z,1E9999999,C,spot\n".encode(),
            "line 2: temperature '1E9999999' is not a temperature",
            id="decimal overflow",
        ),
        pytest.param(
            f"{HEADER}\n2026-11-04T07:00:00Z,37.0,C,spot\n0001-01-01T00:00:00+05:00,37,C,spot\n".encode(),
            "line 3: time '0001-01-01T00:00:00+05:00' is out of range",
            id="time overflow",
        ),
        pytest.param(
            f"{HEADER},device\n2026-11-04T07:00:00Z,37.0,C,spot,Jos\xe9\n".encode("latin-1"),
            "line 2: not UTF-8 text",
            id="latin-1",
        ),
        pytest.param(
            f"{HEADER}\n2026-11-04T07:00:00Z,37.0,C,sp\x1b[2Kot\n".encode(),
            "line 2: kind",
            id="escape in a cell",
        ),
    ],
)
def test_import_refuses_an_unreadable_file_in_one_line_and_stores_nothing(
    tmp_path: Path, content: bytes, says: str
) -> None:
    """Each was a traceback (or an escape sequence printed raw); nothing may be half-stored."""
    csv = tmp_path / "in\x1b[1A.csv"
    csv.write_bytes(content)
    db = tmp_path / "portwatch.db"
    result = portwatch(tmp_path, "import", str(csv), "--db", str(db))
    refused(result, says)
    assert "\x1b" not in result.stderr
    assert "nothing was imported" in result.stderr
    assert not db.exists()


def test_import_keeps_implausible_rows_as_invalid_and_counts_manual_ones(tmp_path: Path) -> None:
    """§8: a fever typed into a file without a device alerts; a row at 101.2 °C (a unit
    mix-up), one in the future and one before the placement are kept, each with its reason."""
    config = tmp_path / "portwatch.toml"
    config.write_text(SETTINGS)
    first, second = PLACED + timedelta(hours=1), PLACED + timedelta(hours=6)
    future = SystemClock().now() + timedelta(hours=1)
    csv = tmp_path / "typed.csv"
    csv.write_text(
        f"{HEADER}\n{first.isoformat()},101.5,F,spot\n{second.isoformat()},101.6,F,spot\n"
        f"{first.isoformat()},101.2,C,spot\n{future.isoformat()},37.0,C,spot\n"
        f"{(PLACED - timedelta(days=2)).isoformat()},37.0,C,spot\n"
    )
    db = tmp_path / "portwatch.db"
    result = portwatch(tmp_path, "import", str(csv), "--config", str(config), "--db", str(db))
    assert result.returncode == 0, result.stderr
    assert "imported 5 new readings" in result.stdout
    readings = stored(db)
    reasons = sorted(r.invalid_reason for r in readings if r.invalid_reason is not None)
    assert len(reasons) == 3
    assert "101.20 °C is outside 30.0-45.0 °C" in reasons[0]
    assert "before the placement less one day" in reasons[1]
    assert "ahead of the receiving clock" in reasons[2]
    assert {r.device for r in readings} == {MANUAL_DEVICE}
    rule = FeverRule(
        RuleSettings(), patient="Patient/1", placement=PLACED, pinned_device="A4:C1:38:00:11:22"
    )
    decisions = [d for r in readings if r.invalid_reason is None for d in rule.feed(r, now=second)]
    assert DecisionType.FEVER_CONFIRMED in {d.type for d in decisions}


def test_import_stores_each_raw_line_on_its_own_row_when_a_cell_holds_u2028(
    tmp_path: Path,
) -> None:
    """str.splitlines took U+2028 for a line end: every later row got the line before it."""
    rows = [
        "2026-11-04T07:00:00Z,37.0,C,spot,a\u2028b",
        "2026-11-04T07:01:00Z,37.1,C,spot,c",
        "2026-11-04T07:02:00Z,37.2,C,spot,d",
    ]
    csv = tmp_path / "sep.csv"
    csv.write_text(f"{HEADER},device\n" + "\n".join(rows) + "\n", encoding="utf-8")
    db = tmp_path / "portwatch.db"
    assert portwatch(tmp_path, "import", str(csv), "--db", str(db)).returncode == 0
    assert [r.raw.decode() for r in stored(db)] == rows


def test_replay_keeps_an_implausible_row_as_reading_invalid_and_refuses_only_unreadable(
    tmp_path: Path,
) -> None:
    """Issue 17 / §8: replay refused the whole file for one reading outside 25-47 °C."""
    csv = tmp_path / "replay.csv"
    csv.write_text(
        f"{HEADER}\n2026-11-04T07:00:00Z,37.0,C,spot\n2026-11-04T08:00:00Z,99.0,C,spot\n"
    )
    result = portwatch(tmp_path, "replay", str(csv))
    assert result.returncode == 0, result.stderr
    assert '"reading.invalid"' in result.stdout
    csv.write_text(f"{HEADER}\n2026-11-04T07:00:00Z,37.0,C,spot\n2026-11-04T08:00:00Z,hot,C,spot\n")
    refused(portwatch(tmp_path, "replay", str(csv)), "line 3: temperature 'hot' is not a number")


def test_add_and_import_read_the_settings_without_the_clinic_secret(tmp_path: Path) -> None:
    """`sudo -u portwatch portwatch add` has no systemd credentials: the placement and the
    log's place are all it needs from the settings, never the secret only the service gets."""
    config = tmp_path / "portwatch.toml"
    config.write_text(SETTINGS + f'[store]\nstate_directory = "{tmp_path / "state"}"\n')
    result = portwatch(tmp_path, "add", "37.2C", "--config", str(config), credentials=False)
    assert result.returncode == 0, result.stderr
    csv = tmp_path / "one.csv"
    csv.write_text(f"{HEADER}\n{(PLACED + timedelta(hours=1)).isoformat()},37.0,C,spot\n")
    result = portwatch(tmp_path, "import", str(csv), "--config", str(config), credentials=False)
    assert result.returncode == 0, result.stderr
    assert len(stored(tmp_path / "state" / "portwatch.db")) == 2


@pytest.mark.parametrize("name", ["missing.csv", "."])
def test_import_refuses_a_file_it_cannot_read_in_one_line_with_status_2(
    tmp_path: Path, name: str
) -> None:
    """A mistyped name or a directory is input that cannot be read: status 2, one line."""
    db = tmp_path / "portwatch.db"
    result = portwatch(tmp_path, "import", str(tmp_path / name), "--db", str(db))
    refused(result, "portwatch import: cannot read")
    assert not db.exists()
