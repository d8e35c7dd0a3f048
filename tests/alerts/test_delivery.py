"""Delivery to a real inbox on loopback, retry timing on a VirtualClock (alerts.md, "Delivery").

The clinic side is the reference inbox behind a scripted front that answers 500, 429, 400
or nothing on demand; requests really travel over HTTP. The outbox is the real log
(store.py) on a temporary file. No test sleeps for backoff: the clock is advanced.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import threading
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest

from portwatch.alerts.delivery import (
    ClinicEndpoint,
    ClinicSender,
    Deliverer,
    NotifyEndpoint,
    NotifySender,
    StuckReason,
)
from portwatch.alerts.outbox import clinic_entry, notify_entry
from portwatch.alerts.payloads import (
    AlertContext,
    ClinicFormat,
    GatewayState,
    Priority,
    fever_alert,
    heartbeat_alert,
)
from portwatch.clock import VirtualClock
from portwatch.log.store import WRITER_THREAD_NAME, OutboxEntry, OutboxRow, OutboxStatus, Store
from portwatch.model import Decision

from .conftest import TEST_SECRET_TEXT, Inbox

Stuck = list[tuple[str, StuckReason, str]]


@pytest.fixture
def outbox(log: Store) -> Store:
    """The outbox is the log's (store.py), on a temporary file."""
    return log


@pytest.fixture
def make_deliverer(
    inbox: Inbox, secret_key: bytes, senders: list[ClinicSender | NotifySender]
) -> Callable[..., tuple[Deliverer, Stuck]]:
    def make(outbox: Store, read_timeout_s: float = 5.0) -> tuple[Deliverer, Stuck]:
        endpoint = ClinicEndpoint(
            inbox.url, ClinicFormat.JSON, secret_key, read_timeout_s=read_timeout_s
        )
        sender = ClinicSender(endpoint, signing_time=inbox.clock.now)
        senders.append(sender)
        stuck: Stuck = []
        deliverer = Deliverer(
            outbox,
            {"clinic": sender},
            inbox.clock,
            lambda row, reason, text: stuck.append((row.id, reason, text)),
            rng=random.Random(7),
        )
        return deliverer, stuck

    return make


async def _retry_until_delivered(deliverer: Deliverer, outbox: Store, row_id: str) -> int:
    """Advance the virtual clock to each retry time and flush; return the attempts made."""
    attempts = await deliverer.flush()
    for _ in range(20):
        row = outbox.outbox_get(row_id)
        if row.status != "pending":
            break
        assert row.next_attempt_at is not None
        await deliverer._clock.advance_to(row.next_attempt_at)  # type: ignore[attr-defined]
        attempts += await deliverer.flush()
    return attempts


async def test_deliverer_marks_delivered_when_clinic_answers_200(
    outbox: Store,
    inbox: Inbox,
    make_deliverer: Callable[..., tuple[Deliverer, Stuck]],
    fever_row: OutboxEntry,
) -> None:
    """The happy path: one attempt, delivered, in the clinic's inbox with its summary."""
    deliverer, stuck = make_deliverer(outbox)
    assert await deliverer.flush() == 1
    row = outbox.outbox_get(fever_row.id)
    assert (row.status, row.last_status, row.attempts) == ("delivered", 200, 1)
    assert inbox.store.alerts()[0]["summary"].startswith("Fever confirmed")  # type: ignore[union-attr]
    assert stuck == []


async def test_deliverer_stores_alert_once_when_clinic_fails_three_times_then_accepts(
    outbox: Store,
    inbox: Inbox,
    make_deliverer: Callable[..., tuple[Deliverer, Stuck]],
    fever_row: OutboxEntry,
) -> None:
    """500 x3 then 200: four attempts, one webhook-id, exactly one stored alert."""
    inbox.script.steps = [500, 500, 500]
    deliverer, _ = make_deliverer(outbox)
    await deliverer.flush()
    first_retry = outbox.outbox_get(fever_row.id)
    assert first_retry.next_attempt_at is not None
    assert first_retry.next_attempt_at - inbox.clock.now() <= timedelta(seconds=10)
    assert await _retry_until_delivered(deliverer, outbox, fever_row.id) == 3
    assert outbox.outbox_get(fever_row.id).status == "delivered"
    assert {h["webhook-id"] for h in inbox.script.seen} == {fever_row.id}
    assert len(inbox.script.seen) == 4
    assert inbox.store.count() == 1


