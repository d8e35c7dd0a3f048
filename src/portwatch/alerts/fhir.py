"""A clinic alert as one FHIR R4 (4.0.1) transaction Bundle (alerts.md, "FHIR R4").

Pure. Every entry is a ``POST`` with ``ifNoneExist: identifier=<system>|<value>`` on a
deterministic identifier, so however often a Bundle is resent the clinic's server creates
each resource once. The Bundle holds the thermometer and gateway ``Device``s (PHD
conventions), each cited reading as a ``bodytemp`` ``Observation`` in the device's own unit,
and one ``Communication`` carrying the alert's identifier.

The Bundle is built with ``fhir.resources``' R4B models, which check datatypes but not the
rules that matter here (they accept any unit, any reference target, any status); the tests
check those against the R4 specification element by element.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC
from decimal import Decimal
from typing import Any, Final

from portwatch.alerts.payloads import KIND_INFO, Alert, AlertContext, AlertKind, PayloadError
from portwatch.model import Observation, Site, Symptom, Unit, derived_id

__all__ = [
    "FHIR_CONTENT_TYPE",
    "SITE_MDC",
    "SYMPTOM_SNOMED",
    "BuiltResource",
    "body_temperature",
    "collection_entry",
    "fhir_body",
    "fhir_bundle",
    "gateway_device",
    "thermometer_device",
    "transaction_entry",
]

FHIR_CONTENT_TYPE: Final = "application/fhir+json"

# fever-rule.md §8: a reading typed in without a device is a "manual" reading; the clinic
# sees it as its own source (Observation.method), never credited to the Bluetooth device.
MANUAL_DEVICE: Final = "manual"
MANUAL_METHOD: Final = "manual: measured by hand with an ordinary thermometer and typed in"
# HL7 v3 ActReason HTEST ("test health data"): what `portwatch alerts test` tags its
# resources with, so a clinic can filter them out.
TEST_TAG: Final = {
    "system": "http://terminology.hl7.org/CodeSystem/v3-ActReason",
    "code": "HTEST",
    "display": "test health data",
}

# Identifier systems and code systems (FHIR R4 terminology; PHD IG 2.0 for devices).
URI_SYSTEM: Final = "urn:ietf:rfc:3986"  # value is a URI: our "urn:uuid:..." identifiers
LOINC: Final = "http://loinc.org"
SNOMED: Final = "http://snomed.info/sct"
UCUM: Final = "http://unitsofmeasure.org"
MDC: Final = "urn:iso:std:iso:11073:10101"
OBSERVATION_CATEGORY: Final = "http://terminology.hl7.org/CodeSystem/observation-category"
COMMUNICATION_CATEGORY: Final = "http://terminology.hl7.org/CodeSystem/communication-category"
DEVICE_ID_TYPE: Final = "http://terminology.hl7.org/CodeSystem/ContinuaDeviceIdentifiers"
BLUETOOTH_SYSTEM: Final = "http://hl7.org/fhir/sid/eui-48/bluetooth"
IEEE_SYSTEM_ID_SYSTEM: Final = "urn:oid:1.2.840.10004.1.1.1.0.0.1.0.0.1.2680"
GATEWAY_DEVICE_EXTENSION: Final = (
    "http://hl7.org/fhir/StructureDefinition/observation-gatewayDevice"
)
BODYTEMP_PROFILE: Final = "http://hl7.org/fhir/StructureDefinition/bodytemp"

# alerts.md: thermometer Device MDC 65573 (MDC_MOC_VMS_MDS_SIMP), gateway MDC 531981
# (MDC_MOC_VMS_MDS_AHD), reading MDC 150364 (MDC_TEMP_BODY), LOINC 8310-5, SNOMED 386661006.
MDC_SIMPLE_DEVICE: Final = "65573"
MDC_GATEWAY: Final = "531981"
MDC_TEMP_BODY: Final = "150364"
LOINC_BODY_TEMPERATURE: Final = "8310-5"
SNOMED_FEVER: Final = "386661006"

UCUM_CODES: Final[Mapping[Unit, str]] = {Unit.CELSIUS: "Cel", Unit.FAHRENHEIT: "[degF]"}

# IEEE 11073-10408 site-specific temperature codes (partition 2, SCADA: 2 * 65536 + term):
# the code for each HTS Temperature Type; "body" is MDC_TEMP_BODY itself, so it adds none.
SITE_MDC: Final[Mapping[Site, str | None]] = {
    Site.ARMPIT: "188452",  # MDC_TEMP_AXILLA
    Site.BODY: None,
    Site.EAR: "188428",  # MDC_TEMP_EAR
    Site.FINGER: "188432",  # MDC_TEMP_FINGER
    Site.GASTROINTESTINAL: "188456",  # MDC_TEMP_GIT
    Site.MOUTH: "188424",  # MDC_TEMP_ORAL
    Site.RECTUM: "188420",  # MDC_TEMP_RECT
    Site.TOE: "188448",  # MDC_TEMP_TOE
    Site.TYMPANUM: "150392",  # MDC_TEMP_TYMP
}

# SNOMED CT findings for reported symptoms, "where one exists" (alerts.md); the rest travel
# as text only rather than under a code we are not sure of.
SYMPTOM_SNOMED: Final[Mapping[Symptom, tuple[str, str] | None]] = {
    Symptom.REDNESS: ("247441003", "Erythema"),
    Symptom.PAIN: ("22253000", "Pain"),
    Symptom.PUS: None,
    Symptom.WARMTH: None,
    Symptom.BLEEDING: ("131148009", "Bleeding"),
    Symptom.SWELLING: ("65124004", "Swelling"),
    Symptom.FEVER: (SNOMED_FEVER, "Fever"),
    Symptom.CHILLS: ("43724002", "Chill"),
    Symptom.OTHER: None,
}

Resource = dict[str, object]


def _urn(*facts: str) -> str:
    return f"urn:uuid:{derived_id(*facts)}"


@dataclass(frozen=True, slots=True)
class BuiltResource:
    """One resource built by this module, ready to be an entry of any Bundle.

    ``resource`` is its JSON (``resourceType`` included, decimals as :class:`Decimal`);
    ``full_url`` is the ``urn:uuid:`` other entries reference it by; ``identifier`` is the
    (system, value) a transaction's ``ifNoneExist`` matches on.
    """

    full_url: str
    resource: Resource
    identifier: tuple[str, str]


def transaction_entry(built: BuiltResource) -> Resource:
    """A transaction Bundle entry: ``POST`` it unless a resource with its identifier exists."""
    system, value = built.identifier
    return {
        "fullUrl": built.full_url,
        "resource": built.resource,
        "request": {
            "method": "POST",
            "url": built.resource["resourceType"],
            "ifNoneExist": f"identifier={system}|{value}",
        },
    }


def collection_entry(built: BuiltResource) -> Resource:
    """A collection Bundle entry (an export): the resource and its ``fullUrl``, no request."""
    return {"fullUrl": built.full_url, "resource": built.resource}


def _built(
    resource_type: str, full_url: str, resource: Resource, key: tuple[str, str]
) -> BuiltResource:
    return BuiltResource(full_url, {"resourceType": resource_type, **resource}, key)


def _coding(system: str, code: str, display: str) -> dict[str, str]:
    return {"system": system, "code": code, "display": display}


def thermometer_device(context: AlertContext) -> BuiltResource:
    """The thermometer as a PHD ``Device`` (MDC_MOC_VMS_MDS_SIMP), identified by its IEEE
    System Id when known, else its Bluetooth address (alerts.md, "FHIR R4")."""
    thermometer = context.thermometer
    identifiers: list[dict[str, object]] = []
    if thermometer.system_id:
        identifiers.append(
            {
                "type": {"coding": [_coding(DEVICE_ID_TYPE, "SYSID", "IEEE 11073 System Id")]},
                "system": IEEE_SYSTEM_ID_SYSTEM,
                "value": thermometer.system_id.upper(),
            }
        )
    if thermometer.address:
        identifiers.append(
            {
                "type": {"coding": [_coding(DEVICE_ID_TYPE, "BTMAC", "Bluetooth MAC address")]},
                "system": BLUETOOTH_SYSTEM,
                "value": thermometer.address.upper(),
            }
        )
    first = identifiers[0]
    full_url = _urn("fhir-device", str(first["system"]), str(first["value"]))
    resource: Resource = {
        "identifier": identifiers,
        "type": {"coding": [_coding(MDC, MDC_SIMPLE_DEVICE, "MDC_MOC_VMS_MDS_SIMP")]},
    }
    if thermometer.manufacturer:
        resource["manufacturer"] = thermometer.manufacturer
    if thermometer.model:
        resource["modelNumber"] = thermometer.model
    return _built("Device", full_url, resource, (str(first["system"]), str(first["value"])))


def gateway_device(context: AlertContext) -> BuiltResource:
    """This portwatch as the PHD gateway ``Device`` (MDC_MOC_VMS_MDS_AHD) that relayed the
    readings, identified by a URI derived from its gateway id."""
    value = _urn("gateway", context.gateway_id)
    resource: Resource = {
        "identifier": [{"system": URI_SYSTEM, "value": value}],
        "type": {"coding": [_coding(MDC, MDC_GATEWAY, "MDC_MOC_VMS_MDS_AHD")]},
        "deviceName": [
            {"name": f"portwatch gateway {context.gateway_id}", "type": "user-friendly-name"}
        ],
        "version": [{"value": context.gateway_version}],
    }
    return _built("Device", value, resource, (URI_SYSTEM, value))


def observation_identifier(context: AlertContext, observation: Observation) -> str:
    """The reading's deterministic identifier: the same reading gives the same one always."""
    return _urn(
        context.patient,
        "observation",
        observation.device,
        observation.time.astimezone(UTC).isoformat(),
        str(observation.value),
        observation.unit.value,
    )


