"""The terminal commands over a real log: status, log, report, export, summary (issue 8)."""

from __future__ import annotations

import argparse
import base64
import csv
import io
import json
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType

import pytest

from portwatch.cli.commands import export, log, report, status, summary
from portwatch.log.csvio import read_readings
from portwatch.log.store import Store

from .conftest import PATIENT, PLACEMENT


def _run(module: ModuleType, db: Path, *argv: str) -> int:
    parser = argparse.ArgumentParser()
    module.add_arguments(parser)
    args = parser.parse_args(["--db", str(db), "--placement", PLACEMENT.isoformat(), *argv])
    code: int = module.run(args)
    return code


def test_status_prints_fever_and_alerts_when_fever_confirmed(
    db_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`portwatch status` is one screen with the fever and the undelivered alert."""
    assert _run(status, db_path) == 0
    out = capsys.readouterr().out
    assert "CONFIRMED since Thu 19 Nov" in out
    assert "1 alert not yet received by the clinic" in out
    assert "the clinic has NOT received the alert yet" in out


def test_status_json_has_the_keys_scripts_read_when_fever_confirmed(
    db_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Issue 18: `status --json` with day, fever word, last reading, clinic and notices."""
    assert _run(status, db_path, "--json") == 0
    facts = json.loads(capsys.readouterr().out)
    for key in (
        "day",
        "period_days",
        "fever",
        "recheck_due",
        "last_reading",
        "thermometer",
        "clinic_undelivered",
        "notices_waiting",
        "clinic_last_reached",
    ):
        assert key in facts
    assert facts["fever"] == "confirmed"
    assert facts["period_days"] == 10
    assert (facts["day"], facts["period_state"]) == (None, "ended")  # as "Period: ended" says
    assert facts["clinic_undelivered"] == 1
    assert facts["notices_waiting"] == 0
    assert facts["clinic_last_reached"] is None
    reading = facts["last_reading"]
    assert (reading["value"], reading["unit"]) == ("37.2", "C")
    assert reading["time"] == "2026-11-20T05:00:00+00:00"
    assert set(reading) >= {"time", "value", "unit", "age_s"}
    assert facts["thermometer"]["address"] == "AA:BB:CC:DD:EE:FF"


def test_log_marks_elevated_and_interleaves_decisions_when_events_asked(
    db_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Elevated readings carry '!' and decisions sit between the readings in time order."""
    code = _run(
        log, db_path, "--since", "2026-11-19T12:00Z", "--until", "2026-11-19T20:00Z", "--events"
    )
    assert code == 0
    lines = capsys.readouterr().out.splitlines()
    kinds = [line[27:38].strip() for line in lines]  # time (24), mark, then the kind
    assert kinds == ["reading", "decision", "reading", "decision"]
    assert [line[25] for line in lines] == ["!", " ", "!", "!"]


def test_log_draws_chart_in_celsius_when_unit_c(
    db_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`--chart --unit C` draws the threshold as 38.3 °C."""
    assert (
        _run(
            log,
            db_path,
            "--since",
            "2026-11-18T09:00Z",
            "--until",
            "2026-11-20T06:00Z",
            "--chart",
            "--unit",
            "C",
        )
        == 0
    )
    assert "38.3°C ╌" in capsys.readouterr().out


def test_log_fails_with_message_when_since_unreadable(
    db_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A bad time is the user's to fix: say what forms are accepted."""
    assert _run(log, db_path, "--since", "yesterday") == 1
    assert "use ISO 8601" in capsys.readouterr().out


def test_report_queues_urgent_alert_when_symptoms_given(
    db_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`portwatch report` and the form share one path to the clinic."""
    assert (
        _run(report, db_path, "pain", "swelling", "--note", "since noon", "--patient", PATIENT) == 0
    )
    assert "Queued as urgent alert" in capsys.readouterr().out
    with Store.open_reader(db_path) as store:
        rows = [r for r in store.outbox_all() if r.kind == "symptoms.reported"]
    assert [(r.priority, r.channel) for r in rows] == [("urgent", "clinic")]


def test_report_refuses_with_2_when_symptom_unknown(
    db_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """An unknown symptom name lists the known ones and queues nothing."""
    assert _run(report, db_path, "itching", "--patient", PATIENT) == 2
    assert "known: redness, pain" in capsys.readouterr().out


def test_export_writes_import_format_csv_when_readings_logged(
    db_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The CSV has the import header and one row per valid reading, values as reported."""
    out = tmp_path / "readings.csv"
    assert (
        _run(
            export,
            db_path,
            "--since",
            PLACEMENT.isoformat(),
            "--until",
            "2026-11-21T00:00Z",
            "--out",
            str(out),
        )
        == 0
    )
    rows = list(csv.DictReader(io.StringIO(out.read_text())))
    assert list(rows[0]) == ["time", "temperature", "unit", "kind", "device", "site", "interval"]
    assert len(rows) == 24 * 60 - 180 + 3
    assert ("38.5", "C", "spot") in {(r["temperature"], r["unit"], r["kind"]) for r in rows}
    assert out.stat().st_mode & 0o077 == 0
    assert "1263 readings" in capsys.readouterr().err


def test_summary_writes_private_printable_file_when_out_given(
    db_path: Path, tmp_path: Path
) -> None:
    """The summary is health data: written readable by its owner only, with print rules."""
    out = tmp_path / "summary.html"
    assert _run(summary, db_path, "--out", str(out)) == 0
    text = out.read_text()
    assert "@media print" in text
    assert "<h2>Fever episodes</h2>" in text
    assert out.stat().st_mode & 0o077 == 0


def test_export_fhir_writes_collection_of_bodytemp_observations_when_asked(
    db_path: Path, tmp_path: Path
) -> None:
    """The clinic's record as FHIR: one collection Bundle, Devices plus bodytemp Observations."""
    out = tmp_path / "record.json"
    code = _run(
        export,
        db_path,
        "--format",
        "fhir",
        "--patient",
        PATIENT,
        "--since",
        PLACEMENT.isoformat(),
        "--until",
        "2026-11-21T00:00Z",
        "--out",
        str(out),
    )
    assert code == 0
    bundle = json.loads(out.read_text())
    assert bundle["type"] == "collection"
    resources = [e["resource"] for e in bundle["entry"]]
    assert all("request" not in e for e in bundle["entry"])  # a collection, not a transaction
    assert [r["resourceType"] for r in resources[:2]] == ["Device", "Device"]
    observations = [r for r in resources if r["resourceType"] == "Observation"]
    # 21 h of a 1/min stream at 5 samples per window, plus the three spot readings
    assert len(observations) == (24 * 60 - 180) // 5 + 3
    first = observations[0]
    assert first["meta"]["profile"] == ["http://hl7.org/fhir/StructureDefinition/bodytemp"]
    assert first["valueQuantity"]["code"] == "Cel"
    assert {c["code"] for c in first["code"]["coding"]} >= {"8310-5"}
    assert first["subject"]["reference"] == PATIENT


def test_export_csv_reads_back_with_import_parser_when_round_tripped(
    db_path: Path, tmp_path: Path
) -> None:
    """What `portwatch export` writes, `portwatch import` reads back: same times and values."""
    out = tmp_path / "readings.csv"
    until = "2026-11-21T00:00Z"
    assert (
        _run(export, db_path, "--since", PLACEMENT.isoformat(), "--until", until, "--out", str(out))
        == 0
    )
    back = read_readings(out)
    with Store.open_reader(db_path) as store:
        logged = [s.reading for s in store.readings(PLACEMENT, datetime(2026, 11, 21, tzinfo=UTC))]
    assert [(r.time, r.value, r.unit, r.kind, r.device) for r in back] == [
        (r.time, r.value, r.unit, r.kind, r.device) for r in logged
    ]


SETTINGS = """
[patient]
reference = "{patient}"
placement = {placement}
timezone = "Europe/Berlin"
[bluetooth]
address = "AA:BB:CC:DD:EE:FF"
[clinic]
url = "http://127.0.0.1:9/alerts"
recipient = "Organization/clinic-1"
secret_file = "{secret}"
[store]
state_directory = "{state}"
[display]
unit = "C"
"""


def test_status_reads_settings_file_when_one_is_given(
    db_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """With a settings file the commands need no flags: log, unit and reminders come from it."""
    secret = tmp_path / "clinic.secret"
    secret.write_text("whsec_" + base64.b64encode(b"k" * 32).decode())
    secret.chmod(0o600)
    config = tmp_path / "portwatch.toml"
    config.write_text(
        SETTINGS.format(
            patient=PATIENT, placement=PLACEMENT.isoformat(), secret=secret, state=db_path.parent
        )
    )
    parser = argparse.ArgumentParser()
    status.add_arguments(parser)
    assert status.run(parser.parse_args(["--config", str(config)])) == 0
    out = capsys.readouterr().out
    assert "°C" in out
    assert "°F" not in out
    assert "Next reminder" in out
    assert "battery 77 %" in out  # the log was found through [store] state_directory


def test_status_fails_with_setting_named_when_settings_file_invalid(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A broken settings file is reported by name, never ignored for the flags' defaults."""
    config = tmp_path / "portwatch.toml"
    config.write_text('[patient]\nreference = "nobody"\n')
    parser = argparse.ArgumentParser()
    status.add_arguments(parser)
    assert status.run(parser.parse_args(["--config", str(config)])) == 1
    assert "patient." in capsys.readouterr().out
