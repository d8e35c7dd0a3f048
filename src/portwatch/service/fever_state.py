"""What the daemon knows of the fever episode between decisions, for the page-less status
line and the timed work (alerts.md: the stale-data watch speaks sooner while a fever awaits
its pair; the daily summary says whether an episode is open).

Pure bookkeeping over the rule's decisions: the rule decides, this only remembers.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo

from portwatch.alerts.outbound import clock_text
from portwatch.model import Decision, DecisionType

__all__ = ["FeverState"]


@dataclass(slots=True)
class FeverState:
    """The open episode, if any, as the last decisions left it.

    Args:
        pair_window: how long a first elevated reading waits for its pair (the rule's).
        min_separation: the earliest a recheck can count (the rule's), when a decision
            names no due time.
        zone: the patient's zone, for the recheck time in :attr:`text`.
    """

    pair_window: timedelta
    min_separation: timedelta
    zone: tzinfo
    pending_until: datetime | None = None  # a first elevated reading awaits its pair
    text: str | None = None  # the status line's fever part; None: no fever
    recheck_due: datetime | None = None  # when the pending first reading's recheck is due
    open: bool = False  # a confirmed episode not yet resolved

    def track(self, decisions: Sequence[Decision]) -> None:
        """Follow the episode through ``decisions``, in the order they were made."""
        for decision in decisions:
            if decision.type is DecisionType.ELEVATED_FIRST:
                self.pending_until = decision.time + self.pair_window
                due = decision.due or decision.time + self.min_separation
                self.recheck_due = due
                self.text = f"recheck due {clock_text(due, self.zone)}"
            elif decision.type in (DecisionType.FEVER_CONFIRMED, DecisionType.FEVER_ONGOING):
                self.pending_until = None
                self.recheck_due = None
                self.text = "fever confirmed"
                self.open = True
            elif decision.type is DecisionType.FEVER_RESOLVED:
                self.pending_until = None
                self.recheck_due = None
                self.text = None
                self.open = False

    def pending(self, now: datetime) -> bool:
        """Whether a first elevated reading still awaits its pair at ``now``."""
        return self.pending_until is not None and now < self.pending_until
