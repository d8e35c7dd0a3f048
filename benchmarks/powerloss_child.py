"""A ten-day spot-reading course through log -> rule -> outbox -> clinic, as one process.

The power-loss campaign used to kill this chain; it now kills `portwatch run` itself
(``campaign_powerloss.py``). The clock campaign still plays this file's :func:`course`,
which is why it stays.

    python benchmarks/powerloss_child.py DB INBOX_URL SECRET_FILE START_ISO SEED SPACING_S

It plays the campaign's ten-day course (``course`` below; the same seed gives the same
readings) through the real stages, as the daemon wires them: each reading is committed to
the log (``Store.add_readings``, durable when it returns) and only then printed as
``ACK <time>`` and fed to the fever rule; the rule's decisions are recorded with their
clinic alerts in one transaction (``Store.record_decisions``), and the ``Deliverer`` sends
the outbox to the inbox at INBOX_URL over real HTTP. At start it does what a restarted
daemon must: rebuild the rule from the log, record whatever the rebuilt rule decided
(idempotent: a decision already recorded is skipped), send what is pending, and resume the
course after the last logged reading. It prints ``READY`` when it starts playing and
``DONE`` when the course and the outbox are finished.

Time: the course's times are the rule's time; delivery runs on the system clock (the
inbox checks signatures against its own clock), so the course is placed in the past.
"""

from __future__ import annotations

import asyncio
import random
import sys
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from portwatch.alerts.delivery import ClinicEndpoint, ClinicSender, Deliverer
from portwatch.alerts.outbox import clinic_entry
from portwatch.alerts.payloads import AlertContext, ClinicFormat, Thermometer, fever_alert
from portwatch.alerts.signing import parse_secret
from portwatch.clock import SystemClock
from portwatch.log.store import Store, StoredReading
from portwatch.model import Decision, DecisionType, Reading, ReadingKind, Unit

DEVICE = "AA:BB:CC:DD:EE:01"
PATIENT = "Patient/powerloss"
COURSE_DAYS = 10
CLINIC_TYPES = (
    DecisionType.FEVER_CONFIRMED,
    DecisionType.FEVER_ONGOING,
    DecisionType.FEVER_RESOLVED,
)


@dataclass(frozen=True, slots=True)
class Course:
    start: datetime
    readings: tuple[Reading, ...]


def course(start: datetime, seed: int, spacing: timedelta) -> Course:
    """Ten days of spot readings every ``spacing`` (jittered), with two fevers.

    Fever one: day 3, 08:00-20:00 at 101.2-101.8 °F; fever two: day 7, 06:00-16:00.
    Normal readings are 97.8-99.0 °F.
    """
    rng = random.Random(seed)
    fevers = [
        (start + timedelta(days=2, hours=8), start + timedelta(days=2, hours=20)),
        (start + timedelta(days=6, hours=6), start + timedelta(days=6, hours=16)),
    ]
    readings: list[Reading] = []
    at = start + timedelta(minutes=5)
    end = start + timedelta(days=COURSE_DAYS)
    while at < end:
        fever = any(lo <= at <= hi for lo, hi in fevers)
        tenths = rng.randrange(1012, 1019) if fever else rng.randrange(978, 991)
        value = Decimal(tenths).scaleb(-1)
        readings.append(
            Reading(
                device=DEVICE,
                kind=ReadingKind.SPOT,
                value=value,
                unit=Unit.FAHRENHEIT,
                celsius=float((value - 32) * 5 / 9),
                time=at,
                received_at=at,
                raw=f"{value}F".encode(),
            )
        )
        at += spacing + timedelta(seconds=rng.randrange(-120, 121))
    return Course(start, tuple(readings))


def rule_for(start: datetime) -> Any:
    """The fever rule with the spec's settings (imported late: it is the rule branch's)."""
    from portwatch.fever.rule import FeverRule, RuleSettings

    return FeverRule(RuleSettings(), patient=PATIENT, placement=start, pinned_device=DEVICE)


def context() -> AlertContext:
    return AlertContext(
        patient=PATIENT,
        clinic="Organization/clinic",
        gateway_id="pi-powerloss",
        gateway_version="0.1.0",
        thermometer=Thermometer(address=DEVICE),
    )


def record(store: Store, decisions: list[Decision], created_at: datetime) -> None:
    """The decisions and their clinic alerts, one transaction (design.md, nothing is lost)."""
    entries = [
        clinic_entry(fever_alert(d), context(), ClinicFormat.JSON, created_at)
        for d in decisions
        if d.type in CLINIC_TYPES
    ]
    store.record_decisions(decisions, entries)


def _logged(store: Store, start: datetime) -> list[StoredReading]:
    return store.readings(start - timedelta(days=1), start + timedelta(days=COURSE_DAYS + 1))


def main(argv: list[str]) -> int:
    db, url, secret_path, start_text, seed_text, spacing_text = argv
    start = datetime.fromisoformat(start_text).astimezone(UTC)
    plan = course(start, int(seed_text), timedelta(seconds=float(spacing_text)))
    key = parse_secret(Path(secret_path).read_text(encoding="utf-8"))
    return asyncio.run(play(Path(db), url, key, plan))


async def play(db: Path, url: str, key: bytes, plan: Course) -> int:
    start = plan.start
    store = Store.open(db)
    sender = ClinicSender(
        ClinicEndpoint(url, ClinicFormat.JSON, key, read_timeout_s=5.0),
        signing_time=SystemClock().now,
    )
    deliverer = Deliverer(store, {"clinic": sender}, SystemClock(), lambda *_: None)
    try:
        logged = _logged(store, start)
        rule = rule_for(start)
        made: list[Decision] = []
        for stored in sorted(logged, key=lambda s: s.id):  # arrival order
            made.extend(rule.feed(stored.reading, now=stored.reading.received_at))
        last = max((s.reading.time for s in logged), default=None)
        record(store, made, last or start)  # decided before the cut, maybe never recorded
        await deliverer.flush()
        print("READY", flush=True)
        for reading in plan.readings:
            if last is not None and reading.time <= last:
                continue
            store.add_readings([reading])  # durable when this returns
            print(f"ACK {reading.time.isoformat()}", flush=True)
            decisions = rule.feed(reading, now=reading.received_at)
            if decisions:
                record(store, decisions, reading.received_at)
                await deliverer.flush()
        final = rule.advance(start + timedelta(days=COURSE_DAYS + 1))
        record(store, final, start + timedelta(days=COURSE_DAYS + 1))
        while await deliverer.flush():
            pass
        print("DONE", flush=True)
    finally:
        sender.close()
        store.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
