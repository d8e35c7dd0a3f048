"""Every JSON payload has a schema in the docs, an example that the code wrote, and a schema
strict enough to refuse what portwatch would never send (issue 19).

The catalogue (tools/payloads.py) is checked against the files on disk, the command line,
the control API's routes and the inbox's routes, so that a new payload cannot appear
without its schema; the schemas' enums and the control API's request models are compared
with the code's own, so that neither can drift. tests/docs/test_payloads_live.py validates
the real payloads, made by processes as a person makes them.
"""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from .payload_schemas import (
    DOCS,
    PAYLOADS,
    Payload,
    errors,
    payload_examples,
    schema,
    schema_files,
    with_table,
)


def _example(payload: Payload) -> Any:
    return json.loads((DOCS / payload.example).read_text(encoding="utf-8"))


@pytest.mark.parametrize("path", schema_files(), ids=lambda p: p.name)
def test_each_schema_is_valid_draft_2020_12(path: Any) -> None:
    """A malformed schema would accept anything; each says its draft and has an $id."""
    document = json.loads(path.read_text(encoding="utf-8"))
    Draft202012Validator.check_schema(document)
    assert document["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert document["$id"].endswith("/" + path.name)


def test_the_catalogue_names_every_schema_file_and_each_of_its_examples_exists() -> None:
    on_disk = {str(p.relative_to(DOCS)) for p in schema_files()}
    assert on_disk == {p.schema for p in PAYLOADS}
    assert len({p.name for p in PAYLOADS}) == len(PAYLOADS)
    for payload in PAYLOADS:
        assert (DOCS / payload.example).is_file(), payload.example
        assert payload.schema.startswith(f"{payload.reader}/schemas/")


def test_committed_examples_equal_what_the_code_writes_now() -> None:
    """An example that no longer matches the code misleads everyone who reads it."""
    for path, text in payload_examples().items():
        committed = (DOCS / path).read_text(encoding="utf-8")
        assert committed == text, f"docs/{path} is stale: run tools/doc_examples.py"


@pytest.mark.parametrize("payload", PAYLOADS, ids=lambda p: p.name)
def test_each_example_validates_against_its_schema(payload: Payload) -> None:
    assert errors(payload.schema, _example(payload)) == []


def _required(payload: Payload) -> tuple[list[str], bool]:
    """The example's top object's required fields, and whether unknown ones are refused."""
    document = schema(payload.schema)
    if document.get("type") == "array":
        document = document["items"]
    if "oneOf" in document and "required" not in document:  # decode: the example's shape
        document = document["$defs"]["measurement"]
    return list(document["required"]), document.get("additionalProperties") is False


def _top(document: Any) -> dict[str, Any]:
    return document[0] if isinstance(document, list) else document


@pytest.mark.parametrize("payload", PAYLOADS, ids=lambda p: p.name)
def test_each_schema_refuses_its_example_without_a_required_field(payload: Payload) -> None:
    required, closed = _required(payload)
    assert required, payload.schema
    for field in required:
        broken = copy.deepcopy(_example(payload))
        del _top(broken)[field]
        assert errors(payload.schema, broken) != [], f"{payload.schema} takes no {field!r}"
    if closed:
        broken = copy.deepcopy(_example(payload))
        _top(broken)["surprise"] = 1
        assert errors(payload.schema, broken) != [], f"{payload.schema} takes any field"


_BAD = object()


def _set(document: Any, path: str, value: Any) -> Any:
    """A copy of ``document`` with the dotted ``path`` set (``value`` _BAD: removed)."""
    document = copy.deepcopy(document)
    *parents, last = [int(p) if p.isdigit() else p for p in path.split(".")]
    target = document
    for part in parents:
        target = target[part]
    if value is _BAD:
        del target[last]
    else:
        target[last] = value
    return document


# (example stem, path in it, a value portwatch never sends there)
BROKEN = [
    ("status", "fever", "feverish"),
    ("status", "day", 0),
    ("status", "day", None),  # monitoring, but no day
    ("status", "now", "2026-11-19 12:45"),  # no offset: not RFC 3339
    ("status", "last_reading.unit", "K"),
    ("status", "thermometer.battery_percent", 101),
    ("control-readings-request", "readings.0.unit", "K"),
    ("control-readings-request", "readings.0.kind", "guess"),
    ("control-readings-request", "readings.0.time", "2026-11-20T10:00:00"),
    ("control-readings-request", "readings.0.raw", "not base64!"),
    ("control-readings-request", "once", "yes"),
    ("control-readings-response", "ids.0", "4812"),
    ("control-reports-request", "symptoms", []),
    ("control-reports-request", "symptoms.0", "itch"),
    ("control-reports-response", "id", "not-a-uuid"),
    ("control-pauses-request", "duration_s", 0),
    ("control-pauses-request", "duration_s", 7201),
    ("control-pauses-request", "reason", ""),
    ("control-pauses-response", "end", "tomorrow"),
    ("control-resend-response", "id", ""),
    ("control-purge-request", "before", "last year"),
    ("control-purge-response", "counts.readings", -1),
    ("control-error", "error", ""),
    ("control-status-response", "pause_reason", None),  # paused, but no reason
    ("pinned", "driver", "bluetooth"),
    ("pinned", "address", "thermometer"),
    ("bench-results", "figures.0.value", "fast"),
    ("bench-results", "measured_at", "today"),
    ("notice-ntfy", "topic", "my topic/../x"),
    ("notice", "type", "error"),
    ("notice", "title", ""),
    ("notice-body", "message", 3),
    ("decode", "site", "nose"),
    ("decode", "trailing_bytes", "zz"),
    ("replay-decision", "type", "fever.maybe"),
    ("replay-decision", "readings.0.samples", 0),
    ("demo-summary", "notification_kinds.0", "fever.panic"),
    ("demo-summary", "alerts_received_kinds.0", "gateway.heartbeat"),
    ("inbox-receipt", "stored", "yes"),
    ("inbox-alerts", "0.priority", "whenever"),
    ("inbox-alerts", "0.type", "gateway.heartbeat"),  # heartbeats are not listed
    ("inbox-patients", "0.silent_s", -1),
    ("inbox-error", "error", 404),
    ("fever-confirmed.fhir", "type", "batch"),
    ("fever-confirmed.fhir", "entry.0.request.method", "PUT"),
    ("fever-confirmed.fhir", "entry.2.resource.status", "preliminary"),
    ("fever-confirmed.fhir", "entry.2.resource.valueQuantity.code", "degF"),
    ("fever-confirmed.fhir", "entry.2.resource.code.coding.0.code", "8310-6"),
    ("fever-confirmed.fhir", "entry.4.resource.priority", "stat"),
    ("fever-confirmed.fhir", "entry.4", _BAD),  # no Communication: no alert
    ("export.fhir", "type", "transaction"),
    ("export.fhir", "entry.2.resource.effectiveDateTime", "2026-11-19"),
]


def _by_stem(stem: str) -> Payload:
    return next(p for p in PAYLOADS if p.example.endswith(f"/{stem}.json"))


@pytest.mark.parametrize(("stem", "path", "value"), BROKEN)
def test_schema_refuses_a_payload_portwatch_would_never_send(
    stem: str, path: str, value: Any
) -> None:
    payload = _by_stem(stem)
    assert errors(payload.schema, _set(_example(payload), path, value)) != []


def test_every_catalogued_schema_is_shown_refusing_something_specific() -> None:
    stems = {stem for stem, _, _ in BROKEN}
    assert {p.example.rsplit("/", 1)[1].removesuffix(".json") for p in PAYLOADS} - stems == {
        "fever-confirmed"  # tests/docs/test_doc_examples.py has its own
    }


def test_inbox_patients_without_a_heartbeat_is_silent() -> None:
    payload = _by_stem("inbox-patients")
    patient = {
        "patient": "Patient/1",
        "last_heartbeat": None,
        "silent_s": None,
        "silent": False,
        "open_alerts": 0,
    }
    assert errors(payload.schema, [patient]) != []
    assert errors(payload.schema, [patient | {"silent": True}]) == []


def test_the_developers_page_lists_the_whole_catalogue() -> None:
    """docs/developers/payloads.md's table is the catalogue's (tools/doc_examples.py)."""
    page = (DOCS / "developers" / "payloads.md").read_text(encoding="utf-8")
    assert with_table(page) == page, "stale table: run tools/doc_examples.py"
    for payload in PAYLOADS:
        assert f"](../{payload.schema})" in page
        assert f"](../{payload.example})" in page


@pytest.mark.parametrize("reader", ["clinics", "operators"])
def test_each_readers_page_links_each_of_its_schemas_and_examples(reader: str) -> None:
    page = (DOCS / reader / "payloads.md").read_text(encoding="utf-8")
    for payload in PAYLOADS:
        if payload.reader == reader:
            assert f"]({payload.schema.removeprefix(reader + '/')})" in page, payload.schema
            assert f"]({payload.example.removeprefix(reader + '/')})" in page, payload.example


def _fhir_bodies() -> list[tuple[str, str]]:
    """A FHIR Bundle of every kind that travels as FHIR: fevers from the thermometer and
    from hand readings (no thermometer Device then), a symptom report, a test message."""
    from dataclasses import replace
    from datetime import UTC, datetime

    from doc_examples import CONTEXT, confirmed_fever

    from portwatch.alerts.fhir import fhir_body
    from portwatch.alerts.payloads import (
        KIND_INFO,
        AlertKind,
        connectivity_test_alert,
        fever_alert,
        symptom_alert,
    )
    from portwatch.model import MANUAL_DEVICE, DecisionType, Symptom

    now = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)
    fever = confirmed_fever()
    by_hand = replace(
        fever, observations=tuple(replace(o, device=MANUAL_DEVICE) for o in fever.observations)
    )
    bodies = []
    for decision in (fever, by_hand):
        for kind in (DecisionType.FEVER_CONFIRMED, DecisionType.FEVER_ONGOING,
                     DecisionType.FEVER_RESOLVED):  # fmt: skip
            alert = fever_alert(replace(decision, type=kind), CONTEXT)
            bodies.append((kind.value, fhir_body(alert, CONTEXT)))
    symptoms = symptom_alert(CONTEXT, list(Symptom), "a smell", now)
    bodies.append((AlertKind.SYMPTOMS_REPORTED.value, fhir_body(symptoms, CONTEXT)))
    bodies.append((AlertKind.TEST.value, fhir_body(connectivity_test_alert(CONTEXT, now), CONTEXT)))
    assert {kind for kind, _ in bodies} == {k.value for k, info in KIND_INFO.items() if info.fhir}
    return bodies


