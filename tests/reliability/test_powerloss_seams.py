"""The seams the power-loss campaign drives `portwatch run`'s daemon through (issue 10).

``python -m portwatch.sim.run`` (the test entry point): ``--scenario`` picks the course the
virtual wearable plays (``portwatch.sim.scenario.COURSES``); ``--received-journal`` appends
each received reading to a file with one ``os.write``.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from types import ModuleType

from portwatch.clock import VirtualClock
from portwatch.model import Reading, ReadingKind, Unit
from portwatch.sim.run import journal_hook
from portwatch.sim.scenario import (
    COURSE,
    COURSES,
    DEFAULT_PLACEMENT,
    FEVER,
    FEVER_PLATEAU_C,
    SECOND_FEVER,
    TWO_FEVERS,
    core_celsius,
)

from .conftest import BENCHMARKS


def test_core_celsius_plays_the_second_fever_when_given_the_two_fever_course() -> None:
    """The campaign's course must really have a day-7 fever, and the demo's must not."""
    during = DEFAULT_PLACEMENT + SECOND_FEVER.plateau + timedelta(hours=1)
    assert core_celsius(DEFAULT_PLACEMENT, during, TWO_FEVERS.fevers) == FEVER_PLATEAU_C
    assert core_celsius(DEFAULT_PLACEMENT, during, COURSE.fevers) < 37.5
    assert core_celsius(DEFAULT_PLACEMENT, during) == core_celsius(
        DEFAULT_PLACEMENT, during, COURSE.fevers
    )


def test_core_celsius_keeps_the_demos_fever_when_the_second_is_added() -> None:
    """Fevers as data: adding one must not move the other (the demo's story is unchanged)."""
    for minutes in range(0, 26 * 60, 7):
        when = DEFAULT_PLACEMENT + FEVER.rise_start + timedelta(minutes=minutes)
        assert core_celsius(DEFAULT_PLACEMENT, when, TWO_FEVERS.fevers) == core_celsius(
            DEFAULT_PLACEMENT, when
        )
    assert set(COURSES) == {"demo", "two-fevers", "spot-two-fevers"}


def test_run_exits_2_naming_the_scenario_when_it_is_unknown(tmp_path: Path) -> None:
    """A typo in a test's course must not silently play the demo's course instead."""
    done = subprocess.run(
        [sys.executable, "-m", "portwatch.sim.run", "--scenario", "three-fevers",
         "--virtual-clock", DEFAULT_PLACEMENT.isoformat(),
         "--config", str(tmp_path / "absent.toml")],
        capture_output=True, text=True, check=False, timeout=60,
    )  # fmt: skip
    assert done.returncode == 2
    assert "three-fevers" in done.stderr
    assert "two-fevers" in done.stderr


def test_journal_hook_appends_one_line_per_reading_when_readings_arrive(tmp_path: Path) -> None:
    """The campaign counts lost readings from these lines: time and monotonic, one each."""
    path = tmp_path / "journal"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    clock = VirtualClock(datetime(2026, 3, 2, tzinfo=UTC))
    write = journal_hook(fd, clock)
    times = [datetime(2026, 3, 2, 8, minute, tzinfo=UTC) for minute in (1, 2)]
    try:
        for when in times:
            write(
                Reading(
                    device="D0:00:00:00:00:01",
                    kind=ReadingKind.STREAM,
                    value=Decimal("36.91"),
                    unit=Unit.CELSIUS,
                    celsius=36.91,
                    time=when,
                    received_at=when,
                )
            )
    finally:
        os.close(fd)
    lines = path.read_text().splitlines()
    assert [datetime.fromisoformat(line.split()[0]) for line in lines] == times
    assert [float(line.split()[1]) for line in lines] == [0.0, 0.0]


def _powerloss() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "portwatch_campaign_powerloss_seams", BENCHMARKS / "campaign_powerloss.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_powerloss_count_flags_a_reading_when_it_was_received_over_a_second_before_the_kill() -> (
    None
):
    """The campaign's zero must mean something: a reading missing beyond the window counts."""
    campaign = _powerloss()
    t = [datetime(2026, 3, 8, 8, minute, tzinfo=UTC) for minute in range(5)]
    entries = [(t[0], 10.0, 0), (t[1], 19.5, 0), (t[2], 30.0, 1), (t[3], 40.0, 2)]
    kills = {0: 20.0, 1: 35.0}  # run 2 is the last, stopped by SIGTERM
    assert campaign.count_lost(entries, kills, 2, set(t)) == 0
    # Inside the 1-s window before the kill: allowed to be lost.
    assert campaign.count_lost(entries, kills, 2, {t[0], t[2], t[3]}) == 0
    # Received 10 s before its run was killed, and received by the last run: lost.
    assert campaign.count_lost(entries, kills, 2, {t[1], t[2], t[3]}) == 1
    assert campaign.count_lost(entries, kills, 2, {t[0], t[1], t[2]}) == 1
