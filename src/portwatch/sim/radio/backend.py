"""A bleak backend whose radio is a Bumble host on a virtual controller.

bleak's documented ``backend=`` argument takes a client class and a scanner class; this
module provides both, bound to one :class:`~portwatch.sim.radio.VirtualRadio` by subclassing
(bleak instantiates the classes itself, so the radio travels as a class attribute). bleak
is never patched: ``BleakClient(..., backend=radio.backend.client)`` is all it takes.

The backend also absorbs the known traps of Bumble 0.0.236 under bleak, each named where it
is handled (``TRAP:``) and each proven by a test in ``tests/radio``:

1. a connect that is cancelled or times out leaves the controller's pending connection
   in place (``Controller.pending_le_connection``), so the next connect is refused;
2. a link drop during a GATT request surfaces as a bare ``CancelledError``;
3. an exception in a notification callback leaves the indication unconfirmed and
   stalls the peripheral;
4. the scan response is never delivered (virtual peripherals put their name in the
   advertisement);
5. scan filters are compared as strings, so a short UUID never matches.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import uuid
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, ClassVar, Final, Literal, TypeVar

from bleak.backends.characteristic import BleakGATTCharacteristic
from bleak.backends.client import BaseBleakClient, NotifyCallback
from bleak.backends.descriptor import BleakGATTDescriptor
from bleak.backends.device import BLEDevice
from bleak.backends.scanner import AdvertisementData, AdvertisementDataCallback, BaseBleakScanner
from bleak.backends.service import BleakGATTService, BleakGATTServiceCollection
from bleak.exc import BleakError
from bleak.uuids import normalize_uuid_str
from bumble import core, hci
from bumble.att import ATT_Error
from bumble.device import Advertisement, Connection, Device, Peer
from bumble.gatt_client import CharacteristicProxy

if TYPE_CHECKING:
    from bumble.controller import Controller

__all__ = ["BumbleClient", "BumbleScanner", "RadioBackend", "uuid_to_str"]

_LOGGER = logging.getLogger(__name__)
_T = TypeVar("_T")

# GATT's default MTU (Core Vol 3 Part F 3.2.8); the virtual link never negotiates more.
DEFAULT_MTU: Final = 23

# Loop turns for a connect request to reach the virtual controller (a few call_soon hops).
CONNECT_REQUEST_TURNS: Final = 50

# bleak reports "no RSSI" as -127 dBm on every platform (BLE minimum).
NO_RSSI_DBM: Final = -127

_PROPERTY_NAMES: Final[tuple[tuple[int, str], ...]] = (
    (0x01, "broadcast"),
    (0x02, "read"),
    (0x04, "write-without-response"),
    (0x08, "write"),
    (0x10, "notify"),
    (0x20, "indicate"),
    (0x40, "authenticated-signed-writes"),
    (0x80, "extended-properties"),
)


def uuid_to_str(value: core.UUID) -> str:
    """A Bumble UUID as bleak's canonical full 128-bit lower-case string."""
    return str(uuid.UUID(bytes=bytes(reversed(value.to_bytes(force_128=True)))))


class RadioBackend:
    """The pair of classes bleak's ``backend=`` arguments take, bound to one radio."""

    __slots__ = ("client", "scanner")

    def __init__(self, client: type[BumbleClient], scanner: type[BumbleScanner]) -> None:
        self.client = client
        self.scanner = scanner


class _RadioLike:
    """What the backend needs from the radio: the central's Bumble device."""

    central: Device
    central_controller: Controller

    def announce(self) -> None:
        """Have every advertising peripheral advertise now (a scan has just started)."""


