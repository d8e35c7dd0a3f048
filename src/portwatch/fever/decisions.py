"""The rule's ledger: every decision made once, with its id, its time and whether it is late.

An identifier is derived from the patient and the facts behind the decision (§6), so the
same readings give the same ids however they are batched and wherever the program
restarts; the ledger remembers the ids it has made and never makes one twice.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Final

from portwatch.fever.timeline import Placed
from portwatch.model import Decision, DecisionType, derived_id

__all__ = ["INVALID_REMEMBERED", "Ledger"]

# Choice (memory): a thermometer off the skin sends an invalid reading a second; the ids of
# the latest invalid ones are enough to say a repeat once (a resend comes soon after; an
# overlapping import is stored once by the log), and the log skips an id it already has.
INVALID_REMEMBERED: Final = 4096


class Ledger:
    """Decisions made so far (their ids) and those made by the current feed or advance.

    Args:
        patient: part of every identifier.
        settings: the settings in force, cited by every decision.
        late_after: §6, two windows: a decision this much after its cause is late.
        start: the decision time before anything arrived.
    """

    def __init__(
        self,
        patient: str,
        settings: tuple[tuple[str, str], ...],
        late_after: timedelta,
        start: datetime,
    ) -> None:
        self.patient = patient
        self.settings = settings
        self.late_after = late_after
        self.time = start  # the moment the current decisions are made
        self.out: list[Decision] = []
        self._decided: set[uuid.UUID] = set()
        self._invalid: dict[uuid.UUID, None] = {}  # the latest, oldest first

    def collect(self, time: datetime) -> list[Decision]:
        """Start collecting the decisions made at ``time``; returns the list they go to."""
        self.time = time
        self.out = []
        return self.out

    def is_late(self, time: datetime) -> bool:
        """§6: more than two windows older than the moment it is decided."""
        return self.time - time > self.late_after

    def emit(
        self,
        type_: DecisionType,
        facts: tuple[str, ...],
        *,
        summary: str,
        observations: Sequence[Placed] = (),
        trigger: datetime | None = None,
        due: datetime | None = None,
        reason: str | None = None,
    ) -> uuid.UUID | None:
        """Record one decision unless it was made before; return its id when new."""
        ident = derived_id(self.patient, type_.value, *facts)
        if ident in self._decided or ident in self._invalid:
            return None
        if type_ is DecisionType.READING_INVALID:
            self._invalid[ident] = None
            if len(self._invalid) > INVALID_REMEMBERED:
                del self._invalid[next(iter(self._invalid))]
        else:
            self._decided.add(ident)
        late = (trigger is not None and self.is_late(trigger)) or any(o.late for o in observations)
        self.out.append(
            Decision(
                id=ident,
                type=type_,
                time=self.time,
                summary=summary,
                observations=tuple(o.as_cited() for o in observations),
                late=late,
                due=due,
                reason=reason,
                settings=self.settings,
            )
        )
        return ident