def body_temperature(
    context: AlertContext,
    observation: Observation,
    thermometer: BuiltResource,
    gateway: BuiltResource,
) -> BuiltResource:
    """The observation as a ``bodytemp`` ``Observation`` in the device's own unit (UCUM),
    citing the thermometer and the gateway, identified by :func:`observation_identifier`
    (so the same reading in an alert and in an export is one resource at the clinic)."""
    thermometer_url, gateway_url = thermometer.full_url, gateway.full_url
    value = observation_identifier(context, observation)
    codings = [
        _coding(LOINC, LOINC_BODY_TEMPERATURE, "Body temperature"),
        _coding(MDC, MDC_TEMP_BODY, "MDC_TEMP_BODY"),
    ]
    site_code = None if observation.site is None else SITE_MDC[observation.site]
    if site_code is not None and observation.site is not None:
        codings.append(_coding(MDC, site_code, f"temperature, {observation.site.value}"))
    ucum = UCUM_CODES[observation.unit]
    resource: Resource = {
        "meta": {"profile": [BODYTEMP_PROFILE]},
        "identifier": [{"system": URI_SYSTEM, "value": value}],
        "status": "final",
        "category": [
            {
                "coding": [_coding(OBSERVATION_CATEGORY, "vital-signs", "Vital Signs")],
                "text": "Vital Signs",
            }
        ],
        "code": {"coding": codings, "text": "Body temperature"},
        "subject": {"reference": context.patient},
        "effectiveDateTime": observation.time.astimezone(UTC).isoformat(),
        "valueQuantity": {
            "value": observation.value,
            "unit": ucum,
            "system": UCUM,
            "code": ucum,
        },
        "extension": [
            {"url": GATEWAY_DEVICE_EXTENSION, "valueReference": {"reference": gateway_url}}
        ],
    }
    if is_manual(observation):
        # A hand reading: an ordinary thermometer, typed in; no Bluetooth device made it.
        resource["method"] = {"text": MANUAL_METHOD}
    else:
        resource["device"] = {"reference": thermometer_url}
    return _built("Observation", value, resource, (URI_SYSTEM, value))


