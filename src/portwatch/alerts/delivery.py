"""Delivery of outbox rows to the clinic and to the caregiver's notification URL (alerts.md).

The policy is pure and tested alone (:mod:`portwatch.alerts.policy`: :func:`classify` reads
an answer, :func:`backoff_for` says how long to wait, :func:`next_due` says which row goes
next). The edges are the endpoints (:mod:`portwatch.alerts.endpoints`), the senders
(:mod:`portwatch.alerts.posting`: requests in a worker thread, never on the event loop) and
:class:`Deliverer` here, which runs the policy on a :class:`~portwatch.clock.Clock` against
an outbox: the one kept in the log, or a :class:`MemoryOutbox` for a notice the log cannot
take. This module also re-exports the names of those three, its former parts.

Rules kept here (alerts.md, "Delivery"):

* 2xx means delivered. 408, 429 (Retry-After honoured), 5xx, timeouts and connection errors
  are retried with capped exponential backoff and jitter, for as long as it takes.
* A refusal of the signature's time (401 ``{"error": "expired"}`` from our inbox, "timestamp
  too old/new" from other Standard Webhooks receivers) is retried the same way: a clock is
  wrong, and a clock mends itself once NTP reaches it (:func:`~portwatch.alerts.policy.classify`).
  So is a 401 that does not say why while this gateway's own clock is not synchronised.
* Any other answer (other 4xx, a redirect) is permanent: the row is marked failed and the
  caregiver is told at once (``on_stuck``); it waits for a person to fix and resend it.
* A row the clinic has not accepted ``escalate_after`` (15 min) after it was queued is
  escalated to the caregiver once (``on_stuck``) and keeps being retried.
* A row with a not-before time (a non-urgent notice held by quiet hours) is invisible to
  its channel's queue until then: it neither goes early, nor holds back the rows behind it,
  nor is it sent early because an urgent row is due. Its escalation counts from then.
* Rows leave in decision order: each channel is a queue with one retry timer, its head's.
  While the head waits for its retry, the routine rows behind it wait too (however long
  the clinic is away, so they arrive in order when it is back, and a dead clinic is probed
  by one request per backoff, not one per row). An urgent row is never held for more than
  one attempt: when one is due, the head is tried at once, then the urgent row. If an
  escalated head (a person has been told) still fails, the next row gets one attempt in the
  same pass, so one refused row cannot hold the rest back forever.
* Channels are independent: :meth:`Deliverer.run` runs one loop per channel (the clinic,
  the caregiver's URL, the patient's URL), so a receiver that hangs until its timeouts
  holds back only its own queue, never a fever alert to the clinic.
* The clinic body is signed at send time with the entry's id as ``webhook-id``, the same on
  every resend. ``webhook-timestamp`` is the *wall clock's* now (the sender's signing clock,
  :class:`~portwatch.alerts.posting.ClinicSender`), which the clinic checks against its own
  within 5 minutes; not the Deliverer's clock, which in the daemon is the trusted clock,
  counted from the placement or the log until the system clock is synchronised.
  Secrets never appear in a log or an error.
* A POST's result is never lost to a log that refuses writes (disk full, read-only): what
  could not be recorded is kept in memory, so this process sends no row twice, and is
  recorded as soon as the log accepts writes again (issue #10, "nothing duplicated").
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum
from functools import partial
from typing import Final, Protocol, TypeVar

from portwatch.alerts.endpoints import (
    CLINIC_CREDENTIAL,
    CONNECT_TIMEOUT_S,
    ESCALATE_AFTER,
    NOTIFY_CONTENT_TYPE,
    READ_TIMEOUT_S,
    ClinicEndpoint,
    DeliveryError,
    NotifyEndpoint,
    check_url,
    load_secret,
    notification_body,
    secret_file,
)
from portwatch.alerts.payloads import ClinicFormat
from portwatch.alerts.policy import (
    FIRST_RETRY_S,
    MAX_BACKOFF_S,
    MAX_RETRY_AFTER_S,
    Answer,
    Outcome,
    StuckReason,
    backoff_for,
    classify,
    clock_refused,
    held,
    next_due,
    next_wake,
    parse_retry_after,
    tries_since,
)
from portwatch.alerts.posting import ClinicSender, NotifySender, Sender
from portwatch.clock import Clock, ClockTrust
from portwatch.log.store import Channel, OutboxRow, OutboxStatus, StoreError, StoreInputError
from portwatch.stages import supervise

__all__ = [
    "CLINIC_CREDENTIAL",
    "CLOCK_REFUSED_TEXT",
    "CONNECT_TIMEOUT_S",
    "ESCALATE_AFTER",
    "FIRST_RETRY_S",
    "MAX_BACKOFF_S",
    "MAX_RETRY_AFTER_S",
    "NOTIFY_CONTENT_TYPE",
    "POLL_S",
    "READ_TIMEOUT_S",
    "RECORD_RETRY_S",
    "STOP_ANSWER_GRACE_S",
    "Answer",
    "Channel",
    "ClinicEndpoint",
    "ClinicFormat",
    "ClinicSender",
    "Deliverer",
    "DeliveryError",
    "NotifyEndpoint",
    "NotifySender",
    "Outbox",
    "Outcome",
    "Sender",
    "StuckReason",
    "backoff_for",
    "check_url",
    "classify",
    "clock_refused",
    "held",
    "load_secret",
    "next_due",
    "next_wake",
    "notification_body",
    "parse_retry_after",
    "secret_file",
]

_LOGGER = logging.getLogger(__name__)
_T = TypeVar("_T")

# What `portwatch alerts list` says of a refusal of the signature's time (policy.clock_refused).
CLOCK_REFUSED_TEXT: Final = (
    "the clinic refused the signature's time; this gateway's clock or the clinic's is wrong"
)
# The longest the deliverer sleeps between passes: a fallback only. Rows queued or requeued
# by another process writing the log itself wake it through the service's log watch
# (service/logwatch.py) within about a second; this bounds the wait if that watch fails.
POLL_S: Final = 60.0
# How soon a delivery record the log refused (disk full, read-only) is written again at the
# latest; the same as alerts.md's "first retry within 10 s", so a freed disk catches up fast.
RECORD_RETRY_S: Final = 10.0
# Issue 7: SIGTERM stops within 10 s with the outbox consistent. A POST already sent when the
# daemon stops gets this long for its answer to be recorded, so that a clean stop does not
# leave an accepted alert unrecorded, to be sent again after the restart (the daemon waits
# STOP_STEP_S, 3 s, for the delivery stage).
STOP_ANSWER_GRACE_S: Final = 2.0


class Outbox(Protocol):
    """The part of the store's outbox contract that delivery uses (store.py)."""

    def run(self, fn: Callable[[], _T], /) -> Awaitable[_T]: ...
    def outbox_all(self, status: OutboxStatus | None = None) -> Sequence[OutboxRow]: ...
    def outbox_record_attempt(
        self,
        alert_id: str,
        at: datetime,
        status_code: int | None,
        error: str | None,
        next_attempt_at: datetime,
        /,
    ) -> object: ...
    def outbox_mark_delivered(self, alert_id: str, at: datetime, status_code: int, /) -> object: ...
    def outbox_mark_failed(
        self, alert_id: str, at: datetime, status_code: int | None, error: str | None, /
    ) -> object: ...
    def outbox_mark_escalated(self, alert_id: str, at: datetime, /) -> object: ...


