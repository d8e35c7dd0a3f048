"""How fast the link runs a CORE wearable on the virtual radio under a VirtualClock.

The demo plays ten days of a CORE wearable (one frame every 30 s) by advancing a
VirtualClock at about 10,000x. Figure: simulated seconds per real second with the whole
path running (Bumble peripheral, LocalLink, real bleak + bleak-retry-connector, the link,
the CORE driver, a sink). Baseline, same run: the same wearable and clock with no link
connected (the radio and clock alone), which bounds what the link could reach.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from portwatch.ble.link import Link
from portwatch.ble.pin import Pin, save_pin
from portwatch.clock import VirtualClock
from portwatch.sim.radio import VirtualCoreWearable, VirtualRadio
from portwatch.sim.radio.testing import Recorder, run_until

START = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
INTERVAL_S = 30
# Clock step per advance: the demo's granularity (one step per frame interval).
STEP_S = 30.0


async def _simulate(hours: float, *, with_link: bool) -> tuple[float, int]:
    clock = VirtualClock(START, settle_rounds=64)
    recorder = Recorder()
    async with VirtualRadio(clock) as radio:
        wearable = await radio.add(
            VirtualCoreWearable(clock, temperature_at=lambda _n: 37.2, interval_s=INTERVAL_S)
        )
        task = None
        with tempfile.TemporaryDirectory() as state:
            if with_link:
                save_pin(Path(state), Pin(wearable.address, wearable.name, "core"))
                link = Link(
                    clock=clock,
                    radio=radio,
                    state_dir=Path(state),
                    sink=recorder,
                    rng=random.Random(1),
                )
                task = asyncio.ensure_future(link.run())
                await run_until(clock, link.connected.is_set, within_s=60)
            began = time.perf_counter()
            steps = int(hours * 3600 / STEP_S)
            for _ in range(steps):
                await clock.advance(STEP_S)
            elapsed = time.perf_counter() - began
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
    return hours * 3600 / elapsed, len(recorder.readings)


def measure(quick: bool) -> list[dict[str, Any]]:
    hours = 6.0 if quick else 240.0  # full: the demo's ten days
    speed, readings = asyncio.run(_simulate(hours, with_link=True))
    alone, _ = asyncio.run(_simulate(hours, with_link=False))
    expected = int(hours * 3600 / INTERVAL_S)
    return [
        {
            "figure": f"CORE 30 s stream, {hours:g} simulated h through the link: speed-up",
            "value": round(speed),
            "unit": "x real time",
            "baseline": "same wearable and clock, no link connected",
            "baseline_value": round(alone),
        },
        {
            "figure": f"CORE readings delivered of {expected} sent",
            "value": readings,
            "unit": "readings",
            "baseline": "frames the wearable measured",
            "baseline_value": expected,
        },
    ]


if __name__ == "__main__":
    for row in measure(quick=True):
        print(row)