class BumbleScanner(BaseBleakScanner):
    """bleak scanner backend over the virtual radio's central Bumble device."""

    radio: ClassVar[_RadioLike]

    def __init__(
        self,
        detection_callback: AdvertisementDataCallback | None,
        service_uuids: list[str] | None,
        scanning_mode: Literal["active", "passive"] = "active",
        **kwargs: Any,
    ) -> None:
        # TRAP 5: bleak compares filter strings verbatim with what a backend reports (full
        # 128-bit), so "1809" would never match; normalise here as the system radio would.
        full = [normalize_uuid_str(u) for u in service_uuids] if service_uuids else None
        super().__init__(detection_callback, full)
        self._active = scanning_mode == "active"
        self._listening = False

    async def start(self) -> None:
        device = self.radio.central
        self.seen_devices = {}
        device.on(device.EVENT_ADVERTISEMENT, self._on_advertisement)
        self._listening = True
        try:
            await device.start_scanning(active=self._active, filter_duplicates=False)
        except BaseException:
            self._stop_listening()
            raise
        self.radio.announce()

    async def stop(self) -> None:
        self._stop_listening()
        device = self.radio.central
        if device.scanning:
            await device.stop_scanning()

    def _stop_listening(self) -> None:
        if self._listening:
            self.radio.central.remove_listener(
                self.radio.central.EVENT_ADVERTISEMENT, self._on_advertisement
            )
            self._listening = False

    def _on_advertisement(self, advertisement: Advertisement) -> None:
        data = advertisement.data
        service_uuids: list[str] = []
        for ad_type in (
            data.Type.COMPLETE_LIST_OF_16_BIT_SERVICE_CLASS_UUIDS,
            data.Type.INCOMPLETE_LIST_OF_16_BIT_SERVICE_CLASS_UUIDS,
            data.Type.COMPLETE_LIST_OF_32_BIT_SERVICE_CLASS_UUIDS,
            data.Type.INCOMPLETE_LIST_OF_32_BIT_SERVICE_CLASS_UUIDS,
            data.Type.COMPLETE_LIST_OF_128_BIT_SERVICE_CLASS_UUIDS,
            data.Type.INCOMPLETE_LIST_OF_128_BIT_SERVICE_CLASS_UUIDS,
        ):
            for uuids in data.get_all(ad_type):
                service_uuids.extend(uuid_to_str(u) for u in uuids)
        if not self.is_allowed_uuid(service_uuids):
            return
        manufacturer: dict[int, bytes] = {}
        for company, payload in data.get_all(data.Type.MANUFACTURER_SPECIFIC_DATA):
            manufacturer[int(company)] = bytes(payload)
        service_data = {
            uuid_to_str(u): bytes(payload)
            for u, payload in data.get_all(data.Type.SERVICE_DATA_16_BIT_UUID)
        }
        names = data.get_all(data.Type.COMPLETE_LOCAL_NAME) or data.get_all(
            data.Type.SHORTENED_LOCAL_NAME
        )
        name = str(names[0]) if names else None
        rssi = advertisement.rssi
        if rssi == advertisement.RSSI_NOT_AVAILABLE:
            rssi = NO_RSSI_DBM
        address = advertisement.address.to_string(False)
        adv = AdvertisementData(
            local_name=name,
            manufacturer_data=manufacturer,
            service_data=service_data,
            service_uuids=service_uuids,
            tx_power=None,
            rssi=rssi,
            platform_data=(advertisement,),
        )
        # details is the Bumble address (not a dict with a BlueZ "path"), which is what
        # tells bleak-retry-connector not to ask BlueZ about this device.
        ble_device = self.create_or_update_device(
            address, address, name, advertisement.address, adv
        )
        self.call_detection_callbacks(ble_device, adv)


