"""Adapter health on the system radio: power-cycle the Bluetooth adapter through BlueZ.

BlueZ exposes each adapter as ``/org/bluez/<name>`` with the ``org.bluez.Adapter1``
property ``Powered``; setting it false then true resets the controller without root
tools (BlueZ D-Bus API, doc/org.bluez.Adapter.rst). The D-Bus client is dbus-fast, which
bleak already uses for BlueZ on Linux, so no new dependency is needed. The link decides
*when* (``portwatch.ble.timing.AdapterWatch``); this module only does it.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Final

from portwatch.clock import Clock

__all__ = ["AdapterError", "BlueZAdapter", "powered_message"]

_LOGGER = logging.getLogger(__name__)

BLUEZ_SERVICE: Final = "org.bluez"
ADAPTER_INTERFACE: Final = "org.bluez.Adapter1"
PROPERTIES_INTERFACE: Final = "org.freedesktop.DBus.Properties"
# bluetoothd needs a moment to power a controller down before it is powered up again.
POWER_OFF_PAUSE_S: Final = 2.0
# One D-Bus call; bluetoothd answers in milliseconds when it is alive at all.
DBUS_TIMEOUT_S: Final = 10.0


class AdapterError(OSError):
    """BlueZ refused or did not answer a power change; the message names the adapter."""


def powered_message(adapter: str, powered: bool) -> tuple[str, str, str, str, str, list[object]]:
    """The D-Bus call that sets ``Powered``: destination, path, interface, member,
    signature and body (the body's last item is the value, wrapped by the caller).
    """
    return (
        BLUEZ_SERVICE,
        f"/org/bluez/{adapter}",
        PROPERTIES_INTERFACE,
        "Set",
        "ssv",
        [ADAPTER_INTERFACE, "Powered", powered],
    )


class BlueZAdapter:
    """Power-cycles one BlueZ adapter (``hci0`` on a Pi) over the system bus."""

    def __init__(self, clock: Clock, name: str = "hci0") -> None:
        self._clock = clock
        self.name = name

    async def power_cycle(self) -> None:
        """Power the adapter off, wait, and on again.

        Raises:
            AdapterError: the bus is unreachable or BlueZ refused.
        """
        from dbus_fast import BusType, Message, MessageType, Variant
        from dbus_fast.aio import MessageBus

        try:
            async with asyncio.timeout(DBUS_TIMEOUT_S):
                bus = await MessageBus(bus_type=BusType.SYSTEM).connect()
        except (OSError, TimeoutError) as exc:
            raise AdapterError(f"{self.name}: cannot reach the system D-Bus: {exc}") from exc
        try:
            for powered in (False, True):
                destination, path, interface, member, signature, body = powered_message(
                    self.name, powered
                )
                message = Message(
                    destination=destination,
                    path=path,
                    interface=interface,
                    member=member,
                    signature=signature,
                    body=[body[0], body[1], Variant("b", body[2])],
                )
                async with asyncio.timeout(DBUS_TIMEOUT_S):
                    reply = await bus.call(message)
                if reply is None or reply.message_type == MessageType.ERROR:
                    detail = reply.error_name if reply is not None else "no reply"
                    raise AdapterError(f"{self.name}: BlueZ refused Powered={powered}: {detail}")
                _LOGGER.debug("%s: Powered=%s", self.name, powered)
                if not powered:
                    await self._clock.sleep(POWER_OFF_PAUSE_S)
        except TimeoutError as exc:
            raise AdapterError(f"{self.name}: BlueZ did not answer in {DBUS_TIMEOUT_S} s") from exc
        finally:
            bus.disconnect()
