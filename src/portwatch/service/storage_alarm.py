"""Telling the caregiver, once per episode, that the log cannot be written (issue 4).

The outbox lives in that same log, so the notice does not go through it: it waits in a
:class:`~portwatch.alerts.memory_outbox.MemoryOutbox` and the ordinary
:class:`~portwatch.alerts.delivery.Deliverer` POSTs it to the caregiver's URL from there,
retried as outbox rows are. Once the log takes writes again it is logged as delivered,
held :data:`SENT_DIRECTLY_HOLD` ahead so that no deliverer ever finds it due and sends it
twice. The episode is keyed by its start (``trouble.since``); later reports of it add
nothing. Without a caregiver URL there is no one to POST to: the notice is queued in the
outbox if the log takes it (``portwatch alerts list`` shows it) and the journal carries the
WARNING either way.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from datetime import datetime, timedelta
from typing import Final

from portwatch.alerts.delivery import Deliverer, Sender, StuckReason
from portwatch.alerts.memory_outbox import MemoryOutbox
from portwatch.alerts.notices import NoticeKind
from portwatch.alerts.outbound import notice_entry
from portwatch.clock import Clock
from portwatch.log.store import Channel, OutboxEntry, OutboxRow, Store, StoreError
from portwatch.log.writer import StoreTrouble
from portwatch.service.recorder import Recorder
from portwatch.stages import Chores

__all__ = ["SENT_DIRECTLY_HOLD", "StorageAlarm"]

_LOGGER = logging.getLogger("portwatch.service.daemon")

# A storage notice sent straight to the caregiver (issue 4: "the caregiver is told", and a
# full disk cannot queue it) is logged afterwards held this far ahead, then marked
# delivered: if the second write never lands, the row still never leaves the outbox again.
SENT_DIRECTLY_HOLD: Final = timedelta(days=365 * 100)


class StorageAlarm:
    """The writer's ``on_trouble``; :meth:`run` is the stage that delivers from memory.

    Args:
        recorder: queues the notice in the outbox when there is no caregiver URL.
        sender: the caregiver's URL, on its own session (None: no caregiver URL).
        writer_store: the log's writer connection, where a notice sent directly is logged.
    """

    def __init__(
        self,
        recorder: Recorder,
        sender: Sender | None,
        clock: Clock,
        chores: Chores,
        *,
        patient: str,
        writer_store: Store,
    ) -> None:
        self._recorder = recorder
        self._clock = clock
        self._chores = chores
        self._patient = patient
        self._writer_store = writer_store
        self._told: set[str] = set()  # trouble episodes (their start) told or telling
        self._sent: list[tuple[OutboxEntry, datetime, int]] = []  # not yet logged
        self._memory = MemoryOutbox(self._delivered)
        self._direct = (
            None
            if sender is None
            else Deliverer(self._memory, {Channel.NOTIFY: sender}, clock, self._refused)
        )

    async def run(self) -> None:
        """Deliver the notices in memory until cancelled (at stop: the next start tells
        again about an episode whose notice was not yet accepted)."""
        if self._direct is None:
            await asyncio.get_running_loop().create_future()  # no URL: until cancelled
        else:
            await self._direct.run()

    def on_trouble(self, trouble: StoreTrouble | None) -> None:
        """The writer's report: the log refuses writes since ``trouble.since``, or (None)
        takes them again."""
        if trouble is None:
            if self._sent:
                self._chores.start(self._log_sent())
            return
        key = trouble.since.isoformat()
        if key in self._told:
            return
        entry = notice_entry(
            NoticeKind.STORAGE_TROUBLE,
            {"what": trouble.error},
            key=key,
            patient=self._patient,
            now=self._clock.now(),
        )
        if self._direct is not None:
            self._told.add(key)
            self._memory.add(entry)
            self._direct.wake()
            return
        try:
            self._recorder.enqueue([entry])
        except StoreError as exc:
            _LOGGER.warning(
                "store: no caregiver URL is set and the log cannot queue the storage notice "
                "(%s): only this journal line tells anyone",
                exc,
            )
            return
        self._told.add(key)

    def _delivered(self, entry: OutboxEntry, at: datetime, status_code: int) -> None:
        _LOGGER.info("storage notice %s sent to the caregiver directly", entry.id)
        self._sent.append((entry, at, status_code))
        self._chores.start(self._log_sent())

    def _refused(self, row: OutboxRow, reason: StuckReason, answer: str) -> None:
        if reason is StuckReason.REJECTED:
            _LOGGER.warning(
                "the caregiver's URL refused the storage notice (%s); check notify.caregiver_url",
                answer,
            )

    async def _log_sent(self) -> None:
        """Log the notices sent directly as delivered, if the log takes writes again.

        Each is queued held for :data:`SENT_DIRECTLY_HOLD`, then marked delivered: at no
        moment can the deliverer see it due, so it is never POSTed a second time.
        """
        waiting, self._sent = self._sent, []  # one recorder at a time
        for index, (entry, at, status_code) in enumerate(waiting):
            held = dataclasses.replace(entry, not_before=at + SENT_DIRECTLY_HOLD)

            def record(e: OutboxEntry = held, a: datetime = at, c: int = status_code) -> None:
                self._writer_store.enqueue([e])
                self._writer_store.outbox_mark_delivered(e.id, a, c)

            try:
                await self._writer_store.run(record)
            except StoreError as exc:
                _LOGGER.debug("store: a storage notice sent directly waits to be logged: %s", exc)
                self._sent[:0] = waiting[index:]
                return
