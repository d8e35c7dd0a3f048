"""The signed-JSON body and alert identities (alerts.md, "Two clinic channels, one identity")."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from portwatch.alerts.payloads import (
    KIND_INFO,
    AlertContext,
    AlertKind,
    GatewayState,
    PayloadError,
    Priority,
    connectivity_test_alert,
    fever_alert,
    heartbeat_alert,
    json_body,
    symptom_alert,
)
from portwatch.model import Decision, DecisionType, Symptom


def test_kind_table_covers_every_alert_kind() -> None:
    """A new alert kind without a priority would crash at send time; the table must be complete."""
    assert set(KIND_INFO) == set(AlertKind)


def test_fever_alert_carries_decision_id_when_built_from_a_decision(
    fever_decision: Decision, context: AlertContext
) -> None:
    """The clinic de-duplicates on the identifier, so it must be the rule's, unchanged."""
    body = json.loads(json_body(fever_alert(fever_decision), context))
    assert body["data"]["id"] == "0b7e4a8c-51f2-5d39-8a3e-2c4f6a1b9d70"


def test_json_body_names_every_required_field_when_fever_confirmed(
    fever_decision: Decision, context: AlertContext
) -> None:
    """alerts.md lists what the body must name; a nurse needs all of it to act."""
    body = json.loads(json_body(fever_alert(fever_decision), context))
    data = body["data"]
    assert body["type"] == "fever.confirmed"
    assert data["patient"] == "Patient/p-17"
    assert data["summary"].startswith("Fever confirmed: 101.2 °F")
    assert data["priority"] == "urgent"
    assert data["late"] is True
    assert data["settings"] == {"threshold": "101.0 F", "min_separation": "4h"}
    assert data["gateway"] == {"id": "pi-0042", "version": "0.1.0"}
    assert data["readings"][0] == {
        "time": "2026-11-20T08:00:00+00:00",
        "value": "101.2",
        "unit": "F",
        "celsius": 38.44,
        "site": "mouth",
        "device": "aa:bb:cc:dd:ee:01",
        "samples": 1,
        "late": False,
    }
    assert data["readings"][1]["late"] is True


def test_json_body_is_ascii_when_summary_has_a_degree_sign(
    fever_decision: Decision, context: AlertContext
) -> None:
    """The signature covers exact bytes; ASCII-only JSON leaves no encoding to disagree on."""
    assert json_body(fever_alert(fever_decision), context).isascii()


def test_fever_alert_refused_when_decision_is_not_for_the_clinic(
    fever_decision: Decision,
) -> None:
    """An elevated-first decision is for the caregiver only; sending it to the clinic is a bug."""
    decision = Decision(
        id=uuid.uuid4(),
        type=DecisionType.ELEVATED_FIRST,
        time=fever_decision.time,
        summary="elevated",
        observations=fever_decision.observations[:1],
    )
    with pytest.raises(PayloadError, match=r"elevated\.first"):
        fever_alert(decision)


def test_symptom_alert_id_is_stable_when_built_twice(context: AlertContext) -> None:
    """A resend after a restart rebuilds the alert; it must keep its identity."""
    at = datetime(2026, 11, 21, 9, 30, tzinfo=UTC)
    one = symptom_alert(context, [Symptom.PUS, Symptom.REDNESS], "yellow fluid", at)
    two = symptom_alert(context, [Symptom.REDNESS, Symptom.PUS], " yellow fluid ", at)
    assert one.id == two.id
    assert one.priority is Priority.URGENT


def test_symptom_alert_refused_when_other_has_no_note(context: AlertContext) -> None:
    """'Other' without words tells the clinic nothing; refuse it at the form, not at the clinic."""
    with pytest.raises(PayloadError, match="other"):
        symptom_alert(context, [Symptom.OTHER], "  ", datetime(2026, 11, 21, tzinfo=UTC))


def test_symptom_body_lists_symptoms_and_note_when_reported(context: AlertContext) -> None:
    """The clinic reads the symptoms as data, not only in the sentence."""
    alert = symptom_alert(
        context,
        [Symptom.CHILLS, Symptom.BLEEDING],
        "since noon",
        datetime(2026, 11, 21, tzinfo=UTC),
    )
    data = json.loads(json_body(alert, context))["data"]
    assert data["symptoms"] == ["bleeding", "chills"]
    assert data["note"] == "since noon"


