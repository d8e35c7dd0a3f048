"""Real bleak (BleakScanner, BleakClient) on the Bumble backend, against virtual thermometers."""

from __future__ import annotations

import asyncio

from bleak import BleakClient, BleakScanner

from portwatch.ble import hts
from portwatch.clock import VirtualClock
from portwatch.sim.radio import VirtualRadio, VirtualSpotThermometer

HTS_FULL = "00001809-0000-1000-8000-00805f9b34fb"


def steady(celsius: float):  # type: ignore[no-untyped-def]
    return lambda _now: celsius


async def test_bleak_client_receives_indication_when_connected_through_virtual_radio(
    clock: VirtualClock, radio: VirtualRadio
) -> None:
    """The whole point of the radio: unmodified bleak connects and gets an HTS indication."""
    thermometer = await radio.add(
        VirtualSpotThermometer(clock, temperature_at=steady(37.25), name="Spot")
    )
    device = await BleakScanner.find_device_by_address(
        thermometer.address, timeout=5, backend=radio.backend.scanner
    )
    assert device is not None
    received: asyncio.Queue[bytes] = asyncio.Queue()
    async with BleakClient(device, backend=radio.backend.client) as client:
        await client.start_notify(
            hts.TEMPERATURE_MEASUREMENT_UUID, lambda _c, data: received.put_nowait(bytes(data))
        )
        assert await thermometer.take_measurement()
        data = await asyncio.wait_for(received.get(), 5)
    assert hts.decode_measurement(data).value is not None
    assert str(hts.decode_measurement(data).value) == "37.25"
