"""`portwatch export` over a real log, as its own process (issues 18 and 20).

Everything in the log by default (it meant the last 100 days); the values with the digits
the alerts carry (38.30, not 38.3); a window's median with no more digits than its device
sends.
"""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from portwatch.log.store import Store
from portwatch.model import Reading, ReadingKind, Unit

THERMOMETER = "A4:C1:38:00:11:22"
LONG_AGO = datetime(2025, 3, 2, 8, 0, tzinfo=UTC)  # far more than 100 days before any run


def reading(at: datetime, value: str, kind: ReadingKind = ReadingKind.SPOT) -> Reading:
    return Reading(
        device=THERMOMETER,
        kind=kind,
        value=Decimal(value),
        unit=Unit.CELSIUS,
        celsius=float(value),
        time=at,
        received_at=at,
        interval_s=60.0 if kind is ReadingKind.STREAM else None,
    )


def export(tmp_path: Path, db: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "portwatch", "export", "--db", str(db), *argv],
        capture_output=True,
        text=True,
        check=False,
        env={"PATH": "/usr/bin:/bin", "PORTWATCH_CONFIG": str(tmp_path / "none.toml")},
        timeout=60,
    )


def test_export_csv_holds_everything_in_the_log_when_no_since_is_given(tmp_path: Path) -> None:
    """A log of March exported in December printed "0 readings" (issue 18)."""
    db = tmp_path / "portwatch.db"
    with Store.open(db) as store:
        store.add_readings([reading(LONG_AGO, "38.30"), reading(LONG_AGO + timedelta(1), "37.00")])
    result = export(tmp_path, db)
    assert result.returncode == 0, result.stderr
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert [r["temperature"] for r in rows] == ["38.30", "37.00"]
    assert "2 readings" in result.stderr


def test_export_fhir_keeps_the_devices_digits_and_rounds_a_median_to_them(tmp_path: Path) -> None:
    """38.30 stays 38.30 as in the alerts; a median of 38.25 and 38.30 is 38.28, not 38.275."""
    db = tmp_path / "portwatch.db"
    window = LONG_AGO + timedelta(hours=2)  # an epoch-aligned 5-minute window
    stream = [
        reading(window + timedelta(minutes=m), v, ReadingKind.STREAM)
        for m, v in enumerate(("38.25", "38.30", "38.25", "38.30"))
    ]
    with Store.open(db) as store:
        store.add_readings([reading(LONG_AGO, "38.30"), *stream])
    result = export(
        tmp_path,
        db,
        "--format",
        "fhir",
        "--patient",
        "Patient/1",
        "--clinic",
        "Organization/c-1",
        "--thermometer",
        THERMOMETER,
        "--since",
        (LONG_AGO - timedelta(days=1)).isoformat(),
    )
    assert result.returncode == 0, result.stderr
    values = [
        e["resource"]["valueQuantity"]["value"]
        for e in json.loads(result.stdout, parse_float=Decimal)["entry"]
        if e["resource"]["resourceType"] == "Observation"
    ]
    assert [str(v) for v in values] == ["38.30", "38.28"]
