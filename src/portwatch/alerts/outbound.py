"""What each decision and each timed event puts in the outbox. Pure.

The daemon's one translation table between the stages: a rule :class:`~portwatch.model.Decision`
becomes the clinic alert the alerts stage renders (in the clinic's format) and the notices the
daemon stage words for the caregiver and the patient (alerts.md, "Who is told what"); the
stale-data watch, the care sheet and the daily summary become notices too. Every entry's
identifier is derived from the facts behind it, so the same decision or the same silence
queued again after a restart is the same row (the store enqueues idempotently on it).

Notices travel as the body the notification sender reads (``{"title", "message"}``) on the
channel of the person they are for (:func:`notice_channels`): ``notify`` for the caregiver,
``patient`` for the patient when a patient URL is set. A non-urgent notice queued in quiet
hours carries their end as its not-before time, so it waits in the log, across restarts,
and goes once when they end; urgent ones go at once. Clinic alerts travel on the ``clinic``
channel, already rendered, and are never held.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, tzinfo
from typing import Final, Literal

from portwatch.alerts.notices import Audience, Notice, NoticeKind, QuietHours, held_until
from portwatch.alerts.notices import render as render_notice
from portwatch.alerts.outbox import clinic_entry, notify_entry
from portwatch.alerts.payloads import AlertContext, ClinicFormat, Priority, fever_alert
from portwatch.alerts.sentences import temperature
from portwatch.log.store import Channel, OutboxEntry
from portwatch.model import Decision, DecisionType, Observation, Unit, derived_id

__all__ = [
    "DECISION_NOTICES",
    "NoticeChannel",
    "Outbound",
    "OutboundError",
    "clock_text",
    "notice_channels",
    "notice_entries",
    "notice_entry",
    "temperature_text",
]

NoticeChannel = Literal[Channel.NOTIFY, Channel.PATIENT]

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


def temperature_text(observation: Observation, unit: Unit | None = None) -> str:
    """For a person, in the display `unit` ("101.4 °F"); without one, as the device sent it."""
    if unit is None:
        return f"{observation.value} °{observation.unit.value}"
    return temperature(observation, unit)


def clock_text(when: datetime, zone: tzinfo) -> str:
    """A time a person reads at a glance, in the patient's zone, named: "Tue 14:05 CET"."""
    local = when.astimezone(zone)
    return f"{local:%a %H:%M} {local.tzname() or ''}".rstrip()


def notice_channels(
    audiences: frozenset[Audience], *, patient_channel: bool
) -> tuple[NoticeChannel, ...]:
    """The outbox channels a notice for ``audiences`` travels on, the caregiver's first.

    With a patient URL (``patient_channel``) the patient's notices go to it and nowhere
    else, and notices for both go to both. Without one, the patient's notices go to the
    caregiver's URL: alerts.md names one optional URL for "the caregiver and patient", and
    the patient's notices are ones that must reach someone (the recheck reminder the second
    reading of a fever depends on, "your clinic has been told", the care sheet), so the
    caregiver who looks after the patient hears them rather than nobody.
    """
    channels: list[NoticeChannel] = []
    if Audience.CAREGIVER in audiences or not patient_channel:
        channels.append(Channel.NOTIFY)
    if Audience.PATIENT in audiences and patient_channel:
        channels.append(Channel.PATIENT)
    return tuple(channels)


def notice_entries(
    notice: Notice,
    entry_id: str,
    *,
    now: datetime,
    decision_id: str | None = None,
    quiet: QuietHours | None = None,
    patient_channel: bool = False,
) -> list[OutboxEntry]:
    """A rendered notice as one outbox row per channel of its readers (:func:`notice_channels`).

    The first row has ``entry_id``; a second (the patient's copy of a notice for both) has
    an id derived from it and its channel, so each reader's row is queued once. A notice
    that quiet hours hold back at ``now`` (``notices.held_until``) is not sent before they end.
    """
    hold = held_until(notice, quiet, now)
    channels = notice_channels(notice.audiences, patient_channel=patient_channel)
    return [
        notify_entry(
            entry_id if index == 0 else str(derived_id(entry_id, channel.value)),
            notice.kind.value,
            Priority.URGENT if notice.urgent else Priority.ROUTINE,
            notice.title,
            notice.text,
            now,
            decision_id,
            channel=channel,
            not_before=hold,
        )
        for index, channel in enumerate(channels)
    ]


def notice_entry(
    kind: NoticeKind,
    facts: Mapping[str, str],
    *,
    key: str,
    patient: str,
    now: datetime,
    decision_id: str | None = None,
) -> OutboxEntry:
    """One notice as a ``notify`` (caregiver's) outbox row, sent at once; ``key`` names the
    fact it is about. For the daemon's own urgent news to the caregiver (a stuck alert,
    storage trouble); the rule's notices go through :class:`Outbound`.

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
    """Turns decisions into outbox rows for one patient, clinic format and time zone.

    ``quiet``: the quiet hours that hold back non-urgent notices (None: none);
    ``patient_channel``: whether a patient URL is set (:func:`notice_channels`).
    """

    context: AlertContext
    clinic_format: ClinicFormat
    zone: tzinfo
    quiet: QuietHours | None = None
    patient_channel: bool = False

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
                clinic_entry(
                    fever_alert(decision, self.context), self.context, self.clinic_format, now
                )
            )
        facts = self._facts(decision)
        for kind in DECISION_NOTICES[decision.type]:
            entries.extend(
                notice_entries(
                    render_notice(kind, facts),
                    str(derived_id(self.context.patient, "notice", kind.value, ident)),
                    now=now,
                    decision_id=ident,
                    quiet=self.quiet,
                    patient_channel=self.patient_channel,
                )
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
            facts["temperature"] = temperature_text(last, self.context.unit)
        if decision.due is not None:
            facts["recheck_at"] = clock_text(decision.due, self.zone)
        return facts
