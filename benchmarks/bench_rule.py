"""Fever rule throughput: readings per second through ``FeverRule.feed``.

Ten days of readings (the whole monitored period) are fed in time order, each arriving
at its own time, with three fever episodes in them so that pairing, episodes and
resolutions all run. The baseline is a bare loop appending the same readings to a deque:
the least any consumer can do with them. A wearable sends one sample every few seconds,
so either rate is far beyond need; the figures guard against a change that would make
the rule cost more as the log grows (issue 5: "feeding one observation costs the same
whether the log holds ten readings or ten days of them"), which the third figure shows
directly: the rate over the last day against the rate over the first.

Memory (issue 17): the rule keeps a stream's samples for late ones only for the horizon
(``pair_window`` and two windows), so ten days of a one-per-second wearable leave it no
bigger than one day does; the fourth figure measures the RSS the rule adds, in a child
process, after ten days against after one (the daemon's target: <= 60 MB in all).
"""

from __future__ import annotations

import random
import subprocess
import sys
import time
from collections import deque
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from portwatch.fever.rule import FeverRule, RuleSettings
from portwatch.model import Reading, ReadingKind, Unit

PLACEMENT = datetime(2026, 11, 2, 8, 0, tzinfo=UTC)
# days after placement: fever from, to; the first and the last day are fever-free alike
FEVERS = ((2.0, 2.8), (5.0, 5.4), (7.0, 7.6))


def _readings(step: timedelta, days: float, kind: ReadingKind, rng: random.Random) -> list[Reading]:
    out = []
    count = int(timedelta(days=days) / step)
    for i in range(count):
        t = PLACEMENT + step * i
        day = (t - PLACEMENT) / timedelta(days=1)
        fever = any(lo <= day < hi for lo, hi in FEVERS)
        value = Decimal(rng.randrange(3880, 3920) if fever else rng.randrange(3640, 3740)).scaleb(
            -2
        )
        out.append(
            Reading(
                device="bench",
                kind=kind,
                value=value,
                unit=Unit.CELSIUS,
                celsius=float(value),
                time=t,
                received_at=t,
                interval_s=step.total_seconds() if kind is ReadingKind.STREAM else None,
            )
        )
    return out


