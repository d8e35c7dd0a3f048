"""The link with each driver: HTS periodic (stream + provisional), CORE, pairing, duplicates."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

from portwatch.ble import core
from portwatch.ble.link import Link
from portwatch.ble.pin import Pin, save_pin
from portwatch.clock import VirtualClock
from portwatch.model import LinkEventKind, ReadingKind
from portwatch.sim.radio import (
    VirtualCoreWearable,
    VirtualPeriodicThermometer,
    VirtualRadio,
    VirtualSpotThermometer,
)
from portwatch.sim.radio.testing import Recorder, run_until


async def test_link_core_stream_decodes_when_wearable_notifies(
    clock: VirtualClock,
    radio: VirtualRadio,
    recorder: Recorder,
    tmp_path: Path,
    start_link: Callable[[], Link],
) -> None:
    """CORE's core temperature becomes stream readings with a learned interval."""
    wearable = await radio.add(
        VirtualCoreWearable(clock, temperature_at=lambda _n: 37.6, interval_s=30)
    )
    save_pin(tmp_path, Pin(wearable.address, wearable.name, "core"))
    start_link()
    await run_until(clock, lambda: len(recorder.readings) >= 5, within_s=400, step_s=1)
    readings = recorder.readings
    assert {r.kind for r in readings} == {ReadingKind.STREAM}
    assert {r.value for r in readings} == {Decimal("37.60")}
    assert readings[-1].interval_s == 30
    assert readings[-1].invalid_reason is None


async def test_link_core_reading_is_invalid_when_quality_is_invalid(
    clock: VirtualClock,
    radio: VirtualRadio,
    recorder: Recorder,
    tmp_path: Path,
    start_link: Callable[[], Link],
) -> None:
    """A frame CORE itself grades invalid is kept, with a reason, never used as a fever."""
    wearable = await radio.add(
        VirtualCoreWearable(
            clock, temperature_at=lambda _n: 39.0, interval_s=10, quality=core.Quality.INVALID
        )
    )
    save_pin(tmp_path, Pin(wearable.address, wearable.name, "core"))
    start_link()
    await run_until(clock, lambda: len(recorder.readings) >= 1, within_s=60)
    assert recorder.readings[0].invalid_reason == "device graded the measurement invalid"


async def test_link_periodic_hts_gives_stream_and_provisional_when_interval_declared(
    clock: VirtualClock,
    radio: VirtualRadio,
    recorder: Recorder,
    tmp_path: Path,
    start_link: Callable[[], Link],
) -> None:
    """A declared Measurement Interval makes finals 'stream'; intermediates are provisional."""
    thermometer = await radio.add(
        VirtualPeriodicThermometer(clock, temperature_at=lambda _n: 37.0, interval_s=60)
    )
    save_pin(tmp_path, Pin(thermometer.address, thermometer.name, "hts"))
    start_link()
    finals = lambda: [r for r in recorder.readings if r.kind is ReadingKind.STREAM]  # noqa: E731
    await run_until(clock, lambda: len(finals()) >= 2, within_s=300)
    assert finals()[0].interval_s == 60
    provisional = [r for r in recorder.readings if r.kind is ReadingKind.PROVISIONAL]
    assert [r.value for r in provisional[:2]] == [Decimal("36.80"), Decimal("36.90")]


async def test_link_pairs_and_reads_when_thermometer_requires_pairing(
    clock: VirtualClock,
    radio: VirtualRadio,
    recorder: Recorder,
    tmp_path: Path,
    start_link: Callable[[], Link],
) -> None:
    """A thermometer that refuses unencrypted reads works once the link pairs with it."""
    thermometer = await radio.add(
        VirtualSpotThermometer(clock, temperature_at=lambda _n: 37.2, pairing_required=True)
    )
    save_pin(tmp_path, Pin(thermometer.address, thermometer.name, "hts"))
    link = start_link()
    await run_until(clock, link.connected.is_set, within_s=30)
    assert recorder.events(LinkEventKind.PAIRED)
    assert thermometer.encrypted
    assert await thermometer.take_measurement()
    await run_until(clock, lambda: len(recorder.readings) == 1, within_s=5)
    assert recorder.readings[0].value == Decimal("37.20")


