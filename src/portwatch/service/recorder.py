"""The daemon's writes to the log's outbox: the rule's decisions with their alerts, a
symptom report's urgent alert, a caregiver's notice about a stuck alert; each wakes delivery.

All on the event loop's own connection to the log (design.md, "Nothing is lost": a decision
and its outbox rows are one transaction). A log that refuses the decisions keeps them in
memory and they are written, in order, on the next call.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import tzinfo

from portwatch.alerts import payloads
from portwatch.alerts.delivery import StuckReason
from portwatch.alerts.notices import stuck_notice
from portwatch.alerts.outbound import Outbound, clock_text, notice_entry
from portwatch.alerts.outbox import clinic_entry
from portwatch.clock import Clock
from portwatch.log.store import Channel, OutboxEntry, OutboxRow, Store, StoreError
from portwatch.model import Decision, DecisionType, Symptom
from portwatch.service.fever_state import FeverState
from portwatch.service.hooks import DaemonHooks

__all__ = ["Recorder"]

_LOGGER = logging.getLogger("portwatch.service.daemon")


class Recorder:
    """Writes what must be sent into the log's outbox, then rings ``wake`` (delivery's).

    Args:
        store: the event loop's connection to the log.
        outbound: what each decision sends, to whom (alerts.md).
        fever: follows the episode through every decision recorded.
        clock: the daemon's clock.
        wake: tells delivery that rows were queued.
        patient: the patient's reference, for the caregiver's notices.
        zone: the patient's zone, for times in those notices.
        hooks: the demo's and the tests' observers (they decide nothing).
    """

    def __init__(
        self,
        store: Store,
        outbound: Outbound,
        fever: FeverState,
        clock: Clock,
        wake: Callable[[], None],
        *,
        patient: str,
        zone: tzinfo,
        hooks: DaemonHooks,
    ) -> None:
        self._store = store
        self.outbound = outbound
        self._fever = fever
        self._clock = clock
        self._wake = wake
        self._patient = patient
        self._zone = zone
        self._hooks = hooks
        self._unrecorded: list[tuple[list[Decision], list[OutboxEntry]]] = []

    def decide(self, decisions: list[Decision]) -> None:
        """Record decisions with their outbox rows in one transaction, then wake delivery.

        A log that cannot be written keeps them in memory and tries again on the next call
        (the rule ticks every minute).
        """
        if decisions:
            entries = self.outbound.for_decisions(decisions, self._clock.now())
            self._fever.track(decisions)
            self._unrecorded.append((decisions, entries))
        while self._unrecorded:
            batch, entries = self._unrecorded[0]
            try:
                self._store.record_decisions(batch, entries)
            except StoreError as exc:
                _LOGGER.warning("store: %s decisions wait to be recorded: %s", len(batch), exc)
                return
            self._unrecorded.pop(0)
            for decision in batch:
                if decision.type is not DecisionType.READING_INVALID:
                    _LOGGER.info("decided %s (%s)", decision.type.value, decision.id)
            self._observe(batch, entries)
            if entries:
                self._wake()

    def enqueue(self, entries: Sequence[OutboxEntry]) -> None:
        """Queue ``entries`` in the log's outbox and wake delivery.

        Raises:
            StoreError: the log refused them.
        """
        self._store.enqueue(entries)
        self._observe((), entries)
        self._wake()

    def report_symptoms(self, symptoms: Sequence[Symptom], note: str) -> str:
        """Queue the clinic's urgent alert for a symptom report, then log it; returns its id.

        The alert goes in first: if power fails between the two writes, the clinic still hears.

        Raises:
            PayloadError: no symptom, or "other" without a note.
        """
        now = self._clock.now()
        outbound = self.outbound
        alert = payloads.symptom_alert(outbound.context, symptoms, note, now)
        entry = clinic_entry(alert, outbound.context, outbound.clinic_format, now)
        self.enqueue([entry])
        self._store.add_symptom_report(now, alert.symptoms, alert.note)
        return entry.id

    def heartbeat(self, state: payloads.GatewayState) -> None:
        """Queue the clinic's heartbeat (the JSON channel only, alerts.md)."""
        now = self._clock.now()
        context = self.outbound.context
        alert = payloads.heartbeat_alert(context, state, now)
        self.enqueue([clinic_entry(alert, context, payloads.ClinicFormat.JSON, now)])

    def on_stuck(self, row: OutboxRow, reason: StuckReason, answer: str) -> None:
        """Tell the caregiver about a clinic alert that is rejected or stuck (alerts.md)."""
        if row.channel != Channel.CLINIC:
            return  # the caregiver's own channel cannot carry news of its own trouble
        since = clock_text(row.created_at, self._zone)
        refused = reason is StuckReason.REJECTED
        told = stuck_notice(row.kind, refused=refused, why=answer, since=since)
        if told is None:
            return  # issue 18: a heartbeat is not an alert; status says "gateway silent since"
        kind, facts = told
        now = self._clock.now()
        self.enqueue([notice_entry(kind, facts, key=str(row.id), patient=self._patient, now=now)])

    def _observe(self, decisions: Sequence[Decision], entries: Sequence[OutboxEntry]) -> None:
        if self._hooks.on_recorded is not None:
            self._hooks.on_recorded(decisions, entries)
