"""The virtual radio: bleak on a Bumble host, joined by LocalLink to virtual thermometers.

Needs the optional ``radio`` extra (Bumble). The demo and the tests use it to run the
real link code path (bleak, bleak-retry-connector, portwatch.ble.link) with no Bluetooth
hardware::

    async with VirtualRadio(clock) as radio:
        thermometer = await radio.add(VirtualSpotThermometer(clock, temperature_at=...))
        link = Link(clock=clock, radio=radio, ...)

Everything here runs on the event loop; the thermometers measure on the injected
:class:`~portwatch.clock.Clock`, so a :class:`~portwatch.clock.VirtualClock` can play days
in seconds.
"""

from __future__ import annotations

from portwatch.sim.radio.backend import BumbleClient, BumbleScanner, RadioBackend
from portwatch.sim.radio.hts_thermometers import VirtualPeriodicThermometer, VirtualSpotThermometer
from portwatch.sim.radio.radio import RadioError, VirtualRadio, add_demo_thermometers
from portwatch.sim.radio.thermometers import VirtualThermometer
from portwatch.sim.radio.wearable import VirtualCoreWearable

__all__ = [
    "BumbleClient",
    "BumbleScanner",
    "RadioBackend",
    "RadioError",
    "VirtualCoreWearable",
    "VirtualPeriodicThermometer",
    "VirtualRadio",
    "VirtualSpotThermometer",
    "VirtualThermometer",
    "add_demo_thermometers",
]
