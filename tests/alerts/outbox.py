"""A stand-in for the store's outbox (store.py, issue 3) while that stage is not on main.

It implements the outbox contract from the brief to the letter, in memory, so that the
deliverer's tests exercise the contract rather than our guess at store internals. When the
store lands these tests should run against ``portwatch.store.Store`` on a temporary file;
this module then goes away.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, replace
from datetime import datetime


@dataclass(frozen=True, slots=True)
class Row:
    id: str
    channel: str
    kind: str
    priority: str
    created_at: datetime
    body: str
    content_type: str
    decision_id: str | None = None
    status: str = "pending"
    attempts: int = 0
    next_attempt_at: datetime | None = None
    last_attempt_at: datetime | None = None
    last_status: int | None = None
    last_error: str | None = None
    delivered_at: datetime | None = None
    escalated_at: datetime | None = None


class MemoryOutbox:
    """Rows in insertion (decision) order; idempotent enqueue on id."""

    def __init__(self) -> None:
        self._rows: dict[str, Row] = {}
        self.threads: set[str] = set()  # names of the threads that called in

    def enqueue(self, rows: list[Row]) -> None:
        for row in rows:
            self._rows.setdefault(row.id, row)

    def outbox_get(self, id: str) -> Row:
        return self._rows[id]

    def outbox_all(self, status: str | None = None) -> list[Row]:
        self.threads.add(threading.current_thread().name)
        return [r for r in self._rows.values() if status is None or r.status == status]

    def outbox_record_attempt(
        self, id: str, at: datetime, status_code: int | None, error: str | None,
        next_attempt_at: datetime,
    ) -> None:  # fmt: skip
        row = self._rows[id]
        self._rows[id] = replace(
            row, attempts=row.attempts + 1, last_attempt_at=at, last_status=status_code,
            last_error=error, next_attempt_at=next_attempt_at,
        )  # fmt: skip

    def outbox_mark_delivered(self, id: str, at: datetime, status_code: int) -> None:
        self.threads.add(threading.current_thread().name)
        row = self._rows[id]
        self._rows[id] = replace(
            row, status="delivered", attempts=row.attempts + 1, last_attempt_at=at,
            last_status=status_code, delivered_at=at,
        )  # fmt: skip

    def outbox_mark_failed(
        self, id: str, at: datetime, status_code: int | None, error: str | None
    ) -> None:
        row = self._rows[id]
        self._rows[id] = replace(
            row, status="failed", attempts=row.attempts + 1, last_attempt_at=at,
            last_status=status_code, last_error=error,
        )  # fmt: skip

    def outbox_mark_escalated(self, id: str, at: datetime) -> None:
        self._rows[id] = replace(self._rows[id], escalated_at=at)

    def outbox_requeue(self, id: str, now: datetime) -> None:
        self._rows[id] = replace(self._rows[id], status="pending", next_attempt_at=now)