def is_manual(observation: Observation) -> bool:
    """A reading typed in by hand (`portwatch add`, the page's form): fever-rule.md §8."""
    return observation.device == MANUAL_DEVICE


def _communication(
    alert: Alert, context: AlertContext, gateway_url: str, observation_urls: list[str]
) -> tuple[str, Resource]:
    value = f"urn:uuid:{alert.id}"
    info = KIND_INFO[alert.kind]
    category = "notification" if alert.kind is AlertKind.TEST else "alert"
    payload: list[dict[str, str]] = [{"contentString": alert.summary}]
    reason_codes: list[dict[str, object]] = []
    if info.fever:
        reason_codes.append({"coding": [_coding(SNOMED, SNOMED_FEVER, "Fever")], "text": "Fever"})
    for symptom in alert.symptoms:
        coded = SYMPTOM_SNOMED[symptom]
        if coded is not None:
            reason_codes.append({"coding": [_coding(SNOMED, *coded)], "text": symptom.value})
        payload.append({"contentString": f"symptom: {symptom.value}"})
    if alert.note:
        payload.append({"contentString": f"note: {alert.note}"})
    resource: Resource = {
        "identifier": [{"system": URI_SYSTEM, "value": value}],
        "status": "completed",
        "category": [{"coding": [_coding(COMMUNICATION_CATEGORY, category, category.title())]}],
        "priority": alert.priority.value,
        "subject": {"reference": context.patient},
        "sent": alert.time.astimezone(UTC).isoformat(),
        "recipient": [{"reference": context.clinic}],
        "sender": {"reference": gateway_url},
        "payload": payload,
    }
    if alert.kind is AlertKind.TEST:
        resource["meta"] = {"tag": [TEST_TAG]}
    if reason_codes:
        resource["reasonCode"] = reason_codes
    if observation_urls:
        resource["reasonReference"] = [{"reference": url} for url in observation_urls]
    return value, resource


