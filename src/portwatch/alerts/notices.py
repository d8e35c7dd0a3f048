"""What the caregiver and the patient are told: short, plain texts, and when they may be sent.

One table keyed by :class:`NoticeKind` holds every text (a test keeps it complete), with
who receives it, whether it is urgent and its push priority (ntfy's 1-5). Quiet hours
hold back only non-urgent notices (:func:`held_until`). Pure: no clock, no I/O; facts
(times, temperatures) arrive already formatted for a person.
"""

from __future__ import annotations

import string
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from enum import IntEnum, StrEnum
from typing import Final
from zoneinfo import ZoneInfo

from portwatch.alerts.payloads import AlertKind, alert_kind_words
from portwatch.model import Reading, ReadingKind, Unit
from portwatch.service.care import CareReminder
from portwatch.service.watch import StaleSay

__all__ = [
    "NOTICES",
    "Audience",
    "Notice",
    "NoticeError",
    "NoticeKind",
    "Priority",
    "QuietHours",
    "Template",
    "daily_summary",
    "format_temperature",
    "held_until",
    "render",
    "silent_advice",
    "stuck_notice",
]


class NoticeError(ValueError):
    """A notice could not be written: a fact its text needs is missing."""


class Audience(StrEnum):
    """Who reads a notice (alerts.md, "Who is told what")."""

    CAREGIVER = "caregiver"
    PATIENT = "patient"


class Priority(IntEnum):
    """Push priority, as ntfy's Priority header counts it."""

    LOW = 2
    DEFAULT = 3
    HIGH = 4
    URGENT = 5


class NoticeKind(StrEnum):
    """Everything portwatch tells a person; stored in the log, so values never change."""

    ELEVATED_FIRST = "fever.elevated_first"
    RECHECK_REMINDER = "fever.recheck_reminder"
    FEVER_CONFIRMED_PATIENT = "fever.confirmed.patient"
    FEVER_CONFIRMED_CAREGIVER = "fever.confirmed.caregiver"
    FEVER_ONGOING = "fever.ongoing"
    FEVER_RESOLVED = "fever.resolved"
    STALE = StaleSay.STALE.value
    STALE_PENDING = StaleSay.STALE_PENDING.value
    BACK = StaleSay.BACK.value
    ALERT_STUCK = "alert.stuck"
    ALERT_REFUSED = "alert.refused"
    STORAGE_TROUBLE = "storage.trouble"
    CARE_KEEP_DRY = CareReminder.KEEP_DRY.value
    CARE_DRESSING_OFF = CareReminder.DRESSING_OFF.value
    CARE_CHECK_OPENS = CareReminder.CHECK_OPENS.value
    CARE_CHECK_LAST_DAY = CareReminder.CHECK_LAST_DAY.value
    CARE_FLUSH = CareReminder.FLUSH.value
    DAILY_SUMMARY = "summary.daily"


@dataclass(frozen=True, slots=True)
class Template:
    """A notice's text with ``{fact}`` placeholders, its readers and its urgency."""

    audiences: frozenset[Audience]
    urgent: bool
    priority: Priority
    title: str
    body: str

    @property
    def facts(self) -> frozenset[str]:
        """The facts the text needs, by name."""
        return frozenset(
            name
            for text in (self.title, self.body)
            for _, name, _, _ in string.Formatter().parse(text)
            if name
        )


_CAREGIVER: Final = frozenset({Audience.CAREGIVER})
_PATIENT: Final = frozenset({Audience.PATIENT})
_BOTH: Final = frozenset({Audience.CAREGIVER, Audience.PATIENT})

