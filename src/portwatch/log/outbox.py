"""The outbox: alerts and notices waiting to be sent, and each one's delivery state.

Each row is on one :class:`Channel` (its own queue and sender), has a :class:`Priority`, and
moves through :class:`OutboxStatus`: pending (tried again until accepted), delivered, or
failed (a permanent refusal that waits for a person, ``portwatch alerts resend``). Those
three words are defined once, in :mod:`portwatch.log.vocabulary`; SQL takes them as bound
parameters.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final, Self

from portwatch.log.database import Database
from portwatch.log.errors import StoreError, StoreInputError
from portwatch.log.times import from_us, opt_dt, opt_us, to_us
from portwatch.log.vocabulary import Channel, OutboxStatus, Priority

__all__ = [
    "Channel",
    "OutboxEntry",
    "OutboxQueue",
    "OutboxRow",
    "OutboxStatus",
    "Priority",
    "insert_outbox",
]


@dataclass(frozen=True, slots=True)
class OutboxEntry:
    """An alert to send, as written next to the decision that caused it (alerts.md)."""

    id: str  # the alert's identifier (UUID string); resends carry the same one
    channel: Channel
    kind: str  # an AlertKind or NoticeKind value: "fever.confirmed", "reminder.day3", ...
    priority: Priority
    created_at: datetime
    body: str  # the payload, already rendered
    content_type: str
    decision_id: str | None = None
    # Not sent before this time (a non-urgent notice held by quiet hours); None: at once.
    not_before: datetime | None = None


@dataclass(frozen=True, slots=True)
class OutboxRow:
    """An outbox entry with its delivery state: the one outbox row type."""

    id: str
    channel: Channel
    kind: str
    priority: Priority
    created_at: datetime
    body: str
    content_type: str
    decision_id: str | None
    status: OutboxStatus
    attempts: int
    next_attempt_at: datetime | None
    last_attempt_at: datetime | None
    last_status: int | None
    last_error: str | None
    delivered_at: datetime | None
    escalated_at: datetime | None
    not_before: datetime | None = None  # held until then (quiet hours); None: never held

    @classmethod
    def unsent(cls, entry: OutboxEntry, attempts: int = 0) -> Self:
        """``entry`` as a pending row not in the log (sent from memory, the log refusing)."""
        return cls(
            id=entry.id,
            channel=Channel(entry.channel),
            kind=entry.kind,
            priority=Priority(entry.priority),
            created_at=entry.created_at,
            body=entry.body,
            content_type=entry.content_type,
            decision_id=entry.decision_id,
            status=OutboxStatus.PENDING,
            attempts=attempts,
            next_attempt_at=None,
            last_attempt_at=None,
            last_status=None,
            last_error=None,
            delivered_at=None,
            escalated_at=None,
            not_before=entry.not_before,
        )


_OUTBOX_COLUMNS: Final = (
    "id, channel, kind, priority, created_us, body, content_type, decision_id, status, "
    "attempts, next_attempt_us, last_attempt_us, last_status, last_error, delivered_us, "
    "escalated_us, not_before_us"
)

# Members by value from a dict (as readings.py does): a row's words back as enum members.
_CHANNEL_OF: Final[dict[str, Channel]] = {member.value: member for member in Channel}
_PRIORITY_OF: Final[dict[str, Priority]] = {member.value: member for member in Priority}
_STATUS_OF: Final[dict[str, OutboxStatus]] = {member.value: member for member in OutboxStatus}


class OutboxQueue(Database):
    """The log's outbox (one part of :class:`~portwatch.log.store.Store`)."""

    def enqueue(self, entries: Sequence[OutboxEntry]) -> None:
        """Add alerts not caused by the rule (symptoms, heartbeats); idempotent on id."""
        with self._write("enqueueing alerts") as db:
            for entry in entries:
                insert_outbox(db, entry)

    def outbox_get(self, alert_id: str) -> OutboxRow | None:
        rows = self._outbox_where("id = ?", (alert_id,))
        return rows[0] if rows else None

    def outbox_all(self, status: OutboxStatus | None = None) -> list[OutboxRow]:
        """Every outbox row, or those with `status`, in the order decided."""
        if status is None:
            return self._outbox_where("1", ())
        return self._outbox_where("status = ?", (OutboxStatus(status).value,))

    def alerts(self, since: datetime, until: datetime) -> list[OutboxRow]:
        """Outbox entries created in [since, until), in the order decided."""
        return self._outbox_where(
            "created_us >= ? AND created_us < ?", (to_us(since, "since"), to_us(until, "until"))
        )

    def outbox_record_attempt(
        self,
        alert_id: str,
        at: datetime,
        status_code: int | None,
        error: str | None,
        next_attempt_at: datetime,
    ) -> None:
        """A failed attempt that will be retried at `next_attempt_at`."""
        self._outbox_update(
            alert_id,
            "attempts = attempts + 1, last_attempt_us = ?, last_status = ?, last_error = ?, "
            "next_attempt_us = ?",
            (to_us(at, "at"), status_code, error, to_us(next_attempt_at, "next_attempt_at")),
        )

    def outbox_mark_delivered(self, alert_id: str, at: datetime, status_code: int) -> None:
        self._outbox_update(
            alert_id,
            "status = ?, attempts = attempts + 1, last_attempt_us = ?, "
            "last_status = ?, last_error = NULL, delivered_us = ?, next_attempt_us = NULL",
            (OutboxStatus.DELIVERED.value, to_us(at, "at"), status_code, to_us(at, "at")),
        )

    def outbox_mark_failed(
        self, alert_id: str, at: datetime, status_code: int | None, error: str | None
    ) -> None:
        """A permanent failure: the alert waits for a person (`alerts resend`)."""
        self._outbox_update(
            alert_id,
            "status = ?, attempts = attempts + 1, last_attempt_us = ?, "
            "last_status = ?, last_error = ?, next_attempt_us = NULL",
            (OutboxStatus.FAILED.value, to_us(at, "at"), status_code, error),
        )

    def outbox_mark_escalated(self, alert_id: str, at: datetime) -> None:
        self._outbox_update(alert_id, "escalated_us = ?", (to_us(at, "at"),))

    def outbox_requeue(self, alert_id: str, now: datetime) -> None:
        """Make an alert pending and due now (a person fixed the setting and resends)."""
        self._outbox_update(
            alert_id,
            "status = ?, next_attempt_us = ?, escalated_us = NULL",
            (OutboxStatus.PENDING.value, to_us(now, "now")),
        )

    def _outbox_where(self, where: str, params: Sequence[Any]) -> list[OutboxRow]:
        rows = self._read(
            f"SELECT {_OUTBOX_COLUMNS} FROM outbox WHERE {where} ORDER BY created_us, seq",  # noqa: S608
            params,
        )
        return [_outbox_from_row(row) for row in rows]

    def _outbox_update(self, alert_id: str, assignments: str, params: Sequence[Any]) -> None:
        with self._write("updating the outbox") as db:
            cursor = db.execute(
                f"UPDATE outbox SET {assignments} WHERE id = ?",  # noqa: S608 (fixed text)
                (*params, alert_id),
            )
            if cursor.rowcount == 0:
                raise StoreInputError(f"no outbox entry with id {alert_id!r}")


