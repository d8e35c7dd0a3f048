"""Fixtures for the alert tests: a patient's context, readings and decisions as literals."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from portwatch.alerts.payloads import AlertContext, Thermometer
from portwatch.model import Decision, DecisionType, Observation, Site, Unit

ADDRESS = "aa:bb:cc:dd:ee:01"
# A throwaway Standard Webhooks secret for tests only (24 random bytes, base64).
TEST_SECRET_TEXT = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


@pytest.fixture
def context() -> AlertContext:
    return AlertContext(
        patient="Patient/p-17",
        clinic="Organization/port-clinic",
        gateway_id="pi-0042",
        gateway_version="0.1.0",
        thermometer=Thermometer(
            address=ADDRESS, system_id="00a0b1fffe000001", model="TH-1", manufacturer="Acme"
        ),
    )


@pytest.fixture
def fever_decision() -> Decision:
    """A confirmed fever: 101.2 °F at 08:00 and 101.4 °F at 12:00 (mouth), the second late."""
    first = Observation(
        time=datetime(2026, 11, 20, 8, 0, tzinfo=UTC),
        celsius=38.44,
        value=Decimal("101.2"),
        unit=Unit.FAHRENHEIT,
        device=ADDRESS,
        site=Site.MOUTH,
    )
    second = Observation(
        time=datetime(2026, 11, 20, 12, 0, tzinfo=UTC),
        celsius=38.56,
        value=Decimal("101.4"),
        unit=Unit.FAHRENHEIT,
        device=ADDRESS,
        site=Site.MOUTH,
        late=True,
    )
    return Decision(
        id=uuid.UUID("0b7e4a8c-51f2-5d39-8a3e-2c4f6a1b9d70"),
        type=DecisionType.FEVER_CONFIRMED,
        time=datetime(2026, 11, 20, 12, 1, tzinfo=UTC),
        summary="Fever confirmed: 101.2 °F at 08:00 and 101.4 °F at 12:00 UTC (mouth).",
        observations=(first, second),
        late=True,
        settings=(("threshold", "101.0 F"), ("min_separation", "4h")),
    )


@pytest.fixture
def secret_key() -> bytes:
    from portwatch.alerts.signing import parse_secret

    return parse_secret(TEST_SECRET_TEXT)