def test_heartbeat_id_is_shared_when_sent_twice_in_one_slot(context: AlertContext) -> None:
    """A restart inside a 15-minute slot must not look like a second heartbeat."""
    state = GatewayState(started_at=datetime(2026, 11, 21, tzinfo=UTC), thermometer_connected=True)
    slot_start = datetime(2026, 11, 21, 10, 15, tzinfo=UTC)
    early = heartbeat_alert(context, state, slot_start + timedelta(seconds=1))
    late = heartbeat_alert(context, state, slot_start + timedelta(minutes=14, seconds=59))
    nxt = heartbeat_alert(context, state, slot_start + timedelta(minutes=15))
    assert early.id == late.id
    assert nxt.id != early.id


def test_heartbeat_body_reports_gateway_state_when_built(context: AlertContext) -> None:
    """A clinic notices a dying gateway from these fields."""
    state = GatewayState(
        started_at=datetime(2026, 11, 21, tzinfo=UTC),
        thermometer_connected=False,
        last_reading_at=datetime(2026, 11, 21, 9, 0, tzinfo=UTC),
        pending_alerts=2,
    )
    body = json.loads(
        json_body(
            heartbeat_alert(context, state, datetime(2026, 11, 21, 10, 0, tzinfo=UTC)), context
        )
    )
    assert body["type"] == "gateway.heartbeat"
    assert body["data"]["state"]["thermometer_connected"] is False
    assert body["data"]["state"]["last_reading_at"] == "2026-11-21T09:00:00+00:00"
    assert body["data"]["state"]["pending_alerts"] == 2


def test_test_alert_is_routine_when_built(context: AlertContext) -> None:
    """A test message must never look like an emergency."""
    alert = connectivity_test_alert(context, datetime(2026, 11, 21, tzinfo=UTC))
    assert alert.priority is Priority.ROUTINE
    assert json.loads(json_body(alert, context))["type"] == "test"


def test_context_refused_when_patient_is_not_a_reference() -> None:
    """A bare name would be sent as a FHIR reference and rejected by the clinic later."""
    from portwatch.alerts.payloads import Thermometer

    with pytest.raises(PayloadError, match="patient"):
        AlertContext(
            "p-17", "Organization/c", "gw", "0.1", Thermometer(address="aa:bb:cc:dd:ee:ff")
        )


@given(
    symptoms=st.sets(st.sampled_from([s for s in Symptom if s is not Symptom.OTHER]), min_size=1),
    minute=st.integers(min_value=0, max_value=60 * 24 * 10),
)
def test_symptom_alert_round_trips_through_json_when_any_symptoms(
    symptoms: set[Symptom], minute: int
) -> None:
    """Any report gives a body that parses back to the same identifier and symptoms."""
    from portwatch.alerts.payloads import Thermometer

    context = AlertContext(
        "Patient/p", "Organization/c", "gw", "0.1", Thermometer(address="aa:bb:cc:dd:ee:ff")
    )
    at = datetime(2026, 11, 20, tzinfo=UTC) + timedelta(minutes=minute)
    alert = symptom_alert(context, symptoms, "", at)
    data = json.loads(json_body(alert, context))["data"]
    assert data["id"] == str(alert.id)
    assert set(data["symptoms"]) == {s.value for s in symptoms}


