"""The outbox's words: its channels, priorities and statuses, defined once.

Plain enums with no I/O, so that what renders alerts (``portwatch.alerts.payloads``) and the
command line can name them without loading SQLite; :mod:`portwatch.log.outbox` stores them.
"""

from __future__ import annotations

from enum import StrEnum

__all__ = ["Channel", "OutboxStatus", "Priority"]


class Channel(StrEnum):
    """Where an outbox row goes; each channel is its own queue with its own sender.

    alerts.md, "Who is told what": clinic alerts; the caregiver's notices; the patient's
    own (used only when a patient URL is set).
    """

    CLINIC = "clinic"
    NOTIFY = "notify"  # the caregiver's notification URL
    PATIENT = "patient"  # the patient's own notification URL


class Priority(StrEnum):
    """How urgently a row must go: FHIR request-priority codes (R4), also for notices.

    An urgent row is never held behind a failing head of its queue for more than one
    attempt, nor by quiet hours (alerts.md, "Delivery").
    """

    URGENT = "urgent"
    ROUTINE = "routine"


class OutboxStatus(StrEnum):
    """Where an alert is in its delivery (alerts.md, "Delivery")."""

    PENDING = "pending"
    DELIVERED = "delivered"
    FAILED = "failed"  # permanent: waits for a person to fix the setting and resend
