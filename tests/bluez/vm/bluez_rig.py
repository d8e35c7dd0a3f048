"""The rig of the BlueZ tier (issue 11): a Bumble radio under real bluetoothd.

The picture inside the test VM:

    bleak --D-Bus--> bluetoothd --mgmt--> kernel --/dev/vhci--> Bumble controller "bluez-side"
                                                                     | LocalLink
                                           Bumble controller + host: portwatch.sim.radio thermometer

Both Bumble controllers are the true system edge here: they stand in for the radio chip
and for the thermometer across the room. Everything above /dev/vhci is the real stack a
Raspberry Pi runs. The thermometers are the project's own portwatch.sim.radio ones (the
demo's and the virtual-radio tests'), put on this air by :func:`on_air`, so one
thermometer implementation serves both tiers; the only peripheral of the rig's own is a
neighbour that is no thermometer (:func:`neighbour`).
"""

from __future__ import annotations

import asyncio
import contextlib
import struct
from collections.abc import AsyncIterator
from typing import Final, TypeVar

from bumble import hci
from bumble.controller import Controller
from bumble.core import AdvertisingData
from bumble.device import Device
from bumble.gatt import Service
from bumble.host import Host
from bumble.link import LocalLink
from bumble.transport import open_transport
from bumble.transport.common import AsyncPipeSink
from dbus_fast import BusType, Message, MessageType, Variant
from dbus_fast.aio import MessageBus

from portwatch.sim.radio import VirtualThermometer as ProjectThermometer

# Health Thermometer Service and its Temperature Measurement characteristic (HTS 1.0;
# Bluetooth SIG assigned numbers), as the clinic's thermometer exposes them.
HTS_UUID: Final = "00001809-0000-1000-8000-00805f9b34fb"
MEASUREMENT_UUID: Final = "00002a1c-0000-1000-8000-00805f9b34fb"
# Temperature Type (HTS 1.0 §3.2), which a pairing-required thermometer guards.
TEMPERATURE_TYPE_UUID: Final = "00002a1d-0000-1000-8000-00805f9b34fb"
# A stranger nearby advertises another service: Heart Rate (assigned numbers).
HEART_RATE_UUID16: Final = 0x180D
HEART_RATE_UUID: Final = "0000180d-0000-1000-8000-00805f9b34fb"
# Random static addresses (top two bits set), fixed so that tests can tell devices apart.
THERMOMETER_ADDRESS: Final = "C4:5A:00:00:00:01"
PAIRING_THERMOMETER_ADDRESS: Final = "C4:5A:00:00:00:02"
STRANGER_ADDRESS: Final = "C4:5A:00:00:00:99"

# Under TCG everything runs 10-15x slower than on a Pi (issue 11), so a wait that takes a
# second on hardware takes tens here; each is still far below pytest's 120 s per test.
ADAPTER_READY_S: Final = 30.0
ADAPTER_POLL_S: Final = 0.2


class _BlueZSideController(Controller):  # type: ignore[misc]
    """The controller BlueZ sees, announcing only what Bumble's link layer honours.

    Bumble answers a connection with the legacy LE Connection Complete event, so Linux
    must not be told of LL Privacy or Extended Advertising: it would wait for the
    enhanced event and time out (issue 11). It keeps no public address, as LocalLink
    routes by random address and with a public one GATT traffic is silently dropped;
    BlueZ then picks a random static address of its own.
    """

    le_features = Controller.le_features & ~(
        hci.LeFeatureMask.LL_PRIVACY
        | hci.LeFeatureMask.LE_EXTENDED_ADVERTISING
        | hci.LeFeatureMask.LE_PERIODIC_ADVERTISING
    )


async def _adapters(bus: MessageBus) -> dict[str, bool]:
    """BlueZ's adapters by object path, each with whether it is powered."""
    reply = await bus.call(
        Message(
            destination="org.bluez",
            path="/",
            interface="org.freedesktop.DBus.ObjectManager",
            member="GetManagedObjects",
        )
    )
    if reply is None or reply.message_type != MessageType.METHOD_RETURN:
        return {}  # bluetoothd has not claimed its bus name yet
    return {
        path: bool(interfaces["org.bluez.Adapter1"]["Powered"].value)
        for path, interfaces in reply.body[0].items()
        if "org.bluez.Adapter1" in interfaces
    }


async def _power_on(bus: MessageBus, path: str) -> None:
    await bus.call(
        Message(
            destination="org.bluez",
            path=path,
            interface="org.freedesktop.DBus.Properties",
            member="Set",
            signature="ssv",
            body=["org.bluez.Adapter1", "Powered", Variant("b", True)],
        )
    )


async def _devices(bus: MessageBus) -> dict[str, str]:
    """BlueZ's known devices (object path -> adapter path), bonded ones included."""
    reply = await bus.call(
        Message(
            destination="org.bluez",
            path="/",
            interface="org.freedesktop.DBus.ObjectManager",
            member="GetManagedObjects",
        )
    )
    if reply is None or reply.message_type != MessageType.METHOD_RETURN:
        return {}
    return {
        path: str(interfaces["org.bluez.Device1"]["Adapter"].value)
        for path, interfaces in reply.body[0].items()
        if "org.bluez.Device1" in interfaces
    }