async def test_link_records_once_when_packet_is_delivered_twice(
    clock: VirtualClock,
    radio: VirtualRadio,
    recorder: Recorder,
    tmp_path: Path,
    start_link: Callable[[], Link],
) -> None:
    """A measurement delivered twice (resend after a lost confirmation) is one reading."""
    thermometer = await radio.add(
        VirtualSpotThermometer(clock, temperature_at=lambda _n: 37.4, measure_every_s=60)
    )
    save_pin(tmp_path, Pin(thermometer.address, thermometer.name, "hts"))
    link = start_link()
    await run_until(clock, lambda: len(recorder.readings) == 1, within_s=90)
    assert await thermometer.resend_last()
    await clock.advance(1)
    await run_until(clock, lambda: len(recorder.readings) == 2, within_s=90)
    assert len({r.raw for r in recorder.readings}) == 2
    assert link.connections == 1


async def test_link_sets_device_clock_when_date_time_is_writable(
    clock: VirtualClock,
    radio: VirtualRadio,
    recorder: Recorder,
    tmp_path: Path,
    start_link: Callable[[], Link],
) -> None:
    """Where the clock can be written, it is set on connection and stamps are exact."""
    thermometer = await radio.add(
        VirtualSpotThermometer(
            clock, temperature_at=lambda _n: 37.0, writable_clock=True, clock_error_s=-3600
        )
    )
    save_pin(tmp_path, Pin(thermometer.address, thermometer.name, "hts"))
    link = start_link()
    await run_until(clock, link.connected.is_set, within_s=30)
    assert recorder.events(LinkEventKind.CLOCK_SET)
    assert abs(thermometer.clock_error_s) < 1
    assert await thermometer.take_measurement()
    await run_until(clock, lambda: len(recorder.readings) == 1, within_s=5)
    reading = recorder.readings[0]
    assert abs((reading.time - reading.received_at).total_seconds()) < 1


async def test_link_reports_battery_when_it_falls(
    clock: VirtualClock,
    radio: VirtualRadio,
    recorder: Recorder,
    tmp_path: Path,
    start_link: Callable[[], Link],
) -> None:
    """A draining battery is reported as it changes, so someone can charge it in time."""
    wearable = await radio.add(
        VirtualCoreWearable(clock, temperature_at=lambda _n: 37.0, interval_s=60)
    )
    wearable.battery_falling(percent_per_hour=10)
    save_pin(tmp_path, Pin(wearable.address, wearable.name, "core"))
    start_link()
    await run_until(
        clock,
        lambda: len(recorder.events(LinkEventKind.BATTERY)) >= 3,
        within_s=3 * 3600,
        step_s=30,
    )
    levels = [e.battery_percent for e in recorder.events(LinkEventKind.BATTERY)]
    assert levels[1:3] == [levels[0] - 1, levels[0] - 2]


async def test_link_closes_connection_when_cancelled(
    clock: VirtualClock,
    radio: VirtualRadio,
    recorder: Recorder,
    tmp_path: Path,
    start_link: Callable[[], Link],
) -> None:
    """Stopping the daemon must end the link cleanly, not leave the thermometer connected."""
    import asyncio

    thermometer = await radio.add(VirtualSpotThermometer(clock, temperature_at=lambda _n: 37.0))
    save_pin(tmp_path, Pin(thermometer.address, thermometer.name, "hts"))
    link = Link(clock=clock, radio=radio, state_dir=tmp_path, sink=recorder)
    task = asyncio.ensure_future(link.run())
    await run_until(clock, link.connected.is_set, within_s=30)
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    await run_until(clock, lambda: not thermometer.connected, within_s=5)
    assert recorder.events(LinkEventKind.DISCONNECTED)[-1].detail == "link stopped"