def test_every_fhir_bundle_the_code_builds_validates_against_the_fhir_schema() -> None:
    """The FHIR schema must describe every Bundle a clinic can receive, not only the example."""
    for kind, body in _fhir_bodies():
        assert errors("clinics/schemas/fhir-alert-bundle.schema.json", json.loads(body)) == [], kind


def test_a_value_the_device_sent_with_a_positive_exponent_is_written_in_plain_digits() -> None:
    """A thermometer may send 40 °C as mantissa 4, exponent +1 (IEEE 11073 FLOAT): Decimal
    gives "4E+1", which the schemas' value pattern (plain digits) refuses; the payloads
    write "40", the same number as the device sent."""
    from dataclasses import replace
    from decimal import Decimal

    from doc_examples import CONTEXT, confirmed_fever

    from portwatch.alerts.payloads import fever_alert, json_body
    from portwatch.ble import hts
    from portwatch.cli.commands.replay import decision_to_json
    from portwatch.model import Unit

    value = hts.decode_measurement(bytes.fromhex("00 04 00 00 01")).value
    assert value == Decimal(40)
    assert str(value) == "4E+1"
    fever = confirmed_fever()
    forty = tuple(
        replace(o, value=value, unit=Unit.CELSIUS, celsius=40.0) for o in fever.observations
    )
    decision = replace(fever, observations=forty)
    body = json.loads(json_body(fever_alert(decision, CONTEXT), CONTEXT))
    assert [r["value"] for r in body["data"]["readings"]] == ["40", "40"]
    assert errors("clinics/schemas/alert.schema.json", body) == []
    line = decision_to_json(decision)
    assert errors("developers/schemas/replay-decision.schema.json", line) == []
