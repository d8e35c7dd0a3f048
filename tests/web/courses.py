"""Ten-day courses written into a real log, for the visit summary's print tests.

Two patients: the demo's (sim.scenario.COURSE: the CORE wearable every 60 s, a shower,
a link drop, a fever on day 4, a symptom report, and a heartbeat every 15 min all ten
days, the 960 rows that once made the summary 44 pages), and the spot thermometer's
(SPOT_TWO_FEVERS: four readings a day and one at each recheck, two fevers). Decisions are
the real fever rule's; each clinic decision queues its real clinic alert, as the daemon
would. Writing the log directly takes seconds; playing the demo takes minutes.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, tzinfo
from decimal import Decimal
from pathlib import Path

from portwatch.alerts.outbound import CLINIC_DECISIONS
from portwatch.alerts.outbox import clinic_entry
from portwatch.alerts.payloads import (
    AlertContext,
    ClinicFormat,
    GatewayState,
    Thermometer,
    fever_alert,
    heartbeat_alert,
)
from portwatch.fever.rule import FeverRule, RuleSettings
from portwatch.log.store import OutboxEntry, Store
from portwatch.model import Decision, Reading, ReadingKind, Symptom, Unit
from portwatch.sim.scenario import (
    COURSE,
    DEFAULT_PLACEMENT,
    MEASUREMENT_INTERVAL_S,
    SPOT_TWO_FEVERS,
    WEARABLE_AWAY,
    Course,
    core_celsius,
)
from portwatch.sim.scenario import (
    Thermometer as Kind,
)

PLACEMENT = DEFAULT_PLACEMENT
DEVICE = "C0:FF:EE:00:00:01"
PATIENT = "Patient/course-1"
HEARTBEAT = timedelta(minutes=15)


def _reading(when: datetime, celsius: float, kind: ReadingKind) -> Reading:
    digits = "0.1" if kind is ReadingKind.SPOT else "0.01"
    value = Decimal(str(celsius)).quantize(Decimal(digits))
    return Reading(
        device=DEVICE,
        kind=kind,
        value=value,
        unit=Unit.CELSIUS,
        celsius=float(value),
        time=when,
        received_at=when,
        interval_s=MEASUREMENT_INTERVAL_S if kind is ReadingKind.STREAM else None,
    )


def course_readings(course: Course) -> list[Reading]:
    """The course's readings: its spot readings, or the wearable's stream with its absences."""
    if course.thermometer is Kind.SPOT:
        times = [PLACEMENT + offset for offset in course.spot_readings if offset < course.length]
        kind = ReadingKind.SPOT
    else:
        away = [
            (PLACEMENT + h.at, PLACEMENT + h.at + h.duration)
            for h in course.happenings
            if h.kind in WEARABLE_AWAY
        ]
        step = timedelta(seconds=MEASUREMENT_INTERVAL_S)
        count = int(course.length / step)
        times = [
            t
            for t in (PLACEMENT + step * i for i in range(count))
            if not any(a <= t < b for a, b in away)
        ]
        kind = ReadingKind.STREAM
    return [_reading(t, core_celsius(PLACEMENT, t, course.fevers), kind) for t in times]


def _heartbeats(context: AlertContext, end: datetime) -> list[OutboxEntry]:
    state = GatewayState(started_at=PLACEMENT, thermometer_connected=True)
    count = int((end - PLACEMENT) / HEARTBEAT)
    return [
        clinic_entry(
            heartbeat_alert(context, state, PLACEMENT + HEARTBEAT * i),
            context,
            ClinicFormat.JSON,
            PLACEMENT + HEARTBEAT * i,
        )
        for i in range(1, count)
    ]


def write_course(
    path: Path, course: Course = COURSE, zone: tzinfo = UTC, unit: Unit = Unit.FAHRENHEIT
) -> datetime:
    """The course's log at `path`; returns the moment it ends (the summary's "now").

    `zone` and `unit` are the patient's: the clinic alerts' one-line summaries use them."""
    rule = FeverRule(RuleSettings(), patient=PATIENT, placement=PLACEMENT, pinned_device=DEVICE)
    context = AlertContext(
        PATIENT,
        "Organization/clinic-1",
        "gw-test",
        "0.1.0",
        Thermometer(DEVICE),
        zone=zone,
        unit=unit,
    )
    readings = course_readings(course)
    decisions: list[Decision] = []
    for reading in readings:
        decisions += rule.feed(reading, now=reading.time)
    end = PLACEMENT + course.length
    decisions += rule.advance(end)
    entries: list[OutboxEntry] = [
        clinic_entry(fever_alert(d, context), context, ClinicFormat.JSON, d.time)
        for d in decisions
        if d.type in CLINIC_DECISIONS
    ]
    beats = _heartbeats(context, end) if course.thermometer is Kind.CORE else []
    with Store.open(path) as store:
        store.add_readings(readings)
        store.record_decisions(decisions, entries)
        store.enqueue(beats)
        for entry in [*entries, *beats]:
            store.outbox_mark_delivered(entry.id, entry.created_at + timedelta(seconds=1), 200)
        store.add_symptom_report(PLACEMENT + timedelta(days=4, hours=2), [Symptom.REDNESS], "")
    return end


SPOT_COURSE = SPOT_TWO_FEVERS