async def test_deliverer_does_not_resend_before_retry_is_due(
    outbox: Store,
    inbox: Inbox,
    make_deliverer: Callable[..., tuple[Deliverer, Stuck]],
    fever_row: OutboxEntry,
) -> None:
    """Backoff is real: a flush before the retry time makes no attempt."""
    inbox.script.steps = [503]
    deliverer, _ = make_deliverer(outbox)
    await deliverer.flush()
    await inbox.clock.advance(1)
    assert await deliverer.flush() == 0


async def test_deliverer_waits_retry_after_when_clinic_answers_429(
    outbox: Store,
    inbox: Inbox,
    make_deliverer: Callable[..., tuple[Deliverer, Stuck]],
    fever_row: OutboxEntry,
) -> None:
    """429 with Retry-After: 120 is honoured, then the alert is delivered."""
    inbox.script.steps = [(429, {"Retry-After": "120"})]
    deliverer, _ = make_deliverer(outbox)
    sent_at = inbox.clock.now()
    await deliverer.flush()
    row = outbox.outbox_get(fever_row.id)
    assert row.last_status == 429
    assert row.next_attempt_at is not None
    assert row.next_attempt_at - sent_at >= timedelta(seconds=120)
    await inbox.clock.advance(119)
    assert await deliverer.flush() == 0
    await inbox.clock.advance_to(row.next_attempt_at)
    await deliverer.flush()
    assert outbox.outbox_get(fever_row.id).status == "delivered"


async def test_deliverer_retries_when_clinic_read_times_out(
    outbox: Store,
    inbox: Inbox,
    make_deliverer: Callable[..., tuple[Deliverer, Stuck]],
    fever_row: OutboxEntry,
) -> None:
    """A clinic that accepts the connection but never answers is retried, not waited on."""
    inbox.script.steps = ["hang"]
    deliverer, _ = make_deliverer(outbox, read_timeout_s=0.3)
    await deliverer.flush()
    row = outbox.outbox_get(fever_row.id)
    assert (row.status, row.last_error) == ("pending", "read timeout")
    await _retry_until_delivered(deliverer, outbox, fever_row.id)
    assert outbox.outbox_get(fever_row.id).status == "delivered"


