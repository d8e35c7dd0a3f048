"""The rule rebuilt from the log at start (service/readings.py, fever-rule.md §6) makes the
decisions the live rule made, with the same ids, when a late stored block arrived after
readings timed days later: a new id would be a second alert to the clinic.

Real parts: the log in SQLite (written in arrival order, as the service writes it), the
fever rule, :func:`rebuild_rule` as the service calls it at start.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from portwatch.fever.rule import FeverRule, RuleSettings
from portwatch.log.store import Store
from portwatch.model import Decision, DecisionType, Reading, ReadingKind, Unit
from portwatch.service.logwatch import SeenReadings
from portwatch.service.readings import Facts, rebuild_rule

P = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)  # the placement
WEARABLE = "AA:BB:CC:DD:EE:01"
EVERY = timedelta(seconds=60)


def _samples(
    start: datetime, minutes: int, value: str, *, received: datetime | None
) -> list[Reading]:
    """A wearable's stream samples once a minute from ``start``; ``received`` None: live
    (each received at its own time), else all at that instant (a stored block sent late)."""
    out = []
    for i in range(minutes):
        time = start + i * EVERY
        out.append(
            Reading(
                device=WEARABLE,
                kind=ReadingKind.STREAM,
                value=Decimal(value),
                unit=Unit.CELSIUS,
                celsius=float(value),
                time=time,
                received_at=time if received is None else received,
                interval_s=EVERY.total_seconds(),
            )
        )
    return out


def _course() -> list[list[Reading]]:
    """The batches the service wrote, in arrival order.

    A: elevated live on day 1 at 16:00 (placement + 8 h). B: elevated live on day 2 at
    10:00, 18 h after A: the clinic is told "confirmed", citing A and B. Then the wearable
    sends the records it stored while off the link: elevated on day 1 at 12:00 (A'), 22 h
    before B. The episode was told; nothing new goes to the clinic (§6). A replay a day of
    reading time at a time feeds A' before B and confirms (A', B): another id.
    """
    normal = _samples(P + timedelta(hours=1), 120, "37.0", received=None)
    a = _samples(P + timedelta(hours=8), 30, "38.8", received=None)
    after_a = _samples(P + timedelta(hours=8, minutes=30), 30, "37.1", received=None)
    b = _samples(P + timedelta(days=1, hours=2), 30, "38.9", received=None)
    sent_late = P + timedelta(days=1, hours=2, minutes=31)
    late = _samples(P + timedelta(hours=4), 30, "38.7", received=sent_late)
    # live samples go one write at a time; the stored block in one write
    return [[r] for r in normal + a + after_a + b] + [late]


def _rule() -> FeverRule:
    return FeverRule(RuleSettings(), patient="Patient/rebuild", placement=P, pinned_device=WEARABLE)


def _live(batches: list[list[Reading]], end: datetime | None = None) -> list[Decision]:
    """The live rule: each reading when it was received, the scheduler ticking between
    writes and at ``end``."""
    rule, made = _rule(), []
    for batch in batches:
        made.extend(rule.advance(batch[-1].received_at))
        for reading in batch:
            made.extend(rule.feed(reading, now=reading.received_at))
    if end is not None:
        made.extend(rule.advance(end))
    return made


def _logged(path: Path, batches: list[list[Reading]]) -> None:
    with Store.open(path, threaded=False) as log:
        for batch in batches:
            log.add_readings(batch)


def _rebuilt(path: Path, end: datetime, seen: SeenReadings | None = None) -> list[Decision]:
    async def rebuild() -> list[Decision]:
        rule = _rule()
        with Store.open(path) as log:
            made = await rebuild_rule(rule, log, Facts(started_at=end), P, seen)
        return made + rule.advance(end)

    return asyncio.run(rebuild())


def _fever(decisions: list[Decision]) -> Iterator[tuple[DecisionType, str]]:
    for d in decisions:
        if d.type is not DecisionType.READING_INVALID:
            yield d.type, str(d.id)


def _day_by_day(path: Path, end: datetime) -> list[Decision]:
    """The replay before this fix: a day of reading time at a time, by id within the day."""
    rule, made = _rule(), []
    with Store.open_reader(path) as log:
        start = P - timedelta(days=2)
        while start < end:
            chunk = sorted(log.readings(start, start + timedelta(days=1)), key=lambda s: s.id)
            for stored in chunk:
                made.extend(rule.feed(stored.reading, now=stored.reading.received_at))
            start += timedelta(days=1)
    return made + rule.advance(end)


def test_the_course_confirms_with_another_partner_when_replayed_a_day_at_a_time(
    tmp_path: Path,
) -> None:
    """The course is one where order matters: replayed a day of reading time at a time,
    the rule cites A' (day 1, 12:05), not A (day 1, 16:05), and makes another id."""
    batches = _course()
    end = P + timedelta(days=1, hours=3)
    _logged(tmp_path / "portwatch.db", batches)
    live = [d for d in _live(batches, end) if d.type is DecisionType.FEVER_CONFIRMED]
    old = [
        d
        for d in _day_by_day(tmp_path / "portwatch.db", end)
        if d.type is DecisionType.FEVER_CONFIRMED
    ]
    assert len(live) == len(old) == 1
    assert live[0].observations[0].time == P + timedelta(hours=8, minutes=5)  # A's first window
    assert old[0].observations[0].time == P + timedelta(hours=4, minutes=5)  # A'
    assert live[0].id != old[0].id


def test_rebuild_from_the_log_makes_exactly_the_live_decisions_with_the_same_ids(
    tmp_path: Path,
) -> None:
    batches = _course()
    end = P + timedelta(days=1, hours=3)
    live = list(_fever(_live(batches, end)))
    _logged(tmp_path / "portwatch.db", batches)
    assert list(_fever(_rebuilt(tmp_path / "portwatch.db", end))) == live
    assert [kind for kind, _ in live].count(DecisionType.FEVER_CONFIRMED) == 1


def test_rebuild_counts_rows_committed_during_it_as_given_to_the_rule(tmp_path: Path) -> None:
    """As the service calls it: the record of seen rows starts at the highest id the log
    watch found; the late block committed after that is fed by the replay, once, and the
    watch will not feed it again."""
    batches = _course()
    end = P + timedelta(days=1, hours=3)
    _logged(tmp_path / "portwatch.db", batches)
    rows = sum(len(batch) for batch in batches)
    seen = SeenReadings()
    seen.start_at(rows - len(batches[-1]))
    assert list(_fever(_rebuilt(tmp_path / "portwatch.db", end, seen))) == list(
        _fever(_live(batches, end))
    )
    with Store.open_reader(tmp_path / "portwatch.db") as log:
        assert seen.unseen(log.readings_after(0, limit=rows)) == []
