"""The rule's decisions, written with the alerts they cause in one transaction."""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from portwatch.log.database import Database
from portwatch.log.errors import StoreInputError
from portwatch.log.outbox import OutboxEntry, insert_outbox
from portwatch.log.times import from_us, opt_dt, opt_us, to_us
from portwatch.model import Decision, DecisionType, Observation, Site, Unit

__all__ = ["Decisions"]


class Decisions(Database):
    """The log's decisions (one part of :class:`~portwatch.log.store.Store`)."""

    def record_decisions(
        self, decisions: Sequence[Decision], outbox: Sequence[OutboxEntry]
    ) -> None:
        """Write decisions and their alerts in one transaction (design.md, "Nothing is lost").

        Idempotent on the decision id: a decision already recorded is skipped together with
        the outbox entries that name it, so replaying readings after a restart never sends
        anything twice. Entries with no decision id are enqueued idempotently on their id.

        Raises:
            StoreInputError: an entry names a decision that is neither here nor recorded.
        """
        with self._write("recording decisions") as db:
            fresh: set[str] = set()
            for decision in decisions:
                cursor = db.execute(
                    "INSERT INTO decisions (id, type, time_us, summary, observations, late, "
                    "due_us, reason, settings) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) "
                    "ON CONFLICT (id) DO NOTHING",
                    _decision_row(decision),
                )
                if cursor.rowcount:
                    fresh.add(str(decision.id))
            for entry in outbox:
                if entry.decision_id is not None and entry.decision_id not in fresh:
                    known = db.execute(
                        "SELECT 1 FROM decisions WHERE id = ?", (entry.decision_id,)
                    ).fetchone()
                    if known is None:
                        raise StoreInputError(
                            f"outbox entry {entry.id} names decision {entry.decision_id}, "
                            "which is neither in this batch nor recorded"
                        )
                    continue  # its decision was recorded before: so was it
                insert_outbox(db, entry)

    def decisions(self, since: datetime, until: datetime) -> list[Decision]:
        rows = self._read(
            "SELECT id, type, time_us, summary, observations, late, due_us, reason, settings "
            "FROM decisions WHERE time_us >= ? AND time_us < ? ORDER BY time_us, rowid",
            (to_us(since, "since"), to_us(until, "until")),
        )
        return [_decision_from_row(row) for row in rows]


def _observation_json(observation: Observation) -> dict[str, Any]:
    return {
        "time_us": to_us(observation.time, "observation time"),
        "celsius": observation.celsius,
        "value": str(observation.value),
        "unit": Unit(observation.unit).value,
        "device": observation.device,
        "site": None if observation.site is None else Site(observation.site).value,
        "samples": observation.samples,
        "late": observation.late,
    }


def _observation_from_json(data: dict[str, Any]) -> Observation:
    return Observation(
        time=from_us(data["time_us"]),
        celsius=data["celsius"],
        value=Decimal(data["value"]),
        unit=Unit(data["unit"]),
        device=data["device"],
        site=None if data["site"] is None else Site(data["site"]),
        samples=data["samples"],
        late=data["late"],
    )


def _decision_row(decision: Decision) -> tuple[Any, ...]:
    return (
        str(decision.id),
        DecisionType(decision.type).value,
        to_us(decision.time, "decision time"),
        decision.summary,
        json.dumps([_observation_json(o) for o in decision.observations]),
        int(decision.late),
        opt_us(decision.due, "decision due"),
        decision.reason,
        json.dumps([list(pair) for pair in decision.settings]),
    )


def _decision_from_row(row: Sequence[Any]) -> Decision:
    decision_id, kind, time_us, summary, observations, late, due_us, reason, settings = row
    return Decision(
        id=uuid.UUID(decision_id),
        type=DecisionType(kind),
        time=from_us(time_us),
        summary=summary,
        observations=tuple(_observation_from_json(o) for o in json.loads(observations)),
        late=bool(late),
        due=opt_dt(due_us),
        reason=reason,
        settings=tuple((str(k), str(v)) for k, v in json.loads(settings)),
    )