async def test_deliverer_keeps_alert_and_tells_caregiver_when_clinic_answers_400(
    outbox: Store,
    inbox: Inbox,
    make_deliverer: Callable[..., tuple[Deliverer, Stuck]],
    fever_row: OutboxEntry,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """400 is permanent: kept as failed, caregiver told at once, resend works after the fix."""
    inbox.script.steps = [400]
    deliverer, stuck = make_deliverer(outbox)
    with caplog.at_level(logging.DEBUG):
        await deliverer.flush()
        await inbox.clock.advance(3600)
        assert await deliverer.flush() == 0  # a failed row waits for a person
        assert outbox.outbox_get(fever_row.id).status == "failed"
        assert stuck == [(fever_row.id, StuckReason.REJECTED, "HTTP 400: scripted 400")]
        outbox.outbox_requeue(fever_row.id, inbox.clock.now())  # `portwatch alerts resend`
        await deliverer.flush()
    assert outbox.outbox_get(fever_row.id).status == "delivered"
    assert inbox.store.count() == 1
    assert "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw" not in caplog.text


async def test_deliverer_warns_without_health_values_when_clinic_echoes_the_alert(
    outbox: Store,
    inbox: Inbox,
    make_deliverer: Callable[..., tuple[Deliverer, Stuck]],
    fever_row: OutboxEntry,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """No temperature above DEBUG: a 422 that echoes the readings is stored, not logged."""
    inbox.script.steps = [(422, {}, f"invalid: {fever_row.body}")]
    deliverer, stuck = make_deliverer(outbox)
    await deliverer.flush()
    above_debug = [r.getMessage() for r in caplog.records if r.levelno > logging.DEBUG]
    assert any("rejected with HTTP 422" in line for line in above_debug)
    assert not [line for line in above_debug if "38.44" in line]
    assert "38.44" in (outbox.outbox_get(fever_row.id).last_error or "")
    assert stuck[0][1] is StuckReason.REJECTED


async def test_deliverer_sends_same_id_once_when_restarted_between_attempts(
    log: Store,
    log_path: Path,
    inbox: Inbox,
    make_deliverer: Callable[..., tuple[Deliverer, Stuck]],
    fever_row: OutboxEntry,
) -> None:
    """A daemon restart between attempts resends the same identifier; no duplicate is stored."""
    inbox.script.steps = [502]
    before, _ = make_deliverer(log)
    await before.flush()
    del before
    log.close()  # the daemon dies; the log file survives
    reopened = Store.open(log_path)
    try:
        after, _ = make_deliverer(reopened)
        await _retry_until_delivered(after, reopened, fever_row.id)
        reopened.outbox_requeue(fever_row.id, inbox.clock.now())  # and even a manual resend
        await after.flush()
        assert reopened.outbox_get(fever_row.id).status == "delivered"  # type: ignore[union-attr]
    finally:
        reopened.close()
    assert [h["webhook-id"] for h in inbox.script.seen] == [fever_row.id] * 3
    assert inbox.store.count() == 1


async def test_deliverer_escalates_once_when_clinic_refuses_for_fifteen_minutes(
    outbox: Store,
    inbox: Inbox,
    make_deliverer: Callable[..., tuple[Deliverer, Stuck]],
    fever_row: OutboxEntry,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """After 15 min of failure the caregiver is told once; retries go on until accepted."""
    inbox.script.steps = [500] * 40
    deliverer, stuck = make_deliverer(outbox)
    with caplog.at_level(logging.DEBUG):
        await deliverer.flush()
        await inbox.clock.advance(14 * 60)
        await deliverer.flush()
        assert stuck == []
        for _ in range(6):
            await inbox.clock.advance(120)
            await deliverer.flush()
    assert stuck == [(fever_row.id, StuckReason.ESCALATED, "HTTP 500")]
    assert outbox.outbox_get(fever_row.id).status == "pending"
    inbox.script.steps = []
    await _retry_until_delivered(deliverer, outbox, fever_row.id)
    assert outbox.outbox_get(fever_row.id).status == "delivered"
    for secret_form in ("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", TEST_SECRET_TEXT):
        assert secret_form not in caplog.text


async def test_deliverer_sends_urgent_alert_when_an_earlier_heartbeat_is_stuck(
    outbox: Store,
    inbox: Inbox,
    make_deliverer: Callable[..., tuple[Deliverer, Stuck]],
    fever_row: OutboxEntry,
    context: AlertContext,
) -> None:
    """A stuck row holds back an urgent one behind it for no more than one attempt."""
    state = GatewayState(started_at=inbox.clock.now(), thermometer_connected=True)
    beat = clinic_entry(
        heartbeat_alert(context, state, inbox.clock.now()), context, ClinicFormat.JSON,
        fever_row.created_at - timedelta(seconds=1),
    )  # fmt: skip
    inbox.script.steps = [500]
    outbox.enqueue([beat])
    assert [r.id for r in outbox.outbox_all("pending")] == [beat.id, fever_row.id]
    deliverer, _ = make_deliverer(outbox)
    assert await deliverer.flush() == 2
    assert outbox.outbox_get(beat.id).status == "pending"
    assert outbox.outbox_get(fever_row.id).status == "delivered"


async def test_deliverer_posts_unsigned_text_with_title_when_channel_is_notify(
    outbox: Store, inbox: Inbox, clock: VirtualClock, senders: list[ClinicSender | NotifySender]
) -> None:
    """The caregiver channel is an ntfy-style POST: text body, Title/Priority, no signature."""
    inbox.script.steps = [200]
    sender = NotifySender(NotifyEndpoint(inbox.url))
    senders.append(sender)
    outbox.enqueue([
        notify_entry("n-1", "fever.confirmed", Priority.URGENT, "Fever: call the clinic",
                     "101.4 °F", clock.now())
    ])  # fmt: skip
    deliverer = Deliverer(outbox, {"notify": sender}, clock, lambda *a: None)
    await deliverer.flush()
    (headers,) = inbox.script.seen
    assert headers["Title"] == "Fever: call the clinic"
    assert headers["Priority"] == "urgent"
    assert "webhook-signature" not in {k.lower() for k in headers}
    assert inbox.script.bodies[0].decode() == "101.4 °F"
    assert outbox.outbox_get("n-1").status == "delivered"


async def test_deliverer_run_delivers_new_and_retried_rows_when_woken_and_clock_moves(
    outbox: Store,
    inbox: Inbox,
    make_deliverer: Callable[..., tuple[Deliverer, Stuck]],
    fever_row: OutboxEntry,
) -> None:
    """The long-running loop: wake() sends a new row; the virtual clock drives its retry."""
    inbox.script.steps = [500]
    deliverer, _ = make_deliverer(outbox)
    task = asyncio.create_task(deliverer.run())
    try:
        deliverer.wake()
        await _until(lambda: len(inbox.script.seen) == 1)
        await _until(lambda: outbox.outbox_get(fever_row.id).attempts == 1)
        await _until(lambda: inbox.clock.next_deadline() is not None)  # run() is asleep
        await inbox.clock.advance(10)
        await _until(lambda: outbox.outbox_get(fever_row.id).status == "delivered")
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    assert inbox.store.count() == 1


async def _until(condition: Callable[[], bool]) -> None:
    """Wait for real I/O (HTTP in a worker thread) to finish; never used to pass time."""
    for _ in range(500):
        if condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("condition not reached")


def test_fever_row_body_is_the_signed_json_when_rendered(fever_row: OutboxEntry) -> None:
    """The outbox stores exactly the JSON body; signing happens at send time."""
    assert json.loads(fever_row.body)["data"]["id"] == fever_row.id


class WatchedStore(Store):
    """The real store, noting which threads call its outbox (it is not thread-safe)."""

    threads: set[str]

    def outbox_all(self, status: OutboxStatus | str | None = None) -> list[OutboxRow]:
        self.threads = getattr(self, "threads", set()) | {threading.current_thread().name}
        return super().outbox_all(status)


async def test_deliverer_calls_the_store_only_on_its_writer_thread_when_flushing(
    tmp_path: Path, inbox: Inbox, secret_key: bytes, clock: VirtualClock,
    fever_decision: Decision, context: AlertContext, senders: list[ClinicSender | NotifySender],
) -> None:  # fmt: skip
    """The store is not thread-safe; it owns one writer thread and delivery must use it."""
    sender = ClinicSender(
        ClinicEndpoint(inbox.url, ClinicFormat.JSON, secret_key), signing_time=clock.now
    )
    senders.append(sender)
    entry = clinic_entry(fever_alert(fever_decision), context, ClinicFormat.JSON, clock.now())
    with WatchedStore.open(tmp_path / "watched.db") as watched:
        watched.record_decisions([fever_decision], [entry])
        watched.threads = set()
        deliverer = Deliverer(watched, {"clinic": sender}, clock, lambda *a: None)
        await deliverer.flush()
        assert watched.outbox_get(entry.id).status == "delivered"  # type: ignore[union-attr]
        assert {name.split("_")[0] for name in watched.threads} == {WRITER_THREAD_NAME}
