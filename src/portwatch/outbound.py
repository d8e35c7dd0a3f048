"""What each decision and each timed event puts in the outbox. Pure.

The daemon's one translation table between the stages: a rule :class:`~portwatch.model.Decision`
becomes the clinic alert the alerts stage renders (in the clinic's format) and the notices the
daemon stage words for the caregiver and the patient (alerts.md, "Who is told what"); the
stale-data watch, the care sheet and the daily summary become notices too. Every entry's
identifier is derived from the facts behind it, so the same decision or the same silence
queued again after a restart is the same row (the store enqueues idempotently on it).

Notices travel on the outbox's ``notify`` channel as the body the notification sender reads
(``{"title", "message"}``); clinic alerts on the ``clinic`` channel, already rendered.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, tzinfo
from typing import Final

from portwatch.alerts.outbox import clinic_entry, notify_entry
from portwatch.alerts.payloads import AlertContext, ClinicFormat, Priority, fever_alert
from portwatch.model import Decision, DecisionType, Observation, derived_id
from portwatch.notices import NoticeKind
from portwatch.notices import render as render_notice
from portwatch.store import OutboxEntry

__all__ = [
    "CLINIC",
    "DECISION_NOTICES",
    "NOTIFY",
    "Outbound",
    "OutboundError",
    "clock_text",
    "notice_entry",
    "temperature_text",
]

CLINIC: Final = "clinic"
NOTIFY: Final = "notify"

# alerts.md, "Who is told what": which notices each decision of the rule sends. The rule's
# READING_INVALID is logged only (fever-rule.md §1: kept with its reason, alerting nobody).
DECISION_NOTICES: Final[Mapping[DecisionType, tuple[NoticeKind, ...]]] = {
    DecisionType.READING_INVALID: (),
    DecisionType.ELEVATED_FIRST: (NoticeKind.ELEVATED_FIRST,),
    DecisionType.RECHECK_DUE: (NoticeKind.RECHECK_REMINDER,),
    DecisionType.FEVER_CONFIRMED: (
        NoticeKind.FEVER_CONFIRMED_CAREGIVER,
        NoticeKind.FEVER_CONFIRMED_PATIENT,
    ),
    DecisionType.FEVER_ONGOING: (NoticeKind.FEVER_ONGOING,),
    DecisionType.FEVER_RESOLVED: (NoticeKind.FEVER_RESOLVED,),
}
# alerts.md: the clinic hears of confirmed, ongoing and resolved fevers, nothing else the
# rule decides.
CLINIC_DECISIONS: Final = frozenset(
    {DecisionType.FEVER_CONFIRMED, DecisionType.FEVER_ONGOING, DecisionType.FEVER_RESOLVED}
)


class OutboundError(ValueError):
    """A decision cannot be turned into outbox entries (the message names the decision)."""


def temperature_text(observation: Observation) -> str:
    """As the device reported it, for a person: "101.4 °F", "38.6 °C"."""
    return f"{observation.value} °{observation.unit.value}"


def clock_text(when: datetime, zone: tzinfo) -> str:
    """A time a person reads at a glance, in the patient's zone: "Tue 14:05"."""
    return when.astimezone(zone).strftime("%a %H:%M")


def notice_entry(
    kind: NoticeKind,
    facts: Mapping[str, str],
    *,
    key: str,
    patient: str,
    now: datetime,
    decision_id: str | None = None,
) -> OutboxEntry:
    """One notice as a ``notify`` outbox row; ``key`` names the fact it is about.

    Raises:
        NoticeError: a fact its text needs is missing.
    """
    notice = render_notice(kind, facts)
    return notify_entry(
        str(derived_id(patient, "notice", kind.value, key)),
        kind.value,
        Priority.URGENT if notice.urgent else Priority.ROUTINE,
        notice.title,
        notice.text,
        now,
        decision_id,
    )


@dataclass(frozen=True, slots=True)
class Outbound:
    """Turns decisions into outbox rows for one patient, clinic format and time zone."""

    context: AlertContext
    clinic_format: ClinicFormat
    zone: tzinfo

    def for_decisions(self, decisions: Sequence[Decision], now: datetime) -> list[OutboxEntry]:
        """The clinic alert and the notices of each decision, in decision order.

        Raises:
            OutboundError: a decision lacks what its alert or notice must cite.
        """
        entries: list[OutboxEntry] = []
        for decision in decisions:
            try:
                entries.extend(self._for_decision(decision, now))
            except ValueError as exc:
                raise OutboundError(
                    f"decision {decision.id} ({decision.type.value}): {exc}"
                ) from exc
        return entries

    def _for_decision(self, decision: Decision, now: datetime) -> list[OutboxEntry]:
        entries: list[OutboxEntry] = []
        ident = str(decision.id)
        if decision.type in CLINIC_DECISIONS:
            entries.append(
                clinic_entry(fever_alert(decision), self.context, self.clinic_format, now)
            )
        facts = self._facts(decision)
        entries.extend(
            notice_entry(
                kind,
                facts,
                key=ident,
                patient=self.context.patient,
                now=now,
                decision_id=ident,
            )
            for kind in DECISION_NOTICES[decision.type]
        )
        return entries

    def _facts(self, decision: Decision) -> dict[str, str]:
        """Every fact a decision's notices may name, formatted for a person."""
        observations = decision.observations
        first = observations[0] if observations else None
        last = observations[-1] if observations else None
        facts = {"time": clock_text(decision.time, self.zone)}
        if first is not None and last is not None:
            facts["first_time"] = clock_text(first.time, self.zone)
            facts["time"] = clock_text(last.time, self.zone)
            facts["temperature"] = temperature_text(last)
        if decision.due is not None:
            facts["recheck_at"] = clock_text(decision.due, self.zone)
        return facts
