"""The Bluetooth side: find the pinned thermometer, connect, subscribe, reconnect forever.

The same code runs on the system radio (bleak's platform backend: BlueZ on the Pi) and on
the virtual radio (:mod:`portwatch.sim.radio`); the backend is an argument, never a branch.
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
import sys
from collections import OrderedDict, deque
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, Protocol

from bleak import BleakClient, BleakScanner
from bleak.backends.client import BaseBleakClient
from bleak.backends.device import BLEDevice
from bleak.backends.scanner import AdvertisementData, BaseBleakScanner
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
from portwatch.ble.pin import Pin, load_pin
from portwatch.clock import Clock
from portwatch.model import LinkEvent, LinkEventKind, Reading

if TYPE_CHECKING:
    from portwatch.sim.radio import VirtualRadio

__all__ = [
    "AdapterResetter",
    "AdapterWatch",
    "AgentFactory",
    "Backend",
    "ClockOffset",
    "Link",
    "LinkError",
    "Seen",
    "Sink",
    "backend_for",
    "backoff_s",
    "discover",
    "no_agent",
    "read_identity",
    "system_agent",
]

_LOGGER = logging.getLogger(__name__)

Sink = Callable[[Reading | LinkEvent], Awaitable[None]]
# Given "may this address pair?", a context manager that answers the radio's pairing
# requests while it is held (portwatch.ble.bluez_agent.pairing_agent on BlueZ). Entering it
# raises a ValueError subclass, OSError or TimeoutError when it cannot be registered.
AgentFactory = Callable[[Callable[[str], bool]], AbstractAsyncContextManager[None]]

# Reconnect backoff: exponential from 1 s, capped at 60 s, jittered (issue 3, "Reconnect
# forever ... with jittered exponential backoff capped at 60 s").
BACKOFF_BASE_S: Final = 1.0
BACKOFF_CAP_S: Final = 60.0
# Jitter keeps many gateways (or a retry and the thermometer's own timer) from lock-step.
BACKOFF_JITTER: Final = 0.5
# A connection that lasted this long was a success: the failure count starts again.
STABLE_CONNECTION_S: Final = 30.0

# bleak-retry-connector's attempts per connection before our own backoff takes over.
CONNECT_ATTEMPTS: Final = 2
# One GATT read or subscribe (loop time); BlueZ's own default is 25 s, a thermometer
# answers in well under a second.
GATT_TIMEOUT_S: Final = 10.0
# Disconnecting cleanly; bluetoothd takes about 2 s (issue 11), give it room.
DISCONNECT_TIMEOUT_S: Final = 10.0

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
# Offsets are learned from the last day of live measurements (a drifting clock moves).
OFFSET_MEMORY_S: Final = 86400.0

# Adapter health (issue 3): power-cycle after 5 minutes with no advertisement or
# connection, at most once per 15 minutes.
ADAPTER_SILENCE_S: Final = 300.0
ADAPTER_RESET_MIN_GAP_S: Final = 900.0

# Handing the last items to the sink when the link stops (a store write takes ms).
FLUSH_TIMEOUT_S: Final = 10.0

# Scan round: how long one scan waits before checking adapter health (Clock time).
SCAN_ROUND_S: Final = 30.0

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


class LinkError(ValueError):
    """The link was set up wrongly (unknown backend name, no radio for "virtual", ...)."""


class Backend(Protocol):
    """A bleak backend: the client and scanner classes bleak's ``backend=`` takes."""

    @property
    def client(self) -> type[BaseBleakClient]: ...

    @property
    def scanner(self) -> type[BaseBleakScanner]: ...


def backend_for(name: str, radio: VirtualRadio | None = None) -> Backend | None:
    """Map the ``bluetooth.backend`` setting to a bleak backend.

    ``"system"`` is bleak's platform default (BlueZ on the Pi), returned as ``None``;
    ``"virtual"`` is the virtual radio's backend.

    Raises:
        LinkError: an unknown name, or "virtual" without a radio.
    """
    if name == "system":
        return None
    if name == "virtual":
        if radio is None:
            raise LinkError('bluetooth.backend = "virtual" needs a VirtualRadio')
        return radio.backend
    raise LinkError(f'bluetooth.backend = {name!r}: expected "system" or "virtual"')


