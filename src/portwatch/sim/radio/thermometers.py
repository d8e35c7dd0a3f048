"""Virtual thermometers on the virtual radio, scripted by a function from time to °C.

Each is a Bumble peripheral on its own virtual controller, joined to the radio's
LocalLink. Each measures on the injected Clock (so a VirtualClock plays days in seconds)
and serves Battery Level (0x180F/0x2A19) and Device Information (0x180A) besides its
thermometer service. Faults are methods: :meth:`VirtualThermometer.drop_link`,
:meth:`~VirtualThermometer.out_of_range`, :meth:`~VirtualThermometer.stop_advertising`,
:meth:`~VirtualThermometer.battery_falling`, :meth:`~VirtualThermometer.send_malformed`,
:meth:`~VirtualThermometer.send_nan`. A stranger nearby is simply a second thermometer.
The kinds are in :mod:`~portwatch.sim.radio.hts_thermometers` (spot, periodic) and
:mod:`~portwatch.sim.radio.wearable` (the CORE wearable); this module is what they share.

The advertisement carries the name (TRAP 4 in :mod:`portwatch.sim.radio.backend`: Bumble never
delivers a scan response), so the CORE wearable puts its own service only in the scan
response, as the real one does, and is found by greenteg's company identifier instead.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta, tzinfo
from decimal import Decimal
from typing import Any, Final

from bumble import hci
from bumble.controller import Controller
from bumble.core import UUID, AdvertisingData
from bumble.device import Connection, Device
from bumble.gatt import Characteristic, CharacteristicValue, Service
from bumble.host import Host
from bumble.link import LocalLink
from bumble.transport.common import AsyncPipeSink

from portwatch.clock import Clock
from portwatch.model import Unit

__all__ = [
    "MALFORMED_PACKET",
    "NO_PERMISSIONS",
    "TemperatureScript",
    "VirtualThermometer",
    "value_of",
]

_LOGGER = logging.getLogger(__name__)

TemperatureScript = Callable[[datetime], float]

# Bluetooth SIG assigned numbers (Assigned Numbers §3.4 services, §3.8 characteristics).
BATTERY_SERVICE: Final = UUID.from_16_bits(0x180F)
BATTERY_LEVEL: Final = UUID.from_16_bits(0x2A19)
DEVICE_INFORMATION_SERVICE: Final = UUID.from_16_bits(0x180A)
SYSTEM_ID: Final = UUID.from_16_bits(0x2A23)
MODEL_NUMBER: Final = UUID.from_16_bits(0x2A24)
SERIAL_NUMBER: Final = UUID.from_16_bits(0x2A25)
FIRMWARE_REVISION: Final = UUID.from_16_bits(0x2A26)
MANUFACTURER_NAME: Final = UUID.from_16_bits(0x2A29)

# Advertising every 20 ms (the legacy minimum, Core Vol 6 Part B 4.4.2.2): a scan finds a
# virtual thermometer at once. Bumble times advertising on the event loop, not the Clock.
ADVERTISING_INTERVAL_MS: Final = 20.0
# At stop, wait at most this long (real time) for HCI commands in flight: on the local
# virtual link they complete within a few loop turns; the bound only guards against a hang.
HCI_SETTLE_S: Final = 2.0

# HCI reasons a peripheral gives (Core Vol 1 Part F): a user ending the link, a lost link.
REMOTE_USER_TERMINATED: Final = hci.HCI_REMOTE_USER_TERMINATED_CONNECTION_ERROR
CONNECTION_TIMEOUT: Final = hci.HCI_CONNECTION_TIMEOUT_ERROR

# A pairing that has not finished in 30 s has failed (SMP timeout, Core Vol 3 Part H 3.4).
SMP_TIMEOUT_S: Final = 30.0

# Notify/indicate-only values: nothing may read or write them (HTS 1.0 §3.1, §3.3).
NO_PERMISSIONS: Final = Characteristic.Permissions(0)

# A malformed Temperature Measurement: flags say "time stamp follows", then only 2 bytes.
MALFORMED_PACKET: Final = bytes.fromhex("0201")


def value_of(celsius: float, unit: Unit) -> Decimal:
    number = celsius if unit is Unit.CELSIUS else celsius * 9 / 5 + 32
    return Decimal(f"{number:.2f}")


class VirtualThermometer:
    """What every virtual thermometer shares: a Bumble peripheral, battery, DIS, faults.

    Args:
        clock: drives measurements, battery and out-of-range durations.
        temperature_at: the script, °C at a given UTC time.
        name: sent in the advertisement (and the GAP service).
        address: a random static address; ``None`` picks one when added to a radio.
        pairing_required: the thermometer's reads need encryption and it sends nothing
            before the link is encrypted.
        zone: the time zone the device's own clock shows (its time stamps have no zone).
        clock_error_s: how far the device's clock is ahead of true time.
    """

    def __init__(
        self,
        clock: Clock,
        *,
        temperature_at: TemperatureScript,
        name: str = "Thermometer",
        address: str | None = None,
        battery_percent: int = 100,
        pairing_required: bool = False,
        zone: tzinfo = UTC,
        clock_error_s: float = 0.0,
        unit: Unit = Unit.CELSIUS,
        serial: str = "VT-0001",
    ) -> None:
        self.clock = clock
        self.temperature_at = temperature_at
        self.name = name
        self._address = address
        self.battery_percent = battery_percent
        self.pairing_required = pairing_required
        self.zone = zone
        self.clock_error_s = clock_error_s
        self.unit = unit
        self.serial = serial
        self.connections = 0  # how many times a central connected
        self.sent: list[bytes] = []  # every measurement packet delivered to a subscriber
        self._device: Device | None = None
        self._controller: Controller | None = None
        self._connection: Connection | None = None
        self._advertise_wanted = True
        self._battery_drop_per_hour = 0.0
        self._battery_exact = float(battery_percent)
        self._tasks: set[asyncio.Task[None]] = set()
        # Tasks that send HCI commands (re-advertising): finished, not cancelled, at stop.
        self._hci_tasks: set[asyncio.Task[None]] = set()
        self._battery_char: Characteristic[bytes] = Characteristic(
            BATTERY_LEVEL,
            Characteristic.Properties.READ | Characteristic.Properties.NOTIFY,
            Characteristic.READABLE,
            CharacteristicValue(read=lambda _c: bytes([self.battery_percent])),
        )

    # -- identity -------------------------------------------------------------------

    @property
    def address(self) -> str:
        if self._address is None:
            raise ValueError(f"{self.name}: no address before it is added to a radio")
        return self._address

    def assign_address(self, address: str) -> None:
        if self._address is None:
            self._address = address

    @property
    def connected(self) -> bool:
        return self._connection is not None

    @property
    def encrypted(self) -> bool:
        return self._connection is not None and bool(self._connection.is_encrypted)

    def device_time(self, now: datetime) -> datetime:
        """The device's own clock at true time ``now``: naive, in its zone, with its error."""
        shown = now.astimezone(self.zone) + timedelta(seconds=self.clock_error_s)
        return shown.replace(tzinfo=None, microsecond=0)  # device clocks tick in seconds

    # -- what subclasses provide ----------------------------------------------------

    def thermometer_services(self) -> list[Service]:
        raise NotImplementedError

    def advertising_structures(self) -> list[tuple[int, bytes]]:
        return [(AdvertisingData.INCOMPLETE_LIST_OF_16_BIT_SERVICE_CLASS_UUIDS, b"\x09\x18")]

    def scan_response_structures(self) -> list[tuple[int, bytes]]:
        return []

    async def run(self) -> None:
        """The measuring loop, on the Clock; runs until the thermometer stops."""
        raise NotImplementedError

    async def on_subscribed(self) -> None:
        """Called when a central enables indications/notifications of the measurement."""

    # -- life cycle -------------------------------------------------------------------

    async def start(self, link: LocalLink) -> None:
        if self._address is None:
            raise ValueError(f"{self.name}: give it an address (VirtualRadio.add does)")
        controller = Controller(self.name, link=link)
        device = Device(
            name=self.name,
            address=hci.Address(self.address),
            host=Host(controller, AsyncPipeSink(controller)),
        )
        device.add_services([*self.thermometer_services(), *self._common_services()])
        device.on(device.EVENT_CONNECTION, self._on_connection)
        self._device = device
        self._controller = controller
        await device.power_on()
        await self._advertise()
        self._spawn(self._measure_forever())

    async def stop(self) -> None:
        self._advertise_wanted = False
        # A re-advertising task (the central just disconnected, as at every shutdown) is a
        # chain of HCI commands. Cancelling it mid-command leaves Bumble's host a response
        # to a cancelled request, logged as "Exception in callback Host.on_packet ...
        # InvalidStateError"; so let it finish (a few local commands), then cancel the rest.
        settling = list(self._hci_tasks)
        if settling:
            await asyncio.wait(settling, timeout=HCI_SETTLE_S)  # never raises; cancels nothing
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        device = self._device
        if device is not None and self._connection is not None:
            with contextlib.suppress(Exception):
                await self._connection.disconnect(REMOTE_USER_TERMINATED)
        if device is not None and device.is_advertising:
            await device.stop_advertising()

    def _spawn(self, coro: Any, *, sends_hci: bool = False) -> None:
        task: asyncio.Task[None] = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        if sends_hci:
            self._hci_tasks.add(task)
            task.add_done_callback(self._hci_tasks.discard)

    async def _measure_forever(self) -> None:
        try:
            await self.run()
        except asyncio.CancelledError:
            raise
        except Exception:
            _LOGGER.exception("%s: virtual thermometer stopped", self.name)
            raise

    async def _tick_forever(
        self, interval_s: float, measure: Callable[[], Awaitable[object]]
    ) -> None:
        """Run down the battery and ``measure`` every ``interval_s`` of Clock time, on a
        fixed grid from now (a slow send does not make later ticks drift)."""
        start = self.clock.monotonic()
        ticks = 0
        while True:
            ticks += 1
            await self.clock.sleep(start + ticks * interval_s - self.clock.monotonic())
            await self._update_battery(interval_s)
            await measure()

    def _common_services(self) -> list[Service]:
        def text(uuid: UUID, value: str) -> Characteristic[bytes]:
            return Characteristic(
                uuid, Characteristic.Properties.READ, Characteristic.READABLE, value.encode()
            )

        return [
            Service(BATTERY_SERVICE, [self._battery_char]),
            Service(
                DEVICE_INFORMATION_SERVICE,
                [
                    text(MANUFACTURER_NAME, "portwatch virtual"),
                    text(MODEL_NUMBER, type(self).__name__),
                    text(SERIAL_NUMBER, self.serial),
                    text(FIRMWARE_REVISION, "1.0"),
                    Characteristic(
                        SYSTEM_ID,
                        Characteristic.Properties.READ,
                        Characteristic.READABLE,
                        bytes.fromhex("0102030405060708"),
                    ),
                ],
            ),
        ]

    async def _advertise(self) -> None:
        device = self._device
        if device is None or not self._advertise_wanted or self._connection is not None:
            return
        data = AdvertisingData(
            [
                (AdvertisingData.FLAGS, bytes([0x06])),
                (AdvertisingData.COMPLETE_LOCAL_NAME, self.name.encode()),
                *self.advertising_structures(),
            ]
        )
        response = AdvertisingData(self.scan_response_structures())
        await device.start_advertising(
            advertising_data=bytes(data),
            scan_response_data=bytes(response),
            advertising_interval_min=ADVERTISING_INTERVAL_MS,
            advertising_interval_max=ADVERTISING_INTERVAL_MS,
        )

    def announce(self) -> None:
        """Send one advertisement now if advertising (uses Bumble's controller internals)."""
        controller = self._controller
        if controller is None:
            return
        if controller.le_legacy_advertiser.enabled:
            controller.le_legacy_advertiser.send_advertising_data()
        for advertising_set in controller.advertising_sets.values():
            if advertising_set.enabled:
                advertising_set.send_extended_advertising_data()

    def _on_connection(self, connection: Connection) -> None:
        self.connections += 1
        self._connection = connection
        connection.on(connection.EVENT_DISCONNECTION, self._on_disconnection)

    def _on_disconnection(self, reason: int) -> None:
        self._connection = None
        self._spawn(self._advertise(), sends_hci=True)

    # -- faults -----------------------------------------------------------------------

    async def drop_link(self) -> None:
        """End the connection from the thermometer's side, as a reset would; it re-advertises."""
        connection = self._connection
        if connection is not None:
            await connection.disconnect(REMOTE_USER_TERMINATED)

    async def ask_to_pair(self) -> bool:
        """Ask the connected central to pair (an SMP Security Request); whether it paired.

        What a thermometer that wants a bond does uninvited: the central starts pairing
        itself, and on BlueZ consults its pairing agent (the BlueZ tier tests that).

        Raises:
            ValueError: nobody is connected to ask.
            TimeoutError: the central neither paired nor refused within SMP's timeout.
        """
        connection = self._connection
        if connection is None:
            raise ValueError(f"{self.name}: ask_to_pair with no central connected")
        outcome: asyncio.Future[bool] = asyncio.get_running_loop().create_future()

        def settle(paired: bool) -> None:
            if not outcome.done():
                outcome.set_result(paired)

        connection.on(connection.EVENT_PAIRING, lambda *_: settle(True))
        connection.on(connection.EVENT_PAIRING_FAILURE, lambda *_: settle(False))
        connection.request_pairing()
        async with asyncio.timeout(SMP_TIMEOUT_S):
            return await outcome

    async def stop_advertising(self) -> None:
        """Go silent: no advertisements (an existing connection stays)."""
        self._advertise_wanted = False
        if self._device is not None and self._device.is_advertising:
            await self._device.stop_advertising()

    async def resume_advertising(self) -> None:
        self._advertise_wanted = True
        await self._advertise()

    async def out_of_range(self, seconds: float) -> None:
        """Leave range for ``seconds`` of Clock time: the link is lost and nothing is heard.

        Returns at once; the thermometer comes back on its own when the time has passed.
        """
        await self.stop_advertising()
        connection = self._connection
        if connection is not None:
            await connection.disconnect(CONNECTION_TIMEOUT)

        async def come_back() -> None:
            await self.clock.sleep(seconds)
            await self.resume_advertising()

        self._spawn(come_back())

    def battery_falling(self, percent_per_hour: float) -> None:
        """Let the battery drain at this rate (notified to subscribers as it changes)."""
        self._battery_drop_per_hour = percent_per_hour

    async def _update_battery(self, elapsed_s: float) -> None:
        if not self._battery_drop_per_hour:
            return
        self._battery_exact = max(
            0.0, self._battery_exact - self._battery_drop_per_hour * elapsed_s / 3600
        )
        level = int(self._battery_exact)
        if level != self.battery_percent:
            self.battery_percent = level
            await self._send(self._battery_char, bytes([level]), indicate=False)

    async def send_malformed(self) -> None:
        """Send a measurement packet no decoder can accept."""
        raise NotImplementedError

    async def send_nan(self) -> None:
        """Send a measurement that carries NaN (the sensor is off the body)."""
        raise NotImplementedError

    async def _send(
        self, characteristic: Characteristic[Any], value: bytes, *, indicate: bool
    ) -> bool:
        """Deliver to the subscribed central; False when nobody could receive it."""
        receiver = self._receiver()
        if receiver is None:
            return False
        device, connection = receiver
        try:
            if indicate:
                await device.indicate_subscriber(connection, characteristic, value)
            else:
                await device.notify_subscriber(connection, characteristic, value)
        except (TimeoutError, hci.HCI_Error, ConnectionError) as exc:
            _LOGGER.debug("%s: could not deliver: %s", self.name, exc)
            return False
        return True

    def _receiver(self) -> tuple[Device, Connection] | None:
        """The device and the connection a value can go over (encrypted where required)."""
        device = self._device
        connection = self._connection
        if device is None or connection is None:
            return None
        if self.pairing_required and not connection.is_encrypted:
            return None
        return device, connection

    def _subscribed(self, characteristic: Characteristic[Any]) -> bool:
        receiver = self._receiver()
        if receiver is None:
            return False
        device, _ = receiver
        return any(
            cccds.get(characteristic.handle, b"\x00\x00") != b"\x00\x00"
            for cccds in device.gatt_server.subscribers.values()
        )
