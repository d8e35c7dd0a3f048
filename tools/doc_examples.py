"""Write the clinic docs' example payloads from the code that sends real ones.

The examples in docs/clinics/examples/ are what a clinic's developer reads first, so they
must be what portwatch really sends: this script builds them with the fever rule and the
payload code (a fever confirmed from two spot readings 4 h 25 min apart, a symptom report, a
heartbeat), and tests/docs/test_doc_examples.py fails when a committed example differs from
what it would write now. Run it after changing a payload: ``python tools/doc_examples.py``.
It also writes the examples of every other JSON payload (tools/payloads.py, the catalogue).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Final
from zoneinfo import ZoneInfo

from portwatch.alerts.fhir import fhir_body
from portwatch.alerts.payloads import (
    AlertContext,
    GatewayState,
    Thermometer,
    fever_alert,
    heartbeat_alert,
    json_body,
    symptom_alert,
)
from portwatch.fever.rule import FeverRule, RuleSettings
from portwatch.model import Decision, DecisionType, Reading, ReadingKind, Site, Symptom, Unit

EXAMPLES: Final = Path(__file__).resolve().parents[1] / "docs" / "clinics" / "examples"
PLACEMENT: Final = datetime(2026, 11, 16, 9, 0, tzinfo=UTC)
ADDRESS: Final = "c0:ff:ee:00:00:01"
CONTEXT: Final = AlertContext(
    patient="Patient/0001234",
    clinic="Organization/port-clinic",
    gateway_id="portwatch-3f2a9c41d07b",
    gateway_version="1.0.0",
    thermometer=Thermometer(address=ADDRESS, model="Thermometer", manufacturer="Example"),
    zone=ZoneInfo("America/Chicago"),
    unit=Unit.FAHRENHEIT,
)


def _reading(at: datetime, fahrenheit: str) -> Reading:
    value = Decimal(fahrenheit)
    return Reading(
        device=ADDRESS,
        kind=ReadingKind.SPOT,
        value=value,
        unit=Unit.FAHRENHEIT,
        celsius=float((value - 32) * 5 / 9),
        time=at,
        received_at=at,
        site=Site.MOUTH,
    )


def confirmed_fever() -> Decision:
    """The rule's own decision for 101.3 °F at 08:15 and 101.8 °F at 12:40 on day 4."""
    rule = FeverRule(
        RuleSettings(), patient=CONTEXT.patient, placement=PLACEMENT, pinned_device=ADDRESS
    )
    first = datetime(2026, 11, 19, 8, 15, tzinfo=UTC)
    second = first + timedelta(hours=4, minutes=25)
    decisions = rule.feed(_reading(first, "101.3"), now=first)
    decisions += rule.feed(_reading(second, "101.8"), now=second)
    return next(d for d in decisions if d.type is DecisionType.FEVER_CONFIRMED)


def examples() -> Mapping[str, str]:
    """Each example file's name and its exact text (pretty-printed for reading)."""
    fever = fever_alert(confirmed_fever(), CONTEXT)
    symptoms = symptom_alert(
        CONTEXT,
        [Symptom.REDNESS, Symptom.WARMTH],
        "since this morning",
        datetime(2026, 11, 20, 7, 30, tzinfo=UTC),
    )
    now = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)
    state = GatewayState(
        started_at=PLACEMENT,
        thermometer_connected=True,
        last_reading_at=now,
        battery_percent=80,
        pending_alerts=0,
        monitoring_until=PLACEMENT + timedelta(days=10),
    )
    heartbeat = heartbeat_alert(CONTEXT, state, now)
    bodies = {
        "fever-confirmed.json": json_body(fever, CONTEXT),
        "symptoms-reported.json": json_body(symptoms, CONTEXT),
        "gateway-heartbeat.json": json_body(heartbeat, CONTEXT),
        "fever-confirmed.fhir.json": fhir_body(fever, CONTEXT),
    }
    return {
        name: json.dumps(json.loads(body), indent=2, ensure_ascii=False) + "\n"
        for name, body in bodies.items()
    }


def main() -> int:
    from payloads import DOCS, payload_examples, with_table

    EXAMPLES.mkdir(parents=True, exist_ok=True)
    for name, text in examples().items():
        (EXAMPLES / name).write_text(text, encoding="utf-8")
        sys.stdout.write(f"wrote docs/clinics/examples/{name}\n")
    for path, text in payload_examples().items():  # the other payloads' (tools/payloads.py)
        (DOCS / path).parent.mkdir(parents=True, exist_ok=True)
        (DOCS / path).write_text(text, encoding="utf-8")
        sys.stdout.write(f"wrote docs/{path}\n")
    page = DOCS / "developers" / "payloads.md"
    page.write_text(with_table(page.read_text(encoding="utf-8")), encoding="utf-8")
    sys.stdout.write("wrote the table of docs/developers/payloads.md\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
