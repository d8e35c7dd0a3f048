"""Notices through Apprise to a real mail server on loopback, beside today's ntfy POST (issue 19).

The mail server is aiosmtpd on 127.0.0.1 (plain SMTP with a login), the ntfy topic an
aiohttp app recording each POST's headers, the clinic the reference inbox; the outbox is
the real log and delivery the real Deliverer. Nothing is mocked.
"""

from __future__ import annotations

import logging
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from portwatch.alerts.apprise_sender import ACCEPTED_STATUS, AppriseSender, notify_sender
from portwatch.alerts.delivery import (
    Channel,
    ClinicEndpoint,
    ClinicSender,
    Deliverer,
    NotifyEndpoint,
    NotifySender,
    Outcome,
    classify,
    notification_body,
)
from portwatch.alerts.outbound import Outbound
from portwatch.alerts.payloads import AlertContext, ClinicFormat
from portwatch.clock import VirtualClock
from portwatch.log.store import OutboxRow, Priority, Store
from portwatch.model import Decision

from .conftest import START, Inbox, make_row
from .loopback_receivers import (
    MAIL_PASSWORD,
    MAIL_TO,
    MAIL_USER,
    mailbox,
    refused_port,
    topic,
)

TITLE = "Fever confirmed: clinic told"
MESSAGE = "Two readings over 38.3 °C, four hours apart. The clinic has been told."


def _notice(row_id: str = "n-1", priority: Priority = Priority.URGENT) -> OutboxRow:
    return make_row(
        id=row_id,
        channel=Channel.NOTIFY.value,
        kind="notice.fever_confirmed",
        priority=priority,
        body=notification_body(TITLE, MESSAGE),
        content_type="application/vnd.portwatch.notification+json",
    )


def _no_password_logged(caplog: pytest.LogCaptureFixture) -> None:
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert MAIL_PASSWORD not in text