def insert_outbox(db: sqlite3.Connection, entry: OutboxEntry) -> None:
    """Queue ``entry`` as pending (inside a write transaction); idempotent on its id.

    Raises:
        StoreInputError: no id, or a channel or priority that is not one of ours.
    """
    if not entry.id:
        raise StoreInputError("an outbox entry needs an id")
    channel = _CHANNEL_OF.get(entry.channel)
    if channel is None:
        raise StoreInputError(
            f"outbox entry {entry.id}: channel {entry.channel!r} is not one of "
            f"{', '.join(sorted(_CHANNEL_OF))}"
        )
    priority = _PRIORITY_OF.get(entry.priority)
    if priority is None:
        raise StoreInputError(
            f"outbox entry {entry.id}: priority {entry.priority!r} is not one of "
            f"{', '.join(sorted(_PRIORITY_OF))}"
        )
    created_us = to_us(entry.created_at, "created_at")
    not_before_us = opt_us(entry.not_before, "not_before")
    db.execute(
        "INSERT INTO outbox (id, channel, kind, priority, created_us, body, content_type, "
        "decision_id, status, attempts, next_attempt_us, not_before_us) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 0, ?, ?) ON CONFLICT (id) DO NOTHING",
        (
            entry.id,
            channel.value,
            entry.kind,
            priority.value,
            created_us,
            entry.body,
            entry.content_type,
            entry.decision_id,
            OutboxStatus.PENDING.value,
            # The first attempt is due when the hold ends (delivery's next_due holds it too).
            created_us if not_before_us is None else max(created_us, not_before_us),
            not_before_us,
        ),
    )


def _outbox_from_row(row: Sequence[Any]) -> OutboxRow:
    (
        alert_id,
        channel,
        kind,
        priority,
        created_us,
        body,
        content_type,
        decision_id,
        status,
        attempts,
        next_us,
        last_us,
        last_status,
        last_error,
        delivered_us,
        escalated_us,
        not_before_us,
    ) = row
    try:
        channel_member = _CHANNEL_OF[channel]
        priority_member = _PRIORITY_OF[priority]
        status_member = _STATUS_OF[status]
    except KeyError as exc:
        raise StoreError(
            f"the log's outbox row {alert_id} holds {exc.args[0]!r}, which this portwatch "
            "does not know as a channel, priority or status"
        ) from None
    return OutboxRow(
        id=alert_id,
        channel=channel_member,
        kind=kind,
        priority=priority_member,
        created_at=from_us(created_us),
        body=body,
        content_type=content_type,
        decision_id=decision_id,
        status=status_member,
        attempts=attempts,
        next_attempt_at=opt_dt(next_us),
        last_attempt_at=opt_dt(last_us),
        last_status=last_status,
        last_error=last_error,
        delivered_at=opt_dt(delivered_us),
        escalated_at=opt_dt(escalated_us),
        not_before=opt_dt(not_before_us),
    )
