"""Alert building speed: portwatch's payloads against the least code that sends the same.

Signed JSON: ``fever_alert`` + ``json_body`` + ``sign_headers`` (standardwebhooks) per
alert, against ``json.dumps`` of a ready dict plus one stdlib HMAC-SHA256, same content.
FHIR: ``fhir_body`` (dicts checked by fhir.resources' R4B models) against ``json.dumps`` of
the same finished Bundle dict: the ratio is the price of having the models check it.
A gateway sends a few alerts a day and a heartbeat every 15 min, so any figure in the
hundreds per second is plenty; the figures guard against a regression and show where the
time goes if a clinic ever asks for bulk exports.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from portwatch.alerts.fhir import fhir_body, fhir_bundle
from portwatch.alerts.payloads import (
    AlertContext,
    Thermometer,
    fever_alert,
    json_body,
    json_document,
)
from portwatch.alerts.signing import parse_secret, sign_headers
from portwatch.model import Decision, DecisionType, Observation, Site, Unit

KEY = parse_secret("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")  # a benchmark-only key
CONTEXT = AlertContext(
    patient="Patient/p-17",
    clinic="Organization/port-clinic",
    gateway_id="pi-0042",
    gateway_version="0.1.0",
    thermometer=Thermometer(address="aa:bb:cc:dd:ee:01", system_id="00a0b1fffe000001"),
)
NOW = datetime(2026, 11, 20, 12, 1, tzinfo=UTC)


def _decisions(count: int) -> list[Decision]:
    start = datetime(2026, 11, 20, 8, tzinfo=UTC)
    out = []
    for i in range(count):
        first = Observation(start + timedelta(minutes=i), 38.44, Decimal("101.2"),
                            Unit.FAHRENHEIT, "aa:bb:cc:dd:ee:01", Site.MOUTH)  # fmt: skip
        second = Observation(first.time + timedelta(hours=4), 38.56, Decimal("101.4"),
                             Unit.FAHRENHEIT, "aa:bb:cc:dd:ee:01", Site.MOUTH)  # fmt: skip
        out.append(
            Decision(uuid.UUID(int=i), DecisionType.FEVER_CONFIRMED, second.time,
                     "Fever confirmed.", (first, second), settings=(("threshold", "101.0 F"),))
        )  # fmt: skip
    return out


def _ours_json(decision: Decision) -> object:
    alert = fever_alert(decision)
    return sign_headers(KEY, str(alert.id), json_body(alert, CONTEXT), NOW)


def _bare_json(document: dict[str, object]) -> object:
    body = json.dumps(document, sort_keys=True, separators=(",", ":"))
    msg_id = document["data"]["id"]  # type: ignore[index]
    data = f"{msg_id}.{int(NOW.timestamp())}.{body}".encode()
    return base64.b64encode(hmac.new(KEY, data, hashlib.sha256).digest())


def _rate(work: Callable[[object], object], items: list[object], rounds: int) -> float:
    """Items per second, best of ``rounds`` passes (the least disturbed by other work)."""
    best = float("inf")
    for _ in range(rounds):
        start = time.perf_counter()
        for item in items:
            work(item)
        best = min(best, time.perf_counter() - start)
    return len(items) / best


def measure(quick: bool) -> list[dict[str, object]]:
    count, rounds = (200, 3) if quick else (2_000, 5)
    decisions = _decisions(count)
    documents = [json_document(fever_alert(d), CONTEXT) for d in decisions]
    bundles = [fhir_bundle(fever_alert(d), CONTEXT) for d in decisions[: count // 4]]
    return [
        {
            "figure": "signed JSON alerts built and signed per second",
            "value": _rate(_ours_json, list(decisions), rounds),  # type: ignore[arg-type]
            "unit": "1/s",
            "baseline": "json.dumps of a ready dict + stdlib HMAC",
            "baseline_value": _rate(_bare_json, list(documents), rounds),  # type: ignore[arg-type]
        },
        {
            "figure": "FHIR transaction Bundles built per second (R4B-checked)",
            "value": _rate(
                lambda d: fhir_body(fever_alert(d), CONTEXT),  # type: ignore[arg-type]
                list(decisions[: count // 4]),
                rounds,
            ),
            "unit": "1/s",
            "baseline": "json.dumps of the same finished Bundle dict",  # decimals as floats
            "baseline_value": _rate(
                lambda b: json.dumps(b, sort_keys=True, separators=(",", ":"), default=float),
                list(bundles),
                rounds,
            ),
        },
    ]
