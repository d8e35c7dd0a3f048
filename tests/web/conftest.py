"""Fixtures for the caregiver page: a real log (SQLite) with two days of a patient's record,
and the real app on loopback. Nothing of ours is faked; time is a VirtualClock."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer

from portwatch.alerts.payloads import AlertContext, ClinicFormat, Thermometer
from portwatch.clock import VirtualClock
from portwatch.log.store import OutboxEntry, Store
from portwatch.model import (
    Decision,
    DecisionType,
    LinkEvent,
    LinkEventKind,
    Observation,
    Reading,
    ReadingKind,
    Unit,
    derived_id,
)
from portwatch.web.app import WebSettings, make_app
from portwatch.web.login import CodeStore
from portwatch.web.source import ClinicTarget
from portwatch.web.view import DisplaySettings

from .browser import CHROMIUM

PLACEMENT = datetime(2026, 11, 18, 9, 0, tzinfo=UTC)
NOW = PLACEMENT + timedelta(days=1, hours=20)  # 20 Nov 05:00: day 3 of 10 (18 Nov is day 1)
TOKEN = "test-token-0123456789abcdef"
DEVICE = "AA:BB:CC:DD:EE:FF"
PATIENT = "Patient/pw-demo-1"


def reading(when: datetime, celsius: float, kind: ReadingKind = ReadingKind.SPOT) -> Reading:
    value = Decimal(f"{celsius:.1f}")
    return Reading(
        device=DEVICE,
        kind=kind,
        value=value,
        unit=Unit.CELSIUS,
        celsius=float(value),
        time=when,
        received_at=when,
        interval_s=60.0 if kind is ReadingKind.STREAM else None,
    )


def populate(path: Path) -> None:
    """Day 1: a stream at 1/min, a 3-hour gap, a shower. Day 2: a fever confirmed and alerted."""
    first = PLACEMENT + timedelta(days=1, hours=6)
    second = first + timedelta(hours=4)
    readings = [
        reading(PLACEMENT + timedelta(minutes=m), 36.9, ReadingKind.STREAM)
        for m in range(24 * 60)
        if not 600 <= m < 780  # no readings 19:00-22:00 on day 1
    ]
    readings += [reading(first, 38.5), reading(second, 38.6), reading(NOW, 37.2)]
    obs = tuple(
        Observation(r.time, r.celsius or 0.0, r.value or Decimal(0), r.unit, DEVICE)
        for r in readings[-3:-1]
    )
    elevated = Decision(
        derived_id("web-test", "first"),
        DecisionType.ELEVATED_FIRST,
        first,
        "Elevated 101.3 °F at 15:00; recheck due 19:00.",
        observations=obs[:1],
        due=second,
    )
    confirmed = Decision(
        derived_id("web-test", "confirmed"),
        DecisionType.FEVER_CONFIRMED,
        second,
        "Fever confirmed: 101.3 °F then 101.5 °F, 4 hours apart.",
        observations=obs,
    )
    alert = OutboxEntry(
        id=str(confirmed.id),
        channel="clinic",
        kind="fever.confirmed",
        priority="urgent",
        created_at=second,
        body='{"summary": "Fever confirmed: 101.3 °F then 101.5 °F, 4 hours apart."}',
        content_type="application/json",
        decision_id=str(confirmed.id),
    )
    with Store.open(path) as store:
        store.add_readings(readings)
        store.add_event(LinkEvent(LinkEventKind.CONNECTED, DEVICE, PLACEMENT))
        store.add_event(LinkEvent(LinkEventKind.BATTERY, DEVICE, PLACEMENT, battery_percent=77))
        store.add_note(
            PLACEMENT + timedelta(hours=2), PLACEMENT + timedelta(hours=2, minutes=20), "shower"
        )
        store.record_decisions([elevated, confirmed], [alert])


@pytest.fixture(autouse=True)
def no_settings_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """The commands read /etc/portwatch/portwatch.toml when it exists; not in these tests."""
    monkeypatch.setenv("PORTWATCH_CONFIG", str(tmp_path / "no-such-settings.toml"))


@pytest.fixture
def display() -> DisplaySettings:
    return DisplaySettings(placement=PLACEMENT, patient=PATIENT)


@pytest.fixture
def target() -> ClinicTarget:
    context = AlertContext(
        PATIENT, "Organization/clinic-1", "gw-test", "0.1.0", Thermometer(DEVICE)
    )
    return ClinicTarget(context, ClinicFormat.JSON)


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    path = tmp_path / "state" / "portwatch.db"
    populate(path)
    return path


@pytest.fixture
def clock() -> VirtualClock:
    return VirtualClock(NOW)


@pytest.fixture
async def client(
    db_path: Path, display: DisplaySettings, target: ClinicTarget, clock: VirtualClock
) -> AsyncIterator[TestClient[object, object]]:
    app = make_app(db_path, WebSettings(token=TOKEN), display, target, clock)
    async with TestClient(TestServer(app, host="127.0.0.1")) as test_client:
        yield test_client


async def log_in(client: TestClient[object, object], db_path: Path, now: datetime) -> None:
    """Open a fresh one-time link, as a phone does once, so that `client` holds the cookie."""
    code = CodeStore(db_path.parent).issue(now)
    response = await client.get(f"/login?code={code}", allow_redirects=False)
    assert response.status == 303


@pytest.fixture
async def authed(
    client: TestClient[object, object], db_path: Path, clock: VirtualClock
) -> TestClient[object, object]:
    """A client that has been through a one-time link once and holds the cookie."""
    await log_in(client, db_path, clock.now())
    return client


@pytest.fixture
def chromium_installed() -> None:
    """The browser tests' system edge: missing, they fail and say how to install it."""
    assert Path(CHROMIUM).exists(), f"{CHROMIUM} missing: tests/system-deps installs chromium"
