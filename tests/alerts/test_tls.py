"""TLS to the clinic: certificates are verified, a private CA bundle can be configured.

The clinic is an aiohttp server on loopback serving https with a certificate from a
throwaway CA (trustme); the gateway must refuse it until that CA is configured.
"""

from __future__ import annotations

import random
import ssl
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import trustme
from aiohttp import web

from portwatch.alerts.delivery import ClinicEndpoint, ClinicSender, Deliverer
from portwatch.alerts.outbox import clinic_entry
from portwatch.alerts.payloads import AlertContext, ClinicFormat, fever_alert
from portwatch.clock import VirtualClock
from portwatch.log.store import OutboxEntry, OutboxRow, Store
from portwatch.model import Decision


@pytest.fixture
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
async def https_clinic(ca: trustme.CA) -> AsyncIterator[str]:
    """An https endpoint on 127.0.0.1 that answers 200 to every POST."""

    async def accept(request: web.Request) -> web.Response:
        await request.read()
        return web.Response(status=200)

    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(context)
    app = web.Application()
    app.add_routes([web.post("/hook", accept)])
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=context)
    await site.start()
    host, port = runner.addresses[0][:2]
    try:
        yield f"https://{host}:{port}/hook"
    finally:
        await runner.cleanup()


async def _send_once(
    url: str, ca_bundle: Path | None, outbox: Store, row: OutboxEntry, key: bytes,
    clock: VirtualClock,
) -> OutboxRow | None:  # fmt: skip
    endpoint = ClinicEndpoint(url, ClinicFormat.JSON, key, ca_bundle=ca_bundle)
    sender = ClinicSender(endpoint, signing_time=clock.now)
    try:
        await Deliverer(outbox, {"clinic": sender}, clock, lambda *a: None,
                        rng=random.Random(3)).flush()  # fmt: skip
    finally:
        sender.close()
    return outbox.outbox_get(row.id)


@pytest.fixture
def row(
    log: Store, fever_decision: Decision, context: AlertContext, clock: VirtualClock
) -> OutboxEntry:
    entry = clinic_entry(fever_alert(fever_decision), context, ClinicFormat.JSON, clock.now())
    log.record_decisions([fever_decision], [entry])
    return entry


async def test_delivery_retries_with_tls_error_when_clinic_certificate_is_untrusted(
    https_clinic: str, log: Store, row: OutboxEntry, secret_key: bytes, clock: VirtualClock
) -> None:
    """An unknown certificate is never accepted; the alert stays queued and says why."""
    sent = await _send_once(https_clinic, None, log, row, secret_key, clock)
    assert sent is not None
    assert (sent.status, sent.last_error) == ("pending", "TLS verification failed")


async def test_delivery_succeeds_when_private_ca_bundle_is_configured(
    https_clinic: str, log: Store, row: OutboxEntry, secret_key: bytes, clock: VirtualClock,
    ca: trustme.CA, tmp_path: Path,
) -> None:  # fmt: skip
    """A clinic with a private CA works once its bundle is configured, and verification stays on."""
    bundle = tmp_path / "clinic-ca.pem"
    ca.cert_pem.write_to_path(str(bundle))
    sent = await _send_once(https_clinic, bundle, log, row, secret_key, clock)
    assert sent is not None
    assert (sent.status, sent.last_status) == ("delivered", 200)