def _rule_rate(readings: Sequence[Reading]) -> tuple[float, float, float]:
    """Readings/s overall, over the first tenth and over the last tenth of the feed."""
    rule = FeverRule(RuleSettings(), patient="bench", placement=PLACEMENT, pinned_device=None)
    tenth = max(1, len(readings) // 10)
    marks: list[float] = []
    start = time.perf_counter()
    for i, reading in enumerate(readings):
        if i in (tenth, len(readings) - tenth):
            marks.append(time.perf_counter())
        rule.feed(reading, now=reading.time)
    end = time.perf_counter()
    first = tenth / (marks[0] - start)
    last = tenth / (end - marks[1])
    return len(readings) / (end - start), first, last


def _dump_rate(readings: Sequence[Reading], rng: random.Random) -> tuple[float, float]:
    """Samples/s when all of ``readings`` arrive at one instant (an import, a stored dump),
    in random order and in time order, until every window has decided (issue 17)."""
    arrived = readings[-1].time + timedelta(minutes=1)
    rates = []
    for order in (rng.sample(list(readings), len(readings)), list(readings)):
        rule = FeverRule(RuleSettings(), patient="bench", placement=PLACEMENT, pinned_device=None)
        start = time.perf_counter()
        for reading in order:
            rule.feed(reading, now=arrived)
        rule.advance(arrived + timedelta(minutes=11))
        rates.append(len(order) / (time.perf_counter() - start))
    return rates[0], rates[1]


def _baseline_rate(readings: Sequence[Reading]) -> float:
    sink: deque[Reading] = deque()
    start = time.perf_counter()
    for reading in readings:
        sink.append(reading)
    return len(readings) / (time.perf_counter() - start)


def _best(rounds: int, readings: Sequence[Reading]) -> tuple[float, float, float, float]:
    best = (0.0, 0.0, 0.0)
    baseline = 0.0
    for _ in range(rounds):
        rate = _rule_rate(readings)
        best = max(best, rate)
        baseline = max(baseline, _baseline_rate(readings))
    return (*best, baseline)


# Runs in a child so that the RSS is the rule's alone; prints the RSS (bytes) it adds.
_MEMORY_CHILD = """
import sys
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from portwatch.fever.rule import FeverRule, RuleSettings
from portwatch.model import Reading, ReadingKind, Unit

def rss():
    with open("/proc/self/status") as status:
        return int(status.read().split("VmRSS:")[1].split()[0]) * 1024

placement = datetime(2026, 11, 2, 8, 0, tzinfo=UTC)
low = int(sys.argv[2])  # hundredths of °C: 3640 on the skin, 2440 off it (invalid)
values = [Decimal(v).scaleb(-2) for v in range(low, low + 100)]
rule = FeverRule(RuleSettings(), patient="bench", placement=placement, pinned_device=None)
before = rss()
second = timedelta(seconds=1)
for i in range(int(float(sys.argv[1]) * 86400)):
    t = placement + second * i
    value = values[(i * 7919) % len(values)]
    sample = Reading("bench", ReadingKind.STREAM, value, Unit.CELSIUS, float(value), t, t)
    rule.feed(replace(sample, interval_s=1.0), now=t)
print(rss() - before, rule.samples_held())
"""


def _rule_rss(days: float, low: int = 3640) -> tuple[int, int]:
    """The RSS (bytes) the rule adds over ``days`` of a 1/s stream, and the samples it holds."""
    done = subprocess.run(  # noqa: S603 (our own interpreter and script)
        [sys.executable, "-c", _MEMORY_CHILD, str(days), str(low)],
        check=True,
        capture_output=True,
        text=True,
    )
    added, held = done.stdout.split()
    return int(added), int(held)


def measure(quick: bool) -> list[dict[str, object]]:
    rng = random.Random(20261127)  # fixed: the same readings every run
    days, rounds = (2.0, 1) if quick else (10.0, 3)
    spot = _readings(timedelta(minutes=1), days, ReadingKind.SPOT, rng)
    stream = _readings(timedelta(seconds=10), days, ReadingKind.STREAM, rng)
    spot_rate, spot_first, spot_last, spot_base = _best(rounds, spot)
    stream_rate, _, _, stream_base = _best(rounds, stream)
    day = stream[: len(stream) // int(days)]
    shuffled, ordered = _dump_rate(day, rng)
    long_days = 2.0 if quick else 10.0
    one_day, _ = _rule_rss(1.0)
    long_run, held = _rule_rss(long_days)
    off_skin, _ = _rule_rss(long_days, low=2440)
    return [
        {
            "figure": f"spot readings per second through the rule ({days:g} days, 1 a minute)",
            "value": spot_rate,
            "unit": "1/s",
            "baseline": "bare loop appending the same readings to a deque",
            "baseline_value": spot_base,
        },
        {
            "figure": f"wearable samples per second through the rule ({days:g} days, 1 every 10 s)",
            "value": stream_rate,
            "unit": "1/s",
            "baseline": "bare loop appending the same readings to a deque",
            "baseline_value": stream_base,
        },
        {
            "figure": "spot readings per second over the last tenth of the log",
            "value": spot_last,
            "unit": "1/s",
            "baseline": "the same over the first tenth (history nearly empty)",
            "baseline_value": spot_first,
        },
        {
            "figure": "wearable samples per second when a day of them arrives at once, shuffled",
            "value": shuffled,
            "unit": "1/s",
            "baseline": "the same day arriving at once in time order",
            "baseline_value": ordered,
        },
        {
            "figure": f"RSS the rule adds after {long_days:g} days of a 1/s stream "
            f"({held} samples kept for late ones)",
            "value": long_run / 2**20,
            "unit": "MiB",
            "baseline": "the same after one day",
            "baseline_value": one_day / 2**20,
        },
        {
            "figure": f"RSS the rule adds after {long_days:g} days of an off-skin 1/s stream "
            "(every reading invalid, 24-25 °C)",
            "value": off_skin / 2**20,
            "unit": "MiB",
            "baseline": "a valid stream over the same days",
            "baseline_value": long_run / 2**20,
        },
    ]