def fhir_bundle(alert: Alert, context: AlertContext) -> Resource:
    """The alert as a transaction Bundle (a JSON-ready dict, checked by the R4B models).

    Raises:
        PayloadError: the alert kind does not travel as FHIR (the heartbeat is JSON-only).
    """
    if not KIND_INFO[alert.kind].fhir:
        raise PayloadError(f"{alert.kind.value} alerts travel on the JSON channel only")
    from fhir.resources.R4B.bundle import Bundle  # heavy import, kept off module import

    thermometer = thermometer_device(context)
    gateway = gateway_device(context)
    entries = [transaction_entry(gateway)]
    # The thermometer Device only when a reading (or a symptom report) is about it: not
    # for hand readings alone, and not for a test, which creates nothing a real alert
    # would not.
    from_device = not alert.observations or any(not is_manual(o) for o in alert.observations)
    if from_device and alert.kind is not AlertKind.TEST:
        entries.insert(0, transaction_entry(thermometer))
    observation_urls: list[str] = []
    seen: set[str] = set()
    for observation in alert.observations:
        built = body_temperature(context, observation, thermometer, gateway)
        if built.full_url in seen:
            continue
        seen.add(built.full_url)
        observation_urls.append(built.full_url)
        entries.append(transaction_entry(built))
    url, communication = _communication(alert, context, gateway.full_url, observation_urls)
    entries.append(
        transaction_entry(_built("Communication", url, communication, (URI_SYSTEM, url)))
    )
    document: Resource = {"resourceType": "Bundle", "type": "transaction", "entry": entries}
    try:
        Bundle.model_validate(document)
    except ValueError as exc:  # pydantic's ValidationError; a bug in the builders above
        raise PayloadError(f"Bundle for alert {alert.id} fails the R4B models: {exc}") from exc
    return document


# Decimals travel as JSON numbers with the digits the device sent ("38.30" stays 38.30:
# FHIR decimals carry their precision). json cannot write a raw number for a Decimal, so
# it writes a marked string that is then unquoted.
_MARKED_DECIMAL: Final = re.compile(r'"\\u0000dec:(-?[0-9]+(?:\.[0-9]+)?)"')


def _mark_decimal(value: object) -> str:
    if isinstance(value, Decimal) and value.is_finite():
        return f"\x00dec:{value:f}"
    raise TypeError(f"cannot write {type(value).__name__} into a FHIR Bundle")


def exact_json(document: object, **options: Any) -> str:
    """``json.dumps(document, **options)`` with every Decimal a number of its own digits."""
    return _MARKED_DECIMAL.sub(r"\1", json.dumps(document, default=_mark_decimal, **options))


def fhir_body(alert: Alert, context: AlertContext) -> str:
    """The Bundle as the exact body stored in the outbox and sent (decimals kept exact)."""
    return exact_json(fhir_bundle(alert, context), sort_keys=True, separators=(",", ":"))
