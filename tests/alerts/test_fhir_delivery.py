"""A FHIR Bundle sent to a loopback FHIR server that honours ifNoneExist (alerts.md, "FHIR R4").

The server is a stand-in for a clinic's FHIR server, a true system edge: a small aiohttp
app that processes transaction Bundles the way R4 specifies conditional create (create when
nothing matches the ifNoneExist search, else answer 200 with the existing resource).
"""

from __future__ import annotations

import random
import re
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiohttp import web

from portwatch.alerts.delivery import ClinicEndpoint, ClinicSender, Deliverer
from portwatch.alerts.outbox import clinic_entry
from portwatch.alerts.payloads import AlertContext, ClinicFormat, fever_alert
from portwatch.clock import VirtualClock
from portwatch.log.store import Store
from portwatch.model import Decision, DecisionType

from .conftest import serve

CONDITION = re.compile(r"identifier=([^|]+)\|(.+)")


@dataclass
class FhirServer:
    url: str = ""
    created: dict[tuple[str, str, str], str] = field(default_factory=dict)
    posts: int = 0


@pytest.fixture
async def fhir_server() -> AsyncIterator[FhirServer]:
    server = FhirServer()

    async def transaction(request: web.Request) -> web.Response:
        server.posts += 1
        bundle: dict[str, Any] = await request.json()
        if bundle.get("resourceType") != "Bundle" or bundle.get("type") != "transaction":
            return web.json_response({"resourceType": "OperationOutcome"}, status=400)
        responses = []
        for entry in bundle["entry"]:
            resource, req = entry["resource"], entry["request"]
            match = CONDITION.fullmatch(req["ifNoneExist"])
            if req["method"] != "POST" or match is None:
                return web.json_response({"resourceType": "OperationOutcome"}, status=400)
            system, value = match.groups()
            if {"system": system, "value": value} not in [
                {"system": i.get("system"), "value": i.get("value")} for i in resource["identifier"]
            ]:
                return web.json_response({"resourceType": "OperationOutcome"}, status=412)
            key = (req["url"], system, value)
            if key in server.created:
                responses.append({"response": {"status": "200 OK"}})
            else:
                server.created[key] = str(uuid.uuid4())
                responses.append({"response": {"status": "201 Created"}})
        return web.json_response(
            {"resourceType": "Bundle", "type": "transaction-response", "entry": responses}
        )

    app = web.Application()
    app.add_routes([web.post("/fhir", transaction)])
    runner, base = await serve(app)
    server.url = f"{base}/fhir"
    try:
        yield server
    finally:
        await runner.cleanup()


async def test_fhir_bundle_creates_each_resource_once_when_sent_three_times(
    fhir_server: FhirServer,
    fever_decision: Decision,
    context: AlertContext,
    secret_key: bytes,
    clock: VirtualClock,
    log: Store,
) -> None:
    """Resends of one alert create 2 Devices, 2 Observations and 1 Communication, once."""
    sender = ClinicSender(
        ClinicEndpoint(fhir_server.url, ClinicFormat.FHIR, secret_key), signing_time=clock.now
    )
    outbox = log
    row = clinic_entry(fever_alert(fever_decision), context, ClinicFormat.FHIR, clock.now())
    outbox.record_decisions([fever_decision], [row])
    deliverer = Deliverer(outbox, {"clinic": sender}, clock, lambda *a: None, rng=random.Random(1))
    try:
        for _ in range(3):
            outbox.outbox_requeue(row.id, clock.now())
            await deliverer.flush()
            assert outbox.outbox_get(row.id).status == "delivered"  # type: ignore[union-attr]
        # A later "ongoing" alert citing the same second reading adds only what is new.
        ongoing = Decision(
            id=uuid.UUID("5f0c2d9e-3b1a-5c7e-9d4f-8a6b2e1c0d3f"),
            type=DecisionType.FEVER_ONGOING,
            time=fever_decision.time,
            summary="Fever ongoing.",
            observations=fever_decision.observations[1:],
        )
        later = clinic_entry(fever_alert(ongoing), context, ClinicFormat.FHIR, clock.now())
        outbox.record_decisions([ongoing], [later])
        await deliverer.flush()
    finally:
        sender.close()
    assert fhir_server.posts == 4
    kinds = sorted(key[0] for key in fhir_server.created)
    assert kinds == [
        "Communication",
        "Communication",
        "Device",
        "Device",
        "Observation",
        "Observation",
    ]
