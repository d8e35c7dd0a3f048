"""The spot thermometer's course for the power-loss campaign (issue 10, recheck reminders).

``portwatch.sim.scenario.SPOT_TWO_FEVERS`` is the two-fever course read by a patient with an
HTS spot thermometer a few times a day and at each recheck; ``python -m portwatch.sim.run
--scenario spot-two-fevers`` plays it with the virtual spot thermometer. These tests check that the
data fits the rule (each fever gets a recheck reminder, the recheck reading follows it) and
the seams the campaign uses: the restarted thermometer's memory, the journal's ticks and
the recheck reminders' deadline.
"""

from __future__ import annotations

import asyncio
import os
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from portwatch.ble import hts
from portwatch.clock import VirtualClock
from portwatch.fever.rule import FeverRule, RuleSettings
from portwatch.model import DecisionType, Reading, ReadingKind, Unit
from portwatch.sim.course_radio import play_spot_readings
from portwatch.sim.radio import VirtualSpotThermometer
from portwatch.sim.run import journal_ticks
from portwatch.sim.scenario import (
    COURSES,
    DEFAULT_PLACEMENT,
    RECHECK_SPOT_READINGS,
    SPOT_TWO_FEVERS,
    Thermometer,
    core_celsius,
)

from .test_powerloss_seams import _powerloss

DAY_4_SEVENTEEN = DEFAULT_PLACEMENT + timedelta(days=3, hours=9)  # day 4, 17:00 UTC


def _decisions_of_the_course() -> list[tuple[DecisionType, datetime]]:
    rule = FeverRule(
        RuleSettings(), patient="Patient/spot", placement=DEFAULT_PLACEMENT, pinned_device=None
    )
    decided = []
    for offset in SPOT_TWO_FEVERS.spot_readings:
        when = DEFAULT_PLACEMENT + offset
        decided.extend(rule.advance(when))
        celsius = core_celsius(DEFAULT_PLACEMENT, when, SPOT_TWO_FEVERS.fevers)
        value = Decimal(f"{celsius:.2f}")
        reading = Reading(
            device="D0:00:00:00:00:02", kind=ReadingKind.SPOT, value=value, unit=Unit.CELSIUS,
            celsius=float(value), time=when, received_at=when,
        )  # fmt: skip
        decided.extend(rule.feed(reading, now=when))
    decided.extend(rule.advance(DEFAULT_PLACEMENT + SPOT_TWO_FEVERS.length))
    return [(d.type, d.due or d.time) for d in decided]


def test_spot_course_gets_a_recheck_reminder_before_each_recheck_reading_when_played_whole() -> (
    None
):
    """The campaign's recheck counts mean something only if the course makes reminders."""
    decided = _decisions_of_the_course()
    dues = [at for kind, at in decided if kind is DecisionType.RECHECK_DUE]
    assert dues == [DEFAULT_PLACEMENT + r - timedelta(minutes=10) for r in RECHECK_SPOT_READINGS]
    assert [kind for kind, _ in decided].count(DecisionType.FEVER_CONFIRMED) == 2
    assert [kind for kind, _ in decided].count(DecisionType.FEVER_RESOLVED) == 2
    assert COURSES["spot-two-fevers"].thermometer is Thermometer.SPOT
    assert COURSES["two-fevers"].thermometer is Thermometer.CORE


async def test_spot_thermometer_holds_readings_when_taken_while_the_gateway_was_down() -> None:
    """A reading taken while the daemon was down reaches the restart, as a real one's would."""
    clock = VirtualClock(DAY_4_SEVENTEEN + timedelta(minutes=30))  # down since 13:00
    thermometer = VirtualSpotThermometer(
        clock, store_measurements=True, temperature_at=lambda _when: 38.7
    )
    since = DAY_4_SEVENTEEN - timedelta(hours=4)  # the log's latest: the 13:00 reading
    play = play_spot_readings(clock, thermometer, SPOT_TWO_FEVERS, DEFAULT_PLACEMENT, since)
    task = asyncio.create_task(play)
    await clock.advance(3600)  # to 18:30: the 18:00 reading is taken (nobody subscribed)
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    stamps = [hts.decode_measurement(data).timestamp for data in thermometer.stored]
    expected = [DAY_4_SEVENTEEN + timedelta(minutes=10), DAY_4_SEVENTEEN + timedelta(hours=1)]
    assert stamps == [when.replace(tzinfo=None) for when in expected]


async def test_journal_ticks_tell_simulated_time_each_minute_when_no_reading_arrives(
    tmp_path: Path,
) -> None:
    """Between a spot thermometer's hours-apart readings the campaign times its kills by these."""
    path = tmp_path / "journal"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    clock = VirtualClock(DAY_4_SEVENTEEN)
    task = asyncio.create_task(journal_ticks(fd, clock, clock))
    try:
        await clock.advance(180)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        os.close(fd)
    journal = _powerloss().Journal(path)
    assert journal.poll() == DAY_4_SEVENTEEN + timedelta(minutes=3)
    assert journal.entries == []  # ticks are not readings: none counts as lost


def test_recheck_deadline_allows_the_restart_when_the_daemon_was_down_at_the_due_time() -> None:
    """Late means later than the daemon could have sent it: at due if up, else at restart."""
    campaign = _powerloss()
    due = DAY_4_SEVENTEEN
    tolerance = campaign.LATE_TOLERANCE
    up_across = ([due - timedelta(hours=1)], [due + timedelta(hours=1)])
    assert campaign.recheck_deadline(due, *up_across) == due + tolerance
    restart = due + timedelta(minutes=30)
    down_across = (
        [due - timedelta(hours=1), restart],
        [due - timedelta(minutes=10), due + timedelta(hours=2)],
    )
    assert campaign.recheck_deadline(due, *down_across) == restart + tolerance
    killed_at_due = ([due - timedelta(hours=1), restart], [due, due + timedelta(hours=2)])
    assert campaign.recheck_deadline(due, *killed_at_due) == restart + tolerance
    assert datetime(2026, 3, 5, 17, tzinfo=UTC) == due
