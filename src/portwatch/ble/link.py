"""The Bluetooth side: find the pinned thermometer, connect, subscribe, reconnect forever.

The same code runs on the system radio (bleak's platform backend: BlueZ on the Pi) and on
the virtual radio (:mod:`portwatch.sim.radio`); the radio is a value
(:class:`~portwatch.ble.radio.Radio`) the link asks, never a branch.
The link emits :class:`~portwatch.model.Reading` and :class:`~portwatch.model.LinkEvent`
values to a sink, in the order they happened; it decides nothing clinical.

Pairing: on the system radio BlueZ pairs a thermometer that demands it by itself (it
raises the link's security when a read is refused for want of encryption), but only if
a pairing agent answers bluetoothd; bleak registers none. So the link holds one while it
runs (:mod:`portwatch.ble.bluez_agent`, allowing only the pinned address), measured in the
BlueZ tier (tests/bluez/vm/test_link_bluez.py).

Time: every time stamp and every wait that belongs to the program's story (receive
times, backoff, battery reads, adapter health) uses the injected Clock. Timeouts on a
single radio operation (connect, one GATT request) run on the event loop's own timer,
which is where the radio lives (BlueZ over D-Bus, or Bumble's virtual controller).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, tzinfo
from pathlib import Path
from typing import Any, Final

from bleak import BleakClient, BleakScanner
from bleak.backends.device import BLEDevice
from bleak.backends.scanner import AdvertisementData
from bleak.exc import BleakError
from bleak_retry_connector import establish_connection

from portwatch.ble.drivers import (
    Driver,
    DriverDecodeError,
    Sample,
    Session,
    driver_for_advertisement,
    driver_for_services,
    driver_named,
)
from portwatch.ble.gatt import (
    BATTERY_LEVEL_UUID,
    DATE_TIME_UUID,
    DISCONNECT_TIMEOUT_S,
    GATT_TIMEOUT_S,
    Gatt,
    device_info,
)
from portwatch.ble.pin import Pin, load_pin
from portwatch.ble.radio import AdapterResetter, AgentFactory, Radio
from portwatch.ble.timing import (
    ADAPTER_SILENCE_S,
    BACKOFF_BASE_S,
    AdapterWatch,
    ClockOffset,
    backoff_s,
    wait_for,
)
from portwatch.clock import Clock
from portwatch.model import LinkEvent, LinkEventKind, Reading

__all__ = ["Link", "Sink"]

_LOGGER = logging.getLogger(__name__)

Sink = Callable[[Reading | LinkEvent], Awaitable[None]]

# A connection that lasted this long was a success: the failure count starts again.
STABLE_CONNECTION_S: Final = 30.0

# bleak-retry-connector's attempts per connection before our own backoff takes over.
CONNECT_ATTEMPTS: Final = 2

# Battery Level is read every hour when it cannot be subscribed to (issue 3).
BATTERY_READ_INTERVAL_S: Final = 3600.0

# Two identical packets on the same characteristic this close together are one packet
# delivered twice (bleak duplicates callbacks after reconnects); no thermometer measures
# twice in half a second (CORE: once a second, HTS: far slower).
DUPLICATE_WINDOW_S: Final = 0.5
# Time-stamped packets already seen (a stored measurement resent after a lost confirmation).
SEEN_STAMPED_MAX: Final = 1024

# Measurements received this soon after subscribing may be stored ones sent late: they do
# not teach the device clock's offset (fever-rule.md §1).
STORED_BURST_S: Final = 10.0

# Handing the last items to the sink when the link stops (a store write takes ms).
FLUSH_TIMEOUT_S: Final = 10.0

# Scan round: how long one scan waits before checking adapter health (Clock time).
SCAN_ROUND_S: Final = 30.0


class Link:
    """Reads the pinned thermometer forever and emits what it hears to ``sink``.

    Args:
        clock: receive times and every wait of the link's own.
        radio: the radio (:data:`~portwatch.ble.radio.SYSTEM_RADIO`, or a virtual one).
        state_dir: where ``pinned.json`` lives.
        sink: awaited with each Reading and LinkEvent, in order.
        zone: the time zone a thermometer's clock shows (its time stamps have none).
        adapter: power-cycles the adapter when it goes silent (the radio's
            :meth:`~portwatch.ble.radio.Radio.adapter`); ``None`` disables.
        rng: jitter source (seed it in tests).
        agent: the pairing agent held while the link runs, allowing only the pinned
            address; ``None`` picks the radio's own.
    """

    def __init__(
        self,
        *,
        clock: Clock,
        radio: Radio,
        state_dir: Path,
        sink: Sink,
        zone: tzinfo = UTC,
        adapter: AdapterResetter | None = None,
        rng: random.Random | None = None,
        agent: AgentFactory | None = None,
    ) -> None:
        self._clock = clock
        self._agent = agent or radio.agent()
        self._radio = radio
        self._state_dir = state_dir
        self._sink = sink
        self._zone = zone
        self._adapter = adapter
        self._rng = rng or random.Random()
        self._queue: asyncio.Queue[Reading | LinkEvent] = asyncio.Queue()
        self._in_flight: Reading | LinkEvent | None = None
        self._strangers: set[str] = set()
        self._offsets: dict[str, ClockOffset] = {}
        self._recent: dict[tuple[str, bytes], float] = {}
        self._seen_stamped: OrderedDict[tuple[str, bytes], None] = OrderedDict()
        self._paired: set[str] = set()
        self.connected = asyncio.Event()
        self.connections = 0
        self._watch = AdapterWatch(last_success=clock.monotonic())

    # -- the loop ---------------------------------------------------------------------

    async def run(self) -> None:
        """Run until cancelled; a Bluetooth error is never fatal.

        Raises:
            PinError: no thermometer is pinned (``portwatch pair`` first).
        """
        pin = load_pin(self._state_dir)
        driver = driver_named(pin.driver)
        async with contextlib.AsyncExitStack() as held:
            await self._hold_agent(held, pin)
            try:
                async with asyncio.TaskGroup() as tasks:
                    tasks.create_task(self._deliver(), name="portwatch-link-sink")
                    tasks.create_task(self._loop(pin, driver), name="portwatch-link")
            finally:
                # What happened up to the end (the last readings, "disconnected") still
                # reaches the sink: nothing is lost on a clean stop.
                async with asyncio.timeout(FLUSH_TIMEOUT_S):
                    await self._flush()

    async def _hold_agent(self, held: contextlib.AsyncExitStack, pin: Pin) -> None:
        """Answer pairing requests for the pinned thermometer (and no other) while running.

        Without an agent, a thermometer that needs no pairing still works, so a failure
        here is told to a person rather than stopping the link.
        """

        def allowed(address: str) -> bool:
            return address.upper() == pin.address

        try:
            await held.enter_async_context(self._agent(allowed))
        except (ValueError, OSError, TimeoutError) as exc:
            _LOGGER.warning(
                "no Bluetooth pairing agent (%s): a thermometer that requires pairing "
                "cannot pair; check that bluetoothd is running",
                exc,
            )

    async def _deliver(self) -> None:
        while True:
            self._in_flight = await self._queue.get()
            await self._sink(self._in_flight)
            self._in_flight = None

    async def _flush(self) -> None:
        if self._in_flight is not None:
            # Cut short mid-delivery: deliver again (a duplicate beats a loss).
            item, self._in_flight = self._in_flight, None
            await self._sink(item)
        while not self._queue.empty():
            await self._sink(self._queue.get_nowait())

    def _emit(self, item: Reading | LinkEvent) -> None:
        self._queue.put_nowait(item)

    def _event(self, kind: LinkEventKind, device: str, detail: str = "", **kw: Any) -> None:
        self._emit(LinkEvent(kind=kind, device=device, time=self._clock.now(), detail=detail, **kw))

    async def _loop(self, pin: Pin, driver: Driver) -> None:
        failures = 0
        while True:
            device = await self._find(pin)
            started = self._clock.monotonic()
            try:
                await self._connection(device, pin, driver)
            except (BleakError, TimeoutError, DriverDecodeError, EOFError, OSError) as exc:
                failures += 1
                _LOGGER.debug("%s: connection failed (%d in a row): %r", pin.address, failures, exc)
            else:
                failures = 0
            if self._clock.monotonic() - started >= STABLE_CONNECTION_S:
                failures = 0
            wait = backoff_s(failures, self._rng)
            if wait:
                _LOGGER.debug("%s: next attempt in %.1f s", pin.address, wait)
                await self._clock.sleep(wait)

    # -- finding ----------------------------------------------------------------------

    async def _find(self, pin: Pin) -> BLEDevice:
        """Scan until the pinned thermometer advertises; note strangers once each."""
        found: asyncio.Future[BLEDevice] = asyncio.get_running_loop().create_future()

        def on_advertisement(device: BLEDevice, adv: AdvertisementData) -> None:
            address = device.address.upper()
            if address == pin.address:
                if not found.done():
                    found.set_result(device)
                return
            if address in self._strangers:
                return
            if driver_for_advertisement(adv.service_uuids, adv.manufacturer_data) is None:
                return
            self._strangers.add(address)
            _LOGGER.info(
                "ignoring thermometer %s (%s): not the pinned one", address, adv.local_name
            )
            self._event(LinkEventKind.STRANGER_IGNORED, address, detail=adv.local_name or "")

        while True:
            scanner = BleakScanner(
                on_advertisement,
                scanning_mode="active",
                backend=self._radio.scanner,
            )
            try:
                await scanner.start()
                try:
                    if await wait_for(self._clock, found, SCAN_ROUND_S):
                        self._watch.success(self._clock.monotonic())
                        return found.result()
                finally:
                    # Scanning and connecting never overlap (BlueZ: "Operation already
                    # in progress").
                    async with asyncio.timeout(GATT_TIMEOUT_S):
                        await scanner.stop()
            except (BleakError, TimeoutError, OSError) as exc:
                _LOGGER.debug("%s: scan failed: %r", pin.address, exc)
                await self._clock.sleep(BACKOFF_BASE_S)
            await self._check_adapter()

    async def _check_adapter(self) -> None:
        now = self._clock.monotonic()
        if self._adapter is None or not self._watch.due(now):
            return
        self._watch.reset(now)
        _LOGGER.warning(
            "no advertisement or connection for %.0f s: power-cycling the Bluetooth adapter",
            ADAPTER_SILENCE_S,
        )
        try:
            await self._adapter.power_cycle()
        except (OSError, TimeoutError, BleakError) as exc:
            _LOGGER.warning("could not power-cycle the Bluetooth adapter: %s", exc)
            self._event(LinkEventKind.ADAPTER_RESET, "adapter", detail=f"failed: {exc}")
        else:
            self._event(LinkEventKind.ADAPTER_RESET, "adapter", detail="power-cycled")

    # -- one connection ---------------------------------------------------------------

    async def _connection(self, device: BLEDevice, pin: Pin, driver: Driver) -> None:
        address = pin.address
        lost = asyncio.Event()
        client = await establish_connection(
            BleakClient,
            device,
            pin.name or address,
            disconnected_callback=lambda _client: lost.set(),
            max_attempts=CONNECT_ATTEMPTS,
            backend=self._radio.client,
        )
        self.connections += 1
        self._watch.success(self._clock.monotonic())
        self._event(LinkEventKind.CONNECTED, address, detail=pin.name)
        reason = "thermometer ended the link"
        try:
            gatt = Gatt(client)
            actual = driver_for_services({s.uuid for s in client.services}) or driver
            await self._prepare(client, gatt, actual, address)
            self.connected.set()
            await self._read_battery_until_lost(client, gatt, address, lost)
        except asyncio.CancelledError:
            reason = "link stopped"
            raise
        except BaseException as exc:
            reason = f"error: {exc}"
            raise
        finally:
            self.connected.clear()
            with contextlib.suppress(BleakError, TimeoutError, OSError, EOFError):
                async with asyncio.timeout(DISCONNECT_TIMEOUT_S):
                    await client.disconnect()
            self._event(LinkEventKind.DISCONNECTED, address, detail=reason)

    async def _prepare(
        self, client: BleakClient, gatt: Gatt, driver: Driver, address: str
    ) -> Session:
        """Read what the driver needs and subscribe; pair and retry once when refused."""
        try:
            return await self._setup(client, gatt, driver, address)
        except BleakError as exc:
            if address in self._paired:
                raise
            _LOGGER.debug("%s: refused (%s); pairing and retrying once", address, exc)
        async with asyncio.timeout(GATT_TIMEOUT_S):
            await client.pair()
        self._paired.add(address)
        self._event(LinkEventKind.PAIRED, address)
        try:
            return await self._setup(client, gatt, driver, address)
        except BleakError as exc:
            _LOGGER.warning(
                "%s: the thermometer refuses access even after pairing (%s); "
                "remove the pairing on both sides and run `portwatch pair` again",
                address,
                exc,
            )
            raise

    async def _setup(
        self, client: BleakClient, gatt: Gatt, driver: Driver, address: str
    ) -> Session:
        session = await driver.open(gatt)
        await self._device_info(gatt, address)
        offset = self._offsets.setdefault(address, ClockOffset(self._zone))
        if gatt.can(DATE_TIME_UUID, "write"):
            from portwatch.ble import hts  # the Date Time codec (GSS §3.70)

            now = self._clock.now()
            local = now.astimezone(self._zone).replace(tzinfo=None, microsecond=0)
            async with asyncio.timeout(GATT_TIMEOUT_S):
                await client.write_gatt_char(
                    DATE_TIME_UUID, hts.encode_date_time(local), response=True
                )
            offset.set_exact(0.0)
            self._event(LinkEventKind.CLOCK_SET, address, detail=local.isoformat())
        subscribed_mono = self._clock.monotonic()
        for uuid in session.subscriptions:
            if not gatt.has_characteristic(uuid):
                continue

            def on_value(_char: Any, data: bytearray, uuid: str = uuid) -> None:
                self._on_packet(address, session, offset, subscribed_mono, uuid, bytes(data))

            async with asyncio.timeout(GATT_TIMEOUT_S):
                await client.start_notify(uuid, on_value)
        return session

    async def _device_info(self, gatt: Gatt, address: str) -> None:
        found = await device_info(gatt)
        if found:
            detail = "; ".join(f"{label}={text}" for label, text in found.items())
            self._event(LinkEventKind.DEVICE_INFO, address, detail=detail)

    async def _read_battery_until_lost(
        self, client: BleakClient, gatt: Gatt, address: str, lost: asyncio.Event
    ) -> None:
        if not gatt.has_characteristic(BATTERY_LEVEL_UUID):
            await lost.wait()
            return
        last: list[int] = []

        def report(level: int) -> None:
            if not last or last[-1] != level:
                last.append(level)
                self._event(LinkEventKind.BATTERY, address, battery_percent=level)

        report((await gatt.read(BATTERY_LEVEL_UUID))[0])
        if gatt.can(BATTERY_LEVEL_UUID, "notify"):
            async with asyncio.timeout(GATT_TIMEOUT_S):
                await client.start_notify(
                    BATTERY_LEVEL_UUID, lambda _c, data: report(data[0]) if data else None
                )
            await lost.wait()
            return
        while not await wait_for(self._clock, lost, BATTERY_READ_INTERVAL_S):
            report((await gatt.read(BATTERY_LEVEL_UUID))[0])

    # -- packets ----------------------------------------------------------------------

    def _on_packet(
        self,
        address: str,
        session: Session,
        offset: ClockOffset,
        subscribed_mono: float,
        uuid: str,
        data: bytes,
    ) -> None:
        received_at = self._clock.now()
        mono = self._clock.monotonic()
        key = (uuid, data)
        previous = self._recent.get(key)
        self._recent = {k: t for k, t in self._recent.items() if mono - t <= DUPLICATE_WINDOW_S}
        if previous is not None and mono - previous <= DUPLICATE_WINDOW_S:
            _LOGGER.debug("%s: duplicate packet dropped", address)
            return
        self._recent[key] = mono
        try:
            sample = session.decode(uuid, data, received_mono=mono)
        except DriverDecodeError as exc:
            _LOGGER.info("%s: malformed packet on %s", address, uuid)
            self._event(
                LinkEventKind.MALFORMED_PACKET, address, detail=f"{data.hex()}: {exc}", raw=data
            )
            return
        if sample.device_time is not None:
            if key in self._seen_stamped:
                _LOGGER.debug("%s: time-stamped packet already recorded", address)
                return
            self._seen_stamped[key] = None
            if len(self._seen_stamped) > SEEN_STAMPED_MAX:
                self._seen_stamped.popitem(last=False)
            if (
                mono - subscribed_mono > STORED_BURST_S
                and sample.special is None
                and self._clock_trusted()
            ):
                offset.observe(sample.device_time, received_at, mono)
        self._emit(self._reading(address, sample, offset, received_at, data))
        if sample.invalid_reason is not None:
            self._event(
                LinkEventKind.SPECIAL_VALUE, address, detail=sample.invalid_reason, raw=data
            )

    def _clock_trusted(self) -> bool:
        """False while the clock only estimates the time (never seen synchronised).

        Receive times taken then may be off by however long the gateway was down, so they
        teach no device clock offset (issue 10, clock faults).
        """
        return self._clock.trust.anchored

    def _reading(
        self, address: str, sample: Sample, offset: ClockOffset, received_at: datetime, raw: bytes
    ) -> Reading:
        time = (
            received_at
            if sample.device_time is None
            else offset.timed(sample.device_time, received_at, clock_trusted=self._clock_trusted())
        )
        return Reading(
            device=address,
            kind=sample.kind,
            value=sample.value,
            unit=sample.unit,
            celsius=sample.celsius,
            time=time,
            received_at=received_at,
            device_time=sample.device_time,
            site=sample.site,
            interval_s=sample.interval_s,
            special=sample.special,
            raw=raw,
            invalid_reason=sample.invalid_reason,
        )