# Facts used below: temperature ("101.4 °F"), time / recheck_at / since ("Tue 14:05"),
# first_time, what (what is stuck), why (what the clinic answered), day, status, and
# readings ("288 readings today, highest 99.1 °F", see daily_summary).
NOTICES: Final[Mapping[NoticeKind, Template]] = {
    NoticeKind.ELEVATED_FIRST: Template(
        _CAREGIVER,
        False,
        Priority.HIGH,
        "Temperature high: recheck at {recheck_at}",
        "The temperature was {temperature} at {time}. One high reading is not yet a fever. "
        "Take another reading at {recheck_at}; if it is still high, the clinic is told.",
    ),
    NoticeKind.RECHECK_REMINDER: Template(
        _PATIENT,
        True,
        Priority.HIGH,
        "Time to take your temperature",
        "Your temperature was high at {first_time}. Please take it again now.",
    ),
    NoticeKind.FEVER_CONFIRMED_PATIENT: Template(
        _PATIENT,
        True,
        Priority.URGENT,
        "Fever: your clinic has been told",
        "Your temperature was high twice ({first_time} and {time}). Your clinic has been "
        "told. If they have not called you within the hour, call them.",
    ),
    NoticeKind.FEVER_CONFIRMED_CAREGIVER: Template(
        _CAREGIVER,
        True,
        Priority.URGENT,
        "Fever confirmed: clinic told",
        "Two high readings four hours apart: {first_time} and {time} ({temperature}). "
        "The clinic has been sent an alert. Make sure someone from the clinic calls back.",
    ),
    NoticeKind.FEVER_ONGOING: Template(
        _CAREGIVER,
        True,
        Priority.HIGH,
        "Fever still there: clinic told again",
        "The temperature is still high ({temperature} at {time}). The clinic has been told again.",
    ),
    NoticeKind.FEVER_RESOLVED: Template(
        _CAREGIVER,
        False,
        Priority.DEFAULT,
        "Fever over",
        "No high reading since {time}, and the last reading was normal. "
        "The clinic has been told the fever is over.",
    ),
    NoticeKind.STALE: Template(
        _CAREGIVER,
        False,
        Priority.HIGH,
        "No temperature for {silent}",
        "The thermometer has sent nothing since {since}. {what_to_do}",
    ),
    NoticeKind.STALE_PENDING: Template(
        _CAREGIVER,
        True,
        Priority.URGENT,
        "No temperature while a recheck is due",
        "The last reading was high, and the thermometer has sent nothing since {since}. "
        "Please take a temperature now and make sure the thermometer is working.",
    ),
    NoticeKind.BACK: Template(
        _CAREGIVER,
        False,
        Priority.DEFAULT,
        "Thermometer back",
        "Readings are arriving again (the last at {time}).",
    ),
    NoticeKind.ALERT_STUCK: Template(
        _CAREGIVER,
        True,
        Priority.URGENT,
        "Clinic not reached",
        "The clinic has not accepted {what} since {since}. portwatch keeps trying. "
        "Please call the clinic and tell them yourself.",
    ),
    NoticeKind.ALERT_REFUSED: Template(
        _CAREGIVER,
        True,
        Priority.URGENT,
        "Clinic refused a message",
        "The clinic refused {what} ({why}). It will not be sent again until the setup is "
        "fixed. Please call the clinic and tell them yourself.",
    ),
    NoticeKind.STORAGE_TROUBLE: Template(
        _CAREGIVER,
        True,
        Priority.URGENT,
        "Readings cannot be saved",
        "The base station cannot save readings ({what}). Until this is fixed, fevers may "
        "be missed. Restart the base station; if that does not help, call for support.",
    ),
    NoticeKind.CARE_KEEP_DRY: Template(
        _BOTH,
        False,
        Priority.DEFAULT,
        "Keep the port site dry",
        "Keep the port site dry until your check-up (day 7 to 10). No baths or swimming.",
    ),
    NoticeKind.CARE_DRESSING_OFF: Template(
        _BOTH,
        False,
        Priority.DEFAULT,
        "The dressing can come off",
        "Today is day 3: the dressing over the port can come off. Keep the site dry until "
        "your check-up.",
    ),
    NoticeKind.CARE_CHECK_OPENS: Template(
        _BOTH,
        False,
        Priority.DEFAULT,
        "Time for your check-up",
        "Today is day 7: your port check-up is due between today and day 10. "
        "If it is not booked yet, call the clinic.",
    ),
    NoticeKind.CARE_CHECK_LAST_DAY: Template(
        _BOTH,
        False,
        Priority.HIGH,
        "Last day for your check-up",
        "Today is day 10, the last day for your port check-up. If you have not been seen, "
        "call the clinic today.",
    ),
    NoticeKind.CARE_FLUSH: Template(
        _BOTH,
        False,
        Priority.DEFAULT,
        "Port flush due",
        "Your port needs its monthly flush to keep it working. Book it with the clinic.",
    ),
    NoticeKind.DAILY_SUMMARY: Template(
        _CAREGIVER,
        False,
        Priority.LOW,
        "Day {day}: {status}",
        "{readings}. {status}.",
    ),
}