OnStuck = Callable[[OutboxRow, StuckReason, str], None]


# --- the deliverer ----------------------------------------------------------------------


class _Record(StrEnum):
    """A write to the outbox that records what an attempt (or an escalation) did."""

    ATTEMPT = "attempt"  # a retryable failure: attempts + 1, retry at retry_at
    DELIVERED = "delivered"
    FAILED = "failed"
    ESCALATED = "escalated"


@dataclass(frozen=True, slots=True)
class _Unrecorded:
    """One outbox write the log refused; kept in memory until the log accepts it."""

    record: _Record
    at: datetime
    status_code: int | None = None
    error: str | None = None
    retry_at: datetime | None = None

    def write(self, outbox: Outbox, row_id: str) -> None:
        if self.record is _Record.ATTEMPT:
            assert self.retry_at is not None  # an ATTEMPT always has one (Deliverer._attempt)
            outbox.outbox_record_attempt(
                row_id, self.at, self.status_code, self.error, self.retry_at
            )
        elif self.record is _Record.DELIVERED:
            assert self.status_code is not None  # a 2xx status
            outbox.outbox_mark_delivered(row_id, self.at, self.status_code)
        elif self.record is _Record.FAILED:
            outbox.outbox_mark_failed(row_id, self.at, self.status_code, self.error)
        else:
            outbox.outbox_mark_escalated(row_id, self.at)


