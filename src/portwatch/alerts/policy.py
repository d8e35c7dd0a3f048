"""Delivery's pure policy (alerts.md, "Delivery"): what an answer means, how long to wait,
which row goes next. No I/O and no clock of its own: tested alone, run by the Deliverer.
"""

from __future__ import annotations

import random
import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.utils import parsedate_to_datetime
from enum import StrEnum
from typing import Final

from portwatch.alerts.endpoints import DeliveryError
from portwatch.alerts.signing import SignatureProblem
from portwatch.log.store import OutboxRow, Priority

__all__ = [
    "FIRST_RETRY_S",
    "MAX_BACKOFF_S",
    "MAX_RETRY_AFTER_S",
    "Answer",
    "Outcome",
    "StuckReason",
    "backoff_for",
    "classify",
    "clock_refused",
    "held",
    "next_due",
    "next_wake",
    "parse_retry_after",
    "tries_since",
]

# alerts.md, "Delivery": first retry within 10 s. The first backoff is drawn from
# [FIRST_RETRY_S / 2, FIRST_RETRY_S], so it is at most 5 s even before any clock drift.
FIRST_RETRY_S: Final = 5.0
# alerts.md, "Delivery": backoff capped at 10 min.
MAX_BACKOFF_S: Final = 600.0
# A Retry-After longer than this is treated as this: escalation at 15 min tells a person
# anyway, and a misconfigured header must not park an urgent alert for a day.
MAX_RETRY_AFTER_S: Final = 3600.0
# Statuses that are retried although they are 4xx (alerts.md, "Delivery").
RETRYABLE_4XX: Final = frozenset({408, 429})
# Statuses a Standard Webhooks receiver refuses a signature with (401 is the usual one; our
# inbox answers 400 for malformed headers, and some receivers answer 400 or 403).
SIGNATURE_REFUSAL_STATUSES: Final = frozenset({400, 401, 403})
# A refusal's body that says the signed time was outside the receiver's tolerance: our
# inbox's {"error": "expired"} (sim/inbox.py), and the Standard Webhooks libraries'
# "Message timestamp too old" / "too new".
_CLOCK_REFUSAL: Final = re.compile(
    rf'"error"\s*:\s*"{SignatureProblem.EXPIRED.value}"|timestamp too (?:old|new)', re.IGNORECASE
)
# A refusal's body that says the signature itself is wrong (a secret that is not the
# clinic's): our inbox's {"error": "forged"}, the libraries' "No matching signature found".
_WRONG_SIGNATURE: Final = re.compile(
    rf'"error"\s*:\s*"{SignatureProblem.FORGED.value}"|no matching signature', re.IGNORECASE
)


class Outcome(StrEnum):
    """What an answer means for the row."""

    DELIVERED = "delivered"
    RETRY = "retry"
    PERMANENT = "permanent"


class StuckReason(StrEnum):
    """Why the caregiver is told about a row."""

    REJECTED = "rejected"  # a permanent answer: a person must fix a setting and resend
    ESCALATED = "escalated"  # not accepted after escalate_after of trying


@dataclass(frozen=True, slots=True)
class Answer:
    """The outcome of one attempt: an HTTP status, or an error without one."""

    status_code: int | None
    retry_after_s: float | None = None
    error: str | None = None  # "read timeout", "connection failed", ...; never a secret
    detail: str = ""  # the start of the answer's body, for a person

    def describe(self) -> str:
        if self.status_code is None:
            return self.error or "no answer"
        text = f"HTTP {self.status_code}"
        return f"{text}: {self.detail}" if self.detail else text


# --- pure policy ------------------------------------------------------------------------


def clock_refused(answer: Answer) -> bool:
    """Whether the receiver refused the signature because its time (``webhook-timestamp``)
    was more than the tolerance (5 min) from the receiver's clock, as its answer says."""
    return answer.status_code in SIGNATURE_REFUSAL_STATUSES and bool(
        _CLOCK_REFUSAL.search(answer.detail)
    )


def classify(answer: Answer, *, clock_synchronised: bool = True) -> Outcome:
    """What an answer means (alerts.md, "Delivery").

    A refusal of the signature's time (:func:`clock_refused`) is retried, never permanent:
    one clock or the other is wrong (this gateway's, unsynchronised after a power cut, or
    the clinic's), and a clock heals itself once NTP reaches it; then the alert goes with
    no one having to resend it. Until then it is retried with backoff like any failure,
    and escalated to the caregiver after 15 min ("Clinic not reached ... portwatch keeps
    trying"), so a person still hears of it.

    A 401 that does not say why is permanent, as other 4xx are, while this gateway's
    clock is synchronised (``clock_synchronised``): it is then most likely a secret that is
    not the clinic's, which no retry mends; a person must, and the caregiver is told at
    once. While this gateway's clock is *not* synchronised, such a 401 is retried: it may
    be the clock as well, and treating a skew as a wrong secret would leave a fever alert
    failed for good when the clock would have mended it; the caregiver is then told at
    15 min instead of at once. A 401 that says the signature does not match (our inbox's
    "forged") is permanent whatever the clock: the receiver checked the time first.
    """
    code = answer.status_code
    if code is None:
        return Outcome.RETRY
    if 200 <= code < 300:
        return Outcome.DELIVERED
    if code in RETRYABLE_4XX or code >= 500 or clock_refused(answer):
        return Outcome.RETRY
    if code == 401 and not clock_synchronised and not _WRONG_SIGNATURE.search(answer.detail):
        return Outcome.RETRY
    return Outcome.PERMANENT


