"""Clinic alerts as values, and their signed-JSON body (alerts.md, "Two clinic channels").

Pure: an :class:`Alert` is built from the rule's :class:`~portwatch.model.Decision` (or a
symptom report, a heartbeat, a test) plus an :class:`AlertContext` that says who the patient,
the clinic, the gateway and the thermometer are. :func:`json_body` renders it as the body
Standard Webhooks signs; :mod:`portwatch.alerts.fhir` renders the same alert as FHIR R4.
The alert's identifier is fixed here and is the same in both formats and in every resend.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from enum import StrEnum
from typing import Final

from portwatch.alerts.sentences import decision_sentence
from portwatch.log.vocabulary import Priority
from portwatch.model import Decision, DecisionType, Observation, Symptom, Unit, derived_id

__all__ = [
    "JSON_CONTENT_TYPE",
    "KIND_INFO",
    "Alert",
    "AlertContext",
    "AlertKind",
    "ClinicFormat",
    "GatewayState",
    "KindInfo",
    "PayloadError",
    "Priority",
    "Rendered",
    "Thermometer",
    "alert_kind_words",
    "connectivity_test_alert",
    "fever_alert",
    "heartbeat_alert",
    "heartbeat_slot",
    "json_body",
    "json_document",
    "render",
    "symptom_alert",
]

JSON_CONTENT_TYPE: Final = "application/json"

# alerts.md, "Who is told what": a gateway heartbeat every 15 min. One heartbeat per slot,
# so a restart inside a slot re-sends the same identifier instead of a second heartbeat.
HEARTBEAT_INTERVAL: Final = timedelta(minutes=15)

# Version of the JSON body's shape; a receiver can branch on it if the shape ever changes.
BODY_SCHEMA_VERSION: Final = 1


class PayloadError(ValueError):
    """An alert cannot be built from what was given (the message names the field)."""


class AlertKind(StrEnum):
    """Every alert the clinic receives (alerts.md, "Who is told what")."""

    FEVER_CONFIRMED = "fever.confirmed"
    FEVER_ONGOING = "fever.ongoing"
    FEVER_RESOLVED = "fever.resolved"
    SYMPTOMS_REPORTED = "symptoms.reported"
    HEARTBEAT = "gateway.heartbeat"
    TEST = "test"


class ClinicFormat(StrEnum):
    """The clinic's format (alerts.md, "Two clinic channels")."""

    JSON = "json"
    FHIR = "fhir"


@dataclass(frozen=True, slots=True)
class KindInfo:
    """What the spec fixes for one alert kind."""

    priority: Priority
    fhir: bool  # whether a FHIR clinic receives it (heartbeats go on the JSON channel only)
    fever: bool  # whether it carries SNOMED 386661006 (Fever) as its reason
    from_decision: bool  # whether the rule decided it (its id is the Decision's id)


# alerts.md, "Who is told what": confirmed and symptoms are urgent alerts; ongoing is an
# alert; resolved is a notice; the heartbeat travels on the JSON channel only.
KIND_INFO: Final[Mapping[AlertKind, KindInfo]] = {
    AlertKind.FEVER_CONFIRMED: KindInfo(Priority.URGENT, fhir=True, fever=True, from_decision=True),
    AlertKind.FEVER_ONGOING: KindInfo(Priority.URGENT, fhir=True, fever=True, from_decision=True),
    AlertKind.FEVER_RESOLVED: KindInfo(Priority.ROUTINE, fhir=True, fever=True, from_decision=True),
    AlertKind.SYMPTOMS_REPORTED: KindInfo(
        Priority.URGENT, fhir=True, fever=False, from_decision=False
    ),
    AlertKind.HEARTBEAT: KindInfo(Priority.ROUTINE, fhir=False, fever=False, from_decision=False),
    AlertKind.TEST: KindInfo(Priority.ROUTINE, fhir=True, fever=False, from_decision=False),
}

# What each kind is called in a sentence for a person (a notice, a page, a terminal line):
# internal names such as "gateway.heartbeat" never reach human text (issue 18).
KIND_WORDS: Final[Mapping[AlertKind, str]] = {
    AlertKind.FEVER_CONFIRMED: "fever alert",
    AlertKind.FEVER_ONGOING: "fever-ongoing alert",
    AlertKind.FEVER_RESOLVED: "fever-resolved message",
    AlertKind.SYMPTOMS_REPORTED: "symptom report",
    AlertKind.HEARTBEAT: "gateway heartbeat",
    AlertKind.TEST: "test message",
}


def alert_kind_words(kind: str) -> str:
    """A clinic message's kind in words ("fever alert"); an unknown kind as "message"."""
    try:
        return KIND_WORDS[AlertKind(kind)]
    except ValueError:
        return "message"


_DECISION_KINDS: Final[Mapping[DecisionType, AlertKind]] = {
    DecisionType.FEVER_CONFIRMED: AlertKind.FEVER_CONFIRMED,
    DecisionType.FEVER_ONGOING: AlertKind.FEVER_ONGOING,
    DecisionType.FEVER_RESOLVED: AlertKind.FEVER_RESOLVED,
}


