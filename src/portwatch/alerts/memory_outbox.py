"""An outbox kept in memory, for a notice the log cannot take (issue 4: the disk is full).

The storage notice tells the caregiver that the log refuses writes, so it cannot wait in
the log's outbox. It waits here instead, and the same :class:`~portwatch.alerts.delivery.
Deliverer` sends it, with the same policy, backoff and stop handling as every other row:
there is one delivery path, not a second retry loop. A row leaves when it is delivered
(``on_delivered`` is told, so the caller can log it once the log takes writes again) or
refused for good; an unsent row is lost with the process, and the next start tells again.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from typing import TypeVar

from portwatch.log.store import OutboxEntry, OutboxRow, OutboxStatus, StoreInputError

__all__ = ["MemoryOutbox", "OnDelivered"]

OnDelivered = Callable[[OutboxEntry, datetime, int], None]
_T = TypeVar("_T")


class MemoryOutbox:
    """The outbox contract (:class:`~portwatch.alerts.delivery.Outbox`) over a dict."""

    def __init__(self, on_delivered: OnDelivered) -> None:
        self._on_delivered = on_delivered
        self._entries: dict[str, OutboxEntry] = {}
        self._rows: dict[str, OutboxRow] = {}

    def add(self, entry: OutboxEntry) -> None:
        """Queue ``entry`` as a pending row, never tried yet."""
        self._entries[entry.id] = entry
        self._rows[entry.id] = OutboxRow.unsent(entry)

    def __len__(self) -> int:
        return len(self._rows)

    async def run(self, fn: Callable[[], _T], /) -> _T:
        """The log's entrance, here with no thread to go to: a dict is not shared."""
        return fn()

    def outbox_all(self, status: OutboxStatus | None = None) -> list[OutboxRow]:
        return [row for row in self._rows.values() if status in (None, row.status)]

    def outbox_record_attempt(
        self,
        alert_id: str,
        at: datetime,
        status_code: int | None,
        error: str | None,
        next_attempt_at: datetime,
        /,
    ) -> None:
        row = self._row(alert_id)
        self._rows[alert_id] = replace(
            row,
            attempts=row.attempts + 1,
            next_attempt_at=next_attempt_at,
            last_attempt_at=at,
            last_status=status_code,
            last_error=error,
        )

    def outbox_mark_delivered(self, alert_id: str, at: datetime, status_code: int, /) -> None:
        self._row(alert_id)
        del self._rows[alert_id]
        self._on_delivered(self._entries.pop(alert_id), at, status_code)

    def outbox_mark_failed(
        self, alert_id: str, at: datetime, status_code: int | None, error: str | None, /
    ) -> None:
        del at, status_code, error  # the Deliverer said it at WARNING; nothing to keep
        self._row(alert_id)
        del self._rows[alert_id]
        del self._entries[alert_id]

    def outbox_mark_escalated(self, alert_id: str, at: datetime, /) -> None:
        self._rows[alert_id] = replace(self._row(alert_id), escalated_at=at)

    def _row(self, alert_id: str) -> OutboxRow:
        row = self._rows.get(alert_id)
        if row is None:
            raise StoreInputError(f"no alert {alert_id} in the outbox")
        return row
