"""The known traps of Bumble 0.0.236 under bleak, each handled in portwatch.sim.radio.backend.

Each test fails without its handling (named TRAP n in the backend).
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import pytest
from bleak import BleakClient, BleakScanner
from bleak.exc import BleakError
from bumble.gatt import Characteristic, CharacteristicValue, Service

from portwatch.ble import core, hts
from portwatch.ble.drivers import DriverName, driver_for_advertisement
from portwatch.clock import VirtualClock
from portwatch.sim.radio import VirtualCoreWearable, VirtualRadio, VirtualSpotThermometer

STALL_UUID = "6e400001-0000-4000-8000-00000000beef"


class StallingThermometer(VirtualSpotThermometer):
    """Serves one characteristic whose read never answers, to catch a drop mid-request."""

    def thermometer_services(self) -> list[Service]:
        never: asyncio.Event = asyncio.Event()

        async def read(_connection: object) -> bytes:
            await never.wait()
            return b""

        stall: Characteristic[Any] = Characteristic(
            STALL_UUID,
            Characteristic.Properties.READ,
            Characteristic.READABLE,
            CharacteristicValue(read=read),
        )
        return [*super().thermometer_services(), Service(STALL_UUID, [stall])]


async def test_connect_succeeds_when_previous_connect_was_cancelled(
    clock: VirtualClock, radio: VirtualRadio
) -> None:
    """TRAP 1: a cancelled connect must not leave a ghost that refuses the next one."""
    thermometer = await radio.add(VirtualSpotThermometer(clock, temperature_at=lambda _n: 37.0))
    await thermometer.stop_advertising()  # the connect can only hang
    client = BleakClient(thermometer.address, backend=radio.backend.client)
    attempt = asyncio.ensure_future(client.connect())
    await clock.settle()
    attempt.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await attempt
    await thermometer.resume_advertising()
    again = BleakClient(thermometer.address, backend=radio.backend.client)
    await asyncio.wait_for(again.connect(), 5)
    assert again.is_connected
    await again.disconnect()


async def test_gatt_read_raises_bleak_error_when_link_drops_mid_request(
    clock: VirtualClock, radio: VirtualRadio
) -> None:
    """TRAP 2: callers catch BleakError; a bare CancelledError would look like shutdown."""
    thermometer = await radio.add(StallingThermometer(clock, temperature_at=lambda _n: 37.0))
    client = BleakClient(thermometer.address, backend=radio.backend.client)
    await asyncio.wait_for(client.connect(), 5)
    read = asyncio.ensure_future(client.read_gatt_char(STALL_UUID))
    await clock.settle()
    await thermometer.drop_link()
    with pytest.raises(BleakError):
        await asyncio.wait_for(read, 5)


async def test_indications_keep_flowing_when_notification_callback_raises(
    clock: VirtualClock, radio: VirtualRadio
) -> None:
    """TRAP 3: one bad callback must not leave the indication unconfirmed and stall it."""
    thermometer = await radio.add(VirtualSpotThermometer(clock, temperature_at=lambda _n: 37.0))
    received: list[bytes] = []

    def callback(_char: object, data: bytearray) -> None:
        received.append(bytes(data))
        if len(received) == 1:
            raise RuntimeError("a consumer bug")

    async with BleakClient(thermometer.address, backend=radio.backend.client) as client:
        await client.start_notify(hts.TEMPERATURE_MEASUREMENT_UUID, callback)
        assert await asyncio.wait_for(thermometer.take_measurement(), 5)
        await clock.advance(1)
        assert await asyncio.wait_for(thermometer.take_measurement(), 5)
    assert len(received) == 2


async def test_scan_shows_name_and_identifies_core_when_scan_response_is_lost(
    clock: VirtualClock, radio: VirtualRadio
) -> None:
    """TRAP 4: names travel in the advertisement; CORE is known by its company id."""
    spot = await radio.add(VirtualSpotThermometer(clock, temperature_at=lambda _n: 37.0))
    wearable = await radio.add(VirtualCoreWearable(clock, temperature_at=lambda _n: 37.0))
    found = await BleakScanner.discover(timeout=0.5, return_adv=True, backend=radio.backend.scanner)
    assert found[spot.address][1].local_name == spot.name
    adv = found[wearable.address][1]
    assert core.SERVICE_UUID not in adv.service_uuids  # only in the (lost) scan response
    driver = driver_for_advertisement(adv.service_uuids, adv.manufacturer_data)
    assert driver is not None
    assert driver.name is DriverName.CORE


async def test_scan_filter_matches_when_given_short_uuid(
    clock: VirtualClock, radio: VirtualRadio
) -> None:
    """TRAP 5: "1809" must match as "00001809-0000-1000-8000-00805f9b34fb" does."""
    spot = await radio.add(VirtualSpotThermometer(clock, temperature_at=lambda _n: 37.0))
    device = await BleakScanner.find_device_by_filter(
        lambda d, _a: d.address == spot.address,
        timeout=2,
        service_uuids=["1809"],
        backend=radio.backend.scanner,
    )
    assert device is not None
