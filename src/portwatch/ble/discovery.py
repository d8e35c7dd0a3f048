"""Finding thermometers for a person: ``portwatch scan`` lists them, ``pair`` pins one."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from dataclasses import dataclass

from bleak import BleakClient, BleakScanner
from bleak.backends.device import BLEDevice
from bleak.backends.scanner import AdvertisementData
from bleak.exc import BleakError

from portwatch.ble.drivers import driver_for_advertisement
from portwatch.ble.gatt import DISCONNECT_TIMEOUT_S, GATT_TIMEOUT_S, Gatt, device_info
from portwatch.ble.radio import Radio
from portwatch.clock import Clock

__all__ = ["Seen", "discover", "read_identity"]


@dataclass(frozen=True, slots=True)
class Seen:
    """A thermometer heard while scanning (``portwatch scan`` and ``pair``)."""

    address: str
    name: str
    rssi: int
    driver: str


async def discover(
    radio: Radio,
    clock: Clock,
    seconds: float,
    on_update: Callable[[dict[str, Seen]], None] | None = None,
) -> dict[str, Seen]:
    """Scan for ``seconds`` of Clock time; every advertisement a driver recognises counts.

    Raises:
        BleakError: the radio cannot scan (no adapter, BlueZ not running).
    """
    seen: dict[str, Seen] = {}

    def on_advertisement(device: BLEDevice, adv: AdvertisementData) -> None:
        driver = driver_for_advertisement(adv.service_uuids, adv.manufacturer_data)
        if driver is None:
            return
        address = device.address.upper()
        seen[address] = Seen(address, adv.local_name or "", adv.rssi, str(driver.name))
        if on_update is not None:
            on_update(dict(seen))

    scanner = BleakScanner(on_advertisement, scanning_mode="active", backend=radio.scanner)
    await scanner.start()
    try:
        await clock.sleep(seconds)
    finally:
        async with asyncio.timeout(GATT_TIMEOUT_S):
            await scanner.stop()
    return seen


async def read_identity(radio: Radio, address: str) -> dict[str, str]:
    """Connect once and read Device Information (manufacturer, model, serial, ...).

    Raises:
        BleakError: the thermometer could not be reached or read.
    """
    client = BleakClient(address, backend=radio.client)
    async with asyncio.timeout(GATT_TIMEOUT_S * 3):
        await client.connect()
    try:
        return await device_info(Gatt(client))
    finally:
        with contextlib.suppress(BleakError, TimeoutError, OSError, EOFError):
            async with asyncio.timeout(DISCONNECT_TIMEOUT_S):
                await client.disconnect()