async def device_paired(address: str) -> bool:
    """Whether BlueZ holds a pairing with ``address`` (its Device1 ``Paired`` property)."""
    bus = await MessageBus(bus_type=BusType.SYSTEM).connect()
    try:
        async with asyncio.timeout(ADAPTER_READY_S):
            reply = await bus.call(
                Message(
                    destination="org.bluez",
                    path="/",
                    interface="org.freedesktop.DBus.ObjectManager",
                    member="GetManagedObjects",
                )
            )
    finally:
        bus.disconnect()
    if reply is None or reply.message_type != MessageType.METHOD_RETURN:
        return False
    return any(
        bool(interfaces["org.bluez.Device1"]["Paired"].value)
        for interfaces in reply.body[0].values()
        if "org.bluez.Device1" in interfaces
        and str(interfaces["org.bluez.Device1"]["Address"].value).upper() == address.upper()
    )


async def forget_devices() -> None:
    """Make BlueZ forget every device, keys included, so no test inherits a bond.

    bluetoothd gives the Bumble controller the same random static address in every
    test, so a bond made in one test would otherwise be offered to the next test's
    fresh thermometer, which knows no key.
    """
    bus = await MessageBus(bus_type=BusType.SYSTEM).connect()
    try:
        async with asyncio.timeout(ADAPTER_READY_S):
            for device, adapter in (await _devices(bus)).items():
                await bus.call(
                    Message(
                        destination="org.bluez",
                        path=adapter,
                        interface="org.bluez.Adapter1",
                        member="RemoveDevice",
                        signature="o",
                        body=[device],
                    )
                )
    finally:
        bus.disconnect()


async def wait_for_powered_adapter() -> str:
    """Wait until bluetoothd has taken the new controller and powered it; its D-Bus path.

    Polls the system bus: the wait is on another process (bluetoothd), not on our time.
    """
    bus = await MessageBus(bus_type=BusType.SYSTEM).connect()
    try:
        async with asyncio.timeout(ADAPTER_READY_S):
            asked: set[str] = set()
            while True:
                for path, powered in (await _adapters(bus)).items():
                    if powered:
                        return path
                    if path not in asked:
                        asked.add(path)
                        await _power_on(bus, path)
                await asyncio.sleep(ADAPTER_POLL_S)
    finally:
        bus.disconnect()


@contextlib.asynccontextmanager
async def bluez_radio() -> AsyncIterator[LocalLink]:
    """Open /dev/vhci as the controller BlueZ sees; yield the link it listens on."""
    link = LocalLink()
    transport = await open_transport("vhci")
    try:
        _BlueZSideController(
            "bluez-side", host_source=transport.source, host_sink=transport.sink, link=link
        )
        await wait_for_powered_adapter()
        yield link
    finally:
        try:
            await forget_devices()
        finally:
            await transport.close()


def _advertising_data(name: str, service_uuid16: int) -> bytes:
    flags = AdvertisingData.LE_GENERAL_DISCOVERABLE_MODE_FLAG | (
        AdvertisingData.BR_EDR_NOT_SUPPORTED_FLAG
    )
    return bytes(
        AdvertisingData(
            [
                (AdvertisingData.FLAGS, bytes([flags])),
                (
                    AdvertisingData.COMPLETE_LIST_OF_16_BIT_SERVICE_CLASS_UUIDS,
                    struct.pack("<H", service_uuid16),
                ),
                (AdvertisingData.COMPLETE_LOCAL_NAME, name.encode()),
            ]
        )
    )


@contextlib.asynccontextmanager
async def neighbour(
    link: LocalLink, address: str, name: str, service_uuid16: int = HEART_RATE_UUID16
) -> AsyncIterator[Device]:
    """A device nearby that is no thermometer (a heart-rate strap unless told), advertising.

    portwatch.sim.radio has only thermometers; this is the one peripheral of the rig's own.
    """
    controller = Controller(f"neighbour {address}", link=link)
    device = Device(
        name=name, address=hci.Address(address), host=Host(controller, AsyncPipeSink(controller))
    )
    device.add_service(Service(f"{service_uuid16:08x}-0000-1000-8000-00805f9b34fb", []))
    device.advertising_data = _advertising_data(name, service_uuid16)
    await device.power_on()
    await device.start_advertising(auto_restart=True)
    try:
        yield device
    finally:
        await device.power_off()


_Thermometer = TypeVar("_Thermometer", bound=ProjectThermometer)


@contextlib.asynccontextmanager
async def on_air(link: LocalLink, thermometer: _Thermometer) -> AsyncIterator[_Thermometer]:
    """Put one of portwatch.sim.radio's virtual thermometers on the air BlueZ listens to.

    The same class the virtual-radio tests and the demo use; give it an ``address``
    (a random static one, as the rig's constants are), since no VirtualRadio assigns one.
    """
    await thermometer.start(link)
    try:
        yield thermometer
    finally:
        await thermometer.stop()