@dataclass(frozen=True, slots=True)
class Thermometer:
    """The thermometer the patient's setup is pinned to, as the clinic should know it."""

    address: str | None  # Bluetooth address, "AA:BB:CC:DD:EE:FF"
    system_id: str | None = None  # IEEE 11073 system id (EUI-64) in hex, when the device has one
    model: str = ""
    manufacturer: str = ""

    def __post_init__(self) -> None:
        if not self.address and not self.system_id:
            raise PayloadError("Thermometer needs a Bluetooth address or an IEEE system id")


@dataclass(frozen=True, slots=True)
class AlertContext:
    """Who an alert is about, from whom and for whom; fixed for a monitoring period."""

    patient: str  # FHIR reference, "Patient/123"
    clinic: str  # the recipient, a FHIR reference such as "Organization/clinic-1"
    gateway_id: str  # stable identity of this gateway (e.g. its serial number)
    gateway_version: str  # portwatch version
    thermometer: Thermometer
    # How the patient reads times and temperatures: the clinic's one-line summaries are
    # worded in this zone, in this unit with the other in brackets (issue 18).
    zone: tzinfo = UTC
    unit: Unit = Unit.FAHRENHEIT

    def __post_init__(self) -> None:
        for name in ("patient", "clinic", "gateway_id", "gateway_version"):
            if not getattr(self, name):
                raise PayloadError(f"AlertContext.{name} is empty")
        for name in ("patient", "clinic"):
            value: str = getattr(self, name)
            if "/" not in value:
                raise PayloadError(
                    f"AlertContext.{name} must be a FHIR reference like 'Type/id', got {value!r}"
                )


@dataclass(frozen=True, slots=True)
class GatewayState:
    """What a heartbeat tells the clinic about the gateway."""

    started_at: datetime
    thermometer_connected: bool
    last_reading_at: datetime | None = None
    battery_percent: int | None = None
    pending_alerts: int = 0
    monitoring_until: datetime | None = None


@dataclass(frozen=True, slots=True)
class Alert:
    """One clinic alert, format-neutral. ``id`` is the identity every resend carries."""

    id: uuid.UUID
    kind: AlertKind
    time: datetime  # when it was decided or reported, aware UTC
    summary: str  # one line a nurse can read aloud
    observations: tuple[Observation, ...] = ()
    late: bool = False
    settings: tuple[tuple[str, str], ...] = ()
    symptoms: tuple[Symptom, ...] = ()
    note: str = ""
    state: GatewayState | None = None

    @property
    def priority(self) -> Priority:
        return KIND_INFO[self.kind].priority


def _aware_utc(value: datetime, what: str) -> datetime:
    if value.tzinfo is None:
        raise PayloadError(f"{what} must be an aware datetime, got naive {value.isoformat()}")
    return value.astimezone(UTC)


def fever_alert(decision: Decision, context: AlertContext | None = None) -> Alert:
    """The clinic alert for a fever decision; its identifier is the decision's.

    With a `context`, the one-line summary is worded for the clinic in the patient's zone
    and both units ("Fever confirmed: 101.3 °F (38.5 °C) at ..."); without one it is the
    rule's own summary.

    Raises:
        PayloadError: the decision is not one the clinic is told about (alerts.md), or a
            confirmation/ongoing decision cites no readings.
    """
    kind = _DECISION_KINDS.get(decision.type)
    if kind is None:
        raise PayloadError(f"decision {decision.id} of type {decision.type} is not a clinic alert")
    if kind is not AlertKind.FEVER_RESOLVED and not decision.observations:
        raise PayloadError(f"decision {decision.id} ({decision.type}) cites no readings")
    return Alert(
        id=decision.id,
        kind=kind,
        time=_aware_utc(decision.time, "Decision.time"),
        summary=(
            decision.summary
            if context is None
            else decision_sentence(decision, context.zone, context.unit, both=True)
        ),
        observations=decision.observations,
        late=decision.late or any(o.late for o in decision.observations),
        settings=decision.settings,
    )


def symptom_alert(
    context: AlertContext,
    symptoms: Iterable[Symptom],
    note: str,
    reported_at: datetime,
) -> Alert:
    """An urgent alert for symptoms the patient reported at the port site.

    Raises:
        PayloadError: no symptom was given, or "other" without a note saying what.
    """
    chosen = tuple(sorted(set(symptoms), key=list(Symptom).index))
    if not chosen:
        raise PayloadError("a symptom report needs at least one symptom")
    note = note.strip()
    if Symptom.OTHER in chosen and not note:
        raise PayloadError("symptom 'other' needs a note saying what")
    at = _aware_utc(reported_at, "reported_at")
    words = ", ".join(s.value for s in chosen)
    summary = f"Patient reports {words} at the port site"
    summary += f": {note}" if note else "."
    facts = (context.patient, "symptoms", at.isoformat(), *chosen, note)
    return Alert(
        id=derived_id(*facts),
        kind=AlertKind.SYMPTOMS_REPORTED,
        time=at,
        summary=summary,
        symptoms=chosen,
        note=note,
    )


