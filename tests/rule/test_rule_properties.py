"""Generated tests of the rule's promises about order, batching and restarts (§6).

Hypothesis prints the failing example and keeps it in its database; rerun to reproduce.
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta

from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st

from portwatch.fever.rule import FeverRule, RuleSettings
from portwatch.model import Decision, DecisionType, Reading, ReadingKind

from .support import PATIENT, PLACEMENT, at, new_rule, spot

ALERTS = {DecisionType.FEVER_CONFIRMED, DecisionType.FEVER_ONGOING, DecisionType.FEVER_RESOLVED}
# Values either side of the 101 °F threshold (38.28 °C with its margin), and a fever.
VALUES = ["36.8", "37.9", "38.2", "38.3", "38.9"]
DELAYS = [timedelta(0), timedelta(0), timedelta(0), timedelta(minutes=40), timedelta(hours=30)]
END = at(24 * 6)
# RULE_EXAMPLES=3000 for a longer hunt; 150 keeps the suite quick on a Raspberry Pi.
EXAMPLES = int(os.environ.get("RULE_EXAMPLES", "150"))


@st.composite
def schedules(draw: st.DrawFn) -> list[tuple[Reading, datetime]]:
    """Readings over a few days, each received on time or after a delay (a reconnection)."""
    count = draw(st.integers(min_value=1, max_value=30))
    steps = draw(
        st.lists(st.integers(min_value=0, max_value=2 * 24 * 4), min_size=count, max_size=count)
    )
    out: list[tuple[Reading, datetime]] = []
    for step in steps:
        time = at(minutes=30 * step)
        kind = draw(st.sampled_from([ReadingKind.SPOT, ReadingKind.STREAM]))
        reading = spot(time, draw(st.sampled_from(VALUES)), kind=kind, interval_s=3600.0)
        out.append((reading, time + draw(st.sampled_from(DELAYS))))
    out.sort(key=lambda pair: pair[1])
    return out


def _describe(schedule: list[tuple[Reading, datetime]]) -> str:
    """The schedule in a line a person can read: time+hours value kind (received +hours)."""

    def hours(t: datetime) -> float:
        return (t - PLACEMENT).total_seconds() / 3600

    return ", ".join(
        f"{hours(r.time):g}h {r.value} {r.kind.value} (recv {hours(received):g}h)"
        for r, received in schedule
    )


def _feed(rule: FeverRule, history: list[tuple[Reading, datetime]]) -> list[Decision]:
    out: list[Decision] = []
    for reading, received in history:
        out += rule.feed(reading, now=received)
    return out


def _facts(decisions: list[Decision]) -> list[tuple[str, str, datetime, bool]]:
    return [(d.type.value, str(d.id), d.time, d.late) for d in decisions]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    schedule=schedules(),
    cut=st.integers(min_value=0, max_value=30),
    ticks=st.lists(st.integers(0, 144), max_size=8),
)
def test_rule_makes_the_same_decisions_when_restarted_anywhere_or_advanced_often(
    schedule: list[tuple[Reading, datetime]], cut: int, ticks: list[int]
) -> None:
    """§6: a restart (rebuild from the log) and extra scheduler ticks change no decision."""
    note(_describe(schedule))
    straight = new_rule()
    expected = _feed(straight, schedule) + straight.advance(END)

    cut = min(cut, len(schedule))
    rebuilt, made = FeverRule.rebuild(
        RuleSettings(),
        patient=PATIENT,
        placement=PLACEMENT,
        pinned_device=None,
        history=schedule[:cut],
    )
    got = made
    tick_times = sorted(at(h) for h in ticks)
    for reading, received in schedule[cut:]:
        while tick_times and tick_times[0] <= received:
            got += rebuilt.advance(tick_times.pop(0))
        got += rebuilt.feed(reading, now=received)
    got += rebuilt.advance(END)
    got += rebuilt.advance(END)  # advance is idempotent
    assert sorted(_facts(got)) == sorted(_facts(expected))


@settings(max_examples=EXAMPLES, deadline=None)
@given(schedule=schedules(), sizes=st.lists(st.integers(min_value=1, max_value=6), min_size=1))
def test_rule_makes_the_same_decisions_when_readings_come_in_any_batch_sizes(
    schedule: list[tuple[Reading, datetime]], sizes: list[int]
) -> None:
    """§6: "however they are split into batches": same decisions, same identifiers, same times."""
    note(_describe(schedule))
    straight = new_rule()
    expected: list[Decision] = []
    for reading, received in schedule:
        expected += straight.feed(reading, now=received) + straight.advance(received)
    expected += straight.advance(END)

    batched = new_rule()
    got: list[Decision] = []
    i = 0
    while i < len(schedule):
        batch = schedule[i : i + sizes[i % len(sizes)]]
        got += _feed(batched, batch) + batched.advance(batch[-1][1])
        i += len(batch)
    got += batched.advance(END)
    note(f"got {_facts(got)}")
    note(f"expected {_facts(expected)}")
    assert sorted(_facts(got)) == sorted(_facts(expected))


@settings(max_examples=EXAMPLES, deadline=None)
@given(schedule=schedules(), order=st.randoms(use_true_random=False))
def test_rule_alerts_each_episode_once_when_readings_arrive_in_any_order(
    schedule: list[tuple[Reading, datetime]], order: object
) -> None:
    """§6: an imported file or a stored dump in any order: same episodes, each alerted once."""
    note(_describe(schedule))
    readings = sorted((r for r, _ in schedule), key=lambda r: r.time)
    in_order = new_rule()
    expected = _feed(in_order, [(r, r.time) for r in readings]) + in_order.advance(
        END + timedelta(seconds=1)
    )

    shuffled = list(readings)
    order.shuffle(shuffled)  # type: ignore[attr-defined]
    rule = new_rule()
    got = _feed(rule, [(r, END) for r in shuffled]) + rule.advance(END + timedelta(seconds=1))

    def count(decisions: list[Decision], kind: DecisionType) -> int:
        return sum(d.type is kind for d in decisions)

    confirmed = count(expected, DecisionType.FEVER_CONFIRMED)
    assert count(got, DecisionType.FEVER_CONFIRMED) == confirmed
    assert count(got, DecisionType.FEVER_RESOLVED) == count(expected, DecisionType.FEVER_RESOLVED)
    assert len({d.id for d in got}) == len(got)


@settings(max_examples=100, deadline=None)
@given(value=st.sampled_from(VALUES), hours=st.integers(0, 200))
def test_rule_never_confirms_a_fever_when_given_one_reading(value: str, hours: int) -> None:
    """§4 needs two observations: one reading alone never alerts the clinic."""
    rule = new_rule()
    decisions = rule.feed(spot(at(hours), value), now=at(hours)) + rule.advance(END)
    assert not any(d.type in ALERTS for d in decisions)
