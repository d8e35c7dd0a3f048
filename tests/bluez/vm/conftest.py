"""Fixtures of the BlueZ tier (issue 11): real bluetoothd, a Bumble radio under it.

These tests run inside the test VM (tests/bluez/run-tier), where guest-boot has loaded
hci_vhci and started dbus and bluetoothd (in the systemd boot, guest-boot-systemd loads
the driver and systemd runs dbus and bluetooth.service). Outside the VM they are not
collected at all (tests/bluez/conftest.py), because no machine here has Bluetooth in its
kernel; inside it, a missing piece fails.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Final

import pytest
from bluez_rig import (
    PAIRING_THERMOMETER_ADDRESS,
    STRANGER_ADDRESS,
    THERMOMETER_ADDRESS,
    bluez_radio,
    neighbour,
    on_air,
)
from bumble.device import Device
from bumble.link import LocalLink

from portwatch.clock import SystemClock
from portwatch.sim.radio import VirtualSpotThermometer

IN_VM: Final = os.environ.get("PORTWATCH_BLUEZ_VM") == "1"
VHCI: Final = Path("/dev/vhci")
# What the thermometers measure when a test asks them to (°C).
MEASURED_C: Final = 38.5


@pytest.fixture
async def radio() -> AsyncIterator[LocalLink]:
    """The air between BlueZ's controller and the test's peripherals, BlueZ powered up."""
    if not VHCI.exists():
        pytest.fail("no /dev/vhci: guest-boot did not load hci_vhci")
    async with bluez_radio() as link:
        yield link


@pytest.fixture
async def thermometer(radio: LocalLink) -> AsyncIterator[VirtualSpotThermometer]:
    """portwatch.sim.radio's spot thermometer (HTS) advertising near BlueZ's controller.

    It measures only when the test calls ``take_measurement``; on the system clock,
    because bluetoothd keeps real time.
    """
    spot = VirtualSpotThermometer(
        SystemClock(), temperature_at=lambda _now: MEASURED_C, address=THERMOMETER_ADDRESS
    )
    async with on_air(radio, spot):
        yield spot


@pytest.fixture
async def stranger(radio: LocalLink) -> AsyncIterator[Device]:
    """A neighbour's device advertising another service (heart rate) on the same air."""
    async with neighbour(radio, STRANGER_ADDRESS, "Stranger") as device:
        yield device


@pytest.fixture
async def pairing_thermometer(radio: LocalLink) -> AsyncIterator[VirtualSpotThermometer]:
    """A spot thermometer that serves its Temperature Type only over an encrypted link."""
    spot = VirtualSpotThermometer(
        SystemClock(),
        temperature_at=lambda _now: MEASURED_C,
        name="ThermoP",
        address=PAIRING_THERMOMETER_ADDRESS,
        pairing_required=True,
    )
    async with on_air(radio, spot):
        yield spot
