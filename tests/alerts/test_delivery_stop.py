"""A clean stop does not leave an accepted alert unrecorded (issue 7: the outbox consistent).

The daemon stops delivery by cancelling it (SIGTERM). A POST already on the wire then is
answered by the clinic; unless that answer is recorded, the row stays pending and the next
start sends it again (the inbox drops it by webhook-id, but a phone would show a notice
twice). Real HTTP to the reference inbox on loopback, the real log on a temporary file.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Iterator

import pytest

from portwatch.alerts.delivery import (
    STOP_ANSWER_GRACE_S,
    ClinicEndpoint,
    ClinicSender,
    Deliverer,
)
from portwatch.alerts.payloads import ClinicFormat
from portwatch.log.store import OutboxEntry, Store

from .conftest import Inbox


@pytest.fixture
def sender(inbox: Inbox, secret_key: bytes) -> Iterator[ClinicSender]:
    made = ClinicSender(
        ClinicEndpoint(inbox.url, ClinicFormat.JSON, secret_key), signing_time=inbox.clock.now
    )
    yield made
    made.close()


async def _cancel_mid_post(
    log: Store, inbox: Inbox, sender: ClinicSender, answer_after_cancel: bool
) -> None:
    deliverer = Deliverer(
        log, {"clinic": sender}, inbox.clock, lambda *_: None, rng=random.Random(7)
    )
    inbox.script.steps.append("hold")
    flushing = asyncio.create_task(deliverer.flush())
    async with asyncio.timeout(10):
        # Waiting for the POST to reach the server (real I/O), not for time to pass.
        while not inbox.script.seen:  # noqa: ASYNC110
            await asyncio.sleep(0.01)
    flushing.cancel()
    if answer_after_cancel:
        inbox.script.release.set()  # the clinic answers while the daemon is stopping
    with pytest.raises(asyncio.CancelledError):
        await flushing


async def test_alert_is_recorded_delivered_when_stopped_while_its_post_is_answered(
    log: Store, inbox: Inbox, sender: ClinicSender, fever_row: OutboxEntry
) -> None:
    """The alert the clinic took during a stop must not be sent again after the restart."""
    await _cancel_mid_post(log, inbox, sender, answer_after_cancel=True)
    row = log.outbox_get(fever_row.id)
    assert (row.status, row.attempts, row.last_status) == ("delivered", 1, 200)
    assert inbox.store.count() == 1


async def test_alert_stays_pending_when_the_clinic_does_not_answer_within_the_grace(
    log: Store, inbox: Inbox, sender: ClinicSender, fever_row: OutboxEntry
) -> None:
    """No answer in the grace: the stop goes on, and the alert is still owed (sent again)."""
    loop = asyncio.get_running_loop()
    began = loop.time()
    await _cancel_mid_post(log, inbox, sender, answer_after_cancel=False)
    assert loop.time() - began < STOP_ANSWER_GRACE_S + 5  # the stop is bounded
    row = log.outbox_get(fever_row.id)
    assert (row.status, row.attempts) == ("pending", 0)
    inbox.script.release.set()
