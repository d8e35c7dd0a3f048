"""Every time shown to a person is on the patient's clock, its zone named (README, docs).

The rule writes its decision summaries in UTC (it knows no zone); the views word
decisions themselves, but fall back to that summary for a decision without the readings
its sentence needs. Here the log holds such a decision as well, the patient lives in
Berlin and the machine's own clock is set to Los Angeles: no page and no command may
show a time in UTC or on the machine's clock.
"""

from __future__ import annotations

import argparse
import base64
import re
import time
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import ModuleType
from zoneinfo import ZoneInfo

import pytest

from portwatch.cli.commands import add, alerts, config, log, pause, status
from portwatch.log.store import Store
from portwatch.model import Decision, DecisionType, derived_id
from portwatch.sim.scenario import COURSE
from portwatch.web.source import ClinicTarget, StorePages, delivery
from portwatch.web.text import decision_line, local_summary
from portwatch.web.view import fmt_time

from .courses import DEVICE, PATIENT, PLACEMENT
from .phone_data import ZONE, display, write_phone_log
from .test_commands import SETTINGS

# A time with its zone named, as the views write it: "Fri 06 Mar 14:45 CET".
NAMED = re.compile(r"\b\d\d:\d\d(?::\d\d)? (CET|CEST)\b")


@pytest.fixture
def machine_in_los_angeles(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The machine's own zone is neither the patient's nor UTC."""
    monkeypatch.setenv("TZ", "America/Los_Angeles")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def _stripped(decision: Decision) -> Decision:
    """`decision` as an older log holds it: the rule's UTC summary, no readings cited."""
    return replace(decision, id=derived_id("stripped", str(decision.id)), observations=())


@pytest.fixture
def log_now(tmp_path: Path) -> tuple[Path, datetime]:
    db = tmp_path / "state" / "portwatch.db"
    now = write_phone_log(db, COURSE)
    with Store.open(db) as store:
        kept = [
            d
            for d in store.decisions(PLACEMENT, now)
            if d.type in (DecisionType.ELEVATED_FIRST, DecisionType.FEVER_CONFIRMED)
        ]
        assert all(" UTC" in d.summary for d in kept)
        store.record_decisions([_stripped(d) for d in kept], [])
    return db, now


def test_no_page_shows_a_time_in_utc_when_the_patient_lives_in_berlin(
    log_now: tuple[Path, datetime], target: ClinicTarget
) -> None:
    db, now = log_now
    pages = StorePages(db, display(), target)
    try:
        shown = {
            "now": pages.now(now),
            "chart": pages.chart(now, None),
            "chart day 4": pages.chart(now, 4),
            "log": pages.log(now, None, True),
            "log day 4": pages.log(now, 4, True),
            "alerts": pages.alerts(now),
            "summary": pages.summary(now),
        }
    finally:
        pages.close()
    for name, page in shown.items():
        assert "UTC" not in page, (name, page[page.find("UTC") - 80 : page.find("UTC") + 20])
        assert NAMED.search(page), name
    # The decisions without readings are there, on the patient's clock.
    assert "Fever confirmed: " in shown["log day 4"]


def test_rule_summary_put_on_the_patients_clock_when_no_readings_cited() -> None:
    decided = datetime(2026, 11, 20, 0, 5, tzinfo=UTC)
    confirmed = Decision(
        derived_id("t", "1"),
        DecisionType.FEVER_CONFIRMED,
        decided,
        "Fever confirmed: 101.3 °F at 19:40 and 101.8 °F at 23:50 UTC, 4 h 10 min apart.",
    )
    assert decision_line(confirmed, ZONE) == (
        "Fever confirmed: 101.3 °F at Thu 19 Nov 20:40 CET and 101.8 °F at "
        "Fri 20 Nov 00:50 CET, 4 h 10 min apart."
    )
    invalid = Decision(
        derived_id("t", "2"),
        DecisionType.READING_INVALID,
        decided,
        "Reading from 00:11:22:33:44:55 at 23:50 UTC not used: out of range.",
    )
    assert decision_line(invalid, ZONE) == (
        "Reading from 00:11:22:33:44:55 at Fri 20 Nov 00:50 CET not used: out of range."
    )
    # A patient in UTC keeps the name of the zone; a dated time is of its own day.
    assert local_summary(
        "Fever resolved: nothing elevated since 101.3 °F at 08:15 on 31 Dec, 1 d 2 h before; "
        "98.6 °F at 10:15 on 01 Jan UTC was normal.",
        datetime(2027, 1, 1, 10, 20, tzinfo=UTC),
        UTC,
    ) == (
        "Fever resolved: nothing elevated since 101.3 °F at Thu 31 Dec 08:15 UTC, 1 d 2 h "
        "before; 98.6 °F at Fri 01 Jan 10:15 UTC was normal."
    )
    # Sentences already worded for a person are left alone.
    worded = "Elevated: 38.6 °C at Fri 20 Nov 09:15 UTC; recheck due at Fri 20 Nov 13:15 UTC."
    assert local_summary(worded, decided, UTC) == worded


@pytest.fixture
def settings_file(log_now: tuple[Path, datetime], tmp_path: Path) -> Path:
    db, _ = log_now
    secret = tmp_path / "clinic.secret"
    secret.write_text("whsec_" + base64.b64encode(b"k" * 32).decode())
    secret.chmod(0o600)
    text = SETTINGS.format(
        patient=PATIENT, placement=PLACEMENT.isoformat(), secret=secret, state=db.parent
    ).replace("AA:BB:CC:DD:EE:FF", DEVICE)
    path = tmp_path / "portwatch.toml"
    path.write_text(text)
    return path


def _run(module: ModuleType, *argv: str) -> int:
    parser = argparse.ArgumentParser()
    module.add_arguments(parser)
    code: int = module.run(parser.parse_args(list(argv)))
    return code


@pytest.mark.usefixtures("machine_in_los_angeles")
def test_commands_show_times_on_the_patients_clock_not_the_machines_nor_utc(
    settings_file: Path, log_now: tuple[Path, datetime], capsys: pytest.CaptureFixture[str]
) -> None:
    db, now = log_now
    berlin = ZoneInfo("Europe/Berlin")
    with Store.open_reader(db) as store:
        told = delivery(store.outbox_all(), now)
    assert told.clinic_last_reached is not None
    outputs: dict[str, str] = {}
    for name, module, argv in (
        ("alerts list", alerts, ["list", "--config", str(settings_file)]),
        ("status", status, ["--config", str(settings_file)]),
        ("log", log, ["--config", str(settings_file), "--since", "2026-03-05", "--events"]),
        ("config check", config, ["check", "--config", str(settings_file)]),
        ("add", add, ["38.1C", "--config", str(settings_file)]),
        ("pause", pause, ["30m", "--reason", "shower", "--config", str(settings_file)]),
    ):
        code = _run(module, *argv)
        captured = capsys.readouterr()
        outputs[name] = captured.out + captured.err
        assert code == 0, (name, outputs[name])
    reached = fmt_time(told.clinic_last_reached, berlin)
    assert f"clinic last reached at {reached}" in outputs["alerts list"]
    # The settings set up no notification address: the notices say so, row by row and in all.
    listed = outputs["alerts list"]
    assert listed.count("not sent: no address set up") == 3
    assert "3 notices to the caregiver or patient not sent: no notification address" in listed
    with Store.open_reader(db) as store:
        added = store.latest_reading()
        pauses = store.notes(PLACEMENT, PLACEMENT + timedelta(days=3650))
    assert added is not None
    assert f"at {fmt_time(added.reading.time, berlin)} as reading" in outputs["add"]
    until = pauses[-1].end.astimezone(berlin)
    assert f"Paused until {fmt_time(until, berlin)} (shower)" in outputs["pause"]
    for name, out in outputs.items():
        assert "UTC" not in out, (name, out)
        assert not re.search(r"\b(PST|PDT)\b|[-+]0[78]:00", out), (name, out)
        if name != "config check":
            assert NAMED.search(out) or "CET" in out or "CEST" in out, (name, out)
