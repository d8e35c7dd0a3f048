"""The outbox queue keeps decision order through a long outage and never spins (issue 10).

Found by the outage campaign: once a stuck row was escalated it held nothing back, so during
an outage every row retried on its own timer (one request per row per backoff, and one
caregiver notice per heartbeat), and when the clinic came back rows arrived in the order
their timers happened to fire. And ``next_wake`` counted rows that ``next_due`` would not
send (routine rows held behind a waiting head, never-tried rows past their escalation
time), so ``Deliverer.run`` slept 0 s and flushed in a loop until the head's retry.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

from portwatch.alerts.delivery import ESCALATE_AFTER, Answer, Deliverer, next_due, next_wake
from portwatch.clock import VirtualClock
from portwatch.log.store import OutboxEntry, OutboxRow, OutboxStatus, Store

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


def _row(
    row_id: str,
    priority: str = "routine",
    next_in_s: float | None = None,
    *,
    attempts: int = 1,
    escalated: bool = False,
    age_s: float = 0.0,
) -> OutboxRow:
    created = NOW - timedelta(seconds=age_s)
    return OutboxRow(
        id=row_id, channel="clinic", kind="gateway.heartbeat", priority=priority,
        created_at=created, body="{}", content_type="application/json", decision_id=None,
        status=OutboxStatus.PENDING, attempts=attempts,
        next_attempt_at=created if next_in_s is None else NOW + timedelta(seconds=next_in_s),
        last_attempt_at=None, last_status=None, last_error=None, delivered_at=None,
        escalated_at=NOW if escalated else None,
    )  # fmt: skip


def test_next_due_keeps_order_when_a_later_escalated_row_comes_due_first() -> None:
    """After a long outage every row is escalated; the head must still go first."""
    rows = [
        _row("a", next_in_s=300, escalated=True, age_s=7200),
        _row("b", next_in_s=-1, escalated=True, age_s=3600),
    ]
    assert next_due(rows, NOW) is None


def test_next_due_sends_only_urgent_rows_when_the_pass_is_stalled() -> None:
    """After the head fails, routine rows wait for it; urgent ones still get their attempt."""
    rows = [
        _row("head", next_in_s=5),
        _row("beat", next_in_s=-1, attempts=0),
        _row("fever", "urgent", next_in_s=-1, attempts=0),
    ]
    picked = next_due(rows, NOW, skip={"head"}, stalled=True)
    assert picked is not None
    assert picked.id == "fever"
    assert next_due(rows, NOW, skip={"head", "fever"}, stalled=True) is None


def test_next_wake_is_the_heads_retry_when_routine_rows_wait_behind_it() -> None:
    """A held row's own (past) time must not wake the deliverer: nothing would be sent."""
    rows = [_row("head", next_in_s=60), _row("held", next_in_s=None, attempts=0, age_s=30)]
    assert next_wake(rows, ESCALATE_AFTER) == NOW + timedelta(seconds=60)


def test_next_wake_ignores_escalation_of_rows_never_tried_when_they_wait() -> None:
    """Only tried rows are escalated, so an untried row's deadline is no reason to wake."""
    rows = [_row("head", next_in_s=60), _row("held", attempts=0, age_s=3600)]
    assert next_wake(rows, ESCALATE_AFTER) == NOW + timedelta(seconds=60)


class RefusingClinic:
    """The clinic edge, answering 500 to everything (no HTTP needed to show the loop)."""

    def __init__(self) -> None:
        self.calls = 0

    async def send(self, row: object, now: datetime) -> Answer:
        del row, now
        self.calls += 1
        return Answer(500)


class CountingOutbox:
    """The real log, with a count of how often the deliverer reads the outbox (a spy)."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.reads = 0

    def outbox_all(self, status: str | None = None) -> Sequence[OutboxRow]:
        self.reads += 1
        return self.store.outbox_all(status)

    def __getattr__(self, name: str) -> object:
        return getattr(self.store, name)


def _entry(entry_id: str, at: datetime) -> OutboxEntry:
    return OutboxEntry(
        id=entry_id, channel="clinic", kind="gateway.heartbeat", priority="routine",
        created_at=at, body="{}", content_type="application/json",
    )  # fmt: skip


async def test_deliverer_run_sleeps_when_a_routine_row_waits_behind_a_failing_head(
    tmp_path: Path,
) -> None:
    """Before the fix run() re-flushed without pause (100% CPU) until the head's retry."""
    clock = VirtualClock(NOW)
    # Inline: the virtual clock's settle() must see each log call finish.
    store = Store.open(tmp_path / "portwatch.db", threaded=False)
    outbox = CountingOutbox(store)
    clinic = RefusingClinic()
    deliverer = Deliverer(outbox, {"clinic": clinic}, clock, lambda *_: None, rng=random.Random(1))
    store.enqueue([_entry("head", NOW)])
    task = asyncio.create_task(deliverer.run())
    try:
        await clock.settle()
        assert clinic.calls == 1
        store.enqueue([_entry("held", NOW)])
        deliverer.wake()
        await clock.settle()
        reads = outbox.reads
        for _ in range(50):
            await asyncio.sleep(0)
        assert outbox.reads - reads == 0
        assert clinic.calls == 1
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        store.close()
