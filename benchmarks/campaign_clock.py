"""Campaign: the gateway's clock goes wrong while fevers are being watched (rule level).

The ten-day course of the power-loss campaign (a spot reading every 30 min; fevers on day 3
and day 7) goes through the fever rule as the link would hand it over, while the gateway's
wall clock is wrong in one of four ways, each placed inside a fever:

* ``1970``: the Pi reboots at day 3 09:00 with no real-time clock and shows 1970 for an hour
  until NTP sets it (a reboot during a fever);
* ``back 1 h``: the clock is set back an hour at day 3 14:00, mid-fever, and stays so;
* ``ahead 1 d``: the clock jumps a day ahead at day 7 09:00, mid-fever, and stays so;
* ``restart while back``: the clock is set back an hour at day 3 10:00 (still reported
  synchronised) and the daemon restarts at 11:00, before the fever is confirmed: the new
  TrustedClock has only the log's last receive time as a witness.

Each runs twice: "unstamped", the reading timed by the gateway's clock (what the link
gives for a thermometer without a time stamp, and for one with a stamp once it has learned
the stamp's offset from the gateway's clock), and "stamped", the reading keeping its true
time (a stamp corrected with an offset learned before the clock went wrong). The rule is
fed with the gateway's clock as its ``now``. Compared with the same course on a right
clock, a fever confirmed fewer times than there were fevers is a missed alert; any other
extra clinic alert (a second confirmation, an "ongoing", a resolution the right clock does
not make) is a false one. Readings the right clock keeps in the monitored period but the
wrong clock times outside it are counted too, and so are readings received "before" one
already logged (``backwards``: the log's time running back), and readings received more
than ``MISTIMED`` away from the true time (``mistimed``; reported, not a pass condition: at
a restart the gateway cannot know how long it was off, so until the wall clock can be
trusted again, times run late by the gap between the log's last reading and the restart;
``worst_s`` is the largest error in seconds).

Each variant is timed as the daemon times it (issue 7, issue 10): the gateway's clock is
a :class:`~portwatch.service.timekeeping.TrustedClock` holding after a jump, over an OS clock whose
wall time is wrong and whose monotonic time is right (restarting at the 1970 reboot and at
the restart while back, where a new TrustedClock counts from the last receive time in the
log); stamped readings are timed by the link's :class:`~portwatch.ble.timing.ClockOffset`,
which learns only from a trusted clock. The same course fed with the wrong wall clock as it
is (what the daemon did before) is run too and reported as the baseline.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import random
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

NAME = "wrong gateway clock (1970, back 1 h, ahead 1 d, restart while back)"
HERE = Path(__file__).resolve().parent
START = datetime.fromisoformat("2026-11-01T00:00:00+00:00")
EPOCH = datetime.fromisoformat("1970-01-01T00:00:00+00:00")
BOOT = START + timedelta(days=2, hours=9)  # the 1970 reboot
SET_BACK = START + timedelta(days=2, hours=10)  # restart while back: the clock set back
RESTART = START + timedelta(days=2, hours=11)  # ... and the daemon restarted
MISTIMED = timedelta(minutes=2)  # a receive time further than this from the truth
Shift = Callable[[datetime], datetime]


@dataclasses.dataclass(frozen=True, slots=True)
class Scenario:
    """A wrong wall clock, when the daemon restarts (if it does), and when it is synced."""

    shift: Shift
    restart: datetime | None = None
    synced: Callable[[datetime], bool] = lambda _t: True


class _OsClock:
    """The gateway's OS clock (a system edge): wall time as shown, monotonic since boot."""

    def __init__(self, shift: Shift) -> None:
        self.shift = shift
        self.true = START
        self.boot = START

    def now(self) -> datetime:
        return self.shift(self.true)

    def monotonic(self) -> float:
        return (self.true - self.boot).total_seconds()

    async def sleep(self, seconds: float) -> None:
        raise NotImplementedError("the campaign feeds readings; nothing waits")