def test_payload_modules_import_no_io_when_used() -> None:
    """The middle is pure (design.md): no requests, sqlite3, aiohttp or bleak behind it."""
    code = (
        "import sys, portwatch.alerts.payloads, portwatch.alerts.fhir, portwatch.alerts.signing;"
        "from fhir.resources.R4B.bundle import Bundle;"
        "io = ('requests', 'sqlite3', 'aiohttp', 'bleak');"
        "print(' '.join(m for m in io if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == ""


def test_failed_heartbeats_page_nobody_and_a_stuck_alert_is_named_in_words() -> None:
    """Issue 18: "has not accepted the gateway.heartbeat alert ... call the clinic" was sent
    urgently with an internal name; a heartbeat is not an alert and pages nobody."""
    from portwatch.alerts.notices import NoticeKind, render, stuck_notice

    assert stuck_notice("gateway.heartbeat", refused=False, why="", since="Tue 02:00") is None
    assert stuck_notice("gateway.heartbeat", refused=True, why="HTTP 400", since="") is None
    told = stuck_notice("fever.confirmed", refused=False, why="", since="Tue 02:00 CET")
    assert told is not None
    notice = render(*told)
    assert told[0] is NoticeKind.ALERT_STUCK
    assert notice.urgent
    assert "the fever alert since Tue 02:00 CET" in notice.text
    assert "fever.confirmed" not in notice.text


def test_clinic_summary_says_fever_confirmed_in_the_patient_zone_and_both_units(
    fever_decision: Decision, context: AlertContext
) -> None:
    """Issue 18: the sentence says "Fever confirmed:", names the zone, never mixes units
    on their own, and puts the device's own digits first for a °F patient."""
    from dataclasses import replace as replaced
    from zoneinfo import ZoneInfo

    from portwatch.model import Unit

    berlin = replaced(context, zone=ZoneInfo("Europe/Berlin"), unit=Unit.FAHRENHEIT)
    summary = fever_alert(fever_decision, berlin).summary
    assert summary == (
        "Fever confirmed: 101.2 °F (38.4 °C) at Fri 20 Nov 09:00 CET and "
        "101.4 °F (38.6 °C) at Fri 20 Nov 13:00 CET, 4 h 0 min apart. "
        "Some readings arrived late."
    )
    celsius = replaced(berlin, unit=Unit.CELSIUS)
    assert fever_alert(fever_decision, celsius).summary.startswith(
        "Fever confirmed: 38.4 °C (101.2 °F) at Fri 20 Nov 09:00 CET"
    )


def test_caregiver_sentences_use_one_unit_when_the_device_sends_the_other() -> None:
    """ "38.26 °C ... was normal" for a °F patient was the issue: one unit, the display's."""
    from portwatch.alerts.sentences import decision_sentence
    from portwatch.model import DecisionType, Observation, Unit

    at = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)
    last = Observation(at, 38.6, Decimal("38.6"), Unit.CELSIUS, "AA:BB:CC:DD:EE:FF")
    normal = Observation(
        at + timedelta(days=1, hours=2), 37.02, Decimal("37.02"), Unit.CELSIUS, "AA:BB:CC:DD:EE:FF"
    )
    resolved = Decision(
        uuid.uuid4(),
        DecisionType.FEVER_RESOLVED,
        at + timedelta(days=1, hours=2),
        "rule's own words",
        observations=(last, normal),
    )
    text = decision_sentence(resolved, UTC, Unit.FAHRENHEIT)
    assert text == (
        "Fever resolved: nothing elevated since 101.5 °F at Fri 20 Nov 08:00 UTC, 1 d 2 h "
        "before; 98.64 °F at Sat 21 Nov 10:00 UTC was normal."
    )
    assert "°C" not in text


def test_converted_temperatures_keep_the_device_precision_so_elevated_and_normal_differ() -> None:
    """38.30 °C is elevated and 38.26 °C is not: rounded to one decimal of °F, both would
    read 100.9 °F beside "was normal" (seen in the demo's visit summary)."""
    from portwatch.alerts.sentences import temperature
    from portwatch.model import Observation, Unit

    at = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)

    def obs(value: str) -> Observation:
        return Observation(at, float(value), Decimal(value), Unit.CELSIUS, "AA:BB:CC:DD:EE:FF")

    assert temperature(obs("38.30"), Unit.FAHRENHEIT) == "100.94 °F"
    assert temperature(obs("38.26"), Unit.FAHRENHEIT) == "100.87 °F"
    assert temperature(obs("38.5"), Unit.FAHRENHEIT, both=True) == "101.3 °F (38.5 °C)"


def test_test_message_says_it_is_a_test_in_its_json_body(context: AlertContext) -> None:
    """A clinic filters test messages out by a field, not by reading the summary."""
    from portwatch.alerts.payloads import connectivity_test_alert, json_document

    document = json_document(
        connectivity_test_alert(context, datetime(2026, 11, 20, tzinfo=UTC)), context
    )
    assert document["type"] == "test"
    assert document["data"]["test"] is True  # type: ignore[index]


def test_an_unused_reading_is_worded_without_the_rules_utc_time() -> None:
    from portwatch.alerts.sentences import decision_sentence
    from portwatch.model import Unit

    at = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)
    invalid = Decision(
        uuid.uuid4(),
        DecisionType.READING_INVALID,
        at,
        "Reading from X at 08:00 UTC not used: outside 30-45 °C.",
        reason="outside 30-45 °C",
    )
    assert decision_sentence(invalid, UTC, Unit.FAHRENHEIT) == (
        "Reading not used: outside 30-45 °C."
    )
