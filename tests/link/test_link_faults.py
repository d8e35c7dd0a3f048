"""The link survives what a thermometer does to it: drops, absences, strangers, bad packets."""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

from portwatch.ble.link import Link
from portwatch.ble.pin import Pin, save_pin
from portwatch.clock import VirtualClock
from portwatch.model import LinkEventKind, Special
from portwatch.sim.radio import VirtualRadio, VirtualSpotThermometer
from portwatch.sim.radio.testing import Recorder, run_until


def steady(celsius: float) -> Callable[[object], float]:
    return lambda _now: celsius


async def connected_spot(
    clock: VirtualClock,
    radio: VirtualRadio,
    tmp_path: Path,
    start_link: Callable[[], Link],
    **kwargs: object,
) -> tuple[VirtualSpotThermometer, Link]:
    thermometer = await radio.add(
        VirtualSpotThermometer(clock, temperature_at=steady(37.0), **kwargs)  # type: ignore[arg-type]
    )
    save_pin(tmp_path, Pin(thermometer.address, thermometer.name, "hts"))
    link = start_link()
    await run_until(clock, link.connected.is_set, within_s=30)
    return thermometer, link


async def test_link_reconnects_within_5_s_when_thermometer_is_back_in_range(
    clock: VirtualClock,
    radio: VirtualRadio,
    recorder: Recorder,
    tmp_path: Path,
    start_link: Callable[[], Link],
) -> None:
    """A patient walking out of range must not end the monitoring once they are back."""
    thermometer, link = await connected_spot(clock, radio, tmp_path, start_link)
    await thermometer.out_of_range(600)
    await run_until(clock, lambda: not link.connected.is_set(), within_s=5)
    await clock.advance(600)
    took = await run_until(clock, link.connected.is_set, within_s=5, step_s=0.25)
    assert took <= 5
    assert len(recorder.events(LinkEventKind.CONNECTED)) == 2
    assert recorder.events(LinkEventKind.DISCONNECTED)


async def test_link_reads_again_when_thermometer_dropped_the_link(
    clock: VirtualClock,
    radio: VirtualRadio,
    recorder: Recorder,
    tmp_path: Path,
    start_link: Callable[[], Link],
) -> None:
    """A dropped link is reconnected and measurements flow again through the new one."""
    thermometer, link = await connected_spot(clock, radio, tmp_path, start_link)
    await thermometer.drop_link()
    await run_until(clock, lambda: link.connections == 2 and link.connected.is_set(), within_s=5)
    assert await thermometer.take_measurement()
    await run_until(clock, lambda: len(recorder.readings) == 1, within_s=5)


async def test_link_never_stays_stuck_when_link_drops_100_times_at_random(
    clock: VirtualClock,
    radio: VirtualRadio,
    recorder: Recorder,
    tmp_path: Path,
    start_link: Callable[[], Link],
) -> None:
    """Drops at any moment (mid-discovery, mid-subscribe) must never wedge the link."""
    rng = random.Random(11)
    thermometer, link = await connected_spot(clock, radio, tmp_path, start_link)
    for _ in range(100):
        # Let the link get anywhere between "just connecting" and "settled".
        for _ in range(rng.randrange(0, 40)):
            await clock.settle()
        await thermometer.drop_link()
        await clock.advance(rng.choice([0.0, 0.1, 0.5]))
    # After a failed attempt bleak-retry-connector backs off on the loop's own timer.
    await run_until(clock, link.connected.is_set, within_s=120, loop_time_s=0.02)
    assert await thermometer.take_measurement()
    await run_until(clock, lambda: len(recorder.readings) == 1, within_s=10)


async def test_link_ignores_stranger_and_reports_it_once_when_another_thermometer_advertises(
    clock: VirtualClock,
    radio: VirtualRadio,
    recorder: Recorder,
    tmp_path: Path,
    start_link: Callable[[], Link],
) -> None:
    """A neighbour's thermometer must never feed this patient's log (fever-rule.md §1)."""
    stranger = await radio.add(
        VirtualSpotThermometer(
            clock, temperature_at=steady(39.5), name="Neighbour", measure_every_s=60
        )
    )
    thermometer, _link = await connected_spot(
        clock, radio, tmp_path, start_link, measure_every_s=60
    )
    await thermometer.drop_link()  # scan again: the stranger is heard again
    await run_until(clock, lambda: len(recorder.readings) >= 3, within_s=600)
    assert {r.device for r in recorder.readings} == {thermometer.address}
    ignored = recorder.events(LinkEventKind.STRANGER_IGNORED)
    assert [e.device for e in ignored] == [stranger.address]


async def test_link_reports_events_and_keeps_going_when_packet_is_malformed_or_nan(
    clock: VirtualClock,
    radio: VirtualRadio,
    recorder: Recorder,
    tmp_path: Path,
    start_link: Callable[[], Link],
) -> None:
    """Bad bytes and an off-body NaN are facts to log, never a reason to crash."""
    thermometer, link = await connected_spot(clock, radio, tmp_path, start_link)
    await thermometer.send_malformed()
    await thermometer.send_nan()
    assert await thermometer.take_measurement()
    await run_until(clock, lambda: len(recorder.readings) == 2, within_s=10)
    malformed = recorder.events(LinkEventKind.MALFORMED_PACKET)
    assert [e.raw.hex() for e in malformed] == ["0201"]
    assert recorder.events(LinkEventKind.SPECIAL_VALUE)
    nan, good = recorder.readings
    assert nan.special is Special.NAN
    assert nan.invalid_reason is not None
    assert good.celsius == 37.0
    assert link.connections == 1


async def test_link_stored_measurements_keep_their_own_time_when_sent_after_reconnection(
    clock: VirtualClock,
    radio: VirtualRadio,
    recorder: Recorder,
    tmp_path: Path,
    start_link: Callable[[], Link],
) -> None:
    """Readings taken out of range land at their own time, so a late pair still confirms."""
    thermometer, link = await connected_spot(
        clock,
        radio,
        tmp_path,
        start_link,
        store_measurements=True,
        clock_error_s=-90.0,
    )
    # Learn the device clock's error from a live measurement first.
    await clock.advance(30)
    assert await thermometer.take_measurement()
    await run_until(clock, lambda: len(recorder.readings) == 1, within_s=5)
    await thermometer.out_of_range(3 * 3600)
    await run_until(clock, lambda: not link.connected.is_set(), within_s=5)
    taken = []
    for _ in range(2):
        await clock.advance(3600)
        taken.append(clock.now())
        assert not await thermometer.take_measurement()
    await clock.advance(3600)
    await run_until(clock, lambda: len(recorder.readings) == 3, within_s=30)
    late = recorder.readings[1:]
    for reading, when in zip(late, taken, strict=True):
        assert abs(reading.time - when) <= timedelta(seconds=1)
        assert reading.received_at - reading.time > timedelta(minutes=59)
