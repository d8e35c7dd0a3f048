"""The virtual radio: one LocalLink, the central's Bumble host, and the thermometers on it."""

from __future__ import annotations

import itertools
import logging
from typing import TYPE_CHECKING, Final, Self, TypeVar

from bumble.controller import Controller
from bumble.device import Device
from bumble.hci import Address
from bumble.host import Host
from bumble.link import LocalLink
from bumble.transport.common import AsyncPipeSink

from portwatch.ble.radio import AdapterResetter, AgentFactory, no_agent
from portwatch.clock import Clock
from portwatch.sim.radio.backend import BumbleClient, BumbleScanner, RadioBackend

if TYPE_CHECKING:
    from portwatch.sim.radio.thermometers import VirtualThermometer

__all__ = ["RadioError", "VirtualRadio", "add_demo_thermometers"]

_T = TypeVar("_T", bound="VirtualThermometer")

_LOGGER = logging.getLogger(__name__)

# A random static address (top two bits set, Core Vol 6 Part B 1.3.2.1) for the gateway.
CENTRAL_ADDRESS: Final = "C0:DE:00:00:00:01"


class RadioError(ValueError):
    """The virtual radio was used wrongly (not started, duplicate address, ...)."""


class VirtualRadio:
    """Owns the LocalLink, the central-side Bumble host and every virtual thermometer.

    An async context manager: entering powers the central on; leaving stops every
    thermometer and powers everything off. It is a :class:`~portwatch.ble.radio.Radio`
    (what ``Link``, ``discover`` and ``read_identity`` take); ``backend`` is what
    ``BleakClient(backend=...)``/``BleakScanner(backend=...)`` take.
    """

    def __init__(self, clock: Clock, *, central_address: str = CENTRAL_ADDRESS) -> None:
        self.clock = clock
        self.link = LocalLink()  # type: ignore[no-untyped-call]
        self.central_controller = Controller("central", link=self.link)
        self.central = Device(
            name="portwatch",
            address=Address(central_address),
            host=Host(self.central_controller, AsyncPipeSink(self.central_controller)),
        )
        radio = self
        self.backend = RadioBackend(
            client=type("VirtualBleakClient", (BumbleClient,), {"radio": radio}),
            scanner=type("VirtualBleakScanner", (BumbleScanner,), {"radio": radio}),
        )
        self._thermometers: list[VirtualThermometer] = []
        self._numbers = itertools.count(1)
        self._started = False

    @property
    def client(self) -> type[BumbleClient]:
        return self.backend.client

    @property
    def scanner(self) -> type[BumbleScanner]:
        return self.backend.scanner

    def agent(self) -> AgentFactory:
        """None to hold: Bumble pairs Just Works by itself."""
        return no_agent

    def adapter(self, name: str, clock: Clock) -> AdapterResetter | None:
        """None: there is no adapter to power-cycle."""
        del name, clock
        return None

    @property
    def thermometers(self) -> tuple[VirtualThermometer, ...]:
        return tuple(self._thermometers)

    async def __aenter__(self) -> Self:
        await self.central.power_on()
        self._started = True
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        try:
            for thermometer in reversed(self._thermometers):
                await thermometer.stop()
        finally:
            self._started = False

    def announce(self) -> None:
        """Have every advertising thermometer advertise now, as a scan starts.

        Bumble's virtual controllers advertise on the event loop's timer; a real scan
        hears an advertiser within one interval. Sending one advertisement at once makes
        discovery independent of loop time, so tests on a VirtualClock need no waiting.
        """
        for thermometer in self._thermometers:
            thermometer.announce()

    def next_address(self) -> str:
        """A fresh random static address for another virtual peripheral."""
        return f"D0:00:00:00:00:{next(self._numbers):02X}"

    async def add(self, thermometer: _T) -> _T:
        """Put a thermometer on the air: power it on and start its measuring task.

        Raises:
            RadioError: if the radio is not entered or the address is already in use.
        """
        if not self._started:
            raise RadioError("VirtualRadio.add: enter the radio (async with) first")
        thermometer.assign_address(self.next_address())
        if any(t.address == thermometer.address for t in self._thermometers):
            raise RadioError(f"VirtualRadio.add: address {thermometer.address} already in use")
        await thermometer.start(self.link)
        self._thermometers.append(thermometer)
        _LOGGER.debug("radio: added %s at %s", type(thermometer).__name__, thermometer.address)
        return thermometer


async def add_demo_thermometers(radio: VirtualRadio) -> list[VirtualThermometer]:
    """The demo's neighbourhood: a spot thermometer, a periodic one, a CORE, a stranger.

    Addresses are given in this order from ``D0:00:00:00:00:01``, so a pin made with
    ``portwatch pair --virtual`` names the same thermometer in a later virtual run.
    """
    from portwatch.sim.radio.hts_thermometers import (
        VirtualPeriodicThermometer,
        VirtualSpotThermometer,
    )
    from portwatch.sim.radio.wearable import VirtualCoreWearable

    clock = radio.clock

    def normal(_now: object) -> float:
        return 36.9

    return [
        await radio.add(
            VirtualSpotThermometer(
                clock, temperature_at=normal, name="Spot HT", measure_every_s=4 * 3600
            )
        ),
        await radio.add(
            VirtualPeriodicThermometer(clock, temperature_at=normal, name="Patch HT", interval_s=60)
        ),
        await radio.add(VirtualCoreWearable(clock, temperature_at=normal, interval_s=30)),
        await radio.add(VirtualSpotThermometer(clock, temperature_at=normal, name="Neighbour HT")),
    ]
