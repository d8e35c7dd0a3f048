"""The shared vocabulary: what flows from the thermometer to the clinic.

Frozen, slotted value objects with units in their names and aware UTC datetimes only.
pydantic stays at the edges (settings, HTTP); the middle speaks these types.
Extend by adding; every stage depends on these names.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Final

# Namespace for every identifier portwatch derives (uuid5); changing it would make the
# clinic see old alerts as new ones, so it never changes.
PORTWATCH_NAMESPACE: Final = uuid.UUID("6d1f3a52-5c1e-4f4e-9a59-2f1c7a0e8b11")

# The device of a reading typed in by hand (``portwatch add``): no Bluetooth device, so
# device pinning does not apply to it (fever-rule.md §1 table: a spot reading).
MANUAL_DEVICE: Final = "manual"


def derived_id(*facts: str) -> uuid.UUID:
    """A deterministic identifier from the facts behind a decision (fever-rule.md §6).

    The same facts always give the same identifier, wherever and however often the
    program restarts, which is what lets the clinic drop a resend.
    """
    return uuid.uuid5(PORTWATCH_NAMESPACE, "\x1f".join(facts))


class Unit(StrEnum):
    """The unit a thermometer reported in (HTS flags bit 0; CORE flags bit 3)."""

    CELSIUS = "C"
    FAHRENHEIT = "F"


class Site(StrEnum):
    """Where on the body a measurement was taken (HTS Temperature Type 0x2A1D, values 1-9)."""

    ARMPIT = "armpit"
    BODY = "body"
    EAR = "ear"
    FINGER = "finger"
    GASTROINTESTINAL = "gastrointestinal"
    MOUTH = "mouth"
    RECTUM = "rectum"
    TOE = "toe"
    TYMPANUM = "tympanum"


class Special(StrEnum):
    """IEEE 11073-20601 special values: a measurement that carries no temperature."""

    NAN = "nan"
    NRES = "nres"
    POSITIVE_INFINITY = "+inf"
    NEGATIVE_INFINITY = "-inf"
    RESERVED = "reserved"


class ReadingKind(StrEnum):
    """How the rule treats a reading (fever-rule.md §1)."""

    SPOT = "spot"  # one final measurement taken on request, or typed in by hand
    STREAM = "stream"  # one sample of a thermometer that measures on its own every interval_s
    PROVISIONAL = "provisional"  # shown while a measurement settles; never used by the rule


@dataclass(frozen=True, slots=True)
class Reading:
    """One temperature as a thermometer (or a person) reported it.

    ``value`` is exactly what the device sent, in its own ``unit``; ``celsius`` is derived
    from it. ``time`` is the reading's best time in UTC: the device's time stamp corrected
    for its clock offset when it has a plausible one, else ``received_at``.
    """

    device: str  # Bluetooth address, MANUAL_DEVICE, or "import:<name>"
    kind: ReadingKind
    value: Decimal | None  # None when ``special`` is set
    unit: Unit
    celsius: float | None
    time: datetime
    received_at: datetime
    device_time: datetime | None = None  # naive, the device's own local clock, as sent
    site: Site | None = None
    interval_s: float | None = None  # declared measurement interval for STREAM readings
    special: Special | None = None
    raw: bytes = b""
    invalid_reason: str | None = None  # set when the link already knows it is unusable


class LinkEventKind(StrEnum):
    """Things the Bluetooth link reports besides temperatures."""

    CONNECTED = "connected"
    DISCONNECTED = "disconnected"
    BATTERY = "battery"
    PAIRED = "paired"
    STRANGER_IGNORED = "stranger_ignored"
    MALFORMED_PACKET = "malformed_packet"
    SPECIAL_VALUE = "special_value"
    DEVICE_INFO = "device_info"
    CLOCK_SET = "clock_set"
    ADAPTER_RESET = "adapter_reset"


@dataclass(frozen=True, slots=True)
class LinkEvent:
    """One thing that happened on the Bluetooth side; nothing clinical is decided here."""

    kind: LinkEventKind
    device: str
    time: datetime
    detail: str = ""
    battery_percent: int | None = None
    raw: bytes = b""


@dataclass(frozen=True, slots=True)
class Observation:
    """A reading "in the clinic's sense" (fever-rule.md §2): what the rule compares.

    ``celsius`` includes the site offset. ``value``/``unit`` are as the device reported them
    (the median of the window's samples for a dense stream), for the nurse's sentence.
    """

    time: datetime
    celsius: float
    value: Decimal
    unit: Unit
    device: str
    site: Site | None = None
    samples: int = 1
    late: bool = False


class DecisionType(StrEnum):
    """Everything the rule can decide (fever-rule.md §1, §4, §5)."""

    READING_INVALID = "reading.invalid"
    ELEVATED_FIRST = "elevated.first"
    RECHECK_DUE = "recheck.due"
    FEVER_CONFIRMED = "fever.confirmed"
    FEVER_ONGOING = "fever.ongoing"
    FEVER_RESOLVED = "fever.resolved"


@dataclass(frozen=True, slots=True)
class Decision:
    """One decision of the rule, with what caused it and a sentence a nurse can read aloud."""

    id: uuid.UUID
    type: DecisionType
    time: datetime  # when it was decided (in rule time)
    summary: str
    observations: tuple[Observation, ...] = ()
    late: bool = False
    due: datetime | None = None  # recheck time for ELEVATED_FIRST / RECHECK_DUE
    reason: str | None = None  # for READING_INVALID
    settings: tuple[tuple[str, str], ...] = field(default=())


class Symptom(StrEnum):
    """What a patient can report about the site (alerts.md, "symptoms reported")."""

    REDNESS = "redness"
    PAIN = "pain"
    PUS = "pus"
    WARMTH = "warmth"
    BLEEDING = "bleeding"
    SWELLING = "swelling"
    FEVER = "fever"
    CHILLS = "chills"
    OTHER = "other"


@dataclass(frozen=True, slots=True)
class Bucket:
    """One point of the chart: the valid temperatures received in [start, end) (°C).

    The log computes them (``Store.downsample``); the caregiver page and the text chart
    draw them as bands.
    """

    start: datetime
    end: datetime
    min_c: float
    median_c: float
    max_c: float
    count: int
