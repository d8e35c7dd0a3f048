"""The link on a TrustedClock while the gateway's wall clock goes wrong (issue 10, clock).

Real bleak on the virtual radio; the thermometer keeps true time (its own clock), the
gateway's wall clock is a VirtualClock made to jump.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from datetime import datetime, timedelta
from pathlib import Path

from portwatch.ble.link import Link
from portwatch.ble.pin import Pin, save_pin
from portwatch.clock import VirtualClock
from portwatch.service.timekeeping import TrustedClock
from portwatch.sim.radio import VirtualRadio, VirtualSpotThermometer
from portwatch.sim.radio.testing import Recorder, run_until


class TrueTime:
    """The thermometer's own clock: true time, whatever the gateway's wall clock shows."""

    def __init__(self, system: VirtualClock) -> None:
        self._system = system
        self._start = system.now() - timedelta(seconds=system.monotonic())

    def now(self) -> datetime:
        return self._start + timedelta(seconds=self._system.monotonic())

    def monotonic(self) -> float:
        return self._system.monotonic()

    async def sleep(self, seconds: float) -> None:
        await self._system.sleep(seconds)


class Sync:
    """Stands in for timedatectl's NTPSynchronized flag: a system edge."""

    def __init__(self, value: bool) -> None:
        self.value = value

    def __call__(self) -> bool:
        return self.value


async def _run_link(
    clock: TrustedClock, radio: VirtualRadio, recorder: Recorder, tmp_path: Path
) -> asyncio.Task[None]:
    link = Link(clock=clock, radio=radio, state_dir=tmp_path, sink=recorder, rng=random.Random(3))
    return asyncio.get_running_loop().create_task(link.run())


async def test_link_reading_is_not_ahead_of_receipt_when_wall_clock_is_set_back_an_hour(
    clock: VirtualClock, radio: VirtualRadio, recorder: Recorder, tmp_path: Path
) -> None:
    """The fever missed in the campaign: true stamps must not look an hour 'in the future'."""
    thermometer = await radio.add(
        VirtualSpotThermometer(TrueTime(clock), temperature_at=lambda _n: 38.4, measure_every_s=60)
    )
    save_pin(tmp_path, Pin(thermometer.address, thermometer.name, "hts"))
    placement = clock.now() - timedelta(days=1)
    trusted = TrustedClock(
        clock, synchronised=Sync(True), last_trusted=None, not_before=placement,
        hold_after_jump=True,
    )  # fmt: skip
    task = await _run_link(trusted, radio, recorder, tmp_path)
    try:
        await run_until(clock, lambda: len(recorder.readings) >= 3, within_s=400)
        clock.jump_wall(timedelta(hours=-1))
        await run_until(clock, lambda: len(recorder.readings) >= 6, within_s=400)
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    for reading in recorder.readings:
        assert abs(reading.time - reading.received_at) < timedelta(seconds=5), reading
    assert trusted.held  # the set-back was seen and not followed


async def test_link_reading_is_timed_right_when_clock_synchronises_after_a_reboot(
    clock: VirtualClock, radio: VirtualRadio, recorder: Recorder, tmp_path: Path
) -> None:
    """Kept time lags after a reboot: no stamp runs ahead of it, and no lag is learned."""
    thermometer = await radio.add(
        VirtualSpotThermometer(TrueTime(clock), temperature_at=lambda _n: 38.4, measure_every_s=60)
    )
    save_pin(tmp_path, Pin(thermometer.address, thermometer.name, "hts"))
    lagging = clock.now() - timedelta(minutes=30)  # the log's last trusted time; the Pi was off
    sync = Sync(False)
    trusted = TrustedClock(
        clock, synchronised=sync, last_trusted=lagging, not_before=lagging,
        hold_after_jump=True,
    )  # fmt: skip
    task = await _run_link(trusted, radio, recorder, tmp_path)
    try:
        await run_until(clock, lambda: len(recorder.readings) >= 4, within_s=600)
        before = len(recorder.readings)
        sync.value = True  # NTP: the wall clock (true all along) is trusted now
        await run_until(clock, lambda: len(recorder.readings) >= before + 3, within_s=600)
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    for reading in recorder.readings[:before]:
        assert reading.time <= reading.received_at, reading
    for reading in recorder.readings[before:]:
        assert abs(reading.time - reading.received_at) < timedelta(seconds=5), reading