def backoff_s(failures: int, rng: random.Random) -> float:
    """Seconds to wait before the next connection attempt after ``failures`` in a row.

    0 after a clean loss (reconnect at once), then 1, 2, 4 ... s capped at 60 s, each
    scaled by a random factor in [0.5, 1.0].
    """
    if failures <= 0:
        return 0.0
    ceiling = min(BACKOFF_CAP_S, BACKOFF_BASE_S * 2.0 ** min(failures - 1, 16))
    return ceiling * (1.0 - BACKOFF_JITTER * rng.random())


@contextlib.asynccontextmanager
async def no_agent(allowed: Callable[[str], bool]) -> AsyncIterator[None]:
    """Hold no pairing agent (the virtual radio pairs Just Works by itself)."""
    del allowed
    yield


def system_agent() -> AgentFactory:
    """The pairing agent the system radio needs: BlueZ's on Linux, none elsewhere."""
    if sys.platform != "linux":
        return no_agent
    from portwatch.ble.bluez_agent import pairing_agent  # dbus-fast: only where BlueZ runs

    return pairing_agent


class AdapterResetter(Protocol):
    """Power-cycles the system's Bluetooth adapter (BlueZ over D-Bus on the Pi)."""

    async def power_cycle(self) -> None: ...


@dataclass(slots=True)
class AdapterWatch:
    """When to power-cycle the adapter: pure bookkeeping on monotonic seconds."""

    last_success: float
    last_reset: float | None = None

    def success(self, now_mono: float) -> None:
        self.last_success = now_mono

    def due(self, now_mono: float) -> bool:
        if now_mono - self.last_success < ADAPTER_SILENCE_S:
            return False
        return self.last_reset is None or now_mono - self.last_reset >= ADAPTER_RESET_MIN_GAP_S

    def reset(self, now_mono: float) -> None:
        self.last_reset = now_mono
        self.last_success = now_mono


class ClockOffset:
    """The device clock's offset from true time, learned from live measurements.

    A live measurement is sent as it is taken, so its device time read in the gateway's
    zone, less the time it was received, is the device clock's error plus a small delay.
    Stored measurements sent late would look like a large negative error, so the offset
    is the largest candidate of the last day (the least-delayed one), and measurements
    received just after subscribing (possibly stored ones) teach nothing.
    """

    def __init__(self, zone: tzinfo) -> None:
        self.zone = zone
        self._candidates: deque[tuple[float, float]] = deque()
        self._fixed: float | None = None

    def set_exact(self, offset_s: float) -> None:
        """We wrote the device's clock: its offset is known."""
        self._fixed = offset_s
        self._candidates.clear()

    def observe(self, device_time: datetime, received_at: datetime, received_mono: float) -> None:
        candidate = (self.as_utc(device_time) - received_at).total_seconds()
        self._candidates.append((received_mono, candidate))
        while self._candidates and received_mono - self._candidates[0][0] > OFFSET_MEMORY_S:
            self._candidates.popleft()

    @property
    def offset_s(self) -> float | None:
        if self._candidates:
            return max(c for _, c in self._candidates)
        return self._fixed

    def as_utc(self, device_time: datetime) -> datetime:
        return device_time.replace(tzinfo=self.zone).astimezone(UTC)

    def correct(self, device_time: datetime) -> datetime:
        """Device time read in the gateway's zone, corrected by the learned offset."""
        return self.as_utc(device_time) - timedelta(seconds=self.offset_s or 0.0)

    def timed(
        self, device_time: datetime, received_at: datetime, *, clock_trusted: bool
    ) -> datetime:
        """A time-stamped reading's time: the corrected stamp, never after an estimated receipt.

        While the gateway's clock only estimates the time (a Pi rebooted with no clock), the
        receive time may lag true time; a stamp is not let run ahead of it, so it cannot
        look "in the future" (fever-rule.md §1, issue 7).
        """
        time = self.correct(device_time)
        return time if clock_trusted else min(time, received_at)


@dataclass(frozen=True, slots=True)
class _Packet:
    characteristic: str
    data: bytes
    received_at: datetime
    received_mono: float


class _Gatt:
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


