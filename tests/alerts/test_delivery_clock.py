"""Issue 19: clinic signatures are timed on the wall clock, and a refused time is retried.

The daemon's clock is a TrustedClock that counts from the placement (or the log) until the
system clock is synchronised; clinic alerts used to be signed on it, hours stale, and the
inbox's 401 "expired" made them permanently failed. Here the wall clock is the inbox's
VirtualClock, the daemon's clock a real TrustedClock over it, and the clinic the reference
inbox on loopback (conftest.py): real HTTP, real signature and tolerance checks. No test
sleeps; the clocks are advanced, and a skewed signing clock is a number.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import datetime, timedelta

import pytest

from portwatch.alerts.delivery import (
    CLOCK_REFUSED_TEXT,
    ClinicEndpoint,
    ClinicSender,
    Deliverer,
    NotifySender,
    StuckReason,
)
from portwatch.alerts.outbox import clinic_entry
from portwatch.alerts.payloads import AlertContext, ClinicFormat, fever_alert
from portwatch.alerts.signing import parse_secret
from portwatch.clock import Clock
from portwatch.log.store import OutboxEntry, Store
from portwatch.model import Decision
from portwatch.service.timekeeping import TrustedClock

from .conftest import Inbox

Stuck = list[tuple[str, StuckReason, str]]
# A new gateway placed a day ago: with its clock unsynchronised, its trusted clock says so.
PLACED_AGO = timedelta(days=1)
NOT_THE_CLINICS = "whsec_" + "QUJD" * 11  # a valid secret, not the inbox's


def _unsynchronised(inbox: Inbox) -> TrustedClock:
    """The daemon's clock on a machine never synchronised, with a new log (run.py)."""
    return TrustedClock(
        inbox.clock,
        synchronised=lambda: False,
        last_trusted=None,
        not_before=inbox.clock.now() - PLACED_AGO,
        hold_after_jump=True,
    )


def _queue(log: Store, decision: Decision, context: AlertContext, clock: Clock) -> str:
    """The fever alert queued with its decision, as the daemon does, on the daemon's clock."""
    entry = clinic_entry(fever_alert(decision), context, ClinicFormat.JSON, clock.now())
    log.record_decisions([decision], [entry])
    return entry.id


def _deliverer(
    log: Store,
    sender: ClinicSender,
    clock: Clock,
    senders: list[ClinicSender | NotifySender],
) -> tuple[Deliverer, Stuck]:
    senders.append(sender)
    stuck: Stuck = []
    deliverer = Deliverer(
        log,
        {"clinic": sender},
        clock,
        lambda row, reason, text: stuck.append((row.id, reason, text)),
        rng=random.Random(19),
    )
    return deliverer, stuck


def _sender(inbox: Inbox, key: bytes, signing_time: Callable[[], datetime]) -> ClinicSender:
    endpoint = ClinicEndpoint(inbox.url, ClinicFormat.JSON, key)
    return ClinicSender(endpoint, signing_time=signing_time)


async def test_fever_alert_is_accepted_signed_on_the_wall_clock_while_the_daemon_clock_lags_a_day(
    log: Store,
    inbox: Inbox,
    secret_key: bytes,
    fever_decision: Decision,
    context: AlertContext,
    senders: list[ClinicSender | NotifySender],
) -> None:
    """The daemon's clock reads the placement; the signature carries the wall clock's now."""
    trusted = _unsynchronised(inbox)
    row_id = _queue(log, fever_decision, context, trusted)
    assert inbox.clock.now() - trusted.now() == PLACED_AGO
    deliverer, stuck = _deliverer(
        log, _sender(inbox, secret_key, inbox.clock.now), trusted, senders
    )
    assert await deliverer.flush() == 1
    row = log.outbox_get(row_id)
    assert (row.status, row.last_status, row.attempts) == ("delivered", 200, 1)
    (seen,) = inbox.script.seen
    assert seen["webhook-timestamp"] == str(int(inbox.clock.now().timestamp()))
    assert inbox.store.count() == 1
    assert stuck == []


