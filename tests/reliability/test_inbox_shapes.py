"""Signed bodies of the wrong shape are refused as 400, never a 500 (found by the campaign).

A gateway with a bug, or one whose secret leaked, can send any JSON with a valid signature;
the inbox must answer it as bad input and keep serving its page.
"""

from __future__ import annotations

import json

import pytest

from portwatch.sim.inbox import InboxError, parse_message

GOOD = {
    "type": "fever.confirmed",
    "data": {
        "patient": "Patient/p-17",
        "summary": "Fever confirmed.",
        "readings": [{"time": "2026-11-20T08:00:00+00:00", "value": "101.2", "unit": "F"}],
        "gateway": {"id": "pi-0042"},
    },
}


def _with(path: tuple[str, ...], value: object) -> str:
    document = json.loads(json.dumps(GOOD))
    node = document
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    return json.dumps(document)


def _bundle(code: object) -> str:
    communication = {
        "resourceType": "Communication",
        "subject": {"reference": "Patient/p-17"},
        "sender": {"reference": "Device/gw"},
        "payload": [{"contentString": "Fever"}],
        "reasonCode": [{"coding": [{"code": code}]}],
    }
    return json.dumps({"resourceType": "Bundle", "entry": [{"resource": communication}]})


@pytest.mark.parametrize(
    "body",
    [
        pytest.param("[" * 100_000 + "]" * 100_000, id="nested-past-the-recursion-limit"),
        pytest.param(_with(("data", "readings"), 5), id="readings-a-number"),
        pytest.param(_with(("data", "readings"), ["x"]), id="readings-not-objects"),
        pytest.param(_with(("data", "gateway"), "pi"), id="gateway-a-string"),
        pytest.param(_with(("data", "patient"), None), id="patient-null"),
        pytest.param(_with(("data",), []), id="data-a-list"),
        pytest.param(_bundle(["386661006"]), id="fhir-code-a-list"),
        pytest.param(json.dumps({"resourceType": "Bundle", "entry": 3}), id="fhir-entry-a-number"),
        pytest.param(
            json.dumps({"resourceType": "Bundle", "entry": [{"resource": "x"}]}),
            id="fhir-resource-a-string",
        ),
    ],
)
def test_parse_message_raises_inbox_error_when_a_signed_body_has_the_wrong_shape(
    body: str,
) -> None:
    """Each of these raised TypeError, RecursionError or AttributeError: a 500 to the sender."""
    with pytest.raises(InboxError):
        parse_message("id-1", body)


def test_parse_message_keeps_readings_when_the_shape_is_right() -> None:
    """The stricter checks must still accept a genuine alert."""
    message = parse_message("id-1", json.dumps(GOOD))
    assert message.readings[0]["value"] == "101.2"
