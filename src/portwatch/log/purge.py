"""Retention: removing what happened before a time, never an alert still to be delivered."""

from __future__ import annotations

from datetime import datetime

from portwatch.log.database import Database
from portwatch.log.outbox import OutboxStatus
from portwatch.log.rollup import CHART_MINUTE_US, refresh_minutes
from portwatch.log.times import to_us

__all__ = ["Retention"]


class Retention(Database):
    """The log's purge (one part of :class:`~portwatch.log.store.Store`)."""

    def purge(self, before: datetime, *, dry_run: bool = False) -> dict[str, int]:
        """Remove what happened before `before`; returns rows removed per table.

        Alerts still pending or failed are kept (no alert is ever dropped), and so are the
        decisions they name. With `dry_run` nothing is removed and the counts are what would be.
        """
        cut = to_us(before, "before")
        # Outbox rows go before the decisions they name (the foreign key); the decisions'
        # condition gives the same answer before and after, so the dry run counts true.
        tails = {
            "readings": "FROM readings WHERE time_us < :cut",
            "link_events": "FROM link_events WHERE time_us < :cut",
            "outbox": "FROM outbox WHERE created_us < :cut AND status = :delivered",
            "decisions": (
                "FROM decisions WHERE time_us < :cut AND id NOT IN (SELECT decision_id FROM "
                "outbox WHERE decision_id IS NOT NULL AND NOT (created_us < :cut AND "
                "status = :delivered))"
            ),
            "symptom_reports": "FROM symptom_reports WHERE time_us < :cut",
            "reminders_sent": "FROM reminders_sent WHERE sent_us < :cut",
            "notes": "FROM notes WHERE end_us < :cut",
        }
        params = {"cut": cut, "delivered": OutboxStatus.DELIVERED.value}
        if dry_run:
            return {
                table: int(self._read(f"SELECT COUNT(*) {tail}", params)[0][0])
                for table, tail in tails.items()
            }
        with self._write("purging") as db:
            removed = {
                table: db.execute(f"DELETE {tail}", params).rowcount
                for table, tail in tails.items()
            }
            # The chart's rollup follows its readings: minutes wholly before the cut go,
            # and the minute the cut falls in is summarised again from what is left.
            db.execute("DELETE FROM chart_minutes WHERE minute < ?", (cut // CHART_MINUTE_US,))
            refresh_minutes(db, [cut // CHART_MINUTE_US])
            return removed