@dataclass(frozen=True, slots=True)
class Notice:
    """A notice ready to log, show and send."""

    kind: NoticeKind
    audiences: frozenset[Audience]
    urgent: bool
    priority: Priority
    title: str
    text: str


def silent_advice(kind: ReadingKind) -> str:
    """What to do about a silent thermometer (the STALE notice's ``what_to_do``), by the
    kind of its last reading: a spot thermometer is silent because nobody took a
    temperature, not because it is off the body or flat."""
    if kind is ReadingKind.STREAM:
        return "Check that it is on, charged and near the base station."
    return (
        "Please take a temperature now; if the thermometer does not send it, check its "
        "battery and add the reading by hand."
    )


def render(kind: NoticeKind, facts: Mapping[str, str]) -> Notice:
    """The notice of ``kind`` with ``facts`` filled in.

    Raises:
        NoticeError: when a fact the text needs is missing (never sent half-written).
    """
    template = NOTICES[kind]
    missing = template.facts - facts.keys()
    if missing:
        raise NoticeError(f"notice {kind.value}: missing facts {sorted(missing)}")
    return Notice(
        kind=kind,
        audiences=template.audiences,
        urgent=template.urgent,
        priority=template.priority,
        title=template.title.format_map(facts),
        text=template.body.format_map(facts),
    )


@dataclass(frozen=True, slots=True)
class QuietHours:
    """Local times between which non-urgent notices wait (``end`` may be the next day)."""

    start: time
    end: time
    zone: ZoneInfo


def held_until(notice: Notice, quiet: QuietHours | None, now: datetime) -> datetime | None:
    """When a notice may go out if quiet hours hold it back now; None: send it now.

    Urgent notices are never held (issue 7: quiet hours hold back only non-urgent ones).
    """
    if notice.urgent or quiet is None or quiet.start == quiet.end:
        return None
    local = now.astimezone(quiet.zone)
    clock = local.time().replace(tzinfo=None)
    if quiet.start < quiet.end:
        inside = quiet.start <= clock < quiet.end
        end_day = local.date()
    else:  # across midnight, e.g. 22:00-07:00
        inside = clock >= quiet.start or clock < quiet.end
        end_day = local.date() + (timedelta(days=1) if clock >= quiet.start else timedelta(0))
    if not inside:
        return None
    return datetime.combine(end_day, quiet.end, tzinfo=quiet.zone).astimezone(UTC)


def format_temperature(celsius: float, unit: Unit) -> str:
    """'101.3 °F' or '38.5 °C', one decimal, as a person reads a thermometer."""
    if unit is Unit.FAHRENHEIT:
        return f"{celsius * 9.0 / 5.0 + 32.0:.1f} °F"
    return f"{celsius:.1f} °C"


def daily_summary(day: int, readings: Iterable[Reading], unit: Unit, status: str) -> Notice:
    """The caregiver's evening summary of one day's valid final readings.

    Provisional and invalid readings are left out: they are not temperatures the rule
    used, and a caregiver would take "highest 41 °C" from a glitch at face value.
    """
    used = [
        r.celsius
        for r in readings
        if r.celsius is not None
        and r.invalid_reason is None
        and r.kind is not ReadingKind.PROVISIONAL
    ]
    if used:
        count = "1 reading today" if len(used) == 1 else f"{len(used)} readings today"
        text = f"{count}, highest {format_temperature(max(used), unit)}"
    else:
        text = "No readings today"
    return render(NoticeKind.DAILY_SUMMARY, {"day": str(day), "readings": text, "status": status})


def stuck_notice(
    alert_kind: str, *, refused: bool, why: str, since: str
) -> tuple[NoticeKind, dict[str, str]] | None:
    """What the caregiver is told about a clinic message the clinic has not accepted:
    the notice kind and its facts, or None for a heartbeat.

    A heartbeat is not an alert: while only heartbeats fail, no alert waits and nobody is
    paged (issue 18); the page and ``portwatch status`` say "gateway silent since". The
    message is named in words ("the fever alert"), never by its internal kind.
    """
    if alert_kind == AlertKind.HEARTBEAT.value:
        return None
    what = f"the {alert_kind_words(alert_kind)}"
    if refused:
        return NoticeKind.ALERT_REFUSED, {"what": what, "why": why}
    return NoticeKind.ALERT_STUCK, {"what": what, "since": since}