def _scenarios() -> dict[str, Scenario]:
    boot = BOOT
    back = START + timedelta(days=2, hours=14)
    ahead = START + timedelta(days=6, hours=9)
    hour = timedelta(hours=1)
    return {
        "1970": Scenario(
            lambda t: EPOCH + (t - boot) if boot <= t < boot + hour else t,
            restart=boot,
            synced=lambda t: not boot <= t < boot + hour,
        ),
        "back 1 h": Scenario(lambda t: t - hour if t >= back else t),
        "ahead 1 d": Scenario(lambda t: t + timedelta(days=1) if t >= ahead else t),
        "restart while back": Scenario(lambda t: t - hour if t >= SET_BACK else t, restart=RESTART),
    }


def _child() -> Any:
    spec = importlib.util.spec_from_file_location(
        "portwatch_clock_course", HERE / "powerloss_child.py"
    )
    if spec is None or spec.loader is None:
        raise ImportError("cannot load powerloss_child.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def _play(child: Any, readings: list[Any], scenario: Scenario, stamped: bool) -> dict[str, int]:
    """The course as the daemon now times it: TrustedClock and the link's ClockOffset."""
    from portwatch.ble.timing import ClockOffset
    from portwatch.model import DecisionType
    from portwatch.service.timekeeping import TrustedClock

    os_clock = _OsClock(scenario.shift)
    synced = lambda: scenario.synced(os_clock.true)  # noqa: E731
    restart = scenario.restart

    def boot(last_trusted: datetime | None) -> tuple[TrustedClock, ClockOffset]:
        clock = TrustedClock(
            os_clock, synchronised=synced, last_trusted=last_trusted, not_before=START,
            hold_after_jump=True,
        )  # fmt: skip
        return clock, ClockOffset(UTC)

    clock, offset = boot(None)
    rule = child.rule_for(START)
    counts = {t.value: 0 for t in DecisionType}
    outside = backwards = mistimed = worst_s = 0
    last_received: datetime | None = None
    end = START + timedelta(days=child.COURSE_DAYS)
    for reading in readings:
        if restart and last_received is not None and os_clock.true < restart <= reading.time:
            os_clock.true = os_clock.boot = restart  # a reboot: a new daemon, link and clock
            clock, offset = boot(last_received)
        os_clock.true = reading.time
        received = clock.now()
        timed = received
        if stamped:
            device_time = reading.time.astimezone(UTC).replace(tzinfo=None)
            if clock.trusted:
                offset.observe(device_time, received, clock.monotonic())
            timed = offset.timed(device_time, received, clock_trusted=clock.trusted)
        if last_received is not None and received < last_received:
            backwards += 1
        mistimed += abs(received - reading.time) > MISTIMED
        worst_s = max(worst_s, round(abs(received - reading.time).total_seconds()))
        last_received = received
        if not START <= timed < end:
            outside += 1
        seen = dataclasses.replace(reading, time=timed, received_at=received)
        for decision in rule.feed(seen, now=received):
            counts[decision.type.value] += 1
    os_clock.true = end + timedelta(days=1)
    for decision in rule.advance(clock.now()):
        counts[decision.type.value] += 1
    counts["outside"] = outside
    counts["backwards"] = backwards
    counts["mistimed"] = mistimed
    counts["worst_s"] = worst_s
    return counts


def _play_wall(child: Any, readings: list[Any], shift: Shift, stamped: bool) -> dict[str, int]:
    """The baseline: the course timed by the wrong wall clock as it is (before issue 10)."""
    from portwatch.model import DecisionType

    rule = child.rule_for(START)
    counts = {t.value: 0 for t in DecisionType}
    outside = backwards = 0
    last_received: datetime | None = None
    end = START + timedelta(days=child.COURSE_DAYS)
    for reading in readings:
        received = shift(reading.time)
        if last_received is not None and received < last_received:
            backwards += 1
        last_received = received
        timed = reading.time if stamped else received
        if not START <= timed < end:
            outside += 1
        seen = dataclasses.replace(reading, time=timed, received_at=received)
        for decision in rule.feed(seen, now=received):
            counts[decision.type.value] += 1
    for decision in rule.advance(shift(end + timedelta(days=1))):
        counts[decision.type.value] += 1
    counts["outside"] = outside
    counts["backwards"] = backwards
    return counts


def run(quick: bool, seed: int | None = None) -> dict[str, Any]:
    """Feed the course under each wrong clock; count missed and false clinic alerts."""
    del quick  # the rule is fast: the quick run is the full run
    seed = random.SystemRandom().randrange(2**32) if seed is None else seed
    if importlib.util.find_spec("portwatch.fever.rule") is None:
        return {
            "campaign": NAME, "tried": 0, "lost": None, "duplicated": None, "crashed": None,
            "passed": True, "skipped": True, "seed": seed,
            "notes": "not run: this branch has no fever rule (portwatch.fever.rule) yet",
        }  # fmt: skip
    child = _child()
    readings = list(child.course(START, seed, timedelta(minutes=30)).readings)
    right = _play_wall(child, readings, lambda t: t, stamped=True)
    fevers = right["fever.confirmed"]
    clinic = ("fever.confirmed", "fever.ongoing", "fever.resolved")
    missed = false = outside = backwards = crashed = 0
    base_missed = base_false = base_outside = base_backwards = 0
    details: list[str] = []
    scenarios: dict[str, dict[str, int]] = {}
    for name, scenario in _scenarios().items():
        for stamped in (True, False):
            label = f"{name} ({'stamped' if stamped else 'unstamped'})"
            try:
                got = _play(child, readings, scenario, stamped)
            except Exception as exc:  # noqa: BLE001 - a crash of the rule is what is counted
                crashed += 1
                details.append(f"{label}: raised {type(exc).__name__}")
                continue
            was = _play_wall(child, readings, scenario.shift, stamped)
            base_missed += max(0, fevers - was["fever.confirmed"])
            base_false += sum(max(0, was[k] - right[k]) for k in clinic)
            base_outside += was["outside"]
            base_backwards += was["backwards"]
            lacking = max(0, fevers - got["fever.confirmed"])
            extra = sum(max(0, got[k] - right[k]) for k in clinic)
            scenarios[label] = {
                "missed": lacking, "false": extra, "outside": got["outside"],
                "backwards": got["backwards"], "mistimed": got["mistimed"],
                "worst_s": got["worst_s"],
            }  # fmt: skip
            missed += lacking
            false += extra
            outside += got["outside"]
            backwards += got["backwards"]
            details.append(
                f"{label}: {got['fever.confirmed']} confirmed, {got['fever.ongoing']} ongoing, "
                f"{got['fever.resolved']} resolved, {got['reading.invalid']} invalid, "
                f"{got['outside']} timed outside, {got['backwards']} backwards, "
                f"{got['mistimed']} mistimed (worst {got['worst_s']} s off)"
            )
    notes = (
        f"seed={seed}; right clock: {fevers} confirmed, {right['fever.resolved']} resolved; "
        f"missed {missed}, false {false}, readings timed outside the period {outside}, "
        f"backwards {backwards}; "
        + "; ".join(details)
        + f"; baseline (wall clock as is): missed {base_missed}, false {base_false}, "
        f"timed outside {base_outside}, backwards {base_backwards}"
    )
    return {
        "campaign": NAME,
        "tried": 2 * len(_scenarios()),
        "lost": missed,
        "duplicated": false,
        "crashed": crashed,
        "passed": missed == false == crashed == outside == backwards == 0 and fevers == 2,
        "seed": seed,
        "missed": missed,
        "false": false,
        "timed_outside": outside,
        "backwards": backwards,
        "baseline": {
            "missed": base_missed,
            "false": base_false,
            "timed_outside": base_outside,
            "backwards": base_backwards,
        },
        "scenarios": scenarios,
        "notes": notes,
    }
