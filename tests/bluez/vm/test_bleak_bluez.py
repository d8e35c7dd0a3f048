"""The tier's own proof: bleak on its default backend talks to real bluetoothd (issue 11).

If this fails, nothing the link does on BlueZ can be tested here, so it runs first and
names the stage that broke: scan, connect, subscribe or indication.
"""

from __future__ import annotations

import asyncio
from typing import Final

from bleak import BleakClient, BleakScanner
from bleak.backends.device import BLEDevice
from bleak.backends.scanner import AdvertisementData
from bluez_rig import HTS_UUID, MEASUREMENT_UUID, VirtualThermometer, hts_measurement

# Slow emulation (conftest): generous ceilings, each well under pytest's 120 s.
SCAN_S: Final = 30.0
CONNECT_S: Final = 40.0
INDICATION_S: Final = 20.0


def _advertises_hts(_device: BLEDevice, advertisement: AdvertisementData) -> bool:
    return HTS_UUID in advertisement.service_uuids


async def test_bleak_receives_an_indication_when_bluez_connects_to_a_hts_thermometer(
    thermometer: VirtualThermometer,
) -> None:
    """bleak, through bluetoothd, finds a thermometer by service and gets its indication."""
    found = await BleakScanner.find_device_by_filter(_advertises_hts, timeout=SCAN_S)
    assert found is not None, "BlueZ never reported a device advertising the HTS service"
    # The device came from BlueZ, not from a Bumble backend: it has a D-Bus object path.
    assert str(found.details["path"]).startswith("/org/bluez/")

    received: asyncio.Queue[bytes] = asyncio.Queue()
    value = hts_measurement(3850)
    async with BleakClient(found, timeout=CONNECT_S) as client:
        await client.start_notify(
            MEASUREMENT_UUID, lambda _char, data: received.put_nowait(bytes(data))
        )
        await thermometer.indicate(value)
        got = await asyncio.wait_for(received.get(), INDICATION_S)

    assert got == value
