"""The public FHIR builders: what an export builds is what an alert Bundle sends."""

from __future__ import annotations

from typing import Any

from portwatch.alerts.fhir import (
    URI_SYSTEM,
    body_temperature,
    collection_entry,
    fhir_bundle,
    gateway_device,
    thermometer_device,
    transaction_entry,
)
from portwatch.alerts.payloads import AlertContext, fever_alert
from portwatch.model import Decision


def test_body_temperature_equals_alert_bundle_entry_when_same_observation(
    context: AlertContext, fever_decision: Decision
) -> None:
    """One reading must be one resource at the clinic, whether it came by alert or by export."""
    bundle: dict[str, Any] = fhir_bundle(fever_alert(fever_decision), context)
    thermometer, gateway = thermometer_device(context), gateway_device(context)
    built = [
        transaction_entry(body_temperature(context, o, thermometer, gateway))
        for o in fever_decision.observations
    ]
    sent = [e for e in bundle["entry"] if e["resource"]["resourceType"] == "Observation"]
    assert built == sent
    assert bundle["entry"][:2] == [transaction_entry(thermometer), transaction_entry(gateway)]


def test_collection_entry_has_no_request_when_transaction_entry_posts_once(
    context: AlertContext,
) -> None:
    """An export is a record, not a request; an alert creates each resource once however resent."""
    gateway = gateway_device(context)
    assert collection_entry(gateway) == {"fullUrl": gateway.full_url, "resource": gateway.resource}
    assert gateway.identifier == (URI_SYSTEM, gateway.full_url)
    assert transaction_entry(gateway)["request"] == {
        "method": "POST",
        "url": "Device",
        "ifNoneExist": f"identifier={URI_SYSTEM}|{gateway.full_url}",
    }