def _known(row: OutboxRow, unrecorded: Sequence[_Unrecorded]) -> OutboxRow | None:
    """``row`` with the writes the log refused applied; None when it is no longer pending
    (delivered or failed): then it is never sent again by this process."""
    if any(u.record in (_Record.DELIVERED, _Record.FAILED) for u in unrecorded):
        return None
    view = row
    for u in unrecorded:
        if u.record is _Record.ATTEMPT:
            view = replace(
                view,
                attempts=view.attempts + 1,
                next_attempt_at=u.retry_at,
                last_attempt_at=u.at,
                last_status=u.status_code,
                last_error=u.error,
            )
        elif u.record is _Record.ESCALATED and view.escalated_at is None:
            view = replace(view, escalated_at=u.at)
    return view


class Deliverer:
    """Sends due outbox rows through one sender per channel, on a Clock, until accepted.

    ``on_stuck(row, reason, answer)`` is called once when a row is rejected for good and once
    when it is escalated; the daemon turns it into a caregiver notification. The outbox is
    the log: its calls run on the log's writer thread, through its ``run`` (the store is
    not thread-safe; each call is one short SQLite transaction).

    When the log refuses a write (:class:`~portwatch.log.store.StoreError`: disk full, read-only)
    after an attempt, the attempt's result is kept in memory and overlays the log's row: a
    row that was accepted but could not be marked delivered is never sent again by this
    Deliverer, a retry keeps its backoff, an escalation is not repeated; an ``on_stuck`` that
    fails with StoreError (its notice could not be queued) is called again. The writes are tried
    again at the start of every pass (within :data:`RECORD_RETRY_S`), in order, until the log
    takes them; the delivery loop does not stop for them. One WARNING per such episode.

    Delivery is at least once: if the process ends before the log took a row's record, the
    next process sends that row once more. For the clinic that is harmless (the same
    ``webhook-id``, which the inbox deduplicates); a notification carries its row id as
    ``X-Sequence-ID``, so an ntfy server (2.16 or later) replaces the phone's notification
    instead of showing it twice; other notification services may show it twice.
    """

    def __init__(
        self,
        outbox: Outbox,
        senders: Mapping[str, Sender],
        clock: Clock,
        on_stuck: OnStuck,
        *,
        escalate_after: timedelta = ESCALATE_AFTER,
        rng: random.Random | None = None,
    ) -> None:
        self._outbox = outbox
        self._senders = dict(senders)
        self._clock = clock
        self._on_stuck = on_stuck
        self._escalate_after = escalate_after
        self._rng = rng or random.Random()
        self._wakes = {channel: asyncio.Event() for channel in self._senders}
        # Writes the log refused, per row id in the order made, with the row's channel.
        self._unrecorded: dict[str, tuple[str, list[_Unrecorded]]] = {}
        # on_stuck calls that failed because the log refused the notice they queue.
        self._untold: list[tuple[OutboxRow, StuckReason, str]] = []
        self._refused = False  # in an episode of refused writes (one WARNING each)

    def wake(self) -> None:
        """Tell the running deliverer that new rows were queued (or requeued)."""
        for event in self._wakes.values():
            event.set()

    @property
    def unrecorded(self) -> int:
        """How many rows have results (or a caregiver's notice, ``on_stuck``) that the log
        has not taken yet, kept in memory."""
        return len(self._unrecorded.keys() | {row.id for row, _, _ in self._untold})

    async def _store(self, call: Callable[[], _T]) -> _T:
        return await self._outbox.run(call)

    async def _pending(self, channel: str | None = None) -> list[OutboxRow]:
        rows = await self._store(lambda: list(self._outbox.outbox_all(OutboxStatus.PENDING)))
        wanted = self._senders if channel is None else (channel,)
        known: list[OutboxRow] = []
        for row in rows:
            if row.channel not in wanted:
                continue
            entry = self._unrecorded.get(row.id)
            view = row if entry is None else _known(row, entry[1])
            if view is not None:
                known.append(view)
        return known

    async def _record(self, row: OutboxRow, write: _Unrecorded) -> None:
        """Write what an attempt did; if the log refuses, keep it in memory (class doc).

        Raises:
            StoreInputError: the row is not in the outbox (a bug, not a full disk).
        """
        entry = self._unrecorded.get(row.id)
        if entry is not None:  # earlier writes for this row wait: keep the order
            entry[1].append(write)
            return
        try:
            await self._store(partial(write.write, self._outbox, row.id))
        except StoreInputError:
            raise
        except StoreError as exc:
            self._unrecorded[row.id] = (row.channel, [write])
            self._refusing(exc)

    def _tell(self, row: OutboxRow, reason: StuckReason, answer: str) -> None:
        """``on_stuck``; when the log refuses the notice it queues, tell again later."""
        try:
            self._on_stuck(row, reason, answer)
        except StoreInputError:
            raise
        except StoreError as exc:
            self._untold.append((row, reason, answer))
            self._refusing(exc)

    def _refusing(self, exc: StoreError) -> None:
        if self._refused:
            _LOGGER.debug("the log still refuses delivery records: %s", exc)
            return
        self._refused = True
        # The store's message names the file and SQLite's error, never an alert's content.
        _LOGGER.warning(
            "the log refused to record an alert's delivery (%s); portwatch keeps the record "
            "in memory, sends nothing twice, and writes it when the log accepts writes again",
            exc,
        )

    async def _write_back(self, channel: str) -> None:
        """Write the records the log refused for ``channel``'s rows, in order; stop at the
        first refusal (the log still refuses)."""
        for row_id, (row_channel, writes) in list(self._unrecorded.items()):
            if row_channel != channel:
                continue
            while writes:
                try:
                    await self._store(partial(writes[0].write, self._outbox, row_id))
                except StoreInputError as exc:
                    # The row left the outbox (purged): nothing is left to record for it.
                    _LOGGER.debug("delivery record of %s dropped: %s", row_id, exc)
                    writes.clear()
                except StoreError as exc:
                    self._refusing(exc)
                    return
                else:
                    writes.pop(0)
            del self._unrecorded[row_id]
        for told in [t for t in self._untold if t[0].channel == channel]:
            try:
                self._on_stuck(*told)
            except StoreInputError:
                raise
            except StoreError as exc:
                self._refusing(exc)
                return
            self._untold.remove(told)
        if self._refused and not self._unrecorded and not self._untold:
            self._refused = False
            _LOGGER.info("the log accepts writes again; every delivery record is written")

    async def _escalate(self, rows: Sequence[OutboxRow], now: datetime) -> None:
        for row in rows:
            if row.escalated_at is not None or row.attempts == 0:
                continue
            if now - tries_since(row) < self._escalate_after:
                continue
            await self._record(row, _Unrecorded(_Record.ESCALATED, now))
            last = row.last_error or (
                f"HTTP {row.last_status}" if row.last_status is not None else "no answer"
            )
            _LOGGER.warning(
                "%s alert %s (%s) not accepted after %d attempts; last answer: %s",
                row.channel,
                row.id,
                row.kind,
                row.attempts,
                last,
            )
            self._tell(row, StuckReason.ESCALATED, last)

    async def _attempt(self, row: OutboxRow, sender: Sender) -> Outcome:
        """One POST and its record, seen through a stop: cancelled while the request is
        out, it waits up to :data:`STOP_ANSWER_GRACE_S` for the answer and records it before
        passing the cancellation on."""
        attempt = asyncio.ensure_future(self._send_and_record(row, sender))
        try:
            return await asyncio.shield(attempt)
        except asyncio.CancelledError:
            await asyncio.wait({attempt}, timeout=STOP_ANSWER_GRACE_S)
            if not attempt.done():
                attempt.cancel()  # no answer in time: the next start sends it again
            await asyncio.gather(attempt, return_exceptions=True)
            raise

    async def _send_and_record(self, row: OutboxRow, sender: Sender) -> Outcome:
        answer = await sender.send(row, self._clock.now())
        at = self._clock.now()
        # While this gateway's clock is not synchronised, a 401 may be its clock (classify).
        outcome = classify(answer, clock_synchronised=self._clock.trust is ClockTrust.SYNCHRONISED)
        code = answer.status_code
        if outcome is Outcome.DELIVERED and code is not None:
            await self._record(row, _Unrecorded(_Record.DELIVERED, at, code))
            _LOGGER.info("%s alert %s (%s) delivered", row.channel, row.id, row.kind)
        elif outcome is Outcome.RETRY:
            await self._retry(row, answer, at)
        else:
            error = answer.describe()
            await self._record(row, _Unrecorded(_Record.FAILED, at, code, error))
            # Only the status at WARNING: the answer's text may echo the alert's readings;
            # it is kept in the outbox for `portwatch alerts list`.
            _LOGGER.warning(
                "%s alert %s (%s) rejected with HTTP %s; fix the setting, then: "
                "portwatch alerts resend %s",
                row.channel,
                row.id,
                row.kind,
                code,
                row.id,
            )
            self._tell(row, StuckReason.REJECTED, error)
        return outcome

    async def _retry(self, row: OutboxRow, answer: Answer, at: datetime) -> None:
        """Record a retryable failure and when to try again (backoff, Retry-After)."""
        delay_s = backoff_for(row.attempts + 1, answer.retry_after_s, self._rng)
        retry_at = at + timedelta(seconds=delay_s)
        error = answer.error
        if clock_refused(answer):
            # In words for `portwatch alerts list`; the caregiver hears of it at escalation.
            error = f"HTTP {answer.status_code}: {CLOCK_REFUSED_TEXT}"
            if row.attempts == 0:
                _LOGGER.warning(
                    "%s alert %s (%s): %s; portwatch keeps trying (is the clock synchronised?)",
                    row.channel,
                    row.id,
                    row.kind,
                    CLOCK_REFUSED_TEXT,
                )
        await self._record(
            row, _Unrecorded(_Record.ATTEMPT, at, answer.status_code, error, retry_at)
        )
        _LOGGER.debug(
            "%s alert %s attempt %d: %s; retry in %.1f s",
            row.channel,
            row.id,
            row.attempts + 1,
            answer.describe(),
            delay_s,
        )

    async def flush(self) -> int:
        """One pass over every channel in turn (:meth:`flush_channel`); return attempts made."""
        attempts = 0
        for channel, sender in self._senders.items():
            attempts += await self.flush_channel(channel, sender)
        return attempts

    async def flush_channel(self, channel: str, sender: Sender) -> int:
        """One pass over one channel: escalate what is overdue, then send every due row."""
        attempts = 0
        await self._write_back(channel)
        await self._escalate(await self._pending(channel), self._clock.now())
        tried: set[str] = set()
        stalled = False
        failures = 0  # retryable failures since the last success in this pass
        while True:
            pending = await self._pending(channel)
            row = next_due(pending, self._clock.now(), tried, stalled=stalled)
            if row is None:
                break
            tried.add(row.id)
            attempts += 1
            outcome = await self._attempt(row, sender)
            if outcome is Outcome.RETRY:
                failures += 1
                # A failure stops the queue for this pass (the receiver is likely away),
                # except once after a row a person was already told about: if only that
                # row is refused, the rows behind it must not wait forever.
                stalled = row.escalated_at is None or failures >= 2
            elif outcome is Outcome.DELIVERED:
                failures = 0
        return attempts

    async def _next_wake_s(self, channel: str) -> float:
        rows = await self._pending(channel)
        when = next_wake(rows, self._escalate_after, self._clock.now())
        longest_s = POLL_S
        if any(row_channel == channel for row_channel, _ in self._unrecorded.values()) or any(
            row.channel == channel for row, _, _ in self._untold
        ):
            longest_s = RECORD_RETRY_S  # the log refused records: try them again soon
        if when is None:
            return longest_s
        return min(longest_s, max(0.0, (when - self._clock.now()).total_seconds()))

    async def run(self) -> None:
        """Deliver until cancelled, one loop per channel (:meth:`run_channel`), so that a
        receiver that is slow or away (each attempt may take up to its timeouts) holds back
        only its own queue: never the clinic's, nor the other person's."""
        if not self._senders:
            await asyncio.get_running_loop().create_future()  # nowhere to send: until cancelled
        async with asyncio.TaskGroup() as group:
            for channel, sender in self._senders.items():
                # Each channel under its own supervision: one that raises (a bug, a broken
                # setting the sender did not turn into an answer) is logged and restarted
                # alone, and never cancels the clinic's (issue 21, "Stage isolation").
                stage = partial(self.run_channel, channel, sender)
                group.create_task(
                    supervise(f"delivery-{channel}", stage, self._clock, _LOGGER),
                    name=f"delivery-{channel}",
                )

    async def run_channel(self, channel: str, sender: Sender) -> None:
        """Deliver one channel until cancelled: flush it, then sleep until its next due time
        or a :meth:`wake`."""
        wake = self._wakes[channel]
        while True:
            wake.clear()
            await self.flush_channel(channel, sender)
            delay_s = await self._next_wake_s(channel)
            sleeper = asyncio.ensure_future(self._clock.sleep(delay_s))
            waker = asyncio.ensure_future(wake.wait())
            try:
                await asyncio.wait({sleeper, waker}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                sleeper.cancel()
                waker.cancel()
