"""Fixtures for the alert tests: a patient's context, readings and decisions as literals."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from aiohttp import web

from portwatch.alerts.delivery import ClinicSender, NotifySender
from portwatch.alerts.outbox import clinic_entry
from portwatch.alerts.payloads import AlertContext, ClinicFormat, Thermometer, fever_alert
from portwatch.alerts.signing import parse_secret
from portwatch.clock import VirtualClock
from portwatch.log.store import OutboxEntry, OutboxRow, OutboxStatus, Store
from portwatch.model import Decision, DecisionType, Observation, Site, Unit
from portwatch.sim.inbox import InboxStore, make_app

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
    return parse_secret(TEST_SECRET_TEXT)


# --- loopback servers -------------------------------------------------------------------

START = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


@dataclass
class Script:
    """What the server in front of the inbox answers, request by request, before passing
    requests through. Items: a status, (status, headers[, text]), "hang" (never answers) or
    "hold" (answers as the inbox does once ``release`` is set)."""

    steps: list[object] = field(default_factory=list)
    seen: list[dict[str, str]] = field(default_factory=list)
    bodies: list[bytes] = field(default_factory=list)
    release: asyncio.Event = field(default_factory=asyncio.Event)


@dataclass
class Inbox:
    url: str
    store: InboxStore
    script: Script
    clock: VirtualClock


async def serve(app: web.Application) -> tuple[web.AppRunner, str]:
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    return runner, f"http://{host}:{port}"


def scripted(script: Script) -> Callable[..., object]:
    @web.middleware
    async def middleware(request: web.Request, handler: Callable[..., object]) -> object:
        if request.method == "POST" and request.path in ("/", "/webhook"):
            script.seen.append(dict(request.headers))
            script.bodies.append(await request.read())
            if script.steps:
                step = script.steps.pop(0)
                if step == "hang":
                    await script.release.wait()
                    return web.Response(status=503)
                if step == "hold":
                    await script.release.wait()
                    return await handler(request)  # type: ignore[operator]
                status, headers, *text = step if isinstance(step, tuple) else (step, {})
                body = text[0] if text else f"scripted {status}"
                return web.Response(status=status, headers=headers, text=body)
        return await handler(request)  # type: ignore[operator]

    return middleware


@pytest.fixture
def clock() -> VirtualClock:
    return VirtualClock(START)


@pytest.fixture
async def inbox(tmp_path: Path, secret_key: bytes, clock: VirtualClock) -> AsyncIterator[Inbox]:
    """The reference inbox on loopback, behind a scripted front that fails on demand."""
    store = InboxStore(tmp_path / "inbox.db")
    script = Script()
    app = make_app(secret_key, store, clock)
    app.middlewares.append(scripted(script))  # type: ignore[arg-type]
    runner, url = await serve(app)
    try:
        yield Inbox(url=f"{url}/webhook", store=store, script=script, clock=clock)
    finally:
        script.release.set()
        await runner.cleanup()
        store.close()


@pytest.fixture(autouse=True)
def no_secret_in_logs(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    """Every alerts test, at DEBUG: the secret never reaches a log line in any form."""
    caplog.set_level(logging.DEBUG)
    yield
    key = parse_secret(TEST_SECRET_TEXT)
    forms = (TEST_SECRET_TEXT.removeprefix("whsec_"), key.hex(), repr(key)[2:-1])
    records = [*caplog.get_records("setup"), *caplog.get_records("call")]
    text = "\n".join(record.getMessage() for record in records)
    leaked = [form for form in forms if form in text]
    assert not leaked, "a secret reached the log"


# --- the log ------------------------------------------------------------------------------


@pytest.fixture
def log_path(tmp_path: Path) -> Path:
    return tmp_path / "portwatch.db"


@pytest.fixture
def log(log_path: Path) -> Iterator[Store]:
    """The real log (store.py) on a temporary file: the outbox delivery reads and writes."""
    store = Store.open(log_path)
    try:
        yield store
    finally:
        store.close()


def make_row(**fields: object) -> OutboxRow:
    """An outbox row in a given delivery state, for the pure policy and listing tests."""
    at = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
    defaults: dict[str, object] = {
        "id": "r", "channel": "clinic", "kind": "fever.confirmed", "priority": "urgent",
        "created_at": at, "body": "{}", "content_type": "application/json",
        "decision_id": None, "status": OutboxStatus.PENDING, "attempts": 0,
        "next_attempt_at": at, "last_attempt_at": None, "last_status": None,
        "last_error": None, "delivered_at": None, "escalated_at": None,
    }  # fmt: skip
    return OutboxRow(**{**defaults, **fields})  # type: ignore[arg-type]


@pytest.fixture
def senders() -> Iterator[list[ClinicSender | NotifySender]]:
    """Every sender a test makes, closed at the end (their sockets would warn otherwise)."""
    made: list[ClinicSender | NotifySender] = []
    yield made
    for sender in made:
        sender.close()


@pytest.fixture
def fever_row(
    log: Store, fever_decision: Decision, context: AlertContext, clock: VirtualClock
) -> OutboxEntry:
    """The fever alert's entry, committed with its decision as the daemon does."""
    entry = clinic_entry(fever_alert(fever_decision), context, ClinicFormat.JSON, clock.now())
    log.record_decisions([fever_decision], [entry])
    return entry