class BumbleClient(BaseBleakClient):
    """bleak client backend over the virtual radio's central Bumble device."""

    radio: ClassVar[_RadioLike]

    def __init__(
        self,
        address_or_ble_device: BLEDevice | str,
        *,
        disconnected_callback: Callable[[], None] | None,
        timeout: float,
        **kwargs: Any,
    ) -> None:
        super().__init__(
            address_or_ble_device, disconnected_callback=disconnected_callback, timeout=timeout
        )
        self._connection: Connection | None = None
        self._peer: Peer | None = None
        self._proxies: dict[int, CharacteristicProxy[bytes]] = {}
        self._subscribers: dict[int, Callable[[bytes], None]] = {}
        self._closing = False
        self._lost: asyncio.Future[int] | None = None

    @property
    def name(self) -> str:
        return self.address

    @property
    def mtu_size(self) -> int:
        return DEFAULT_MTU

    @property
    def is_connected(self) -> bool:
        return self._connection is not None

    async def connect(self, pair: bool, **kwargs: Any) -> None:
        device = self.radio.central
        address = hci.Address(self.address, hci.Address.RANDOM_DEVICE_ADDRESS)
        timeout = float(kwargs.get("timeout", self._timeout))
        _forget_ghost_link(self.radio)
        try:
            async with asyncio.timeout(timeout):
                connection = await self._connect(device, address)
        except BaseException:
            # TRAP 1: a connect cut short (timeout or cancellation) leaves the virtual
            # controller's pending connection behind; the next connect would be refused.
            _forget_ghost_link(self.radio)
            raise
        self._lost = asyncio.get_running_loop().create_future()
        connection.on(connection.EVENT_DISCONNECTION, self._on_disconnection)
        self._connection = connection
        self._closing = False
        if device.lookup_connection(connection.handle) is not connection:
            # TRAP 2c: the link dropped between "connected" and our listening for it.
            self._on_disconnection(hci.HCI_CONNECTION_TIMEOUT_ERROR)
            raise BleakError(f"{self.address}: link lost while connecting")
        try:
            self._peer = Peer(connection)
            if pair:
                await self._gatt(connection.pair())
            await self._discover()
        except BaseException:
            await self._drop()
            raise

    async def _connect(self, device: Device, address: hci.Address) -> Connection:
        """Connect, and have the peripherals advertise once the request is pending.

        A real central hears the peripheral's next advertisement within an interval; on
        the virtual radio advertising runs on the loop's timer, so the radio announces
        as soon as the controller holds the request (no loop time needs to pass).
        """
        controller = self.radio.central_controller
        attempt = asyncio.ensure_future(
            device.connect(
                address,
                transport=core.PhysicalTransport.LE,
                own_address_type=hci.OwnAddressType.RANDOM,
                timeout=None,
            )
        )
        try:
            for _ in range(CONNECT_REQUEST_TURNS):
                if attempt.done() or controller.pending_le_connection is not None:
                    break
                await asyncio.sleep(0)
            self.radio.announce()
            return await attempt
        finally:
            if not attempt.done():
                attempt.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await attempt

    async def _discover(self) -> None:
        peer = self._peer
        if peer is None:
            raise BleakError(f"{self.address}: not connected")
        collection = BleakGATTServiceCollection()
        services = await self._gatt(peer.discover_services())
        for service in services:
            bservice = BleakGATTService(service, service.handle, uuid_to_str(service.uuid))
            collection.add_service(bservice)
            characteristics = await self._gatt(service.discover_characteristics())
            for char in characteristics:
                props = [name for bit, name in _PROPERTY_NAMES if int(char.properties) & bit]
                bchar = BleakGATTCharacteristic(
                    char,
                    char.handle,
                    uuid_to_str(char.uuid),
                    props,  # type: ignore[arg-type]
                    lambda: DEFAULT_MTU - 3,
                    bservice,
                )
                collection.add_characteristic(bchar)
                self._proxies[char.handle] = char
                descriptors = await self._gatt(peer.discover_descriptors(char))
                for desc in descriptors:
                    bdesc = BleakGATTDescriptor(desc, desc.handle, uuid_to_str(desc.type), bchar)
                    collection.add_descriptor(bdesc)
        self.services = collection

    async def disconnect(self) -> None:
        connection = self._connection
        if connection is None or self._lost is None or self._lost.done():
            return
        self._closing = True
        try:
            async with asyncio.timeout(self._timeout):
                await connection.disconnect()
        except (core.BaseBumbleError, hci.HCI_Error, TimeoutError) as exc:
            _LOGGER.debug("%s: disconnect: %s", self.address, exc)
        finally:
            self._connection = None
            self._peer = None

    async def _drop(self) -> None:
        try:
            await self.disconnect()
        except asyncio.CancelledError:
            raise
        except BleakError:
            pass

    async def pair(self, *args: Any, **kwargs: Any) -> None:
        connection = self._require()
        await self._gatt(connection.pair())

    async def unpair(self) -> None:
        keystore = self.radio.central.keystore
        if keystore is not None:
            await keystore.delete(self.address)

    async def read_gatt_char(
        self, characteristic: BleakGATTCharacteristic, *, use_cached: bool = False, **kwargs: Any
    ) -> bytearray:
        peer = self._require_peer()
        return bytearray(await self._gatt(peer.read_value(characteristic.handle)))

    async def read_gatt_descriptor(
        self, descriptor: BleakGATTDescriptor, *, use_cached: bool = False, **kwargs: Any
    ) -> bytearray:
        peer = self._require_peer()
        return bytearray(await self._gatt(peer.read_value(descriptor.handle)))

    async def write_gatt_char(
        self, characteristic: BleakGATTCharacteristic, data: Any, response: bool
    ) -> None:
        peer = self._require_peer()
        await self._gatt(
            peer.write_value(characteristic.handle, bytes(data), with_response=response)
        )

    async def write_gatt_descriptor(self, descriptor: BleakGATTDescriptor, data: Any) -> None:
        peer = self._require_peer()
        await self._gatt(peer.write_value(descriptor.handle, bytes(data), with_response=True))

    async def start_notify(
        self, characteristic: BleakGATTCharacteristic, callback: NotifyCallback, **kwargs: Any
    ) -> None:
        peer = self._require_peer()
        proxy = self._proxies[characteristic.handle]
        address = self.address

        def deliver(value: bytes) -> None:
            # TRAP 3: Bumble confirms an indication only after its subscribers return; an
            # exception here would leave it unconfirmed and stall the peripheral for good.
            try:
                callback(bytearray(value))
            except Exception:
                _LOGGER.exception("%s: notification callback failed", address)

        self._subscribers[characteristic.handle] = deliver
        # Bleak's contract prefers notifications where both are offered.
        await self._gatt(peer.subscribe(proxy, deliver, prefer_notify=True))

    async def stop_notify(self, characteristic: BleakGATTCharacteristic) -> None:
        peer = self._require_peer()
        proxy = self._proxies[characteristic.handle]
        deliver = self._subscribers.pop(characteristic.handle, None)
        await self._gatt(peer.unsubscribe(proxy, deliver))

    def _require(self) -> Connection:
        if self._connection is None:
            raise BleakError(f"{self.address}: not connected")
        return self._connection

    def _require_peer(self) -> Peer:
        self._require()
        if self._peer is None:
            raise BleakError(f"{self.address}: not connected")
        return self._peer

    async def _gatt(self, request: Awaitable[_T]) -> _T:
        """Run one GATT request, turning Bumble's failures into the errors bleak callers expect."""
        try:
            async with asyncio.timeout(self._timeout):
                return await self._unless_lost(request)
        except asyncio.CancelledError:
            # TRAP 2: a link drop mid-request cancels the request's future. Only a
            # cancellation of *our* task is a real cancellation; re-raise that one.
            task = asyncio.current_task()
            if task is not None and task.cancelling():
                raise
            raise BleakError(f"{self.address}: link lost during a GATT request") from None
        except ATT_Error as exc:
            raise BleakError(f"{self.address}: ATT error {exc.error_name}") from exc
        except (core.BaseBumbleError, hci.HCI_Error) as exc:
            raise BleakError(f"{self.address}: {exc}") from exc
        except TimeoutError as exc:
            raise BleakError(f"{self.address}: GATT request timed out") from exc

    async def _unless_lost(self, request: Awaitable[_T]) -> _T:
        """Await ``request``, but fail at once if the link drops meanwhile.

        TRAP 2b: some requests in flight when the link drops are never resolved by
        Bumble at all; without this they would hang until the (loop-time) timeout.
        """
        lost = self._lost
        if lost is None or lost.done():
            if inspect.iscoroutine(request):
                request.close()
            raise BleakError(f"{self.address}: not connected")
        task: asyncio.Future[_T] = asyncio.ensure_future(request)
        pending: set[asyncio.Future[Any]] = {task, lost}
        try:
            await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
        finally:
            if not task.done():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
        if task.done() and not task.cancelled():
            return task.result()
        raise BleakError(f"{self.address}: link lost during a GATT request")

    def _on_disconnection(self, reason: int) -> None:
        if self._lost is not None and not self._lost.done():
            self._lost.set_result(reason)
        self._connection = None
        self._peer = None
        if not self._closing and self._disconnected_callback is not None:
            self._disconnected_callback()


def _forget_ghost_link(radio: _RadioLike) -> None:
    controller = radio.central_controller
    if controller.pending_le_connection is not None:
        _LOGGER.debug("clearing a ghost pending connection on the virtual controller")
        controller.pending_le_connection = None
    radio.central.le_connecting = False
