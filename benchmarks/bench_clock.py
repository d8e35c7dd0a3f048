"""The daemon's clock: what one ``now()`` costs on the TrustedClock against the bare system.

The link reads the clock once per packet and the rule once per reading; a CORE wearable
sends a packet every few seconds, so any figure here is far beyond need. It guards against
the synchronisation probe growing costly (a forked ``timedatectl`` would take milliseconds):
the TrustedClock over the real system clock with the kernel probe (``adjtimex`` via ctypes,
after a stat of timesyncd's marker) against ``SystemClock.now()`` in the same run.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime

from portwatch.clock import SystemClock
from portwatch.service.timekeeping import TrustedClock, kernel_synchronised


def _per_call_us(call: Callable[[], object], count: int, rounds: int) -> float:
    best = float("inf")
    for _ in range(rounds):
        start = time.perf_counter()
        for _ in range(count):
            call()
        best = min(best, time.perf_counter() - start)
    return best / count * 1e6


def measure(quick: bool) -> list[dict[str, object]]:
    count, rounds = (5_000, 3) if quick else (200_000, 5)
    system = SystemClock()
    placement = datetime(2026, 11, 27, 13, 30, tzinfo=UTC)
    trusted = TrustedClock(
        system, synchronised=kernel_synchronised, last_trusted=None, not_before=placement,
        hold_after_jump=True,
    )  # fmt: skip
    bare = _per_call_us(system.now, count, rounds)
    return [
        {
            "figure": "TrustedClock.now() with the kernel sync probe",
            "value": _per_call_us(trusted.now, count, rounds),
            "unit": "us/call",
            "baseline": "SystemClock.now()",
            "baseline_value": bare,
        },
        {
            "figure": "kernel_synchronised() (marker stat + adjtimex)",
            "value": _per_call_us(kernel_synchronised, count, rounds),
            "unit": "us/call",
            "baseline": "SystemClock.now()",
            "baseline_value": bare,
        },
    ]
