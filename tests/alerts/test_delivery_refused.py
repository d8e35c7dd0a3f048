"""Delivery while the log refuses writes: nothing is POSTed twice (issue #10, "nothing duplicated").

Requests really travel over HTTP to the reference inbox on loopback; the outbox is the real
log (store.py) on a temporary file. The log is made to refuse writes with SQLite's
``PRAGMA query_only`` on the Deliverer's own connection: a stand-in for a full or read-only
disk that fails the same way (SQLITE_READONLY, StoreUnavailableError) without filling one.
No test sleeps for time to pass: the virtual clock is advanced.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable
from datetime import timedelta

import pytest

from portwatch.alerts.delivery import (
    RECORD_RETRY_S,
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
    heartbeat_alert,
)
from portwatch.clock import VirtualClock
from portwatch.log.store import OutboxEntry, OutboxRow, Store, StoreUnavailableError

from .conftest import Inbox

PASSES = 6  # passes made while the log refuses writes

Stuck = list[tuple[str, StuckReason, str]]


def refuse_writes(log: Store, refuse: bool) -> None:
    """Make the log's own connection refuse (or accept again) every write, as a full disk."""
    log._db.execute(f"PRAGMA query_only = {'ON' if refuse else 'OFF'}")


@pytest.fixture
def clinic(
    log: Store, inbox: Inbox, secret_key: bytes, senders: list[ClinicSender | NotifySender]
) -> tuple[Deliverer, Stuck]:
    """A Deliverer of the clinic channel to the loopback inbox, on the log's connection."""
    sender = ClinicSender(
        ClinicEndpoint(inbox.url, ClinicFormat.JSON, secret_key), signing_time=inbox.clock.now
    )
    senders.append(sender)
    stuck: Stuck = []
    deliverer = Deliverer(
        log,
        {"clinic": sender},
        inbox.clock,
        lambda row, reason, text: stuck.append((row.id, reason, text)),
        rng=random.Random(7),
    )
    return deliverer, stuck


def test_refuse_writes_makes_the_log_raise_unavailable_when_on(log: Store) -> None:
    """The stand-in must fail as a full disk does, or the tests below prove nothing."""
    refuse_writes(log, True)
    with pytest.raises(StoreUnavailableError):
        log.meta_set("probe", "1")
    refuse_writes(log, False)
    log.meta_set("probe", "1")


async def test_clinic_alert_is_posted_once_when_log_refuses_its_delivered_mark(
    log: Store, inbox: Inbox, clinic: tuple[Deliverer, Stuck], fever_row: OutboxEntry
) -> None:
    """A fever alert accepted while the disk is full must not reach the clinic again."""
    deliverer, stuck = clinic
    refuse_writes(log, True)
    for _ in range(PASSES):
        await deliverer.flush()
        await inbox.clock.advance(RECORD_RETRY_S)
    assert len(inbox.script.seen) == 1
    assert inbox.store.count() == 1
    assert log.outbox_get(fever_row.id).status == "pending"  # the log took nothing yet
    assert deliverer.unrecorded == 1
    refuse_writes(log, False)
    await deliverer.flush()
    row = log.outbox_get(fever_row.id)
    assert (row.status, row.attempts, row.last_status) == ("delivered", 1, 200)
    assert deliverer.unrecorded == 0
    assert len(inbox.script.seen) == 1
    assert stuck == []


async def test_notification_is_posted_once_when_log_refuses_its_delivered_mark(
    log: Store, inbox: Inbox, clock: VirtualClock, senders: list[ClinicSender | NotifySender]
) -> None:
    """A caregiver's phone shows every repeat (no webhook-id there): one POST per row."""
    inbox.script.steps = [200] * (PASSES + 1)  # any repeat would be accepted and counted
    sender = NotifySender(NotifyEndpoint(inbox.url))
    senders.append(sender)
    log.enqueue([
        notify_entry("n-1", "store.full", Priority.URGENT, "Log full",
                     "free space on the gateway", clock.now())
    ])  # fmt: skip
    deliverer = Deliverer(log, {"notify": sender}, clock, lambda *a: None)
    refuse_writes(log, True)
    for _ in range(PASSES):
        await deliverer.flush()
        await clock.advance(RECORD_RETRY_S)
    assert len(inbox.script.seen) == 1
    assert inbox.script.seen[0]["X-Sequence-ID"] == "n-1"
    refuse_writes(log, False)
    await deliverer.flush()
    assert log.outbox_get("n-1").status == "delivered"
    assert len(inbox.script.seen) == 1


async def test_later_rows_go_in_order_once_each_when_log_refuses_the_first_ones_mark(
    log: Store,
    inbox: Inbox,
    clinic: tuple[Deliverer, Stuck],
    fever_row: OutboxEntry,
    context: AlertContext,
) -> None:
    """A delivered but unmarked head must neither block the queue nor be sent again."""
    deliverer, _ = clinic
    state = GatewayState(started_at=inbox.clock.now(), thermometer_connected=True)
    beat = clinic_entry(
        heartbeat_alert(context, state, inbox.clock.now()), context, ClinicFormat.JSON,
        fever_row.created_at + timedelta(seconds=1),
    )  # fmt: skip
    log.enqueue([beat])
    refuse_writes(log, True)
    for _ in range(PASSES):
        await deliverer.flush()
        await inbox.clock.advance(RECORD_RETRY_S)
    ids = [headers["webhook-id"] for headers in inbox.script.seen]
    assert ids == [fever_row.id, beat.id]
    refuse_writes(log, False)
    await deliverer.flush()
    assert [r.status for r in (log.outbox_get(fever_row.id), log.outbox_get(beat.id))] == [
        "delivered",
        "delivered",
    ]


