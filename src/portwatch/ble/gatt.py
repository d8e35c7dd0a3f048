"""A connected thermometer as the drivers and the link see it: full-UUID reads with a timeout,
and the Bluetooth SIG characteristics the link reads on every thermometer.

Timeouts here bound a single radio operation and run on the event loop's own timer, which
is where the radio lives (BlueZ over D-Bus, or Bumble's virtual controller).
"""

from __future__ import annotations

import asyncio
from typing import Final

from bleak import BleakClient

__all__ = [
    "BATTERY_LEVEL_UUID",
    "DATE_TIME_UUID",
    "DEVICE_INFO_UUIDS",
    "DISCONNECT_TIMEOUT_S",
    "GATT_TIMEOUT_S",
    "Gatt",
    "device_info",
]

# One GATT read or subscribe (loop time); BlueZ's own default is 25 s, a thermometer
# answers in well under a second.
GATT_TIMEOUT_S: Final = 10.0
# Disconnecting cleanly; bluetoothd takes about 2 s (issue 11), give it room.
DISCONNECT_TIMEOUT_S: Final = 10.0

# Bluetooth SIG numbers the link reads on every thermometer (Assigned Numbers §3.8).
BATTERY_LEVEL_UUID: Final = "00002a19-0000-1000-8000-00805f9b34fb"
DATE_TIME_UUID: Final = "00002a08-0000-1000-8000-00805f9b34fb"
DEVICE_INFO_UUIDS: Final[tuple[tuple[str, str], ...]] = (
    ("manufacturer", "00002a29-0000-1000-8000-00805f9b34fb"),
    ("model", "00002a24-0000-1000-8000-00805f9b34fb"),
    ("serial", "00002a25-0000-1000-8000-00805f9b34fb"),
    ("firmware", "00002a26-0000-1000-8000-00805f9b34fb"),
    ("system_id", "00002a23-0000-1000-8000-00805f9b34fb"),
)
# Device Information strings are UTF-8 (GSS), some padded with NULs or spaces.
_PADDING: Final = "\0 \t\r\n"


class Gatt:
    """The drivers' view of a connected client: full-UUID reads with a timeout."""

    def __init__(self, client: BleakClient) -> None:
        self._client = client

    def has_characteristic(self, uuid: str) -> bool:
        return self._client.services.get_characteristic(uuid) is not None

    def can(self, uuid: str, prop: str) -> bool:
        char = self._client.services.get_characteristic(uuid)
        return char is not None and prop in char.properties

    async def read(self, uuid: str) -> bytes:
        async with asyncio.timeout(GATT_TIMEOUT_S):
            return bytes(await self._client.read_gatt_char(uuid))


async def device_info(gatt: Gatt) -> dict[str, str]:
    """The Device Information the thermometer offers (manufacturer, model, serial, ...),
    by label in :data:`DEVICE_INFO_UUIDS`'s order; the System ID as hex."""
    found: dict[str, str] = {}
    for label, uuid in DEVICE_INFO_UUIDS:
        if not gatt.has_characteristic(uuid):
            continue
        raw = await gatt.read(uuid)
        found[label] = raw.hex() if label == "system_id" else raw.decode("utf-8", "replace")
        found[label] = found[label].strip(_PADDING)
    return found