def parse_retry_after(value: str | None, now: datetime) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or HTTP-date); None if absent
    or unreadable (then ordinary backoff applies)."""
    if not value:
        return None
    text = value.strip()
    if text.isdigit():
        return float(text)
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        return None
    return max(0.0, (when - now).total_seconds())


def backoff_for(attempt: int, retry_after_s: float | None, rng: random.Random) -> float:
    """Seconds before retry number ``attempt`` (1 = the first retry).

    Exponential from :data:`FIRST_RETRY_S`, capped at :data:`MAX_BACKOFF_S`, with jitter
    (uniform over the upper half) so that many gateways do not retry in lockstep. A
    Retry-After is honoured (waited at least), up to :data:`MAX_RETRY_AFTER_S`.

    Raises:
        DeliveryError: ``attempt`` is below 1.
    """
    if attempt < 1:
        raise DeliveryError(f"attempt must be 1 or more, got {attempt}")
    ceiling = min(MAX_BACKOFF_S, FIRST_RETRY_S * 2 ** min(attempt - 1, 32))
    delay = rng.uniform(ceiling / 2, ceiling)
    if retry_after_s is not None:
        delay = max(delay, min(max(retry_after_s, 0.0), MAX_RETRY_AFTER_S))
    return delay


def _is_due(row: OutboxRow, now: datetime) -> bool:
    return row.next_attempt_at is None or row.next_attempt_at <= now


def held(row: OutboxRow, now: datetime) -> bool:
    """Whether ``row`` waits for its not-before time (quiet hours) at ``now``."""
    return row.not_before is not None and row.not_before > now


def tries_since(row: OutboxRow) -> datetime:
    """When trying to deliver ``row`` began: when it was queued, or when its hold ended."""
    if row.not_before is None:
        return row.created_at
    return max(row.created_at, row.not_before)


def _urgent(row: OutboxRow) -> bool:
    return row.priority == Priority.URGENT


def next_due(
    rows: Sequence[OutboxRow],
    now: datetime,
    skip: Collection[str] = (),
    *,
    stalled: bool = False,
) -> OutboxRow | None:
    """The row to send next among one channel's pending rows, in decision order.

    The channel is a queue with one retry timer, its head's (the first row not yet tried in
    this pass, ``skip``): rows leave in the order they were decided, and while the head
    waits for its retry every routine row behind it waits too, however long the clinic is
    away, so they arrive in order when it is back. An urgent row is never held for more
    than one attempt: when one is due, the head is tried at once (its one attempt), then
    the urgent row. ``stalled`` says an attempt in this pass already failed in a way that
    stops the queue (see :meth:`Deliverer.flush`); then only due urgent rows go. A row
    :func:`held` at ``now`` is not in the queue yet.
    """
    rows = [r for r in rows if not held(r, now)]
    urgent_due = any(_urgent(r) and r.id not in skip and _is_due(r, now) for r in rows)
    blocked = stalled
    for row in rows:
        if row.id in skip:
            continue
        if not blocked:
            if urgent_due or _is_due(row, now):
                return row
            blocked = True  # the head waits: so does every routine row behind it
        elif _urgent(row) and _is_due(row, now):
            return row
    return None


def next_wake(
    rows: Sequence[OutboxRow], escalate_after: timedelta, now: datetime | None = None
) -> datetime | None:
    """The earliest time :func:`next_due` will pick a row or a row needs escalating.

    Only the head's retry time and the urgent rows' count: a routine row behind the head
    goes when the head does, and waking for it sooner would find nothing to send. A row
    :func:`held` at ``now`` counts by the end of its hold, and is not the head before then.
    """
    times: list[datetime] = []
    index = 0
    for row in rows:
        if now is not None and held(row, now):
            times.append(row.not_before or now)  # not_before is set: held() said so
            continue
        if (index == 0 or _urgent(row)) and row.next_attempt_at is not None:
            times.append(row.next_attempt_at)
        elif index == 0 or _urgent(row):
            times.append(row.created_at)
        if row.escalated_at is None and row.attempts > 0:
            times.append(tries_since(row) + escalate_after)
        index += 1
    return min(times, default=None)
