"""Channels fail alone (issue 21, "Stage isolation"): a broken notification channel never
holds back, nor cancels, delivery to the clinic.

Real HTTP to the reference inbox on loopback, the real log on a temporary file. The broken
channel is (1) a real NotifySender whose CA file is missing, which requests reports as a
plain OSError, and (2) a sender with a bug (it raises), the one stand-in here: the case the
Deliverer's own supervision exists for.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest

from portwatch.alerts.delivery import (
    Answer,
    ClinicEndpoint,
    ClinicSender,
    Deliverer,
    NotifyEndpoint,
    NotifySender,
)
from portwatch.alerts.notices import NoticeKind
from portwatch.alerts.outbound import notice_entry
from portwatch.alerts.payloads import ClinicFormat
from portwatch.log.store import OutboxEntry, OutboxRow, Store

from .conftest import Inbox, make_row


class BuggySender:
    """A sender with a bug: every send raises (what no real sender should do)."""

    def __init__(self) -> None:
        self.calls = 0

    async def send(self, row: OutboxRow, now: datetime) -> Answer:
        self.calls += 1
        raise RuntimeError("a bug in a sender")


@pytest.fixture
def clinic(inbox: Inbox, secret_key: bytes) -> Iterator[ClinicSender]:
    made = ClinicSender(
        ClinicEndpoint(inbox.url, ClinicFormat.JSON, secret_key), signing_time=inbox.clock.now
    )
    yield made
    made.close()


async def test_notify_sender_answers_with_an_error_when_its_ca_file_is_missing(
    tmp_path: Path,
) -> None:
    """requests raises a plain OSError for a missing CA file: the poster answers instead."""
    endpoint = NotifyEndpoint("https://127.0.0.1:9/topic", ca_bundle=tmp_path / "missing.pem")
    sender = NotifySender(endpoint)
    row = make_row(channel="notify", body='{"title": "t", "message": "m"}')
    try:
        answer = await sender.send(row, row.created_at)
    finally:
        sender.close()
    assert answer == Answer(None, error="request failed locally (OSError)")


async def test_clinic_alert_is_delivered_when_another_channel_raises_every_time(
    log: Store,
    inbox: Inbox,
    clinic: ClinicSender,
    fever_row: OutboxEntry,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The notify channel's loop fails at every start; the clinic's goes on, one ERROR."""
    clock = inbox.clock
    notice = notice_entry(
        NoticeKind.ALERT_STUCK, {"what": "x", "since": "y"}, key="k", patient="P", now=clock.now()
    )
    log.enqueue([notice])
    buggy = BuggySender()
    deliverer = Deliverer(
        log, {"notify": buggy, "clinic": clinic}, clock, lambda *_: None, rng=random.Random(1)
    )
    task = asyncio.create_task(deliverer.run())
    try:
        async with asyncio.timeout(10):
            # Real HTTP in a worker thread, and restarts on the clock: no time is waited for.
            while not inbox.store.alerts() or buggy.calls < 3:
                await clock.advance(1.0)
                await asyncio.sleep(0.01)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    assert [a["id"] for a in inbox.store.alerts()] == [fever_row.id]
    row = log.outbox_get(fever_row.id)
    assert row is not None
    assert row.status == "delivered"
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert [r.getMessage() for r in errors] == ["delivery-notify: stage failed; restarting it"]