async def test_notice_arrives_as_one_email_when_url_is_apprise_mailto(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Subject is the title, text the message (°C intact), sent after logging in."""
    async with mailbox() as box:
        sender = notify_sender(NotifyEndpoint(url=box.url()))
        assert isinstance(sender, AppriseSender)
        answer = await sender.send(_notice(), START)
    assert (classify(answer), answer.status_code) == (Outcome.DELIVERED, ACCEPTED_STATUS)
    (message,) = box.messages
    assert message["Subject"] == TITLE
    assert message["To"] == MAIL_TO
    body = message.get_body(("plain",))
    assert body is not None
    assert MESSAGE in body.get_content()
    assert box.logins == [(MAIL_USER, MAIL_PASSWORD)]
    _no_password_logged(caplog)


async def test_send_answers_retry_without_url_or_password_when_mail_server_refuses(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Connection refused: a retryable answer naming the scheme only; nothing raises."""
    url = (
        f"mailto://{MAIL_USER}:{MAIL_PASSWORD}@127.0.0.1:{refused_port()}"
        f"?from=portwatch@example.org&to={MAIL_TO}&mode=insecure"
    )
    answer = await AppriseSender(NotifyEndpoint(url=url)).send(_notice(), START)
    assert classify(answer) is Outcome.RETRY
    assert answer.status_code is None
    assert answer.error is not None
    assert answer.error.startswith("mailto:// not accepted")
    assert MAIL_PASSWORD not in answer.describe()
    assert "127.0.0.1" not in answer.describe()
    _no_password_logged(caplog)


async def test_ntfy_topic_is_posted_as_today_with_sequence_id_when_url_is_http() -> None:
    """An http(s) URL keeps today's POST: Title, Priority and X-Sequence-ID headers."""
    async with topic() as got:
        sender = notify_sender(NotifyEndpoint(url=got.url))
        assert isinstance(sender, NotifySender)
        try:
            answer = await sender.send(_notice("n-7", Priority.ROUTINE), START)
        finally:
            sender.close()
    assert classify(answer) is Outcome.DELIVERED
    ((headers, text),) = got.posts
    assert (headers["Title"], headers["Priority"], headers["X-Sequence-ID"]) == (
        TITLE,
        "default",
        "n-7",
    )
    assert text == MESSAGE


def _queue_fever(
    log: Store, context: AlertContext, decision: Decision, now: datetime, *, patient: bool
) -> None:
    """The daemon's rows for a confirmed fever: the clinic's, the caregiver's, the patient's
    (on the patient's own channel, or the caregiver's when there is none)."""
    outbound = Outbound(context, ClinicFormat.JSON, ZoneInfo("UTC"), patient_channel=patient)
    log.record_decisions([decision], outbound.for_decisions([decision], now))


async def test_fever_reaches_clinic_mailbox_and_topic_once_each_across_a_delivery_restart(
    log: Store,
    context: AlertContext,
    fever_decision: Decision,
    inbox: Inbox,
    secret_key: bytes,
    clock: VirtualClock,
) -> None:
    """One pass delivers every row; a second Deliverer on the same log sends nothing again."""
    _queue_fever(log, context, fever_decision, clock.now(), patient=True)
    clinic = ClinicSender(
        ClinicEndpoint(inbox.url, ClinicFormat.JSON, secret=secret_key), signing_time=clock.now
    )
    async with mailbox() as box, topic() as got:
        for _ in range(2):  # the daemon, then the daemon started again
            senders = {
                Channel.CLINIC.value: clinic,
                Channel.NOTIFY.value: notify_sender(NotifyEndpoint(url=box.url())),
                Channel.PATIENT.value: notify_sender(NotifyEndpoint(url=got.url)),
            }
            await Deliverer(log, senders, clock, lambda *_: None).flush()
            await clock.advance(3600)
    clinic.close()
    assert {r.channel: (r.status, r.attempts) for r in log.outbox_all()} == {
        "clinic": ("delivered", 1),
        "notify": ("delivered", 1),
        "patient": ("delivered", 1),
    }
    assert box.subjects() == [TITLE]
    assert got.titles() == ["Fever: your clinic has been told"]
    assert inbox.store.count() == 1


async def test_clinic_alert_goes_and_notice_waits_for_retry_when_mail_server_refuses(
    log: Store,
    context: AlertContext,
    fever_decision: Decision,
    inbox: Inbox,
    secret_key: bytes,
    clock: VirtualClock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A mail server that is down holds back only the caregiver's queue, never the clinic."""
    caplog.set_level(logging.DEBUG)
    _queue_fever(log, context, fever_decision, clock.now(), patient=False)
    url = (
        f"mailto://{MAIL_USER}:{MAIL_PASSWORD}@127.0.0.1:{refused_port()}"
        f"?from=portwatch@example.org&to={MAIL_TO}&mode=insecure"
    )
    clinic = ClinicSender(
        ClinicEndpoint(inbox.url, ClinicFormat.JSON, secret=secret_key), signing_time=clock.now
    )
    senders = {
        Channel.CLINIC.value: clinic,
        Channel.NOTIFY.value: notify_sender(NotifyEndpoint(url=url)),
    }
    try:
        attempts = await Deliverer(log, senders, clock, lambda *_: None).flush()
    finally:
        clinic.close()
    # The clinic's row; the caregiver's two (theirs and the patient's): both urgent, so the
    # second is tried although the first failed.
    assert attempts == 3
    (alert,) = [r for r in log.outbox_all() if r.channel == Channel.CLINIC.value]
    assert alert.status == "delivered"
    assert inbox.store.count() == 1
    notices = [r for r in log.outbox_all() if r.channel == Channel.NOTIFY.value]
    assert len(notices) == 2
    for notice in notices:
        assert (notice.status, notice.attempts, notice.last_status) == ("pending", 1, None)
        assert notice.next_attempt_at is not None
        assert notice.next_attempt_at > clock.now()
        assert notice.last_error == "mailto:// not accepted (see the apprise log lines)"
    _no_password_logged(caplog)


async def test_same_row_sent_twice_carries_one_message_id_and_rows_differ() -> None:
    """A resend (a crash after the server took it) is the same e-mail to a receiver that
    de-duplicates by Message-ID: one header, the row's, on every attempt; another row, another."""
    async with mailbox() as box:
        sender = notify_sender(NotifyEndpoint(url=box.url()))
        for row in (_notice("n-1"), _notice("n-1"), _notice("n-2")):
            answer = await sender.send(row, START)
            assert classify(answer) is Outcome.DELIVERED
    ids = [m.get_all("Message-ID") for m in box.messages]
    assert ids == [["<portwatch.n-1@127.0.0.1>"]] * 2 + [["<portwatch.n-2@127.0.0.1>"]]


async def test_mail_outside_a_notice_keeps_apprise_own_random_message_id() -> None:
    """The wrapper pins only while a notice is sent on that thread: Apprise used directly
    (another thread, no row) still makes a fresh id each time."""
    import asyncio

    from portwatch.alerts.notify_url import build_apprise

    async with mailbox() as box:
        await notify_sender(NotifyEndpoint(url=box.url())).send(_notice("n-1"), START)
        service = build_apprise(box.url())
        assert service is not None
        for _ in range(2):
            assert await asyncio.to_thread(service.notify, body="b", title="t")
    first, *others = [m["Message-ID"] for m in box.messages]
    assert first == "<portwatch.n-1@127.0.0.1>"
    assert len(set(others)) == 2
    assert "portwatch.n-1" not in "".join(others)
