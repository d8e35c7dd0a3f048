"""Outbox entries for clinic alerts and caregiver notifications, as the log stores them.

The daemon writes a fever alert's entry in the same transaction as its decision
(``Store.record_decisions``); symptom reports, heartbeats and notifications go through
``Store.enqueue``. The body is rendered here once and signed at each send.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from portwatch.alerts.delivery import NOTIFY_CONTENT_TYPE, notification_body
from portwatch.alerts.payloads import (
    KIND_INFO,
    Alert,
    AlertContext,
    ClinicFormat,
    Priority,
    render,
)
from portwatch.log.store import Channel, OutboxEntry

__all__ = ["clinic_entry", "notify_entry"]


def clinic_entry(
    alert: Alert, context: AlertContext, clinic_format: ClinicFormat, created_at: datetime
) -> OutboxEntry:
    """The clinic channel's entry for ``alert``: its id is the alert's, in every resend.

    Raises:
        PayloadError: the alert does not travel in that format (heartbeats are JSON-only).
    """
    rendered = render(alert, context, clinic_format)
    from_decision = KIND_INFO[alert.kind].from_decision
    return OutboxEntry(
        id=str(alert.id),
        channel=Channel.CLINIC,
        kind=alert.kind.value,
        priority=alert.priority,
        created_at=created_at,
        body=rendered.body,
        content_type=rendered.content_type,
        decision_id=str(alert.id) if from_decision else None,
    )


def notify_entry(
    entry_id: str,
    kind: str,
    priority: Priority,
    title: str,
    message: str,
    created_at: datetime,
    decision_id: str | None = None,
    *,
    channel: Literal[Channel.NOTIFY, Channel.PATIENT] = Channel.NOTIFY,
    not_before: datetime | None = None,
) -> OutboxEntry:
    """A notification (ntfy-style title and text) for the caregiver's channel (``notify``)
    or the patient's (``patient``), not sent before ``not_before`` when that is given.

    ``entry_id`` must be deterministic (``model.derived_id`` of what it is about) so that a
    restart does not notify twice.
    """
    return OutboxEntry(
        id=entry_id,
        channel=channel,
        kind=kind,
        priority=priority,
        created_at=created_at,
        body=notification_body(title, message),
        content_type=NOTIFY_CONTENT_TYPE,
        decision_id=decision_id,
        not_before=not_before,
    )
