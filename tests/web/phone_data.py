"""A caregiver's log as a phone shows it: a course of the fever rule (the demo's wearable, or
the spot thermometer's), the notices the daemon queues for it, and what people type.

Built on :mod:`.courses` (the real rule's decisions and clinic alerts). On top: the real
notices of each decision (:class:`~portwatch.alerts.outbound.Outbound`) queued on the
caregiver's channel, never sent (no notification address is set up); a clinic alert the
clinic refused with a long answer; a reading from a second thermometer with a long name;
a long symptom note with an unbroken web address; a pause with a 100-character reason.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Final
from zoneinfo import ZoneInfo

from portwatch.alerts.outbound import Outbound
from portwatch.alerts.outbox import clinic_entry
from portwatch.alerts.payloads import AlertContext, ClinicFormat, Thermometer, symptom_alert
from portwatch.log.store import Store
from portwatch.model import LinkEvent, LinkEventKind, Reading, ReadingKind, Symptom, Unit
from portwatch.sim.scenario import Course
from portwatch.web.view import DisplaySettings

from .courses import DEVICE, PATIENT, PLACEMENT, write_course

ZONE: Final = ZoneInfo("Europe/Berlin")
# A course cut on day 5, 14:00 local: after the first fever, within the period, so that the
# "now" page, the log of the last 24 hours and the alerts all have something to say.
LENGTH: Final = timedelta(days=4, hours=6)
LONG_DEVICE: Final = "GrandmasSpareKitchenEarThermometerWithAVeryLongBluetoothName0123456789"
LONG_NOTE: Final = (
    "Redness spread about two centimetres past the dressing edge since this morning; "
    "photo uploaded to https://example.invalid/portal/patients/4711/photos/"
    "2026-11-21T10:05:00Z-dressing-redness-closeup-left-upper-chest.jpg and the nurse "
    "hotline said to report it here too."
)
LONG_REASON: Final = (
    "shower and then changing the dressing with the district nurse who comes at half past nine"
)[:100]
REFUSED_ANSWER: Final = (
    "HTTP 422: payload rejected by FHIR validation: Bundle.entry[0].resource.subject: "
    "reference Patient/course-1 not found in this organisation's directory"
)


def display() -> DisplaySettings:
    """What the daemon would show: Berlin time, °C, the pinned thermometer, and no
    notification address set up."""
    return DisplaySettings(
        placement=PLACEMENT,
        zone=ZONE,
        unit=Unit.CELSIUS,
        patient=PATIENT,
        thermometer=DEVICE,
        notice_addresses=frozenset(),  # no notification address set up
    )


def write_phone_log(path: Path, course: Course) -> datetime:
    """The log at `path`: `course` cut to :data:`LENGTH`, and the extras; returns "now"."""
    now = write_course(path, replace(course, length=LENGTH), ZONE, Unit.CELSIUS)
    context = AlertContext(
        PATIENT,
        "Organization/clinic-1",
        "gw-test",
        "0.1.0",
        Thermometer(DEVICE),
        zone=ZONE,
        unit=Unit.CELSIUS,
    )
    outbound = Outbound(context, ClinicFormat.JSON, ZONE)
    with Store.open(path) as store:
        decisions = store.decisions(PLACEMENT, now)
        notices = [
            e
            for d in decisions
            for e in outbound.for_decisions([d], d.time)
            if e.channel != "clinic"  # the clinic's are in the log already
        ]
        store.enqueue(notices)
        refused = clinic_entry(
            symptom_alert(context, (Symptom.PAIN, Symptom.OTHER), LONG_NOTE, now),
            context,
            ClinicFormat.JSON,
            now - timedelta(hours=2),
        )
        store.enqueue([refused])
        store.outbox_mark_failed(refused.id, now - timedelta(hours=2), 422, REFUSED_ANSWER)
        store.add_symptom_report(now - timedelta(hours=2), [Symptom.PAIN, Symptom.OTHER], LONG_NOTE)
        spare = Reading(
            device=LONG_DEVICE,
            kind=ReadingKind.SPOT,
            value=Decimal("37.4"),
            unit=Unit.CELSIUS,
            celsius=37.4,
            time=now - timedelta(hours=3),
            received_at=now - timedelta(hours=3),
        )
        store.add_readings([spare])
        store.add_event(
            LinkEvent(
                LinkEventKind.DISCONNECTED,
                DEVICE,
                now - timedelta(hours=5),
                detail="org.bluez.Error.Failed: le-connection-abort-by-local "
                "(connection attempt timed out after 30 s)",
            )
        )
        store.add_event(LinkEvent(LinkEventKind.CONNECTED, DEVICE, now - timedelta(hours=4)))
        store.add_event(
            LinkEvent(LinkEventKind.BATTERY, DEVICE, now - timedelta(hours=4), battery_percent=18)
        )
        store.add_note(now - timedelta(hours=1), now - timedelta(minutes=30), LONG_REASON)
    return now