def heartbeat_slot(now: datetime) -> datetime:
    """The start of the 15-minute slot holding ``now`` (the heartbeat's identity)."""
    at = _aware_utc(now, "now")
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    slots = (at - epoch) // HEARTBEAT_INTERVAL
    return epoch + slots * HEARTBEAT_INTERVAL


def heartbeat_alert(context: AlertContext, state: GatewayState, now: datetime) -> Alert:
    """The gateway's heartbeat for the slot holding ``now``; the scheduler calls it every 15 min."""
    slot = heartbeat_slot(now)
    connected = "connected" if state.thermometer_connected else "not connected"
    return Alert(
        id=derived_id(context.patient, "heartbeat", context.gateway_id, slot.isoformat()),
        kind=AlertKind.HEARTBEAT,
        time=_aware_utc(now, "now"),
        summary=f"Gateway {context.gateway_id} alive; thermometer {connected}.",
        state=state,
    )


def connectivity_test_alert(context: AlertContext, now: datetime) -> Alert:
    """A test message: proves the clinic's endpoint, secret and parser, alerting nobody."""
    at = _aware_utc(now, "now")
    return Alert(
        id=derived_id(context.patient, "test", context.gateway_id, at.isoformat()),
        kind=AlertKind.TEST,
        time=at,
        summary=f"Test message from portwatch gateway {context.gateway_id}; no action needed.",
    )


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.astimezone(UTC).isoformat()


def observation_json(observation: Observation) -> dict[str, object]:
    """One cited reading as the JSON body lists it (alerts.md, "Signed JSON")."""
    return {
        "time": _iso(observation.time),
        # Plain digits as sent ("40", not Decimal's "4E+1" for mantissa 4, exponent +1).
        "value": format(observation.value, "f"),
        "unit": observation.unit.value,
        "celsius": round(observation.celsius, 2),
        "site": None if observation.site is None else observation.site.value,
        "device": observation.device,
        "samples": observation.samples,
        "late": observation.late,
    }


def _state_json(state: GatewayState) -> dict[str, object]:
    return {
        "started_at": _iso(state.started_at),
        "thermometer_connected": state.thermometer_connected,
        "last_reading_at": _iso(state.last_reading_at),
        "battery_percent": state.battery_percent,
        "pending_alerts": state.pending_alerts,
        "monitoring_until": _iso(state.monitoring_until),
    }


def json_document(alert: Alert, context: AlertContext) -> dict[str, object]:
    """The JSON body as a dict: Standard Webhooks' ``type``/``timestamp``/``data`` envelope."""
    thermometer = context.thermometer
    data: dict[str, object] = {
        "id": str(alert.id),
        "priority": alert.priority.value,
        "patient": context.patient,
        "recipient": context.clinic,
        "summary": alert.summary,
        "readings": [observation_json(o) for o in alert.observations],
        "late": alert.late,
        "settings": dict(alert.settings),
        "gateway": {"id": context.gateway_id, "version": context.gateway_version},
        "thermometer": {
            "address": thermometer.address,
            "system_id": thermometer.system_id,
            "model": thermometer.model,
            "manufacturer": thermometer.manufacturer,
        },
    }
    if alert.kind is AlertKind.SYMPTOMS_REPORTED:
        data["symptoms"] = [s.value for s in alert.symptoms]
        data["note"] = alert.note
    if alert.state is not None:
        data["state"] = _state_json(alert.state)
    if alert.kind is AlertKind.TEST:
        data["test"] = True  # a clinic filters these out (`portwatch alerts test`)
    return {
        "type": alert.kind.value,
        "timestamp": _iso(alert.time),
        "schema": BODY_SCHEMA_VERSION,
        "data": data,
    }


def json_body(alert: Alert, context: AlertContext) -> str:
    """The exact body that is stored in the outbox, signed and sent (ASCII-only JSON)."""
    return json.dumps(json_document(alert, context), sort_keys=True, separators=(",", ":"))


@dataclass(frozen=True, slots=True)
class Rendered:
    """An alert as the outbox stores it: the exact body and its content type."""

    body: str
    content_type: str


def render(alert: Alert, context: AlertContext, clinic_format: ClinicFormat) -> Rendered:
    """The outbox body for the clinic's format (the body is signed at send time).

    Raises:
        PayloadError: the alert does not travel in that format (heartbeats are JSON-only).
    """
    if clinic_format is ClinicFormat.JSON:
        return Rendered(json_body(alert, context), JSON_CONTENT_TYPE)
    from portwatch.alerts.fhir import FHIR_CONTENT_TYPE, fhir_body

    return Rendered(fhir_body(alert, context), FHIR_CONTENT_TYPE)