class Link:
    """Reads the pinned thermometer forever and emits what it hears to ``sink``.

    Args:
        clock: receive times and every wait of the link's own.
        backend: a bleak backend (:func:`backend_for`); ``None`` is the system radio.
        state_dir: where ``pinned.json`` lives.
        sink: awaited with each Reading and LinkEvent, in order.
        zone: the time zone a thermometer's clock shows (its time stamps have none).
        adapter: power-cycles the system adapter when it goes silent; ``None`` disables.
        rng: jitter source (seed it in tests).
        agent: the pairing agent held while the link runs, allowing only the pinned
            address; ``None`` picks the backend's own: :func:`system_agent` for the
            system radio, :func:`no_agent` for any other backend.
    """

    def __init__(
        self,
        *,
        clock: Clock,
        backend: Backend | None,
        state_dir: Path,
        sink: Sink,
        zone: tzinfo = UTC,
        adapter: AdapterResetter | None = None,
        rng: random.Random | None = None,
        agent: AgentFactory | None = None,
    ) -> None:
        self._clock = clock
        if agent is None:
            agent = system_agent() if backend is None else no_agent
        self._agent = agent
        self._backend = backend
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
                backend=self._backend.scanner if self._backend else None,
            )
            try:
                await scanner.start()
                try:
                    if await self._wait(found, SCAN_ROUND_S):
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

    async def _wait(self, awaitable: asyncio.Future[Any] | asyncio.Event, seconds: float) -> bool:
        """Wait for a future or event, at most ``seconds`` of Clock time; True if it came."""
        waiter: asyncio.Future[Any]
        if isinstance(awaitable, asyncio.Event):
            waiter = asyncio.ensure_future(awaitable.wait())
        else:
            waiter = awaitable
        timer = asyncio.ensure_future(self._clock.sleep(seconds))
        try:
            await asyncio.wait({waiter, timer}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            timer.cancel()
            if isinstance(awaitable, asyncio.Event):
                waiter.cancel()
        return waiter.done() and not waiter.cancelled()

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
            backend=self._backend.client if self._backend else None,
        )
        self.connections += 1
        self._watch.success(self._clock.monotonic())
        self._event(LinkEventKind.CONNECTED, address, detail=pin.name)
        reason = "thermometer ended the link"
        try:
            gatt = _Gatt(client)
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
        self, client: BleakClient, gatt: _Gatt, driver: Driver, address: str
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
        self, client: BleakClient, gatt: _Gatt, driver: Driver, address: str
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

    async def _device_info(self, gatt: _Gatt, address: str) -> None:
        parts = []
        for label, uuid in DEVICE_INFO_UUIDS:
            if not gatt.has_characteristic(uuid):
                continue
            raw = await gatt.read(uuid)
            text = (
                raw.hex() if label == "system_id" else raw.decode("utf-8", "replace").strip("\0 ")
            )
            parts.append(f"{label}={text}")
        if parts:
            self._event(LinkEventKind.DEVICE_INFO, address, detail="; ".join(parts))

    async def _read_battery_until_lost(
        self, client: BleakClient, gatt: _Gatt, address: str, lost: asyncio.Event
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
        while not await self._wait(lost, BATTERY_READ_INTERVAL_S):
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


@dataclass(frozen=True, slots=True)
class Seen:
    """A thermometer heard while scanning (``portwatch scan`` and ``pair``)."""

    address: str
    name: str
    rssi: int
    driver: str


async def discover(
    backend: Backend | None,
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

    scanner = BleakScanner(
        on_advertisement,
        scanning_mode="active",
        backend=backend.scanner if backend else None,
    )
    await scanner.start()
    try:
        await clock.sleep(seconds)
    finally:
        async with asyncio.timeout(GATT_TIMEOUT_S):
            await scanner.stop()
    return seen


async def read_identity(backend: Backend | None, address: str) -> dict[str, str]:
    """Connect once and read Device Information (manufacturer, model, serial, ...).

    Raises:
        BleakError: the thermometer could not be reached or read.
    """
    client = BleakClient(address, backend=backend.client if backend else None)
    async with asyncio.timeout(GATT_TIMEOUT_S * 3):
        await client.connect()
    try:
        gatt = _Gatt(client)
        identity = {}
        for label, uuid in DEVICE_INFO_UUIDS:
            if gatt.has_characteristic(uuid):
                raw = await gatt.read(uuid)
                identity[label] = (
                    raw.hex() if label == "system_id" else raw.decode("utf-8", "replace").strip()
                )
        return identity
    finally:
        with contextlib.suppress(BleakError, TimeoutError, OSError, EOFError):
            async with asyncio.timeout(DISCONNECT_TIMEOUT_S):
                await client.disconnect()
