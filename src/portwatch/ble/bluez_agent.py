"""A BlueZ pairing agent for the thermometer: the piece bleak does not bring (issue 11).

A thermometer that requires pairing pairs "Just Works": it has no display and no buttons.
With LE Secure Connections the kernel still asks user space to confirm a Just Works
pairing, and bluetoothd asks an agent (org.bluez.Agent1). bleak's BlueZ backend
registers none, so without one ``BleakClient.pair()`` fails with
``org.bluez.Error.AuthenticationFailed`` (measured in the BlueZ tier,
tests/bluez/vm). This module is that agent, for the daemon to hold while it runs.

It registers as bluetoothd's *default* agent: bluetoothd asks the agent of the D-Bus
connection that called ``Pair`` or else the default one, and bleak calls from its own
connection. It confirms only devices the caller allows (the pinned thermometer), so a
stranger nearby cannot pair with the gateway, and refuses anything that needs a PIN or
passkey typed, which portwatch has nobody to type.
"""

# No `from __future__ import annotations` here: dbus-fast reads the method annotations as
# D-Bus signatures, and a postponed "-> None" reads as a signature of None.
import asyncio
import contextlib
import logging
import re
from collections.abc import AsyncIterator, Callable
from typing import Final

from dbus_fast import BusType, DBusError, Message, MessageType
from dbus_fast.aio import MessageBus
from dbus_fast.annotations import DBusObjectPath, DBusStr, DBusUInt16, DBusUInt32
from dbus_fast.service import ServiceInterface, method

__all__ = ["AGENT_PATH", "AgentError", "address_from_device_path", "pairing_agent"]

_LOGGER = logging.getLogger(__name__)

AGENT_PATH: Final = "/org/portwatch/agent"
# BlueZ's org.bluez.AgentManager1 capability names (doc/agent-api.txt): a gateway with no
# screen or keyboard of its own, so BlueZ offers Just Works and nothing that needs a human.
CAPABILITY: Final = "NoInputNoOutput"
_REJECTED: Final = "org.bluez.Error.Rejected"
# One D-Bus request to bluetoothd; it answers registration at once when it is running.
DBUS_TIMEOUT_S: Final = 10.0

_DEVICE_PATH: Final = re.compile(r"^/org/bluez/[^/]+/dev_((?:[0-9A-F]{2}_){5}[0-9A-F]{2})$")


class AgentError(ValueError):
    """A device path that is not BlueZ's, or bluetoothd refusing the agent; says which."""


def address_from_device_path(path: str) -> str:
    """``/org/bluez/hci0/dev_C4_5A_00_00_00_01`` -> ``C4:5A:00:00:00:01``.

    Raises:
        AgentError: the path is not a BlueZ device object path.
    """
    match = _DEVICE_PATH.match(path)
    if match is None:
        raise AgentError(f"not a BlueZ device object path: {path!r}")
    return match.group(1).replace("_", ":")


class _Agent(ServiceInterface):
    """org.bluez.Agent1 for a gateway with no screen or keyboard (doc/agent-api.txt).

    Method names are the D-Bus ones, hence CamelCase.
    """

    def __init__(self, allowed: Callable[[str], bool]) -> None:
        super().__init__("org.bluez.Agent1")
        self._allowed = allowed

    def _accept(self, device: str, what: str) -> None:
        address = address_from_device_path(device)
        if not self._allowed(address):
            _LOGGER.info("refused %s for %s: not the pinned thermometer", what, address)
            raise DBusError(_REJECTED, f"{address} is not the pinned thermometer")
        _LOGGER.debug("accepted %s for %s", what, address)

    @method()
    def Release(self) -> None:
        _LOGGER.debug("bluetoothd released the pairing agent")

    @method()
    def RequestConfirmation(self, device: DBusObjectPath, passkey: DBusUInt32) -> None:
        del passkey  # Just Works: there is no number for anyone to compare
        self._accept(device, "pairing")

    @method()
    def RequestAuthorization(self, device: DBusObjectPath) -> None:
        self._accept(device, "pairing")

    @method()
    def AuthorizeService(self, device: DBusObjectPath, uuid: DBusStr) -> None:
        self._accept(device, f"service {uuid}")

    @method()
    def RequestPinCode(self, device: DBusObjectPath) -> DBusStr:
        raise DBusError(_REJECTED, f"no keyboard to type a PIN for {device}")

    @method()
    def RequestPasskey(self, device: DBusObjectPath) -> DBusUInt32:
        raise DBusError(_REJECTED, f"no keyboard to type a passkey for {device}")

    @method()
    def DisplayPasskey(
        self, device: DBusObjectPath, passkey: DBusUInt32, entered: DBusUInt16
    ) -> None:
        del passkey, entered
        _LOGGER.debug("asked to display a passkey for %s; there is no display", device)

    @method()
    def DisplayPinCode(self, device: DBusObjectPath, pincode: DBusStr) -> None:
        del pincode
        _LOGGER.debug("asked to display a PIN for %s; there is no display", device)

    @method()
    def Cancel(self) -> None:
        _LOGGER.debug("bluetoothd cancelled a pairing request")


async def _agent_manager(bus: MessageBus, member: str, signature: str, body: list[str]) -> None:
    async with asyncio.timeout(DBUS_TIMEOUT_S):
        reply = await bus.call(
            Message(
                destination="org.bluez",
                path="/org/bluez",
                interface="org.bluez.AgentManager1",
                member=member,
                signature=signature,
                body=body,
            )
        )
    if reply is None or reply.message_type != MessageType.METHOD_RETURN:
        detail = reply.body if reply is not None else "no reply"
        error = reply.error_name if reply is not None else None
        raise AgentError(f"bluetoothd refused {member}: {error} {detail}")


@contextlib.asynccontextmanager
async def pairing_agent(allowed: Callable[[str], bool]) -> AsyncIterator[None]:
    """Be bluetoothd's default pairing agent while the block runs.

    Args:
        allowed: told a device's address ("C4:5A:00:00:00:01"), says whether to let it
            pair; give it the pinned thermometer's.

    Raises:
        AgentError: bluetoothd is not on the system bus or refused the agent.
    """
    async with asyncio.timeout(DBUS_TIMEOUT_S):
        bus = await MessageBus(bus_type=BusType.SYSTEM).connect()
    try:
        bus.export(AGENT_PATH, _Agent(allowed))
        await _agent_manager(bus, "RegisterAgent", "os", [AGENT_PATH, CAPABILITY])
        await _agent_manager(bus, "RequestDefaultAgent", "o", [AGENT_PATH])
        _LOGGER.debug("pairing agent registered at %s (%s)", AGENT_PATH, CAPABILITY)
        yield
    finally:
        # Leaving the bus unregisters the agent in bluetoothd too; asking first keeps
        # its log quiet. A failure here must not hide the block's own exception.
        try:
            await _agent_manager(bus, "UnregisterAgent", "o", [AGENT_PATH])
        except (AgentError, TimeoutError):
            _LOGGER.debug("could not unregister the pairing agent", exc_info=True)
        finally:
            bus.disconnect()
