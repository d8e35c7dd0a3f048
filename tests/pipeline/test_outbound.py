"""outbound.py: what each decision puts in the outbox (alerts.md, "Who is told what"). Pure."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from portwatch.alerts.outbound import DECISION_NOTICES, Outbound
from portwatch.alerts.payloads import AlertContext, ClinicFormat, Thermometer
from portwatch.log.store import Channel
from portwatch.model import Decision, DecisionType, Observation, Unit

NOW = datetime(2026, 3, 5, 15, 36, tzinfo=UTC)
CONTEXT = AlertContext(
    patient="Patient/p1",
    clinic="Organization/c1",
    gateway_id="gw",
    gateway_version="0",
    thermometer=Thermometer(address="AA:BB:CC:DD:EE:FF"),
)


def _obs(hour: int, value: str) -> Observation:
    return Observation(
        time=datetime(2026, 3, 5, hour, 35, tzinfo=UTC),
        celsius=float(value),
        value=Decimal(value),
        unit=Unit.CELSIUS,
        device="AA:BB:CC:DD:EE:FF",
    )


def _decision(kind: DecisionType, *observations: Observation) -> Decision:
    return Decision(
        id=uuid.uuid5(uuid.NAMESPACE_URL, kind.value),
        type=kind,
        time=NOW,
        summary="summary",
        observations=observations,
        due=NOW + timedelta(hours=4) if kind is DecisionType.ELEVATED_FIRST else None,
    )


def test_decision_notices_cover_every_decision_type() -> None:
    """A new decision type must be given its notices on purpose, never silently none."""
    assert set(DECISION_NOTICES) == set(DecisionType)


def test_confirmed_fever_queues_one_clinic_alert_and_two_notices_when_decided() -> None:
    """alerts.md: the clinic (urgent), the caregiver and the patient all hear of it."""
    decision = _decision(DecisionType.FEVER_CONFIRMED, _obs(11, "38.3"), _obs(15, "38.7"))
    entries = Outbound(CONTEXT, ClinicFormat.JSON, UTC).for_decisions([decision], NOW)
    assert [(e.channel, e.kind) for e in entries] == [
        (Channel.CLINIC, "fever.confirmed"),
        (Channel.NOTIFY, "fever.confirmed.caregiver"),
        (Channel.NOTIFY, "fever.confirmed.patient"),
    ]
    assert entries[0].id == str(decision.id)  # the clinic's de-duplication key
    assert {e.decision_id for e in entries} == {str(decision.id)}


def test_first_elevated_tells_only_the_caregiver_with_the_recheck_time_when_decided() -> None:
    """One high reading is not a fever: no clinic alert, a notice naming the recheck time."""
    decision = _decision(DecisionType.ELEVATED_FIRST, _obs(11, "38.3"))
    entries = Outbound(CONTEXT, ClinicFormat.JSON, UTC).for_decisions([decision], NOW)
    assert [e.channel for e in entries] == [Channel.NOTIFY]
    assert "19:36" in json.loads(entries[0].body)["title"]


@pytest.mark.parametrize("kind", [DecisionType.FEVER_CONFIRMED, DecisionType.ELEVATED_FIRST])
def test_entries_keep_their_ids_when_the_same_decision_is_rendered_again(
    kind: DecisionType,
) -> None:
    """A restart re-derives the same decision: the same rows, so nothing is sent twice."""
    decision = _decision(kind, _obs(11, "38.3"), _obs(15, "38.7"))
    outbound = Outbound(CONTEXT, ClinicFormat.JSON, UTC)
    first = [e.id for e in outbound.for_decisions([decision], NOW)]
    again = [e.id for e in outbound.for_decisions([decision], NOW + timedelta(hours=1))]
    assert first == again


def test_invalid_reading_queues_nothing_when_decided() -> None:
    """fever-rule.md §1: an invalid reading is logged with its reason and alerts nobody."""
    decision = _decision(DecisionType.READING_INVALID)
    assert Outbound(CONTEXT, ClinicFormat.JSON, UTC).for_decisions([decision], NOW) == []