async def test_failed_attempt_keeps_its_backoff_when_log_refuses_to_record_it(
    log: Store, inbox: Inbox, clinic: tuple[Deliverer, Stuck], fever_row: OutboxEntry
) -> None:
    """An unrecorded 500 must not make the clinic be hammered, nor lose the attempt count."""
    deliverer, _ = clinic
    inbox.script.steps = [500]
    refuse_writes(log, True)
    await deliverer.flush()
    await deliverer.flush()  # the retry is not due: the log's row still says "due now"
    assert len(inbox.script.seen) == 1
    await inbox.clock.advance(RECORD_RETRY_S)  # the first retry is within 10 s
    await deliverer.flush()
    assert len(inbox.script.seen) == 2
    await deliverer.flush()
    assert len(inbox.script.seen) == 2
    refuse_writes(log, False)
    await deliverer.flush()
    row = log.outbox_get(fever_row.id)
    assert (row.status, row.attempts) == ("delivered", 2)


async def test_escalation_is_told_once_when_log_refuses_to_record_it(
    log: Store,
    inbox: Inbox,
    secret_key: bytes,
    senders: list[ClinicSender | NotifySender],
    fever_row: OutboxEntry,
) -> None:
    """An unrecorded escalation is told once: not again each pass, and not lost when the
    caregiver's notice (queued in the same refusing log, as the daemon does) is refused."""
    told: list[str] = []

    def on_stuck(row: OutboxRow, reason: StuckReason, text: str) -> None:
        note = notify_entry(f"stuck-{row.id}", "alert.stuck", Priority.URGENT, "Stuck",
                            text, inbox.clock.now())  # fmt: skip
        log.enqueue([note])  # raises StoreUnavailableError while the log refuses writes
        told.append(reason)

    sender = ClinicSender(
        ClinicEndpoint(inbox.url, ClinicFormat.JSON, secret_key), signing_time=inbox.clock.now
    )
    senders.append(sender)
    deliverer = Deliverer(log, {"clinic": sender}, inbox.clock, on_stuck, rng=random.Random(7))
    inbox.script.steps = [503] * 200
    refuse_writes(log, True)
    for _ in range(40):  # 20 simulated minutes: past escalate_after (15 min)
        await deliverer.flush()
        await inbox.clock.advance(30)
    assert told == []  # the log took no notice yet
    refuse_writes(log, False)
    for _ in range(3):
        await deliverer.flush()
    assert told == [StuckReason.ESCALATED]
    notices = [r for r in log.outbox_all() if r.kind == "alert.stuck"]
    assert len(notices) == 1
    assert log.outbox_get(fever_row.id).escalated_at is not None
    assert deliverer.unrecorded == 0


async def test_warns_once_without_health_values_when_log_refuses_for_many_passes(
    log: Store,
    inbox: Inbox,
    clinic: tuple[Deliverer, Stuck],
    fever_row: OutboxEntry,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A person is told once per episode, and no temperature reaches the log above DEBUG."""
    deliverer, _ = clinic
    refuse_writes(log, True)
    for _ in range(PASSES):
        await deliverer.flush()
        await inbox.clock.advance(RECORD_RETRY_S)
    warnings = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1
    assert "refused" in warnings[0].getMessage()
    loud = "\n".join(r.getMessage() for r in caplog.records if r.levelno > logging.DEBUG)
    for value in ("101.2", "101.4", "38.44", "38.56"):  # the fever's readings
        assert value not in loud


async def test_run_keeps_going_and_posts_once_when_log_refuses_then_accepts(
    log: Store, inbox: Inbox, clinic: tuple[Deliverer, Stuck], fever_row: OutboxEntry
) -> None:
    """The delivery stage must not crash (and be restarted to POST again) on a full disk."""
    deliverer, _ = clinic
    refuse_writes(log, True)
    task = asyncio.create_task(deliverer.run())
    try:
        deliverer.wake()
        await _until(lambda: len(inbox.script.seen) == 1)
        for _ in range(PASSES):
            await _until(lambda: inbox.clock.next_deadline() is not None)  # run() is asleep
            assert not task.done()
            await inbox.clock.advance(RECORD_RETRY_S)
        refuse_writes(log, False)
        await _until(lambda: inbox.clock.next_deadline() is not None)
        await inbox.clock.advance(RECORD_RETRY_S)
        await _until(lambda: log.outbox_get(fever_row.id).status == "delivered")
        assert not task.done()
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    assert len(inbox.script.seen) == 1
    assert inbox.store.count() == 1


async def _until(condition: Callable[[], bool]) -> None:
    """Wait for real I/O (HTTP in a worker thread) to finish; never used to pass time."""
    for _ in range(500):
        if condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("condition not reached")
