"""The link against a virtual HTS spot thermometer, end to end through real bleak."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path

from portwatch.ble.link import Link
from portwatch.ble.pin import Pin, save_pin
from portwatch.clock import VirtualClock
from portwatch.model import LinkEventKind, ReadingKind
from portwatch.sim.radio import VirtualRadio, VirtualSpotThermometer
from portwatch.sim.radio.testing import Recorder, run_until


def rising(start_c: float, per_hour_c: float, t0: datetime) -> Callable[[datetime], float]:
    return lambda now: start_c + per_hour_c * (now - t0).total_seconds() / 3600


async def test_link_readings_arrive_in_order_with_right_values_when_thermometer_measures(
    clock: VirtualClock,
    radio: VirtualRadio,
    recorder: Recorder,
    tmp_path: Path,
    start_link: Callable[[], Link],
) -> None:
    """The core promise: each measurement becomes one spot reading, in order, exact."""
    thermometer = await radio.add(
        VirtualSpotThermometer(
            clock, temperature_at=rising(37.0, 0.6, clock.now()), measure_every_s=600
        )
    )
    save_pin(tmp_path, Pin(thermometer.address, thermometer.name, "hts"))
    start_link()
    await run_until(clock, lambda: len(recorder.readings) >= 4, within_s=2500)
    values = [r.value for r in recorder.readings[:4]]
    assert values == [Decimal("37.10"), Decimal("37.20"), Decimal("37.30"), Decimal("37.40")]
    assert all(r.kind is ReadingKind.SPOT for r in recorder.readings)
    times = [r.time for r in recorder.readings[:4]]
    assert times == sorted(times)
    assert recorder.events(LinkEventKind.CONNECTED)


async def test_link_reading_time_is_device_stamp_when_clock_is_right(
    clock: VirtualClock,
    radio: VirtualRadio,
    recorder: Recorder,
    tmp_path: Path,
    start_link: Callable[[], Link],
) -> None:
    """A reading's time is its own stamp read in the gateway zone (fever-rule.md §1)."""
    thermometer = await radio.add(
        VirtualSpotThermometer(clock, temperature_at=lambda _n: 37.0, measure_every_s=60)
    )
    save_pin(tmp_path, Pin(thermometer.address, thermometer.name, "hts"))
    start_link()
    await run_until(clock, lambda: len(recorder.readings) >= 1, within_s=120)
    reading = recorder.readings[0]
    assert reading.device_time is not None
    assert abs(reading.time - reading.received_at) < timedelta(seconds=1)