async def test_fever_alert_signed_on_the_daemon_clock_is_refused_expired_and_kept_not_failed(
    log: Store,
    inbox: Inbox,
    secret_key: bytes,
    fever_decision: Decision,
    context: AlertContext,
    senders: list[ClinicSender | NotifySender],
) -> None:
    """The old wiring (signed on the trusted clock): 401 "expired", but the row stays pending,
    says why in words, and nobody is told it was refused for good."""
    trusted = _unsynchronised(inbox)
    row_id = _queue(log, fever_decision, context, trusted)
    deliverer, stuck = _deliverer(log, _sender(inbox, secret_key, trusted.now), trusted, senders)
    await deliverer.flush()
    row = log.outbox_get(row_id)
    assert (row.status, row.last_status, row.attempts) == ("pending", 401, 1)
    assert row.last_error == f"HTTP 401: {CLOCK_REFUSED_TEXT}"
    assert row.next_attempt_at is not None
    assert row.next_attempt_at - trusted.now() <= timedelta(seconds=10)
    assert inbox.store.count() == 0
    assert stuck == []


async def test_refused_signature_time_is_retried_escalated_at_15_min_and_delivered_once_clock_right(
    log: Store,
    inbox: Inbox,
    secret_key: bytes,
    fever_row: OutboxEntry,
    senders: list[ClinicSender | NotifySender],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """alerts.md "Delivery" for a skewed clock: backoff, the caregiver told once after 15 min
    that the clinic has not got it, and the alert sent once the clock is right, with no
    one resending it."""
    skew = [PLACED_AGO]  # the signing clock, a day behind until "NTP" sets it right

    def signing_time() -> datetime:
        return inbox.clock.now() - skew[0]

    deliverer, stuck = _deliverer(
        log, _sender(inbox, secret_key, signing_time), inbox.clock, senders
    )
    await deliverer.flush()
    await inbox.clock.advance(14 * 60)
    await deliverer.flush()
    assert stuck == []
    for _ in range(6):
        await inbox.clock.advance(120)
        await deliverer.flush()
    assert stuck == [(fever_row.id, StuckReason.ESCALATED, f"HTTP 401: {CLOCK_REFUSED_TEXT}")]
    row = log.outbox_get(fever_row.id)
    assert (row.status, row.last_status) == ("pending", 401)
    assert row.attempts >= 3
    warned = [r for r in caplog.records if "keeps trying (is the clock" in r.getMessage()]
    assert [r.levelname for r in warned] == ["WARNING"]  # once, at the first refusal
    skew[0] = timedelta(0)
    assert row.next_attempt_at is not None
    await inbox.clock.advance_to(row.next_attempt_at)
    await deliverer.flush()
    row = log.outbox_get(fever_row.id)
    assert (row.status, row.last_status) == ("delivered", 200)
    assert inbox.store.count() == 1
    assert len(stuck) == 1  # told once: no "refused" notice ever


@pytest.mark.parametrize(("synchronised", "status"), [(True, "failed"), (False, "pending")])
async def test_unexplained_401_is_permanent_when_the_clock_is_synchronised_and_retried_while_not(
    log: Store,
    inbox: Inbox,
    secret_key: bytes,
    fever_decision: Decision,
    context: AlertContext,
    senders: list[ClinicSender | NotifySender],
    synchronised: bool,
    status: str,
) -> None:
    """A 401 that does not say why: a wrong secret (a person, told at once) when this
    gateway's clock is known right; maybe the clock (retried) while it is not."""
    inbox.script.steps = [(401, {}, "Unauthorized")]
    clock = TrustedClock(
        inbox.clock,
        synchronised=lambda: synchronised,
        last_trusted=None,
        not_before=inbox.clock.now() - PLACED_AGO,
    )
    row_id = _queue(log, fever_decision, context, clock)
    deliverer, stuck = _deliverer(log, _sender(inbox, secret_key, inbox.clock.now), clock, senders)
    await deliverer.flush()
    assert log.outbox_get(row_id).status == status
    reasons = [reason for _, reason, _ in stuck]
    assert reasons == ([StuckReason.REJECTED] if synchronised else [])


async def test_wrong_secret_is_refused_for_good_at_once_even_while_the_clock_is_unsynchronised(
    log: Store,
    inbox: Inbox,
    fever_decision: Decision,
    context: AlertContext,
    senders: list[ClinicSender | NotifySender],
) -> None:
    """The inbox checks the time first, then answers "forged": that is the secret, not the
    clock; the caregiver is told at once and the row waits for a person."""
    trusted = _unsynchronised(inbox)
    row_id = _queue(log, fever_decision, context, trusted)
    sender = _sender(inbox, parse_secret(NOT_THE_CLINICS), inbox.clock.now)
    deliverer, stuck = _deliverer(log, sender, trusted, senders)
    await deliverer.flush()
    row = log.outbox_get(row_id)
    assert (row.status, row.last_status) == ("failed", 401)
    assert [(row_id, reason) for row_id, reason, _ in stuck] == [(row_id, StuckReason.REJECTED)]
    assert '"forged"' in stuck[0][2]
